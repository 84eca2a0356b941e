"""``as_source``: any accepted input as a :class:`DataSource` on DuckDB or Dask.

Every operation of a source is an aggregate: what comes back is a handful of numbers per
column (counts, bounds, moments, order statistics, bin counts, value counts), never the rows.
"""

from __future__ import annotations

import os
from typing import Any

from ..errors import DataSourceError
from ._base import DataSource

ENGINES = ("duckdb", "dask")

# The oldest versions the out-of-core engines are tested with. Older DuckDB bins histograms
# differently (verdicts would differ from the in-memory path) and older pyarrow refuses the
# filters DuckDB pushes into a dataset; the in-memory path keeps pyproject's lower bounds.
MINIMUM_VERSIONS = {"duckdb": (2, 0), "pyarrow": (18, 0)}


def require_engine_versions() -> None:
    """Raise :class:`DataSourceError` naming the upgrade when DuckDB or pyarrow is too old for
    data that is not an in-memory DataFrame."""
    from importlib.metadata import version

    for package, minimum in MINIMUM_VERSIONS.items():
        found = version(package)
        numbers = tuple(int(part) for part in found.split(".")[:2] if part.isdigit())
        if numbers < minimum:
            wanted = ".".join(map(str, minimum))
            raise DataSourceError(
                f"data given by path, URL, relation, dataset or Dask needs {package} >= "
                f"{wanted} (installed: {found}); upgrade with pip install -U '{package}>={wanted}'"
                " or pass a pandas DataFrame"
            )


def is_out_of_core(data: Any) -> bool:
    """True for the inputs that are not an in-memory pandas DataFrame."""
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return False
    if isinstance(data, (str, os.PathLike)):
        return True
    kind = type(data)
    module = kind.__module__ or ""
    return (
        module.startswith("duckdb")
        or module.startswith("pyarrow")
        or module.startswith("dask")
        or kind.__name__ in ("DuckDBPyRelation", "FileSystemDataset", "Dataset")
    )


def as_source(
    data: Any,
    argument: str = "data",
    engine: str | None = None,
    scheduler: Any = None,
    progress: bool | None = None,
) -> DataSource:
    """``data`` as a :class:`DataSource`.

    ``engine`` is ``"duckdb"`` or ``"dask"``; by default Dask for a Dask DataFrame (or when a
    ``scheduler`` is given) and DuckDB for everything else. ``scheduler`` is what the pipeline
    executor takes: a ``distributed.Client``, a scheduler address, or ``None`` (the session's
    client, else a local cluster). ``progress`` shows tqdm bars (default: on).
    """
    if isinstance(data, DataSource):
        return data
    if engine is None:
        is_dask = type(data).__module__.startswith("dask")
        engine = "dask" if is_dask or scheduler is not None else "duckdb"
    if engine not in ENGINES:
        raise DataSourceError(f"unknown engine {engine!r}: use one of {', '.join(ENGINES)}")
    require_engine_versions()
    show = True if progress is None else bool(progress)
    if engine == "duckdb":
        if scheduler is not None:
            raise DataSourceError("a scheduler is only used with engine='dask'")
        from . import _duck

        return _duck.source(data, argument, show)
    from . import _dask

    return _dask.source(data, argument, scheduler, show)
