"""Comparing runs: params and metrics side by side, curves, code, environment and data.

``compare(run1, run2, …)`` (or ``%compare ID1 ID2``) returns a :class:`Comparison`: plain
DataFrames and plotly figures from Python, a widget in JupyterLab, static HTML elsewhere.
"""

from __future__ import annotations

import difflib
import math
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ..errors import CompareError
from . import _html as h

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

    from ..tracking import Run


def _same(values: list[Any]) -> bool:
    present = [v for v in values if not (isinstance(v, float) and math.isnan(v))]
    if len(present) != len(values):
        return len(present) == 0
    first = present[0] if present else None
    return all(v == first and type(v) is type(first) for v in present)


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
            env = run.environment
            row = {
                "python": env.get("python"),
                "platform": env.get("platform"),
                "host": info.get("host"),
                "git commit": info.get("git_commit"),
                "git branch": info.get("git_branch"),
                "git dirty": info.get("git_dirty"),
            }
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

    def history_figure(self, metric: str | None = None) -> go.Figure:
        """The metric's values by step, one line per run."""
        import plotly.graph_objects as go

        metric = self._metric(metric)
        history = self.history[self.history["key"] == metric]
        fig = go.Figure()
        for label in self.labels:
            points = history[history["run"] == label]
            fig.add_trace(
                go.Scatter(x=points["step"], y=points["value"], mode="lines+markers", name=label)
            )
        fig.update_layout(
            title=f"{metric} by step", xaxis_title="step", yaxis_title=metric, height=360
        )
        return fig

    def parallel_figure(self, metric: str | None = None) -> go.Figure:
        """Parallel coordinates: each numeric (or categorical) param, then the metric."""
        import pandas as pd
        import plotly.graph_objects as go

        metric = self._metric(metric)
        dims = []
        for key, row in self.params.drop(columns="differs").iterrows():
            values = list(row)
            numbers = pd.to_numeric(pd.Series(values), errors="coerce")
            if numbers.notna().all() and not any(isinstance(v, bool) for v in values):
                dims.append({"label": key, "values": list(numbers)})
            else:
                text = [repr(v) for v in values]
                levels = sorted(set(text))
                dims.append(
                    {
                        "label": key,
                        "values": [levels.index(t) for t in text],
                        "tickvals": list(range(len(levels))),
                        "ticktext": levels,
                    }
                )
        scores = list(self.metrics.loc[metric, self.labels].astype(float))
        dims.append({"label": metric, "values": scores})
        fig = go.Figure(
            go.Parcoords(
                line={"color": scores, "colorscale": "Viridis", "showscale": True},
                dimensions=dims,
            )
        )
        fig.update_layout(title=f"params vs {metric}", height=360)
        return fig

    # -- display -------------------------------------------------------------------------------

    def _table(self, frame: pd.DataFrame) -> str:
        values = frame.drop(columns="differs")
        rows = [[str(key), *(h.fmt(v) for v in row)] for key, row in values.iterrows()]
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
        """Params, metrics and data tables, rows that differ highlighted."""
        parts = []
        for title, frame in (
            ("Params", self.params),
            ("Metrics", self.metrics),
            ("Data", self.data),
        ):
            if len(frame):
                changed = int(frame["differs"].sum())
                parts.append(
                    h.section(f"{title} ({changed} of {len(frame)} differ)", self._table(frame))
                )
        return "".join(parts)

    def environment_html(self) -> str:
        env = self.environment
        differing = env[env["differs"]]
        return h.section(
            f"Environment ({len(differing)} of {len(env)} differ)",
            self._table(differing) if len(differing) else "<p>same environment</p>",
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
        from ._display import mimebundle

        return mimebundle(repr(self), self.to_html, self.widget, include, exclude)

    def widget(self):
        """The interactive view (ipywidgets): tables, curves, parallel coordinates, diffs."""
        from .compare_view import CompareView

        return CompareView(self)


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
