"""Rollout guards: ``"error_rate < 0.01"``, ``"latency.p99_ms < 50"``, ``"agreement >= 0.9"``,
``"psi.max < 0.25"``, evaluated on the candidate's traffic in the prediction log.

A guard is one comparison of a measured value with a number. The values come from the
candidate arm's logged requests since the current step started (or the last ``window``
seconds):

- ``requests``: requests the candidate answered (shadow: scored);
- ``error_rate``: failed candidate requests (as servers reported them) over all of them;
- ``latency.p50_ms`` / ``latency.p99_ms``: the candidate's request latency as logged;
- ``agreement``: share of rows where the candidate predicted what the champion did, on the
  same request (shadow mode only: in a canary or A/B test no row gets both answers, so the
  guard is reported as not applicable and does not block);
- ``psi.max``: the largest Population Stability Index of an input column of the candidate's
  traffic against the candidate version's reference data (skipped without a reference).

Guards are only judged once the window holds ``min_requests`` candidate requests.
"""

from __future__ import annotations

import math
import operator
import re
from typing import TYPE_CHECKING, Any

from ..errors import ServingError

if TYPE_CHECKING:
    import pandas as pd

NAMES = ("requests", "error_rate", "latency.p50_ms", "latency.p99_ms", "agreement", "psi.max")
_OPS = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
_GUARD = re.compile(
    r"\s*(?P<name>[a-z][a-z0-9_.]*)\s*(?P<op><=|>=|==|!=|<|>)\s*"
    r"(?P<value>[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?)\s*"
)
COLUMNS = ["gate", "value", "threshold", "passed", "detail"]


def parse_guard(guard: object) -> tuple[str, str, float]:
    """``(name, operator, threshold)`` of a guard, or :class:`ServingError` saying how to
    write it."""
    match = _GUARD.fullmatch(guard) if isinstance(guard, str) else None
    if match is None or match["name"] not in NAMES:
        raise ServingError(
            f"cannot read guard {guard!r}: write NAME OP NUMBER, e.g. 'error_rate < 0.01' or "
            f"'latency.p99_ms < 50', with NAME one of {', '.join(NAMES)}"
        )
    return match["name"], match["op"], float(match["value"])


def validate_guards(guards: object) -> list[str]:
    if guards is None:
        return []
    if isinstance(guards, str):
        guards = [guards]
    if not isinstance(guards, (list, tuple)):
        raise ServingError(f"guards is a list of strings, got {type(guards).__name__}")
    for guard in guards:
        parse_guard(guard)
    return [str(g).strip() for g in guards]


def evaluate(guards: list[str], values: dict[str, float | None], notes: dict[str, str]):
    """The guard table: ``gate, value, threshold, passed, detail`` (a value of None is not
    applicable and passes, with the note saying why)."""
    import pandas as pd

    rows = []
    for guard in guards:
        name, op, threshold = parse_guard(guard)
        value = values.get(name)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            rows.append((guard, None, threshold, True, notes.get(name, "not applicable")))
        else:
            rows.append((guard, float(value), threshold, bool(_OPS[op](value, threshold)), ""))
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["passed"] = frame["passed"].astype(bool)
    return frame


def measure(
    log: pd.DataFrame,
    candidate: int,
    candidate_arm: str,
    errors: int,
    reference: pd.DataFrame | None,
) -> tuple[dict[str, float | None], dict[str, str]]:
    """The guard values of the candidate's requests in ``log`` (the window's logged rows)."""
    import numpy as np

    from ..predictions.log import ARM, ID, LATENCY_MS, PREDICTION, REQUEST_ID, VERSION, inputs_of
    from ..predictions.matching import same_answers

    notes: dict[str, str] = {}
    if ARM not in log.columns:
        return {"requests": 0.0, "error_rate": None}, {"error_rate": "no requests yet"}
    mine = log.loc[(log[ARM] == candidate_arm) & (log[VERSION] == candidate)]
    requests = int(mine[REQUEST_ID].nunique())
    total = requests + errors
    values: dict[str, float | None] = {
        "requests": float(requests),
        "error_rate": errors / total if total else None,
    }
    if not total:
        notes["error_rate"] = "no requests yet"
    if requests:
        latency = mine.groupby(REQUEST_ID, sort=False)[LATENCY_MS].first().to_numpy()
        values["latency.p50_ms"] = float(np.quantile(latency, 0.5))
        values["latency.p99_ms"] = float(np.quantile(latency, 0.99))
    else:
        notes["latency.p50_ms"] = notes["latency.p99_ms"] = "no requests yet"
    if candidate_arm == "shadow":
        champion = log.loc[log[ARM] == "champion", [ID, PREDICTION]]
        both = mine[[ID, PREDICTION]].merge(champion, on=ID, suffixes=("", "_champion"))
        if len(both):
            values["agreement"] = float(
                same_answers(both[PREDICTION], both[f"{PREDICTION}_champion"]).mean()
            )
        else:
            notes["agreement"] = "no request scored by both yet"
    else:
        notes["agreement"] = "only in shadow mode (no request gets both answers)"
    if reference is None:
        notes["psi.max"] = "the candidate has no reference data"
    elif requests:
        psis = [
            column_psi(reference[c], mine[c]) for c in inputs_of(mine) if c in reference.columns
        ]
        psis = [p for p in psis if p is not None]
        values["psi.max"] = max(psis) if psis else None
        if not psis:
            notes["psi.max"] = "no input column in common with the reference"
    return values, notes


def column_psi(reference: Any, current: Any) -> float | None:
    """PSI of one column (reference deciles for numbers, categories otherwise)."""
    import numpy as np
    import pandas as pd

    from ..monitoring import stats

    ref, cur = pd.Series(reference).dropna(), pd.Series(current).dropna()
    if not len(ref) or not len(cur):
        return None
    if pd.api.types.is_numeric_dtype(ref) and pd.api.types.is_numeric_dtype(cur):
        if pd.api.types.is_bool_dtype(ref):
            ref, cur = ref.astype(str), cur.astype(str)
        else:
            ref_sorted = np.sort(ref.to_numpy(dtype=float))
            cur_sorted = np.sort(cur.to_numpy(dtype=float))
            edges = stats.quantile_edges(ref_sorted)
            return stats.psi(
                stats.bin_counts(ref_sorted, edges), stats.bin_counts(cur_sorted, edges)
            )
    ref_counts = ref.astype(str).value_counts()
    cur_counts = cur.astype(str).value_counts()
    keys = ref_counts.index.union(cur_counts.index)
    return stats.psi(
        ref_counts.reindex(keys, fill_value=0).to_numpy(),
        cur_counts.reindex(keys, fill_value=0).to_numpy(),
    )
