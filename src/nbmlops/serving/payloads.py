"""Request bodies to DataFrames and predictions back to JSON.

Two protocols: MLflow's scoring protocol (``/invocations``: a JSON object with one of
``dataframe_split``, ``dataframe_records``, ``instances`` or ``inputs``, or a CSV body) so that
MLflow clients work unchanged, and the Open Inference Protocol (``/v2/models/NAME/infer``) that
KServe and Triton clients speak, with one input tensor per column or one 2-d tensor. Anything
that cannot be read raises :class:`~nbmlops.errors.InvalidRequest` with the HTTP status to send.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from typing import Any

from ..errors import InvalidRequest

MLFLOW_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")

# Open Inference Protocol datatypes of the arrays we return, by numpy kind.
_OIP_TYPES = {"b": "BOOL", "i": "INT64", "u": "UINT64", "f": "FP64"}


try:  # the serve extra installs it: parsing a 100-row body is ~9x faster than with json
    from orjson import loads as _fast_loads
except ImportError:  # pragma: no cover - without orjson the standard library parses alone
    _fast_loads = None


def _json(body: bytes) -> Any:
    if not body.strip():
        raise InvalidRequest("the request body is empty: send a JSON object or CSV rows")
    if _fast_loads is not None:
        try:
            return _fast_loads(body)
        except ValueError:
            pass  # NaN and Infinity: json reads them, as MLflow's server does
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise InvalidRequest(f"the body is not valid JSON: {str(exc)[:200]}") from None


def _numbers_frame(rows: list, columns: list[str]):
    """``rows`` (lists) as a one-block DataFrame when every value is a float, or every value
    an int (then each column is what pandas would infer too); None otherwise."""
    import itertools

    import numpy as np
    import pandas as pd

    kinds = set(map(type, itertools.chain.from_iterable(rows)))
    if kinds == {float}:
        dtype = np.float64
    elif kinds == {int}:
        dtype = np.int64
    else:
        return None
    try:
        return pd.DataFrame(np.array(rows, dtype=dtype), columns=_labels(columns))
    except (OverflowError, ValueError):
        return None


_LABELS: dict[tuple[str, ...], Any] = {}


def _labels(columns: Sequence[str]):
    """One shared ``pd.Index`` per list of column names. Building it is most of the cost of a
    one-row frame on pandas 3 (~50 us), and the log writer's ``concat`` of many requests'
    frames compares their column labels pairwise unless they are the same object."""
    import pandas as pd

    key = tuple(columns)
    found = _LABELS.get(key)
    if found is None:
        if len(_LABELS) >= 256:  # clients sending ever-new column lists: keep it bounded
            _LABELS.clear()
        found = _LABELS[key] = pd.Index(list(key))
    return found


def _frame(rows: Any, columns: Sequence[str] | None, where: str):
    """A DataFrame from records (a list of dicts), rows (a list of lists, named by
    ``columns``) or a dict of column -> values."""
    import pandas as pd

    try:
        if isinstance(rows, dict):
            if not all(isinstance(v, list) for v in rows.values()):
                rows = {k: [v] for k, v in rows.items()}  # one row given as column -> value
            return pd.DataFrame(rows)
        if not isinstance(rows, list) or not rows:
            raise InvalidRequest(f"{where} must be a non-empty list of rows")
        if all(isinstance(r, dict) for r in rows):
            return pd.DataFrame.from_records(rows)
        if all(isinstance(r, list) for r in rows):
            if columns is None:
                raise InvalidRequest(
                    f"{where} gives rows without column names and the model's signature has "
                    "none: send dataframe_split with 'columns', or records"
                )
            widths = {len(r) for r in rows}
            if widths != {len(columns)}:
                raise InvalidRequest(
                    f"{where}: each row needs {len(columns)} values ({', '.join(columns)}), "
                    f"got rows of {sorted(widths)}"
                )
            # The common MLflow body (dataframe_split of numbers): one 2-d array, no per-value
            # inference; anything else (text, nulls, mixed types) as pandas reads it.
            fast = _numbers_frame(rows, list(columns))
            return fast if fast is not None else pd.DataFrame(rows, columns=_labels(columns))
    except InvalidRequest:
        raise
    except (ValueError, TypeError) as exc:
        raise InvalidRequest(f"cannot read {where} as a table: {str(exc)[:200]}") from None
    raise InvalidRequest(f"{where} must hold rows that are all lists or all objects")


def parse_invocations(body: bytes, content_type: str, columns: Sequence[str] | None):
    """The DataFrame an ``/invocations`` request sends (``columns``: the signature's names,
    for rows sent without them)."""
    import pandas as pd

    kind = content_type.split(";")[0].strip().lower()
    if kind in ("text/csv", "application/csv"):
        try:
            return pd.read_csv(io.BytesIO(body))
        except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise InvalidRequest(f"cannot read the CSV body: {str(exc)[:200]}") from None
    if kind not in ("application/json", ""):
        raise InvalidRequest(
            f"unsupported content type {kind!r}: send application/json or text/csv", status=415
        )
    payload = _json(body)
    if not isinstance(payload, dict):
        raise InvalidRequest(
            f"the JSON body must be an object with one of {', '.join(MLFLOW_KEYS)}"
        )
    found = [k for k in MLFLOW_KEYS if k in payload]
    if len(found) != 1:
        raise InvalidRequest(
            f"the JSON body needs exactly one of {', '.join(MLFLOW_KEYS)}, got "
            + (", ".join(map(repr, payload)) or "an empty object")
        )
    key = found[0]
    value = payload[key]
    if key == "dataframe_split":
        if not isinstance(value, dict) or "data" not in value:
            raise InvalidRequest("dataframe_split is an object with 'columns' and 'data'")
        names = value.get("columns", columns)
        if names is not None and (
            not isinstance(names, list) or not all(isinstance(c, str) for c in names)
        ):
            raise InvalidRequest("dataframe_split.columns must be a list of column names")
        return _frame(value["data"], names, "dataframe_split.data")
    if key == "dataframe_records" and (
        not isinstance(value, list) or not all(isinstance(r, dict) for r in value)
    ):
        raise InvalidRequest("dataframe_records must be a list of objects (column: value)")
    return _frame(value, columns, key)


def parse_oip(body: bytes, columns: Sequence[str] | None):
    """``(DataFrame, request id)`` of an Open Inference Protocol infer request: one tensor per
    column (named like the column), or a single 2-d tensor of all columns in signature order."""
    import numpy as np
    import pandas as pd

    payload = _json(body)
    if not isinstance(payload, dict) or not isinstance(payload.get("inputs"), list):
        raise InvalidRequest("an infer request is an object with a list of 'inputs' tensors")
    tensors = payload["inputs"]
    if not tensors or not all(isinstance(t, dict) for t in tensors):
        raise InvalidRequest("'inputs' must be a non-empty list of tensors (objects)")
    for t in tensors:
        missing = [k for k in ("name", "shape", "data") if k not in t]
        if missing:
            raise InvalidRequest(f"input tensor {t.get('name', '?')!r} has no {missing[0]!r}")
        if not isinstance(t["shape"], list) or not all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in t["shape"]
        ):
            raise InvalidRequest(f"input tensor {t['name']!r}: shape is a list of sizes")
    request_id = payload.get("id")
    try:
        if len(tensors) == 1 and len(tensors[0]["shape"]) == 2:
            t = tensors[0]
            array = np.asarray(t["data"], dtype=object).reshape(t["shape"])
            names = list(columns) if columns is not None else None
            if names is None or len(names) != array.shape[1]:
                raise InvalidRequest(
                    f"input tensor {t['name']!r} has {array.shape[1]} columns; the model takes "
                    + (f"{len(names)} ({', '.join(names)})" if names else "named columns")
                    + ": send one tensor per column, named like the columns"
                )
            frame = pd.DataFrame(array.tolist(), columns=names)
        else:
            data = {}
            for t in tensors:
                values = np.asarray(t["data"], dtype=object).reshape(-1)
                if len(t["shape"]) not in (1, 2) or int(np.prod(t["shape"])) != len(values):
                    raise InvalidRequest(
                        f"input tensor {t['name']!r}: {len(values)} values do not fill shape "
                        f"{t['shape']} (one column per tensor: shape [rows] or [rows, 1])"
                    )
                data[str(t["name"])] = values.tolist()
            lengths = {len(v) for v in data.values()}
            if len(lengths) != 1:
                raise InvalidRequest(f"input tensors have different lengths: {sorted(lengths)}")
            frame = pd.DataFrame(data)
    except InvalidRequest:
        raise
    except (ValueError, TypeError) as exc:
        raise InvalidRequest(f"cannot read the input tensors: {str(exc)[:200]}") from None
    return frame, (str(request_id) if request_id is not None else None)


def jsonable(predictions: Any) -> list:
    """Predictions as plain JSON values (numpy scalars and arrays to lists; NaN to null)."""
    import numpy as np

    array = np.asarray(predictions)
    if array.dtype.kind == "f" and np.isnan(array).any():
        return np.where(np.isnan(array), None, array.astype(object)).tolist()
    return array.tolist()


def oip_output(predictions: Any) -> dict:
    """The Open Inference Protocol output tensor of ``predictions``."""
    import numpy as np

    array = np.asarray(predictions)
    return {
        "name": "predict",
        "shape": list(array.shape),
        "datatype": _OIP_TYPES.get(array.dtype.kind, "BYTES"),
        "data": jsonable(array.reshape(-1)),
    }
