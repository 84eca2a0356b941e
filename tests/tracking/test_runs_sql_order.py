"""runs(order_by=..., limit=n) without a filter sorts in SQL and reads only n runs; the
answer equals the pandas path's (the oracle: the same call without a limit, then head)."""

from __future__ import annotations

import random

import pandas as pd
import pytest

import nbmlops
from nbmlops.store import get_store

ORDERS = [
    None,
    "metrics.acc DESC",
    "metrics.acc",
    "metrics.loss DESC, start_time",
    "duration_s DESC",
    ["metrics.loss", "metrics.acc DESC"],
    "start_time",
]


@pytest.fixture
def populated(backend):
    rng = random.Random(7)
    for i in range(30):
        with nbmlops.start_run(name=f"r{i}" if i % 4 else None, tags={"t": str(i % 3)}) as run:
            run.log_param("p", rng.choice([1, 0.5, "a", None, True]))
            if i % 5:
                run.log_metric("acc", rng.choice([0.1, 0.5, 0.9, float("nan")]))
            if i % 3:
                run.log_metric("loss", rng.random())
    return backend


def test_sql_page_equals_the_pandas_answer(populated, monkeypatch):
    meta = get_store().meta
    real = type(meta).list_runs
    reads = []

    def spy(self, experiment=None, run_ids=None, keys=None):
        reads.append(run_ids)
        return real(self, experiment, run_ids, keys)

    for order_by in ORDERS:
        full = nbmlops.runs(order_by=order_by)
        for limit in (0, 1, 7, 100):
            reads.clear()
            with monkeypatch.context() as m:
                m.setattr(type(meta), "list_runs", spy)
                page = nbmlops.runs(order_by=order_by, limit=limit)
            if limit:  # only the page's runs were read
                assert reads and all(ids is not None and len(ids) <= limit for ids in reads)
            expected = full.head(limit).reset_index(drop=True)
            # Same rows, order, columns and values. The dtype of a text or params column is
            # inferred from the values it holds, so it may differ for a few rows (int64 rather
            # than object, an all-missing str column as object on pandas 3): values are
            # compared as objects.
            assert list(page.columns) == list(expected.columns), (order_by, limit)
            pd.testing.assert_frame_equal(_as_objects(page), _as_objects(expected))
            for column in page.columns:
                if column.startswith("metrics.") or column in ("start_time", "duration_s"):
                    assert page[column].dtype == expected[column].dtype, column


def _as_objects(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.astype(object)
    return out.where(frame.notna(), None)


def test_text_and_params_orders_page_like_the_whole_table(populated):
    # A params column's dtype is inferred from the rows read (see above): compared as objects.
    for order_by in ("name", "params.p DESC", "tags.t"):
        expected = nbmlops.runs(order_by=order_by).head(5).reset_index(drop=True)
        page = nbmlops.runs(order_by=order_by, limit=5)
        pd.testing.assert_frame_equal(_as_objects(page), _as_objects(expected))
    # A key no run has orders nothing, as in MLflow: newest first, on both paths.
    pd.testing.assert_frame_equal(
        nbmlops.runs(order_by="metrics.nope", limit=3),
        nbmlops.runs(order_by="metrics.nope").head(3).reset_index(drop=True),
    )
    with pytest.raises(nbmlops.errors.InvalidFilter, match="no attribute"):
        nbmlops.runs(order_by="nope", limit=3)
