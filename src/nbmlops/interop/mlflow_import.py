"""``import_mlflow``: experiments, runs and registered models from an MLflow tracking URI.

Each run is written in one transaction with its params, tags, whole metric histories and
artifact rows (the artifact files go to the content-addressed store first); each model version
likewise. A run keeps its MLflow run id (or, for a run nbmlops once exported, its nbmlops id),
and a model version its number, so a rerun after a finished or killed import skips what is
there and writes the rest.
"""

from __future__ import annotations

import json
import mimetypes
import os
import tempfile
import time
from pathlib import Path

from ..config import get_settings
from ..errors import InvalidArtifactName, InvalidModel, NbmlopsError
from ..store import get_store, validate_artifact_name
from ..store.imports import ImportRecords
from . import _values as v
from ._client import check_arguments, client_for, mlflow_errors, paged, progress
from ._model_files import NotSklearn, read_sklearn_model
from ._report import MigrationReport


def import_mlflow(
    tracking_uri: str,
    experiment: str | list[str] | None = None,
    models: bool = True,
    progress_bar: bool | None = None,
) -> MigrationReport:
    """Bring MLflow's experiments (all, or those named), their runs and, with ``models``,
    the registered models into the workspace; return what was written and skipped.

    >>> import nbmlops
    >>> report = nbmlops.import_mlflow("sqlite:///mlflow.db")  # doctest: +SKIP
    >>> print(report)  # doctest: +SKIP
    """
    wanted = check_arguments("import_mlflow", tracking_uri, experiment, models, progress_bar)
    with mlflow_errors(tracking_uri):
        return _import_mlflow(tracking_uri, wanted, models, progress_bar)


def _import_mlflow(tracking_uri: str, wanted, models: bool, progress_bar) -> MigrationReport:
    client = client_for(tracking_uri)
    store = get_store(get_settings())
    records = ImportRecords(store.meta)
    report = MigrationReport("import from MLflow")
    ids: dict[str, str] = {}  # MLflow run id -> nbmlops run id
    experiments = _experiments(client, wanted, report)
    runs = []
    for exp in experiments:
        runs += [(exp.name, run) for run in paged(client.search_runs, [exp.experiment_id])]
    runs.sort(key=lambda pair: (pair[1].info.start_time or 0, pair[1].info.run_id))
    for name, run in progress(runs, "runs", progress_bar):
        try:
            _import_run(client, store, records, name, run, ids, report)
        except NbmlopsError as exc:
            report.skip("run", run.info.run_id, str(exc))
    if models:
        _import_models(client, tracking_uri, store, records, ids, report, progress_bar)
    return report


def _experiments(client, wanted: list[str] | None, report: MigrationReport) -> list:
    found = list(paged(client.search_experiments))
    if wanted is None:
        return found
    by_name = {e.name: e for e in found}
    for name in wanted:
        if name not in by_name:
            report.skip("experiment", name, "MLflow has no active experiment of that name")
    return [by_name[n] for n in wanted if n in by_name]


def _our_id(run) -> str:
    return run.data.tags.get(v.SOURCE_RUN_TAG) or run.info.run_id


def _import_run(client, store, records, experiment, run, ids, report) -> None:
    info, data = run.info, run.data
    our_id = _our_id(run)
    ids[info.run_id] = our_id
    if records.run_exists(our_id):
        report.present["runs"] += 1
        return
    if info.status not in ("FINISHED", "FAILED", "KILLED"):
        report.skip("run", info.run_id, f"it is {info.status} in MLflow; import it once it ended")
        return
    tags = {
        k: val
        for k, val in data.tags.items()
        if k not in (v.RUN_NAME_TAG, v.SOURCE_RUN_TAG, v.COMPLETE_TAG, v.PARENT_TAG, v.USER_TAG)
    }
    parent = data.tags.get(v.PARENT_TAG)
    if parent is not None:
        parent = ids.get(parent, parent)
        if not records.run_exists(parent):
            tags[v.PARENT_TAG] = data.tags[v.PARENT_TAG]  # kept as a tag, not a link
            parent = None
    metrics = []
    for key in sorted(data.metrics):
        for m in client.get_metric_history(info.run_id, key):
            metrics.append((key, float(m.value), int(m.step), v.seconds(m.timestamp)))
    artifacts = _artifacts(client, store, info.run_id, report)
    end = v.seconds(info.end_time)
    start = v.seconds(info.start_time)
    inputs = _inputs(run, start, report)
    row = {
        "run_id": our_id,
        "name": info.run_name or data.tags.get(v.RUN_NAME_TAG),
        "status": info.status,
        "start_time": start,
        "end_time": end if end is not None else start,
        "heartbeat_at": end if end is not None else start,
        "parent_run_id": parent,
        "source": data.tags.get("mlflow.source.name"),
        "source_kind": "mlflow",
        "user_name": data.tags.get(v.USER_TAG) or info.user_id or None,
        "git_commit": data.tags.get("mlflow.source.git.commit"),
    }
    params = {k: v.param_json(text) for k, text in data.params.items()}
    records.write_run(row, experiment, params, tags, metrics, artifacts, inputs)
    report.written["runs"] += 1
    if inputs:
        report.written["dataset inputs"] += len(inputs)
    report.written["metric values"] += len(metrics)
    report.written["artifacts"] += len(artifacts)


def _inputs(run, start: float | None, report) -> list[dict]:
    """The run's logged datasets (``mlflow.log_input``) as input data rows: the name and
    digest as MLflow has them, the context and the rest of MLflow's fields in ``info``."""
    rows: dict[str, dict] = {}
    inputs = getattr(run, "inputs", None)
    for item in getattr(inputs, "dataset_inputs", None) or []:
        data = item.dataset
        tags = {tag.key: tag.value for tag in item.tags or []}
        label = f"{run.info.run_id}/{data.name}"
        if data.name in rows:
            report.skip(
                "dataset input",
                label,
                f"the run has two inputs named {data.name!r} (digests "
                f"{rows[data.name]['digest']} and {data.digest}); nbmlops keeps the first",
            )
            continue
        exported = _exported_row(data)
        if exported is not None:  # an input nbmlops exported: its own row, exactly
            rows[data.name] = {**exported, "created_at": start or time.time()}
            continue
        if len(data.name) > v.MAX_INPUT_NAME or len(data.digest) > v.MAX_DIGEST:
            report.skip("dataset input", label, "its name or digest is longer than nbmlops keeps")
            continue
        info = {
            "context": tags.pop(v.DATASET_CONTEXT_TAG, None),
            "source_type": data.source_type,
            "source": data.source,
            "schema": data.schema,
            "profile": data.profile,
            "input_tags": tags,
        }
        rows[data.name] = {
            "name": data.name,
            "kind": v.MLFLOW_DATASET_KIND,
            "digest": data.digest,
            "shape": None,
            "schema": None,
            "info": json.dumps({k: val for k, val in info.items() if val}, sort_keys=True),
            "created_at": start or time.time(),
        }
    return list(rows.values())


def _exported_row(data) -> dict | None:
    """The input row an nbmlops export put in the dataset's profile, if it is one."""
    try:
        profile = json.loads(data.profile) if data.profile else None
    except ValueError:
        return None
    row = profile.get(v.PROFILE_KEY) if isinstance(profile, dict) else None
    fields = ("name", "kind", "digest", "shape", "schema", "info")
    if not isinstance(row, dict) or set(row) != set(fields) or row["name"] != data.name:
        return None
    if not all(row[f] is None or isinstance(row[f], str) for f in fields):
        return None
    if len(row["digest"] or "") > v.MAX_DIGEST or not row["kind"] or not row["digest"]:
        return None
    return {f: row[f] for f in fields}


def _artifacts(client, store, run_id: str, report) -> list[dict]:
    if not client.list_artifacts(run_id):
        return []
    rows = []
    with tempfile.TemporaryDirectory(prefix="nbmlops-mlflow-") as tmp:
        root = Path(client.download_artifacts(run_id, "", tmp))
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            rel = path.relative_to(root).as_posix()
            if rel.startswith(v.MODELS_PATH + "/"):
                continue  # model files an export wrote: the model version holds them
            try:
                name = validate_artifact_name(rel)
            except InvalidArtifactName as exc:
                report.skip("artifact", f"{run_id}/{rel}", str(exc))
                continue
            digest, size = store.artifacts.put_file(path)
            rows.append(
                {
                    "name": name,
                    "digest": digest,
                    "size": size,
                    "media_type": mimetypes.guess_type(name)[0],
                    "created_at": os.path.getmtime(path),
                }
            )
    return rows


def _import_models(client, tracking_uri, store, records, ids, report, progress_bar) -> None:
    import mlflow

    versions = []
    for model in paged(client.search_registered_models):
        found = list(paged(client.search_model_versions, f"name='{_quote(model.name)}'"))
        productions = [x for x in found if x.current_stage == "Production"]
        keep = max((int(x.version) for x in productions), default=None)
        versions += [(model, x, keep) for x in sorted(found, key=lambda x: int(x.version))]
    for model, version, keep in progress(versions, "model versions", progress_bar):
        label = f"{model.name} v{version.version}"
        name, number = model.name, int(version.version)
        mark = (version.tags or {}).get(v.MODEL_TAG)
        if mark and "/" in mark:
            name, _, number_text = mark.rpartition("/")
            number = int(number_text) if number_text.isdigit() else number
        if records.version_exists(name, number):
            report.present["model versions"] += 1
            continue
        stage = v.STAGES_IN.get(version.current_stage or "None")
        if stage == "production" and int(version.version) != keep:
            report.skip(
                "stage",
                label,
                "MLflow has several Production versions and nbmlops keeps one (the newest): "
                "imported as archived",
            )
            stage = "archived"
        uri = client.get_model_version_download_uri(model.name, version.version)
        try:
            with tempfile.TemporaryDirectory(prefix="nbmlops-mlflow-") as tmp:
                folder = Path(
                    mlflow.artifacts.download_artifacts(
                        artifact_uri=uri, dst_path=tmp, tracking_uri=tracking_uri
                    )
                )
                found = read_sklearn_model(folder, f"models:/{model.name}/{version.version}")
        except NotSklearn as exc:
            report.skip("model version", label, str(exc))
            continue
        except (InvalidModel, OSError) as exc:
            report.skip("model version", label, f"its model file cannot be read: {exc}")
            continue
        digest, size = store.artifacts.put_bytes(found["data"])
        run_id = ids.get(version.run_id, version.run_id) if version.run_id else None
        if run_id is not None and not records.run_exists(run_id):
            run_id = None
        tags = {
            k: val
            for k, val in (version.tags or {}).items()
            if k not in (v.MODEL_TAG, v.VERSION_FIELDS_TAG)
        }
        if found["signature"]:
            tags["mlflow.signature"] = json.dumps(found["signature"], sort_keys=True)
        row = {
            "stage": stage,
            "run_id": run_id,
            "flavor": found["flavor"],
            "digest": digest,
            "size": size,
            "model_class": found["model_class"][:512],
            "untrusted_types": json.dumps(found["untrusted_types"])
            if found["untrusted_types"]
            else None,
            "packages": json.dumps(found["packages"], sort_keys=True),
            "description": version.description or None,
            "tags": json.dumps(tags, sort_keys=True) if tags else None,
            "created_at": v.seconds(version.creation_timestamp) or time.time(),
            "user_name": version.user_id or None,
        }
        row.update(_own_fields(version.tags or {}))
        holder = {
            "created_at": v.seconds(model.creation_timestamp) or time.time(),
            "description": model.description or None,
        }
        aliases = sorted(
            alias
            for alias, number in (getattr(model, "aliases", None) or {}).items()
            if str(number) == str(version.version)
        )
        records.write_version(name, number, row, holder, aliases, "imported from MLflow")
        report.written["model versions"] += 1


def _own_fields(tags: dict) -> dict:
    """nbmlops' fields of a version it exported (class, packages, signature, card, …)."""
    try:
        fields = json.loads(tags.get(v.VERSION_FIELDS_TAG) or "{}")
    except ValueError:
        return {}
    if not isinstance(fields, dict):
        return {}
    own = {k: fields[k] for k in v.VERSION_FIELDS if fields.get(k) is not None}
    if "model_class" in own:
        own["model_class"] = str(own["model_class"])[:512]
    return own


def _quote(name: str) -> str:
    return name.replace("'", "\\'")
