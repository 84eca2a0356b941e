"""The run table's model: which columns, in which groups and order, which are constant, and
the text of every cell. The grid widget (``RunGrid``) and the static HTML render the same
``GridData``, so the notebook, nbconvert and ``%runs`` show one table.

Groups, left to right: *attributes* (id, name, experiment, status, start, duration), the
user's own *params*, *metrics*, then the hyper-parameters ``%%track`` captured from fitted
estimators (a variable ``model`` gives ``params.model.class`` and ``params.model.<param>``;
one group per estimator) and *tags*. Tags are hidden until chosen; params, metrics and tags
holding one value across the shown runs are hidden while ``show_constant`` is off (captured
hyper-parameters count only the runs that have them).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ..display import html as h
from ..display.cells import MISSING, format_column, format_numbers, is_missing, is_number, text

if TYPE_CHECKING:
    import pandas as pd

ATTRIBUTES = {
    "run_id": "run",
    "name": "name",
    "experiment": "experiment",
    "status": "status",
    "start_time": "started",
    "duration_s": "duration (s)",
}
ATTRIBUTE_ORDER = list(ATTRIBUTES)


@dataclasses.dataclass
class Column:
    """One column: ``key`` as in ``nbmlops.runs()``, the short ``label`` of its header, the
    ``group`` header above it, and what kind of values it shows."""

    key: str
    label: str
    group: str
    kind: str = "text"  # id, status, time, number, text
    align: str = "left"
    constant: bool = False
    group_label: str = ""

    def __post_init__(self) -> None:
        self.group_label = self.group_label or self.group

    def payload(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "group": self.group,
            "group_label": self.group_label,
            "kind": self.kind,
            "align": self.align,
            "title": self.key,
        }


@dataclasses.dataclass
class GridData:
    """What a run table shows: visible columns, rows of cell texts (same order), every
    column for the chooser, and the constant values that are hidden."""

    columns: list[Column]
    rows: list[dict[str, Any]]
    choices: list[dict[str, Any]]
    hidden_constant: list[tuple[str, str]]  # (key, the one value) of hidden constant columns


def estimator_prefixes(keys: Iterable[str]) -> list[str]:
    """Variable names of captured estimators: ``params.<name>.class`` marks one."""
    return [
        k[len("params.") : -len(".class")]
        for k in keys
        if k.startswith("params.") and k.endswith(".class") and k.count(".") >= 2
    ]


def layout(keys: Sequence[str]) -> list[Column]:
    """Every column of a runs frame in display order, with its group and label."""
    keys = list(keys)
    prefixes = sorted(estimator_prefixes(keys), key=len, reverse=True)  # longest match wins
    attrs = [Column(k, ATTRIBUTES[k], "attributes") for k in ATTRIBUTE_ORDER if k in keys]
    params, metrics, tags, other = [], [], [], []
    captured: dict[str, list[Column]] = {}
    for key in keys:
        if key in ATTRIBUTES:
            continue
        kind, _, name = key.partition(".")
        if kind == "params":
            owner = next((p for p in prefixes if name.startswith(p + ".")), None)
            if owner is None:
                params.append(Column(key, name, "params"))
            else:
                label = name[len(owner) + 1 :]
                captured.setdefault(owner, []).append(Column(key, label, owner))
        elif kind == "metrics":
            metrics.append(Column(key, name, "metrics"))
        elif kind == "tags":
            tags.append(Column(key, name, "tags"))
        else:
            other.append(Column(key, key, "other"))
    model_columns = []
    for owner in sorted(captured):
        group = sorted(captured[owner], key=lambda c: (c.label != "class", c.label))
        model_columns.extend(group)
    return attrs + params + metrics + model_columns + tags + other


MISSING_KEY = "\0missing"


def _same_key(value: Any) -> str:
    """A comparable form of a cell value (1 and 1.0 are the same number; NaN is missing)."""
    if is_missing(value):
        return MISSING_KEY
    if is_number(value):
        return repr(float(value))
    try:
        return json.dumps(value, sort_keys=True, default=repr)
    except (TypeError, ValueError):
        return repr(value)


def _class_name(value: Any) -> str:
    return value.rsplit(".", 1)[-1] if isinstance(value, str) else text(value)


def build(
    frame: pd.DataFrame,
    show_constant: bool = False,
    shown: Iterable[str] = (),
    hidden: Iterable[str] = (),
) -> GridData:
    """The table for the runs in ``frame`` (columns as ``nbmlops.runs()`` gives them).

    ``shown`` and ``hidden`` are the user's choices in the column chooser; they win over the
    defaults (tags hidden, constant columns hidden unless ``show_constant``).
    """
    shown, hidden = set(shown), set(hidden)
    columns = layout(frame.columns)
    n = len(frame)
    values = {c.key: list(frame[c.key]) for c in columns}
    _label_captured_groups(columns, values)
    visible: list[Column] = []
    choices = []
    hidden_constant = []
    for column in columns:
        col_values = values[column.key]
        if column.group != "attributes":
            # A captured hyper-parameter (``model.bootstrap``) is constant when it has one
            # value wherever it is set: beside runs that fitted no forest, it says nothing
            # the group header (``model: RandomForestClassifier``) does not. For the user's
            # params, metrics and tags, "not set" differs from a value.
            distinct = {_same_key(v) for v in col_values}
            if column.group not in PLAIN_GROUPS:
                distinct.discard(MISSING_KEY)
            column.constant = n >= 2 and len(distinct) <= 1
        default = column.group != "tags" and (show_constant or not column.constant)
        is_shown = column.key in shown or (column.key not in hidden and default)
        if column.group == "attributes":
            is_shown = column.key not in hidden
        choices.append(
            {
                "key": column.key,
                "label": column.label,
                "group": column.group,
                "group_label": column.group_label,
                "shown": is_shown,
                "constant": column.constant,
            }
        )
        if is_shown:
            visible.append(column)
        elif column.constant and column.key not in hidden:
            present = [v for v in col_values if not is_missing(v)][:1] or col_values[:1]
            hidden_constant.append((column.key, _cell_texts(column, present)[0]))
    texts = {c.key: _cell_texts(c, values[c.key]) for c in visible}
    ids = list(frame["run_id"]) if "run_id" in frame.columns else [""] * n
    rows = [
        {
            "id": "" if is_missing(ids[i]) else str(ids[i]),
            "cells": [texts[c.key][i] for c in visible],
        }
        for i in range(n)
    ]
    return GridData(visible, rows, choices, hidden_constant)


PLAIN_GROUPS = ("attributes", "params", "metrics", "tags", "other")


def _label_captured_groups(columns: list[Column], values: dict[str, list]) -> None:
    """An estimator's group header names the variable, and its class when every shown run
    used the same one: ``model: RandomForestClassifier``."""
    for column in columns:
        if column.group in PLAIN_GROUPS:
            continue
        classes = {_class_name(v) for v in values.get(f"params.{column.group}.class", [])}
        classes.discard(MISSING)
        suffix = f": {classes.pop()}" if len(classes) == 1 else ""
        column.group_label = f"{column.group}{suffix}"


def _cell_texts(column: Column, values: list[Any]) -> list[str]:
    key = column.key
    if key == "run_id":
        column.kind = "id"
        return ["" if is_missing(v) else str(v)[:8] for v in values]
    if key == "status":
        column.kind = "status"
        return [text(v) for v in values]
    if key == "start_time":
        column.kind = "time"
        return [text(v) for v in values]
    if key == "duration_s":
        column.kind, column.align = "number", "right"
        return [MISSING if is_missing(v) else f"{float(v):.2f}" for v in values]
    if key.endswith(".class") and column.group not in PLAIN_GROUPS:
        return [_class_name(v) if not is_missing(v) else MISSING for v in values]
    if key.startswith("metrics."):
        column.kind, column.align = "number", "right"
        return format_numbers([v if is_number(v) else None for v in values])
    texts, align = format_column(values)
    column.align = align
    column.kind = "number" if align == "right" else "text"
    return texts


# -- static HTML ----------------------------------------------------------------------------------

SCROLL = "overflow:auto;max-height:560px;max-width:100%;border:1px solid #d0d7de;border-radius:6px"
TABLE = (
    "border-collapse:separate;border-spacing:0;font:13px system-ui,-apple-system,sans-serif;"
    "white-space:nowrap"
)
THEAD = "position:sticky;top:0;z-index:1"
TH = "background:#f6f8fa;padding:3px 8px;border-bottom:1px solid #d0d7de;font-weight:600"
TD = (
    "padding:3px 8px;border-bottom:1px solid #eaeef2;white-space:nowrap;max-width:24em;"
    "overflow:hidden;text-overflow:ellipsis"
)
GROUP_COLORS = {"params": "#ddf4ff", "metrics": "#dafbe1", "attributes": "#f6f8fa"}
CAPTURED = "#fbefff"


def group_spans(columns: Sequence[Column]) -> list[tuple[Column, int]]:
    """Consecutive columns of one group: ``(its first column, how many)``."""
    spans: list[tuple[Column, int]] = []
    for column in columns:
        if spans and spans[-1][0].group == column.group:
            spans[-1] = (spans[-1][0], spans[-1][1] + 1)
        else:
            spans.append((column, 1))
    return spans


def group_color(group: str) -> str:
    return GROUP_COLORS.get(group, "#fff8c5" if group == "tags" else CAPTURED)


def _cell_html(column: Column, value: str, run_id: str) -> str:
    if column.kind == "status":
        return h.status_badge(value)
    if column.kind == "id":
        return f'<code title="{h.esc(run_id)}">{h.esc(value)}</code>'
    return h.esc(value)


def to_html(
    data: GridData, selected: Iterable[str] = (), order_by: tuple[str, bool] | None = None
) -> str:
    """A static table (inline styles: it survives nbconvert and GitHub): a sticky two-row
    header (groups, then columns), one line per run, horizontal scroll."""
    chosen = set(selected)
    group_row = "".join(
        f'<th colspan="{span}" style="{TH};text-align:left;background:{group_color(first.group)};'
        f'border-left:2px solid #fff">{h.esc(first.group_label)}</th>'
        for first, span in group_spans(data.columns)
    )
    heads = []
    for column in data.columns:
        arrow = ""
        if order_by and order_by[0] == column.key:
            arrow = " ▼" if order_by[1] else " ▲"
        heads.append(
            f'<th title="{h.esc(column.key)}" style="{TH};text-align:{column.align}">'
            f"{h.esc(column.label)}{arrow}</th>"
        )
    body = []
    for row in data.rows:
        background = f"background:{h.DIFF_BG};" if row["id"] in chosen else ""
        cells = "".join(
            f'<td title="{h.esc(value)}" style="{TD};text-align:{column.align}">'
            f"{_cell_html(column, value, row['id'])}</td>"
            for column, value in zip(data.columns, row["cells"], strict=True)
        )
        body.append(f'<tr style="{background}">{cells}</tr>')
    if not body:
        body.append(
            f'<tr><td colspan="{max(1, len(data.columns))}" style="{TD};color:#57606a">'
            "no runs match</td></tr>"
        )
    table = (
        f'<div class="nbmlops-grid-scroll" style="{SCROLL}"><table class="nbmlops-runs" '
        f'style="{TABLE}"><thead style="{THEAD}"><tr>{group_row}</tr><tr>{"".join(heads)}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )
    return table + constant_note(data)


def constant_note(data: GridData) -> str:
    """The values hidden because every shown run has the same one."""
    if not data.hidden_constant:
        return ""
    items = ", ".join(
        f"<code>{h.esc(key.split('.', 1)[-1])}={h.esc(value)}</code>"
        for key, value in data.hidden_constant
    )
    return (
        f'<details style="margin:4px 0;color:#57606a;font:12px system-ui,sans-serif"><summary>'
        f"{len(data.hidden_constant)} columns with one value across these runs are hidden"
        f"</summary>{items}</details>"
    )
