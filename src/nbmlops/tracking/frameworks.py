"""Models of other frameworks in a tracked cell: XGBoost, LightGBM, CatBoost, PyTorch, statsmodels.

Nothing here imports a framework on its own: an object belongs to one only when a class of its
``type(obj).__mro__`` is defined in that framework's package, and then the package is already
loaded. A cell without these libraries pays one walk of each assigned value's class bases.

What :func:`describe` finds (documented in docs/tracking.md):

- XGBoost, LightGBM, CatBoost (their scikit-learn wrappers and native boosters): the
  hyper-parameters (scikit-learn wrappers: by the estimator rules of :mod:`.estimators`), the
  best iteration (early stopping), the evaluation history as metric steps
  (``{name}.{dataset}.{metric}``) and the feature importances (an artifact).
- PyTorch ``nn.Module``: class, parameter counts, the layers as text; optimizers the cell
  assigns or reads: class and the settings of their parameter groups.
- statsmodels results: the model class and formula as params; coefficients, p-values and the
  summary statistics (R², AIC, BIC, log-likelihood, …) as metrics.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import numbers
import re
import sys
from typing import Any

from .estimators import _plain, class_path, is_fitted_estimator

FRAMEWORKS = ("xgboost", "lightgbm", "catboost", "torch", "statsmodels")
_BAD_KEY_CHARS = re.compile(r"[^\w\-./: ]")
_STATSMODELS_STATS = (
    "nobs",
    "df_model",
    "df_resid",
    "rsquared",
    "rsquared_adj",
    "prsquared",
    "aic",
    "bic",
    "llf",
    "llnull",
    "fvalue",
    "f_pvalue",
    "llr_pvalue",
    "scale",
)


@dataclasses.dataclass
class FrameworkModel:
    """What a tracked cell records for one model of a framework other than scikit-learn."""

    framework: str
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    metrics: dict[str, float] = dataclasses.field(default_factory=dict)
    history: dict[str, list[float]] = dataclasses.field(default_factory=dict)
    importances: dict[str, float] | None = None
    importance_type: str | None = None
    text: dict[str, str] = dataclasses.field(default_factory=dict)  # artifact name → text
    digest: str | None = None  # content digest of the fitted state (None: not a model)


def framework_of(obj: object) -> str | None:
    """The framework package ``obj``'s class comes from (``"xgboost"``, …), or None."""
    if obj is None or isinstance(obj, (type, str, bytes, int, float, bool)):
        return None
    for cls in type(obj).__mro__:
        top = (getattr(cls, "__module__", None) or "").partition(".")[0]
        if top in FRAMEWORKS:
            return top
    return None


def key_part(text: object) -> str:
    """``text`` made usable inside a param or metric name (``x[T.b]`` → ``x_T.b_``)."""
    return _BAD_KEY_CHARS.sub("_", str(text)).strip() or "_"


def describe(obj: Any, name: str) -> FrameworkModel | None:
    """What to record for ``obj`` (bound to ``name``), or None if it is no fitted model of a
    supported framework. Never raises for a model it cannot read: it records less."""
    framework = framework_of(obj)
    if framework is None:
        return None
    reader = _READERS[framework]
    try:
        return reader(obj, name)
    except Exception:  # noqa: BLE001 - a framework's odd state must not fail the user's cell
        return None


def optimizer_params(obj: Any, name: str) -> dict[str, Any] | None:
    """``{name}.class`` and the settings of a PyTorch optimizer's parameter groups, or None."""
    optim = sys.modules.get("torch.optim")
    if optim is None or framework_of(obj) != "torch" or not isinstance(obj, optim.Optimizer):
        return None
    out: dict[str, Any] = {f"{name}.class": class_path(obj)}
    groups = obj.param_groups
    if len(groups) > 1:
        out[f"{name}.param_groups"] = len(groups)
    for index, group in enumerate(groups):
        prefix = name if index == 0 else f"{name}.group{index}"
        for setting, value in sorted(group.items()):
            if setting != "params":
                out[f"{prefix}.{key_part(setting)}"] = _plain(value)
    return out


def trained_modules(candidates: dict[str, Any], optimizers: list[Any]) -> list[str]:
    """The names among ``candidates`` bound to a PyTorch module whose parameters one of the
    ``optimizers`` updates."""
    nn = sys.modules.get("torch.nn")
    if nn is None or not optimizers:
        return []
    updated = {id(p) for o in optimizers for g in o.param_groups for p in g["params"]}
    return [
        name
        for name, value in candidates.items()
        if isinstance(value, nn.Module) and any(id(p) in updated for p in value.parameters())
    ]


# -- gradient boosting -------------------------------------------------------------------------


def _history(evals: dict | None, name: str) -> dict[str, list[float]]:
    """``{dataset: {metric: [values]}}`` → ``{f"{name}.{dataset}.{metric}": [values]}``."""
    out: dict[str, list[float]] = {}
    for dataset, by_metric in (evals or {}).items():
        for metric, values in (by_metric or {}).items():
            out[f"{name}.{key_part(dataset)}.{key_part(metric)}"] = [float(x) for x in values]
    return out


def _importances(names: list[str], values: Any) -> dict[str, float]:
    return {str(n): float(v) for n, v in zip(names, list(values), strict=False)}


def _xgboost(obj: Any, name: str) -> FrameworkModel | None:
    import xgboost as xgb

    model = FrameworkModel("xgboost")
    if isinstance(obj, xgb.Booster):
        booster = obj
        config = json.loads(booster.save_config())["learner"]
        model.params[f"{name}.class"] = class_path(obj)
        trained = {
            **config.get("learner_train_param", {}),
            **config.get("gradient_booster", {}).get("tree_train_param", {}),
        }
        for key, value in sorted(trained.items()):
            model.params[f"{name}.{key_part(key)}"] = value
        model.params[f"{name}.num_boosted_rounds"] = booster.num_boosted_rounds()
    elif is_fitted_estimator(obj):
        booster = obj.get_booster()
        try:
            model.history = _history(obj.evals_result(), name)
        except Exception:  # noqa: BLE001 - XGBoostError: trained without eval_set
            pass
    else:
        return None
    best = booster.attr("best_iteration")
    if best is not None:
        model.metrics[f"{name}.best_iteration"] = int(best)
    gain = booster.get_score(importance_type="gain")
    model.importances = {str(k): float(v) for k, v in gain.items()}
    model.importance_type = "gain"
    model.digest = hashlib.sha256(bytes(booster.save_raw("json"))).hexdigest()
    return model


def _lightgbm(obj: Any, name: str) -> FrameworkModel | None:
    import lightgbm as lgb

    model = FrameworkModel("lightgbm")
    if isinstance(obj, lgb.Booster):
        booster = obj
        model.params[f"{name}.class"] = class_path(obj)
        for key, value in sorted((booster.params or {}).items()):
            model.params[f"{name}.{key_part(key)}"] = _plain(value)
        model.params[f"{name}.num_trees"] = booster.num_trees()
        best = booster.best_iteration
    elif is_fitted_estimator(obj):
        booster = obj.booster_
        model.history = _history(getattr(obj, "evals_result_", None), name)
        best = obj.best_iteration_
    else:
        return None
    if best:  # 0 means no early stopping
        model.metrics[f"{name}.best_iteration"] = int(best)
    model.importances = _importances(
        booster.feature_name(), booster.feature_importance(importance_type="gain")
    )
    model.importance_type = "gain"
    model.digest = hashlib.sha256(booster.model_to_string().encode()).hexdigest()
    return model


def _catboost(obj: Any, name: str) -> FrameworkModel | None:
    if not (callable(getattr(obj, "is_fitted", None)) and obj.is_fitted()):
        return None
    model = FrameworkModel("catboost")
    model.params[f"{name}.class"] = class_path(obj)
    try:
        params = obj.get_all_params()
    except Exception:  # noqa: BLE001 - older releases: only what the user set
        params = obj.get_params()
    for key, value in sorted(params.items()):
        model.params[f"{name}.{key_part(key)}"] = _plain(value)
    best = obj.get_best_iteration()
    if best is not None:
        model.metrics[f"{name}.best_iteration"] = int(best)
    model.history = _history(obj.get_evals_result(), name)
    model.importances = _importances(list(obj.feature_names_), obj.get_feature_importance())
    model.importance_type = "PredictionValuesChange"
    digest = hashlib.sha256(class_path(obj).encode())
    digest.update(_catboost_bytes(obj))
    model.digest = digest.hexdigest()
    return model


def _catboost_bytes(obj: Any) -> bytes:
    import os
    import tempfile

    # CatBoost writes its model to a file only.
    with tempfile.TemporaryDirectory(prefix="nbmlops-cb-") as folder:
        path = os.path.join(folder, "model.cbm")
        obj.save_model(path, format="cbm")
        with open(path, "rb") as handle:
            return handle.read()


# -- PyTorch -----------------------------------------------------------------------------------


def state_digest(state: dict) -> str:
    """sha256 of a PyTorch state dict: names, dtypes, shapes and raw bytes of each tensor."""
    import torch

    digest = hashlib.sha256()
    for key, tensor in state.items():
        digest.update(f"{key}:{tensor.dtype}:{tuple(tensor.shape)};".encode())
        flat = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b"")
    return digest.hexdigest()


def _torch(obj: Any, name: str) -> FrameworkModel | None:
    nn = sys.modules.get("torch.nn")
    if nn is None or not isinstance(obj, nn.Module):
        return None
    model = FrameworkModel("torch")
    parameters = list(obj.parameters())
    model.params[f"{name}.class"] = class_path(obj)
    model.params[f"{name}.parameters"] = sum(p.numel() for p in parameters)
    model.params[f"{name}.trainable_parameters"] = sum(
        p.numel() for p in parameters if p.requires_grad
    )
    model.text[f"models/{name}/architecture.txt"] = repr(obj)
    model.digest = state_digest(obj.state_dict())
    return model


# -- statsmodels -------------------------------------------------------------------------------


def _statsmodels(obj: Any, name: str) -> FrameworkModel | None:
    inner = getattr(obj, "model", None)
    if inner is None or getattr(obj, "params", None) is None or not hasattr(inner, "fit"):
        return None  # an unfitted model or another statsmodels object
    model = FrameworkModel("statsmodels")
    model.params[f"{name}.class"] = class_path(inner)
    formula = getattr(inner, "formula", None)
    if formula:
        model.params[f"{name}.formula"] = str(formula)
    terms = list(getattr(inner, "exog_names", None) or [])
    coefs = list(getattr(obj.params, "values", obj.params))
    if len(terms) != len(coefs):
        terms = [f"x{i}" for i in range(len(coefs))]
    model.params[f"{name}.terms"] = [str(t) for t in terms]
    for term, value in zip(terms, coefs, strict=True):
        model.metrics[f"{name}.coef.{key_part(term)}"] = float(value)
    try:
        pvalues = list(getattr(obj.pvalues, "values", obj.pvalues))
    except Exception:  # noqa: BLE001 - not every result type has p-values
        pvalues = []
    for term, value in zip(terms, pvalues, strict=False):
        model.metrics[f"{name}.pvalue.{key_part(term)}"] = float(value)
    for stat in _STATSMODELS_STATS:
        try:
            value = getattr(obj, stat)
        except Exception:  # noqa: BLE001 - lazily computed statistics may not apply
            continue
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            model.metrics[f"{name}.{stat}"] = float(value)
    digest = hashlib.sha256(model.params[f"{name}.class"].encode())
    digest.update(json.dumps(coefs, default=float).encode())
    model.digest = digest.hexdigest()
    return model


_READERS = {
    "xgboost": _xgboost,
    "lightgbm": _lightgbm,
    "catboost": _catboost,
    "torch": _torch,
    "statsmodels": _statsmodels,
}
