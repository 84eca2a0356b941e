"""Registering models: version numbers, lineage to the run, signatures, clear refusals."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_diabetes, load_iris, load_wine
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

import nbmlops
from nbmlops.errors import InvalidModel, ModelNotFound, NbmlopsError

TRACKED_CELL = """\
%%track --name {run_name}
from sklearn.datasets import {loader}
from sklearn.model_selection import train_test_split
from {module} import {estimator}
X, y = {loader}(return_X_y=True, as_frame=True)
Xtr, Xte, ytr, yte = train_test_split(X, y, random_state=0)
{var} = {estimator}().fit(Xtr, ytr)
score = {var}.score(Xte, yte)
"""


def _tree(X=None, y=None):
    if X is None:
        X, y = load_iris(return_X_y=True, as_frame=True)
    return DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y)


def test_versions_count_up_per_name(workspace):
    first = nbmlops.register_model(_tree(), "iris")
    second = nbmlops.register_model(_tree(), "iris")
    other = nbmlops.register_model(_tree(), "iris-other")
    assert (first.version, second.version, other.version) == (1, 2, 1)
    assert first.uri == "models:/iris/1"
    assert nbmlops.get_model("models:/iris@latest") == second
    assert nbmlops.get_model("iris", 1) == first
    assert list(nbmlops.model_versions("iris")["version"]) == [1, 2]
    table = nbmlops.models()
    assert list(table["name"]) == ["iris", "iris-other"]
    assert list(table["versions"]) == [2, 1]
    history = nbmlops.model_history("iris")
    assert list(history["action"]) == ["register", "register"]


@pytest.mark.parametrize(
    ("loader", "module", "estimator", "var"),
    [
        ("load_iris", "sklearn.linear_model", "LogisticRegression", "model"),
        ("load_wine", "sklearn.ensemble", "RandomForestClassifier", "forest"),
        ("load_diabetes", "sklearn.linear_model", "Ridge", "reg"),
    ],
)
def test_model_fitted_in_a_tracked_cell_finds_its_run_and_signature(
    shell, loader, module, estimator, var
):
    cell = TRACKED_CELL.format(
        run_name="train", loader=loader, module=module, estimator=estimator, var=var
    )
    assert shell.run_cell(cell).success
    mv = shell.run_line_magic("register", f"{var} --name fitted --description first try")
    run = nbmlops.get_run(nbmlops.runs().run_id[0])
    assert mv.run_id == run.run_id
    assert mv.description == "first try"
    Xtr = shell.user_ns["Xtr"]
    signature = mv.signature
    assert signature.source == f"run {run.run_id[:8]}: Xtr"
    assert [c.name for c in signature.columns] == list(Xtr.columns)
    assert {c.dtype for c in signature.columns} == {str(t) for t in Xtr.dtypes}
    assert f"models/fitted/v{mv.version}/model.skops" in run.artifacts
    # The lineage reads both ways: the card names the run and its training data.
    card = nbmlops.model_card("models:/fitted/1").to_markdown()
    assert run.run_id in card and "Xtr" in card
    np.testing.assert_array_equal(
        mv.predict(shell.user_ns["Xte"]), shell.user_ns[var].predict(shell.user_ns["Xte"])
    )


def test_register_inside_a_tracked_cell_uses_that_run(shell):
    cell = """\
%%track --name inside
from sklearn.datasets import load_iris
from sklearn.tree import DecisionTreeClassifier
import nbmlops
X, y = load_iris(return_X_y=True, as_frame=True)
clf = DecisionTreeClassifier().fit(X, y)
mv = nbmlops.register_model(clf, "inside", input_example=X)
"""
    assert shell.run_cell(cell).success
    run_id = nbmlops.runs().run_id[0]
    assert shell.user_ns["mv"].run_id == run_id


def test_register_magic_with_stage_and_alias(shell):
    assert shell.run_cell(
        TRACKED_CELL.format(
            run_name="t",
            loader="load_iris",
            module="sklearn.tree",
            estimator="DecisionTreeClassifier",
            var="clf",
        )
    ).success
    mv = shell.run_line_magic("register", "clf --name magic --alias candidate --stage staging")
    assert mv.stage == "staging" and mv.aliases == ["candidate"]
    assert shell.run_line_magic("models", "").loc[0, "name"] == "magic"
    assert list(shell.run_line_magic("models", "magic")["stage"]) == ["staging"]
    history = shell.run_line_magic("models", "magic --history")
    assert list(history["action"]) == ["register", "alias", "promote"]


def test_register_magic_errors_reach_the_user(shell):
    result = shell.run_cell("%register nothing_here --name x")
    assert isinstance(result.error_in_exec, NbmlopsError)
    assert "no variable named 'nothing_here'" in str(result.error_in_exec)
    shell.user_ns["raw"] = LogisticRegression()
    result = shell.run_cell("%register raw --name x")
    assert isinstance(result.error_in_exec, InvalidModel)
    assert "not fitted" in str(result.error_in_exec)


def test_explicit_run_and_input_example_win(workspace):
    X, y = load_wine(return_X_y=True, as_frame=True)
    with nbmlops.start_run(name="explicit") as run:
        model = _tree(X, y)
    mv = nbmlops.register_model(model, "wine", run=run.run_id[:10], input_example=X.head(20))
    assert mv.run_id == run.run_id
    assert mv.signature.source == "input_example"
    assert mv.signature.output == {"kind": "classes", "classes": [0, 1, 2]}


def test_signature_keeps_category_levels_recorded_by_the_run(shell):
    cell = """\
%%track --name cats
import numpy as np
import pandas as pd
from sklearn.compose import make_column_transformer
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder
X, y = load_iris(return_X_y=True, as_frame=True)
X["size"] = pd.Categorical(np.where(X["petal length (cm)"] > 4, "big", "small"))
model = make_pipeline(
    make_column_transformer((OneHotEncoder(), ["size"]), remainder="passthrough"),
    LogisticRegression(max_iter=1000),
).fit(X, y)
"""
    assert shell.run_cell(cell).success
    mv = nbmlops.register_model(shell.user_ns["model"], "cats")
    size = next(c for c in mv.signature.columns if c.name == "size")
    assert size.dtype == "category" and size.categories == ("big", "small")


def test_without_run_or_example_the_model_gives_column_names(workspace):
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    mv = nbmlops.register_model(LinearRegression().fit(X, y), "names-only")
    assert mv.run_id is None
    assert [c.name for c in mv.signature.columns] == list(X.columns)
    assert mv.signature.output == {"kind": "number"}


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (LogisticRegression(), "not fitted"),
        (StandardScaler(), "not fitted"),
        ("models:/x/1", "got a str, which is data"),
        (None, "got None"),
        (object(), "neither predict nor transform"),
        (DecisionTreeClassifier, "the class DecisionTreeClassifier itself"),
    ],
    ids=["unfitted-classifier", "unfitted-transformer", "string", "none", "plain-object", "class"],
)
def test_what_is_not_a_fitted_model_is_refused(workspace, model, message):
    with pytest.raises(InvalidModel, match=message):
        nbmlops.register_model(model, "refused")
    with pytest.raises(ModelNotFound):
        nbmlops.get_model("refused", 1)
    assert nbmlops.models().empty


_DATA = {
    "dataframe": (lambda X: X, "a pandas DataFrame"),
    "series": (lambda X: X.iloc[:, 0], "a pandas Series"),
    "ndarray": (lambda X: X.to_numpy(), "a numpy ndarray"),
    "numpy-scalar": (lambda X: X.to_numpy()[0, 0], "a numpy float64"),
    "dict": (lambda X: X.to_dict(), "a dict"),
    "list": (lambda X: [1, 2], "a list"),
    "tuple": (lambda X: (1, 2), "a tuple"),
    "int": (lambda X: 3, "an int"),
}


@pytest.mark.parametrize("kind", list(_DATA))
def test_data_is_refused_naming_its_type_and_what_is_accepted(workspace, kind):
    # A DataFrame has a callable .transform: it used to be registered as a model.
    X, _y = load_iris(return_X_y=True, as_frame=True)
    make, label = _DATA[kind]
    with pytest.raises(InvalidModel) as caught:
        nbmlops.register_model(make(X), "cancer")
    message = str(caught.value)
    assert f"got {label}, which is data" in message
    assert "fitted scikit-learn estimator or pipeline" in message and ".predict" in message
    assert nbmlops.models().empty


def test_register_magic_refuses_a_dataframe(shell):
    X, _y = load_iris(return_X_y=True, as_frame=True)
    shell.user_ns["Xtr"] = X
    result = shell.run_cell("%register Xtr --name cancer")
    assert isinstance(result.error_in_exec, InvalidModel)
    assert "got a pandas DataFrame" in str(result.error_in_exec)
    assert nbmlops.models().empty


def test_models_with_predict_or_transform_are_still_accepted(workspace):
    X, y = load_iris(return_X_y=True, as_frame=True)

    class Threshold:  # a user's own model class: not scikit-learn, has .predict
        def predict(self, frame):
            return (frame.iloc[:, 0] > 5.8).astype(int)

    class Scale:  # a transformer-like object, no .predict
        def transform(self, frame):
            return frame / 10

    scaler = StandardScaler().fit(X)
    from sklearn.pipeline import make_pipeline

    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)
    for number, model in enumerate([pipe, scaler, Threshold(), Scale()], start=1):
        assert nbmlops.register_model(model, "accepted").version == number


def test_bad_input_example_is_refused_before_anything_is_stored(workspace):
    X, y = load_iris(return_X_y=True, as_frame=True)
    model = _tree(X, y)
    with pytest.raises(InvalidModel, match="input_example does not work"):
        nbmlops.register_model(model, "bad-example", input_example=X.iloc[:, :2])
    assert nbmlops.models().empty
    blobs = Path(nbmlops.get_settings().artifacts)
    assert not blobs.exists() or not [p for p in blobs.rglob("*") if p.is_file()]


@pytest.mark.parametrize(
    "name",
    [
        "",
        "has space",
        "1starts-with-digit",
        "slash/inside",
        "at@sign",
        "x" * 129,
        None,
        3,
        "models:/x",
        "semi;colon",
    ],
)
def test_invalid_model_names_are_refused(workspace, name):
    with pytest.raises(InvalidModel, match="model name"):
        nbmlops.register_model(_tree(), name)
    assert nbmlops.models().empty


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=st.text(max_size=140))
def test_any_name_is_registered_or_refused_cleanly(workspace, name):
    model = _tree()
    try:
        mv = nbmlops.register_model(model, name)
    except InvalidModel:
        with pytest.raises(NbmlopsError):
            nbmlops.get_model(name, 1)
        return
    assert nbmlops.get_model(f"models:/{name}/{mv.version}") == mv


def test_unknown_references_are_model_not_found(workspace):
    nbmlops.register_model(_tree(), "known")
    with pytest.raises(ModelNotFound, match="did you mean known"):
        nbmlops.get_model("knwn", 1)
    with pytest.raises(ModelNotFound, match="no version 7"):
        nbmlops.load_model("models:/known/7")
    with pytest.raises(ModelNotFound, match="no version at 'production'"):
        nbmlops.load_model("models:/known@production")
    with pytest.raises(ModelNotFound, match="no alias 'champion'"):
        nbmlops.get_model("known@champion")
    for bad in ["models:known", "models:/known/0", "models:/known/x", "models:/a/b/c", "", 5]:
        with pytest.raises(InvalidModel):
            nbmlops.get_model(bad)
    assert isinstance(ModelNotFound("x"), KeyError)


REGISTERER = textwrap.dedent(
    """
    import sys
    import nbmlops
    from sklearn.datasets import load_iris
    from sklearn.tree import DecisionTreeClassifier
    X, y = load_iris(return_X_y=True)
    model = DecisionTreeClassifier(max_depth=2).fit(X, y)
    versions = [nbmlops.register_model(model, "shared").version for _ in range(int(sys.argv[1]))]
    print(" ".join(map(str, versions)))
    """
)


@pytest.mark.slow
def test_concurrent_registrations_get_distinct_gapless_versions(backend, workspace: Path):
    env = {k: val for k, val in os.environ.items() if not k.startswith("NBMLOPS_")}
    env["NBMLOPS_HOME"] = str(workspace)
    if backend == "postgres":
        env["NBMLOPS_STORE_URL"] = nbmlops.get_settings().store_url
    processes, each = 4, 15
    children = [
        subprocess.Popen(
            [sys.executable, "-c", REGISTERER, str(each)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(processes)
    ]
    got = []
    for child in children:
        out, err = child.communicate(timeout=300)
        assert child.returncode == 0, err
        got += [int(x) for x in out.split()]
    assert sorted(got) == list(range(1, processes * each + 1))
    assert list(nbmlops.model_versions("shared")["version"]) == sorted(got)
    assert (nbmlops.model_history("shared")["action"] == "register").sum() == processes * each


def test_update_description_tags_and_card_fields(workspace):
    mv = nbmlops.register_model(_tree(), "editable", tags={"team": "risk"})
    mv.update(description="v1", tags={"owner": "ana"}, intended_use="Scoring flowers.")
    assert mv.description == "v1"
    assert mv.tags == {"team": "risk", "owner": "ana"}
    assert mv.card_fields == {"intended_use": "Scoring flowers."}
    mv.update(intended_use=None, limitations="Only three species.")
    assert mv.card_fields == {"limitations": "Only three species."}
    with pytest.raises(InvalidModel):
        mv.update(description=3)  # type: ignore[arg-type]
    with pytest.raises(NbmlopsError):
        mv.update(**{"bad key!": "x"})
    assert mv.card_fields == {"limitations": "Only three species."}


def test_model_version_displays(workspace):
    X, y = load_iris(return_X_y=True, as_frame=True)
    mv = nbmlops.register_model(_tree(X, y), "shown", input_example=X)
    assert repr(mv) == "<ModelVersion models:/shown/1>"
    assert "models:/shown/1" in mv.summary()
    html = mv.card().to_html(compact=True)
    assert "Model card: shown v1" in html and "<table>" in html
    frame = mv.signature.as_frame()
    assert list(frame["column"]) == list(X.columns)
    assert isinstance(pd.DataFrame(mv.evaluation), pd.DataFrame)


FOREST_REGISTERER = textwrap.dedent(
    """
    import sys
    import nbmlops
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier
    X, y = make_classification(n_samples=4000, n_features=10, random_state=0)
    model = RandomForestClassifier(n_estimators=40, random_state=0).fit(X, y)
    print("fitted", flush=True)
    while True:
        nbmlops.register_model(model, "killed")
    """
)


def test_a_registration_killed_mid_write_leaves_every_version_whole(workspace: Path):
    """SIGKILL while a process registers a forest again and again (its file is written
    straight into a temporary blob): every version recorded loads, at most one temporary
    file is left (``nbmlops gc`` removes it), and the next registration continues the
    numbering."""
    import signal
    import time

    from sklearn.datasets import make_classification

    from nbmlops.store import get_store

    env = {k: v for k, v in os.environ.items() if not k.startswith("NBMLOPS_")}
    env["NBMLOPS_HOME"] = str(workspace)
    child = subprocess.Popen(
        [sys.executable, "-c", FOREST_REGISTERER], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert child.stdout.readline().strip() == "fitted"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # a few versions in, then mid-way through one
            try:
                if len(nbmlops.model_versions("killed")) >= 3:
                    break
            except ModelNotFound:  # not registered yet
                pass
            time.sleep(0.05)
        time.sleep(0.013)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
    versions = list(nbmlops.model_versions("killed")["version"])
    assert versions == list(range(1, len(versions) + 1)) and len(versions) >= 3
    X, _ = make_classification(n_samples=4000, n_features=10, random_state=0)
    first = nbmlops.load_model("models:/killed/1", trusted=["sklearn.tree._tree.Tree"])
    for version in versions:
        mv = nbmlops.get_model(f"models:/killed/{version}")
        assert get_store().artifacts.verify(mv.info["digest"]) == "ok"
        np.testing.assert_array_equal(mv.load().predict(X), first.predict(X))
    leftovers = list(Path(nbmlops.get_settings().artifacts).rglob(".tmp-*"))
    assert len(leftovers) <= 1
    mv = nbmlops.register_model(first, "killed")
    assert mv.version == versions[-1] + 1
