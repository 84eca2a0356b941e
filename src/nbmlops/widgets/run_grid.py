"""``RunGrid``: the run table as an anywidget component (one ``<table>``, sticky header,
column groups, a column chooser, constant columns hidden, one line per run).

Python decides everything shown (``_grid.build``: groups, order, cell texts); the browser
module ``static/run_grid.js`` draws it and reports clicks: a header click sends a ``sort``
message, the chooser a ``column`` message; row selection and the constant-column toggle are
synced traits. ``to_html()`` renders the same data as static HTML.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anywidget
import traitlets

from . import _grid

if TYPE_CHECKING:
    import pandas as pd

STATIC = Path(__file__).parent / "static"


class RunGrid(anywidget.AnyWidget):
    """A table of runs. ``show(frame)`` displays a DataFrame with the columns of
    ``nbmlops.runs()``; ``on_sort(handler)`` gets header clicks (without a handler the grid
    sorts the frame it has)."""

    _esm = (STATIC / "run_grid.js").read_text(encoding="utf-8")
    _css = (STATIC / "run_grid.css").read_text(encoding="utf-8")

    columns = traitlets.List(traitlets.Dict()).tag(sync=True)
    rows = traitlets.List(traitlets.Dict()).tag(sync=True)
    choices = traitlets.List(traitlets.Dict()).tag(sync=True)
    constant_count = traitlets.Int(0).tag(sync=True)
    show_constant = traitlets.Bool(False).tag(sync=True)
    order_by = traitlets.List().tag(sync=True)  # [] or [column, descending]
    selected = traitlets.List(traitlets.Unicode()).tag(sync=True)
    selectable = traitlets.Bool(True).tag(sync=True)
    empty_text = traitlets.Unicode("no runs match").tag(sync=True)

    def __init__(self, frame: pd.DataFrame | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.frame: pd.DataFrame | None = None
        self.data: _grid.GridData | None = None
        self.user_shown: set[str] = set()
        self.user_hidden: set[str] = set()
        self._sort_handlers: list[Callable[[str], None]] = []
        self.on_msg(self._on_frontend_message)
        self.observe(lambda _: self._render(), names="show_constant")
        if frame is not None:
            self.show(frame)

    # -- data --------------------------------------------------------------------------------

    def show(self, frame: pd.DataFrame, order_by: tuple[str, bool] | None = None) -> None:
        """Show the runs of ``frame`` (keeps the column choices and the selection);
        ``order_by`` marks the header of the column they are sorted by."""
        self.frame = frame
        self._render(order_by)

    def _render(self, order_by: tuple[str, bool] | None = None) -> None:
        if self.frame is None:
            return
        data = _grid.build(self.frame, self.show_constant, self.user_shown, self.user_hidden)
        self.data = data
        with self.hold_sync():  # one message: the sort arrow never shows before its rows
            if order_by is not None:
                self.order_by = [order_by[0], bool(order_by[1])]
            self.columns = [c.payload() for c in data.columns]
            self.rows = data.rows
            self.choices = data.choices
            self.constant_count = sum(1 for c in data.choices if c["constant"])

    @property
    def shown_columns(self) -> list[str]:
        """Keys of the columns shown, left to right."""
        return [c["key"] for c in self.columns]

    def set_column(self, key: str, shown: bool) -> None:
        """Show or hide one column (what the chooser's checkbox does)."""
        (self.user_shown if shown else self.user_hidden).add(key)
        (self.user_hidden if shown else self.user_shown).discard(key)
        self._render()

    # -- frontend events ---------------------------------------------------------------------

    def on_sort(self, handler: Callable[[str], None]) -> None:
        """Call ``handler(column)`` when a header is clicked."""
        self._sort_handlers.append(handler)

    def sort_frame(self, column: str) -> None:
        """Sort the rows shown by ``column`` (a second call flips it): for a grid over one
        DataFrame, as ``%runs`` shows."""
        from ..tracking._filter import apply_order

        if self.frame is None or column not in self.frame.columns:
            return
        descending = next_direction(self.order_by, column)
        order = f"`{column}` {'DESC' if descending else 'ASC'}"
        self.show(apply_order(self.frame, order).reset_index(drop=True), (column, descending))

    def _on_frontend_message(self, _widget, content: dict, _buffers) -> None:
        event = content.get("event") if isinstance(content, dict) else None
        key = content.get("key") if isinstance(content, dict) else None
        if not isinstance(key, str):
            return
        if event == "sort":
            if self._sort_handlers:
                for handler in self._sort_handlers:
                    handler(key)
            else:
                self.sort_frame(key)
        elif event == "column":
            self.set_column(key, bool(content.get("shown")))

    # -- static display ----------------------------------------------------------------------

    def to_html(self) -> str:
        """The table as static HTML (what nbconvert and GitHub show)."""
        if self.data is None:
            return ""
        order = (self.order_by[0], bool(self.order_by[1])) if self.order_by else None
        return _grid.to_html(self.data, self.selected, order)


# Sorting these starts with the largest (newest, best score, slowest) first; others A→Z.
DESCENDING_FIRST = ("metrics.", "start_time", "duration_s")


def next_direction(order_by: list | tuple | None, column: str) -> bool:
    """Descending? A second click on the sorted column flips it; a new column starts with
    the largest first for metrics, start time and duration, A→Z otherwise."""
    if order_by and order_by[0] == column:
        return not bool(order_by[1])
    return column.startswith(DESCENDING_FIRST)
