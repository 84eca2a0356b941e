"""``RunsTable``: filter, sort, page and select runs; pages are read from the store one at a
time (:func:`nbmlops.tracking.query.runs_page`), so 10,000 runs open as fast as 10."""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as w

from ..errors import NbmlopsError
from . import _html as h

WIDTHS = {"run_id": 80, "name": 150, "experiment": 120, "status": 90, "start_time": 150}
DEFAULT_WIDTH = 110
BASE_SHOWN = ["run_id", "name", "experiment", "status", "start_time", "duration_s"]
# Sorting these starts with the largest (newest, best score) first; others A→Z.
DESCENDING_FIRST = ("metrics.", "start_time", "duration_s")


def _cell(column: str, value: object) -> str:
    width = WIDTHS.get(column, DEFAULT_WIDTH)
    if column == "status":
        inner = h.status_badge(str(value))
        title = str(value)
    else:
        text = str(value)[:8] if column == "run_id" else h.fmt(value)
        inner = f"<code>{h.esc(text)}</code>" if column == "run_id" else h.esc(text)
        title = h.fmt(value)
    return (
        f'<span title="{h.esc(title)}" style="display:inline-block;width:{width}px;'
        f"overflow:hidden;text-overflow:ellipsis;white-space:nowrap;vertical-align:middle;"
        f'padding-right:6px">{inner}</span>'
    )


class RunsTable(w.VBox):
    """The Runs tab: filter box (the filter strings of ``nbmlops.runs``), experiment selector,
    sortable columns, server-side paging and run selection for Compare."""

    def __init__(
        self,
        experiment: str | None = None,
        page_size: int = 25,
        max_columns: int = 10,
        on_compare: Callable[[list[str]], None] | None = None,
    ):
        super().__init__()
        self.page_size = page_size
        self.max_columns = max_columns
        self.order_by: tuple[str, bool] | None = None  # (column, descending)
        self.offset = 0
        self.selected: list[str] = []
        self.page = None
        self._compare_handlers: list[Callable[[list[str]], None]] = []
        if on_compare is not None:
            self._compare_handlers.append(on_compare)
        self.filter = w.Text(
            placeholder="metrics.accuracy > 0.9 and params.C == 0.5  (Enter)",
            description="filter",
            continuous_update=False,
            layout=w.Layout(width="460px"),
        )
        self.experiment = w.Dropdown(description="experiment", layout=w.Layout(width="280px"))
        self._set_experiments(experiment)
        self.refresh_button = w.Button(description="Refresh", icon="refresh")
        self.first_button = w.Button(description="«", layout=w.Layout(width="40px"))
        self.prev_button = w.Button(description="‹ prev", layout=w.Layout(width="70px"))
        self.next_button = w.Button(description="next ›", layout=w.Layout(width="70px"))
        self.last_button = w.Button(description="»", layout=w.Layout(width="40px"))
        self.page_label = w.HTML()
        self.message = w.HTML()
        self.compare_button = w.Button(
            description="Compare", icon="columns", button_style="primary", disabled=True
        )
        self.clear_button = w.Button(description="Clear selection", disabled=True)
        self.selection_label = w.HTML()
        self.header = w.HBox()
        self.body = w.VBox()
        self.sort_buttons: dict[str, w.Button] = {}
        self.row_checks: list[w.Checkbox] = []
        self.row_html: list[w.HTML] = []
        self._row_ids: list[str] = []
        self._columns: list[str] = []

        self.filter.observe(lambda _: self._reload(reset=True), names="value")
        self.experiment.observe(lambda _: self._reload(reset=True), names="value")
        self.refresh_button.on_click(lambda _: self.refresh())
        self.first_button.on_click(lambda _: self.go_to(0))
        self.prev_button.on_click(lambda _: self.go_to(self.offset - self.page_size))
        self.next_button.on_click(lambda _: self.go_to(self.offset + self.page_size))
        self.last_button.on_click(lambda _: self.go_to((self.page.pages - 1) * self.page_size))
        self.compare_button.on_click(lambda _: self.compare())
        self.clear_button.on_click(lambda _: self.clear_selection())
        self.children = [
            w.HBox([self.filter, self.experiment, self.refresh_button]),
            self.message,
            self.header,
            self.body,
            w.HBox(
                [
                    self.first_button,
                    self.prev_button,
                    self.page_label,
                    self.next_button,
                    self.last_button,
                ]
            ),
            w.HBox([self.compare_button, self.clear_button, self.selection_label]),
        ]
        self._reload()

    # -- data --------------------------------------------------------------------------------

    def _set_experiments(self, value: str | None = None) -> None:
        from ..tracking import experiments

        names = list(experiments()["name"])
        if value is not None and value not in names:
            raise NbmlopsError(
                f"no experiment named {value!r}; pick one of {names} or leave experiment=None"
            )
        self.experiment.options = [("all experiments", None), *[(n, n) for n in names]]
        self.experiment.value = value

    @property
    def order_text(self) -> str | None:
        if self.order_by is None:
            return None
        column, descending = self.order_by
        return f"`{column}` {'DESC' if descending else 'ASC'}"

    def _reload(self, reset: bool = False) -> None:
        from ..tracking.query import runs_page

        if reset:
            self.offset = 0
        try:
            page = runs_page(
                experiment=self.experiment.value,
                filter=self.filter.value.strip() or None,
                order_by=self.order_text,
                offset=self.offset,
                limit=self.page_size,
            )
        except NbmlopsError as exc:
            self.message.value = (
                f"<pre style='color:#cf222e;white-space:pre-wrap'>{h.esc(exc)}</pre>"
            )
            return
        self.message.value = ""
        if page.total and page.frame.empty and self.offset:  # a filter shrank the selection
            self.offset = (page.pages - 1) * self.page_size
            return self._reload()
        self.page = page
        self._render()

    def refresh(self) -> None:
        """Re-read experiments and the current page (new runs appear, statuses update)."""
        self._set_experiments(
            self.experiment.value if self.experiment.value in self._experiment_names() else None
        )
        self._reload()

    def _experiment_names(self) -> list[str]:
        from ..tracking import experiments

        return list(experiments()["name"])

    def go_to(self, offset: int) -> None:
        """Show the page starting at run number ``offset`` (clamped to the pages there are)."""
        last = (self.page.pages - 1) * self.page_size if self.page else 0
        self.offset = max(0, min(offset, last))
        self._reload()

    def sort_by(self, column: str, descending: bool | None = None) -> None:
        """Sort by ``column``; without ``descending``, a second call flips the direction."""
        if descending is None:
            if self.order_by is not None and self.order_by[0] == column:
                descending = not self.order_by[1]
            else:
                descending = column.startswith(DESCENDING_FIRST)
        self.order_by = (column, descending)
        self._reload(reset=True)

    # -- rendering ---------------------------------------------------------------------------

    def shown_columns(self) -> list[str]:
        columns = self.page.columns if self.page is not None else BASE_SHOWN
        metrics = [c for c in columns if c.startswith("metrics.")]
        params = [c for c in columns if c.startswith("params.")]
        return BASE_SHOWN + (metrics + params)[: self.max_columns]

    def _render(self) -> None:
        page = self.page
        columns = self.shown_columns()
        if columns != self._columns:
            self._columns = columns
            self.sort_buttons = {}
            for column in columns:
                button = w.Button(
                    description=column.split(".", 1)[-1],
                    tooltip=f"sort by {column}",
                    layout=w.Layout(width=f"{WIDTHS.get(column, DEFAULT_WIDTH)}px", margin="0"),
                )
                button.on_click(lambda _, c=column: self.sort_by(c))
                self.sort_buttons[column] = button
            self.header.children = [
                w.HTML(layout=w.Layout(width="28px")),
                *self.sort_buttons.values(),
            ]
        for column, button in self.sort_buttons.items():
            label = column.split(".", 1)[-1]
            if self.order_by and self.order_by[0] == column:
                label += " ▼" if self.order_by[1] else " ▲"
            button.description = label
        while len(self.row_checks) < len(page.frame):
            check = w.Checkbox(indent=False, layout=w.Layout(width="28px"))
            check.observe(self._on_check, names="value")
            self.row_checks.append(check)
            self.row_html.append(w.HTML())
        self._row_ids = list(page.frame["run_id"])
        rows = []
        for i, record in enumerate(page.frame.to_dict("records")):
            check = self.row_checks[i]
            check._nbmlops_run_id = None  # no selection events while repainting
            check.value = record["run_id"] in self.selected
            check._nbmlops_run_id = record["run_id"]
            self.row_html[i].value = "".join(_cell(c, record.get(c)) for c in columns)
            rows.append(w.HBox([check, self.row_html[i]]))
        if not rows:
            rows = [w.HTML("<p style='color:#57606a'>no runs match</p>")]
        self.body.children = rows
        first = page.offset + 1 if page.total else 0
        last = min(page.offset + page.limit, page.total)
        self.page_label.value = (
            f"&nbsp;runs {first}–{last} of {page.total:,} · page {page.page + 1} of "
            f"{page.pages}&nbsp;"
        )
        self.first_button.disabled = self.prev_button.disabled = page.offset == 0
        self.next_button.disabled = self.last_button.disabled = page.page + 1 >= page.pages
        self._render_selection()

    def _on_check(self, change) -> None:
        run_id = getattr(change["owner"], "_nbmlops_run_id", None)
        if run_id is None:
            return
        if change["new"] and run_id not in self.selected:
            self.selected.append(run_id)
        elif not change["new"] and run_id in self.selected:
            self.selected.remove(run_id)
        self._render_selection()

    def _render_selection(self) -> None:
        n = len(self.selected)
        self.compare_button.disabled = n < 2
        self.clear_button.disabled = n == 0
        self.selection_label.value = (
            f"&nbsp;{n} selected: " + ", ".join(f"<code>{r[:8]}</code>" for r in self.selected)
            if n
            else "&nbsp;select two or more runs to compare"
        )

    # -- selection ---------------------------------------------------------------------------

    def select(self, *run_ids: str) -> None:
        """Add runs (full ids) to the selection, as ticking their boxes does."""
        for run_id in run_ids:
            if run_id not in self.selected:
                self.selected.append(run_id)
        self._render()

    def clear_selection(self) -> None:
        self.selected = []
        self._render()

    def on_compare(self, handler: Callable[[list[str]], None]) -> None:
        """Call ``handler(run_ids)`` when Compare is pressed."""
        self._compare_handlers.append(handler)

    def compare(self) -> None:
        if len(self.selected) < 2:
            self.message.value = "<p style='color:#9a6700'>select two or more runs to compare</p>"
            return
        for handler in self._compare_handlers:
            handler(list(self.selected))

    def to_html(self) -> str:
        """Static HTML of the current page (what nbconvert shows)."""
        filters = []
        if self.experiment.value:
            filters.append(f"experiment {h.esc(self.experiment.value)}")
        if self.filter.value.strip():
            filters.append(f"filter <code>{h.esc(self.filter.value.strip())}</code>")
        if self.order_by:
            filters.append(f"order <code>{h.esc(self.order_text)}</code>")
        note = f"<p style='margin:2px 0'>{' · '.join(filters)}</p>" if filters else ""
        return note + h.run_page_html(self.page, self.shown_columns(), self.selected)
