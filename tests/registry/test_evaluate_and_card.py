"""``evaluate`` computes what scikit-learn computes; model cards show it, safely escaped."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as m
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import nbmlops
from nbmlops.errors import InvalidModel, ModelNotFound


@pytest.fixture
def binary(workspace):
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, random_state=1)
    with nbmlops.start_run(name="cancer-lr") as run:
        model = make_pipeline(StandardScaler(), LogisticRegression()).fit(Xtr, ytr)
        nbmlops.log_input(Xtr, "Xtr")
    mv = nbmlops.register_model(model, "cancer", run=run, input_example=Xtr)
    return mv, model, Xte, yte


def test_binary_metrics_match_scikit_learn(binary):
    mv, model, Xte, yte = binary
    table = nbmlops.evaluate(mv, Xte, yte)
    pred = model.predict(Xte)
    row = table.iloc[0]
    assert row["segment"] == "" and row["n"] == len(yte)
    assert row["accuracy"] == pytest.approx(m.accuracy_score(yte, pred))
    assert row["precision"] == pytest.approx(m.precision_score(yte, pred))
    assert row["recall"] == pytest.approx(m.recall_score(yte, pred))
    assert row["f1"] == pytest.approx(m.f1_score(yte, pred))
    assert row["roc_auc"] == pytest.approx(m.roc_auc_score(yte, model.predict_proba(Xte)[:, 1]))
    assert mv.metrics["f1"] == pytest.approx(row["f1"])


def test_segments_by_column_and_by_labels(binary):
    mv, model, Xte, yte = binary
    big = (Xte["mean radius"] > 14).map({True: "big", False: "small"})
    table = nbmlops.evaluate(mv, Xte.assign(size=big), yte, segments="size")
    assert table["segment"].tolist() == ["", "size=big", "size=small"]
    mask = (big == "big").to_numpy()
    expected = m.f1_score(yte[mask], model.predict(Xte[mask]))
    assert table.loc[1, "f1"] == pytest.approx(expected)
    assert table["n"].tolist() == [len(yte), int(mask.sum()), int((~mask).sum())]
    by_labels = nbmlops.evaluate(mv, Xte, yte, segments=big.rename("radius"))
    assert by_labels["segment"].tolist() == ["", "radius=big", "radius=small"]
    stored = mv.evaluation
    assert stored["segment"].tolist() == ["", "radius=big", "radius=small"]  # replaced
    assert stored.loc[1, "f1"] == pytest.approx(by_labels.loc[1, "f1"])


def test_a_segment_with_one_class_has_nan_auc_not_an_error(binary):
    mv, _, Xte, yte = binary
    labels = np.where(yte.to_numpy() == 1, "ones", "zeros")
    table = nbmlops.evaluate(mv, Xte, yte, segments=labels)
    assert math.isnan(table.loc[1, "roc_auc"]) and math.isnan(table.loc[2, "roc_auc"])
    assert not math.isnan(table.loc[0, "roc_auc"])


def test_multiclass_and_regression(workspace):
    X, y = load_wine(return_X_y=True, as_frame=True)
    clf = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    mv = nbmlops.register_model(clf, "wine")
    table = nbmlops.evaluate("models:/wine/1", X, y)
    assert table.loc[0, "f1"] == pytest.approx(m.f1_score(y, clf.predict(X), average="macro"))
    assert table.loc[0, "roc_auc"] == pytest.approx(
        m.roc_auc_score(y, clf.predict_proba(X), multi_class="ovr")
    )
    assert mv.metrics["accuracy"] == pytest.approx(table.loc[0, "accuracy"])

    X, y = load_diabetes(return_X_y=True, as_frame=True)
    reg = Ridge().fit(X, y)
    nbmlops.register_model(reg, "diabetes")
    table = nbmlops.evaluate("diabetes@latest", X, y)
    pred = reg.predict(X)
    assert list(table.columns) == ["segment", "n", "mae", "rmse", "r2"]
    assert table.loc[0, "mae"] == pytest.approx(m.mean_absolute_error(y, pred))
    assert table.loc[0, "rmse"] == pytest.approx(math.sqrt(m.mean_squared_error(y, pred)))
    assert table.loc[0, "r2"] == pytest.approx(m.r2_score(y, pred))


def test_bad_evaluation_input_is_refused(binary):
    mv, _, Xte, yte = binary
    with pytest.raises(InvalidModel, match="rows"):
        nbmlops.evaluate(mv, Xte, yte[:-1])
    with pytest.raises(InvalidModel, match="segment columns not in X"):
        nbmlops.evaluate(mv, Xte, yte, segments="nope")
    with pytest.raises(InvalidModel, match="one label per row"):
        nbmlops.evaluate(mv, Xte, yte, segments=np.array(["a", "b"] * 3))
    with pytest.raises(InvalidModel, match="distinct values"):
        nbmlops.evaluate(
            mv, pd.concat([Xte] * 2), pd.concat([yte] * 2), segments=np.arange(2 * len(yte))
        )
    with pytest.raises(ModelNotFound):
        nbmlops.evaluate("models:/cancer/9", Xte, yte)
    assert mv.evaluation.empty


def test_model_card_has_lineage_metrics_signature_and_history(binary):
    mv, _, Xte, yte = binary
    nbmlops.evaluate(mv, Xte.assign(big=Xte["mean radius"] > 14), yte, segments="big")
    mv.update(intended_use="Triage of biopsy results.", limitations="Trained on 569 cases.")
    nbmlops.promote("cancer", 1, reason="first model")
    card = nbmlops.model_card("cancer")
    text = card.to_markdown()
    for expected in [
        "# Model card: cancer v1",
        "Triage of biopsy results.",
        "Trained on 569 cases.",
        mv.run_id,
        "cancer-lr",
        "Xtr (426×30",
        "## Metrics per segment",
        "big=True",
        "| mean radius | float64 |",
        "predict returns classes: 0, 1",
        "| promote | - | production |",
        "first model",
        "scikit-learn",
    ]:
        assert expected in text, expected
    html = card.to_html()
    assert "<h3>Lineage</h3>" in html and mv.run_id in html


def test_card_escapes_every_user_string(workspace, tmp_path):
    X, y = load_wine(return_X_y=True, as_frame=True)
    mv = nbmlops.register_model(
        make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y),
        "xss",
        description="<script>alert('d')</script>",
        tags={"t": "<b>"},
    )
    mv.update(intended_use="<img src=x onerror=alert(1)>", limitations="a | b\nc")
    nbmlops.promote("xss", 1, reason="<iframe>")
    html = nbmlops.model_card("models:/xss/1").to_html()
    for raw in ["<script>", "<img", "<iframe>"]:
        assert raw not in html
    assert "&lt;script&gt;" in html and "&lt;img src=x" in html and "&lt;iframe&gt;" in html
    markdown = nbmlops.model_card("xss").to_markdown()
    assert "a | b\nc" in markdown  # free text stays as written in its own section
    # Markdown renderers (JupyterLab, GitHub) pass raw HTML through: it must be escaped there
    # too, in free text, lists and tables alike.
    mv.update(training_data="**March** extract & <a href=x>", caveats="ok")
    markdown = nbmlops.model_card("xss").to_markdown()
    for raw in ["<script>", "<img", "<iframe>", "<a href"]:
        assert raw not in markdown
    assert "&lt;img src=x onerror=alert(1)&gt;" in markdown and "&lt;iframe&gt;" in markdown
    assert "**March** extract &amp; &lt;a href=x&gt;" in markdown  # Markdown itself is kept

    path = nbmlops.model_card("xss").save(tmp_path / "cards" / "xss.html")
    assert path.read_text().startswith("<!DOCTYPE html>")
    assert nbmlops.model_card("xss").save(tmp_path / "xss.md").read_text().startswith("# Model")
    with pytest.raises(InvalidModel, match=".html or .md"):
        nbmlops.model_card("xss").save(tmp_path / "xss.pdf")


def test_card_of_a_model_without_run_says_so(workspace):
    X, y = load_wine(return_X_y=True, as_frame=True)
    nbmlops.register_model(make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y), "lone")
    text = str(nbmlops.model_card("lone@latest"))
    assert "none recorded" in text
    assert "Not written yet" in text
    assert isinstance(nbmlops.get_model("lone@latest").evaluation, pd.DataFrame)
