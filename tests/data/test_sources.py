"""Out-of-core data: every accepted input kind gives the in-memory drift verdicts, statistics and
validation counts, on DuckDB and on a Dask LocalCluster of two workers."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pyarrow.dataset as ds
import pytest

import nbmlops
from nbmlops.data import as_source
from nbmlops.data.source import require_engine_versions
from nbmlops.errors import DataSourceError, MonitoringError, UnsupportedData
from nbmlops.monitoring.drift import drift_report
from nbmlops.monitoring.expectations import expectations_from, validate


def _engines_supported() -> bool:
    try:
        require_engine_versions()
    except DataSourceError:
        return False
    return True


# The out-of-core engines need newer DuckDB and pyarrow than the in-memory path (see
# nbmlops.data.source.MINIMUM_VERSIONS); the lower-bounds CI run checks the refusal instead.
pytestmark = pytest.mark.skipif(
    not _engines_supported(), reason="DuckDB/pyarrow older than the out-of-core engines need"
)


def _frame(n: int, shift: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "x": rng.normal(shift, 1, n),
            "k": rng.integers(0, 4, n),
            "s": rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2] if not shift else None),
            "t": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 10**6, n), "s"),
        }
    )
    frame.loc[3, "x"] = np.nan
    frame.loc[4, "x"] = np.inf
    return frame


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    """A small reference (KS picked: exact) and a larger current frame, as files too."""
    folder = tmp_path_factory.mktemp("ooc")
    ref, cur = _frame(700, 0.0, 1), _frame(12_000, 0.15, 2)
    ref.to_parquet(folder / "ref.parquet")
    (folder / "cur").mkdir()
    for i, part in enumerate(np.array_split(np.arange(len(cur)), 3)):
        cur.iloc[part].to_parquet(folder / "cur" / f"part-{i}.parquet", index=False)
    cur.to_csv(folder / "cur.csv", index=False)
    return ref, cur, folder


def _same_report(expected, got, bound: bool = False) -> None:
    assert [c["column"] for c in got.columns] == [c["column"] for c in expected.columns]
    for e, g in zip(expected.columns, got.columns, strict=True):
        assert g["method"] == e["method"], e["column"]
        assert g["drifted"] == e["drifted"], e["column"]
        assert g["psi"] == pytest.approx(e["psi"], rel=1e-9, abs=1e-12), e["column"]
        assert (g["n_reference"], g["n_current"]) == (e["n_reference"], e["n_current"])
        if e["p_value"] is not None:
            assert g["p_value"] == pytest.approx(e["p_value"], rel=1e-9, abs=1e-300)
        if bound and e["method"] == "wasserstein":
            note = next(n for n in g["notes"] if n.startswith("approximate: Wasserstein"))
            limit = float(note.split("± ")[1].split(" ")[0])
            assert abs(g["statistic"] - e["statistic"]) <= limit + 1e-12, note
        else:
            assert g["statistic"] == pytest.approx(e["statistic"], rel=1e-9), e["column"]


@pytest.mark.parametrize("kind", ["file", "folder", "glob", "relation", "arrow", "frame"])
def test_every_input_kind_gives_the_in_memory_report_on_duckdb(workspace, frames, kind):
    ref, cur, folder = frames
    # every column kind through one input kind; two columns through the others (CI time)
    columns = None if kind == "folder" else ["x", "s"]
    expected = drift_report(ref, cur, columns=columns)
    con = duckdb.connect()
    current = {
        "file": str(folder / "cur" / "part-0.parquet"),
        "folder": str(folder / "cur"),
        "glob": str(folder / "cur" / "*.parquet"),
        "relation": con.sql(f"SELECT * FROM read_parquet('{folder / 'cur' / '*.parquet'}')"),
        "arrow": ds.dataset(str(folder / "cur"), format="parquet"),
        "frame": cur,
    }[kind]
    if kind == "file":
        expected = drift_report(ref, pd.read_parquet(current), columns=columns)
    got = drift_report(
        str(folder / "ref.parquet"), current, columns=columns, engine="duckdb", progress=False
    )
    assert got.options["engine"] == "duckdb"
    _same_report(expected, got)
    # KS on ≤ 1000 reference values is exact out of core too (no approximation note)
    assert not any("approximate" in n for c in got.columns for n in c["notes"])


def test_csv_and_large_reference_with_bounded_wasserstein(workspace, frames):
    ref, cur, folder = frames
    big_ref = _frame(3000, 0.0, 5)
    big_ref.to_parquet(folder / "big_ref.parquet")
    expected = drift_report(big_ref, cur)
    got = drift_report(folder / "big_ref.parquet", str(folder / "cur.csv"), progress=False)
    assert {c["method"] for c in got.columns} == {"wasserstein", "jensenshannon"}
    _same_report(expected, got, bound=True)
    assert got.to_json()  # the report serializes like any other


def test_dask_dataframe_and_path_on_a_local_cluster(workspace, frames, dask_client):
    import dask.dataframe as dd

    ref, cur, folder = frames
    columns = ["x", "s"]
    expected = drift_report(ref[columns], cur[columns])
    current = dd.from_pandas(cur[columns], npartitions=3)
    reference = dd.read_parquet(str(folder / "ref.parquet"), columns=columns)
    got = drift_report(reference, current, scheduler=dask_client, progress=False)
    assert got.options["engine"] == "dask"
    _same_report(expected, got)


def test_validation_counts_equal_in_memory_on_both_engines(workspace, frames, dask_client):
    ref, cur, folder = frames
    bad = cur.copy()
    bad.loc[:40, "x"] = 50.0
    bad.loc[100:130, "s"] = "zz"
    bad.loc[7, "t"] = pd.Timestamp("2031-01-01")
    bad.to_parquet(folder / "bad.parquet")
    expectations = expectations_from(ref, quantile_band=(0.01, 0.99))
    learned = expectations_from(str(folder / "ref.parquet"), quantile_band=(0.01, 0.99))
    assert {c: e.to_dict() for c, e in learned.columns_.items()} == {
        c: e.to_dict() for c, e in expectations.columns_.items()
    }
    expected = validate(bad, expectations).table[["column", "check", "passed", "failing_count"]]
    for engine, scheduler in (("duckdb", None), ("dask", dask_client)):
        got = validate(
            str(folder / "bad.parquet"), expectations, engine=engine, scheduler=scheduler
        )
        table = got.table[["column", "check", "passed", "failing_count"]]
        pd.testing.assert_frame_equal(table, expected, check_dtype=False)
        assert not got.passed and got.n_rows == len(bad)


def test_exact_order_statistics_on_both_engines(workspace, dask_client):
    rng = np.random.default_rng(7)
    values = np.concatenate([rng.normal(0, 1e6, 4000), [-0.0, 0.0, -1e-300, 5.0, 5.0, 5.0]])
    frame = pd.DataFrame({"v": values})
    ranks = np.array([0, 1, 17, 2000, 4001, len(values) - 1])
    expected = np.sort(values)[ranks]
    for engine, scheduler in (("duckdb", None), ("dask", dask_client)):
        src = as_source(frame, engine=engine, scheduler=scheduler, progress=False)
        np.testing.assert_array_equal(src.order_stats({"v": ranks})["v"], expected)
        src.close()


def test_exact_order_statistics_with_many_ranks_use_narrower_digits(workspace, dask_client):
    """Thousands of ranks at once (an ECDF, bins and bands over many partitions): the radix
    digit narrows so the merged counts stay bounded, and every rank is still exact."""
    import dask.dataframe as dd

    from nbmlops.data._dask import BUCKETS, DaskSource

    rng = np.random.default_rng(8)
    values = np.concatenate(
        [rng.lognormal(0, 3, 15_000), -rng.random(4_000), np.repeat([2.5, -0.0, 0.0], 300)]
    )
    frame = dd.from_pandas(pd.DataFrame({"v": rng.permutation(values)}), npartitions=5)
    ranks = np.arange(0, len(values), 7)
    assert BUCKETS // len(ranks) < 1 << 16  # too many prefixes for 16-bit digits
    src = DaskSource(frame, dask_client, "many", progress=False)
    np.testing.assert_array_equal(src.order_stats({"v": ranks})["v"], np.sort(values)[ranks])


def test_unsupported_inputs_and_missing_paths_are_clear_errors(workspace, tmp_path):
    with pytest.raises(UnsupportedData, match="got a list"):
        drift_report([1, 2, 3], "x.parquet")
    with pytest.raises(DataSourceError, match="no Parquet or CSV file"):
        drift_report(str(tmp_path / "nothing" / "*.parquet"), pd.DataFrame({"a": [1]}))
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(DataSourceError, match="Parquet"):
        as_source(str(tmp_path / "notes.txt"))
    with pytest.raises(DataSourceError, match="unknown engine"):
        as_source(pd.DataFrame({"a": [1]}), engine="spark")
    frame = pd.DataFrame({"a": [1.0, 2.0], "g": ["x", "y"]})
    frame.to_parquet(tmp_path / "a.parquet")
    with pytest.raises(MonitoringError, match="segments are computed on in-memory frames"):
        drift_report(str(tmp_path / "a.parquet"), frame, segments=["g"])


def test_memory_limit_and_spill_directory_are_settings(workspace, tmp_path, capsys):
    nbmlops.configure(duckdb_memory_limit="300MB", duckdb_temp_directory=str(tmp_path / "s"))
    src = as_source(pd.DataFrame({"a": np.arange(10.0)}))
    limit, temp = src.con.execute(
        "SELECT current_setting('memory_limit'), current_setting('temp_directory')"
    ).fetchall()[0]
    assert limit.replace(" ", "").upper().startswith(("286", "300"))  # MiB or MB as DuckDB shows
    assert temp == str(tmp_path / "s")
    src.profile(["a"])  # a pass over the data shows a tqdm bar
    assert "profile (duckdb)" in capsys.readouterr().err
    src.close()
    nbmlops.configure(duckdb_memory_limit="lots")
    with pytest.raises(DataSourceError, match="memory limit 'lots'"):
        as_source(pd.DataFrame({"a": [1.0]}))


def test_a_pandas_index_stored_in_parquet_is_not_a_column(workspace, tmp_path):
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0]}, index=[10, 20, 30])
    frame.to_parquet(tmp_path / "indexed.parquet")  # pandas 2 stores __index_level_0__
    src = as_source(str(tmp_path / "indexed.parquet"), progress=False)
    assert src.columns == ["a"]
    src.close()


def test_dask_reads_parquet_in_pieces_of_whole_row_groups_and_never_fuses_them(
    workspace, frames, dask_client, monkeypatch
):
    """Each Dask partition of a Parquet input is a run of whole row groups of at most
    PIECE_ROWS rows; reading one column keeps that partitioning (dd.read_parquet fused 1/share
    files per task, so one-column passes held many files' rows at once and killed workers)."""
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    from nbmlops.data import _dask

    ref, cur, folder = frames
    pq.write_table(
        pa.Table.from_pandas(cur, preserve_index=False),
        folder / "grouped.parquet",
        row_group_size=2_000,
    )  # 6 groups
    monkeypatch.setattr(_dask, "PIECE_ROWS", 4_500)  # two groups a piece
    for given in (str(folder / "grouped.parquet"), ds.dataset(str(folder / "grouped.parquet"))):
        src = as_source(given, engine="dask", scheduler=dask_client, progress=False)
        assert src.frame.npartitions == 3
        assert src.frame[["x"]].optimize().npartitions == 3
        sizes = src._each(len, "rows", columns=["x"])  # what every pass runs on
        assert sizes == [4_000, 4_000, 4_000]
        finite = np.sort(cur["x"][np.isfinite(cur["x"])].to_numpy())
        np.testing.assert_array_equal(src.values("x"), finite)
        assert src.num_rows == len(cur)
        src.close()
    monkeypatch.setattr(_dask, "PIECE_ROWS", 1_500)  # each 2,000-row group in two slices
    src = as_source(str(folder / "grouped.parquet"), engine="dask", scheduler=dask_client)
    assert src._each(len, "rows", columns=["x", "s"]) == [1_000] * 12
    np.testing.assert_array_equal(src.values("x"), finite)
    got = src.frame[["x", "s"]].compute(scheduler=dask_client).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, cur[["x", "s"]].reset_index(drop=True), check_dtype=False)
    src.close()


def test_a_pandas_index_stored_in_parquet_is_not_a_column_on_dask(workspace, tmp_path, dask_client):
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0]}, index=[10, 20, 30])
    frame.to_parquet(tmp_path / "indexed.parquet")
    src = as_source(str(tmp_path / "indexed.parquet"), engine="dask", scheduler=dask_client)
    assert src.columns == ["a"] and src.num_rows == 3
    src.close()
