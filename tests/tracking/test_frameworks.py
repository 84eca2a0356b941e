"""``%%track`` and ``register_model`` with XGBoost, LightGBM, CatBoost, PyTorch and statsmodels.

Each test trains a tiny model in a tracked cell of the real IPython shell; a test skips when
its library is not installed (CI installs them: see .ci/run and the dev extra).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import nbmlops
from nbmlops.errors import UntrustedModelError

DATA = """
import numpy as np
import pandas as pd
rng = np.random.default_rng(0)
X = pd.DataFrame(rng.normal(size=(120, 3)), columns=["a", "b", "c"])
y = (X["a"] + 0.5 * X["b"] > 0).astype(int)
Xtr, Xva, ytr, yva = X[:90], X[90:], y[:90], y[90:]
"""


def _track(shell, code: str) -> nbmlops.Run:
    shell.run_cell(DATA)
    result = shell.run_cell("%%track --quiet\n" + textwrap.dedent(code))
    result.raise_error()
    return nbmlops.get_run(nbmlops.runs().run_id[0])


def _history(run: nbmlops.Run, key: str) -> list[float]:
    frame = run.metric_history(key)
    assert list(frame["step"]) == list(range(len(frame))), frame
    return list(frame["value"])


def _importances(run: nbmlops.Run, name: str) -> dict:
    return json.loads(run.read_artifact(f"models/{name}/feature_importance.json"))


def test_xgboost_classifier_and_booster(shell):
    xgb = pytest.importorskip("xgboost")
    run = _track(
        shell,
        """
        import xgboost as xgb
        model = xgb.XGBClassifier(n_estimators=12, max_depth=2, early_stopping_rounds=3, n_jobs=1)
        model.fit(Xtr, ytr, eval_set=[(Xva, yva)], verbose=False)
        """,
    )
    model = shell.user_ns["model"]
    assert run.params["model.class"] == "xgboost.sklearn.XGBClassifier"
    assert run.params["model.max_depth"] == 2 and run.params["model.n_estimators"] == 12
    assert run.metrics["model.best_iteration"] == model.best_iteration
    history = _history(run, "model.validation_0.logloss")
    assert history == pytest.approx(model.evals_result()["validation_0"]["logloss"])
    importances = _importances(run, "model")
    assert importances["importance_type"] == "gain"
    assert set(importances["values"]) <= {"a", "b", "c"} and "a" in importances["values"]
    assert run.outputs["model"]["kind"] == "estimator"

    mv = nbmlops.register_model(model, "xgb-churn")
    assert mv.flavor == "xgboost" and mv.run_id == run.run_id
    assert "models/xgb-churn/v1/model.xgb.zip" in nbmlops.get_run(run.run_id).artifacts
    loaded = mv.load()  # no trusted=: the JSON file names no code
    assert isinstance(loaded, xgb.XGBClassifier)
    X = shell.user_ns["X"]
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X), rtol=1e-6)
    np.testing.assert_array_equal(mv.predict(X), model.predict(X))

    # A native Booster (xgb.train): its training parameters from XGBoost's own config.
    run = _track(
        shell,
        """
        booster = xgb.train({"max_depth": 2, "eta": 0.5, "objective": "binary:logistic",
                             "nthread": 1}, xgb.DMatrix(Xtr, label=ytr), num_boost_round=4)
        """,
    )
    assert run.params["booster.class"] == "xgboost.core.Booster"
    assert run.params["booster.max_depth"] == "2"  # as XGBoost's config reports it
    assert run.params["booster.num_boosted_rounds"] == 4
    assert _importances(run, "booster")["values"]
    booster = shell.user_ns["booster"]
    native = nbmlops.register_model(booster, "xgb-booster")
    assert native.flavor == "xgboost"
    data = xgb.DMatrix(X)
    np.testing.assert_allclose(native.load().predict(data), booster.predict(data), rtol=1e-6)


def test_lightgbm_wrapper_and_booster(shell):
    lgb = pytest.importorskip("lightgbm")
    run = _track(
        shell,
        """
        import lightgbm as lgb
        clf = lgb.LGBMClassifier(n_estimators=8, num_leaves=4, verbose=-1, n_jobs=1)
        clf.fit(Xtr, ytr, eval_set=[(Xva, yva)], callbacks=[lgb.early_stopping(3, verbose=False)])
        booster = lgb.train({"objective": "binary", "num_leaves": 4, "verbose": -1, "num_threads": 1},
                            lgb.Dataset(Xtr, label=ytr), num_boost_round=3)
        """,
    )
    clf, booster = shell.user_ns["clf"], shell.user_ns["booster"]
    assert run.params["clf.class"] == "lightgbm.sklearn.LGBMClassifier"
    assert run.params["clf.num_leaves"] == 4
    assert run.metrics["clf.best_iteration"] == clf.best_iteration_
    history = _history(run, "clf.valid_0.binary_logloss")
    assert history == pytest.approx(clf.evals_result_["valid_0"]["binary_logloss"])
    assert set(_importances(run, "clf")["values"]) == {"a", "b", "c"}
    assert run.params["booster.class"] == "lightgbm.basic.Booster"
    assert run.params["booster.num_leaves"] == 4 and run.params["booster.num_trees"] == 3

    X = shell.user_ns["X"]
    wrapper = nbmlops.register_model(clf, "lgb-clf")
    assert wrapper.flavor == "skops"  # its Booster inside as LightGBM's model text
    np.testing.assert_array_equal(wrapper.load().predict(X), clf.predict(X))
    native = nbmlops.register_model(booster, "lgb-booster")
    assert native.flavor == "lightgbm"
    loaded = native.load()
    assert isinstance(loaded, lgb.Booster)
    np.testing.assert_allclose(loaded.predict(X), booster.predict(X), rtol=1e-9)


def test_catboost_classifier(shell):
    cb = pytest.importorskip("catboost")
    run = _track(
        shell,
        """
        import catboost
        cat = catboost.CatBoostClassifier(iterations=8, depth=2, verbose=False,
                                          allow_writing_files=False, thread_count=1)
        cat.fit(Xtr, ytr, eval_set=(Xva, yva))
        """,
    )
    cat = shell.user_ns["cat"]
    assert run.params["cat.class"] == "catboost.core.CatBoostClassifier"
    assert run.params["cat.depth"] == 2 and run.params["cat.iterations"] == 8
    assert run.metrics["cat.best_iteration"] == cat.get_best_iteration()
    assert _history(run, "cat.validation.Logloss") == pytest.approx(
        cat.get_evals_result()["validation"]["Logloss"]
    )
    assert len(_history(run, "cat.learn.Logloss")) == 8
    assert set(_importances(run, "cat")["values"]) == {"a", "b", "c"}

    mv = nbmlops.register_model(cat, "cat-clf")
    assert mv.flavor == "catboost" and mv.run_id == run.run_id
    loaded = mv.load()
    assert isinstance(loaded, cb.CatBoostClassifier)
    X = shell.user_ns["X"]
    np.testing.assert_allclose(loaded.predict_proba(X), cat.predict_proba(X))


def test_torch_module_parameter_count_optimizer_and_state_dict(shell):
    torch = pytest.importorskip("torch")
    run = _track(
        shell,
        """
        import torch
        torch.set_num_threads(1)
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
        opt = torch.optim.Adam(net.parameters(), lr=0.01, weight_decay=1e-4)
        xt = torch.tensor(Xtr.values, dtype=torch.float32)
        yt = torch.tensor(ytr.values, dtype=torch.float32)[:, None]
        for epoch in range(3):
            opt.zero_grad()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(net(xt), yt)
            loss.backward()
            opt.step()
        final_loss = loss.item()
        """,
    )
    net = shell.user_ns["net"]
    assert run.params["net.class"] == "torch.nn.modules.container.Sequential"
    assert run.params["net.parameters"] == 3 * 4 + 4 + 4 * 1 + 1
    assert run.params["net.trainable_parameters"] == 21
    assert run.params["opt.class"] == "torch.optim.adam.Adam"
    assert run.params["opt.lr"] == 0.01 and run.params["opt.weight_decay"] == 1e-4
    assert run.params["opt.betas"] == [0.9, 0.999]
    assert "Linear(in_features=3" in run.read_text("models/net/architecture.txt")
    assert "final_loss" in run.metrics

    mv = nbmlops.register_model(net, "tiny-net")
    assert mv.flavor == "torch" and mv.run_id == run.run_id
    state = mv.load()  # the state dict; the module's class is code nbmlops does not store
    fresh = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    fresh.load_state_dict(state)
    xt = shell.user_ns["xt"]
    with torch.no_grad():
        torch.testing.assert_close(fresh(xt), net(xt))


def test_a_torch_module_from_an_earlier_cell_is_recorded_when_this_cell_trains_it(shell):
    pytest.importorskip("torch")
    shell.run_cell(
        "import torch\ntorch.set_num_threads(1)\nnet = torch.nn.Linear(3, 1)\n"
        "other = torch.nn.Linear(2, 2)"
    ).raise_error()
    run = _track(
        shell,
        """
        opt = torch.optim.SGD(net.parameters(), lr=0.05)
        loss = net(torch.ones(4, 3)).pow(2).mean()
        loss.backward()
        opt.step()
        other_out = other(torch.ones(1, 2))  # read, not trained: not this cell's model
        """,
    )
    assert run.params["net.parameters"] == 4 and run.params["opt.lr"] == 0.05
    assert "net" in run.outputs and "other" not in run.outputs
    assert not any(k.startswith("other.") for k in run.params)


def test_torch_state_dict_without_safetensors_uses_weights_only_load(monkeypatch):
    torch = pytest.importorskip("torch")
    from nbmlops.registry import flavors

    monkeypatch.setitem(sys.modules, "safetensors.torch", None)  # as if not installed
    net = torch.nn.Linear(2, 1)
    data = flavors.save("torch", net)
    loaded = flavors.load("torch", data, "models:/x/1")
    torch.testing.assert_close(loaded["weight"], net.weight.detach())


def test_statsmodels_results_params_and_summary_statistics(shell):
    pytest.importorskip("statsmodels")
    run = _track(
        shell,
        """
        import statsmodels.formula.api as smf
        frame = Xtr.assign(target=Xtr["a"] * 2.0 + Xtr["b"])
        ols = smf.ols("target ~ a + b", data=frame).fit()
        """,
    )
    ols = shell.user_ns["ols"]
    assert run.params["ols.class"] == "statsmodels.regression.linear_model.OLS"
    assert run.params["ols.formula"] == "target ~ a + b"
    assert run.params["ols.terms"] == ["Intercept", "a", "b"]
    assert run.metrics["ols.coef.a"] == pytest.approx(2.0)
    assert run.metrics["ols.rsquared"] == pytest.approx(ols.rsquared)
    assert run.metrics["ols.aic"] == pytest.approx(ols.aic)
    assert run.metrics["ols.nobs"] == 90
    # No safe format exists for statsmodels results: pickled, so loading needs trust.
    mv = nbmlops.register_model(ols, "ols")
    assert mv.flavor == "pickle"
    with pytest.raises(UntrustedModelError):
        mv.load()
    assert mv.load(trusted=True).params["a"] == pytest.approx(2.0)


def test_a_damaged_native_model_file_is_a_clear_error():
    pytest.importorskip("lightgbm")
    from nbmlops.errors import InvalidModel
    from nbmlops.registry import flavors

    with pytest.raises(InvalidModel, match="not a readable lightgbm model file"):
        flavors.load("lightgbm", b"not a zip", "models:/m/1")


def test_a_tracked_cell_without_frameworks_imports_none(tmp_path):
    """Capture costs nothing when the frameworks are not used: none gets imported."""
    script = textwrap.dedent(
        """
        import sys
        from IPython.testing.globalipapp import start_ipython
        ip = start_ipython()
        ip.run_line_magic("load_ext", "nbmlops")
        ip.run_cell("import numpy as np\\nC = 0.5")
        result = ip.run_cell(
            "%%track --quiet\\n"
            "from sklearn.linear_model import LogisticRegression\\n"
            "X = np.arange(20.0).reshape(10, 2); y = np.arange(10) % 2\\n"
            "m = LogisticRegression(C=C).fit(X, y)\\n"
        )
        result.raise_error()
        print("\\nimported:", sorted(
            m for m in ("xgboost", "lightgbm", "catboost", "torch", "statsmodels")
            if m in sys.modules
        ))
        """
    )
    env = {**__import__("os").environ, "NBMLOPS_HOME": str(tmp_path / "ws")}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300
    )
    assert out.returncode == 0, out.stderr
    # (IPython 8.0 writes a terminal-title escape to stdout first: read our line only)
    assert out.stdout.strip().splitlines()[-1] == "imported: []", out.stdout
