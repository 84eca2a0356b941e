"""``PipelineRun``: what ``nbmlops.run_notebook`` returns.

A plain, picklable record (the DAG runner sends it back from worker processes), with a readable
``repr`` and an HTML view for notebooks. ``run`` opens the tracking run for everything else.
"""

from __future__ import annotations

import dataclasses
import html
import math
from typing import Any

OK, EXECUTION_FAILED, GATE_FAILED = "ok", "execution_failed", "gate_failed"


@dataclasses.dataclass
class PipelineRun:
    """One executed notebook, recorded as a run.

    ``status`` is the run's final status (``FINISHED`` or ``FAILED``) and ``outcome`` says why:
    ``ok``, ``execution_failed`` (a cell raised, a timeout, a dead kernel) or ``gate_failed``.
    ``metrics`` are the rolled-up metrics of the tracked cells (see ``run_notebook``), ``gates``
    the gate table (``gate, value, threshold, passed, detail``; empty without gates) and
    ``error`` the :class:`~nbmlops.errors.NotebookFailed` or
    :class:`~nbmlops.errors.GateFailed` when the run failed.
    """

    run_id: str
    status: str
    outcome: str
    notebook: str
    output: str | None
    experiment: str
    params: dict[str, Any]
    metrics: dict[str, float]
    child_run_ids: list[str]
    duration_s: float
    gates: Any  # pandas.DataFrame
    notebook_hash: str
    error: Exception | None = None

    @property
    def duration(self) -> float:
        """Seconds the notebook took to execute (same as ``duration_s``)."""
        return self.duration_s

    @property
    def ok(self) -> bool:
        return self.outcome == OK

    @property
    def run(self):
        """The tracking :class:`~nbmlops.Run` (params, metrics, artifacts, children …)."""
        from ..tracking import get_run

        return get_run(self.run_id)

    def raise_for_status(self) -> PipelineRun:
        """Raise ``error`` if the run failed; return ``self`` otherwise."""
        if self.error is not None:
            raise self.error
        return self

    def failed_gates(self) -> list[str]:
        if self.gates is None or len(self.gates) == 0:
            return []
        return [str(g) for g in self.gates.loc[~self.gates["passed"], "gate"]]

    def __repr__(self) -> str:
        lines = [
            f"<PipelineRun {self.run_id[:8]} {self.notebook_name} {self.status} ({self.outcome}) "
            f"in {self.duration_s:.2f}s>"
        ]
        if self.params:
            lines.append("  params  " + ", ".join(f"{k}={v!r}" for k, v in self.params.items()))
        if self.metrics:
            lines.append(
                "  metrics " + ", ".join(f"{k}={_fmt(v)}" for k, v in self.metrics.items())
            )
        if self.child_run_ids:
            lines.append(
                f"  children {len(self.child_run_ids)}: "
                + ", ".join(r[:8] for r in self.child_run_ids[:8])
                + (" …" if len(self.child_run_ids) > 8 else "")
            )
        if self.gates is not None and len(self.gates):
            passed = int(self.gates["passed"].sum())
            lines.append(f"  gates   {passed} of {len(self.gates)} passed")
            lines += [f"    FAIL {g}" for g in self.failed_gates()]
        if self.output:
            lines.append(f"  output  {self.output}")
        if self.error is not None and self.outcome == EXECUTION_FAILED:
            lines.append(f"  error   {str(self.error).splitlines()[0]}")
        return "\n".join(lines)

    @property
    def notebook_name(self) -> str:
        return self.notebook.replace("\\", "/").rsplit("/", 1)[-1]

    def _repr_html_(self) -> str:
        e = html.escape
        color = {"ok": "#1a7f37", "gate_failed": "#9a6700"}.get(self.outcome, "#cf222e")
        rows = [
            ("run", f"<code>{e(self.run_id)}</code>"),
            ("notebook", e(self.notebook)),
            ("status", f'<b style="color:{color}">{e(self.status)}</b> ({e(self.outcome)})'),
            ("duration", f"{self.duration_s:.2f} s"),
            ("experiment", e(self.experiment)),
        ]
        if self.params:
            rows.append(
                ("params", ", ".join(f"{e(k)}={e(repr(v))}" for k, v in self.params.items()))
            )
        if self.metrics:
            rows.append(
                ("metrics", ", ".join(f"{e(k)}={e(_fmt(v))}" for k, v in self.metrics.items()))
            )
        if self.child_run_ids:
            rows.append(("child runs", ", ".join(e(r[:8]) for r in self.child_run_ids)))
        if self.output:
            rows.append(("output", e(self.output)))
        if self.error is not None and self.outcome == EXECUTION_FAILED:
            rows.append(("error", f"<pre>{e(str(self.error))}</pre>"))
        body = "".join(
            f'<tr><th style="text-align:left;padding-right:1em">{k}</th>'
            f'<td style="text-align:left">{v}</td></tr>'
            for k, v in rows
        )
        gates = ""
        if self.gates is not None and len(self.gates):
            gates = "<b>gates</b>" + self.gates.to_html(index=False, escape=True, na_rep="—")
        return f"<div><table>{body}</table>{gates}</div>"


def _fmt(value: float) -> str:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return str(value)
    return f"{value:.4g}"
