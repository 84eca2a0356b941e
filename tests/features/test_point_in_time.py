"""Point-in-time joins against a pure-Python oracle of Feast's semantics, and merge_asof.

Semantics: same keys; feature time <= entity time and >= entity time - TTL (both inclusive);
latest event wins; ties broken by the greatest created timestamp (missing = oldest), then by
write order; no match -> null and the entity row is kept; no TTL -> no lower bound.
"""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nbmlops
from nbmlops.errors import FeatureError, FeatureNameCollision
from nbmlops.features import Entity, FeatureView, Field

T0 = pd.Timestamp("2024-03-01 12:00:00")
S = pd.Timedelta(seconds=1)
customer = Entity("customer", join_keys="customer_id")


def _view(name="stats", ttl=dt.timedelta(hours=1), created=False, fields=("a", "b")):
    return FeatureView(
        name,
        customer,
        [Field(f, "float64") for f in fields],
        timestamp="ts",
        created_timestamp="created" if created else None,
        ttl=ttl,
    )


def oracle(entity_df: pd.DataFrame, writes: list[pd.DataFrame], view: FeatureView) -> pd.DataFrame:
    """The expected feature values, one entity row at a time, in plain Python."""
    rows = []
    for w, frame in enumerate(writes):
        for r, rec in enumerate(frame.to_dict("records")):
            rows.append((rec, (w, r)))
    ttl = None if view.ttl is None else pd.Timedelta(seconds=view.ttl)
    out = []
    for ent in entity_df.to_dict("records"):
        t = pd.Timestamp(ent["event_timestamp"])
        best, best_order = None, None
        for rec, seq in rows:
            if rec["customer_id"] != ent["customer_id"]:
                continue
            ts = pd.Timestamp(rec["ts"])
            if ts > t or (ttl is not None and ts < t - ttl):
                continue
            created = rec.get("created")
            created_key = (
                (0, pd.Timestamp.min)
                if created is None or pd.isna(created)
                else (1, pd.Timestamp(created))
            )
            order = (ts, created_key, seq)
            if best_order is None or order > best_order:
                best, best_order = rec, order
        out.append({f: (np.nan if best is None else best[f]) for f in view.feature_names})
    return pd.DataFrame(out, index=entity_df.index, columns=view.feature_names)


def run(fs, view, writes, entity_df, **kwargs):
    fs.apply(view)
    for frame in writes:
        fs.ingest(view, frame)
    refs = [f"{view.name}:{f}" for f in view.feature_names]
    return fs.get_historical_features(entity_df, refs, **kwargs)


def assert_matches_oracle(result, entity_df, writes, view):
    expected = oracle(entity_df, writes, view)
    pd.testing.assert_frame_equal(result[view.feature_names], expected, check_dtype=False)
    # the entity frame comes back unchanged, in its order, with its index
    pd.testing.assert_frame_equal(result[list(entity_df.columns)], entity_df)


def merge_asof_reference(entity_df, features, view):
    """pandas.merge_asof with the same semantics (valid without created-time ties)."""
    left = entity_df.reset_index().rename(columns={"index": "__pos"})
    left["__order"] = np.arange(len(left))
    merged = pd.merge_asof(
        left.sort_values("event_timestamp"),
        features.sort_values("ts"),
        left_on="event_timestamp",
        right_on="ts",
        by="customer_id",
        direction="backward",
        allow_exact_matches=True,
        tolerance=None if view.ttl is None else pd.Timedelta(seconds=view.ttl),
    )
    merged = merged.sort_values("__order")
    return merged[view.feature_names].set_axis(entity_df.index)


def _features(rows):
    return pd.DataFrame(rows, columns=["customer_id", "ts", "a", "b"])


def test_exact_entity_time_and_exact_ttl_boundary_match(fs):
    view = _view(ttl=dt.timedelta(hours=1))
    feats = _features([(1, T0, 1.0, 10.0), (2, T0 - pd.Timedelta(hours=1), 2.0, 20.0)])
    entity = pd.DataFrame({"customer_id": [1, 2], "event_timestamp": [T0, T0]})
    result = run(fs, view, [feats], entity)
    assert result["a"].tolist() == [1.0, 2.0]  # at entity time, and exactly TTL before
    assert_matches_oracle(result, entity, [feats], view)
    pd.testing.assert_frame_equal(
        result[["a", "b"]], merge_asof_reference(entity, feats, view), check_dtype=False
    )


def test_one_second_outside_ttl_is_null_but_row_kept(fs):
    view = _view(ttl=dt.timedelta(hours=1))
    feats = _features([(1, T0 - pd.Timedelta(hours=1) - S, 1.0, 10.0)])
    entity = pd.DataFrame({"customer_id": [1], "event_timestamp": [T0]})
    result = run(fs, view, [feats], entity)
    assert len(result) == 1 and result["a"].isna().all() and result["b"].isna().all()
    assert_matches_oracle(result, entity, [feats], view)


def test_outside_ttl_value_is_not_replaced_by_an_older_one(fs):
    # the latest event before the entity time is stale: no older row may take its place
    view = _view(ttl=dt.timedelta(hours=1))
    feats = _features([(1, T0 - pd.Timedelta(hours=3), 1.0, 1.0), (1, T0 + S, 2.0, 2.0)])
    entity = pd.DataFrame({"customer_id": [1], "event_timestamp": [T0]})
    assert run(fs, view, [feats], entity)["a"].isna().all()


def test_feature_rows_after_entity_time_are_ignored(fs):
    view = _view(ttl=None)
    feats = _features(
        [(1, T0 - S, 1.0, 1.0), (1, T0 + S, 99.0, 99.0), (1, T0 + 1000 * S, 7.0, 7.0)]
    )
    entity = pd.DataFrame({"customer_id": [1, 1], "event_timestamp": [T0, T0 + 2 * S]})
    result = run(fs, view, [feats], entity)
    assert result["a"].tolist() == [1.0, 99.0]
    assert_matches_oracle(result, entity, [feats], view)


def test_entities_without_feature_rows_are_kept_with_nulls(fs):
    view = _view()
    feats = _features([(1, T0, 1.0, 1.0)])
    entity = pd.DataFrame(
        {"customer_id": [5, 1, 6], "event_timestamp": [T0, T0, T0]}, index=["x", "y", "z"]
    )
    result = run(fs, view, [feats], entity)
    assert list(result.index) == ["x", "y", "z"]
    assert result["a"].isna().tolist() == [True, False, True]
    assert_matches_oracle(result, entity, [feats], view)


def test_view_without_any_rows_gives_nulls(fs):
    view = _view()
    fs.apply(view)
    entity = pd.DataFrame({"customer_id": [1], "event_timestamp": [T0]})
    result = fs.get_historical_features(entity, ["stats:a"])
    assert result["a"].isna().all() and len(result) == 1


def test_duplicate_entity_rows_each_get_a_row_in_order(fs):
    view = _view(ttl=None)
    feats = _features([(1, T0 - S, 1.0, 1.0), (2, T0 - S, 2.0, 2.0)])
    entity = pd.DataFrame(
        {"customer_id": [2, 1, 2, 1, 2], "event_timestamp": [T0, T0, T0, T0 - 2 * S, T0]}
    )
    result = run(fs, view, [feats], entity)
    assert result["a"].tolist()[:3] == [2.0, 1.0, 2.0] and np.isnan(result["a"].iloc[3])
    assert_matches_oracle(result, entity, [feats], view)
    pd.testing.assert_frame_equal(
        result[["a", "b"]], merge_asof_reference(entity, feats, view), check_dtype=False
    )


def test_created_timestamp_breaks_ties_then_write_order(fs):
    view = _view(created=True, ttl=None)
    first = pd.DataFrame(
        {
            "customer_id": [1, 1, 2, 3],
            "ts": [T0, T0, T0, T0],
            "created": [T0 + 5 * S, T0 + 9 * S, None, T0],
            "a": [1.0, 2.0, 3.0, 4.0],
            "b": [0.0, 0.0, 0.0, 0.0],
        }
    )
    second = pd.DataFrame(
        {
            "customer_id": [1, 2, 3],
            "ts": [T0, T0, T0],
            "created": [T0 + 9 * S, T0, None],  # tie for 1: later write wins; 2: created wins
            "a": [5.0, 6.0, 7.0],
            "b": [0.0, 0.0, 0.0],
        }
    )
    entity = pd.DataFrame({"customer_id": [1, 2, 3], "event_timestamp": [T0, T0, T0]})
    result = run(fs, view, [first, second], entity)
    assert result["a"].tolist() == [5.0, 6.0, 4.0]
    assert_matches_oracle(result, entity, [first, second], view)


def test_no_ttl_view_has_no_lower_bound(fs):
    view = _view(ttl=None)
    feats = _features([(1, T0 - pd.Timedelta(days=3650), 1.0, 1.0)])
    entity = pd.DataFrame({"customer_id": [1], "event_timestamp": [T0]})
    result = run(fs, view, [feats], entity)
    assert result["a"].tolist() == [1.0]
    pd.testing.assert_frame_equal(
        result[["a", "b"]], merge_asof_reference(entity, feats, view), check_dtype=False
    )


def test_several_views_in_one_call(fs):
    short = _view("short", ttl=dt.timedelta(minutes=1), fields=("a",))
    long = _view("long", ttl=None, fields=("b",))
    f_short = pd.DataFrame(
        {"customer_id": [1, 2], "ts": [T0 - 30 * S, T0 - 120 * S], "a": [1.0, 2.0]}
    )
    f_long = pd.DataFrame({"customer_id": [1, 2], "ts": [T0 - 3000 * S, T0 + S], "b": [3.0, 4.0]})
    fs.apply(short, long)
    fs.ingest(short, f_short)
    fs.ingest(long, f_long)
    entity = pd.DataFrame({"customer_id": [1, 2, 3], "event_timestamp": [T0, T0, T0]})
    result = fs.get_historical_features(entity, ["short:a", "long:b"])
    assert result["a"].tolist()[:1] == [1.0] and result["a"].iloc[1:].isna().all()
    assert result["b"].iloc[0] == 3.0 and result["b"].iloc[1:].isna().all()
    pd.testing.assert_frame_equal(
        result[["a"]], oracle(entity, [f_short], short), check_dtype=False
    )
    pd.testing.assert_frame_equal(result[["b"]], oracle(entity, [f_long], long), check_dtype=False)


def test_name_collision_needs_full_feature_names(fs):
    one, two = _view("one", fields=("a",)), _view("two", fields=("a",))
    fs.apply(one, two)
    fs.ingest(one, pd.DataFrame({"customer_id": [1], "ts": [T0], "a": [1.0]}))
    fs.ingest(two, pd.DataFrame({"customer_id": [1], "ts": [T0], "a": [2.0]}))
    entity = pd.DataFrame({"customer_id": [1], "event_timestamp": [T0]})
    with pytest.raises(FeatureNameCollision, match="full_feature_names=True") as info:
        fs.get_historical_features(entity, ["one:a", "two:a"])
    assert info.value.names == {"a": ["one:a", "two:a"]}
    result = fs.get_historical_features(entity, ["one:a", "two:a"], full_feature_names=True)
    assert result["one__a"].tolist() == [1.0] and result["two__a"].tolist() == [2.0]
    with pytest.raises(FeatureNameCollision, match="entity rows"):
        fs.get_historical_features(entity.assign(a=0), ["one:a"])


def test_timezones_are_compared_in_utc(fs):
    view = _view(ttl=None)
    feats = _features([(1, pd.Timestamp("2024-03-01 12:00", tz="UTC"), 1.0, 1.0)])
    entity = pd.DataFrame(
        {
            "customer_id": [1, 1],
            "event_timestamp": pd.to_datetime(["2024-03-01 12:30+01:00", "2024-03-01 13:00+01:00"]),
        }
    )
    result = run(fs, view, [feats], entity)
    assert np.isnan(result["a"].iloc[0]) and result["a"].iloc[1] == 1.0


def test_bad_entity_frames_get_clear_errors(fs):
    view = _view()
    fs.apply(view)
    fs.ingest(view, _features([(1, T0, 1.0, 1.0)]))
    with pytest.raises(FeatureError, match="lacks columns"):
        fs.get_historical_features(pd.DataFrame({"customer_id": [1]}), ["stats:a"])
    with pytest.raises(FeatureError, match="missing or unreadable timestamps"):
        fs.get_historical_features(
            pd.DataFrame({"customer_id": [1], "event_timestamp": [None]}), ["stats:a"]
        )
    with pytest.raises(FeatureError, match="holds string values"):
        fs.get_historical_features(
            pd.DataFrame({"customer_id": ["1"], "event_timestamp": [T0]}), ["stats:a"]
        )
    with pytest.raises(FeatureError, match="not of the form"):
        fs.get_historical_features(
            pd.DataFrame({"customer_id": [1], "event_timestamp": [T0]}), ["a"]
        )
    with pytest.raises(FeatureError, match="has no field"):
        fs.get_historical_features(
            pd.DataFrame({"customer_id": [1], "event_timestamp": [T0]}), ["stats:zzz"]
        )


def test_training_set_is_recorded_as_run_inputs(fs):
    view = _view()
    fs.apply(view)
    fs.ingest(view, _features([(1, T0, 1.0, 1.0)]))
    entity = pd.DataFrame({"customer_id": [1], "event_timestamp": [T0]})
    with nbmlops.start_run() as run:
        fs.get_historical_features(entity, ["stats:a"], name="train")
    inputs = nbmlops.get_run(run.run_id).inputs
    assert inputs["train"]["digest"] == nbmlops.fingerprint(entity).digest
    assert inputs["feature_view:stats"]["digest"] == view.digest
    assert inputs["feature_view:stats"]["info"]["version"] == 1


_counter = itertools.count()


@pytest.fixture(params=["auto", "duckdb"])
def engine(request, monkeypatch):
    """Both join engines: numpy sort + binary search (the default) and DuckDB's ASOF JOIN."""
    from nbmlops.features import historical

    monkeypatch.setattr(historical, "ENGINE", request.param)
    return request.param


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    data=st.data(),
    ttl=st.sampled_from([None, 1, 5, 30]),
    with_created=st.booleans(),
    n_writes=st.integers(1, 3),
    string_keys=st.booleans(),
)
def test_random_cases_match_the_oracle(fs, engine, data, ttl, with_created, n_writes, string_keys):
    view = _view(f"rand{next(_counter)}", ttl=ttl, created=with_created)
    times = st.integers(0, 40).map(lambda s: T0 + s * S)
    writes = []
    for _ in range(n_writes):
        n = data.draw(st.integers(1, 12))
        frame = pd.DataFrame(
            {
                "customer_id": data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)),
                "ts": data.draw(st.lists(times, min_size=n, max_size=n)),
                "a": data.draw(st.lists(st.floats(-1e6, 1e6), min_size=n, max_size=n)),
                "b": np.arange(n, dtype=float),
            }
        )
        if with_created:
            frame["created"] = data.draw(
                st.lists(st.one_of(st.none(), times), min_size=n, max_size=n)
            )
        writes.append(frame)
    m = data.draw(st.integers(1, 15))
    entity = pd.DataFrame(
        {
            "customer_id": data.draw(st.lists(st.integers(0, 4), min_size=m, max_size=m)),
            "event_timestamp": data.draw(st.lists(times, min_size=m, max_size=m)),
        }
    )
    if string_keys:
        for frame in [*writes, entity]:
            frame["customer_id"] = "c" + frame["customer_id"].astype(str)
    result = run(fs, view, writes, entity)
    assert_matches_oracle(result, entity, writes, view)
    features = pd.concat(writes, ignore_index=True)
    if not with_created and not features.duplicated(["customer_id", "ts"]).any():
        pd.testing.assert_frame_equal(
            result[["a", "b"]], merge_asof_reference(entity, features, view), check_dtype=False
        )


@pytest.mark.parametrize("key_shift", [1, 2**61])
def test_keys_and_times_too_wide_to_pack_still_join(fs, key_shift):
    """Ten years of microseconds beside small keys, and keys 2**61 apart (factorized)."""
    view = _view(ttl=None)
    far = T0 + pd.Timedelta(days=3650)
    writes = [
        _features(
            [
                (key_shift, T0, 1.0, 0.0),
                (0, T0 + S, 2.0, 0.0),
                (key_shift, far - S, 3.0, 0.0),
                (key_shift + 7, T0, 4.0, 0.0),
            ]
        )
    ]
    entity = pd.DataFrame(
        {
            "customer_id": [key_shift, 0, key_shift, key_shift + 7, 5],
            "event_timestamp": [far, far, T0, T0 - S, far],
        }
    )
    result = run(fs, view, writes, entity)
    assert_matches_oracle(result, entity, writes, view)
    assert result["a"].tolist()[:3] == [3.0, 2.0, 1.0]


def test_rows_are_stored_grouped_by_key_and_sorted_by_time(fs):
    view = _view(created=True)
    frame = _features([(2, T0, 1.0, 0.0), (1, T0 + S, 2.0, 1.0), (1, T0, 3.0, 2.0)])
    frame["created"] = [T0, None, T0]
    fs.apply(view)
    written = fs.ingest(view, frame)
    import pyarrow.parquet as pq

    stored = pq.read_table(written.path).to_pandas()
    assert stored["customer_id"].tolist() == [1, 1, 2]
    assert stored["a"].tolist() == [3.0, 2.0, 1.0]
    # __seq keeps the written position: the last written of equal rows still wins
    assert [s & 0xFFFFFFFF for s in stored["__seq"]] == [2, 1, 0]


def test_join_keys_of_another_kind_are_refused(fs):
    view = _view()
    fs.apply(view)
    fs.ingest(view, _features([(1, T0, 1.0, 0.0)]))
    with pytest.raises(FeatureError, match="stores int join keys"):
        fs.ingest(view, _features([("1", T0, 1.0, 0.0)]))
    assert len(fs.records.writes("stats")) == 1


def test_packed_join_ranks_times_when_keys_and_span_do_not_fit():
    """Many keys over a long span: times are ranked; too many for even that: None (DuckDB)."""
    from concurrent.futures import ThreadPoolExecutor

    from nbmlops.features import _asof

    rng = np.random.default_rng(7)
    f_key, e_key = rng.integers(0, 5, 300), rng.integers(-1, 6, 200)
    f_ts = np.sort(rng.integers(0, 2**45, 300))
    e_ts = rng.integers(0, 2**45, 200)
    e_ts[:20] = f_ts[:20]  # exact time matches
    with ThreadPoolExecutor(1) as pool:
        for ttl in (None, 2**40):
            small = _asof.asof_rows(e_key, e_ts, f_key, f_ts, 6, ttl, None, pool)
            ranked = _asof.asof_rows(e_key, e_ts, f_key, f_ts, 2**30, ttl, None, pool)
            expected = []
            for k, t in zip(e_key, e_ts, strict=True):
                hits = [
                    i
                    for i in range(len(f_ts))
                    if f_key[i] == k and f_ts[i] <= t and (ttl is None or f_ts[i] >= t - ttl)
                ]
                expected.append(max(hits, key=lambda i: f_ts[i]) if hits else -1)
            assert small.tolist() == expected and ranked.tolist() == expected
        assert _asof.asof_rows(e_key, e_ts, f_key, f_ts, 2**60, None, None, pool) is None
