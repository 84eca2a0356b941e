"""Automatic capture for a tracked cell: params, metrics, data, estimators, figures, output.

``CellCapture`` takes a snapshot before the cell runs (inputs' fingerprints, open figures) and
turns the namespace after it into run records. Capture never breaks the user's cell: a value
it cannot record is reported in ``warnings`` and skipped.
"""

from __future__ import annotations

import contextlib
import io
import json
import numbers
import sys
import time
from collections.abc import Collection, Iterator
from typing import Any

from ..errors import InvalidParam, NbmlopsError
from . import _validate as v
from .cell import CellPlan
from .estimators import (
    estimator_digest,
    estimator_params,
    is_fitted_estimator,
    remember_fitted,
)
from .figures import is_matplotlib_figure, is_plotly_figure, open_matplotlib_figures
from .files import FileReads
from .fingerprint import input_fingerprint, is_data
from .frameworks import describe, optimizer_params, trained_modules
from .inherited import ARTIFACT as INHERITED_ARTIFACT
from .inherited import TAG as INHERITED_TAG
from .inherited import Inherited, collect
from .run import Run

MAX_CAPTURED_OUTPUT = 1 << 20  # 1 MiB of stdout/stderr per run


def is_metric_value(value: object) -> bool:
    """Real numbers (Python or numpy), not booleans."""
    np = sys.modules.get("numpy")
    if isinstance(value, bool) or (np is not None and isinstance(value, np.bool_)):
        return False
    return isinstance(value, numbers.Real)


MAX_CATEGORY_LEVELS = 1000


def fit_input_info(value: Any) -> dict:
    """What data passed to ``fit`` records besides its fingerprint: its category levels,
    which the model registry turns into a signature."""
    info: dict[str, Any] = {"used_in_fit": True}
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(value, pd.DataFrame):
        levels = {
            str(name): [c.item() if hasattr(c, "item") else c for c in dtype.categories]
            for name, dtype in value.dtypes.items()
            if isinstance(dtype, pd.CategoricalDtype)
            and len(dtype.categories) <= MAX_CATEGORY_LEVELS
        }
        if levels:
            try:
                json.dumps(levels)
                info["categories"] = levels
            except (TypeError, ValueError):  # exotic level types: the dtype is still checked
                pass
    return info


class _Tee(io.TextIOBase):
    """Writes to the real stream and keeps a bounded copy."""

    def __init__(self, stream, limit: int):
        self._stream = stream
        self._buffer = io.StringIO()
        self._limit = limit
        self.truncated = False

    def write(self, text: str) -> int:
        if self._buffer.tell() < self._limit:
            self._buffer.write(text[: self._limit - self._buffer.tell()])
        else:
            self.truncated = True
        return self._stream.write(text)

    def flush(self) -> None:
        self._stream.flush()

    def __getattr__(self, name: str) -> Any:  # fileno, encoding, isatty … of the real stream
        return getattr(self._stream, name)

    def getvalue(self) -> str:
        return self._buffer.getvalue()


@contextlib.contextmanager
def tee_output() -> Iterator[tuple[_Tee, _Tee]]:
    """Copy what the cell prints while it still reaches the notebook."""
    out, err = _Tee(sys.stdout, MAX_CAPTURED_OUTPUT), _Tee(sys.stderr, MAX_CAPTURED_OUTPUT)
    previous = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        yield out, err
    finally:
        sys.stdout, sys.stderr = previous


class CellCapture:
    """Capture of one cell run, following the rules in :mod:`nbmlops.tracking.cell`."""

    def __init__(
        self,
        plan: CellPlan,
        namespace: dict[str, Any],
        *,
        auto: bool = True,
        params: list[str] | None = None,
        metrics: list[str] | None = None,
        hidden: Collection[str] = (),
    ):
        self.plan = plan
        self.hidden = hidden
        self.ns = namespace
        self.auto = auto
        self.explicit_params = params or []
        self.explicit_metrics = metrics or []
        self.warnings: list[str] = []
        self.recorded_params: dict[str, Any] = {}
        self.recorded_metrics: dict[str, float] = {}
        self.model_param_count = 0
        self.inputs: list[str] = []
        self.outputs: list[str] = []
        self.estimators: list[str] = []
        self.figures: list[str] = []
        self._input_rows: list[dict] = []
        self._figures_before: set[int] = set()
        # The figures already recorded (held, not by id(): a closed figure's id can be reused).
        self._figures_logged: list[Any] = []
        self._files: FileReads | None = None
        self.inherited = Inherited()
        self._inherited_params: list[str] = []  # recorded with the value read before the cell
        self._histories: dict[str, list[float]] = {}  # evaluation histories: metric steps
        self._model_files: list[tuple[str, Any]] = []  # (artifact name, text or dict)

    def before(self) -> None:
        """Fingerprint the data the cell will read, and note which figures are open."""
        if not self.auto:
            return
        now = time.time()
        for name in self.plan.reads:
            value = self.ns.get(name)
            if is_data(value):
                self._input_rows.append(self._data_row("input", name, value, now))
        digests = {r["name"]: r["digest"] for r in self._input_rows}
        self.inherited = collect(self.plan.needs, self.ns, self.hidden, digests)
        self._figures_before = set(open_matplotlib_figures())
        from ..config import get_settings

        self._files = FileReads(ignore=[get_settings().home]).start()

    def _file_rows(self, now: float, taken: set[str]) -> list[dict]:
        """Stop watching ``open`` and fingerprint the files the cell read (see files.py)."""
        if self._files is None:
            return []
        self._files.stop()
        try:
            rows = self._files.rows(now, taken)
        except OSError as exc:
            self.warnings.append(f"files read by the cell not fingerprinted: {exc}")
            rows = []
        self._files = None
        return rows

    def _data_row(
        self, direction: str, name: str, value: Any, now: float, info: dict | None = None
    ) -> dict:
        fp = input_fingerprint(value)
        assert fp is not None  # callers check is_data first
        if fp.sampled_rows is not None:  # a large frame: say its digest covers a sample
            info = {**(info or {}), "sampled_rows": fp.sampled_rows}
        return {
            "direction": direction,
            "name": name,
            **fp.as_row(),
            "info": json.dumps(info) if info else None,
            "created_at": now,
        }

    def record(self, run: Run) -> None:
        """Write everything captured to ``run`` (params and data in one transaction each)."""
        now = time.time()
        params: dict[str, Any] = {}
        metrics: dict[str, float] = {}
        data_rows = list(self._input_rows)
        data_rows += self._file_rows(now, {r["name"] for r in data_rows})
        self.inputs = [r["name"] for r in data_rows]

        if self.auto:
            # An explicit --params/--metrics choice wins over the automatic rule.
            for name in self.plan.params:
                if name in self.ns and name not in self.explicit_metrics:
                    params[name] = self.ns[name]
            for name in self.plan.computed:
                value = self.ns.get(name)
                if is_metric_value(value) and name not in self.explicit_params:
                    metrics[name] = value
        for name in self.explicit_params:
            if name not in self.ns:
                self.warnings.append(f"--params {name}: no such variable after the cell")
            else:
                params[name] = self.ns[name]
        for name in self.explicit_metrics:
            value = self.ns.get(name)
            if not is_metric_value(value):
                self.warnings.append(
                    f"--metrics {name}: {type(value).__name__} is not a real number, not recorded"
                )
            else:
                metrics[name] = value

        if self.auto:
            fitted = [
                n
                for n in dict.fromkeys([*self.plan.assigned, *self.plan.fits])
                if is_fitted_estimator(self.ns.get(n))
            ]
            for name in fitted:
                model = self.ns[name]
                model_params = estimator_params(model, name)
                self.model_param_count += len(model_params)
                params.update(model_params)
                info = {
                    "class": model_params[f"{name}.class"],
                    "fit_inputs": self.plan.fits.get(name, []),
                }
                data_rows.append(
                    {
                        "direction": "output",
                        "name": name,
                        "kind": "estimator",
                        "digest": estimator_digest(model),
                        "shape": None,
                        "schema": None,
                        "info": json.dumps(info),
                        "created_at": now,
                    }
                )
                remember_fitted(model, run.run_id)
                self.estimators.append(name)
            self._frameworks(run, params, metrics, data_rows, now)
            trained_on = {a for args in self.plan.fits.values() for a in args}
            for name in self.plan.assigned:
                value = self.ns.get(name)
                if is_data(value):
                    info = fit_input_info(value) if name in trained_on else None
                    data_rows.append(self._data_row("output", name, value, now, info))
                    self.outputs.append(name)
            for row in data_rows:
                if row["direction"] == "input" and row["name"] in trained_on:
                    row["info"] = json.dumps(fit_input_info(self.ns.get(row["name"])))

        if self.auto:
            for name, value in self.inherited.params.items():
                if name not in params:  # the cell's own param of that name wins
                    params[name] = value
                    self._inherited_params.append(name)
        self._log_params(run, params)
        self._log_metrics(run, metrics)
        if data_rows:
            run._record_data_rows(data_rows)
        if self.auto:
            self._log_inherited(run)
            self._log_histories(run)
            self._log_figures(run)

    def _frameworks(
        self, run: Run, params: dict, metrics: dict, data_rows: list[dict], now: float
    ) -> None:
        """XGBoost, LightGBM, CatBoost, PyTorch and statsmodels models (see frameworks.py)."""
        visible = list(dict.fromkeys([*self.plan.assigned, *self.plan.reads]))
        optimizers = {n: optimizer_params(self.ns.get(n), n) for n in visible}
        optimizers = {n: found for n, found in optimizers.items() if found}
        # A module defined by an earlier cell counts when an optimizer of this cell trains it.
        trained = trained_modules(
            {n: self.ns.get(n) for n in self.plan.reads}, [self.ns[n] for n in optimizers]
        )
        for name in dict.fromkeys([*self.plan.assigned, *self.plan.fits, *trained]):
            value = self.ns.get(name)
            found = describe(value, name)
            if found is None:
                continue
            params.update(found.params)
            metrics.update(found.metrics)
            self._histories.update(found.history)
            self.model_param_count += len(found.params)
            if found.importances is not None:
                artifact = {"importance_type": found.importance_type, "values": found.importances}
                self._model_files.append((f"models/{name}/feature_importance.json", artifact))
            self._model_files += list(found.text.items())
            if name not in self.estimators:  # scikit-learn wrappers were recorded above
                info = {
                    "class": found.params.get(f"{name}.class"),
                    "framework": found.framework,
                    "fit_inputs": self.plan.fits.get(name, []),
                }
                data_rows.append(
                    {
                        "direction": "output",
                        "name": name,
                        "kind": "estimator",
                        "digest": found.digest,
                        "shape": None,
                        "schema": None,
                        "info": json.dumps(info),
                        "created_at": now,
                    }
                )
                remember_fitted(value, run.run_id)
                self.estimators.append(name)
        for settings in optimizers.values():
            params.update(settings)
            self.model_param_count += len(settings)

    def _log_histories(self, run: Run) -> None:
        """Evaluation histories as metric steps, and the models' artifacts."""
        for key, values in self._histories.items():
            try:
                for step, value in enumerate(values):
                    run.log_metric(key, value, step=step)
            except NbmlopsError as exc:
                self.warnings.append(f"evaluation history {key} not recorded: {exc}")
        for artifact, content in self._model_files:
            try:
                if isinstance(content, str):
                    run.log_text(content, artifact)
                else:
                    run.log_dict(content, artifact)
            except NbmlopsError as exc:
                self.warnings.append(f"{artifact} not saved: {exc}")

    def _log_inherited(self, run: Run) -> None:
        """What the cell took from earlier cells (see inherited.py)."""
        if not self.inherited:
            return
        run.log_dict(self.inherited.to_dict(), INHERITED_ARTIFACT)
        names = [n for n in self._inherited_params if n in self.recorded_params]
        if names:
            run.set_tag(INHERITED_TAG, ",".join(names)[: v.MAX_VALUE_LEN])

    def _log_params(self, run: Run, params: dict[str, Any]) -> None:
        clean: dict[str, Any] = {}
        for key, value in params.items():
            try:
                v.key("param", key)
            except NbmlopsError as exc:
                self.warnings.append(str(exc))
                continue
            try:
                v.param_json(key, value)
            except NbmlopsError:
                value = repr(value)[: v.MAX_VALUE_LEN - 2]  # keep what the value looked like
            clean[key] = value
        if clean:
            try:
                run.log_params(clean)
            except InvalidParam:
                # One conflict (the cell called log_param('C', 5), then set C = 1.0) must not
                # lose the other params: write them one by one and say which were refused.
                for key, value in list(clean.items()):
                    try:
                        run.log_param(key, value)
                    except InvalidParam as exc:
                        self.warnings.append(f"param {key} not recorded: {exc}")
                        del clean[key]
        self.recorded_params = clean

    def _log_metrics(self, run: Run, metrics: dict[str, float]) -> None:
        clean = {}
        if metrics:
            # A metric the cell already logged itself (log_metric('loss', v, step=i) in a loop)
            # keeps that history; the variable's final value would only repeat it at step 0.
            logged = run._metric_keys()  # names only: reading the whole run cost ~5-10 ms
            for key in [k for k in metrics if k in logged]:
                del metrics[key]
                if key in self.explicit_metrics:
                    self.warnings.append(
                        f"--metrics {key}: already logged by the cell, its history is kept"
                    )
        for key, value in metrics.items():
            try:
                clean[v.key("metric", key)] = v.metric_value(key, value)
            except NbmlopsError as exc:
                self.warnings.append(str(exc))
        if clean:
            run.log_metrics(clean)
        self.recorded_metrics = clean

    @contextlib.contextmanager
    def recording_shown_figures(self, shell: Any, run: Run) -> Iterator[None]:
        """While the cell runs, record every matplotlib figure it displays.

        ``plt.show()`` on Jupyter's inline backend displays the open figures and then closes
        them, so after the cell there would be nothing left to record. Every display goes
        through the shell's display formatter (``display(fig)``, a figure as the cell's value,
        the inline backend's ``show``), which sees the figure while it is still open.
        """
        formatter = getattr(shell, "display_formatter", None)
        if not self.auto or formatter is None:
            yield
            return
        shadowed = formatter.__dict__.get("format")
        original = formatter.format

        def format_and_record(obj, *args, **kwargs):
            if is_matplotlib_figure(obj):
                self._log_figure(run, obj, getattr(obj, "number", None))
            return original(obj, *args, **kwargs)

        formatter.format = format_and_record
        try:
            yield
        finally:
            if shadowed is None:
                del formatter.format
            else:
                formatter.format = shadowed

    def _log_figure(self, run: Run, figure: Any, num: int | None) -> None:
        if num is not None and num in self._figures_before:
            return  # open before the cell ran: not this cell's figure
        if any(logged is figure for logged in self._figures_logged):
            return  # shown and still open, or shown twice: recorded once
        self._figures_logged.append(figure)
        # pyplot figures are named by their number; others (Figure() made directly) by order.
        label = num if num is not None else f"shown-{len(self._figures_logged)}"
        name = f"figures/figure-{label}.png"
        again = 1
        while name in self.figures:  # plt.show() closed figure 1: the next figure is 1 again
            again += 1
            name = f"figures/figure-{label}-{again}.png"
        try:
            run.log_figure(figure, name)
            self.figures.append(name)
        except Exception as exc:  # noqa: BLE001 - a figure that cannot render is skipped
            self.warnings.append(f"figure {label} not saved: {exc}")

    def _log_figures(self, run: Run) -> None:
        for num, figure in open_matplotlib_figures().items():
            self._log_figure(run, figure, num)
        for name in self.plan.assigned:
            value = self.ns.get(name)
            if is_plotly_figure(value):
                artifact = f"figures/{name}.json"
                try:
                    run.log_figure(value, artifact)
                    self.figures.append(artifact)
                except Exception as exc:  # noqa: BLE001
                    self.warnings.append(f"plotly figure {name} not saved: {exc}")

    def record_failure(self, run: Run, out: _Tee | None, err: _Tee | None) -> None:
        """For a cell that raised: the inputs it read and what it printed."""
        try:
            rows = list(self._input_rows)
            rows += self._file_rows(time.time(), {r["name"] for r in rows})
            if rows:
                run._record_data_rows(rows)
                self.inputs = [r["name"] for r in rows]
            if self.auto and self.inherited.params:
                self._inherited_params = list(self.inherited.params)
                self._log_params(run, dict(self.inherited.params))
            if self.auto:
                self._log_inherited(run)
            if out is not None and err is not None:
                self.log_output_streams(run, out, err)
        except Exception as exc:  # noqa: BLE001 - the cell's own error matters more
            self.warnings.append(f"capture failed: {exc}")

    def log_output_streams(self, run: Run, out: _Tee, err: _Tee) -> None:
        for tee, name in ((out, "stdout.txt"), (err, "stderr.txt")):
            text = tee.getvalue()
            if tee.truncated:
                text += f"\n[nbmlops: output truncated at {MAX_CAPTURED_OUTPUT} characters]\n"
            if text:
                run.log_text(text, name)
