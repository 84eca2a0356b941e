"""Definitions, versions, the catalog, concurrent apply and schema enforcement."""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import os

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.pandas import column, data_frames

import nbmlops
from nbmlops.errors import (
    FeatureError,
    FeatureSchemaViolation,
    FeatureViewNotFound,
    NbmlopsError,
    SchemaViolation,
)
from nbmlops.features import Entity, FeatureStore, FeatureView, Field, feature_view

T0 = pd.Timestamp("2024-01-01")
card = Entity("card", join_keys=["card_id"], description="a payment card")


def _view(**overrides):
    options = dict(
        entities=card,
        fields=[
            Field("amount", "float64", min=0, description="mean amount"),
            Field("n", "int32", nullable=False, max=1000),
            Field("kind", "string", allowed=["pos", "web"]),
        ],
        timestamp="ts",
        ttl="7d",
        description="card activity",
        tags={"team": "fraud"},
        owner="ana",
    )
    options.update(overrides)
    return FeatureView("card_activity", **options)


def _good(n=3):
    return pd.DataFrame(
        {
            "card_id": np.arange(n),
            "ts": [T0] * n,
            "amount": [1.5] * n,
            "n": [3] * n,
            "kind": ["pos"] * n,
        }
    )


def test_digest_covers_rules_not_descriptions():
    base = _view()
    assert _view(description="other", tags={}, owner="bo").digest == base.digest
    assert _view(ttl="8d").digest != base.digest
    assert _view(fields=[Field("amount", "float64", min=1)]).digest != base.digest
    assert base.ttl == 7 * 86400 and base.join_keys == ("card_id",)


def test_transformation_source_is_part_of_the_version():
    def one(df):
        return df

    def two(df):
        return df.assign(amount=df.amount * 2)

    assert _view(transformation=one).digest != _view(transformation=two).digest
    assert "df.amount * 2" in _view(transformation=two).transformation_source

    @feature_view(entities=card, fields=[Field("amount")], timestamp="ts", description="x")
    def card_amount(df):
        return df

    assert card_amount.name == "card_amount"
    assert card_amount.transformation_source.startswith("def card_amount")


def test_apply_versions_and_old_versions_stay_readable(fs):
    v1 = fs.apply(_view())[0]
    assert v1.version == 1
    assert fs.apply(_view(owner="bo"))[0].version == 1  # metadata only
    assert fs.catalog()["owner"].tolist() == ["bo"]
    v2 = fs.apply(_view(ttl="1d"))[0]
    assert v2.version == 2
    assert fs.get_view("card_activity").ttl == 86400
    assert fs.get_view("card_activity", 1).ttl == 7 * 86400
    assert fs.versions("card_activity")["version"].tolist() == [1, 2]
    fs.ingest(v1, _good())
    old = fs.get_historical_features(
        pd.DataFrame({"card_id": [0], "event_timestamp": [T0]}), ["card_activity@1:amount"]
    )
    assert old["amount"].tolist() == [1.5]
    with pytest.raises(FeatureViewNotFound, match="no version 9"):
        fs.get_view("card_activity", 9)
    with pytest.raises(FeatureViewNotFound, match="apply"):
        fs.get_view("nope")


def test_catalog_search_by_name_description_tags_owner_and_fields(fs):
    fs.apply(_view(), FeatureView("other", card, [Field("x")], description="unrelated"))
    assert fs.catalog("FRAUD")["view"].tolist() == ["card_activity"]
    assert fs.catalog("mean amount")["view"].tolist() == ["card_activity"]
    fields = fs.catalog(fields=True)
    assert fields["ref"].tolist() == [
        "card_activity:amount",
        "card_activity:n",
        "card_activity:kind",
        "other:x",
    ]
    assert fs.catalog("x", fields=True)["ref"].tolist() == ["other:x"]
    assert fs.catalog("no such thing").empty


def _apply_in_process(home, store_url, barrier, queue, ttl):
    os.environ["NBMLOPS_HOME"] = home
    if store_url:
        os.environ["NBMLOPS_STORE_URL"] = store_url
    nbmlops.configure(reset=True)
    barrier.wait()
    versions = []
    for _ in range(5):
        versions.append(FeatureStore().apply(_view(ttl=ttl))[0].version)
    queue.put(versions)


@pytest.mark.slow
def test_two_processes_applying_at_once_get_one_version_per_definition(backend, workspace):
    FeatureStore().records  # noqa: B018 - create the store before the race
    store_url = nbmlops.get_settings().store_url if backend == "postgres" else None
    ctx = mp.get_context("fork")
    barrier, queue = ctx.Barrier(4), ctx.Queue()
    procs = [
        ctx.Process(target=_apply_in_process, args=(str(workspace), store_url, barrier, queue, ttl))
        for ttl in ("7d", "7d", "1d", "1d")
    ]
    for p in procs:
        p.start()
    results = [queue.get(timeout=300) for _ in procs]  # generous: a busy machine
    for p in procs:
        p.join(timeout=300)
        assert p.exitcode == 0
    assert {v for r in results for v in r} == {1, 2}
    assert all(len(set(r)) == 1 for r in results)
    table = FeatureStore().versions("card_activity")
    assert table["version"].tolist() == [1, 2]


def test_schema_violation_counts_examples_and_writes_nothing(fs):
    view = fs.apply(_view())[0]
    bad = _good(6)
    bad.loc[0, "amount"] = -1.0
    bad.loc[1, "n"] = None
    bad.loc[2, "n"] = 5000
    bad.loc[3, "kind"] = "atm"
    bad["amount"] = bad["amount"].astype(object)
    bad.loc[4, "amount"] = "lots"
    bad.loc[5, "ts"] = None
    with pytest.raises(FeatureSchemaViolation) as info:
        fs.ingest(view, bad)
    err = info.value
    assert isinstance(err, SchemaViolation) and isinstance(err, ValueError)
    counts = {(r.column, r.rule): r.count for r in err.counts.itertuples()}
    assert counts == {
        ("amount", "dtype (not a number)"): 1,
        ("amount", "below min 0.0"): 1,
        ("n", "null in a non-nullable field"): 1,
        ("n", "above max 1000"): 1,
        ("kind", "not an allowed value"): 1,
        ("ts", "null event timestamp"): 1,
    }
    assert set(err.examples["column"]) == {"amount", "n", "kind", "ts"}
    assert "nothing was written" in str(err)
    assert fs.records.writes("card_activity") == []
    assert fs.offline_rows("card_activity").empty
    assert not list((fs.settings.home / "features" / "offline").rglob("*.parquet"))


def test_a_mistyped_value_in_a_non_nullable_field_is_not_also_counted_as_null(fs):
    view = fs.apply(_view())[0]
    bad = _good(3)
    bad["n"] = bad["n"].astype(object)
    bad.loc[0, "n"] = 1.5
    bad.loc[1, "n"] = None
    bad["kind"] = bad["kind"].astype(object)
    bad.loc[2, "kind"] = 7
    with pytest.raises(FeatureSchemaViolation) as info:
        fs.ingest(view, bad)
    counts = {(r.column, r.rule): r.count for r in info.value.counts.itertuples()}
    assert counts == {
        ("n", "dtype (not an int32 integer)"): 1,
        ("n", "null in a non-nullable field"): 1,
        ("kind", "dtype (not a string)"): 1,
    }


def test_missing_columns_and_non_frames(fs):
    view = fs.apply(_view())[0]
    with pytest.raises(FeatureSchemaViolation, match="missing column") as info:
        fs.ingest(view, _good().drop(columns=["n"]))
    assert info.value.missing == ["n"]
    with pytest.raises(FeatureError, match="DataFrame"):
        fs.ingest(view, [1, 2])


def test_transformation_and_file_source(fs, tmp_path):
    raw = pd.DataFrame({"card_id": [1, 1, 2], "ts": [T0] * 3, "amount": [1.0, 2.0, 3.0]})
    path = tmp_path / "tx.csv"
    raw.to_csv(path, index=False)

    def per_card(tx):
        out = tx.groupby("card_id", as_index=False).agg(ts=("ts", "max"), total=("amount", "sum"))
        return out

    view = FeatureView(
        "card_totals",
        card,
        [Field("total", min=0)],
        timestamp="ts",
        transformation=per_card,
        source=str(path),
    )
    result = fs.ingest(view)
    assert result.rows == 2 and result.version == 1
    rows = fs.offline_rows("card_totals")
    assert rows["total"].tolist() == [3.0, 3.0]
    # a view read back in another process knows its transformation by source only
    from nbmlops.features import registry

    registry._live.clear()
    with pytest.raises(FeatureError, match="never runs code read from the store"):
        fs.ingest("card_totals", raw)


def test_offline_store_on_any_fsspec_filesystem(backend):
    fs = FeatureStore(offline="memory://nbmlops-test-features")
    view = fs.apply(_view())[0]
    fs.ingest(view, _good())
    out = fs.get_historical_features(
        pd.DataFrame({"card_id": [0, 1], "event_timestamp": [T0, T0]}), ["card_activity:amount"]
    )
    assert out["amount"].tolist() == [1.5, 1.5]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(ttl=-1), "positive"),
        (dict(ttl="soon"), "ttl must be"),
        (dict(fields=[Field("ts")]), "clashing"),
        (dict(fields=[]), "one or more Field"),
        (dict(entities=["card"]), "Entity"),
    ],
)
def test_bad_definitions(kwargs, match):
    with pytest.raises(FeatureError, match=match):
        _view(**kwargs)


def test_bad_fields_and_names():
    with pytest.raises(FeatureError, match="unknown feature dtype"):
        Field("x", "complex")
    with pytest.raises(FeatureError, match="not valid"):
        Field("a:b")
    with pytest.raises(FeatureError, match="greater than max"):
        Field("x", min=2, max=1)
    with pytest.raises(FeatureError, match="allowed values"):
        Field("x", "float64", allowed=[1.0])
    assert Field("t", dt.datetime).dtype == "datetime" and Field("i", int).dtype == "int64"


@pytest.mark.parametrize("name", ["view\n", "amount\n"])
def test_names_with_a_trailing_newline_are_refused(name):
    # A `^…$` check let "view\n" through, and a folder named "view\n" was created.
    with pytest.raises(FeatureError, match="not valid"):
        Field(name)
    with pytest.raises(FeatureError, match="not valid"):
        FeatureView(name, card, [Field("amount")])


@pytest.mark.parametrize(
    "ref", ["card_activity:amount\n", "card_activity@99999999999999999999:amount", 42, None]
)
def test_malformed_feature_references_are_nbmlops_errors(backend, ref):
    fs = FeatureStore()
    fs.apply(_view())
    entity = pd.DataFrame({"card_id": [0], "event_timestamp": [T0]})
    with pytest.raises(NbmlopsError):
        fs.get_historical_features(entity, ref)
    with pytest.raises(NbmlopsError):
        nbmlops.get_online_features(ref, [{"card_id": 0}])


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    frame=data_frames(
        [
            column(
                "card_id", elements=st.one_of(st.integers(-5, 5), st.none(), st.text(max_size=2))
            ),
            column("ts", elements=st.one_of(st.datetimes(), st.none(), st.text(max_size=4))),
            column(
                "amount",
                elements=st.one_of(
                    st.floats(allow_nan=True), st.none(), st.booleans(), st.text(max_size=2)
                ),
            ),
            column("n", elements=st.one_of(st.integers(-(2**40), 2**40), st.floats(), st.none())),
            column(
                "kind",
                elements=st.one_of(
                    st.sampled_from(["pos", "web", "atm"]), st.none(), st.integers()
                ),
            ),
        ]
    )
)
def test_random_input_is_written_whole_or_refused_whole(fs, frame):
    view = _view()
    fs.apply(view)
    before = len(fs.records.writes("card_activity"))
    try:
        result = fs.ingest(view, frame)
    except FeatureSchemaViolation as err:
        assert int(err.counts["count"].sum()) > 0
        assert len(fs.records.writes("card_activity")) == before
        return
    except FeatureError as err:  # mixed key types are refused with a message, not a traceback
        assert "join keys" in str(err) or "DataFrame" in str(err)
        assert len(fs.records.writes("card_activity")) == before
        return
    assert result.rows == len(frame)
    if len(frame):
        stored = fs.offline_rows("card_activity")
        assert stored["amount"].min() >= 0 or stored["amount"].isna().all()
        assert stored["n"].notna().all() and (stored["n"] <= 1000).all()
        assert set(stored["kind"].dropna()) <= {"pos", "web"}
