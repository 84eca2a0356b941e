"""``RunsFrame``: what ``%runs`` returns. It is the DataFrame of ``nbmlops.runs()`` (same data,
every pandas method works, and anything derived from it is a plain DataFrame), displayed as
the run table: groups, integers as integers, constant columns hidden, one line per run."""

from __future__ import annotations

from typing import Any

import pandas as pd

from . import _grid


class RunsFrame(pd.DataFrame):
    """A runs DataFrame that displays as the run table (grid widget in a kernel, static HTML
    elsewhere, pandas' text in a terminal)."""

    @property
    def _constructor(self):
        return pd.DataFrame  # slices, copies and results are plain DataFrames

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, Any]:
        from ..display.bundle import mimebundle
        from .run_grid import RunGrid

        frame = pd.DataFrame(self)
        return mimebundle(
            repr(frame),
            lambda: _grid.to_html(_grid.build(frame)),
            lambda: RunGrid(frame, selectable=False),
            include,
            exclude,
        )
