"""Model trust is skops' own trusted types plus nbmlops' explicit list (docs/registry.md):
not every class under ``sklearn.*``; the check never imports what a file names; a damaged
file is an nbmlops error, never a raw BadZipFile or TypeError."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
import warnings
import zipfile

import numpy as np
import pytest
import skops.io as sio
from sklearn.calibration import CalibratedClassifierCV
from sklearn.cluster import BisectingKMeans, FeatureAgglomeration
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import (
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    IsolationForest,
    RandomForestRegressor,
)
from sklearn.feature_selection import SelectKBest, chi2, mutual_info_classif
from sklearn.gaussian_process import GaussianProcessClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, TweedieRegressor
from sklearn.metrics import f1_score, make_scorer
from sklearn.model_selection import GridSearchCV, KFold, TimeSeriesSplit
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import KBinsDiscretizer, SplineTransformer, StandardScaler
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils._mocking import CheckingClassifier

import nbmlops
from nbmlops.errors import InvalidModel, NbmlopsError, UntrustedModelError
from nbmlops.registry import _trust, persistence
from nbmlops.store import get_store

Xc, yc = make_classification(80, 5, random_state=0)
Xc = np.abs(Xc)
Xr, yr = make_regression(80, 5, random_state=0)

COMMON = {
    "tree": lambda: DecisionTreeClassifier(max_depth=3).fit(Xc, yc),
    "forest": lambda: RandomForestRegressor(5, random_state=0).fit(Xr, yr),
    "gbm": lambda: GradientBoostingClassifier(n_estimators=5).fit(Xc, yc),
    "hist-gbm": lambda: HistGradientBoostingClassifier(max_iter=5).fit(Xc, yc),
    "isolation": lambda: IsolationForest(n_estimators=5, random_state=0).fit(Xc),
    "kd-tree": lambda: KNeighborsClassifier(3).fit(Xc, yc),
    "ball-tree": lambda: KNeighborsRegressor(3, algorithm="ball_tree").fit(Xr, yr),
    "chi2": lambda: SelectKBest(chi2, k=2).fit(Xc, yc),
    "mutual-info": lambda: SelectKBest(mutual_info_classif, k=2).fit(Xc, yc),
    "gp": lambda: GaussianProcessClassifier().fit(Xc[:30], yc[:30]),
    "mlp": lambda: MLPClassifier((4,), max_iter=5).fit(Xc, yc),
    "bisecting": lambda: BisectingKMeans(3, random_state=0).fit(Xc),
    "calibrated": lambda: CalibratedClassifierCV(LogisticRegression(), cv=3).fit(Xc, yc),
    "tweedie": lambda: TweedieRegressor(power=1.5).fit(Xc, np.abs(yr)),
    "agglomeration": lambda: FeatureAgglomeration(2).fit(Xc),
    "kbins": lambda: KBinsDiscretizer(3, encode="ordinal").fit(Xc),
    "imputer": lambda: SimpleImputer().fit(Xc),
    "spline": lambda: SplineTransformer().fit(Xc),
    "search": lambda: GridSearchCV(
        make_pipeline(StandardScaler(), LogisticRegression()),
        {"logisticregression__C": [0.1, 1.0]},
        cv=KFold(3),
        scoring=make_scorer(f1_score),
    ).fit(Xc, yc),
    "search-multi": lambda: GridSearchCV(
        LogisticRegression(),
        {"C": [1.0]},
        cv=TimeSeriesSplit(3),
        scoring={"f1": "f1", "auc": "roc_auc", "acc": "accuracy"},
        refit="f1",
    ).fit(Xc, yc),
}


@pytest.mark.parametrize("make", COMMON.values(), ids=COMMON)
def test_common_fitted_models_need_no_trust(make):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings of tiny fits
        model = make()
    data = sio.dumps(model)
    assert persistence.untrusted_types(data) == []
    loaded = persistence.deserialize("skops", data, "models:/m/1")
    assert type(loaded) is type(model)


def test_the_list_names_no_testing_mocking_or_vendored_code():
    for name in _trust.TRUSTED_TYPES:
        module = name.rsplit(".", 1)[0]
        assert not any(part in module for part in ("_mocking", "_testing", "externals")), name
        if name in _trust._LIGHTGBM:  # LightGBM's wrappers and the containers they hold
            continue
        assert name.split(".")[0] in ("sklearn", "numpy", "scipy"), name
    assert not any("PyFunc" in name for name in _trust.TRUSTED_TYPES)  # wraps any callable


def test_a_scikit_learn_testing_class_is_untrusted(workspace):
    # skops itself lists CheckingClassifier as untrusted; "everything under sklearn.*" did not.
    model = CheckingClassifier().fit(Xc, yc)
    mv = nbmlops.register_model(model, "mock")
    with pytest.raises(UntrustedModelError) as info:
        mv.load()
    assert info.value.types == ["sklearn.utils._mocking.CheckingClassifier"]
    assert isinstance(mv.load(trusted=["sklearn.utils._mocking.CheckingClassifier"]), type(model))


def _rewrite(data: bytes, edit) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    edit(members)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    return buffer.getvalue()


def _renamed(data: bytes, module: str, cls: str) -> bytes:
    def edit(members):
        doc = json.loads(members["schema.json"])
        doc["__module__"], doc["__class__"] = module, cls
        members["schema.json"] = json.dumps(doc).encode()

    return _rewrite(data, edit)


def test_the_trust_check_never_imports_a_module_the_file_names(tmp_path):
    # The old check imported any sklearn.* module a file named, to look at the class.
    # sklearn.experimental.enable_iterative_imputer is a real module whose import changes
    # scikit-learn (it enables an experimental estimator): a file naming it must leave it
    # unimported. A fresh interpreter, so no other test imported it first.
    probe = "sklearn.experimental.enable_iterative_imputer"
    model_file = tmp_path / "m.skops"
    model_file.write_bytes(_renamed(sio.dumps(LogisticRegression().fit(Xc, yc)), probe, "X"))
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        import skops.io, sklearn.linear_model  # what a load imports anyway
        from nbmlops.errors import UntrustedModelError
        from nbmlops.registry import persistence

        data = Path({str(model_file)!r}).read_bytes()
        assert {probe!r} not in sys.modules
        assert persistence.untrusted_types(data) == [{probe + ".X"!r}]
        try:
            persistence.deserialize("skops", data, "models:/m/1")
        except UntrustedModelError:
            pass
        else:
            raise SystemExit("loaded")
        assert {probe!r} not in sys.modules, "the check imported it"
        print("ok")
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def _good() -> bytes:
    return sio.dumps(make_pipeline(StandardScaler(), LogisticRegression()).fit(Xc, yc))


def _schema(value):
    def edit(members):
        members["schema.json"] = value if isinstance(value, bytes) else json.dumps(value).encode()

    return edit


def _drop_schema(members):
    del members["schema.json"]


MALFORMED = {
    "not-a-zip": lambda: b"definitely not a zip file",
    "empty": lambda: b"",
    "truncated": lambda: _good()[: len(_good()) // 2],
    "no-schema": lambda: _rewrite(_good(), _drop_schema),
    "schema-not-json": lambda: _rewrite(_good(), _schema(b"{not json")),
    "schema-a-list": lambda: _rewrite(_good(), _schema([1, 2, 3])),
    "schema-empty": lambda: _rewrite(_good(), _schema({})),
    "wrong-protocol": lambda: _rewrite(
        _good(),
        _schema(
            {
                **json.loads(zipfile.ZipFile(io.BytesIO(_good())).read("schema.json")),
                "protocol": 999,
            }
        ),
    ),
}


@pytest.mark.parametrize("make", MALFORMED.values(), ids=MALFORMED)
def test_a_damaged_model_file_is_an_nbmlops_error(workspace, make):
    mv = nbmlops.register_model(
        make_pipeline(StandardScaler(), LogisticRegression()).fit(Xc, yc), "damaged"
    )
    store = get_store()
    digest, size = store.artifacts.put_bytes(make())
    store.models.update_version("damaged", 1, digest=digest, size=size)
    for call in (
        lambda: nbmlops.load_model("models:/damaged/1"),
        lambda: mv.load(trusted=True),
        lambda: mv.predict(Xc),
    ):
        with pytest.raises(NbmlopsError) as info:
            call()
        assert isinstance(info.value, (InvalidModel, UntrustedModelError)), repr(info.value)


@pytest.mark.parametrize("trusted", ["yes", 1, None, ["ok", 2], {"a": 1}])
def test_trusted_of_the_wrong_type_is_a_type_error(workspace, trusted):
    mv = nbmlops.register_model(LogisticRegression().fit(Xc, yc), "typed")
    with pytest.raises(TypeError) as info:
        mv.load(trusted=trusted)
    assert isinstance(info.value, NbmlopsError)
