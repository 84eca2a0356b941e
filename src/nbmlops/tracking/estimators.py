"""Fitted scikit-learn estimators seen by runs: class, params and content digest.

Nothing here imports scikit-learn: an object can only be an estimator if sklearn is loaded.
"""

from __future__ import annotations

import hashlib
import json
import sys
import weakref
from collections.abc import Callable
from typing import Any

from .._hashing import pickle_parts, sha256_later

_fitted_by: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def is_estimator(obj: object) -> bool:
    base = sys.modules.get("sklearn.base")
    return base is not None and isinstance(obj, base.BaseEstimator) and not isinstance(obj, type)


def is_fitted_estimator(obj: object) -> bool:
    """True for a scikit-learn estimator that has been fitted."""
    if not is_estimator(obj):
        return False
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(obj)
    except (NotFittedError, TypeError):
        return False
    return True


def class_path(obj: object) -> str:
    """The public import path of ``obj``'s class, e.g. ``sklearn.linear_model.LogisticRegression``."""
    cls = type(obj)
    parts = [p for p in cls.__module__.split(".") if not p.startswith("_")]
    return ".".join([*parts, cls.__qualname__])


def _plain(value: Any) -> Any:
    """A JSON-friendly stand-in for a hyper-parameter value."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        return value.item()
    if isinstance(value, (list, tuple)):
        try:
            json.dumps(value)
            return list(value)
        except (TypeError, ValueError):
            pass
    if isinstance(value, dict):
        try:
            json.dumps(value)
            return value
        except (TypeError, ValueError):
            pass
    if is_estimator(value):
        return class_path(value)
    if callable(value) and hasattr(value, "__qualname__"):
        return f"{getattr(value, '__module__', '')}.{value.__qualname__}".lstrip(".")
    return repr(value)[:500]


def estimator_params(obj: Any, prefix: str) -> dict[str, Any]:
    """``{prefix}.class`` plus ``{prefix}.<param>`` for every ``get_params(deep=True)`` entry."""
    out: dict[str, Any] = {f"{prefix}.class": class_path(obj)}
    try:
        params = obj.get_params(deep=True)
    except Exception:  # noqa: BLE001 - a broken third-party get_params must not fail the cell
        params = {}
    for name, value in sorted(params.items()):
        out[f"{prefix}.{name}"] = _plain(value)
    return out


def estimator_digest(obj: object) -> str:
    """sha256 of the pickled fitted estimator (same fitted state → same digest)."""
    return estimator_digest_later(obj, in_thread=False)()


def estimator_digest_later(obj: object, in_thread: bool = True) -> Callable[[], str]:
    """:func:`estimator_digest` of ``obj`` as it is now: call the result to get it. The
    pickle is taken at once, its large arrays uncopied; with ``in_thread`` hashing it (40 ms
    for a 300-tree forest) runs in a thread and releases the GIL, so it overlaps whatever
    the caller does next (the registry's skops save), which must not change ``obj``."""
    try:
        parts = pickle_parts(obj)
    except Exception:  # noqa: BLE001 - unpicklable estimators still get an identity
        digest = hashlib.sha256(f"{class_path(obj)}:{id(obj)}".encode()).hexdigest()
        return lambda: digest
    return sha256_later(parts, in_thread=in_thread)


# Models that define __eq__ without __hash__ (CatBoost's) cannot be weak dictionary keys:
# they are remembered by id, with a weak reference that says whether the id is still theirs.
_fitted_by_id: dict[int, tuple[weakref.ref, str]] = {}


def remember_fitted(obj: object, run_id: str) -> None:
    """Note that ``run_id`` produced the fitted ``obj`` (the registry uses it)."""
    try:
        _fitted_by[obj] = run_id
        return
    except TypeError:  # unhashable, or not weak-referenceable
        pass
    try:
        key = id(obj)

        def forget(ref: weakref.ref) -> None:
            if _fitted_by_id.get(key, (None,))[0] is ref:  # not a newer object's entry
                del _fitted_by_id[key]

        _fitted_by_id[key] = (weakref.ref(obj, forget), run_id)
    except TypeError:  # not weak-referenceable at all
        pass


def run_that_fitted(obj: object) -> str | None:
    """The id of the run that recorded ``obj`` as fitted in this process, if any."""
    try:
        return _fitted_by.get(obj)
    except TypeError:
        entry = _fitted_by_id.get(id(obj))
        return entry[1] if entry is not None and entry[0]() is obj else None
