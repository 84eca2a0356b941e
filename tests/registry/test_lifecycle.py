"""Stages, aliases, rollback and history: one production version per name, at every instant."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.tree import DecisionTreeClassifier

import nbmlops
from nbmlops.errors import InvalidModel, InvalidTransition, ModelNotFound
from nbmlops.store import get_store


@pytest.fixture
def three_versions(backend):
    """Versions 1-3 of 'iris', trees of depth 1, 2 and 3 (so their predictions differ)."""
    X, y = load_iris(return_X_y=True, as_frame=True)
    for depth in (1, 2, 3):
        nbmlops.register_model(
            DecisionTreeClassifier(max_depth=depth, random_state=0).fit(X, y), "iris"
        )
    return X


def _depth(ref: str) -> int:
    return nbmlops.load_model(ref).max_depth


def _stages(name: str = "iris") -> dict[int, str | None]:
    frame = nbmlops.model_versions(name)
    return {
        int(v): None if pd.isna(s) else s
        for v, s in zip(frame["version"], frame["stage"], strict=True)
    }


def test_promotion_archives_the_previous_production_version(three_versions):
    nbmlops.promote("iris", 1, reason="first")
    assert _stages() == {1: "production", 2: None, 3: None}
    assert _depth("models:/iris@production") == 1
    nbmlops.promote("iris", 2, to="staging")
    assert _depth("models:/iris@staging") == 2
    mv = nbmlops.promote("iris", 2, reason="better on March data")
    assert mv.stage == "production"
    assert _stages() == {1: "archived", 2: "production", 3: None}
    assert _depth("models:/iris@production") == 2
    assert nbmlops.get_model("iris") == mv  # a bare name is its production version
    history = nbmlops.model_history("iris")
    moves = history[history["action"] != "register"]
    assert moves[["version", "from_stage", "to_stage"]].fillna("").values.tolist() == [
        [1, "", "production"],
        [2, "", "staging"],
        [1, "production", "archived"],
        [2, "staging", "production"],
    ]
    assert moves["reason"].tolist()[-1] == "better on March data"
    assert moves["reason"].tolist()[-2] == "replaced by version 2: better on March data"
    assert moves["user"].notna().all()


def test_version_numbers_read_from_tables_are_accepted(three_versions):
    # model_versions() gives numpy integers; promoting the newest one must just work.
    newest = nbmlops.model_versions("iris")["version"].max()
    assert isinstance(newest, np.integer)
    assert nbmlops.promote("iris", newest).version == 3
    assert nbmlops.get_model("iris", newest).stage == "production"


def test_rollback_restores_the_previous_production_version(three_versions):
    for version in (1, 2, 3):
        nbmlops.promote("iris", version)
    assert _depth("models:/iris@production") == 3
    restored = nbmlops.rollback("iris", reason="v3 drifts")
    assert restored.version == 2 and restored.stage == "production"
    assert _depth("models:/iris@production") == 2
    assert _stages() == {1: "archived", 2: "production", 3: "archived"}
    assert nbmlops.rollback("iris").version == 1  # walks further back
    assert _depth("models:/iris@production") == 1
    with pytest.raises(InvalidTransition, match="nothing to roll back to"):
        nbmlops.rollback("iris")
    assert _stages()[1] == "production"
    last = nbmlops.model_history("iris").iloc[-2:]
    assert set(last["action"]) == {"rollback"}


def test_rollback_without_production_is_refused(three_versions):
    with pytest.raises(InvalidTransition, match="no production version"):
        nbmlops.rollback("iris")
    with pytest.raises(ModelNotFound):
        nbmlops.rollback("nope")


def test_production_version_cannot_be_archived_directly(three_versions):
    nbmlops.promote("iris", 1)
    with pytest.raises(InvalidTransition, match="rollback"):
        nbmlops.promote("iris", 1, to="archived")
    with pytest.raises(InvalidTransition):
        nbmlops.promote("iris", 1, to="staging")
    assert _stages()[1] == "production"


def test_promoting_the_production_version_again_changes_nothing(three_versions):
    nbmlops.promote("iris", 2)
    before = len(nbmlops.model_history("iris"))
    nbmlops.promote("iris", 2)
    assert len(nbmlops.model_history("iris")) == before
    assert _stages() == {1: None, 2: "production", 3: None}


def test_aliases_point_at_one_version_each(three_versions):
    nbmlops.set_alias("iris", "champion", 1)
    nbmlops.set_alias("iris", "shadow", 3, reason="A/B")
    assert _depth("models:/iris@champion") == 1
    assert nbmlops.get_model("iris@shadow").version == 3
    nbmlops.set_alias("iris", "champion", 2)
    assert _depth("iris@champion") == 2
    assert nbmlops.get_model("iris", 1).aliases == []
    assert nbmlops.get_model("iris", 2).aliases == ["champion"]
    nbmlops.delete_alias("iris", "shadow")
    with pytest.raises(ModelNotFound):
        nbmlops.get_model("iris@shadow")
    with pytest.raises(ModelNotFound):
        nbmlops.delete_alias("iris", "shadow")
    history = nbmlops.model_history("iris")
    aliases = history[history["action"].isin(["alias", "unalias"])]
    assert aliases[["version", "action"]].values.tolist() == [
        [1, "alias"],
        [3, "alias"],
        [1, "unalias"],
        [2, "alias"],
        [3, "unalias"],
    ]
    assert "champion=2" in nbmlops.models().loc[0, "aliases"]


@pytest.mark.parametrize("alias", ["production", "staging", "latest", "Champion", "1x", ""])
def test_reserved_or_malformed_aliases_are_refused(three_versions, alias):
    with pytest.raises(InvalidModel):
        nbmlops.set_alias("iris", alias, 1)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"version": 9}, ModelNotFound),
        ({"version": 0}, InvalidModel),
        ({"version": True}, InvalidModel),
        ({"version": 1, "to": "prod"}, InvalidModel),
        ({"version": 1, "reason": 5}, InvalidModel),
        ({"version": 1, "gates": "metrics.f1 >"}, InvalidModel),
    ],
)
def test_bad_promotions_change_nothing(three_versions, kwargs, error):
    before = nbmlops.model_history("iris")
    with pytest.raises(error):
        nbmlops.promote("iris", **kwargs)
    assert nbmlops.model_history("iris").equals(before)


def test_version_uris_load_the_right_model_and_predict(three_versions):
    X = three_versions
    nbmlops.promote("iris", 3)
    expected = (
        DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, load_iris().target).predict(X)
    )
    np.testing.assert_array_equal(nbmlops.load_model("models:/iris/3").predict(X), expected)
    np.testing.assert_array_equal(nbmlops.get_model("models:/iris@production").predict(X), expected)
    assert _depth("models:/iris/latest") == 3


PROMOTER = textwrap.dedent(
    """
    import random, sys
    from sqlalchemy import func, select
    import nbmlops
    from nbmlops.store import _schema as t
    from nbmlops.store import get_store
    worker, steps, versions = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(worker)
    engine = get_store().meta.engine
    count = select(func.count()).where(
        t.model_versions.c.name == "race", t.model_versions.c.stage == "production"
    )
    bad = 0
    for i in range(steps):
        nbmlops.promote("race", rng.randint(1, versions), reason=f"w{worker}-{i}")
        with engine.connect() as conn:
            if conn.execute(count).scalar_one() != 1:
                bad += 1
    print("bad", bad, flush=True)
    """
)


@pytest.mark.slow
def test_concurrent_promotions_keep_exactly_one_production_version(backend, workspace: Path):
    X, y = load_iris(return_X_y=True)
    versions = 5
    for depth in range(1, versions + 1):
        nbmlops.register_model(DecisionTreeClassifier(max_depth=depth).fit(X, y), "race")
    nbmlops.promote("race", 1)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NBMLOPS_")}
    env["NBMLOPS_HOME"] = str(workspace)
    if backend == "postgres":
        env["NBMLOPS_STORE_URL"] = nbmlops.get_settings().store_url
    processes, steps = 4, 60  # 240 promotions

    # Watch from this process while the workers promote: exactly one production row, always.
    seen: list[int] = []
    stop = threading.Event()
    engine = get_store().meta.engine

    def watch():
        from sqlalchemy import func, select

        from nbmlops.store import _schema as t

        query = select(func.count()).where(
            t.model_versions.c.name == "race", t.model_versions.c.stage == "production"
        )
        while not stop.is_set():
            with engine.connect() as conn:
                seen.append(conn.execute(query).scalar_one())
            time.sleep(0.002)

    watcher = threading.Thread(target=watch)
    watcher.start()
    children = [
        subprocess.Popen(
            [sys.executable, "-c", PROMOTER, str(w), str(steps), str(versions)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for w in range(processes)
    ]
    try:
        for child in children:
            out, err = child.communicate(timeout=600)
            assert child.returncode == 0, err
            assert out.split() == ["bad", "0"], out
    finally:
        stop.set()
        watcher.join()
    assert len(seen) > 20 and set(seen) == {1}, sorted(set(seen))

    # Replay the history: every transition continues the version's previous stage, and after
    # each promotion exactly one version is in production.
    history = get_store().models.history("race")
    stage: dict[int, str | None] = {v: None for v in range(1, versions + 1)}
    promotions = 0
    for row in history:
        if row["action"] == "register":
            continue
        assert row["from_stage"] == stage[row["version"]], row
        stage[row["version"]] = row["to_stage"]
        if row["to_stage"] == "production":
            promotions += 1
            assert list(stage.values()).count("production") == 1, row
    assert _stages("race") == stage
    # Each effective promotion is two rows (the new version in, the old one out) but the
    # first, which had no predecessor.
    moves = [r for r in history if r["action"] == "promote"]
    assert len(moves) == 2 * promotions - 1
    assert promotions > 50


def test_database_refuses_a_second_production_row(three_versions):
    # The invariant does not rest on our code alone: the partial unique index holds it too.
    from sqlalchemy import update
    from sqlalchemy.exc import IntegrityError

    from nbmlops.store import _schema as t

    nbmlops.promote("iris", 1)
    engine = get_store().meta.engine
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(
            update(t.model_versions)
            .where(t.model_versions.c.name == "iris", t.model_versions.c.version == 2)
            .values(stage="production")
        )
    assert _stages()[2] is None


def test_models_table_updated_at_moves_with_every_change(three_versions):
    registered = nbmlops.models().loc[0, "updated_at"]
    time.sleep(0.05)
    nbmlops.promote("iris", 1)
    promoted = nbmlops.models().loc[0, "updated_at"]
    assert promoted > registered
    time.sleep(0.05)
    nbmlops.set_alias("iris", "shadow", 2)
    assert nbmlops.models().loc[0, "updated_at"] > promoted
    assert nbmlops.models().loc[0, "production_version"] == 1
