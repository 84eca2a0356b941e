"""Comparing runs: params and metrics side by side, curves, code, environment and data.

``compare(run1, run2, …)`` (or ``%compare ID1 ID2``) returns a :class:`Comparison`: plain
DataFrames and plotly figures from Python, a widget in JupyterLab, static HTML elsewhere.
"""

from __future__ import annotations

import difflib
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ..display import html as h
from ..display.cells import is_missing as _missing
from ..display.cells import text
from ..errors import CompareError, NbmlopsError

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

    from ..tracking import Run


AXIS = 16  # characters of an axis or legend label before it is cut
RUN_LABEL = 24
TITLE = 40


def abbreviate(name: str, width: int = AXIS, dotted: bool = True) -> str:
    """``name`` cut to ``width`` characters; a ``dotted`` name keeps its last part first
    (``model.min_weight_fraction_leaf`` → ``min_weight_frac…``)."""
    name = str(name)
    if len(name) <= width:
        return name
    tail = name.rsplit(".", 1)[-1] if dotted else name
    if len(tail) <= width:
        return tail
    return tail[: width - 1] + "…"


def unique_labels(names: list[str], width: int = AXIS) -> list[str]:
    """:func:`abbreviate` each name; where two would read the same, cut the full name at
    its end instead (``model.n_estimat…`` beside ``n_estimators``)."""
    short = [abbreviate(n, width) for n in names]
    for i, label in enumerate(short):
        if short.count(label) > 1 and len(names[i]) > width:
            short[i] = names[i][: width - 1] + "…"
    return short


def _user_params_first(keys: list[str]) -> list[str]:
    """Param names with the hyper-parameters ``%%track`` captured from estimators
    (``model.class``, ``model.max_depth``, …) after the user's own."""
    from ._grid import estimator_prefixes

    owners = estimator_prefixes(f"params.{k}" for k in keys)
    captured = [k for k in keys if any(k.startswith(f"{o}.") for o in owners)]
    return [k for k in keys if k not in captured] + captured


def _same(values: list[Any]) -> bool:
    present = [v for v in values if not _missing(v)]
    if len(present) != len(values):
        return len(present) == 0
    first = present[0] if present else None
    try:
        return all(v == first and type(v) is type(first) for v in present)
    except (TypeError, ValueError):  # values whose == is not a bool (arrays)
        return all(repr(v) == repr(first) for v in present)


class Comparison:
    """Two or more runs side by side. Tables mark the rows that differ (``differs``)."""

    def __init__(self, runs: list[Run]):
        if len(runs) < 2:
            raise CompareError(
                f"compare needs two or more runs, got {len(runs)}; e.g. "
                "nbmlops.compare(run_a, run_b) or %compare 3f2a9c 81bd07"
            )
        self.runs = list(runs)
        self._info = [r.info for r in self.runs]
        self._details = [r._details() for r in self.runs]

    @property
    def labels(self) -> list[str]:
        """Column labels: short id and name of each run."""
        return [
            f"{r.run_id[:8]}" + (f" {i['name']}" if i["name"] else "")
            for r, i in zip(self.runs, self._info, strict=True)
        ]

    def _side_by_side(self, kind: str) -> pd.DataFrame:
        import pandas as pd

        keys = sorted({k for d in self._details for k in d[kind]})
        if kind == "params":  # the user's own first, then what %%track captured (model.*)
            keys = _user_params_first(keys)
        missing = float("nan")
        rows = [[d[kind].get(k, missing) for d in self._details] for k in keys]
        frame = pd.DataFrame(rows, index=pd.Index(keys, name=kind[:-1]), columns=self.labels)
        frame["differs"] = [not _same(row) for row in rows]
        return frame

    @cached_property
    def params(self) -> pd.DataFrame:
        """One row per param, one column per run, and ``differs``."""
        return self._side_by_side("params")

    @cached_property
    def metrics(self) -> pd.DataFrame:
        """One row per metric (latest values), one column per run, and ``differs``."""
        return self._side_by_side("metrics")

    @property
    def metric_names(self) -> list[str]:
        return list(self.metrics.index)

    @cached_property
    def history(self) -> pd.DataFrame:
        """Every logged metric value of every run: ``run, key, step, value``."""
        import pandas as pd

        frames = []
        for label, run in zip(self.labels, self.runs, strict=True):
            frame = run.metric_history()[["key", "step", "value"]]
            frames.append(frame.assign(run=label))
        return pd.concat(frames, ignore_index=True)[["run", "key", "step", "value"]]

    def code_diff(self, other: int = 1) -> str:
        """A unified diff of the cell code of the first run and run number ``other``."""
        a, b = self._info[0], self._info[other]
        return "".join(
            difflib.unified_diff(
                (a["code"] or "").splitlines(keepends=True),
                (b["code"] or "").splitlines(keepends=True),
                fromfile=self.labels[0],
                tofile=self.labels[other],
            )
        )

    @cached_property
    def environment(self) -> pd.DataFrame:
        """Python, platform, git and package versions of each run, and ``differs``."""
        import pandas as pd

        envs = []
        for run, info in zip(self.runs, self._info, strict=True):
            try:
                env = run.environment
                unreadable = None
            except NbmlopsError as exc:  # e.g. its package list was pruned from the artifacts
                env, unreadable = {}, str(exc)
            row = {
                "python": env.get("python"),
                "platform": env.get("platform"),
                "host": info.get("host"),
                "git commit": info.get("git_commit"),
                "git branch": info.get("git_branch"),
                "git dirty": info.get("git_dirty"),
            }
            if unreadable:
                row["packages"] = f"unreadable: {unreadable}"
            for pin in env.get("packages", []):
                name, sep, version = pin.partition("==")
                row[f"package {name}"] = version if sep else pin
            envs.append(row)
        keys = list(dict.fromkeys(k for e in envs for k in e))
        rows = [[e.get(k) for e in envs] for k in keys]
        frame = pd.DataFrame(rows, index=pd.Index(keys, name="environment"), columns=self.labels)
        frame["differs"] = [not _same(r) for r in rows]
        return frame

    @cached_property
    def data(self) -> pd.DataFrame:
        """Fingerprints (sha256 prefix and shape) of the data each run read or wrote."""
        import pandas as pd

        keys = sorted({(d["direction"], d["name"]) for det in self._details for d in det["data"]})
        rows = []
        for key in keys:
            row = []
            for det in self._details:
                found = [d for d in det["data"] if (d["direction"], d["name"]) == key]
                row.append(
                    f"{found[0]['digest'][:12]} {found[0]['shape'] or ''}".strip()
                    if found
                    else None
                )
            rows.append(row)
        index = pd.Index([f"{d}: {n}" for d, n in keys], name="data")
        frame = pd.DataFrame(rows, index=index, columns=self.labels)
        frame["differs"] = [not _same(r) for r in rows]
        return frame

    # -- figures -------------------------------------------------------------------------------

    def _metric(self, metric: str | None) -> str:
        names = self.metric_names
        if metric is None:
            if not names:
                raise CompareError("these runs logged no metrics to plot")
            return names[0]
        if metric not in names:
            close = difflib.get_close_matches(metric, names, n=3)
            raise CompareError(
                f"no compared run logged a metric {metric!r}"
                + (f"; did you mean {', '.join(close)}?" if close else f"; metrics: {names}")
            )
        return metric

    def steps(self, metric: str) -> int:
        """The most values any compared run logged for ``metric``."""
        history = self.history[self.history["key"] == metric]
        return int(history.groupby("run").size().max()) if len(history) else 0

    def history_figure(self, metric: str | None = None) -> go.Figure:
        """The metric by step, one line per run; grouped bars (one per run) when every run
        logged it once. Long run labels are cut; the hover shows them in full."""
        import plotly.graph_objects as go

        metric = self._metric(metric)
        history = self.history[self.history["key"] == metric]
        fig = go.Figure()
        if self.steps(metric) <= 1:
            for label in self.labels:
                points = history[history["run"] == label]
                value = float(points["value"].iloc[-1]) if len(points) else None
                fig.add_trace(
                    go.Bar(
                        x=[abbreviate(metric)],
                        y=[value],
                        text=[text(value)],  # bars start at 0: close scores need the number
                        textposition="outside",
                        name=abbreviate(label, RUN_LABEL, dotted=False),
                        meta=label,
                        hovertemplate="%{meta}<br>" + h.esc(metric) + " = %{y}<extra></extra>",
                    )
                )
            fig.update_layout(
                title=f"{abbreviate(metric, TITLE)} (one value per run)",
                barmode="group",
                yaxis_title=abbreviate(metric),
                height=300,
                margin={"t": 50, "b": 40},
            )
            return fig
        for label in self.labels:
            points = history[history["run"] == label]
            fig.add_trace(
                go.Scatter(
                    x=list(points["step"]),
                    y=list(points["value"]),
                    mode="lines+markers",
                    name=abbreviate(label, RUN_LABEL, dotted=False),
                    meta=label,
                    hovertemplate="%{meta}<br>step %{x}: %{y}<extra></extra>",
                )
            )
        fig.update_layout(
            title=f"{abbreviate(metric, TITLE)} by step",
            xaxis_title="step",
            yaxis_title=abbreviate(metric),
            height=300,
            margin={"t": 50, "b": 40},
        )
        return fig

    @property
    def differing_params(self) -> list[str]:
        """Params whose values are not the same in every compared run: the user's own
        first, then the hyper-parameters ``%%track`` captured from estimators (``model.*``)."""
        params = self.params
        return [str(k) for k in params.index[params["differs"].astype(bool)]]

    def parallel_figure(self, metric: str | None = None) -> go.Figure:
        """Parallel coordinates: one line per run across the params that differ (yours
        first, then captured ones), then the metric; lines colored by the metric. Axis names
        longer than 16 characters are cut on the axis (:meth:`axis_names`, and the hover of
        every point, have them in full). Drawn as SVG lines (see ``_parallel``)."""
        from . import _parallel

        metric = self._metric(metric)
        keys = self.differing_params
        labels = unique_labels([*keys, metric])
        values = list(self.metrics.loc[metric, self.labels])
        # A run without the metric has no place on its axis: it is left out of the chart.
        runs = [run for run, v in zip(self.labels, values, strict=True) if not _missing(v)]
        scores = [float(v) for v in values if not _missing(v)]
        axes = [
            _parallel.Axis(label, key, list(self.params.loc[key, runs]))
            for key, label in zip(keys, labels, strict=False)
        ]
        axes.append(_parallel.Axis(labels[-1], metric, scores))
        left_out = len(self.labels) - len(runs)
        note = f" ({left_out} run{'s' * (left_out > 1)} without it left out)" if left_out else ""
        return _parallel.figure(
            axes,
            runs,
            [abbreviate(r, RUN_LABEL, dotted=False) for r in runs],
            scores,
            f"params that differ vs {abbreviate(metric, TITLE)}{note}",
        )

    def axis_names(self, metric: str | None = None) -> dict[str, str]:
        """Abbreviated axis label → full name, for the axes of :meth:`parallel_figure`."""
        metric = self._metric(metric)
        names = [*self.differing_params, metric]
        return dict(zip(unique_labels(names), names, strict=True))

    # -- display -------------------------------------------------------------------------------

    def _table(self, frame: pd.DataFrame) -> str:
        values = frame.drop(columns="differs")
        rows = [[str(key), *(text(v) for v in row)] for key, row in values.iterrows()]
        return h.table([frame.index.name or "", *self.labels], rows, list(frame["differs"]))

    def header_html(self) -> str:
        return f'<h3 style="margin:4px 0">Comparing {len(self.runs)} runs</h3>' + h.table(
            ["", *self.labels],
            [
                ["status", *(h.status_badge(i["status"]) for i in self._info)],
                ["experiment", *(h.esc(i["experiment"]) for i in self._info)],
                ["started", *(h.esc(h.when(i["start_time"])) for i in self._info)],
            ],
            raw=True,
        )

    def tables_html(self) -> str:
        """Params, metrics and data tables: the rows that differ (highlighted), then the rows
        every run shares, folded."""
        parts = []
        for title, frame in (
            ("Params", self.params),
            ("Metrics", self.metrics),
            ("Data", self.data),
        ):
            if not len(frame):
                continue
            differs = frame["differs"].astype(bool)
            same = frame[~differs]
            body = self._table(frame[differs]) if differs.any() else ""
            if len(same):
                body += (
                    "<details style='margin:2px 0'><summary style='color:#57606a;cursor:pointer'>"
                    f"{len(same)} the same in every run</summary>{self._table(same)}</details>"
                )
            parts.append(h.section(f"{title} ({int(differs.sum())} of {len(frame)} differ)", body))
        return "".join(parts)

    def environment_html(self) -> str:
        env = self.environment
        differing = env[env["differs"]]
        note = ""
        if "packages" in env.index:  # some run's package list could not be read
            reasons = {v for v in env.loc["packages", self.labels] if isinstance(v, str)}
            note = "".join(
                f"<p style='color:#9a6700;margin:2px 0'>{h.esc(r)}</p>" for r in sorted(reasons)
            )
        return h.section(
            f"Environment ({len(differing)} of {len(env)} differ)",
            note + (self._table(differing) if len(differing) else "<p>same environment</p>"),
        )

    def to_html(self) -> str:
        """Static HTML: the tables with differing rows highlighted and the code diffs."""
        parts = [self.header_html(), self.tables_html(), self.environment_html()]
        for i in range(1, len(self.runs)):
            diff = self.code_diff(i)
            parts.append(
                h.section(
                    f"Code: {self.labels[0]} → {self.labels[i]}",
                    diff_html(diff) if diff else "<p>same code</p>",
                )
            )
        return h.box("".join(parts), "nbmlops-compare")

    def __repr__(self) -> str:
        lines = [f"<Comparison of {len(self.runs)} runs: {', '.join(self.labels)}>"]
        for title, frame in (("params", self.params), ("metrics", self.metrics)):
            for key, row in frame[frame["differs"]].drop(columns="differs").iterrows():
                values = "  ".join(h.fmt(v) if isinstance(v, float) else repr(v) for v in row)
                lines.append(f"  {title[:-1]} {key}: {values}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return self.to_html()

    def _repr_mimebundle_(self, include=None, exclude=None):
        from ..display.bundle import mimebundle, view

        return mimebundle(repr(self), self.to_html, view("comparison", self), include, exclude)

    def widget(self):
        """The interactive view (ipywidgets): tables, curves, parallel coordinates, diffs.

        It is :class:`~nbmlops.widgets.CompareView`, registered as the view of the kind
        "comparison" (see :mod:`nbmlops.display.bundle`): it imports this module, not the
        other way round."""
        from ..display.bundle import view

        return view("comparison", self)()


def diff_html(diff: str) -> str:
    colors = {"+": "#dafbe1", "-": "#ffebe9", "@": "#ddf4ff"}
    lines = []
    for line in diff.splitlines():
        bg = colors.get(line[:1], "transparent")
        if line.startswith(("+++", "---")):
            bg = "#f6f8fa"
        lines.append(f'<div style="background:{bg}">{h.esc(line) or "&nbsp;"}</div>')
    return (
        '<pre class="nbmlops-diff" style="font:12px ui-monospace,monospace;margin:0;'
        f'border:1px solid #d0d7de;padding:4px">{"".join(lines)}</pre>'
    )


def compare(*runs: Run | str) -> Comparison:
    """Compare runs given as :class:`~nbmlops.Run` objects or ids (unique prefixes work).

    >>> import nbmlops
    >>> nbmlops.compare("3f2a9c", "81bd07")  # doctest: +SKIP
    """
    from ..tracking import Run, get_run

    flat: list[Any] = []
    for item in runs:
        flat.extend(item if isinstance(item, (list, tuple)) else [item])
    return Comparison([r if isinstance(r, Run) else get_run(str(r)) for r in flat])
