"""Where the workspace lives: NBMLOPS_* variables, the project root, ``configure``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import nbmlops
from nbmlops.config import find_project_root, get_settings
from nbmlops.errors import ConfigError, NbmlopsError
from nbmlops.store import get_store

MARKERS = (".git", "pyproject.toml")


@pytest.fixture
def no_home(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No NBMLOPS_* variable at all (the workspace fixture cleans them up afterwards)."""
    monkeypatch.delenv("NBMLOPS_HOME")
    nbmlops.configure(reset=True)


@pytest.fixture
def set_env(workspace: Path):
    """Set variables that would break the workspace fixture's own teardown, and undo them
    before it runs."""
    saved: list[tuple[str, str | None]] = []

    def setter(name: str, value: str) -> None:
        saved.append((name, os.environ.get(name)))
        os.environ[name] = value

    yield setter
    for name, old in reversed(saved):
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


def _has_marker_above(path: Path) -> bool:
    return any((p / m).exists() for p in (path, *path.parents) for m in MARKERS)


# -- NBMLOPS_HOME -----------------------------------------------------------------------------


def test_home_from_environment_sets_every_default(workspace: Path):
    settings = get_settings()
    assert settings.home == workspace.resolve()
    assert settings.store_url == f"sqlite:///{workspace.resolve() / 'nbmlops.db'}"
    assert settings.artifacts == str(workspace.resolve() / "artifacts")
    assert settings.experiment == "default"
    assert (settings.heartbeat_s, settings.stale_after_s, settings.flush_s) == (10.0, 180.0, 0.5)


def test_home_is_used_by_runs(workspace: Path, tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with nbmlops.start_run():
        nbmlops.log_text("hello", "hello.txt")
    assert (workspace / "nbmlops.db").is_file()
    assert list((workspace / "artifacts" / "sha256").rglob("*"))


def test_relative_and_user_home_paths_are_resolved(workspace, tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NBMLOPS_HOME", "relative/ws")
    assert get_settings().home == (tmp_path / "relative" / "ws").resolve()
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    monkeypatch.setenv("NBMLOPS_HOME", "~/ws")
    assert get_settings().home == (tmp_path / "user" / "ws").resolve()


def test_environment_is_read_on_every_call(workspace, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("NBMLOPS_HOME", str(tmp_path / "one"))
    assert get_settings().home == (tmp_path / "one").resolve()
    monkeypatch.setenv("NBMLOPS_HOME", str(tmp_path / "two"))
    assert get_settings().home == (tmp_path / "two").resolve()


# -- project root -----------------------------------------------------------------------------


@pytest.mark.parametrize("marker", MARKERS)
def test_project_root_is_found_from_a_subfolder(no_home, tmp_path: Path, monkeypatch, marker):
    project = tmp_path / "project"
    deep = project / "notebooks" / "eda"
    deep.mkdir(parents=True)
    if marker == ".git":
        (project / ".git").mkdir()
    else:
        (project / marker).write_text("[project]\nname = 'x'\n")
    monkeypatch.chdir(deep)
    root = project.resolve()
    assert find_project_root() == root
    assert find_project_root(deep) == root
    settings = get_settings()
    assert settings.home == root / ".nbmlops"
    assert settings.store_url == f"sqlite:///{root / '.nbmlops' / 'nbmlops.db'}"
    assert settings.artifacts == str(root / ".nbmlops" / "artifacts")
    with nbmlops.start_run():
        pass
    assert (root / ".nbmlops" / "nbmlops.db").is_file()
    assert not (deep / ".nbmlops").exists()


def test_nearest_project_root_wins(no_home, tmp_path: Path, monkeypatch):
    outer = tmp_path / "outer"
    inner = outer / "packages" / "inner"
    (inner / "src").mkdir(parents=True)
    (outer / ".git").mkdir()
    (inner / "pyproject.toml").write_text("")
    monkeypatch.chdir(inner / "src")
    assert get_settings().home == inner.resolve() / ".nbmlops"
    monkeypatch.chdir(outer / "packages")
    assert get_settings().home == outer.resolve() / ".nbmlops"


def test_without_a_project_root_the_working_directory_is_used(no_home, tmp_path, monkeypatch):
    loose = tmp_path / "loose" / "folder"
    loose.mkdir(parents=True)
    if _has_marker_above(loose):
        pytest.skip("the temporary folder is inside a project")
    monkeypatch.chdir(loose)
    assert find_project_root() is None
    assert get_settings().home == loose.resolve() / ".nbmlops"


# -- store URL and artifacts ------------------------------------------------------------------


def test_store_url_and_artifacts_from_environment(workspace: Path, tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "elsewhere" / "meta.db"
    blobs = tmp_path / "blobs"
    monkeypatch.setenv("NBMLOPS_STORE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("NBMLOPS_ARTIFACTS", str(blobs))
    settings = get_settings()
    assert (settings.store_url, settings.artifacts) == (f"sqlite:///{db}", str(blobs))
    assert settings.home == workspace.resolve()  # the home itself is unchanged
    with nbmlops.start_run() as run:
        nbmlops.log_text("stored elsewhere", "where.txt")
    assert db.is_file()
    assert list((blobs / "sha256").rglob("*"))
    assert not (workspace / "nbmlops.db").exists()
    assert not (workspace / "artifacts").exists()
    assert nbmlops.get_run(run.run_id).read_text("where.txt") == "stored elsewhere"


def test_experiment_from_environment(workspace, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NBMLOPS_EXPERIMENT", "from-env")
    with nbmlops.start_run() as run:
        pass
    assert run.experiment == "from-env"


# -- configure --------------------------------------------------------------------------------


def test_configure_overrides_environment_and_reset_drops_overrides(
    workspace, tmp_path, monkeypatch
):
    monkeypatch.setenv("NBMLOPS_EXPERIMENT", "env-exp")
    monkeypatch.setenv("NBMLOPS_ARTIFACTS", str(tmp_path / "env-blobs"))
    settings = nbmlops.configure(
        home=tmp_path / "cfg-home",
        store_url=f"sqlite:///{tmp_path / 'cfg.db'}",
        artifacts="memory://cfg-blobs",
        experiment="cfg-exp",
        heartbeat_s=2,
        stale_after_s=30,
        flush_s=0.1,
    )
    assert settings == get_settings()
    assert settings.home == (tmp_path / "cfg-home").resolve()
    assert settings.store_url == f"sqlite:///{tmp_path / 'cfg.db'}"
    assert settings.artifacts == "memory://cfg-blobs"
    assert settings.experiment == "cfg-exp"
    assert (settings.heartbeat_s, settings.stale_after_s, settings.flush_s) == (2.0, 30.0, 0.1)

    # Later calls add to earlier overrides; the environment still loses.
    monkeypatch.setenv("NBMLOPS_EXPERIMENT", "env-exp-2")
    nbmlops.configure(flush_s=0.2)
    settings = get_settings()
    assert (settings.experiment, settings.flush_s, settings.heartbeat_s) == ("cfg-exp", 0.2, 2.0)

    settings = nbmlops.configure(reset=True)
    assert settings.home == workspace.resolve()
    assert settings.experiment == "env-exp-2"
    assert settings.artifacts == str(tmp_path / "env-blobs")
    assert settings.store_url == f"sqlite:///{workspace.resolve() / 'nbmlops.db'}"
    assert settings.heartbeat_s == 10.0

    settings = nbmlops.configure(reset=True, experiment="only-this")
    assert (settings.experiment, settings.flush_s) == ("only-this", 0.5)


def test_configure_switches_the_store_in_use(workspace, tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with nbmlops.start_run(name="in-a"):
        pass
    nbmlops.configure(home=tmp_path / "b")
    assert nbmlops.runs().empty
    assert get_store().settings.home == (tmp_path / "b").resolve()
    with nbmlops.start_run(name="in-b"):
        pass
    nbmlops.configure(reset=True)
    assert nbmlops.runs()["name"].tolist() == ["in-a"]
    nbmlops.configure(home=tmp_path / "b")
    assert nbmlops.runs()["name"].tolist() == ["in-b"]


# -- invalid settings -------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["abc", "", "0", "-1", "1s", "nan"])
def test_invalid_heartbeat_is_config_error(set_env, tmp_path, monkeypatch, raw):
    monkeypatch.chdir(tmp_path)
    set_env("NBMLOPS_HEARTBEAT_S", raw)
    with pytest.raises(ConfigError, match="NBMLOPS_HEARTBEAT_S") as info:
        get_settings()
    assert isinstance(info.value, ValueError) and isinstance(info.value, NbmlopsError)
    with pytest.raises(ConfigError):
        nbmlops.start_run()
    assert nbmlops.active_run() is None


@pytest.mark.parametrize("variable", ["NBMLOPS_STALE_AFTER_S", "NBMLOPS_FLUSH_S"])
@pytest.mark.parametrize("raw", ["soon", "0", "-5"])
def test_other_invalid_durations_are_config_errors(set_env, variable, raw):
    set_env(variable, raw)
    with pytest.raises(ConfigError, match=variable):
        get_settings()


def test_valid_durations_from_environment(workspace, monkeypatch):
    monkeypatch.setenv("NBMLOPS_HEARTBEAT_S", "2.5")
    monkeypatch.setenv("NBMLOPS_STALE_AFTER_S", "60")
    monkeypatch.setenv("NBMLOPS_FLUSH_S", "0.05")
    settings = get_settings()
    assert (settings.heartbeat_s, settings.stale_after_s, settings.flush_s) == (2.5, 60.0, 0.05)


def test_rejected_configure_leaves_settings_unchanged(workspace):
    nbmlops.configure(heartbeat_s=5)
    with pytest.raises(ConfigError):
        nbmlops.configure(heartbeat_s=-1)
    assert get_settings().heartbeat_s == 5.0
    with pytest.raises(ConfigError):
        nbmlops.configure(flush_s="fast")  # type: ignore[arg-type]
    assert get_settings().flush_s == 0.5


# -- store timeouts ---------------------------------------------------------------------------

TIMEOUTS = {
    "connect_timeout_s": "NBMLOPS_CONNECT_TIMEOUT_S",
    "statement_timeout_s": "NBMLOPS_STATEMENT_TIMEOUT_S",
    "busy_timeout_s": "NBMLOPS_BUSY_TIMEOUT_S",
}


def test_store_timeouts_have_sane_defaults(workspace):
    settings = get_settings()
    assert (settings.connect_timeout_s, settings.statement_timeout_s, settings.busy_timeout_s) == (
        10.0,
        60.0,
        60.0,
    )


@pytest.mark.parametrize("name", sorted(TIMEOUTS))
def test_store_timeouts_from_environment_and_configure(workspace, monkeypatch, name):
    monkeypatch.setenv(TIMEOUTS[name], "7.5")
    assert getattr(get_settings(), name) == 7.5
    assert getattr(nbmlops.configure(**{name: 3}), name) == 3.0  # configure wins
    nbmlops.configure(reset=True)
    monkeypatch.setenv(TIMEOUTS[name], "never")
    with pytest.raises(ConfigError, match=TIMEOUTS[name]):
        get_settings()
    monkeypatch.delenv(TIMEOUTS[name])
    with pytest.raises(ConfigError, match=name):
        nbmlops.configure(**{name: 0})


def test_a_new_busy_timeout_opens_a_new_engine(workspace, monkeypatch):
    before = get_store()
    assert get_store() is before
    monkeypatch.setenv("NBMLOPS_BUSY_TIMEOUT_S", "5")
    after = get_store()
    assert after is not before
    with after.meta.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000


@pytest.mark.parametrize(
    ("kwargs", "env"),
    [
        ({"heartbeat_s": 5, "stale_after_s": 1}, {}),
        ({"heartbeat_s": 5, "stale_after_s": 14.9}, {}),
        ({"heartbeat_s": 100}, {}),  # with the default stale_after_s of 180
        ({"stale_after_s": 20}, {}),  # with the default heartbeat_s of 10
        ({}, {"NBMLOPS_HEARTBEAT_S": "5", "NBMLOPS_STALE_AFTER_S": "1"}),
    ],
)
def test_stale_after_must_allow_three_heartbeats(workspace, monkeypatch, kwargs, env):
    # A run is marked KILLED after stale_after_s without a heartbeat: a value below a few
    # heartbeats would mark live runs KILLED.
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=r"at least 3 × heartbeat_s") as info:
        nbmlops.configure(**kwargs) if kwargs else get_settings()
    assert "NBMLOPS_STALE_AFTER_S" in str(info.value)
    for name in env:
        monkeypatch.delenv(name)
    assert (get_settings().heartbeat_s, get_settings().stale_after_s) == (10.0, 180.0)
    settings = nbmlops.configure(heartbeat_s=5, stale_after_s=15)
    assert (settings.heartbeat_s, settings.stale_after_s) == (5.0, 15.0)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"home": 3}, "InvalidArgumentType"),
        ({"home": "a\x00b"}, "InvalidArgument"),
        ({"store_url": ["sqlite://"]}, "InvalidArgumentType"),
        ({"experiment": 1.5}, "InvalidArgumentType"),
        ({"reset": "yes"}, "InvalidArgumentType"),
        ({"artifacts": ""}, "ConfigError"),
    ],
)
def test_configure_refuses_wrong_types_and_leaves_settings(workspace, kwargs, error):
    before = get_settings()
    with pytest.raises(NbmlopsError) as info:
        nbmlops.configure(**kwargs)
    assert type(info.value).__name__ == error
    assert get_settings() == before
