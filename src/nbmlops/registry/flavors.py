"""Models of other frameworks stored in their own file formats, loaded without unpickling.

==========  ==========================================================  =====================
flavor      models                                                      file
==========  ==========================================================  =====================
xgboost     ``Booster``, ``XGBClassifier``/``Regressor``/``Ranker``,      XGBoost JSON
            ``XGBRFClassifier``/``XGBRFRegressor``
lightgbm    ``lightgbm.Booster``                                          LightGBM model text
catboost    ``CatBoost``, ``CatBoostClassifier``/``Regressor``/``Ranker``  CatBoost ``.cbm``
torch       any ``torch.nn.Module``: its state dict                       safetensors, else
                                                                          ``torch.save``
==========  ==========================================================  =====================

The stored bytes are a zip holding ``nbmlops-model.json`` (flavor, class, format, file) and the
model file. Loading builds only the classes listed above, from the framework's own loader
(``load_model``, ``Booster(model_str=…)``, ``safetensors.torch.load`` or
``torch.load(weights_only=True)``), so no code named by the file runs. A PyTorch model loads as
its state dict: the module's class is code, which nbmlops does not store; rebuild the module
and call ``module.load_state_dict(mv.load())``.

LightGBM's scikit-learn wrappers go through skops (see :mod:`._trust`); statsmodels results
have no safe format and are pickled (loading needs ``trusted=True``).
"""

from __future__ import annotations

import io
import json
import os
import sys
import tempfile
import zipfile
from typing import Any

from ..errors import InvalidModel
from ..tracking.estimators import class_path
from ..tracking.frameworks import framework_of

XGBOOST = "xgboost"
LIGHTGBM = "lightgbm"
CATBOOST = "catboost"
TORCH = "torch"
NATIVE = (XGBOOST, LIGHTGBM, CATBOOST, TORCH)
EXTENSIONS = {XGBOOST: "xgb.zip", LIGHTGBM: "lgb.zip", CATBOOST: "cbm.zip", TORCH: "pt.zip"}
_MANIFEST = "nbmlops-model.json"
_INSTALL = {
    XGBOOST: "pip install xgboost",
    LIGHTGBM: "pip install lightgbm",
    CATBOOST: "pip install catboost",
    TORCH: "pip install torch safetensors",
}

# class path → the name the framework's top-level package exports it under.
_CLASSES = {
    XGBOOST: {
        "xgboost.core.Booster": "Booster",
        **{
            f"xgboost.sklearn.{n}": n
            for n in (
                "XGBClassifier",
                "XGBRegressor",
                "XGBRanker",
                "XGBRFClassifier",
                "XGBRFRegressor",
            )
        },
    },
    LIGHTGBM: {"lightgbm.basic.Booster": "Booster"},
    CATBOOST: {
        f"catboost.core.{n}": n
        for n in ("CatBoost", "CatBoostClassifier", "CatBoostRegressor", "CatBoostRanker")
    },
}


def native_flavor(model: Any) -> str | None:
    """The flavor :func:`save` stores ``model`` with, or None (skops or pickle then)."""
    framework = framework_of(model)
    if framework in _CLASSES and class_path(model) in _CLASSES[framework]:
        return framework
    if framework == TORCH:
        nn = sys.modules.get("torch.nn")
        if nn is not None and isinstance(model, nn.Module):
            return TORCH
    return None


def save(flavor: str, model: Any) -> bytes:
    """The zip of ``model``'s native file and its manifest."""
    manifest: dict[str, Any] = {"flavor": flavor, "class": class_path(model)}
    if flavor == XGBOOST:
        data = bytes(_xgboost_raw(model))
        manifest.update(format="json", file="model.json")
    elif flavor == LIGHTGBM:
        data = model.model_to_string().encode("utf-8")
        manifest.update(format="text", file="model.txt")
    elif flavor == CATBOOST:
        data = _catboost_file(model)
        manifest.update(format="cbm", file="model.cbm")
    elif flavor == TORCH:
        data, fmt = _torch_state(model)
        manifest.update(
            format=fmt,
            file=f"state_dict.{fmt}",
            parameters=sum(p.numel() for p in model.parameters()),
        )
    else:  # pragma: no cover - callers pass a flavor from native_flavor
        raise InvalidModel(f"unknown native flavor {flavor!r}")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(_MANIFEST, json.dumps(manifest, indent=2))
        archive.writestr(manifest["file"], data)
    return buffer.getvalue()


def load(flavor: str, data: bytes, uri: str) -> Any:
    """Rebuild a model :func:`save` wrote (a PyTorch model: its state dict)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            manifest = json.loads(archive.read(_MANIFEST))
            payload = archive.read(manifest["file"])
    except Exception as exc:  # noqa: BLE001 - not a zip, no manifest, missing file
        raise InvalidModel(
            f"{uri} is not a readable {flavor} model file ({type(exc).__name__}: "
            f"{str(exc)[:200]}); the stored file is damaged. Register the model again"
        ) from None
    try:
        module = __import__(flavor)
    except ImportError:
        raise InvalidModel(
            f"{uri} is a {flavor} model: install {flavor} to load it ({_INSTALL[flavor]})"
        ) from None
    cls_path = manifest.get("class", "")
    try:
        if flavor == TORCH:
            return _load_torch(manifest.get("format"), payload)
        exported = _CLASSES[flavor].get(cls_path)
        if exported is None:
            raise InvalidModel(
                f"{uri} names the class {cls_path!r}, which the {flavor} flavor does not load"
            )
        cls = getattr(module, exported)
        if flavor == XGBOOST:
            model = cls()
            model.load_model(bytearray(payload))
            return model
        if flavor == LIGHTGBM:
            return cls(model_str=payload.decode("utf-8"))
        return cls().load_model(blob=payload)  # CatBoost
    except InvalidModel:
        raise
    except Exception as exc:  # noqa: BLE001 - each framework fails in its own way
        raise InvalidModel(
            f"{uri}: {flavor} could not read its model file ({type(exc).__name__}: "
            f"{str(exc)[:200]})"
        ) from None


def _xgboost_raw(model: Any) -> bytes:
    # A Booster gives its JSON in memory; the scikit-learn wrapper's save_model (to a file)
    # also keeps the wrapper's attributes (classes, n_features …) for load_model.
    if hasattr(model, "save_raw"):
        return model.save_raw(raw_format="json")
    with tempfile.TemporaryDirectory(prefix="nbmlops-xgb-") as folder:
        path = os.path.join(folder, "model.json")
        model.save_model(path)
        with open(path, "rb") as handle:
            return handle.read()


def _catboost_file(model: Any) -> bytes:
    with tempfile.TemporaryDirectory(prefix="nbmlops-cb-") as folder:
        path = os.path.join(folder, "model.cbm")
        model.save_model(path, format="cbm")
        with open(path, "rb") as handle:
            return handle.read()


def _torch_state(model: Any) -> tuple[bytes, str]:
    """safetensors when installed and the state is tensors only; else ``torch.save``."""
    import torch

    state = model.state_dict()
    try:
        from safetensors.torch import save as save_safetensors

        # Copies: safetensors refuses tensors that share memory (tied weights).
        tensors = {k: v.detach().cpu().contiguous().clone() for k, v in state.items()}
        return save_safetensors(tensors), "safetensors"
    except Exception:  # noqa: BLE001 - ImportError, or extra state that is not a tensor
        buffer = io.BytesIO()
        torch.save(state, buffer)
        return buffer.getvalue(), "torch"


def _load_torch(fmt: str | None, payload: bytes) -> Any:
    import collections

    import torch

    if fmt == "safetensors":
        try:
            from safetensors.torch import load as load_safetensors
        except ImportError:
            raise InvalidModel(
                "this PyTorch model was saved with safetensors: pip install safetensors"
            ) from None
        return collections.OrderedDict(load_safetensors(payload))
    # weights_only: tensors and plain containers only, never an arbitrary object.
    return torch.load(io.BytesIO(payload), weights_only=True, map_location="cpu")
