"""``ReportsPanel``: the saved drift reports of the workspace; open one to see its verdict,
per-column table and interactive figure."""

from __future__ import annotations

import ipywidgets as w

from ..errors import NbmlopsError
from . import _html as h


def reports_html(frame) -> str:
    if frame.empty:
        return (
            "<p style='color:#57606a'>no saved drift reports yet: "
            "<code>nbmlops.drift_report(ref, cur).save('name')</code> or "
            "<code>%drift ref cur --save name</code></p>"
        )
    rows = [
        [
            f"<code>{h.esc(r['report_id'][:8])}</code>",
            h.esc(r["name"] or ""),
            h.esc(h.fmt(r["created_at"])),
            h.badge("drift", ("#cf222e", "#ffebe9"))
            if r["dataset_drift"]
            else h.badge("no drift", ("#1a7f37", "#dafbe1")),
            h.esc(r["drifted"]),
            h.esc(r["drifted_columns"]),
            h.esc(r["model"] or ""),
        ]
        for r in frame.to_dict("records")
    ]
    headers = ["report", "name", "created", "verdict", "drifted", "columns", "model"]
    return h.table(headers, rows, raw=True, cls="nbmlops-reports")


class ReportsPanel(w.VBox):
    """The Reports tab: pick a saved report in ``report`` (or call :meth:`open_report`)."""

    def __init__(self, model: str | None = None):
        super().__init__()
        self.model_filter = model
        self.listing = w.HTML()
        self.report = w.Dropdown(description="report", layout=w.Layout(width="420px"))
        self.open_button = w.Button(description="Open", icon="folder-open")
        self.message = w.HTML()
        self.summary = w.HTML()
        self.figure = None
        self.opened = None  # the DriftReport shown
        self.open_button.on_click(lambda _: self.open_report(self.report.value))
        self.children = [self.listing, w.HBox([self.report, self.open_button]), self.message]
        self.refresh()

    def refresh(self) -> None:
        from ..monitoring import drift_reports

        frame = drift_reports(self.model_filter)
        self.listing.value = reports_html(frame)
        keep = self.report.value
        self.report.options = [
            (f"{r['report_id'][:8]} {r['name'] or ''} ({h.fmt(r['created_at'])})", r["report_id"])
            for r in frame.to_dict("records")
        ]
        ids = list(frame["report_id"])
        self.report.value = keep if keep in ids else (ids[0] if ids else None)
        self.open_button.disabled = frame.empty

    def open_report(self, report_id: str | None) -> None:
        """Show the saved report ``report_id`` (a unique prefix works)."""
        import plotly.graph_objects as go

        from ..monitoring import load_drift_report

        if not report_id:
            return
        try:
            report = load_drift_report(report_id)
        except NbmlopsError as exc:
            self.message.value = f"<pre style='color:#cf222e'>{h.esc(exc)}</pre>"
            return
        self.message.value = ""
        self.opened = report
        self.summary.value = report._repr_html_()
        children = [self.listing, w.HBox([self.report, self.open_button]), self.summary]
        if report.columns:
            self.figure = go.FigureWidget(report.figure())
            children.append(self.figure)
        self.children = children

    def to_html(self) -> str:
        from ..monitoring import drift_reports

        return reports_html(drift_reports(self.model_filter))
