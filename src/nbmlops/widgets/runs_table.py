"""``RunsTable``: filter, sort, page and select runs; pages are read from the store one at a
time (:func:`nbmlops.tracking.query.runs_page`), so 10,000 runs open as fast as 10."""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as w

from ..display import html as h
from ..errors import NbmlopsError
from .run_grid import RunGrid, next_direction

ALL = ""  # the experiment selector's value for "all experiments" (None would show blank)


class RunsTable(w.VBox):
    """The Runs tab: filter box (the filter strings of ``nbmlops.runs``), experiment selector,
    the run grid (click a header to sort, tick runs to compare, choose columns), server-side
    paging and run selection for Compare."""

    def __init__(
        self,
        experiment: str | None = None,
        page_size: int = 25,
        on_compare: Callable[[list[str]], None] | None = None,
    ):
        super().__init__()
        self.page_size = page_size
        self.order_by: tuple[str, bool] | None = None  # (column, descending)
        self.offset = 0
        self.page = None
        self._quiet = False  # set while the selector's options change: no reload per change
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
        self.grid = RunGrid(layout=w.Layout(width="100%"))
        self.grid.on_sort(self.sort_by)
        self.grid.observe(lambda _: self._render_selection(), names="selected")

        self.filter.observe(lambda _: self._reload(reset=True), names="value")
        self.experiment.observe(self._on_experiment, names="value")
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
            self.grid,
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
        names = self._experiment_names()
        if value is not None and value not in names:
            raise NbmlopsError(
                f"no experiment named {value!r}; pick one of {names} or leave experiment=None"
            )
        self._quiet = True
        try:
            self.experiment.options = [("all experiments", ALL), *[(n, n) for n in names]]
            self.experiment.value = ALL if value is None else value
        finally:
            self._quiet = False

    @property
    def experiment_name(self) -> str | None:
        """The experiment shown, None for all."""
        return self.experiment.value or None

    def _on_experiment(self, _change) -> None:
        if not self._quiet:
            self._reload(reset=True)

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
                experiment=self.experiment_name,
                filter=self.filter.value.strip() or None,
                order_by=self.order_text,
                offset=self.offset,
                limit=self.page_size,
            )
        except Exception as exc:  # noqa: BLE001 - shown in the tab; the last page stays
            self.message.value = error_html(exc)
            return
        self.message.value = ""
        if page.total and page.frame.empty and self.offset:  # a filter shrank the selection
            self.offset = (page.pages - 1) * self.page_size
            return self._reload()
        self.page = page
        self._render()

    def refresh(self) -> None:
        """Re-read experiments and the current page (new runs appear, statuses update)."""
        current = self.experiment_name
        self._set_experiments(current if current in self._experiment_names() else None)
        self._reload()

    def _experiment_names(self) -> list[str]:
        from ..tracking import experiments

        return [str(n) for n in experiments()["name"]]

    def go_to(self, offset: int) -> None:
        """Show the page starting at run number ``offset`` (clamped to the pages there are)."""
        last = (self.page.pages - 1) * self.page_size if self.page else 0
        self.offset = max(0, min(offset, last))
        self._reload()

    def sort_by(self, column: str, descending: bool | None = None) -> None:
        """Sort by ``column``; without ``descending``, a second call flips the direction."""
        if descending is None:
            descending = next_direction(self.order_by, column)
        self.order_by = (column, descending)
        self._reload(reset=True)

    # -- rendering ---------------------------------------------------------------------------

    def shown_columns(self) -> list[str]:
        """Keys of the columns the grid shows, left to right."""
        return self.grid.shown_columns

    def _render(self) -> None:
        page = self.page
        self.grid.show(page.frame, self.order_by)
        first = page.offset + 1 if page.total else 0
        last = min(page.offset + page.limit, page.total)
        self.page_label.value = (
            f"&nbsp;runs {first}–{last} of {page.total:,} · page {page.page + 1} of "
            f"{page.pages}&nbsp;"
        )
        self.first_button.disabled = self.prev_button.disabled = page.offset == 0
        self.next_button.disabled = self.last_button.disabled = page.page + 1 >= page.pages
        self._render_selection()

    def _render_selection(self) -> None:
        selected = self.selected
        n = len(selected)
        self.compare_button.disabled = n < 2
        self.clear_button.disabled = n == 0
        self.selection_label.value = (
            f"&nbsp;{n} selected: " + ", ".join(f"<code>{h.esc(r[:8])}</code>" for r in selected)
            if n
            else "&nbsp;select two or more runs to compare"
        )

    # -- selection ---------------------------------------------------------------------------

    @property
    def selected(self) -> list[str]:
        """Run ids ticked (across pages), in the order they were ticked."""
        return list(self.grid.selected)

    def select(self, *run_ids: str) -> None:
        """Add runs (full ids) to the selection, as ticking their boxes does."""
        self.grid.selected = [*self.selected, *(r for r in run_ids if r not in self.selected)]

    def clear_selection(self) -> None:
        self.grid.selected = []

    def on_compare(self, handler: Callable[[list[str]], None]) -> None:
        """Call ``handler(run_ids)`` when Compare is pressed."""
        self._compare_handlers.append(handler)

    def compare(self) -> None:
        if len(self.selected) < 2:
            self.message.value = "<p style='color:#9a6700'>select two or more runs to compare</p>"
            return
        for handler in self._compare_handlers:
            handler(self.selected)

    def to_html(self) -> str:
        """Static HTML of the current page (what nbconvert shows)."""
        filters = []
        if self.experiment_name:
            filters.append(f"experiment {h.esc(self.experiment_name)}")
        if self.filter.value.strip():
            filters.append(f"filter <code>{h.esc(self.filter.value.strip())}</code>")
        if self.order_by:
            filters.append(f"order <code>{h.esc(self.order_text)}</code>")
        note = f"<p style='margin:2px 0'>{' · '.join(filters)}</p>" if filters else ""
        page = self.page
        if page is None:
            return note
        first = page.offset + 1 if page.total else 0
        last = min(page.offset + page.limit, page.total)
        head = (
            f'<p style="margin:4px 0;color:#57606a">runs {first}–{last} of {page.total:,} '
            f"(page {page.page + 1} of {page.pages})</p>"
        )
        return note + h.box(head + self.grid.to_html(), "nbmlops-run-page")


def error_html(exc: BaseException) -> str:
    """An error shown inside a tab: what failed, in red, never raised into the notebook."""
    name = type(exc).__name__
    return (
        "<pre style='color:#cf222e;white-space:pre-wrap;margin:4px 0'>"
        f"{h.esc(exc if isinstance(exc, NbmlopsError) else f'{name}: {exc}')}</pre>"
    )
