"""``Run``: one experiment run, to log into while it is open and to read afterwards."""

from __future__ import annotations

import io
import json
import math
import os
import time
import traceback
from pathlib import Path
from typing import Any

from .. import _args
from ..errors import ArtifactNotFound, InvalidArgument, InvalidArtifactName
from ..store import Store, validate_artifact_name
from . import _validate as v
from ._writer import writer
from .fingerprint import input_fingerprint

FINISHED, FAILED, KILLED, RUNNING = "FINISHED", "FAILED", "KILLED", "RUNNING"
_END_STATUSES = (FINISHED, FAILED, KILLED)


class Run:
    """A handle on one run. Logging methods write (metrics are buffered); properties read.

    >>> import nbmlops
    >>> with nbmlops.start_run(name="baseline") as run:  # doctest: +SKIP
    ...     run.log_param("C", 0.5)
    ...     run.log_metric("accuracy", 0.93)
    """

    def __init__(self, store: Store, run_id: str):
        self._store = store
        self.run_id = run_id

    def __repr__(self) -> str:
        row = self._row()
        name = f" {row['name']!r}" if row["name"] else ""
        return f"<Run {self.run_id[:8]}{name} {row['status']} experiment={row['experiment']!r}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Run) and other.run_id == self.run_id

    def __hash__(self) -> int:
        return hash(self.run_id)

    @property
    def id(self) -> str:
        return self.run_id

    # -- logging -------------------------------------------------------------------------------

    def log_param(self, key: str, value: Any) -> None:
        self.log_params({v.key("param", key): value})

    def log_params(self, params: dict[str, Any]) -> None:
        """Record params (JSON values); changing a logged param's value is an error."""
        params = _args.mapping(params, "log_params(params=...)")
        encoded = {v.key("param", k): v.param_json(k, val) for k, val in params.items()}
        if encoded:
            self._store.meta.log_params(self.run_id, encoded)

    def log_metric(
        self, key: str, value: float, step: int | None = None, timestamp: float | None = None
    ) -> None:
        """Record one metric value (buffered; written within ``flush_s``)."""
        row = (
            self.run_id,
            v.key("metric", key),
            v.metric_value(key, value),
            v.metric_step(key, step),
            v.metric_timestamp(key, timestamp),
        )
        writer.add(self._store, [row])

    def log_metrics(
        self, metrics: dict[str, float], step: int | None = None, timestamp: float | None = None
    ) -> None:
        rows = [
            (
                self.run_id,
                v.key("metric", k),
                v.metric_value(k, val),
                v.metric_step(k, step),
                v.metric_timestamp(k, timestamp),
            )
            for k, val in _args.mapping(metrics, "log_metrics(metrics=...)").items()
        ]
        if rows:
            writer.add(self._store, rows)

    def set_tag(self, key: str, value: Any) -> None:
        self.set_tags({v.key("tag", key): value})

    def set_tags(self, tags: dict[str, Any]) -> None:
        tags = _args.mapping(tags, "set_tags(tags=...)")
        encoded = {v.key("tag", k): v.tag_value(k, val) for k, val in tags.items()}
        if encoded:
            self._store.meta.set_tags(self.run_id, encoded)

    def log_input(self, data: Any, name: str, info: dict | None = None) -> None:
        """Record a DataFrame, Series or array the run read, by fingerprint (not a copy)."""
        self._log_data("input", data, name, info)

    def log_output(self, data: Any, name: str, info: dict | None = None) -> None:
        """Record a DataFrame, Series or array the run produced, by fingerprint."""
        self._log_data("output", data, name, info)

    def _log_data(self, direction: str, data: Any, name: str, info: dict | None) -> None:
        v.key(f"{direction} name", name)
        fp = input_fingerprint(data)
        if fp is None:
            raise v.InvalidParam(
                name,
                data,
                f"log_{direction} takes a pandas DataFrame/Series or a numpy array, "
                f"not {type(data).__name__}",
            )
        self._store.meta.add_data_io(
            self.run_id,
            [
                {
                    "direction": direction,
                    "name": name,
                    **fp.as_row(),
                    "info": _data_info(info, fp),
                    "created_at": time.time(),
                }
            ],
        )

    def _record_data_rows(self, rows: list[dict]) -> None:
        if rows:
            self._store.meta.add_data_io(self.run_id, rows)

    def log_artifact(self, path: str | os.PathLike, name: str | None = None) -> list[str]:
        """Store a file (or every file under a folder) as artifacts; return their names."""
        source = _args.path(path, "log_artifact(path=...)")
        if not source.exists():
            raise ArtifactNotFound(f"cannot log artifact: {str(source)!r} does not exist")
        base = validate_artifact_name(source.name if name is None else name)
        files = _files_to_log(source)
        names = [
            validate_artifact_name(
                base if source.is_file() else f"{base}/{file.relative_to(source).as_posix()}"
            )
            for file in files
        ]
        # Refuse before storing any content, so a refused call leaves no blob behind.
        self._store.meta.check_artifact_names(self.run_id, names)
        rows = []
        for file, rel in zip(files, names, strict=True):
            digest, size = self._store.artifacts.put_file(file, durable=False)
            rows.append(self._artifact_row(rel, digest, size))
        self._store.meta.add_artifacts(self.run_id, rows)
        return names

    def log_bytes(self, data: bytes, name: str, media_type: str | None = None) -> str:
        name = validate_artifact_name(name)
        data = bytes(data)
        row = self._artifact_row(name, "", 0, media_type)

        def store_content() -> None:
            # Inside the transaction that checks the name: one transaction per call, and a
            # refused name stores nothing.
            row["digest"], row["size"] = self._store.artifacts.put_bytes(data, durable=False)

        self._store.meta.add_artifacts(self.run_id, [row], store_content)
        return name

    def log_text(self, text: str, name: str) -> str:
        """Store ``text`` (UTF-8) as the artifact ``name``."""
        if not isinstance(text, str):
            raise InvalidArtifactName(name, f"log_text takes a str, not {type(text).__name__}")
        _args.text(text, "log_text(text=...)")  # valid Unicode, so it has a UTF-8 encoding
        return self.log_bytes(text.encode("utf-8"), name, "text/plain; charset=utf-8")

    def log_dict(self, data: dict, name: str) -> str:
        """Store ``data`` as JSON (``.json``) or YAML (``.yaml``/``.yml``)."""
        name = validate_artifact_name(name)
        if name.endswith((".yaml", ".yml")):
            try:
                import yaml
            except ImportError:
                raise InvalidArtifactName(
                    name, "writing YAML needs PyYAML (pip install pyyaml); or use a .json name"
                ) from None
            return self.log_bytes(
                yaml.safe_dump(data, sort_keys=False).encode(), name, "application/yaml"
            )
        try:
            text = json.dumps(
                data, indent=2, default=v._jsonable, ensure_ascii=False, allow_nan=False
            )
        except ValueError as exc:
            if "Out of range float" not in str(exc):
                raise v.InvalidParam(name, data, f"cannot be written as JSON ({exc})") from None
            raise v.InvalidParam(
                name,
                data,
                "it holds NaN or infinity, which JSON has no value for (most JSON readers "
                "refuse the file); replace them with None (null), or log a .yaml name",
            ) from None
        except (TypeError, RecursionError) as exc:
            raise v.InvalidParam(name, data, f"cannot be written as JSON ({exc})") from None
        if not _args.encodable(text):
            raise v.InvalidParam(name, data, _args.not_unicode(text))
        return self.log_bytes(text.encode(), name, "application/json")

    def log_figure(self, figure: Any, name: str) -> str:
        """Store a matplotlib figure (PNG, SVG or PDF by extension) or a plotly figure (HTML
        or JSON by extension)."""
        from .figures import figure_bytes

        name = validate_artifact_name(name)
        data, media_type = figure_bytes(figure, name)
        return self.log_bytes(data, name, media_type)

    def _artifact_row(
        self, name: str, digest: str, size: int, media_type: str | None = None
    ) -> dict:
        if media_type is None:
            import mimetypes

            media_type = mimetypes.guess_type(name)[0]
        return {
            "name": name,
            "digest": digest,
            "size": size,
            "media_type": media_type,
            "created_at": time.time(),
        }

    # -- lifecycle -----------------------------------------------------------------------------

    def end(self, status: str = FINISHED, error: str | None = None) -> None:
        """Write the remaining metrics and the final status in one transaction.

        If that write fails (disk full, database down), the metric values stay buffered, the
        run stays open and the error (a :class:`~nbmlops.errors.StoreError`) is raised:
        calling ``end`` again writes them all.
        """
        status = end_status(status)
        # The run's artifacts reach the disk before the status that finishes it commits.
        self._store.artifacts.sync()
        with writer.flushing():
            rows = writer.take(self._store, self.run_id)
            try:
                self._store.meta.finish_run(self.run_id, status, time.time(), rows, error)
            except BaseException:
                writer.put_back(self._store, rows)
                raise
        writer.close_run(self.run_id)

    # -- reading -------------------------------------------------------------------------------

    def _row(self) -> dict:
        return self._store.meta.get_run(self.run_id)

    def _details(self) -> dict:
        return self._store.meta.run_details(self.run_id)

    @property
    def info(self) -> dict[str, Any]:
        """Every column of the run's record (status, times, source, git, host, …)."""
        return self._row()

    @property
    def name(self) -> str | None:
        return self._row()["name"]

    @property
    def status(self) -> str:
        return self._row()["status"]

    @property
    def experiment(self) -> str:
        return self._row()["experiment"]

    @property
    def parent_run_id(self) -> str | None:
        return self._row()["parent_run_id"]

    @property
    def start_time(self) -> float:
        return self._row()["start_time"]

    @property
    def end_time(self) -> float | None:
        return self._row()["end_time"]

    @property
    def duration_s(self) -> float:
        row = self._row()
        return (row["end_time"] or time.time()) - row["start_time"]

    @property
    def code(self) -> str | None:
        """The source of the tracked cell, when the run came from ``%%track``."""
        return self._row()["code"]

    @property
    def error(self) -> str | None:
        """The traceback of a FAILED run (or why a run was KILLED)."""
        return self._row()["error"]

    @property
    def params(self) -> dict[str, Any]:
        return self._details()["params"]

    @property
    def metrics(self) -> dict[str, float]:
        """The latest value of every metric (pending buffered values are written first)."""
        self._flush_pending()
        return self._details()["metrics"]

    def _metric_keys(self) -> set[str]:
        """The names of the metrics logged so far (pending ones included), without values."""
        self._flush_pending()
        return self._store.meta.metric_keys(self.run_id)

    @property
    def tags(self) -> dict[str, str]:
        return self._details()["tags"]

    @property
    def inputs(self) -> dict[str, dict]:
        return {
            d["name"]: _data_view(d) for d in self._details()["data"] if d["direction"] == "input"
        }

    @property
    def outputs(self) -> dict[str, dict]:
        return {
            d["name"]: _data_view(d) for d in self._details()["data"] if d["direction"] == "output"
        }

    @property
    def artifacts(self) -> list[str]:
        return [a["name"] for a in self._details()["artifacts"]]

    @property
    def git(self) -> dict[str, Any]:
        row = self._row()
        return {"commit": row["git_commit"], "branch": row["git_branch"], "dirty": row["git_dirty"]}

    @property
    def environment(self) -> dict[str, Any]:
        """Python, platform and the installed package lock of the run."""
        row = self._row()
        if not row["env_id"]:
            # A first run of this process may be recorded before its package list is read
            # (in a background thread); wait for it here, where it is asked for.
            from .environment import settle_environment

            settle_environment()
            row = self._row()
        env = self._store.meta.get_environment(row["env_id"]) if row["env_id"] else None
        if env is None:
            return {}
        packages = self._store.artifacts.get_bytes(env["packages_digest"], "packages.txt")
        return {
            "python": env["python"],
            "implementation": env["implementation"],
            "platform": env["platform"],
            "host": row["host"],
            "user": row["user_name"],
            "packages": packages.decode().split(),
        }

    def read_artifact(self, name: str) -> bytes:
        """The bytes of an artifact, verified against its sha256 (``IntegrityError`` if not)."""
        name = validate_artifact_name(name)
        for art in self._details()["artifacts"]:
            if art["name"] == name:
                return self._store.artifacts.get_bytes(art["digest"], name)
        raise ArtifactNotFound(
            f"run {self.run_id[:8]} has no artifact {name!r}; it has: "
            f"{', '.join(self.artifacts) or 'none'}"
        )

    def read_text(self, name: str) -> str:
        return self.read_artifact(name).decode("utf-8")

    def download_artifacts(self, dst: str | os.PathLike) -> Path:
        """Write every artifact (verified) under the folder ``dst``; return it."""
        root = Path(dst)
        for art in self._details()["artifacts"]:
            target = root / art["name"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(self._store.artifacts.get_bytes(art["digest"], art["name"]))
        return root

    def metric_history(self, key: str | None = None):
        """Every logged value of ``key`` (all metrics if None) as a DataFrame:
        ``key, step, value, timestamp`` ordered by step."""
        import pandas as pd

        self._flush_pending()
        rows = self._store.meta.metric_history(self.run_id, key)
        frame = pd.DataFrame(rows, columns=["key", "step", "value", "timestamp"])
        frame["value"] = frame["value"].astype(float)  # NULL → NaN
        # Older versions accepted any timestamp (time.time_ns() too): a stored value
        # that is no date in pandas' range reads as NaT rather than failing the whole history.
        seconds = pd.to_numeric(frame["timestamp"], errors="coerce").astype(float)
        seconds = seconds.where(seconds.abs() <= v._MAX_TIMESTAMP_S)
        frame["timestamp"] = pd.to_datetime(seconds, unit="s", utc=True)
        return frame

    def _flush_pending(self) -> None:
        with writer.flushing():
            rows = writer.take(self._store, self.run_id)
            if rows:
                try:
                    self._store.meta.log_metrics(rows)
                except BaseException:
                    writer.put_back(self._store, rows)
                    raise

    def _repr_pretty_(self, p, cycle) -> None:  # IPython's text repr
        p.text(self.summary())

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        """Text summary, static HTML and (inside a kernel) a widget with metric curves.

        The widget (``nbmlops.widgets.RunView``) is the view registered for the kind "run"
        (see :mod:`nbmlops.display.bundle`), so tracking never imports widgets.
        """
        from ..display.bundle import mimebundle, view
        from ._html import run_html

        return mimebundle(
            self.summary(), lambda: run_html(self), view("run", self), include, exclude
        )

    def summary(self) -> str:
        """A few lines: id, name, status, duration, params and metrics."""
        row = self._row()
        details = self._details()
        lines = [
            f"run {self.run_id}  {row['name'] or ''}".rstrip(),
            f"  experiment {row['experiment']}  status {row['status']}  "
            f"duration {self.duration_s:.2f}s",
        ]
        if details["params"]:
            lines.append(
                "  params  " + ", ".join(f"{k}={p!r}" for k, p in details["params"].items())
            )
        if details["metrics"]:
            lines.append(
                "  metrics " + ", ".join(f"{k}={_fmt(m)}" for k, m in details["metrics"].items())
            )
        return "\n".join(lines)


def _files_to_log(source: Path) -> list[Path]:
    """The regular files ``log_artifact(source)`` stores; a device, FIFO or socket (which
    would block or log nothing) or a folder without files is an ``InvalidArgument``."""
    where = "log_artifact(path=...)"
    if source.is_file():
        return [source]
    if not source.is_dir():
        raise InvalidArgument(
            where,
            f"{str(source)!r} is not a regular file or folder (a device, FIFO or socket); "
            "write its content to a file and log that file",
        )
    files, special = [], []
    for entry in sorted(source.rglob("*")):
        if entry.is_file():
            files.append(entry)
        elif not entry.is_dir():
            special.append(entry)
    if special:
        raise InvalidArgument(
            where,
            f"{str(special[0])!r} in the folder is not a regular file (a device, FIFO, socket "
            "or broken link); remove it or log the files you want one by one",
        )
    if not files:
        raise InvalidArgument(
            where, f"the folder {str(source)!r} holds no files, so nothing would be logged"
        )
    return files


def end_status(status: object) -> str:
    """``status`` as an upper-case final status, or ``InvalidParam`` naming the valid ones."""
    normal = str(status).upper()
    if normal not in _END_STATUSES:
        raise v.InvalidParam("status", status, f"a run ends as one of {', '.join(_END_STATUSES)}")
    return normal


def _data_info(info: dict | None, fp: Any) -> str | None:
    if fp.sampled_rows is not None:  # a large frame: its digest covers a sample of rows
        info = {**(info or {}), "sampled_rows": fp.sampled_rows}
    return json.dumps(info) if info else None


def _fmt(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        return str(value)
    return f"{value:.4g}"


def _data_view(row: dict) -> dict:
    return {
        "kind": row["kind"],
        "digest": row["digest"],
        "shape": tuple(json.loads(row["shape"])) if row["shape"] else None,
        "schema": [tuple(c) for c in json.loads(row["schema"])] if row["schema"] else None,
        "info": json.loads(row["info"]) if row["info"] else {},
    }


def format_exception(exc: BaseException, start_at: str | None = None) -> str:
    """The traceback text of ``exc``; with ``start_at``, frames before the first frame of that
    file (nbmlops' own machinery around a tracked cell) are left out."""
    tb = exc.__traceback__
    if start_at is not None:
        cursor = tb
        while cursor is not None and cursor.tb_frame.f_code.co_filename != start_at:
            cursor = cursor.tb_next
        tb = cursor or tb
    buffer = io.StringIO()
    traceback.print_exception(type(exc), exc, tb, file=buffer)
    return buffer.getvalue()
