"""Models are saved with skops and loaded without running code nobody trusted."""

from __future__ import annotations

import json
import os
import pickle
import stat
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_diabetes, load_wine
from sklearn.ensemble import GradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import nbmlops
from nbmlops.errors import IntegrityError, UntrustedModelError
from nbmlops.registry import PackageVersionWarning
from nbmlops.store import _schema as schema
from nbmlops.store import get_store
from tests.store._disk import fill, small_tmpfs  # noqa: F401 - a fixture


def _wine_frame() -> tuple[pd.DataFrame, pd.Series]:
    X, y = load_wine(return_X_y=True, as_frame=True)
    X = X.copy()
    X["region"] = pd.Categorical(np.where(X["alcohol"] > 13, "north", "south"))
    return X, y


def _blob_path(mv: nbmlops.ModelVersion) -> Path:
    return Path(get_store().artifacts.path_of(mv.info["digest"]))


def test_pipeline_with_column_transformer_and_gbm_round_trips(backend):
    X, y = _wine_frame()
    numeric = [c for c in X.columns if c != "region"]
    model = Pipeline(
        [
            (
                "prep",
                ColumnTransformer(
                    [("num", StandardScaler(), numeric), ("cat", OneHotEncoder(), ["region"])]
                ),
            ),
            ("gbm", GradientBoostingClassifier(n_estimators=15, random_state=0)),
        ]
    ).fit(X, y)
    mv = nbmlops.register_model(model, "wine-gbm", input_example=X)
    assert mv.flavor == "skops"
    loaded = nbmlops.load_model("models:/wine-gbm/1")
    assert loaded is not model
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(mv.predict(X), model.predict(X))


def test_grid_search_result_round_trips(backend):
    X, y = load_wine(return_X_y=True, as_frame=True)
    search = GridSearchCV(
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)),
        {"logisticregression__C": [0.1, 1.0]},
        cv=3,
    ).fit(X, y)
    mv = nbmlops.register_model(search, "wine-search")
    loaded = mv.load()
    assert loaded.best_params_ == search.best_params_
    np.testing.assert_array_equal(loaded.predict(X), search.predict(X))
    np.testing.assert_allclose(
        loaded.cv_results_["mean_test_score"], search.cv_results_["mean_test_score"]
    )


@pytest.mark.parametrize(
    "make",
    [
        lambda: HistGradientBoostingRegressor(max_iter=20, random_state=0),
        lambda: KNeighborsClassifier(3),
    ],
    ids=["hist-gbm", "knn"],
)
def test_scikit_learn_internal_types_load_without_trusted(workspace, make):
    # skops flags sklearn's Cython structures (trees, KD-trees) as unknown types; they are
    # classes of scikit-learn itself, so nbmlops loads them without asking.
    X, y = load_diabetes(return_X_y=True)
    if isinstance(make(), KNeighborsClassifier):
        y = (y > 140).astype(int)
    model = make().fit(X, y)
    mv = nbmlops.register_model(model, "internal")
    assert json.loads(mv.info["untrusted_types"])  # skops alone would have refused
    np.testing.assert_array_equal(mv.load().predict(X), model.predict(X))


class Payload:
    """Unpickling this creates a file: proof that code ran."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))

    def predict(self, X):
        return X


def test_malicious_pickle_is_refused_and_its_payload_never_runs(workspace, tmp_path):
    marker = tmp_path / "pwned"
    mv = nbmlops.register_model(Payload(str(marker)), "evil")
    assert mv.flavor == "pickle"
    assert not marker.exists()
    with pytest.raises(UntrustedModelError, match="trusted=True") as info:
        nbmlops.load_model("models:/evil/1")
    assert "arbitrary code" in str(info.value)
    with pytest.raises(UntrustedModelError):
        mv.predict(np.zeros((1, 2)))
    assert not marker.exists()
    # Explicit trust is explicit: the payload runs, which is exactly what the flag warns of.
    nbmlops.load_model("models:/evil/1", trusted=True)
    assert marker.exists()


class NotebookScaler(TransformerMixin, BaseEstimator):
    """A custom step, as users write in notebooks: skops can save it but cannot vouch for it."""

    def fit(self, X, y=None):
        self.mean_ = np.asarray(X).mean(axis=0)
        return self

    def transform(self, X):
        return np.asarray(X) - self.mean_


def test_skops_file_with_a_custom_type_needs_trust(workspace):
    X, y = load_wine(return_X_y=True)
    model = make_pipeline(NotebookScaler(), LogisticRegression(max_iter=1000)).fit(X, y)
    mv = nbmlops.register_model(model, "custom")
    assert mv.flavor == "skops"
    with pytest.raises(UntrustedModelError) as info:
        mv.load()
    assert info.value.types == [f"{__name__}.NotebookScaler"]
    assert "NotebookScaler" in str(info.value)
    np.testing.assert_array_equal(mv.load(trusted=True).predict(X), model.predict(X))
    listed = mv.load(trusted=[f"{__name__}.NotebookScaler"])
    np.testing.assert_array_equal(listed.predict(X), model.predict(X))


def test_crafted_skops_file_naming_a_dangerous_function_is_refused(workspace, tmp_path):
    # Replace the stored bytes of a registered model by a skops file whose schema names
    # os.system, and fix up the recorded digest so only the type check stands in the way.
    import io
    import zipfile

    X, y = load_wine(return_X_y=True)
    mv = nbmlops.register_model(
        make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y), "crafted"
    )
    store = get_store()
    original = store.artifacts.get_bytes(mv.info["digest"])
    with zipfile.ZipFile(io.BytesIO(original)) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    doc = json.loads(members["schema.json"])
    doc["__class__"], doc["__module__"] = "system", "os"
    members["schema.json"] = json.dumps(doc).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    digest, size = store.artifacts.put_bytes(buffer.getvalue())
    store.models.update_version("crafted", 1, digest=digest, size=size)
    with pytest.raises(UntrustedModelError) as info:
        nbmlops.load_model("models:/crafted/1")
    assert "os.system" in info.value.types


def test_tampered_model_file_raises_integrity_error(workspace):
    X, y = load_wine(return_X_y=True)
    mv = nbmlops.register_model(
        make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y), "tampered"
    )
    blob = _blob_path(mv)
    os.chmod(blob, stat.S_IWUSR | stat.S_IRUSR)
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF
    blob.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="integrity check"):
        nbmlops.load_model("models:/tampered/1")
    with pytest.raises(IntegrityError):
        nbmlops.get_model("tampered", 1).predict(X)


def test_loading_under_other_package_versions_warns_with_the_differences(workspace):
    X, y = load_wine(return_X_y=True)
    mv = nbmlops.register_model(
        make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y), "old"
    )
    assert mv.packages["scikit-learn"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", PackageVersionWarning)
        mv.load()  # same environment: no warning
    saved = {**mv.packages, "scikit-learn": "0.24.2", "numpy": "1.19.0"}
    get_store().models.update_version("old", 1, packages=json.dumps(saved))
    with pytest.warns(PackageVersionWarning) as record:
        mv.load()
    text = str(record[0].message)
    assert "scikit-learn 0.24.2 →" in text and "numpy 1.19.0 →" in text


def test_pickled_model_with_trust_round_trips(workspace):
    class Doubler:  # defined in a function: plain pickle cannot save it, cloudpickle can
        def predict(self, X):
            return np.asarray(X) * 2

    pytest.importorskip("cloudpickle")
    mv = nbmlops.register_model(Doubler(), "doubler")
    assert mv.flavor == "cloudpickle"
    np.testing.assert_array_equal(mv.predict([[1, 2]], trusted=True), [[2, 4]])


def test_the_stored_row_records_how_it_was_saved(workspace):
    X, y = load_wine(return_X_y=True)
    mv = nbmlops.register_model(
        make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y), "fields"
    )
    with get_store().meta.engine.connect() as conn:
        row = (
            conn.execute(
                schema.model_versions.select().where(schema.model_versions.c.name == "fields")
            )
            .mappings()
            .one()
        )
    assert row["flavor"] == "skops"
    assert row["model_class"] == "sklearn.pipeline.Pipeline"
    assert len(row["digest"]) == 64
    assert json.loads(row["packages"])["python"]
    assert mv.info["size"] == len(get_store().artifacts.get_bytes(row["digest"]))
    assert pickle.loads(pickle.dumps(mv.load()))[-1].coef_.shape == (3, 13)


def _files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_a_skops_file_written_into_its_blob_is_the_file_skops_would_write(workspace):
    """The file is written straight into the blob and audited while it is hashed: the stored
    file is the one ``serialize`` makes in memory (member names hold object ids, so only they
    differ), its checksums hold, and nothing else is left."""
    import io
    import zipfile

    from nbmlops.registry import persistence

    X, y = load_wine(return_X_y=True)
    model = GradientBoostingClassifier(n_estimators=20, random_state=0).fit(X, y)
    mv = nbmlops.register_model(model, "streamed")
    flavor, data, flagged, _ = persistence.serialize(model)
    stored = get_store().artifacts.get_bytes(mv.info["digest"])
    assert len(stored) == len(data) == mv.info["size"]
    with zipfile.ZipFile(io.BytesIO(stored)) as ours, zipfile.ZipFile(io.BytesIO(data)) as theirs:
        assert ours.testzip() is None
        assert sorted(i.file_size for i in ours.infolist()) == sorted(
            i.file_size for i in theirs.infolist()
        )
    assert mv.flavor == flavor == "skops" and json.loads(mv.info["untrusted_types"]) == flagged
    blobs = Path(nbmlops.get_settings().artifacts)
    assert _files_under(blobs) == [_blob_path(mv)]  # no temporary file left
    np.testing.assert_array_equal(mv.load().predict(X), model.predict(X))


def test_a_failed_audit_falls_back_to_pickle_and_leaves_only_that_blob(workspace, monkeypatch):
    import skops.io as sio
    import skops.io._audit as audit

    def broken_audit(*args, **kwargs):
        raise RuntimeError("audit broke")

    monkeypatch.setattr(audit, "get_tree", broken_audit)  # the one-pass save
    monkeypatch.setattr(sio, "get_untrusted_types", broken_audit)  # an older skops' save
    X, y = load_wine(return_X_y=True)
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    with pytest.warns(UserWarning, match="skops cannot save .*audit broke"):
        mv = nbmlops.register_model(model, "fallback")
    assert mv.flavor == "pickle"
    blobs = Path(nbmlops.get_settings().artifacts)
    assert _files_under(blobs) == [_blob_path(mv)]  # the skops file was dropped, not kept
    np.testing.assert_array_equal(mv.load(trusted=True).predict(X), model.predict(X))


def test_a_model_registered_to_an_object_store_round_trips(workspace):
    import uuid

    nbmlops.configure(artifacts=f"memory://nbmlops-{uuid.uuid4().hex}")
    X, y = load_wine(return_X_y=True)
    model = GradientBoostingClassifier(n_estimators=10, random_state=0).fit(X, y)
    mv = nbmlops.register_model(model, "remote")
    assert get_store().artifacts.verify(mv.info["digest"]) == "ok"
    np.testing.assert_array_equal(
        nbmlops.load_model("models:/remote/1").predict(X), model.predict(X)
    )


def test_a_full_disk_during_register_is_store_full_and_stores_nothing(
    workspace,
    small_tmpfs,  # noqa: F811
):
    """The model file is written straight into the artifact folder: a full disk there is
    StoreFull (not a fall-back to pickle, which would meet the same disk), leaves neither a
    temporary file nor a version, and the same call works once there is room."""
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier

    from nbmlops.errors import StoreFull

    artifacts = small_tmpfs / "artifacts"
    nbmlops.configure(artifacts=str(artifacts))
    X, y = make_classification(n_samples=4000, n_features=10, random_state=0)
    model = RandomForestClassifier(n_estimators=40, random_state=0).fit(X, y)  # ~2 MB file
    filler = fill(small_tmpfs)
    os.truncate(filler, filler.stat().st_size - (1 << 20))  # 1 MB free
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "skops cannot save ..., pickled instead"
        with pytest.raises(StoreFull, match="no space left"):
            nbmlops.register_model(model, "full")
    assert _files_under(artifacts) == []
    assert nbmlops.models().empty
    filler.unlink()
    mv = nbmlops.register_model(model, "full")
    assert mv.version == 1 and mv.flavor == "skops"
    np.testing.assert_array_equal(mv.load().predict(X), model.predict(X))
