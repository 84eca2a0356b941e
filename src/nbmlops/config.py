"""Where the workspace lives and how it behaves.

Resolution order for every setting: ``nbmlops.configure(...)`` in this process, then the
environment variable, then the default derived from the workspace home.

- home: ``NBMLOPS_HOME``, else ``.nbmlops/`` at the project root (the first parent holding
  ``.git`` or ``pyproject.toml``), else ``.nbmlops/`` in the working directory.
- store URL: ``NBMLOPS_STORE_URL``, default ``sqlite:///<home>/nbmlops.db``.
- artifact root: ``NBMLOPS_ARTIFACTS`` (any fsspec URL), default ``<home>/artifacts``.
- prediction log: ``NBMLOPS_PREDICTION_LOG`` (any fsspec URL), default ``<home>/predictions``;
  ``NBMLOPS_LOG_RETENTION_DAYS`` (days of logged predictions and labels kept, default: all) and
  ``NBMLOPS_LOG_REDACT`` (comma-separated input columns never written to the log, e.g. PII).
- timeouts of the metadata store, in seconds: ``NBMLOPS_CONNECT_TIMEOUT_S`` (PostgreSQL
  connection, default 10), ``NBMLOPS_STATEMENT_TIMEOUT_S`` (PostgreSQL statement, default 60)
  and ``NBMLOPS_BUSY_TIMEOUT_S`` (how long a SQLite writer waits for another's lock, default 60).
- out-of-core data on DuckDB: ``NBMLOPS_DUCKDB_MEMORY_LIMIT`` (DuckDB's ``memory_limit``, e.g.
  ``4GB``; default DuckDB's own, 80% of RAM) and ``NBMLOPS_DUCKDB_TEMP_DIRECTORY`` (where it
  spills, default ``<home>/duckdb_tmp``).
"""

from __future__ import annotations

import dataclasses
import math
import os
import threading
from pathlib import Path

from .errors import ConfigError

_PROJECT_MARKERS = (".git", "pyproject.toml")

_DEFAULTS = {
    "experiment": "default",
    "heartbeat_s": 10.0,
    "stale_after_s": 180.0,
    "flush_s": 0.5,
    "connect_timeout_s": 10.0,
    "statement_timeout_s": 60.0,
    "busy_timeout_s": 60.0,
}


@dataclasses.dataclass(frozen=True)
class Settings:
    """The resolved configuration of this process."""

    home: Path
    store_url: str
    artifacts: str
    experiment: str
    heartbeat_s: float
    stale_after_s: float
    flush_s: float
    prediction_log: str = ""
    log_retention_days: float | None = None
    log_redact: tuple[str, ...] = ()
    connect_timeout_s: float = _DEFAULTS["connect_timeout_s"]
    statement_timeout_s: float = _DEFAULTS["statement_timeout_s"]
    busy_timeout_s: float = _DEFAULTS["busy_timeout_s"]
    duckdb_memory_limit: str = ""
    duckdb_temp_directory: str = ""


_overrides: dict[str, object] = {}
_lock = threading.Lock()
_listeners: list = []


def find_project_root(start: Path | None = None) -> Path | None:
    """Return the first directory from ``start`` upwards holding ``.git`` or ``pyproject.toml``."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if any((candidate / marker).exists() for marker in _PROJECT_MARKERS):
            return candidate
    return None


_DURATION_ENV = {
    "heartbeat_s": "NBMLOPS_HEARTBEAT_S",
    "stale_after_s": "NBMLOPS_STALE_AFTER_S",
    "flush_s": "NBMLOPS_FLUSH_S",
    "connect_timeout_s": "NBMLOPS_CONNECT_TIMEOUT_S",
    "statement_timeout_s": "NBMLOPS_STATEMENT_TIMEOUT_S",
    "busy_timeout_s": "NBMLOPS_BUSY_TIMEOUT_S",
}


def _parse_seconds(raw: object, env: str) -> float:
    # bool is an int subclass; True seconds is a mistake, not a duration.
    if isinstance(raw, bool):
        raise ConfigError(f"{env} must be a number of seconds, got {raw!r}")
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ConfigError(f"{env} must be a number of seconds, got {raw!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{env} must be a finite number of seconds greater than 0, got {raw!r}")
    return value


def _float_setting(name: str, env: str, overrides: dict[str, object] | None = None) -> float:
    overrides = _overrides if overrides is None else overrides
    if name in overrides:
        raw = overrides[name]
    else:
        raw = os.environ.get(env, _DEFAULTS[name])
    return _parse_seconds(raw, env)


# A run is marked KILLED when no heartbeat came for stale_after_s: it must allow a couple of
# late or missed beats (a busy machine, a long GIL hold), or live runs read as KILLED.
STALE_HEARTBEATS = 3


def _check_liveness(overrides: dict[str, object]) -> tuple[float, float]:
    heartbeat = _float_setting("heartbeat_s", _DURATION_ENV["heartbeat_s"], overrides)
    stale = _float_setting("stale_after_s", _DURATION_ENV["stale_after_s"], overrides)
    if stale < STALE_HEARTBEATS * heartbeat:
        raise ConfigError(
            f"stale_after_s ({stale:g}) must be at least {STALE_HEARTBEATS} × heartbeat_s "
            f"({heartbeat:g}), i.e. >= {STALE_HEARTBEATS * heartbeat:g}: a run is marked KILLED "
            "after stale_after_s without a heartbeat, so a shorter value marks live runs "
            "KILLED. Raise stale_after_s (NBMLOPS_STALE_AFTER_S) or lower heartbeat_s "
            "(NBMLOPS_HEARTBEAT_S)"
        )
    return heartbeat, stale


def _redact_setting() -> tuple[str, ...]:
    raw = _overrides.get("log_redact")
    if raw is None:
        raw = os.environ.get("NBMLOPS_LOG_REDACT", "")
    if isinstance(raw, str):
        raw = raw.split(",")
    if not isinstance(raw, (list, tuple, set, frozenset)) or not all(
        isinstance(c, str) for c in raw
    ):
        raise ConfigError(f"log_redact is a list of column names, got {raw!r}")
    return tuple(sorted({c.strip() for c in raw if c.strip()}))


def _retention_setting() -> float | None:
    raw = _overrides.get("log_retention_days")
    if raw is None:
        raw = os.environ.get("NBMLOPS_LOG_RETENTION_DAYS") or None
    return None if raw is None else _parse_seconds(raw, "NBMLOPS_LOG_RETENTION_DAYS (days)")


def get_settings() -> Settings:
    """Resolve the settings now (environment variables are read on every call)."""
    with _lock:
        home_raw = _overrides.get("home") or os.environ.get("NBMLOPS_HOME")
        if home_raw:
            home = Path(str(home_raw)).expanduser().resolve()
        else:
            root = find_project_root() or Path.cwd().resolve()
            home = root / ".nbmlops"
        store_url = str(
            _overrides.get("store_url")
            or os.environ.get("NBMLOPS_STORE_URL")
            or f"sqlite:///{home / 'nbmlops.db'}"
        )
        artifacts = str(
            _overrides.get("artifacts") or os.environ.get("NBMLOPS_ARTIFACTS") or home / "artifacts"
        )
        experiment = str(
            _overrides.get("experiment")
            or os.environ.get("NBMLOPS_EXPERIMENT")
            or _DEFAULTS["experiment"]
        )
        heartbeat_s, stale_after_s = _check_liveness(_overrides)
        return Settings(
            home=home,
            store_url=store_url,
            artifacts=artifacts,
            experiment=experiment,
            heartbeat_s=heartbeat_s,
            stale_after_s=stale_after_s,
            flush_s=_float_setting("flush_s", _DURATION_ENV["flush_s"]),
            prediction_log=str(
                _overrides.get("prediction_log")
                or os.environ.get("NBMLOPS_PREDICTION_LOG")
                or home / "predictions"
            ),
            log_retention_days=_retention_setting(),
            log_redact=_redact_setting(),
            connect_timeout_s=_float_setting("connect_timeout_s", "NBMLOPS_CONNECT_TIMEOUT_S"),
            statement_timeout_s=_float_setting(
                "statement_timeout_s", "NBMLOPS_STATEMENT_TIMEOUT_S"
            ),
            busy_timeout_s=_float_setting("busy_timeout_s", "NBMLOPS_BUSY_TIMEOUT_S"),
            duckdb_memory_limit=str(
                _overrides.get("duckdb_memory_limit")
                or os.environ.get("NBMLOPS_DUCKDB_MEMORY_LIMIT")
                or ""
            ),
            duckdb_temp_directory=str(
                _overrides.get("duckdb_temp_directory")
                or os.environ.get("NBMLOPS_DUCKDB_TEMP_DIRECTORY")
                or home / "duckdb_tmp"
            ),
        )


def configure(
    *,
    home: str | os.PathLike | None = None,
    store_url: str | None = None,
    artifacts: str | None = None,
    experiment: str | None = None,
    heartbeat_s: float | None = None,
    stale_after_s: float | None = None,
    flush_s: float | None = None,
    prediction_log: str | None = None,
    log_retention_days: float | None = None,
    log_redact: list[str] | tuple[str, ...] | None = None,
    connect_timeout_s: float | None = None,
    statement_timeout_s: float | None = None,
    busy_timeout_s: float | None = None,
    duckdb_memory_limit: str | None = None,
    duckdb_temp_directory: str | None = None,
    reset: bool = False,
) -> Settings:
    """Override settings for this process; ``reset=True`` drops earlier overrides first.

    The timeouts (seconds) bound how long a store call may wait: ``connect_timeout_s`` for a
    PostgreSQL connection, ``statement_timeout_s`` for one PostgreSQL statement and
    ``busy_timeout_s`` for a SQLite writer waiting on another's lock.
    ``duckdb_memory_limit`` (e.g. ``"4GB"``) caps DuckDB when it aggregates or joins data
    larger than memory; it spills to ``duckdb_temp_directory``.

    >>> import nbmlops
    >>> nbmlops.configure(home="/tmp/my-workspace")  # doctest: +SKIP
    >>> nbmlops.configure(log_redact=["email", "ssn"], log_retention_days=90)  # doctest: +SKIP
    """
    from . import _args

    where = "configure({}=...)".format
    if home is not None:
        home = _args.path(home, where("home"))
    for label, value in (
        ("store_url", store_url),
        ("artifacts", artifacts),
        ("experiment", experiment),
        ("prediction_log", prediction_log),
        ("duckdb_memory_limit", duckdb_memory_limit),
        ("duckdb_temp_directory", duckdb_temp_directory),
    ):
        if _args.text(value, where(label), optional=True) == "":
            raise ConfigError(f"{where(label)} is an empty string; pass None to keep the default")
    _args.flag(reset, where("reset"))
    given = {
        "home": home,
        "store_url": store_url,
        "artifacts": artifacts,
        "experiment": experiment,
        "heartbeat_s": heartbeat_s,
        "stale_after_s": stale_after_s,
        "flush_s": flush_s,
        "prediction_log": prediction_log,
        "log_retention_days": log_retention_days,
        "log_redact": log_redact,
        "connect_timeout_s": connect_timeout_s,
        "statement_timeout_s": statement_timeout_s,
        "busy_timeout_s": busy_timeout_s,
        "duckdb_memory_limit": duckdb_memory_limit,
        "duckdb_temp_directory": duckdb_temp_directory,
    }
    if log_retention_days is not None:
        _parse_seconds(log_retention_days, "configure(log_retention_days=...)")
    if log_redact is not None and (
        isinstance(log_redact, str)
        or not isinstance(log_redact, (list, tuple, set, frozenset))
        or not all(isinstance(c, str) for c in log_redact)
    ):
        raise ConfigError(f"log_redact is a list of column names, got {log_redact!r}")
    # Validate before touching the overrides, so a rejected call leaves settings unchanged.
    for name in _DURATION_ENV:
        if given[name] is not None:
            given[name] = _parse_seconds(given[name], f"configure({name}=...)")
    with _lock:
        pending = {} if reset else dict(_overrides)
        pending.update({k: v for k, v in given.items() if v is not None})
        _check_liveness(pending)
        _overrides.clear()
        _overrides.update(pending)
    settings = get_settings()
    for listener in list(_listeners):
        listener()
    return settings


def on_configure(callback) -> None:
    """Call ``callback()`` after every ``configure`` (caches of stores use it to reset)."""
    _listeners.append(callback)
