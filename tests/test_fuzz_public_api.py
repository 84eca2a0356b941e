"""Fuzz every public function of ``nbmlops.__all__`` and every CLI command with wrong types and
hostile values; only nbmlops errors may escape.

What counts as a pass: the call returns, or raises an ``NbmlopsError`` (which is also a
``TypeError`` for a wrong type, ``InvalidArgumentType``, and a ``ValueError``/``KeyError`` …
for a wrong value). A raw ``AttributeError``, ``TypeError``, ``OverflowError``, ``OSError``,
SQL error or ``RecursionError`` is a bug. For the CLI: no traceback, exit status 0, 1 or 2.

Each function gets a few dozen examples (``max_examples``) and no deadline, so the module runs
in about a minute. Functions and classes left out, and why, are listed in ``SKIPPED``.
"""

from __future__ import annotations

import inspect
import math
import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nbmlops
from nbmlops.errors import NbmlopsError

SETTINGS = settings(
    max_examples=20,
    deadline=None,
    derandomize=True,  # the same examples on every run: a failure here is reproducible
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Not fuzzed, with the reason.
SKIPPED = {
    "panel": "an interactive ipywidgets panel: needs a kernel with a widget frontend",
    "load_ipython_extension": "takes an IPython shell (tests/test_magics.py covers it)",
    # Objects nbmlops builds and hands out; users do not construct them.
    "ActiveRun": "handed out by start_run(); takes a Store",
    "Run": "handed out by get_run(); takes a Store",
    "ModelVersion": "handed out by get_model(); takes a Store",
    "ModelCard": "handed out by model_card()",
    "Comparison": "handed out by compare(), which is fuzzed",
    "DriftReport": "handed out by drift_report(), which is fuzzed",
    "MonitorResult": "handed out by Monitor.run()",
    "PipelineResult": "handed out by run_pipeline(), which is fuzzed",
    "PipelineRun": "handed out by run_notebook(), which is fuzzed",
    "Reproduction": "handed out by reproduce(), which is fuzzed",
    "ValidationResult": "handed out by validate(), which is fuzzed",
    "Fingerprint": "handed out by fingerprint(), which is fuzzed",
    "Signature": "built by register_model from data",
    "Monitor": "built and saved by monitor(), which is fuzzed",
    "Pipeline": "built from pipeline.yaml by run_pipeline(), which is fuzzed",
    "PromotionRequest": "handed out by promote() under a policy and promotion_requests()",
}
# These log into the active run: they are called inside one.
IN_A_RUN = {
    "log_artifact",
    "log_dict",
    "log_figure",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_output",
    "log_param",
    "log_params",
    "log_text",
    "set_tag",
    "set_tags",
    "end_run",
}


def _public_callables() -> dict[str, object]:
    found = {}
    for name in nbmlops.__all__:
        obj = getattr(nbmlops, name)
        if name.startswith("__") or inspect.ismodule(obj) or name in SKIPPED:
            continue
        if inspect.isclass(obj) and issubclass(obj, BaseException):
            continue
        if callable(obj):
            found[name] = obj
    return found


CALLABLES = _public_callables()

_TEXT = [
    "",
    " ",
    "x\n",
    "\nx",
    "x\x00y",
    "\u202eevil\u202c",
    "a\u200bb",
    "\x7f",
    "\x85",
    "\ud800",  # a lone surrogate: no UTF-8 encoding exists
    "a" * 5000,
    "not " * 2000,
    "(" * 3000,
    "9" * 40,
    "-1",
    "0",
    "nan",
    "1e309",
    "\u00b2",  # a digit to str.isdigit(), not to int()
    "models:/m/" + "9" * 30,
    "models:/m@" + "x" * 300,
    "m@production",
    "'; DROP TABLE runs; --",
    "<script>alert(1)</script>",
    "${HOME}$(id)`id`",
    "%s%n{0}{{7*7}}",
    "../outside",
    "../outside/secret.txt",  # a file outside the workspace
    "../../elsewhere",
    "🙂",
    "metrics.accuracy > 0.9",
    "params.C = '0.5'",
]
_FIXED = [
    None,
    True,
    False,
    0,
    -1,
    2**31,
    2**63,
    10**30,
    -(10**30),
    math.nan,
    math.inf,
    -math.inf,
    1e308,
    b"bytes",
    [],
    ["x", 1],
    [[["deep"]]],
    {},
    {"k": "v"},
    {1: 2},
    {"k": {"nested": [math.nan]}},
    ("a", "b"),
    {"a"},
    object(),
    np.int64(7),
    np.float64("nan"),
    np.array([1.0, 2.0]),
    pd.DataFrame({"a": [1.0, 2.0], "\u202e": ["x", "y"]}),
    pd.DataFrame(),
    pd.Series([1, 2]),
]
# Valid-looking values, so calls get past "not found" into the code behind: the workspace
# holds a run named "seed" (param C, metric acc, tag team) in experiment "default" and the
# model "m", version 1 in production.
_PLAUSIBLE = [
    "m",
    "models:/m/1",
    "m@production",
    "production",
    "default",
    "seed",
    "acc",
    "C",
    "metrics.acc > 0.5",
    "metrics.acc DESC",
    1,
    2,
    0.5,
]
HOSTILE = st.one_of(
    st.sampled_from(_PLAUSIBLE),
    st.sampled_from(_TEXT),
    st.sampled_from(_FIXED),
    st.text(max_size=30),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(),
    st.lists(st.one_of(st.text(max_size=5), st.integers(), st.none()), max_size=3),
    st.dictionaries(st.text(max_size=5), st.one_of(st.text(max_size=5), st.floats()), max_size=3),
)


@pytest.fixture(scope="module")
def fuzz_home(tmp_path_factory):
    """One workspace for the module, holding a run and a registered model (see _PLAUSIBLE)."""
    from sklearn.linear_model import LogisticRegression

    home = tmp_path_factory.mktemp("fuzz") / "workspace"
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("NBMLOPS_")]:
            if name != "NBMLOPS_TEST_POSTGRES_URL":
                patch.delenv(name)
        patch.setenv("NBMLOPS_HOME", str(home))
        nbmlops.configure(reset=True)
        X, y = np.arange(20.0).reshape(10, 2), [0, 1] * 5
        with nbmlops.start_run(name="seed", tags={"team": "risk"}) as run:
            nbmlops.log_params({"C": 0.5})
            nbmlops.log_metric("acc", 0.9)
            model = LogisticRegression().fit(X, y)
        nbmlops.register_model(model, "m", run=run)
        nbmlops.promote("m", 1, reason="seed")
        yield home
        while nbmlops.active_run() is not None:
            nbmlops.end_run("KILLED")
    nbmlops.configure(reset=True)


@pytest.fixture
def fuzz_workspace(fuzz_home, tmp_path, monkeypatch):
    """The module's workspace, run from a scratch folder with a file "outside" it."""
    scratch = tmp_path / "cwd"
    scratch.mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text("not yours")
    monkeypatch.chdir(scratch)
    yield fuzz_home
    while nbmlops.active_run() is not None:
        nbmlops.end_run("KILLED")
    nbmlops.configure(reset=True)


def _call(name: str, fn, args: list, kwargs: dict) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if name in IN_A_RUN:
                with nbmlops.start_run():
                    fn(*args, **kwargs)
            else:
                result = fn(*args, **kwargs)
                if name == "serve":  # a model server running in the background: stop it
                    result.stop()
    except NbmlopsError:
        pass
    finally:
        while nbmlops.active_run() is not None:
            nbmlops.end_run("KILLED")
        if name == "configure":
            nbmlops.configure(reset=True)


def _draw_arguments(data, fn) -> tuple[list, dict]:
    args: list = []
    kwargs: dict = {}
    for param in inspect.signature(fn).parameters.values():
        if param.kind is param.VAR_KEYWORD:
            continue  # **params: unknown names are Python's own TypeError, by design
        if param.kind is param.VAR_POSITIONAL:
            args += data.draw(st.lists(HOSTILE, max_size=3), label=f"*{param.name}")
            continue
        if param.default is not param.empty and not data.draw(st.booleans()):
            continue
        value = data.draw(HOSTILE, label=param.name)
        if param.kind is param.POSITIONAL_ONLY:
            args.append(value)
        else:
            kwargs[param.name] = value
    return args, kwargs


@pytest.mark.parametrize("name", sorted(CALLABLES))
@SETTINGS
@given(data=st.data())
def test_public_function_raises_only_nbmlops_errors(fuzz_workspace, name, data):
    fn = CALLABLES[name]
    args, kwargs = _draw_arguments(data, fn)
    _call(name, fn, args, kwargs)


def test_every_public_callable_is_fuzzed_or_skipped_with_a_reason():
    for name in nbmlops.__all__:
        obj = getattr(nbmlops, name)
        if inspect.ismodule(obj) or name.startswith("__"):
            continue
        if inspect.isclass(obj) and issubclass(obj, BaseException):
            continue
        assert name in CALLABLES or SKIPPED.get(name), name


# -- the command line -------------------------------------------------------------------------


def _commands():
    import click

    from nbmlops.cli import main

    found = {}

    def walk(command, path):
        if isinstance(command, click.Group):
            context = click.Context(command)
            for sub in command.list_commands(context):
                walk(command.get_command(context, sub), [*path, sub])
        else:
            found[" ".join(path)] = command

    walk(main, [])
    return main, found


CLI_MAIN, COMMANDS = _commands()
# `nbmlops serve` runs until it is stopped (tests/serving drives its command line).
COMMANDS.pop("serve", None)
CLI_TEXT = st.one_of(
    st.sampled_from([str(v) for v in _PLAUSIBLE]),
    st.sampled_from([t for t in _TEXT if "\x00" not in t and "\ud800" not in t]),
    st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00")),
)
CLI_NUMBER = st.one_of(
    st.sampled_from(["-1", "0", "1", "2147483648", "9" * 25, "inf", "-nan", "1e309"]),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats().map(repr),
)


def _runner():
    """A CliRunner that keeps stderr apart: the default from click 8.2, ``mix_stderr=False``
    before (the lower-bounds CI run has click 8.1)."""
    try:
        return CliRunner(mix_stderr=False)
    except TypeError:  # click >= 8.2 has no mix_stderr and always separates them
        return CliRunner()


def _cli_value(param):
    """Text for one value of a click parameter: numbers for numeric ones, else any text."""
    import click

    if isinstance(param.type, click.Choice):
        return st.one_of(st.sampled_from(list(param.type.choices)), CLI_TEXT)
    if isinstance(param.type, (click.types.IntParamType, click.types.FloatParamType)):
        return st.one_of(CLI_NUMBER, CLI_TEXT)
    return CLI_TEXT


@pytest.mark.parametrize("command", sorted(COMMANDS))
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_cli_command_never_shows_a_traceback(fuzz_workspace, command, data):
    import click

    argv = command.split()
    for param in COMMANDS[command].params:
        values = _cli_value(param)
        if isinstance(param, click.Argument):
            argv += [data.draw(values, label=param.name) for _ in range(max(param.nargs, 1))]
        elif data.draw(st.booleans(), label=f"use {param.name}"):
            option = param.opts[0]
            if param.is_flag:
                argv.append(option)
            else:
                argv += [option, *(data.draw(values, label=param.name) for _ in range(param.nargs))]
    result = _runner().invoke(CLI_MAIN, argv, catch_exceptions=True)
    while nbmlops.active_run() is not None:
        nbmlops.end_run("KILLED")
    # (stdout may show a stored traceback: `runs show` prints a FAILED run's error.)
    errors = getattr(result, "stderr", "") or ""
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        argv,
        result.exception,
    )
    assert "Traceback (most recent call last)" not in errors, (argv, errors[-2000:])
    assert result.exit_code in (0, 1, 2), (argv, result.exit_code, result.output[-2000:])


def test_fuzz_paths_stay_in_pytest_temporary_folders(fuzz_workspace, tmp_path):
    # The hostile relative paths resolve inside pytest's temporary folders, never elsewhere.
    for text in _TEXT:
        if text.startswith(".."):
            assert Path(text).resolve().is_relative_to(tmp_path.parent.parent)
