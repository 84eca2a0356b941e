"""Registering models and reading them back: ``register_model``, ``ModelVersion``,
``get_model``, ``load_model``, ``models``, ``model_versions`` and ``model_card``."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from ..errors import InvalidModel, SchemaViolation
from ..store import Store
from ..tracking import _validate as v
from ..tracking._active import active_run
from ..tracking.estimators import (
    class_path,
    estimator_digest_later,
    is_estimator,
    is_fitted_estimator,
    run_that_fitted,
)
from ..tracking.run import Run
from . import _transitions, flavors, persistence
from ._context import check_text, current_store, current_user
from ._names import ModelRef, model_name, parse_ref
from .approvals import PromotionRequest
from .card import ModelCard
from .record import VersionRecord
from .signature import Signature

if TYPE_CHECKING:
    import pandas as pd


class ModelVersion(VersionRecord):
    """One registered version of a model: metadata, lineage, the model itself and its stage.

    >>> import nbmlops
    >>> mv = nbmlops.get_model("models:/churn@production")  # doctest: +SKIP
    >>> mv.predict(new_customers)  # doctest: +SKIP
    """

    def __repr__(self) -> str:
        if self.deleted:
            return f"<ModelVersion {self.uri} (deleted)>"
        row = self._row()
        where = ", ".join(filter(None, [row["stage"], *row["aliases"]]))
        return f"<ModelVersion {self.uri}" + (f" ({where})" if where else "") + ">"

    def update(
        self,
        description: str | None = None,
        tags: dict[str, Any] | None = None,
        **card_fields: str,
    ) -> ModelVersion:
        """Edit the description, tags (merged) and model card fields (``intended_use``,
        ``limitations``, ``ethical_considerations``, …; ``None`` removes a field)."""
        values: dict[str, Any] = {}
        if description is not None:
            values["description"] = check_text("description", description)
        if tags is not None:
            merged = {**self.tags, **_encode_tags(tags)}
            values["tags"] = json.dumps(merged)
        if card_fields:
            fields = self.card_fields
            for key, value in card_fields.items():
                v.key("model card field", key)
                if value is None:
                    fields.pop(key, None)
                else:
                    fields[key] = check_text(key, value)
            values["card"] = json.dumps(fields)
        if values:
            self._store.models.update_version(self.name, self.version, current_user(), **values)
        return self

    # -- the model -----------------------------------------------------------------------------

    def load(self, trusted: bool | list[str] = False) -> Any:
        """The model object, read and verified against its sha256 on every call
        (``IntegrityError`` if the stored file changed).

        scikit-learn models load safely by default; pickled models and skops files naming
        other types need ``trusted=True`` (or the list of type names to trust).
        """
        row = self._row()
        data, verify = self._store.artifacts.read_then_verify(
            row["digest"], f"{self.uri} ({row['flavor']})"
        )
        # skops parses the file while its sha256 is checked; nothing is built before.
        model = persistence.deserialize(row["flavor"], data, self.uri, trusted, verify)
        persistence.warn_on_version_differences(self.uri, json.loads(row["packages"]))
        return model

    def _model_for(self, trusted: bool | list[str]) -> Any:
        # predict() on the same object reuses the model it loaded (with the same trust).
        trusted = persistence.trusted_names(trusted)
        key = trusted if isinstance(trusted, bool) else tuple(sorted(trusted))
        cached = self.__dict__.get("_loaded")
        if cached is None or cached[0] != key:
            cached = (key, self.load(trusted))
            self.__dict__["_loaded"] = cached
        return cached[1]

    def predict(
        self,
        data: Any,
        trusted: bool | list[str] = False,
        log: bool = False,
        ids: Any = None,
        at: Any = None,
    ) -> Any:
        """Check ``data`` against the signature (``SchemaViolation`` names what is wrong),
        then return ``model.predict(data)``. The model is loaded once per ``ModelVersion``.

        ``log=True`` also appends the inputs and predictions to the prediction log (see
        :func:`nbmlops.score`, which returns the row ids; ``ids`` names an id column of
        ``data`` so late labels can be joined)."""
        model = self._model_for(trusted)
        if not hasattr(model, "predict"):
            raise InvalidModel(f"{self.uri} ({self.model_class}) has no predict method")
        predictions = _call_model(model.predict, self.signature.check(data, self.uri), self.uri)
        if log:
            from ..predictions.log import log_predictions

            log_predictions(self.name, self.version, data, predictions, ids=ids, at=at)
        return predictions

    def predict_proba(self, data: Any, trusted: bool | list[str] = False) -> Any:
        """Class probabilities, after the same schema check as :meth:`predict`."""
        model = self._model_for(trusted)
        if not hasattr(model, "predict_proba"):
            raise InvalidModel(f"{self.uri} ({self.model_class}) has no predict_proba method")
        return _call_model(model.predict_proba, self.signature.check(data, self.uri), self.uri)

    # -- lifecycle shortcuts -------------------------------------------------------------------

    def promote(
        self, to: str = "production", reason: str | None = None, gates: list[str] | None = None
    ) -> ModelVersion | PromotionRequest:
        """:func:`nbmlops.promote` this version (a pending request under a policy)."""
        name, version, request = _transitions.promote(
            self.name, self.version, to=to, reason=reason, gates=gates
        )
        if request is not None:
            return PromotionRequest(request)
        return ModelVersion(current_store(), name, version)

    def set_alias(self, alias: str, reason: str | None = None) -> ModelVersion:
        """:func:`nbmlops.set_alias` ``alias`` to this version."""
        return ModelVersion(
            current_store(), *_transitions.set_alias(self.name, alias, self.version, reason)
        )

    def card(self) -> ModelCard:
        """The model card of this version (Markdown and HTML)."""
        return ModelCard(self)

    # -- display -------------------------------------------------------------------------------

    def summary(self) -> str:
        if self.deleted:
            return f"{self.uri}  [deleted]"
        row = self._row()
        where = ", ".join(filter(None, [row["stage"], *row["aliases"]])) or "no stage"
        lines = [
            f"{self.uri}  [{where}]",
            f"  {row['model_class']} ({row['flavor']}), registered "
            f"{_when(row['created_at'])} by {row['user_name'] or 'unknown'}",
        ]
        if row["run_id"]:
            lines.append(f"  run {row['run_id']}")
        metrics = self.metrics
        if metrics:
            lines.append("  metrics " + ", ".join(f"{k}={m:.4g}" for k, m in metrics.items()))
        return "\n".join(lines)

    def headline(self) -> str:
        """One line: URI, stage and aliases, model class, run, e.g.
        ``models:/churn/3 [production, champion] RandomForestClassifier · run 1a2b3c4d``."""
        if self.deleted:
            return f"{self.uri} [deleted]"
        row = self._row()
        where = ", ".join(filter(None, [row["stage"], *row["aliases"]]))
        text = self.uri + (f" [{where}]" if where else "")
        text += f" {row['model_class'].rsplit('.', 1)[-1]}"
        if row["run_id"]:
            text += f" · run {row['run_id'][:8]}"
        return text

    # The result of promote(), rollback() … is shown as one line; the model card stays one call
    # away (mv.card(), which displays as HTML) instead of filling the output.
    def _repr_pretty_(self, p, cycle) -> None:
        p.text(self.headline())

    def _repr_html_(self) -> str:
        import html

        return (
            '<div class="nbmlops-model-version" title="mv.card() shows the model card">'
            f"<code>{html.escape(self.headline())}</code></div>"
        )


def _call_model(method: Any, data: Any, uri: str) -> Any:
    """``method(data)``; a ``ValueError``/``TypeError`` the model raises about the data (text
    in a numeric column, NaN it cannot take) is a :class:`SchemaViolation` quoting it."""
    try:
        return method(data)
    except (ValueError, TypeError) as exc:
        raise SchemaViolation(
            f"{uri} cannot {method.__name__} on this data: {type(exc).__name__}: {str(exc)[:300]}"
        ) from exc


def _when(timestamp: float | None) -> str:
    import datetime as dt

    if timestamp is None:
        return "-"
    return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _encode_tags(tags: dict[str, Any]) -> dict[str, str]:
    if not isinstance(tags, dict):
        raise InvalidModel(f"tags must be a dict of key -> value, got {type(tags).__name__}")
    return {v.key("tag", k): v.tag_value(k, val) for k, val in tags.items()}


# -- registering ------------------------------------------------------------------------------


_ACCEPTED = (
    "a fitted scikit-learn estimator or pipeline, or an object with a callable .predict or "
    ".transform (e.g. your own model class)"
)
# Packages whose objects are data, never models: a DataFrame has a callable .transform.
_DATA_MODULES = ("pandas", "numpy", "polars", "pyarrow", "scipy.sparse", "xarray", "dask")


def _type_label(obj: Any) -> str:
    """``a pandas DataFrame``, ``an int``: the type given, for error messages."""
    kind = type(obj)
    module = kind.__module__.split(".")[0]
    label = kind.__name__ if module == "builtins" else f"{module} {kind.__name__}"
    return ("an " if label[0].lower() in "aeiou" else "a ") + label


def _is_data(obj: Any) -> bool:
    """True for tables, arrays and tensors (pandas, numpy, polars, Arrow, sparse …)."""
    import numbers
    from collections.abc import Mapping, Sequence, Set

    if isinstance(obj, (numbers.Number, Mapping, Sequence, Set, bytearray, memoryview)):
        return True
    # The array and dataframe interchange protocols mark data whatever its library.
    if any(
        hasattr(obj, attr)
        for attr in ("__array__", "__dataframe__", "__arrow_c_stream__", "__arrow_c_array__")
    ):
        return True
    module = type(obj).__module__
    return any(module == m or module.startswith(m + ".") for m in _DATA_MODULES) and not callable(
        getattr(obj, "predict", None)
    )


def _check_model(model: Any) -> None:
    """Refuse anything that is not a model, naming what was given and what is accepted."""
    if model is None:
        raise InvalidModel(f"register_model takes a model, got None; pass {_ACCEPTED}")
    if isinstance(model, type):
        raise InvalidModel(
            f"register_model takes a fitted model object, got the class {model.__name__} "
            f"itself: create and fit one first, e.g. {model.__name__}().fit(X, y)"
        )
    if is_estimator(model):
        if not is_fitted_estimator(model):
            raise InvalidModel(
                f"this {type(model).__name__} is not fitted: call .fit(X, y) before registering it"
            )
        return
    if flavors.native_flavor(model) is not None:
        return  # a booster or PyTorch module: stored in its framework's format
    if _is_data(model):
        raise InvalidModel(
            f"register_model takes a model, but got {_type_label(model)}, which is data: pass "
            f"the model you fitted instead, {_ACCEPTED}"
        )
    if not (
        callable(getattr(model, "predict", None)) or callable(getattr(model, "transform", None))
    ):
        raise InvalidModel(
            f"register_model takes a model, but got {_type_label(model)}, which has neither "
            f"predict nor transform: pass {_ACCEPTED}"
        )


def _resolve_run(store: Store, model: Any, run: Any) -> str | None:
    if run is None:
        found = run_that_fitted(model)
        if found is None:
            active = active_run()
            found = active.run_id if active is not None else None
        return found
    if isinstance(run, Run):
        return run.run_id
    if isinstance(run, str):
        return store.meta.resolve_run_id(run)
    raise InvalidModel(f"run= takes a Run or a run id, got {type(run).__name__}")


def _signature_from_run(
    store: Store, run_id: str, model: Any, digest: str | None
) -> Signature | None:
    """The schema of the data the run recorded as this model's training input."""
    details = store.meta.run_details(run_id)
    data = details["data"]
    fit_inputs: list[str] = []
    for row in data:
        if row["kind"] == "estimator" and row["digest"] == digest:
            fit_inputs = json.loads(row["info"] or "{}").get("fit_inputs", [])
            break
    if not fit_inputs:
        return None
    by_name = {r["name"]: r for r in data if r["kind"] != "estimator" and r["schema"]}
    row = by_name.get(fit_inputs[0])
    if row is None:
        return None
    info = json.loads(row["info"] or "{}")
    return Signature.from_schema(
        json.loads(row["schema"]),
        info.get("categories"),
        model,
        f"run {run_id[:8]}: {fit_inputs[0]}",
    )


def _example_signature(model: Any, input_example: Any) -> Signature:
    """The signature of ``input_example``, once the model has predicted its first rows."""
    signature = Signature.from_frame(input_example, model)
    method = getattr(model, "predict", None) or getattr(model, "transform", None)
    try:
        method(
            signature.check(input_example).iloc[:5]
            if hasattr(input_example, "iloc")
            else input_example[:5]
        )
    except Exception as exc:  # noqa: BLE001 - any failure means the example is wrong
        raise InvalidModel(
            f"input_example does not work with the model: {type(exc).__name__}: {exc}"
        ) from None
    return signature


def _signature(store: Store, model: Any, run_id: str | None, digest: str | None) -> Signature:
    """The signature of the training data the producing run recorded, else the model's."""
    if run_id is not None:
        found = _signature_from_run(store, run_id, model, digest)
        if found is not None:
            return found
    return Signature.from_model(model)


def register_model(
    model: Any,
    name: str,
    run: Run | str | None = None,
    description: str | None = None,
    tags: dict[str, Any] | None = None,
    input_example: Any = None,
    reference: Any = None,
) -> ModelVersion:
    """Store ``model`` as the next version of ``name`` and return it.

    The producing run is found automatically when the model was fitted in a ``%%track`` cell
    (or inside the active run); its recorded training data gives the signature unless
    ``input_example`` is given. ``reference`` (the training inputs, a DataFrame) is kept as
    the baseline that monitors compare the version's logged traffic with.

    >>> import nbmlops
    >>> mv = nbmlops.register_model(model, "churn", description="GBM on 2024 data")  # doctest: +SKIP
    >>> mv.version  # doctest: +SKIP
    1
    """
    name = model_name(name)
    _check_model(model)
    if description is not None:
        description = check_text("description", description)
    encoded_tags = _encode_tags(tags or {})
    if reference is not None:
        from ..predictions.reference import reference_parquet

        reference_parquet(reference)  # a bad reference fails before anything is stored
    store = current_store()
    run_id = _resolve_run(store, model, run)
    # A bad input_example fails before anything is written.
    signature = _example_signature(model, input_example) if input_example is not None else None
    # The model's identity (the hash of its pickle) is hashed while the skops file is
    # written straight into a new blob, which is hashed and synced while it is audited.
    model_digest_of = estimator_digest_later(model) if is_estimator(model) else None
    flavor, data, untrusted, blob = persistence.serialize(model, store.artifacts.blob_writer)
    try:
        model_digest = model_digest_of() if model_digest_of is not None else None
        if signature is None:
            signature = _signature(store, model, run_id, model_digest)
        digest, size = blob.keep() if blob is not None else store.artifacts.put_bytes(data)
    except BaseException:
        if blob is not None:
            blob.drop()
        raise
    row = {
        "stage": None,
        "run_id": run_id,
        "flavor": flavor,
        "digest": digest,
        "size": size,
        "model_class": class_path(model),
        "model_digest": model_digest,
        "untrusted_types": json.dumps(untrusted),
        "packages": json.dumps(persistence.package_versions(model)),
        "signature": signature.to_json(),
        "description": description,
        "tags": json.dumps(encoded_tags),
        "card": json.dumps({}),
        "created_at": time.time(),
        "user_name": current_user(),
    }
    version = store.models.register(name, row, current_user(), description)
    if run_id is not None:
        # The run lists the model file among its artifacts, so its lineage reads both ways.
        extension = persistence.EXTENSIONS.get(flavor, "bin")
        store.meta.add_artifacts(
            run_id,
            [
                {
                    "name": f"models/{name}/v{version}/model.{extension}",
                    "digest": digest,
                    "size": size,
                    "media_type": "application/octet-stream",
                    "created_at": row["created_at"],
                }
            ],
        )
    mv = ModelVersion(store, name, version)
    if reference is not None:
        from ..predictions.reference import record_reference

        record_reference(mv.name, mv.version, reference)
    return mv


# -- reading ----------------------------------------------------------------------------------


def resolve(ref: str | ModelRef, version: int | None = None) -> ModelVersion:
    store = current_store()
    parsed = ref if isinstance(ref, ModelRef) else parse_ref(ref, version)
    number = parsed.version
    if number is None:
        number = store.models.resolve(parsed.name, parsed.selector or "production")
    mv = ModelVersion(store, parsed.name, number)
    mv._row()  # raises ModelNotFound for a missing version
    return mv


def get_model(ref: str, version: int | None = None) -> ModelVersion:
    """The :class:`ModelVersion` that ``ref`` names.

    ``ref`` is ``models:/NAME/VERSION``, ``models:/NAME@ALIAS`` (a stage such as
    ``production``, a free alias or ``latest``), ``NAME@ALIAS``, or ``NAME`` with
    ``version=`` (without it: the production version).
    """
    return resolve(ref, version)


def load_model(ref: str, version: int | None = None, trusted: bool | list[str] = False) -> Any:
    """Load the model object ``ref`` names, e.g. ``load_model("models:/churn@production")``.

    Safe by default: see :meth:`ModelVersion.load` for ``trusted``.
    """
    return resolve(ref, version).load(trusted)


def models() -> pd.DataFrame:
    """Every registered model: versions, latest and production version, aliases."""
    import pandas as pd

    rows = current_store().models.list_models()
    frame = pd.DataFrame(
        [
            {
                "name": r["name"],
                "versions": int(r["versions"] or 0),
                "latest_version": r["latest_version"],
                "production_version": r["production_version"],
                "aliases": ", ".join(f"{a}={ver}" for a, ver in sorted(r["aliases"].items())),
                "description": r["description"],
                "updated_at": r["updated_at"],
            }
            for r in rows
        ],
        columns=[
            "name",
            "versions",
            "latest_version",
            "production_version",
            "aliases",
            "description",
            "updated_at",
        ],
    )
    frame["updated_at"] = pd.to_datetime(frame["updated_at"].astype(float), unit="s", utc=True)
    for column in ("latest_version", "production_version"):
        frame[column] = frame[column].astype("Int64")
    return frame


def model_versions(name: str) -> pd.DataFrame:
    """The versions of ``name``: stage, aliases, run, class, metrics (``metrics.*``)."""
    import pandas as pd

    store = current_store()
    name = model_name(name)
    rows = store.models.list_versions(name)
    records = []
    for r in rows:
        mv = ModelVersion(store, name, r["version"])
        records.append(
            {
                "version": r["version"],
                "stage": r["stage"],
                "aliases": ", ".join(r["aliases"]),
                "run_id": r["run_id"],
                "model_class": r["model_class"],
                "flavor": r["flavor"],
                "created_at": r["created_at"],
                "user": r["user_name"],
                "description": r["description"],
                **{f"metrics.{k}": val for k, val in mv.metrics.items()},
            }
        )
    base = [
        "version",
        "stage",
        "aliases",
        "run_id",
        "model_class",
        "flavor",
        "created_at",
        "user",
        "description",
    ]
    metric_cols = sorted({c for rec in records for c in rec if c.startswith("metrics.")})
    frame = pd.DataFrame.from_records(records, columns=base + metric_cols)
    frame["created_at"] = pd.to_datetime(frame["created_at"].astype(float), unit="s", utc=True)
    return frame


def model_card(ref: str | ModelVersion, version: int | None = None) -> ModelCard:
    """The card of the version ``ref`` names (``"churn"`` = its production version,
    ``"models:/churn/3"``, ``"churn@staging"``, or a :class:`ModelVersion`)."""
    mv = ref if isinstance(ref, ModelVersion) else resolve(ref, version)
    return ModelCard(mv)


def measure_latency(
    ref: str | ModelVersion,
    version: int | None = None,
    rows: int = 200,
    batch: int = 100,
    repeats: int = 20,
) -> dict[str, float]:
    """Latency of the version ``ref`` names (``"models:/churn/3"``, ``"churn"`` with
    ``version=``, a :class:`ModelVersion`) on its reference rows, in milliseconds: the
    signature check plus ``predict``, one row at a time over up to ``rows`` rows (``p50_ms``,
    ``p99_ms``) and ``batch`` rows at a time, ``repeats`` times (``batch_p50_ms``,
    ``batch_p99_ms``). Gates read them as ``latency.p99_ms`` (see :func:`nbmlops.promote`).

    >>> import nbmlops
    >>> nbmlops.measure_latency("models:/churn/3")  # doctest: +SKIP
    {'p50_ms': 0.61, 'p99_ms': 1.9, 'batch_p50_ms': 2.4, 'batch_p99_ms': 3.1, 'batch': 100}
    """
    from .latency import measure

    mv = ref if isinstance(ref, ModelVersion) else resolve(ref, version)
    return measure(mv.name, mv.version, rows=rows, batch=batch, repeats=repeats)
