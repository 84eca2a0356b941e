"""Registry writes and loads do only what the model needs (issue 18)."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import numpy as np
import pytest
import skops.io._persist
from sklearn.tree import DecisionTreeClassifier

import nbmlops
from nbmlops.errors import UntrustedModelError
from nbmlops.registry import persistence

# skops 0.10 has no read_schema: saves and loads then go through its two public calls.
_SKOPS_INTERNALS = hasattr(skops.io._persist, "read_schema")


@pytest.fixture
def model():
    X = np.arange(40.0).reshape(20, 2)
    return DecisionTreeClassifier(random_state=0).fit(X, np.arange(20) % 2)


def test_register_does_not_scan_every_installed_file(workspace, model, monkeypatch):
    calls = []
    real = importlib.metadata.packages_distributions

    def counting():
        calls.append(1)
        return real()

    monkeypatch.setattr(importlib.metadata, "packages_distributions", counting)
    persistence._distribution_of.cache_clear()
    for _ in range(2):
        mv = nbmlops.register_model(model, "tree")
    assert calls == []
    assert mv.packages["scikit-learn"] == importlib.metadata.version("scikit-learn")


@pytest.mark.skipif(
    not hasattr(skops.io._persist, "read_schema"),
    reason="this skops has no single-pass reader: loads fall back to its two public calls",
)
def test_a_load_reads_the_skops_file_once(workspace, model, monkeypatch):
    mv = nbmlops.register_model(model, "tree")
    reads = []
    real = skops.io._persist.read_schema

    def counting(zip_file):
        reads.append(1)
        return real(zip_file)

    monkeypatch.setattr(skops.io._persist, "read_schema", counting)
    loaded = nbmlops.load_model("models:/tree/1")
    assert reads == [1]
    assert loaded.predict([[3.0, 4.0]]) == model.predict([[3.0, 4.0]])
    # The single pass still refuses a type nobody trusts, before building anything.
    data = mv._store.artifacts.get_bytes(mv._row()["digest"], "model")

    def refuse(flagged):
        raise UntrustedModelError("m", "refused", flagged)

    with pytest.raises(UntrustedModelError):
        persistence._audited_load(data, "m", refuse)


def test_a_damaged_file_is_still_named_unreadable(workspace):
    with pytest.raises(nbmlops.errors.InvalidModel, match="not a readable skops"):
        persistence.deserialize("skops", b"PK\x03\x04 damaged", "models:/x/1")


@pytest.mark.skipif(
    not hasattr(skops.io._persist, "read_schema"),
    reason="this skops has no single-pass reader: saves fall back to its two public calls",
)
def test_register_writes_and_audits_the_skops_file_in_one_pass(workspace, model, monkeypatch):
    import skops.io as sio

    calls = []
    for name in ("dumps", "get_untrusted_types"):
        real = getattr(sio, name)
        monkeypatch.setattr(
            sio, name, lambda *a, _n=name, _r=real, **k: calls.append(_n) or _r(*a, **k)
        )
    flavor, data, flagged, _ = persistence.serialize(model)
    assert (flavor, calls) == ("skops", [])  # neither the indented dump nor a second read
    monkeypatch.undo()
    # The file is an ordinary skops file: its public reader finds the same types and loads it.
    assert flagged == sio.get_untrusted_types(data=data) == ["sklearn.tree._tree.Tree"]
    assert sio.loads(data, trusted=flagged).predict([[3.0, 4.0]]) == model.predict([[3.0, 4.0]])


def test_a_large_file_is_verified_before_anything_is_built_from_it(workspace, model, monkeypatch):
    from nbmlops.errors import IntegrityError
    from nbmlops.store import artifacts

    monkeypatch.setattr(artifacts, "_VERIFY_IN_THREAD_FROM", 1)  # hashed in a thread
    mv = nbmlops.register_model(model, "tree")
    assert nbmlops.load_model("models:/tree/1").predict([[3.0, 4.0]]) == model.predict([[3.0, 4.0]])
    blob = Path(mv._store.artifacts.path_of(mv._row()["digest"]))
    data = bytearray(blob.read_bytes())
    data[-30] ^= 0xFF  # the zip's directory: the file still parses, but it is not the stored one
    blob.chmod(0o600)
    blob.write_bytes(bytes(data))
    built = []
    real = skops.io._audit.Node.construct
    monkeypatch.setattr(
        skops.io._audit.Node, "construct", lambda self: built.append(1) or real(self)
    )
    with pytest.raises(IntegrityError):
        nbmlops.load_model("models:/tree/1")
    assert built == []


def test_a_load_slices_stored_members_exactly_as_zipfile_reads_them(model):
    import io
    import zipfile

    import skops.io as sio

    data = persistence.serialize(model).data
    # A file written by skops itself with compression: those members go through zipfile.
    compressed = sio.dumps(model, compression=zipfile.ZIP_DEFLATED)
    for blob in (data, compressed):
        with zipfile.ZipFile(io.BytesIO(blob)) as zf:
            members = persistence._StoredMembers(zf, blob)
            names = zf.namelist()
            assert len(names) > 3
            for name in names:
                assert members.read(name) == zf.read(name)
            with pytest.raises(KeyError):
                members.read("no-such-member.npy")
    loaded = persistence.deserialize("skops", compressed, "m", trusted=["sklearn.tree._tree.Tree"])
    assert (loaded.predict([[3.0, 4.0]]) == model.predict([[3.0, 4.0]])).all()


def test_a_damaged_member_is_caught_before_anything_is_built(model):
    from nbmlops.errors import IntegrityError

    _, data, flagged, _ = persistence.serialize(model)
    damaged = bytearray(data)
    damaged[len(data) // 3] ^= 0xFF  # inside an array member: no CRC is checked any more

    def verify():
        if bytes(damaged) != data:
            raise IntegrityError("m", "expected", "actual")

    with pytest.raises(IntegrityError):
        persistence._audited_load(bytes(damaged), "m", lambda flagged: None, verify)


def test_saving_audits_types_without_reading_array_bytes(model, monkeypatch):
    import zipfile

    import skops.io as sio

    reads = []
    real = zipfile.ZipFile.read
    monkeypatch.setattr(
        zipfile.ZipFile, "read", lambda self, name, *a: reads.append(name) or real(self, name, *a)
    )
    flavor, data, flagged, _ = persistence.serialize(model)
    monkeypatch.undo()
    # What skops' own audit flags (a Tree, unless this skops trusts it by default).
    assert flavor == "skops" and flagged == sorted(sio.get_untrusted_types(data=data))
    if not _SKOPS_INTERNALS:
        pytest.skip("this skops lacks read_schema: its two public calls are used instead")
    assert reads == ["schema.json"]  # the audit reads the schema, not the arrays


def test_saving_and_loading_pause_the_collector_and_restore_it(workspace, monkeypatch):
    """Building a forest's object graph triggered collections all along, up to full ones that
    walk every object of the process (a load in four took twice as long); now the collector
    waits for the end, and is left as it was, also when the load is refused."""
    import gc

    from sklearn.ensemble import RandomForestClassifier

    X = np.random.default_rng(0).normal(size=(400, 4))
    forest = RandomForestClassifier(n_estimators=200, max_depth=4, random_state=0)
    forest.fit(X, X[:, 0] > 0)
    collections = []

    def count(phase, info):
        if phase == "start":
            collections.append(info["generation"])

    gc.collect()  # start from empty young generations
    gc.callbacks.append(count)
    try:
        _, data, flagged, _ = persistence._skops_dumps(forest)  # the save and its audit
        loaded = persistence._audited_load(data, "m", lambda flagged: None)  # the load
    finally:
        gc.callbacks.remove(count)
    # Paused, the collector runs at most once after each call (over what the call left young),
    # instead of every 700 allocations during it (dozens of times here).
    assert len(collections) <= 2, collections
    flavor = "skops"
    assert gc.isenabled()
    assert (loaded.predict(X) == forest.predict(X)).all()

    def refuse(flagged):
        raise UntrustedModelError("m", "refused", flagged)

    with pytest.raises(UntrustedModelError):
        persistence._audited_load(data, "m", refuse)
    assert gc.isenabled()
    gc.disable()
    try:
        persistence.deserialize(flavor, data, "m", trusted=flagged)
        assert not gc.isenabled()  # a user's choice stays
    finally:
        gc.enable()


def test_the_model_digest_is_hashed_beside_the_save_and_equals_the_trackers(workspace, model):
    from nbmlops.tracking.estimators import estimator_digest, estimator_digest_later

    mv = nbmlops.register_model(model, "tree")
    assert mv._row()["model_digest"] == estimator_digest(model)  # what %%track recorded
    later = estimator_digest_later(model)
    model.fit(np.arange(40.0).reshape(20, 2)[::-1], np.arange(20) % 3)  # changed afterwards
    assert later() == mv._row()["model_digest"]  # the state when it was asked for
    unpicklable = DecisionTreeClassifier()
    unpicklable.hook = lambda: None  # a lambda: pickle refuses it
    assert estimator_digest_later(unpicklable)() == estimator_digest(unpicklable)
