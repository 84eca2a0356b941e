"""Data expectations: learned from a reference frame, edited by hand, checked on new data.

``Expectations`` follows scikit-learn's convention: the constructor stores options, ``fit``
learns one :class:`ColumnExpectation` per column (``columns_``), which you can edit, and
``validate`` checks a frame, returning one row per check.

The checks are vectorized pandas/numpy. pandera was measured as the engine first
(``benchmarks/bench_validation.py``, 1M rows × 21 columns, the same checks): 1.3x slower with a
few bad values, 22x slower (2.3 s) when a fifth of five columns is bad, because it
materializes one row per failing value. An alert needs counts and a few examples, so the checks
are our own; ``to_pandera()`` still exports a suite for projects that use pandera.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import MonitoringError, SchemaViolation
from ..registry.signature import dtype_family
from . import _validate_ooc as _ooc

if TYPE_CHECKING:
    import pandas as pd

# Which dtype families satisfy an expected family (as in model signatures).
_ACCEPTS = {
    "float": {"float", "integer"},
    "integer": {"integer"},
    "bool": {"bool"},
    "category": {"category", "string"},
    "string": {"string", "category"},
    "datetime": {"datetime"},
}
EXAMPLES = 5


@dataclasses.dataclass
class ColumnExpectation:
    """What one column should look like. Every field is editable; ``None`` disables a check.

    - ``dtype``: a family (``integer``, ``float``, ``bool``, ``string``, ``category``,
      ``datetime``);
    - ``max_null_share``: the largest acceptable share of missing values;
    - ``min`` / ``max``: the numeric (or datetime, ISO text) range;
    - ``max_out_of_range_share``: share of values allowed outside the range (default 0);
    - ``allowed``: the allowed values of a categorical column;
    - ``unique``: no duplicate values.
    """

    name: str
    dtype: str | None = None
    max_null_share: float | None = None
    min: Any = None
    max: Any = None
    max_out_of_range_share: float = 0.0
    allowed: list | None = None
    unique: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _plain(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value


class Expectations:
    """Per-column expectations learned from a reference frame.

    >>> import nbmlops
    >>> expectations = nbmlops.expectations_from(train_df)  # doctest: +SKIP
    >>> expectations["age"].min = 0  # doctest: +SKIP
    >>> nbmlops.validate(new_df, expectations, raise_on_failure=True)  # doctest: +SKIP
    """

    def __init__(
        self,
        null_tolerance: float = 0.05,
        quantile_band: tuple[float, float] = (0.0, 1.0),
        max_categories: int = 50,
        check_unique: bool = True,
    ):
        self.null_tolerance = null_tolerance
        self.quantile_band = quantile_band
        self.max_categories = max_categories
        self.check_unique = check_unique

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {
            "null_tolerance": self.null_tolerance,
            "quantile_band": self.quantile_band,
            "max_categories": self.max_categories,
            "check_unique": self.check_unique,
        }

    def set_params(self, **params: Any) -> Expectations:
        for key, value in params.items():
            if key not in self.get_params():
                raise MonitoringError(f"Expectations has no parameter {key!r}")
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        fitted = getattr(self, "columns_", None)
        if fitted is None:
            return "Expectations(not fitted)"
        return f"Expectations({len(fitted)} columns: {', '.join(list(fitted)[:8])}" + (
            ", …)" if len(fitted) > 8 else ")"
        )

    def __getitem__(self, column: str) -> ColumnExpectation:
        self._check_fitted()
        try:
            return self.columns_[column]
        except KeyError:
            raise MonitoringError(
                f"no expectation for column {column!r}; columns: {', '.join(self.columns_)}"
            ) from None

    def _check_fitted(self) -> None:
        if getattr(self, "columns_", None) is None:
            raise MonitoringError(
                "these expectations are not fitted: call .fit(reference_df) or use "
                "nbmlops.expectations_from(reference_df)"
            )

    # -- learning ------------------------------------------------------------------------------

    def fit(
        self, reference: pd.DataFrame, engine: str | None = None, scheduler: Any = None
    ) -> Expectations:
        """Learn one expectation per column of ``reference`` (a DataFrame, or data larger than
        memory aggregated on ``engine``: see :meth:`validate`)."""
        import pandas as pd

        from ..data import as_source, is_out_of_core

        if is_out_of_core(reference) or engine is not None:
            src = as_source(reference, "reference", engine, scheduler)
            try:
                self.columns_ = _ooc.fit_columns(self, src, ColumnExpectation)
                self.n_rows_ = src.num_rows
            finally:
                src.close()
            return self
        if not isinstance(reference, pd.DataFrame):
            raise MonitoringError(
                f"expectations are learned from a pandas DataFrame, got {type(reference).__name__}"
            )
        low, high = self.quantile_band
        if not 0 <= low < high <= 1:
            raise MonitoringError(f"quantile_band must be 0 <= low < high <= 1, got {(low, high)}")
        columns: dict[str, ColumnExpectation] = {}
        for name in reference.columns:
            series = reference[name]
            family = dtype_family(series.dtype)
            null_share = float(series.isna().mean()) if len(series) else 0.0
            exp = ColumnExpectation(
                name=str(name),
                dtype=family,
                max_null_share=min(1.0, round(null_share + self.null_tolerance, 6)),
            )
            values = series.dropna()
            if family in ("integer", "float") and len(values):
                exp.min = _plain(values.quantile(low)) if low > 0 else _plain(values.min())
                exp.max = _plain(values.quantile(high)) if high < 1 else _plain(values.max())
            elif family == "datetime" and len(values):
                exp.min, exp.max = _plain(values.min()), _plain(values.max())
            elif family in ("category", "string", "bool"):
                distinct = pd.unique(values)
                if len(distinct) <= self.max_categories:
                    exp.allowed = sorted((_plain(x) for x in distinct), key=str)
            if (
                self.check_unique
                and family in ("integer", "string")
                and len(values) >= 2
                and values.is_unique
            ):
                exp.unique = True
            columns[str(name)] = exp
        self.columns_ = columns
        self.n_rows_ = len(reference)
        return self

    # -- checking ------------------------------------------------------------------------------

    def validate(
        self,
        data: pd.DataFrame,
        raise_on_failure: bool = False,
        engine: str | None = None,
        scheduler: Any = None,
    ) -> ValidationResult:
        """Check ``data``: one result row per check (see :class:`ValidationResult`).

        ``data`` may be larger than memory (a Parquet/CSV path or URL, a DuckDB relation, a
        pyarrow Dataset, a Dask DataFrame): the checks then run as aggregates on ``engine``
        (``"duckdb"`` by default, ``"dask"`` on ``scheduler``), with the same verdicts and
        counts."""
        import pandas as pd

        from ..data import as_source, is_out_of_core

        self._check_fitted()
        if is_out_of_core(data) or engine is not None:
            src = as_source(data, "data", engine, scheduler)
            try:
                rows = _ooc.validate_rows(self, src, _row, _ACCEPTS)
                n_rows = src.num_rows
            finally:
                src.close()
            result = ValidationResult(pd.DataFrame(rows, columns=ValidationResult.COLUMNS), n_rows)
            if raise_on_failure and not result.passed:
                raise result.error()
            return result
        if not isinstance(data, pd.DataFrame):
            raise MonitoringError(f"validate takes a pandas DataFrame, got {type(data).__name__}")
        rows: list[dict[str, Any]] = []
        present = {str(c): c for c in data.columns}
        for name, exp in self.columns_.items():
            if name not in present:
                rows.append(_row(name, "present", "column exists", "missing", False, len(data)))
                continue
            rows += _check_column(exp, data[present[name]])
        result = ValidationResult(pd.DataFrame(rows, columns=ValidationResult.COLUMNS), len(data))
        if raise_on_failure and not result.passed:
            raise result.error()
        return result

    # -- storage -------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        self._check_fitted()
        return {
            "params": {**self.get_params(), "quantile_band": list(self.quantile_band)},
            "n_rows": self.n_rows_,
            "columns": [c.to_dict() for c in self.columns_.values()],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Expectations:
        try:
            params = dict(data.get("params", {}))
            if "quantile_band" in params:
                params["quantile_band"] = tuple(params["quantile_band"])
            suite = cls(**params)
            fields = {f.name for f in dataclasses.fields(ColumnExpectation)}
            columns = {}
            for c in data["columns"]:
                unknown = set(c) - fields
                if unknown:
                    raise MonitoringError(
                        f"unknown expectation fields {sorted(unknown)} for column {c.get('name')!r}"
                    )
                columns[str(c["name"])] = ColumnExpectation(**c)
        except (KeyError, TypeError) as exc:
            raise MonitoringError(f"not an expectations document: {exc}") from None
        suite.columns_ = columns
        suite.n_rows_ = data.get("n_rows")
        return suite

    def to_json(self, path: str | Path | None = None) -> str | None:
        """The suite as text, or written to ``path`` (then ``None`` is returned, as in pandas)."""
        text = json.dumps(self.to_dict(), indent=2)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
            return None
        return text

    @classmethod
    def from_json(cls, text_or_path: str | Path) -> Expectations:
        return cls.from_dict(json.loads(_read(text_or_path)))

    def to_yaml(self, path: str | Path | None = None) -> str | None:
        """The suite as text, or written to ``path`` (then ``None`` is returned, as in pandas)."""
        import yaml

        text = yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
            return None
        return text

    @classmethod
    def from_yaml(cls, text_or_path: str | Path) -> Expectations:
        import yaml

        return cls.from_dict(yaml.safe_load(_read(text_or_path)))

    def save(self, name: str, run=None, model=None) -> int:
        """Keep this suite in the workspace as ``name`` (a new version each time), linked to a
        run (default: the active run) and/or a model version; return its id."""
        from ..config import get_settings
        from ..store import get_store
        from ..tracking import _validate as v
        from ._links import model_version_of, run_id_of

        name = v.key("expectations name", name)
        store = get_store(get_settings())
        run_id = run_id_of(store, run)
        model_name, model_version = model_version_of(model)
        document = self.to_json()
        suite_id = store.monitoring.add_suite(
            {
                "name": name,
                "created_at": time.time(),
                "run_id": run_id,
                "model_name": model_name,
                "model_version": model_version,
                "document": document,
            }
        )
        if run_id is not None:
            digest, size = store.artifacts.put_bytes(document.encode("utf-8"))
            store.meta.add_artifacts(
                run_id,
                [
                    {
                        "name": f"expectations/{name}.json",
                        "digest": digest,
                        "size": size,
                        "media_type": "application/json",
                        "created_at": time.time(),
                    }
                ],
            )
        return suite_id

    @classmethod
    def load(cls, name: str) -> Expectations:
        """The newest suite saved as ``name``."""
        from .. import _args
        from ..config import get_settings
        from ..store import get_store

        _args.text(name, "load_expectations(name=...)")
        row = get_store(get_settings()).monitoring.suite(name)
        return cls.from_json(row["document"])

    def to_pandera(self):
        """The same checks as a ``pandera`` DataFrameSchema (needs ``pip install pandera``)."""
        try:
            import pandera.pandas as pa
        except ImportError:
            raise MonitoringError("to_pandera needs pandera: pip install pandera") from None
        self._check_fitted()
        columns = {}
        for name, exp in self.columns_.items():
            checks = []
            if exp.min is not None and exp.dtype in ("integer", "float"):
                checks.append(pa.Check.ge(exp.min))
            if exp.max is not None and exp.dtype in ("integer", "float"):
                checks.append(pa.Check.le(exp.max))
            if exp.allowed is not None:
                checks.append(pa.Check.isin(exp.allowed))
            columns[name] = pa.Column(
                checks=checks,
                nullable=bool(exp.max_null_share),
                unique=exp.unique,
                required=True,
            )
        return pa.DataFrameSchema(columns)


def _read(text_or_path: str | Path) -> str:
    if isinstance(text_or_path, Path) or (
        isinstance(text_or_path, str)
        and "\n" not in text_or_path
        and Path(text_or_path).suffix in (".json", ".yaml", ".yml")
        and Path(text_or_path).exists()
    ):
        return Path(text_or_path).read_text(encoding="utf-8")
    return str(text_or_path)


def _row(
    column: str,
    check: str,
    expected: Any,
    observed: Any,
    passed: bool,
    failing: int,
    examples: list | None = None,
) -> dict[str, Any]:
    return {
        "column": column,
        "check": check,
        "expected": expected,
        "observed": observed,
        "passed": bool(passed),
        "failing_count": int(failing),
        "examples": list(examples or []),
    }


def _examples(values) -> list:
    return [_plain(x) for x in list(values[:EXAMPLES])]


def _to_comparable(series, family: str):
    import pandas as pd

    if family == "datetime":
        return pd.to_datetime(series, errors="coerce", utc=True)
    return pd.to_numeric(series, errors="coerce")


def _bound(value: Any, family: str):
    import pandas as pd

    if family == "datetime":
        return (
            pd.Timestamp(value).tz_localize("UTC")
            if pd.Timestamp(value).tzinfo is None
            else pd.Timestamp(value).tz_convert("UTC")
        )
    return value


def _range_row(exp: ColumnExpectation, series, missing) -> dict[str, Any]:
    import pandas as pd

    present = ~missing.to_numpy()
    n_values = int(present.sum())
    if (
        exp.dtype != "datetime"
        and pd.api.types.is_numeric_dtype(series.dtype)
        and not (pd.api.types.is_bool_dtype(series.dtype))
    ):
        # Fast path: one pass of numpy comparisons over the whole column (NaN compares False).
        numbers = series.to_numpy(dtype=float, na_value=np.nan)
        outside = np.zeros(len(numbers), dtype=bool)
        if exp.min is not None:
            outside |= numbers < exp.min
        if exp.max is not None:
            outside |= numbers > exp.max
        observed = (
            f"[{_plain(np.nanmin(numbers))}, {_plain(np.nanmax(numbers))}]"
            if n_values
            else "no values"
        )
        shown = series[outside]
    else:
        values = series[present]
        comparable = _to_comparable(values, exp.dtype)
        out = comparable.isna()  # not a number (or date) at all
        if exp.min is not None:
            out |= comparable < _bound(exp.min, exp.dtype)
        if exp.max is not None:
            out |= comparable > _bound(exp.max, exp.dtype)
        outside = out.to_numpy()
        observed = (
            f"[{_plain(comparable.min())}, {_plain(comparable.max())}]" if n_values else "no values"
        )
        shown = values[outside]
    count = int(outside.sum())
    share = count / n_values if n_values else 0.0
    return _row(
        exp.name,
        "range",
        f"[{_plain(exp.min)}, {_plain(exp.max)}]",
        observed,
        share <= exp.max_out_of_range_share,
        count,
        _examples(shown),
    )


def _allowed_row(exp: ColumnExpectation, series, missing) -> dict[str, Any]:
    import pandas as pd

    allowed = list(exp.allowed or [])
    if isinstance(series.dtype, pd.CategoricalDtype):
        # Check each category once, then count through the integer codes.
        codes = series.cat.codes.to_numpy()
        bad_category = ~series.cat.categories.astype(object).isin(allowed)
        used = np.bincount(codes[codes >= 0], minlength=len(bad_category)) > 0
        bad = (codes >= 0) & bad_category[np.maximum(codes, 0)]
        unseen = list(series.cat.categories[bad_category & used])
    else:
        values = series[~missing.to_numpy()].astype(object)
        flags = ~values.isin(allowed)
        bad = flags.to_numpy()
        unseen = list(pd.unique(values[bad]))
    count = int(bad.sum())
    return _row(
        exp.name,
        "allowed values",
        f"{len(allowed)} values",
        f"{len(unseen)} other values" if count else "all allowed",
        count == 0,
        count,
        _examples(unseen),
    )


def _check_column(exp: ColumnExpectation, series) -> list[dict[str, Any]]:
    import pandas as pd

    rows = []
    n = len(series)
    family = dtype_family(series.dtype)
    if exp.dtype is not None:
        ok = family in _ACCEPTS.get(exp.dtype, {exp.dtype})
        rows.append(
            _row(exp.name, "dtype", exp.dtype, f"{family} ({series.dtype})", ok, 0 if ok else n)
        )
    missing = series.isna()
    if exp.max_null_share is not None:
        count = int(missing.sum())
        share = count / n if n else 0.0
        rows.append(
            _row(
                exp.name,
                "null share",
                f"≤ {exp.max_null_share:.4g}",
                round(share, 6),
                share <= exp.max_null_share + 1e-12,
                count if share > exp.max_null_share else 0,
                _examples(series.index[missing.to_numpy()]),
            )
        )
    if (exp.min is not None or exp.max is not None) and exp.dtype in (
        "integer",
        "float",
        "datetime",
    ):
        rows.append(_range_row(exp, series, missing))
    if exp.allowed is not None:
        rows.append(_allowed_row(exp, series, missing))
    values = series[~missing] if exp.unique else series
    if exp.unique:
        dup = values.duplicated(keep=False)
        count = int(dup.sum())
        rows.append(
            _row(
                exp.name,
                "unique",
                "no duplicates",
                f"{count} duplicated rows" if count else "unique",
                count == 0,
                count,
                _examples(pd.unique(values[dup.to_numpy()])),
            )
        )
    return rows


class ValidationResult:
    """The outcome of :func:`validate`: ``table`` has one row per check with ``column, check,
    expected, observed, passed, failing_count, examples``."""

    COLUMNS = ["column", "check", "expected", "observed", "passed", "failing_count", "examples"]

    def __init__(self, table: pd.DataFrame, n_rows: int):
        self.table = table
        self.n_rows = n_rows

    @property
    def passed(self) -> bool:
        return bool(self.table["passed"].all())

    @property
    def failures(self) -> pd.DataFrame:
        return self.table[~self.table["passed"]].reset_index(drop=True)

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        failures = self.failures
        head = (
            f"<ValidationResult {'PASSED' if self.passed else 'FAILED'}: "
            f"{len(self.table) - len(failures)} of {len(self.table)} checks passed on "
            f"{self.n_rows:,} rows>"
        )
        lines = [head] + [
            f"  {r.column}: {r.check} expected {r.expected}, observed {r.observed} "
            f"({r.failing_count} rows; e.g. {r.examples[:3]})"
            for r in failures.itertuples(index=False)
        ]
        return "\n".join(lines)

    def error(self) -> SchemaViolation:
        failures = self.failures
        missing = list(failures.loc[failures["check"] == "present", "column"])
        mistyped = {
            r.column: (str(r.expected), str(r.observed))
            for r in failures.itertuples(index=False)
            if r.check == "dtype"
        }
        unknown = {
            r.column: list(r.examples)
            for r in failures.itertuples(index=False)
            if r.check == "allowed values"
        }
        listed = "; ".join(
            f"{r.column}: {r.check} (expected {r.expected}, observed {r.observed}, "
            f"{r.failing_count} row{'' if r.failing_count == 1 else 's'})"
            for r in failures.itertuples(index=False)
        )
        return SchemaViolation(
            f"{len(failures)} expectation check{'' if len(failures) == 1 else 's'} failed: "
            f"{listed}. Fix the data, or edit the "
            "expectations if the change is intended",
            missing=missing,
            mistyped=mistyped,
            unknown_categories=unknown,
        )

    def _repr_html_(self) -> str:
        import html

        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.COLUMNS)
        body = []
        for row in self.table.itertuples(index=False):
            style = "" if row.passed else ' style="background:#fde8e4"'
            cells = "".join(f"<td>{html.escape(str(v))}</td>" for v in row)
            body.append(f"<tr{style}>{cells}</tr>")
        verdict = (
            "passed"
            if self.passed
            else f"{len(self.failures)} check{'' if len(self.failures) == 1 else 's'} failed"
        )
        return (
            f"<p><b>Validation {html.escape(verdict)}</b> on {self.n_rows:,} rows</p>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        )


def expectations_from(
    reference: pd.DataFrame, engine: str | None = None, scheduler: Any = None, **params: Any
) -> Expectations:
    """Learn :class:`Expectations` from ``reference`` (options as in ``Expectations(...)``;
    ``engine`` and ``scheduler`` for data larger than memory, as in ``validate``)."""
    return Expectations(**params).fit(reference, engine=engine, scheduler=scheduler)


def validate(
    data: pd.DataFrame,
    expectations: Expectations | dict | str,
    raise_on_failure: bool = False,
    engine: str | None = None,
    scheduler: Any = None,
) -> ValidationResult:
    """Check ``data`` against ``expectations`` (an object, its dict, or a saved name);
    ``raise_on_failure=True`` raises :class:`~nbmlops.errors.SchemaViolation` listing every
    failed check."""
    if isinstance(expectations, str):
        expectations = Expectations.load(expectations)
    elif isinstance(expectations, dict):
        expectations = Expectations.from_dict(expectations)
    elif not isinstance(expectations, Expectations):
        raise MonitoringError(
            "expectations is an Expectations object, its dict, or the name of saved ones, "
            f"got {type(expectations).__name__}"
        )
    return expectations.validate(
        data, raise_on_failure=raise_on_failure, engine=engine, scheduler=scheduler
    )


def load_expectations(name: str) -> Expectations:
    """The newest expectations saved in the workspace as ``name``."""
    return Expectations.load(name)
