"""``ReportsPanel``: the saved drift reports of the workspace; open one to see its verdict,
per-column table and interactive figure."""

from __future__ import annotations

import ipywidgets as w

from ..display import html as h
from ..display.cells import is_missing, short_id
from ._plot import show_figure


def _text(value) -> str:
    """Free text of a listing column; missing (None, or NaN on pandas 3) is empty."""
    return "" if is_missing(value) else str(value)


def _flag(value) -> bool:
    return not is_missing(value) and bool(value)


def reports_html(frame) -> str:
    if frame.empty:
        return (
            "<p style='color:#57606a'>no saved drift reports yet: "
            "<code>nbmlops.drift_report(ref, cur).save('name')</code> or "
            "<code>%drift ref cur --save name</code></p>"
        )
    rows = [
        [
            f"<code>{h.esc(short_id(r['report_id']))}</code>",
            h.esc(_text(r["name"])),
            h.esc(h.fmt(r["created_at"])),
            h.badge("drift", ("#cf222e", "#ffebe9"))
            if _flag(r["dataset_drift"])
            else h.badge("no drift", ("#1a7f37", "#dafbe1")),
            h.esc(h.fmt(r["drifted"])),
            h.esc(_text(r["drifted_columns"])),
            h.esc(_text(r["model"])),
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
        self.figure = None  # the plotly figure of the opened report
        self.figure_output = w.Output()
        self.opened = None  # the DriftReport shown
        self.open_button.on_click(lambda _: self.open_report(self.report.value))
        self.children = [self.listing, w.HBox([self.report, self.open_button]), self.message]
        try:
            self.refresh()
        except Exception as exc:  # noqa: BLE001 - the tab shows it and stays usable
            self.message.value = h.error(exc)

    def refresh(self) -> None:
        from ..monitoring import drift_reports

        frame = drift_reports(self.model_filter)
        self.listing.value = reports_html(frame)
        keep = self.report.value
        self.report.options = [
            (
                f"{short_id(r['report_id'])} {_text(r['name'])} ({h.fmt(r['created_at'])})",
                str(r["report_id"]),
            )
            for r in frame.to_dict("records")
        ]
        ids = [str(i) for i in frame["report_id"]]
        self.report.value = keep if keep in ids else (ids[0] if ids else None)
        self.open_button.disabled = frame.empty

    def open_report(self, report_id: str | None) -> None:
        """Show the saved report ``report_id`` (a unique prefix works); a report that cannot
        be read (its artifact deleted, say) shows the error instead."""
        from ..monitoring import load_drift_report

        if not report_id:
            return
        try:
            report = load_drift_report(report_id)
            summary = report._repr_html_()
            figure = report.figure() if report.columns else None
        except Exception as exc:  # noqa: BLE001 - shown in the tab, never raised
            self.message.value = h.error(exc)
            return
        self.message.value = ""
        self.opened = report
        self.summary.value = summary
        self.figure = figure
        show_figure(self.figure_output, figure)
        children = [self.listing, w.HBox([self.report, self.open_button]), self.summary]
        if figure is not None:
            children.append(self.figure_output)
        self.children = [*children, self.message]

    def to_html(self) -> str:
        from ..monitoring import drift_reports

        return reports_html(drift_reports(self.model_filter))
