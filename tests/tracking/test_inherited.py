"""What a ``%%track`` cell takes from earlier cells: recorded so it can be reproduced alone."""

from __future__ import annotations

import ast
import json
import textwrap

import pytest

import nbmlops
from nbmlops.tracking.cell import analyze
from nbmlops.tracking.inherited import ARTIFACT, Inherited, collect, is_simple


def _needs(source: str) -> list[str]:
    return analyze(ast.parse(textwrap.dedent(source))).needs


def test_needs_are_the_names_a_cell_reads_before_binding_them():
    assert _needs(
        """
        for i in range(3):
            total += i * alpha
        n += 1
        y = [x * beta for x in data]
        def f(a):
            b = a + gamma
            return b
        import numpy as np2
        z = np.mean(data) + f(1) + np2.pi + y[0] + n
        """
    ) == ["total", "range", "alpha", "n", "beta", "data", "gamma", "np"]
    # Reading a name, then assigning it: the earlier value is still needed.
    assert _needs("alpha = alpha * 2\n") == ["alpha"]
    assert _needs("alpha = 2\nprint(alpha)\n") == ["print"]


def test_a_function_body_binds_its_own_names_not_the_cells():
    plan = analyze(ast.parse("def f():\n    x = 1\n    return x\ny = f()\n"))
    assert plan.params == [] and plan.assigned == ["y"]


@pytest.mark.parametrize(
    ("value", "simple"),
    [
        (None, True),
        (0.5, True),
        ("adam", True),
        ([64, 32], True),
        ({"lr": 0.1, "layers": [1, 2]}, True),
        ((1, "a"), True),
        (float("nan"), False),
        (list(range(500)), False),
        ({1: 2}, False),
        ([[[[1]]]], False),
        (object(), False),
    ],
)
def test_simple_values(value, simple):
    assert is_simple(value) is simple


def test_collect_sorts_values_imports_and_objects():
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    def local():  # defined here, like a function defined in a notebook cell
        return 1

    local.__module__ = "__main__"
    namespace = {
        "alpha": 0.5,
        "dims": (3, 4),
        "cfg": {"depth": [1, 2]},
        "np": np,
        "LR": LogisticRegression,
        "helper": local,
        "arr": np.zeros(3),
        "In": [],
    }
    found = collect([*namespace, "print", "_"], namespace, hidden={"In"}, digests={"arr": "d1"})
    assert found.params == {"alpha": 0.5, "dims": [3, 4], "cfg": {"depth": [1, 2]}}
    assert found.tuples == ["dims"]
    assert found.imports == {
        "np": "import numpy as np",
        "LR": "from sklearn.linear_model._logistic import LogisticRegression as LR",
    }
    assert found.objects == {
        "helper": {"type": "builtins.function", "digest": None},
        "arr": {"type": "numpy.ndarray", "digest": "d1"},
    }
    again = Inherited.from_dict(json.loads(json.dumps(found.to_dict())))
    scope: dict = {}
    exec(again.setup_code(), scope)  # noqa: S102 - the statements reproduction runs
    assert scope["dims"] == (3, 4) and scope["np"] is np and scope["LR"] is LogisticRegression


def test_a_tracked_cell_records_what_it_reads_from_earlier_cells(shell):
    shell.run_cell(
        "import numpy as np\nimport pandas as pd\nalpha = 0.25\nlayers = [8, 4]\n"
        "frame = pd.DataFrame({'x': [1.0, 2.0]})\nunused = 1"
    )
    result = shell.run_cell(
        "%%track --quiet\nscore = float(np.sum(frame['x'])) * alpha + len(layers)\nlayers.append(2)"
    )
    result.raise_error()
    run = nbmlops.get_run(nbmlops.runs().run_id[0])
    assert run.params == {"alpha": 0.25, "layers": [8, 4]}  # as they were before the cell
    assert run.tags["nbmlops.inherited"] == "alpha,layers"
    record = json.loads(run.read_artifact(ARTIFACT))
    assert record["imports"] == {"np": "import numpy as np"}
    assert record["objects"]["frame"]["type"].endswith("DataFrame")  # module differs by pandas
    assert record["objects"]["frame"]["digest"] == run.inputs["frame"]["digest"]
    assert "unused" not in json.dumps(record)


def test_a_failing_cell_still_records_its_inherited_values(shell):
    shell.run_cell("threshold = 3")
    shell.run_cell("%%track --quiet\nraise ValueError(threshold)")
    run = nbmlops.get_run(nbmlops.runs().run_id[0])
    assert run.status == "FAILED"
    assert run.params == {"threshold": 3}


def test_the_cells_own_literal_wins_over_the_inherited_value(shell):
    shell.run_cell("C = 1.0")
    shell.run_cell("%%track --quiet\nprint(C)\nC = 2.0")
    run = nbmlops.get_run(nbmlops.runs().run_id[0])
    assert run.params == {"C": 2.0}
    assert "nbmlops.inherited" not in run.tags
    assert json.loads(run.read_artifact(ARTIFACT))["params"] == {"C": 1.0}
