"""Model signatures: the input columns (names, dtypes, category levels) and the output kind.

A signature comes from the training data the run recorded, from an ``input_example``, or, as a
last resort, from the fitted model itself (``feature_names_in_``, names only). Checking data
against it before predicting turns "ValueError deep inside scikit-learn" (or, worse, silently
wrong predictions) into a :class:`~nbmlops.errors.SchemaViolation` naming the columns.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from ..errors import SchemaViolation

MAX_LEVELS = 1000  # category levels kept per column; more are not checked

# Which dtype families a column of each expected family accepts.
_ACCEPTS = {
    "float": {"float", "integer"},
    "integer": {"integer"},
    "bool": {"bool"},
    "category": {"category", "string"},
    "string": {"string", "category"},
    "datetime": {"datetime"},
}


def dtype_family(dtype: Any) -> str:
    """``integer``, ``float``, ``bool``, ``category``, ``string``, ``datetime`` or the dtype name.

    >>> dtype_family("int32"), dtype_family("category"), dtype_family("object")
    ('integer', 'category', 'string')
    """
    import pandas as pd

    try:
        dt = pd.api.types.pandas_dtype(dtype) if isinstance(dtype, str) else dtype
    except TypeError:
        return str(dtype)
    if isinstance(dt, pd.CategoricalDtype):
        return "category"
    if pd.api.types.is_bool_dtype(dt):
        return "bool"
    if pd.api.types.is_integer_dtype(dt):
        return "integer"
    if pd.api.types.is_float_dtype(dt):
        return "float"
    if pd.api.types.is_datetime64_any_dtype(dt):
        return "datetime"
    if pd.api.types.is_string_dtype(dt) or pd.api.types.is_object_dtype(dt):
        return "string"
    return str(dt)


@dataclasses.dataclass(frozen=True)
class ColumnSpec:
    name: str
    dtype: str
    categories: tuple | None = None

    @property
    def family(self) -> str:
        return dtype_family(self.dtype)


@dataclasses.dataclass(frozen=True)
class Signature:
    """What a model takes and returns.

    ``columns`` is empty when only the number of features is known (``n_features``).
    ``output`` is ``{"kind": "classes", "classes": [...]}``, ``{"kind": "number"}`` or
    ``{"kind": "array"}``; ``source`` says where the input schema came from.
    """

    columns: tuple[ColumnSpec, ...] = ()
    n_features: int | None = None
    output: dict = dataclasses.field(default_factory=dict)
    source: str = "unknown"

    # -- building ------------------------------------------------------------------------------

    @classmethod
    def from_frame(cls, data: Any, model: Any = None, source: str = "input_example") -> Signature:
        """The schema of a DataFrame (or array) the model takes."""
        import numpy as np
        import pandas as pd

        if isinstance(data, pd.Series):
            data = data.to_frame()
        if isinstance(data, pd.DataFrame):
            cols = []
            for name, dtype in data.dtypes.items():
                levels = None
                if isinstance(dtype, pd.CategoricalDtype) and len(dtype.categories) <= MAX_LEVELS:
                    levels = tuple(_plain(v) for v in dtype.categories)
                cols.append(ColumnSpec(str(name), str(dtype), levels))
            return cls(tuple(cols), len(cols), output_of(model), source)
        array = np.asarray(data)
        width = int(array.shape[1]) if array.ndim == 2 else 1
        return cls((), width, output_of(model), source)

    @classmethod
    def from_schema(
        cls, schema: list, categories: dict | None, model: Any, source: str
    ) -> Signature:
        """From a recorded fingerprint schema: ``[[column, dtype], …]``."""
        categories = categories or {}
        cols = tuple(
            ColumnSpec(
                str(name),
                str(dtype),
                tuple(categories[name]) if name in categories else None,
            )
            for name, dtype in schema
        )
        if len(cols) == 1 and cols[0].name == "values":  # a numpy array's fingerprint
            return cls((), None, output_of(model), source)
        return cls(cols, len(cols), output_of(model), source)

    @classmethod
    def from_model(cls, model: Any) -> Signature:
        """Names only, from ``feature_names_in_`` (or the feature count)."""
        names = getattr(model, "feature_names_in_", None)
        if names is not None:
            cols = tuple(ColumnSpec(str(n), "unknown") for n in names)
            return cls(cols, len(cols), output_of(model), "model")
        width = getattr(model, "n_features_in_", None)
        return cls((), int(width) if width is not None else None, output_of(model), "model")

    # -- storage -------------------------------------------------------------------------------

    def to_dict(self) -> dict:
        return {
            "columns": [
                {
                    "name": c.name,
                    "dtype": c.dtype,
                    "categories": list(c.categories) if c.categories is not None else None,
                }
                for c in self.columns
            ],
            "n_features": self.n_features,
            "output": self.output,
            "source": self.source,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), default=str)

    @classmethod
    def from_dict(cls, data: dict) -> Signature:
        cols = tuple(
            ColumnSpec(
                c["name"],
                c["dtype"],
                tuple(c["categories"]) if c.get("categories") is not None else None,
            )
            for c in data.get("columns", [])
        )
        return cls(cols, data.get("n_features"), data.get("output") or {}, data.get("source", ""))

    def as_frame(self):
        """The input schema as a DataFrame (``column, dtype, categories``)."""
        import pandas as pd

        return pd.DataFrame(
            [
                {
                    "column": c.name,
                    "dtype": c.dtype,
                    "categories": ", ".join(map(str, c.categories)) if c.categories else "",
                }
                for c in self.columns
            ],
            columns=["column", "dtype", "categories"],
        )

    # -- checking ------------------------------------------------------------------------------

    def check(self, data: Any, subject: str = "the model") -> Any:
        """Return ``data`` ready for the model (columns in training order), or raise
        :class:`SchemaViolation` naming every missing, mistyped or unknown-category column."""
        import numpy as np
        import pandas as pd

        if isinstance(data, pd.Series):
            data = data.to_frame()
        if not isinstance(data, pd.DataFrame):
            try:
                array = np.asarray(data)
            except (ValueError, TypeError):  # ragged nested lists
                array = np.asarray(None)
            if array.ndim != 2:
                raise SchemaViolation(
                    f"{subject} takes a table of rows: a DataFrame or a 2-d array"
                    + (f" with {self.n_features} columns" if self.n_features else "")
                    + f", got {type(data).__name__} with {array.ndim} dimension(s)"
                )
            width = int(array.shape[1])
            if self.n_features is not None and width is not None and width != self.n_features:
                raise SchemaViolation(
                    f"{subject} takes {self.n_features} features, got an array with {width} "
                    "columns",
                )
            return data
        if not self.columns:
            if self.n_features is not None and data.shape[1] != self.n_features:
                raise SchemaViolation(
                    f"{subject} takes {self.n_features} features, got {data.shape[1]} columns"
                )
            return data
        present = {str(c): c for c in data.columns}
        missing = [c.name for c in self.columns if c.name not in present]
        mistyped: dict[str, tuple[str, str]] = {}
        unknown: dict[str, list] = {}
        for spec in self.columns:
            if spec.name not in present or spec.dtype == "unknown":
                continue
            column = data[present[spec.name]]
            family = dtype_family(column.dtype)
            if family not in _ACCEPTS.get(spec.family, {spec.family}):
                mistyped[spec.name] = (spec.dtype, str(column.dtype))
                continue
            if spec.categories is not None:
                seen = pd.unique(column.dropna())
                allowed = set(spec.categories)
                extra = [_plain(v) for v in seen if _plain(v) not in allowed]
                if extra:
                    unknown[spec.name] = extra[:10]
        if missing or mistyped or unknown:
            parts = []
            if missing:
                parts.append("missing columns: " + ", ".join(repr(m) for m in missing))
            if mistyped:
                parts.append(
                    "wrong dtypes: "
                    + ", ".join(
                        f"{k!r} is {got}, expected {want}" for k, (want, got) in mistyped.items()
                    )
                )
            if unknown:
                parts.append(
                    "unknown categories: "
                    + ", ".join(f"{k!r} has {v!r}" for k, v in unknown.items())
                )
            raise SchemaViolation(
                f"the data does not match the signature of {subject}: "
                + "; ".join(parts)
                + ". Pass a DataFrame with the training columns and dtypes "
                "(see ModelVersion.signature)",
                missing=missing,
                mistyped=mistyped,
                unknown_categories=unknown,
            )
        ordered = [present[c.name] for c in self.columns]
        return data[ordered]


def _plain(value: Any) -> Any:
    item = getattr(value, "item", None)
    return item() if callable(item) and getattr(value, "ndim", 1) == 0 else value


def output_of(model: Any) -> dict:
    """The kind of what ``model.predict`` returns."""
    if model is None:
        return {}
    classes = getattr(model, "classes_", None)
    if classes is not None and hasattr(model, "predict"):
        try:
            return {"kind": "classes", "classes": [_plain(c) for c in list(classes)][:MAX_LEVELS]}
        except TypeError:
            pass
    if hasattr(model, "predict"):
        from sklearn.base import BaseEstimator, is_regressor

        if isinstance(model, BaseEstimator) and is_regressor(model):
            return {"kind": "number"}
        return {"kind": "array"}
    if hasattr(model, "transform"):
        return {"kind": "array", "method": "transform"}
    return {}
