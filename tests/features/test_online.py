"""One suite, two online stores (SQLite and a real redis-server): lookups equal the latest
offline values, TTL applied at lookup time, incremental materialization, version switches."""

from __future__ import annotations

import datetime as dt
import time

import numpy as np
import pandas as pd
import pytest

from nbmlops.errors import FeatureError, OnlineStoreError
from nbmlops.features import Entity, FeatureStore, FeatureView, Field

customer = Entity("customer", join_keys="customer_id")
NOW = pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s")


def _view(ttl=None, name="txn", extra=()):
    return FeatureView(
        name,
        customer,
        [
            Field("amount", "float64"),
            Field("count", "int64"),
            Field("vip", "bool"),
            Field("segment", "string"),
            Field("last_seen", "datetime"),
            *extra,
        ],
        timestamp="ts",
        ttl=ttl,
    )


def _rows(rng, n_entities, n_rows):
    start = NOW - pd.Timedelta(days=10)
    ids = rng.integers(0, n_entities, n_rows)
    seconds = rng.integers(0, 10 * 86400, n_rows)
    frame = pd.DataFrame(
        {
            "customer_id": ids,
            "ts": start + pd.to_timedelta(seconds, unit="s"),
            "amount": np.round(rng.normal(50, 20, n_rows), 6),
            "count": rng.integers(0, 100, n_rows),
            "vip": rng.random(n_rows) < 0.3,
            "segment": rng.choice(["a", "b", "c"], n_rows).astype(object),
            "last_seen": start + pd.to_timedelta(rng.integers(0, 1000, n_rows), unit="h"),
        }
    )
    frame.loc[rng.random(n_rows) < 0.1, "amount"] = np.nan
    frame.loc[rng.random(n_rows) < 0.1, "segment"] = None
    return frame


def test_online_equals_latest_offline_for_1000_random_entities(online_fs):
    rng = np.random.default_rng(7)
    view = _view()
    online_fs.apply(view)
    online_fs.ingest(view, _rows(rng, 1500, 6000))
    online_fs.ingest(view, _rows(rng, 1500, 3000))  # a second write overlapping the first
    summary = online_fs.materialize()
    latest = online_fs.offline_rows("txn", latest=True).set_index("customer_id")
    assert summary["rows"].tolist() == [len(latest)]
    wanted = rng.choice(latest.index.to_numpy(), 1000, replace=False)
    entity = pd.DataFrame({"customer_id": wanted})
    online = online_fs.get_online_features(["txn:*"], entity)
    expected = latest.loc[wanted, view.feature_names].reset_index(drop=True)
    pd.testing.assert_frame_equal(online[view.feature_names], expected)
    # one by one, as dicts
    for cid in wanted[:50]:
        one = online_fs.get_online_features(["txn:amount", "txn:segment"], {"customer_id": cid})
        row = latest.loc[cid]
        assert (one["amount"] is None and pd.isna(row["amount"])) or one["amount"] == row["amount"]
        assert (one["segment"] is None and pd.isna(row["segment"])) or one["segment"] == row[
            "segment"
        ]
    # a list of dicts gives lists (Feast's to_dict form), unknown entities as None
    listed = online_fs.get_online_features(
        ["txn:count"], [{"customer_id": int(wanted[0])}, {"customer_id": 10**9}]
    )
    assert listed["customer_id"] == [int(wanted[0]), 10**9]
    assert listed["count"] == [int(latest.loc[wanted[0], "count"]), None]


def test_ttl_is_applied_at_lookup_time(online_fs):
    view = _view(ttl=dt.timedelta(hours=1))
    rows = pd.DataFrame(
        {
            "customer_id": [1, 2],
            "ts": [NOW - pd.Timedelta(minutes=10), NOW - pd.Timedelta(hours=2)],
            "amount": [1.0, 2.0],
            "count": [1, 2],
            "vip": [True, False],
            "segment": ["a", "b"],
            "last_seen": [NOW, NOW],
        }
    )
    online_fs.ingest(view, rows)
    online_fs.materialize()
    out = online_fs.get_online_features(
        ["txn:amount", "txn:vip"], [{"customer_id": 1}, {"customer_id": 2}]
    )
    assert out["amount"] == [1.0, None] and out["vip"] == [True, None]


def test_incremental_materialization_picks_up_new_and_late_rows(online_fs):
    view = _view()
    base = dict(count=1, vip=False, segment="a", last_seen=NOW)
    online_fs.ingest(
        view,
        pd.DataFrame([dict(customer_id=1, ts=NOW - pd.Timedelta(hours=5), amount=1.0, **base)]),
    )
    first = online_fs.materialize_incremental(end=NOW - pd.Timedelta(hours=3))
    assert first["rows"].tolist() == [1]
    # a newer row, and a late row for another entity with an event time before the last end
    online_fs.ingest(
        view,
        pd.DataFrame(
            [
                dict(customer_id=1, ts=NOW - pd.Timedelta(hours=1), amount=2.0, **base),
                dict(customer_id=2, ts=NOW - pd.Timedelta(hours=4), amount=3.0, **base),
                dict(customer_id=3, ts=NOW + pd.Timedelta(hours=1), amount=4.0, **base),
            ]
        ),
    )
    online_fs.materialize_incremental(end=NOW)
    out = online_fs.get_online_features(["txn:amount"], pd.DataFrame({"customer_id": [1, 2, 3]}))
    assert out["amount"].tolist()[:2] == [2.0, 3.0] and np.isnan(out["amount"].iloc[2])
    # an older row never replaces a newer online value
    online_fs.ingest(
        view, pd.DataFrame([dict(customer_id=1, ts=NOW - pd.Timedelta(days=1), amount=9.0, **base)])
    )
    online_fs.materialize(end=NOW)
    assert online_fs.get_online_features(["txn:amount"], {"customer_id": 1})["amount"] == 2.0


def test_new_version_replaces_the_online_values(online_fs):
    v1 = _view()
    base = dict(count=1, vip=False, segment="a", last_seen=NOW)
    online_fs.ingest(v1, pd.DataFrame([dict(customer_id=1, ts=NOW, amount=1.0, **base)]))
    online_fs.materialize()
    v2 = _view(extra=[Field("fresh", "float64")])
    online_fs.apply(v2)
    assert v2.version == 2
    online_fs.ingest(v2, pd.DataFrame([dict(customer_id=2, ts=NOW, amount=5.0, fresh=0.5, **base)]))
    online_fs.materialize()
    held = online_fs.online.views()["txn"]
    assert held.version == 2
    out = online_fs.get_online_features(
        ["txn:amount", "txn:fresh"], [{"customer_id": 1}, {"customer_id": 2}]
    )
    assert out["amount"] == [None, 5.0] and out["fresh"] == [None, 0.5]
    with pytest.raises(FeatureError, match="holds version 2"):
        online_fs.get_online_features(["txn@1:amount"], {"customer_id": 1})


def test_a_second_process_view_of_the_store_sees_the_switch(online_fs):
    # another FeatureStore object (another connection) caches the layout, then v2 arrives
    other = FeatureStore(online=online_fs.online_url)
    base = dict(count=1, vip=False, segment="a", last_seen=NOW)
    v1 = _view()
    online_fs.ingest(v1, pd.DataFrame([dict(customer_id=1, ts=NOW, amount=1.0, **base)]))
    online_fs.materialize()
    assert other.get_online_features(["txn:amount"], {"customer_id": 1})["amount"] == 1.0
    v2 = _view(extra=[Field("fresh", "float64")])
    online_fs.ingest(v2, pd.DataFrame([dict(customer_id=1, ts=NOW, amount=7.0, fresh=1.0, **base)]))
    online_fs.materialize()
    assert other.get_online_features(["txn:amount", "txn:fresh"], {"customer_id": 1}) == {
        "customer_id": 1,
        "amount": 7.0,
        "fresh": 1.0,
    }
    other.close()


def test_lookup_errors_are_clear(online_fs):
    view = _view()
    online_fs.apply(view)
    with pytest.raises(OnlineStoreError, match="materialize"):
        online_fs.get_online_features(["txn:amount"], {"customer_id": 1})
    online_fs.materialize()
    with pytest.raises(FeatureError, match="lacks join key"):
        online_fs.get_online_features(["txn:amount"], {"id": 1})
    with pytest.raises(FeatureError, match="has no field"):
        online_fs.get_online_features(["txn:nope"], {"customer_id": 1})
    with pytest.raises(FeatureError, match="list of dicts"):
        online_fs.get_online_features(["txn:amount"], 5)


def test_single_lookup_is_fast_on_sqlite(fs):
    view = _view()
    rng = np.random.default_rng(1)
    fs.ingest(view, _rows(rng, 1000, 2000))
    fs.materialize()
    feats = ["txn:amount", "txn:count"]
    fs.get_online_features(feats, {"customer_id": 3})
    n = 2000
    # CPU time of this process, not wall-clock: other processes on a busy machine delay the
    # calls but do not make them cost more (the benchmark measures ~10 µs per call).
    start = time.process_time()
    for i in range(n):
        fs.get_online_features(feats, {"customer_id": i % 1000})
    per_call = (time.process_time() - start) / n
    assert per_call < 200e-6


def test_unknown_online_url_and_unreachable_redis():
    with pytest.raises(OnlineStoreError, match="unknown online store URL"):
        FeatureStore(online="mongodb://x").online  # noqa: B018
    pytest.importorskip("redis")
    with pytest.raises(OnlineStoreError, match="cannot reach"):
        FeatureStore(online="redis://127.0.0.1:1/0").online  # noqa: B018
