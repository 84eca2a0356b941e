"""MLflow's sklearn flavour on disk: reading its model file without loading it, writing one.

A model is never unpickled here. A skops file is checked against nbmlops' trust rules when
it is loaded, like any registered model; a pickle stays a pickle and loads only with
``trusted=True``. The class name is read from the skops schema or from the pickle's opcodes.
"""

from __future__ import annotations

import io
import json
import pickletools
import zipfile
from pathlib import Path

from ..errors import InvalidModel
from ..registry.persistence import CLOUDPICKLE, PICKLE, SKOPS, untrusted_types

_FORMATS = {"skops": SKOPS, "pickle": PICKLE, "cloudpickle": CLOUDPICKLE}
_FILE_NAMES = {SKOPS: "model.skops", PICKLE: "model.pkl", CLOUDPICKLE: "model.pkl"}


class NotSklearn(Exception):
    """The MLflow model has no sklearn flavour (the reason is the message)."""


def read_sklearn_model(folder: Path, uri: str) -> dict:
    """``flavor, data, model_class, untrusted_types, packages`` of an MLflow sklearn model
    folder (one holding an ``MLmodel`` file)."""
    import yaml

    mlmodel = folder / "MLmodel"
    if not mlmodel.is_file():
        raise NotSklearn("the model files hold no MLmodel file")
    spec = yaml.safe_load(mlmodel.read_text()) or {}
    flavors = spec.get("flavors") or {}
    sklearn = flavors.get("sklearn")
    if not sklearn:
        raise NotSklearn(
            f"its flavours are {', '.join(sorted(flavors)) or 'none'}; only MLflow's sklearn "
            "flavour is imported"
        )
    flavor = _FORMATS.get(sklearn.get("serialization_format", "cloudpickle"))
    if flavor is None:
        raise NotSklearn(f"unknown sklearn serialization {sklearn.get('serialization_format')!r}")
    data = (folder / sklearn.get("pickled_model", _FILE_NAMES[flavor])).read_bytes()
    packages = {}
    if sklearn.get("sklearn_version"):
        packages["scikit-learn"] = str(sklearn["sklearn_version"])
    if flavor == SKOPS:
        flagged = untrusted_types(data, uri)  # InvalidModel when no readable skops file
        model_class = _skops_class(data)
    else:
        flagged = []
        model_class = _pickle_class(data)
    return {
        "flavor": flavor,
        "data": data,
        "model_class": model_class,
        "untrusted_types": flagged,
        "packages": packages,
        "signature": spec.get("signature"),
    }


def _skops_class(data: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        schema = json.loads(archive.read("schema.json"))
    return f"{schema.get('__module__', '?')}.{schema.get('__class__', '?')}"


def _pickle_class(data: bytes) -> str:
    """The first class a pickle names (the model's own), read from its opcodes only."""
    strings: list[str] = []
    try:
        for opcode, arg, _pos in pickletools.genops(io.BytesIO(data)):
            if opcode.name in ("GLOBAL", "INST"):
                return str(arg).replace(" ", ".")
            if opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                return f"{strings[-2]}.{strings[-1]}"
            if isinstance(arg, str):
                strings.append(arg)
    except Exception as exc:  # noqa: BLE001 - a damaged pickle fails in many ways
        raise InvalidModel(f"the pickled model file is not readable ({exc})") from None
    return "unknown"


def write_sklearn_model(folder: Path, flavor: str, data: bytes, packages: dict) -> None:
    """An MLflow sklearn-flavour model folder (``MLmodel`` plus the model file) that
    ``mlflow.sklearn.load_model`` reads; the file is written as stored, never re-serialized."""
    import yaml

    folder.mkdir(parents=True, exist_ok=True)
    name = _FILE_NAMES[flavor]
    (folder / name).write_bytes(data)
    fmt = {SKOPS: "skops", PICKLE: "pickle", CLOUDPICKLE: "cloudpickle"}[flavor]
    spec = {
        "flavors": {
            "python_function": {
                "loader_module": "mlflow.sklearn",
                "model_path": name,
                "predict_fn": "predict",
            },
            "sklearn": {
                "pickled_model": name,
                "serialization_format": fmt,
                "sklearn_version": packages.get("scikit-learn"),
                "code": None,
            },
        },
    }
    (folder / "MLmodel").write_text(yaml.safe_dump(spec, sort_keys=False))
