"""``%%track`` and ``%runs`` driven through a real IPython InteractiveShell."""

from __future__ import annotations

import keyword
import textwrap

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nbmlops

EXAMPLE = """\
%%track --name baseline
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
C = 0.5
max_iter = 200
X, y = load_iris(return_X_y=True, as_frame=True)
Xtr, Xte, ytr, yte = train_test_split(X, y, random_state=0)
model = LogisticRegression(C=C, max_iter=max_iter).fit(Xtr, ytr)
accuracy = model.score(Xte, yte)
"""


def _only_run() -> nbmlops.Run:
    frame = nbmlops.runs()
    assert len(frame) == 1, frame
    return nbmlops.get_run(frame.run_id[0])


def _model_keys(estimator, prefix: str) -> set[str]:
    return {f"{prefix}.class"} | {f"{prefix}.{k}" for k in estimator.get_params(deep=True)}


def test_example_cell_records_exactly_what_the_docs_promise(shell):
    result = shell.run_cell(EXAMPLE)
    assert result.success, result.error_in_exec
    run = _only_run()
    model = shell.user_ns["model"]

    assert run.status == "FINISHED"
    assert run.name == "baseline"
    params = run.params
    assert params["C"] == 0.5 and params["max_iter"] == 200
    assert set(params) == {"C", "max_iter"} | _model_keys(model, "model")
    assert params["model.class"] == "sklearn.linear_model.LogisticRegression"
    assert params["model.C"] == 0.5 and params["model.max_iter"] == 200
    assert set(run.metrics) == {"accuracy"}
    assert run.metrics["accuracy"] == pytest.approx(shell.user_ns["accuracy"])

    assert run.inputs == {}
    outputs = run.outputs
    assert set(outputs) == {"X", "y", "Xtr", "Xte", "ytr", "yte", "model"}
    for name in ("X", "y", "Xtr", "Xte", "ytr", "yte"):
        expected = nbmlops.fingerprint(shell.user_ns[name])
        assert outputs[name]["digest"] == expected.digest
        assert outputs[name]["shape"] == expected.shape
    assert outputs["Xtr"]["shape"] == (112, 4)
    assert outputs["X"]["schema"][0] == ("sepal length (cm)", "float64")
    assert outputs["Xtr"]["info"] == {"used_in_fit": True}
    assert outputs["model"]["kind"] == "estimator"
    assert outputs["model"]["info"]["fit_inputs"] == ["Xtr", "ytr"]
    assert run.code == EXAMPLE.split("\n", 1)[1]


CASES = [
    (
        "wine",
        "RandomForestClassifier",
        "sklearn.ensemble",
        "n_estimators = 15\ndepth = 3",
        "n_estimators=n_estimators, max_depth=depth, random_state=0",
        "score",
    ),
    ("diabetes", "Ridge", "sklearn.linear_model", "alpha = 2.5", "alpha=alpha", "r2"),
    (
        "breast_cancer",
        "DecisionTreeClassifier",
        "sklearn.tree",
        "min_leaf = 4\ncrit = 'gini'",
        "min_samples_leaf=min_leaf, criterion=crit",
        "acc",
    ),
]


@pytest.mark.parametrize(("dataset", "estimator", "module", "literals", "kwargs", "metric"), CASES)
def test_cells_of_the_same_shape_capture_the_same_way(
    shell, dataset, estimator, module, literals, kwargs, metric
):
    cell = textwrap.dedent(f"""\
        %%track
        from sklearn.datasets import load_{dataset}
        from {module} import {estimator}
        from sklearn.model_selection import train_test_split
        {{literals}}
        features, target = load_{dataset}(return_X_y=True, as_frame=True)
        f_train, f_test, t_train, t_test = train_test_split(features, target, random_state=1)
        est = {estimator}({kwargs}).fit(f_train, t_train)
        {metric} = est.score(f_test, t_test)
        """).replace("{literals}", literals)
    result = shell.run_cell(cell)
    assert result.success, result.error_in_exec
    run = _only_run()
    literal_names = {line.split(" = ")[0] for line in literals.splitlines()}
    est = shell.user_ns["est"]
    assert set(run.params) == literal_names | _model_keys(est, "est")
    for name in literal_names:
        assert run.params[name] == shell.user_ns[name]
    assert run.params["est.class"] == f"{module}.{estimator}"
    assert set(run.metrics) == {metric}
    assert run.metrics[metric] == pytest.approx(shell.user_ns[metric])
    assert set(run.outputs) == {
        "features",
        "target",
        "f_train",
        "f_test",
        "t_train",
        "t_test",
        "est",
    }
    assert run.outputs["est"]["info"]["fit_inputs"] == ["f_train", "t_train"]


_identifiers = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True).filter(
    lambda s: (
        not keyword.iskeyword(s)
        and s not in dir(__builtins__)
        and s not in {"np", "get_ipython", "exit", "quit", "In", "Out"}
    )
)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    names=st.lists(_identifiers, min_size=6, max_size=6, unique=True),
    reg=st.floats(min_value=0.01, max_value=100, allow_nan=False),
    iters=st.integers(min_value=100, max_value=500),
)
def test_random_names_and_literals_are_captured(shell, names, reg, iters):
    p_reg, p_iter, data, labels, est, score = names
    cell = (
        "%%track\n"
        "from sklearn.datasets import load_iris\n"
        "from sklearn.linear_model import LogisticRegression\n"
        f"{p_reg} = {reg!r}\n{p_iter} = {iters}\n"
        f"{data}, {labels} = load_iris(return_X_y=True)\n"
        f"{est} = LogisticRegression(C={p_reg}, max_iter={p_iter})\n"
        f"{est}.fit({data}, {labels})\n"
        f"{score} = {est}.score({data}, {labels})\n"
    )
    before = set(nbmlops.runs().run_id)
    result = shell.run_cell(cell)
    assert result.success, result.error_in_exec
    run_id = (set(nbmlops.runs().run_id) - before).pop()
    run = nbmlops.get_run(run_id)
    assert run.params[p_reg] == reg and run.params[p_iter] == iters
    assert set(run.params) == {p_reg, p_iter} | _model_keys(shell.user_ns[est], est)
    assert set(run.metrics) == {score}
    assert set(run.outputs) == {data, labels, est}
    assert run.outputs[data]["kind"] == "numpy.ndarray"
    assert run.outputs[est]["info"]["fit_inputs"] == [data, labels]


def test_failing_cell_records_failed_run_and_user_sees_exception(shell, capsys):
    result = shell.run_cell("%%track --name broken\nvalue = 1\nraise RuntimeError('no data')\n")
    assert not result.success
    assert isinstance(result.error_in_exec, RuntimeError)
    shown = capsys.readouterr()
    assert "RuntimeError" in shown.out + shown.err
    assert "no data" in shown.out + shown.err
    run = _only_run()
    assert run.status == "FAILED"
    assert "RuntimeError: no data" in run.error
    assert "nbmlops" not in run.error.split("Traceback")[1].split("RuntimeError")[0], (
        "the stored traceback starts at the user's cell"
    )
    assert nbmlops.active_run() is None


def test_syntax_error_reaches_user_and_fails_run(shell):
    result = shell.run_cell("%%track\nx = (1,\n")
    assert not result.success
    assert isinstance(result.error_in_exec, SyntaxError)
    assert _only_run().status == "FAILED"


def test_keyboard_interrupt_marks_run_killed(shell):
    result = shell.run_cell("%%track\nraise KeyboardInterrupt\n")
    assert not result.success
    assert _only_run().status == "KILLED"


def test_inputs_are_data_read_before_assignment_fingerprinted_before_the_cell(shell):
    import pandas as pd

    frame = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    before = nbmlops.fingerprint(frame)
    shell.user_ns.update(frame=frame, arr=np.arange(5), unused=np.zeros(3))
    result = shell.run_cell("%%track\nframe['a'] = frame['a'] * 10\ntotal = arr.sum()\n")
    assert result.success
    run = _only_run()
    assert set(run.inputs) == {"frame", "arr"}
    # fingerprinted before the cell mutated it in place
    assert run.inputs["frame"]["digest"] == before.digest
    assert run.inputs["frame"]["schema"] == [("a", "int64"), ("b", str(frame["b"].dtype))]
    assert run.metrics == {"total": 10.0}


def test_last_expression_is_displayed_and_events_fire_once(shell):
    seen = []

    def count(result):
        seen.append(result)

    shell.events.register("post_run_cell", count)
    try:
        result = shell.run_cell("%%track\nx = 21\nx * 2\n")
    finally:
        shell.events.unregister("post_run_cell", count)
    assert result.result == 42
    assert shell.user_ns["_"] == 42
    assert len(seen) == 1


def test_trailing_semicolon_hides_the_last_expression_as_in_ipython(shell):
    shell.user_ns.pop("_", None)
    result = shell.run_cell("%%track\nx = 21\nx * 2;  # no Out[]\n")
    assert result.success and result.result is None
    assert shell.user_ns.get("_") != 42
    assert shell.run_cell("%%track\ns = 'a;b'\ns\n").result == "a;b"  # ';' in a string


def test_options_name_experiment_tags_params_metrics(shell):
    cell = (
        "%%track --name tuned -e trials --tags team=risk owner=ana --params cfg "
        "--metrics loss,n\ncfg = {'layers': [3, 2]}\nloss = 0.25\nn = len(cfg['layers'])\n"
    )
    assert shell.run_cell(cell).success
    run = _only_run()
    assert run.name == "tuned" and run.experiment == "trials"
    assert run.tags == {"team": "risk", "owner": "ana"}
    assert run.params == {"cfg": {"layers": [3, 2]}}  # a literal dict: param anyway
    assert run.metrics == {"loss": 0.25, "n": 2.0}


def test_no_auto_records_only_what_is_asked(shell):
    cell = "%%track --no-auto --metrics score\nC = 1.5\nscore = C * 2\nimport numpy\nX = numpy.ones(3)\n"
    assert shell.run_cell(cell).success
    run = _only_run()
    assert run.params == {}
    assert run.metrics == {"score": 3.0}
    assert run.outputs == {} and run.inputs == {}
    assert run.code.startswith("C = 1.5")


def test_non_numeric_metric_request_warns_and_run_still_finishes(shell, capsys):
    assert shell.run_cell("%%track --metrics label\nlabel = 'cat'\n").success
    assert "label" in capsys.readouterr().err
    run = _only_run()
    assert run.status == "FINISHED" and run.metrics == {}


def test_bools_and_strings_are_not_metrics_and_loops_are_not_params(shell):
    cell = (
        "%%track\nimport numpy as np\nflag = np.mean([1, 2]) > 1\nname = 'a' + 'b'\n"
        "total = 0\nfor i in range(3):\n    total += i\nratio = np.float32(0.5) * 1\n"
    )
    assert shell.run_cell(cell).success
    run = _only_run()
    assert set(run.metrics) == {"total", "ratio"}
    assert run.metrics["total"] == 3.0
    assert run.params == {}


def test_stdout_and_figures_are_artifacts(shell):
    cell = (
        "%%track\nimport matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
        "fig, ax = plt.subplots()\nax.plot([1, 2, 3])\nprint('hello from the cell')\n"
        "import plotly.graph_objects as go\npfig = go.Figure(go.Bar(y=[1, 2]))\n"
    )
    assert shell.run_cell(cell).success
    run = _only_run()
    figures = [a for a in run.artifacts if a.startswith("figures/")]
    pngs = [a for a in figures if a.endswith(".png")]
    assert len(pngs) == 1 and run.read_artifact(pngs[0]).startswith(b"\x89PNG")
    assert "figures/pfig.json" in figures
    assert '"type":"bar"' in run.read_text("figures/pfig.json").replace(" ", "")
    assert "hello from the cell" in run.read_text("stdout.txt")
    shell.run_cell("plt.close('all')")


def test_logging_api_inside_a_tracked_cell_goes_to_its_run(shell):
    cell = (
        "%%track\nimport nbmlops\nfor step in range(5):\n"
        "    nbmlops.log_metric('val_loss', 1 / (step + 1), step=step)\n"
    )
    assert shell.run_cell(cell).success
    history = _only_run().metric_history("val_loss")
    assert list(history["step"]) == [0, 1, 2, 3, 4]
    assert history["value"].iloc[-1] == pytest.approx(0.2)


def test_a_metric_logged_by_the_cell_keeps_its_history_without_a_repeat(shell):
    cell = (
        "%%track\nimport nbmlops\nfor step in range(3):\n"
        "    nbmlops.log_metric('loss', 1 / (step + 1), step=step)\n"
        "loss = 0.1 * 3\naccuracy = 0.5 + 0.25\n"
    )
    assert shell.run_cell(cell).success
    run = _only_run()
    history = run.metric_history("loss")
    assert list(history["step"]) == [0, 1, 2]  # no extra step-0 value from `loss = ...`
    assert run.metrics == {"loss": pytest.approx(1 / 3), "accuracy": 0.75}


def test_a_conflicting_param_is_skipped_and_the_rest_is_recorded(shell, capsys):
    cell = (
        "%%track\nimport nbmlops\nnbmlops.log_param('C', 5)\n"
        "C = 1.0\nmax_iter = 100\naccuracy = 0.5 + 0.25\n"
    )
    assert shell.run_cell(cell).success
    run = _only_run()
    assert run.status == "FINISHED"
    assert run.params == {"C": 5, "max_iter": 100}
    assert run.metrics == {"accuracy": 0.75}
    assert "param C not recorded" in capsys.readouterr().err


def test_tracked_cell_inside_an_open_run_is_its_child(shell):
    parent = nbmlops.start_run(name="sweep")
    try:
        assert shell.run_cell("%%track\nx = 1\n").success
    finally:
        parent.end()
    frame = nbmlops.runs()
    child = nbmlops.get_run(frame.loc[frame.name.isna(), "run_id"].item())
    assert child.parent_run_id == parent.run_id


def test_ipython_syntax_works_in_tracked_cells(shell):
    assert shell.run_cell("%%track\nlines = !echo hi\nimport math\nvalue = math.sqrt(16)\n").success
    run = _only_run()
    assert shell.user_ns["lines"] == ["hi"]
    assert run.metrics == {"value": 4.0}


def test_runs_line_magic_returns_the_table(shell):
    shell.run_cell("%%track -n one\nscore = 0.5 + 0.25\n")
    shell.run_cell("%%track -n two\nscore = 0.5 + 0.5\n")
    table = shell.run_line_magic("runs", "-f metrics.score > 0.8")
    assert list(table["name"]) == ["two"]
    table = shell.run_line_magic("runs", "-o metrics.score ASC -l 1")
    assert list(table["name"]) == ["one"]


def test_runs_line_magic_accepts_a_quoted_filter_and_order(shell):
    # The option's help shows quotes ("metrics.accuracy > 0.9"), as a shell user would type.
    shell.run_cell("%%track -n one\nscore = 0.5 + 0.25\n")
    shell.run_cell("%%track -n two\nscore = 0.5 + 0.5\n")
    table = shell.run_line_magic("runs", '-f "metrics.score > 0.8"')
    assert list(table["name"]) == ["two"]
    table = shell.run_line_magic("runs", "-f 'name == \"one\"' -o 'metrics.score DESC'")
    assert list(table["name"]) == ["one"]
    # Quotes that are part of the filter are kept.
    table = shell.run_line_magic("runs", "-f 'one' == name or name == 'two' -o name")
    assert list(table["name"]) == ["one", "two"]


def test_bad_tags_option_is_a_clear_error(shell):
    result = shell.run_cell("%%track --tags novalue\nx = 1\n")
    assert isinstance(result.error_in_exec, nbmlops.NbmlopsError)
    assert "key=value" in str(result.error_in_exec)
    assert nbmlops.runs().empty
