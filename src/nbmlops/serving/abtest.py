"""``nbmlops.ab_report``: did the candidate of an A/B (or canary) rollout do better than the
champion on the requests each answered, judged from the labels logged since?

The rows are the rollout's logged predictions with a label (``nbmlops.log_labels`` by
prediction id, which is the request id for one-row requests), split by the arm that answered.
Per metric:

- classification (``accuracy``, ``error_rate``): each row is a success or not, so the arms are
  two binomial proportions. The difference gets a Wald 95 % interval and the two-sided p-value
  of the **two-proportion z-test** (pooled variance): the standard test for A/B conversion
  rates, exact enough at the hundreds of rows a decision needs, and what the sample-size
  formula below assumes.
- regression (``mae``, ``mse``): the per-row absolute or squared errors of the two arms are
  compared with **Welch's t-test** (unequal variances: the arms' error spreads differ).

``needed_per_arm`` is the sample each arm needs to detect the observed difference (or
``min_effect``) with the chosen ``power`` at ``alpha`` (normal approximation), and
``remaining`` how many more labelled rows the smaller arm still needs.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ..errors import ServingError

if TYPE_CHECKING:
    import pandas as pd

METRICS = ("accuracy", "error_rate", "mae", "mse")
COLUMNS = [
    "metric",
    "champion",
    "candidate",
    "difference",
    "ci_low",
    "ci_high",
    "p_value",
    "n_champion",
    "n_candidate",
    "needed_per_arm",
    "remaining",
    "test",
]


def _rollout_row(rollout: Any) -> dict:
    from ..registry._context import current_store
    from .rollouts import Rollout, get_rollout

    r = rollout if isinstance(rollout, Rollout) else get_rollout(rollout)
    return current_store().rollouts.get(r.id)


def ab_report(
    rollout: Any,
    metrics: list[str] | str | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    min_effect: float | None = None,
) -> pd.DataFrame:
    """Compare the arms of a rollout (a :class:`Rollout`, its id or the model name) on the
    labelled requests they answered: one row per metric with the champion's and candidate's
    values, the difference (candidate - champion) with its ``1 - alpha`` confidence interval,
    the p-value, and the sample still needed for ``power``.

    >>> import nbmlops
    >>> nbmlops.ab_report("churn", metrics=["accuracy"])  # doctest: +SKIP
    """
    import pandas as pd

    from ..predictions.log import ARM, LABEL, PREDICTION, VERSION, prediction_log
    from ._plan import CANDIDATE, CHAMPION

    if isinstance(metrics, str):
        metrics = [metrics]
    row = _rollout_row(rollout)
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise ServingError(f"alpha and power are in (0, 1), got {alpha!r} and {power!r}")
    log = prediction_log(row["name"], start=row["created_at"], labelled=True)
    if ARM not in log.columns:
        log[ARM] = pd.Series(dtype=object)
    champion = log.loc[log[ARM] == CHAMPION]
    candidate = log.loc[(log[ARM] == CANDIDATE) & (log[VERSION] == int(row["candidate"]))]
    numeric = (
        pd.api.types.is_float_dtype(pd.to_numeric(log[LABEL], errors="coerce"))
        and (
            pd.to_numeric(log[LABEL], errors="coerce").round()
            != pd.to_numeric(log[LABEL], errors="coerce")
        ).any()
    )
    if metrics is None:
        metrics = ["mae"] if numeric else ["accuracy"]
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ServingError(f"unknown metric {unknown[0]!r}: use {', '.join(METRICS)}")
    from scipy import stats

    z_alpha = stats.norm.ppf(1 - alpha / 2)
    z_power = stats.norm.ppf(power)
    rows = []
    for metric in metrics:
        a, b = (
            _per_row(champion, metric, PREDICTION, LABEL),
            _per_row(candidate, metric, PREDICTION, LABEL),
        )
        na, nb = len(a), len(b)
        ma = float(a.mean()) if na else math.nan
        mb = float(b.mean()) if nb else math.nan
        diff = mb - ma
        if metric in ("accuracy", "error_rate"):
            test = "two-proportion z-test"
            se = math.sqrt(ma * (1 - ma) / na + mb * (1 - mb) / nb) if na and nb else math.nan
            pooled = (a.sum() + b.sum()) / (na + nb) if na + nb else math.nan
            se0 = math.sqrt(pooled * (1 - pooled) * (1 / na + 1 / nb)) if na and nb else math.nan
            p_value = (
                float(2 * stats.norm.sf(abs(diff) / se0))
                if se0 and se0 > 0
                else (1.0 if na and nb else math.nan)
            )
            effect = min_effect if min_effect is not None else abs(diff)
            p_bar = (ma + mb) / 2
            needed = (
                (
                    z_alpha * math.sqrt(2 * p_bar * (1 - p_bar))
                    + z_power * math.sqrt(ma * (1 - ma) + mb * (1 - mb))
                )
                ** 2
                / effect**2
                if effect and not math.isnan(effect)
                else math.inf
            )
        else:
            test = "Welch's t-test"
            va = float(a.var(ddof=1)) if na > 1 else math.nan
            vb = float(b.var(ddof=1)) if nb > 1 else math.nan
            se = math.sqrt(va / na + vb / nb) if na > 1 and nb > 1 else math.nan
            p_value = (
                float(stats.ttest_ind(b, a, equal_var=False).pvalue)
                if na > 1 and nb > 1
                else math.nan
            )
            effect = min_effect if min_effect is not None else abs(diff)
            needed = (
                (z_alpha + z_power) ** 2 * (va + vb) / effect**2
                if effect and not math.isnan(effect)
                else math.inf
            )
        half = z_alpha * se
        needed_n = math.ceil(needed) if math.isfinite(needed) else None
        rows.append(
            {
                "metric": metric,
                "champion": ma,
                "candidate": mb,
                "difference": diff,
                "ci_low": diff - half,
                "ci_high": diff + half,
                "p_value": p_value,
                "n_champion": na,
                "n_candidate": nb,
                "needed_per_arm": needed_n,
                "remaining": None if needed_n is None else max(0, needed_n - min(na, nb)),
                "test": test,
            }
        )
    frame = pd.DataFrame(rows, columns=COLUMNS)
    for column in ("needed_per_arm", "remaining"):
        frame[column] = frame[column].astype("Int64")
    return frame


def _per_row(frame, metric: str, prediction: str, label: str):
    import numpy as np
    import pandas as pd

    from ..predictions.matching import same_answers

    if metric in ("accuracy", "error_rate"):
        hit = same_answers(frame[prediction], frame[label])
        return (hit if metric == "accuracy" else ~hit).astype(float)
    pred = pd.to_numeric(frame[prediction], errors="coerce").to_numpy(dtype=float)
    true = pd.to_numeric(frame[label], errors="coerce").to_numpy(dtype=float)
    err = pred - true
    err = err[~np.isnan(err)]
    return np.abs(err) if metric == "mae" else err**2
