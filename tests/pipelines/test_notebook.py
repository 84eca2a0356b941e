"""run_notebook with real notebooks and real kernels (papermill + ipykernel), no mocks."""

from __future__ import annotations

import json
import os
import pickle

import nbformat
import pytest

import nbmlops
from nbmlops.errors import GateFailed, InvalidGate, InvalidParameters, NotebookFailed
from nbmlops.pipelines import notebook_hash

from ._notebooks import cell, write_notebook

pytestmark = pytest.mark.usefixtures("workspace")


@pytest.mark.slow
def test_parameters_of_every_papermill_type_arrive_typed(tmp_path):
    nb = write_notebook(
        tmp_path / "types.ipynb",
        cell(
            """
            i = 0
            f = 0.0
            s = ""
            b = False
            n = 1
            l = []
            d = {}
            """,
            "parameters",
        ),
        """
        import json
        seen = {k: [type(v).__name__, v] for k, v in dict(i=i, f=f, s=s, b=b, n=n, l=l, d=d).items()}
        with open("seen.json", "w") as fh:
            json.dump(seen, fh)
        """,
    )
    params = {
        "i": 3,
        "f": 0.25,
        "s": 'it\'s "quoted"',
        "b": True,
        "n": None,
        "l": [1, "a", None],
        "d": {"k": [1.5, False]},
    }
    result = nbmlops.run_notebook(nb, params)

    seen = json.loads((tmp_path / "seen.json").read_text())  # cwd defaults to the notebook's folder
    assert {k: t for k, (t, _) in seen.items()} == {
        "i": "int",
        "f": "float",
        "s": "str",
        "b": "bool",
        "n": "NoneType",
        "l": "list",
        "d": "dict",
    }
    assert {k: v for k, (_, v) in seen.items()} == params
    assert result.status == "FINISHED" and result.ok
    run = nbmlops.get_run(result.run_id)
    assert run.params == params
    assert run.tags["nbmlops.notebook"] == str(nb.resolve())
    assert run.tags["nbmlops.notebook_hash"] == notebook_hash(nb)
    assert run.info["source"] == str(nb.resolve())
    assert {"notebook/input.ipynb", "notebook/executed.ipynb"} <= set(run.artifacts)
    executed = nbformat.reads(run.read_text("notebook/executed.ipynb"), as_version=4)
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in executed.cells)


@pytest.mark.slow
def test_params_record_what_the_notebook_received_not_what_was_passed(tmp_path):
    # papermill has no literal for a tuple: the notebook gets the string "(64, 32)", and a
    # dict's keys arrive as strings. The run must record that, not [64, 32] / {1: ...}.
    nb = write_notebook(
        tmp_path / "tuple.ipynb",
        cell("layers = (8,)\nnames = {}\n", "parameters"),
        """
        import json
        with open("seen.json", "w") as fh:
            json.dump({"layers": [type(layers).__name__, layers], "names": names}, fh)
        """,
    )
    result = nbmlops.run_notebook(nb, {"layers": (64, 32), "names": {1: "a"}})
    seen = json.loads((tmp_path / "seen.json").read_text())
    assert seen == {"layers": ["str", "(64, 32)"], "names": {"1": "a"}}
    run = nbmlops.get_run(result.run_id)
    assert run.params == {"layers": "(64, 32)", "names": {"1": "a"}}
    assert result.params == run.params
    # ... so MLflow-style filters on the text the notebook saw find the run.
    assert list(nbmlops.runs(filter="params.layers = '(64, 32)'").run_id) == [result.run_id]


@pytest.mark.slow
def test_tracked_cells_are_child_runs_and_their_metrics_roll_up(tmp_path):
    nb = write_notebook(
        tmp_path / "train.ipynb",
        cell("lr = 0.1", "parameters"),
        "%load_ext nbmlops",
        """
        %%track --name first
        f1 = 0.5
        loss = 4.0 / 2
        """,
        cell("raise RuntimeError('exploration cell must not run')", "nbmlops:skip"),
        """
        %%track --name second
        f1 = 0.8 + lr
        """,
    )
    with nbmlops.start_run(name="outer") as outer:
        result = nbmlops.run_notebook(nb, {"lr": 0.05})

    assert result.status == "FINISHED", result.error
    run = nbmlops.get_run(result.run_id)
    assert run.parent_run_id == outer.run_id  # default parent: the active run of this process
    assert len(result.child_run_ids) == 2
    children = [nbmlops.get_run(r) for r in result.child_run_ids]
    assert [c.name for c in children] == ["first", "second"]
    assert all(c.parent_run_id == result.run_id for c in children)
    assert all(c.experiment == run.experiment for c in children)
    # lr came from the parameters cell: an inherited param with the injected value; f1 is
    # computed, so a metric.
    assert children[1].params == {"lr": 0.05}
    assert children[1].tags["nbmlops.inherited"] == "lr"
    # Roll-up: the latest value per key, later runs winning.
    assert result.metrics == pytest.approx({"f1": 0.85, "loss": 2.0})
    assert run.metrics == pytest.approx({"f1": 0.85, "loss": 2.0})
    # The skipped cell is not in the executed notebook; nothing failed.
    executed = nbformat.read(result.output, as_version=4)
    assert not any("exploration cell" in c.source for c in executed.cells)


@pytest.mark.slow
def test_a_failing_cell_gives_a_failed_run_naming_the_cell_with_the_notebook_saved(tmp_path):
    nb = write_notebook(
        tmp_path / "broken.ipynb",
        "x = 1",
        "y = x + 1",
        "z = {}['missing_key']",
        "never = True",
    )
    with pytest.raises(NotebookFailed) as info:
        nbmlops.run_notebook(nb)
    error = info.value
    assert error.cell_index == 2
    assert error.ename == "KeyError" and "missing_key" in error.evalue
    assert "cell 2" in str(error) and "KeyError" in str(error)
    assert error.run_id is not None
    run = nbmlops.get_run(error.run_id)
    assert run.status == "FAILED"
    assert run.tags["nbmlops.outcome"] == "execution_failed"
    assert "KeyError" in run.error and "missing_key" in run.error
    executed = nbformat.reads(run.read_text("notebook/executed.ipynb"), as_version=4)
    failing = [c for c in executed.cells if c.get("outputs") and c.outputs[-1].get("ename")]
    assert failing and failing[0].outputs[-1]["ename"] == "KeyError"
    # The result rides along, and both cross process boundaries (pickle).
    result = error.result
    assert result.status == "FAILED" and result.outcome == "execution_failed"
    again = pickle.loads(pickle.dumps(result))
    assert again.error.cell_index == 2 and again.run_id == result.run_id
    assert "FAILED" in repr(result) and "KeyError" in result._repr_html_()


@pytest.mark.slow
def test_gate_cells_and_gate_expressions_are_recorded_not_crashes(tmp_path):
    nb = write_notebook(
        tmp_path / "evaluate.ipynb",
        "%load_ext nbmlops",
        """
        %%track
        f1 = 1.4 / 2
        """,
        cell(
            """
            assert f1 > 0.9, "f1 too low for production"
            assert f1 > 0.5
            after_gate = True
            """,
            "nbmlops:gate",
        ),
        "still_runs = after_gate",
    )
    result = nbmlops.run_notebook(
        nb, gates=["metrics.f1 >= 0.6", "metrics.auc >= 0.5"], raise_on_failure=False
    )
    assert result.status == "FAILED" and result.outcome == "gate_failed"
    assert isinstance(result.error, GateFailed)
    table = result.gates.set_index("gate")
    assert table.loc["metrics.f1 >= 0.6", "passed"]
    assert not table.loc["metrics.auc >= 0.5", "passed"]
    assert "no metric 'auc'" in table.loc["metrics.auc >= 0.5", "detail"]
    assert not table.loc['cell 2: assert f1 > 0.9, "f1 too low for production"', "passed"]
    assert table.loc['cell 2: assert f1 > 0.9, "f1 too low for production"', "detail"] == (
        "f1 too low for production"
    )
    assert table.loc["cell 2: assert f1 > 0.5", "passed"]
    run = nbmlops.get_run(result.run_id)
    assert run.tags["nbmlops.gate"] == "failed" and run.tags["nbmlops.outcome"] == "gate_failed"
    assert len(json.loads(run.read_text("gates.json"))) == 4
    # The rest of the notebook ran after the failed assertion.
    executed = nbformat.read(result.output, as_version=4)
    assert executed.cells[-2].metadata["papermill"]["status"] == "completed"


def test_unknown_parameter_and_missing_parameters_cell_are_errors_before_running(tmp_path):
    with_cell = write_notebook(tmp_path / "a.ipynb", cell("alpha = 1", "parameters"), "alpha")
    without = write_notebook(tmp_path / "b.ipynb", "beta = 2")

    with pytest.raises(InvalidParameters, match=r"unknown parameters \['alpah'\].*alpha") as info:
        nbmlops.run_notebook(with_cell, {"alpah": 2})
    assert info.value.unknown == ["alpah"] and info.value.known == ["alpha"]
    with pytest.raises(InvalidParameters, match="no cell is tagged 'parameters'"):
        nbmlops.run_notebook(without, {"beta": 3})
    with pytest.raises(InvalidGate, match="unknown name 'params.C'"):
        nbmlops.run_notebook(with_cell, gates=["params.C > 1"])
    assert nbmlops.runs().empty  # nothing was recorded: the errors came before any run


def test_notebook_hash_ignores_outputs_but_not_sources(tmp_path):
    nb_path = write_notebook(tmp_path / "h.ipynb", "x = 1", "x")
    before = notebook_hash(nb_path)
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells[1].outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "1"})]
    nb.cells[1].execution_count = 7
    nbformat.write(nb, nb_path)
    assert notebook_hash(nb_path) == before
    nb.cells[0].source = "x = 2"
    assert notebook_hash(nb) != before


@pytest.mark.skipif(os.name != "posix", reason="Unix sockets are used on POSIX only")
def test_kernels_talk_over_sockets_of_their_own_not_racy_tcp_ports(tmp_path):
    # Two notebooks started at once could both be handed the same free TCP port ("Address
    # already in use", a kernel dead before it replies): kernels get Unix sockets instead.
    from ._build import notebook

    nb = notebook(
        tmp_path / "transport.ipynb",
        None,
        "from ipykernel import get_connection_info\ninfo = get_connection_info(unpack=True)",
        "print(info['transport'], info['ip'])",
    )
    result = nbmlops.run_notebook(nb)
    printed = nbformat.read(result.output, as_version=4).cells[-1].outputs[0]["text"].split()
    assert printed[0] == "ipc"
    assert os.path.basename(os.path.dirname(printed[1])).startswith("nbmlops-kernel-")
    assert not os.path.exists(os.path.dirname(printed[1]))  # removed after the run
