"""Magics as a user types them, through the real IPython shell: shell-like quoting, one-line
results of promote/rollback, figures shown with ``plt.show()``, top-level ``await``."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError
from sklearn.datasets import load_iris
from sklearn.tree import DecisionTreeClassifier

import nbmlops
from nbmlops.errors import GateFailed, NbmlopsError


def _only_run() -> nbmlops.Run:
    frame = nbmlops.runs()
    assert len(frame) == 1, frame
    return nbmlops.get_run(frame.run_id[0])


def _fit(shell, name: str = "model", depth: int = 3) -> None:
    X, y = load_iris(return_X_y=True, as_frame=True)
    shell.user_ns[name] = DecisionTreeClassifier(max_depth=depth, random_state=0).fit(X, y)


# -- quoting ----------------------------------------------------------------------------------


def test_magic_arguments_unquote_like_a_shell(shell):
    _fit(shell)
    mv = shell.run_line_magic("register", "model --name quoted --description 'RF depth 8'")
    assert mv.description == "RF depth 8"
    mv = shell.run_line_magic("register", "model -n quoted -d \"it's the 'best' one\"")
    assert mv.description == "it's the 'best' one"
    mv = shell.run_line_magic("register", "model --name quoted --description two words")
    assert mv.description == "two words"

    assert shell.run_cell("%%track --name 'my first run' --tags 'team=risk ops'\nx = 1\n").success
    run = _only_run()
    assert run.name == "my first run"
    assert run.tags["team"] == "risk ops"


def test_an_unclosed_quote_is_a_usage_error(shell):
    _fit(shell)
    with pytest.raises(UsageError, match="close the quote"):
        shell.run_line_magic("register", "model --name x --description 'RF depth 8")
    assert nbmlops.models().empty


# -- promote / rollback results ----------------------------------------------------------------


def _shown(shell, value) -> dict[str, str]:
    """What the shell displays (text) and what Jupyter would (HTML: the terminal shell used
    in tests has its HTML formatter switched off)."""
    data, _metadata = shell.display_formatter.format(value)
    return {**data, "text/html": value._repr_html_()}


def test_promote_and_rollback_show_one_line(shell, capsys):
    for depth in (1, 2):
        assert shell.run_cell(
            "%%track --quiet\n"
            "from sklearn.datasets import load_iris\n"
            "from sklearn.tree import DecisionTreeClassifier\n"
            "X, y = load_iris(return_X_y=True, as_frame=True)\n"
            f"model = DecisionTreeClassifier(max_depth={depth}, random_state=0).fit(X, y)\n"
            "accuracy = model.score(X, y)\n"
        ).success
        shell.run_line_magic("register", "model --name iris")
    capsys.readouterr()
    assert shell.run_cell(
        "import nbmlops\n"
        "mv = nbmlops.promote('iris', 1, gates=['metrics.accuracy >= 0'])\n"
        "back = nbmlops.promote('iris', 2)\n"
        "rolled = nbmlops.rollback('iris')\n"
    ).success
    # A passing promotion prints nothing: the gate table is for failures.
    assert capsys.readouterr().out == ""
    # A ModelVersion shows its state now: after the rollback, version 1 is in production.
    for name, version, stage in (("mv", 1, "production"), ("back", 2, "archived")):
        mv = shell.user_ns[name]
        assert isinstance(mv, nbmlops.ModelVersion) and mv.version == version
        data = _shown(shell, mv)
        text, html = data["text/plain"], data["text/html"]
        assert "\n" not in text.strip() and "\n" not in html.strip()
        assert text.startswith(f"models:/iris/{version} [") and stage in text
        assert "DecisionTreeClassifier" in text
        assert "Model card" not in html and "<table" not in html
    # The card is one call away.
    assert "Model card: iris v1" in shell.user_ns["rolled"].card().to_html()

    result = shell.run_cell("nbmlops.promote('iris', 2, gates=['metrics.accuracy >= 2'])")
    assert isinstance(result.error_in_exec, GateFailed)
    assert "[FAIL] metrics.accuracy >= 2" in str(result.error_in_exec)


# -- figures ----------------------------------------------------------------------------------


@pytest.fixture
def inline_backend(shell):
    """Jupyter's inline backend: plt.show() displays the figures, then closes them."""
    shell.run_line_magic("matplotlib", "inline")
    yield shell
    import matplotlib.pyplot as plt

    plt.close("all")
    shell.run_line_magic("matplotlib", "agg")


def test_a_figure_shown_with_plt_show_is_recorded(inline_backend):
    shell = inline_backend
    cell = (
        "%%track --name plotted\n"
        "import matplotlib.pyplot as plt\n"
        "fig, ax = plt.subplots()\n"
        "ax.plot([1, 2, 3], [2, 4, 3])\n"
        "plt.show()\n"
        "fig2 = plt.figure()\n"
        "plt.plot([3, 2, 1])\n"
        "plt.show()\n"
        "open_after = plt.get_fignums()\n"
    )
    result = shell.run_cell(cell)
    assert result.success, result.error_in_exec
    assert shell.user_ns["open_after"] == []  # the inline backend closed them
    run = _only_run()
    pngs = sorted(a for a in run.artifacts if a.startswith("figures/") and a.endswith(".png"))
    assert len(pngs) == 2, run.artifacts
    assert all(run.read_artifact(name).startswith(b"\x89PNG") for name in pngs)


def test_a_figure_shown_and_left_open_is_recorded_once(inline_backend):
    shell = inline_backend
    cell = (
        "%%track\n"
        "import matplotlib.pyplot as plt\n"
        "from IPython.display import display\n"
        "fig = plt.figure()\n"
        "plt.plot([1, 2])\n"
        "display(fig)\n"
        "display(fig)\n"
    )
    assert shell.run_cell(cell).success
    run = _only_run()
    assert [a for a in run.artifacts if a.startswith("figures/")] == ["figures/figure-1.png"]


# -- top-level await --------------------------------------------------------------------------


def test_top_level_await_is_an_nbmlops_error_that_says_how_to_write_it(shell):
    shell.run_cell("import asyncio\nimport nbmlops")
    result = shell.run_cell("%%track --name waits\nvalue = await asyncio.sleep(0, result=3)\n")
    error = result.error_in_exec
    assert isinstance(error, NbmlopsError), repr(error)
    assert type(error).__name__ == "TrackedCellError"
    assert "top-level `await`" in str(error) and "with nbmlops.start_run(" in str(error)
    assert nbmlops.runs().empty  # nothing was recorded for a cell that never ran
    # What the message suggests works, with IPython's autoawait:
    assert shell.run_cell(
        "with nbmlops.start_run(name='fetch'):\n"
        "    value = await asyncio.sleep(0, result=3)\n"
        "    nbmlops.log_metric('value', value)\n"
    ).success
    assert _only_run().metrics == {"value": 3.0}
