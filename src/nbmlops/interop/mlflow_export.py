"""``export_mlflow``: the workspace's experiments, runs and registered models into MLflow.

An exported run carries the tag ``nbmlops.run_id`` and, set last, ``nbmlops.export.complete``;
an exported model version the tag ``nbmlops.model`` (``name/version``). A rerun skips what
is complete, deletes and redoes a run a killed export left half-written, and re-applies
stages and aliases (which are idempotent). Importing the MLflow store back gives the same run
ids, version numbers and values (times to the millisecond, MLflow's unit).
"""

from __future__ import annotations

import json
import math
import tempfile
import warnings
from pathlib import Path

from ..config import get_settings
from ..store import get_store
from ..store.imports import ImportRecords
from . import _values as v
from ._client import check_arguments, client_for, mlflow_errors, paged, progress
from ._model_files import write_sklearn_model
from ._report import MigrationReport

_MODELS_EXPERIMENT = "nbmlops-models"  # holds runs for model versions that had none
_MAX_PARAM = 6000  # MLflow's limit on a param's text


def export_mlflow(
    tracking_uri: str,
    experiment: str | list[str] | None = None,
    models: bool = True,
    progress_bar: bool | None = None,
) -> MigrationReport:
    """Write the workspace's experiments (all, or those named), their runs and, with
    ``models``, the registered models into the MLflow store at ``tracking_uri``.

    >>> import nbmlops
    >>> print(nbmlops.export_mlflow("sqlite:///mlflow.db"))  # doctest: +SKIP
    """
    wanted = check_arguments("export_mlflow", tracking_uri, experiment, models, progress_bar)
    with mlflow_errors(tracking_uri):
        return _export_mlflow(tracking_uri, wanted, models, progress_bar)


def _export_mlflow(tracking_uri: str, wanted, models: bool, progress_bar) -> MigrationReport:
    from mlflow.entities import ViewType

    client = client_for(tracking_uri)
    store = get_store(get_settings())
    records = ImportRecords(store.meta)
    report = MigrationReport("export to MLflow")
    names = [e["name"] for e in store.meta.experiments()]
    if wanted is not None:
        for name in wanted:
            if name not in names:
                report.skip("experiment", name, "the workspace has no experiment of that name")
        names = [n for n in names if n in wanted]
    run_ids = [i for name in names for i in records.run_ids(name)]
    exp_ids: dict[str, str] = {}
    mapped: dict[str, str] = {}  # nbmlops run id -> MLflow run id
    for run_id in progress(run_ids, "runs", progress_bar):
        full = records.full_run(run_id)
        exp_id = exp_ids.get(full["row"]["experiment"])
        if exp_id is None:
            exp_id = exp_ids[full["row"]["experiment"]] = _experiment_id(
                client, full["row"]["experiment"]
            )
        _export_run(client, store, full, exp_id, mapped, report, ViewType)
    if models:
        _export_models(client, store, records, mapped, report, progress_bar, ViewType)
    return report


def _experiment_id(client, name: str) -> str:
    found = client.get_experiment_by_name(name)
    if found is not None:
        if found.lifecycle_stage == "deleted":
            client.restore_experiment(found.experiment_id)
        return found.experiment_id
    return client.create_experiment(name)


def _find(client, exp_id: str, run_id: str, view_type):
    """The MLflow run exported from ``run_id``, if any (deleted ones are not found)."""
    hits = client.search_runs(
        [exp_id],
        filter_string=f"tags.`{v.SOURCE_RUN_TAG}` = '{run_id}'",
        run_view_type=view_type.ACTIVE_ONLY,
    )
    return hits[0] if hits else None


def _export_run(client, store, full, exp_id, mapped, report, view_type) -> None:
    from mlflow.entities import Metric, Param, RunTag

    row = full["row"]
    run_id = row["run_id"]
    if row["status"] == "RUNNING":
        report.skip("run", run_id, "it is still RUNNING; export it once it ended")
        return
    same = _same_run(client, run_id)
    if same is not None:  # it came from this MLflow store
        mapped[run_id] = same
        report.present["runs"] += 1
        return
    found = _find(client, exp_id, run_id, view_type)
    if found is not None:
        if found.data.tags.get(v.COMPLETE_TAG) == "true":
            mapped[run_id] = found.info.run_id
            report.present["runs"] += 1
            return
        client.delete_run(found.info.run_id)  # half-written by a killed export: redo it
    tags = dict(full["tags"])
    tags[v.SOURCE_RUN_TAG] = run_id
    if row["parent_run_id"] and row["parent_run_id"] in mapped:
        tags[v.PARENT_TAG] = mapped[row["parent_run_id"]]
    if row["user_name"]:
        tags.setdefault(v.USER_TAG, row["user_name"])
    run = client.create_run(
        exp_id, start_time=v.millis(row["start_time"]), tags=tags, run_name=row["name"]
    )
    new_id = run.info.run_id
    params = []
    for key, stored in full["params"].items():
        text = v.param_text(stored)
        if len(text) > _MAX_PARAM:
            report.skip(
                "param", f"{run_id}/{key}", f"its text is longer than MLflow's {_MAX_PARAM}"
            )
            continue
        params.append(Param(key, text))
    metrics = [
        Metric(key, math.nan if value is None else value, v.millis(ts), int(step))
        for key, value, step, ts in full["metrics"]
    ]
    for i in range(0, len(params), 100):
        client.log_batch(new_id, params=params[i : i + 100])
    for i in range(0, len(metrics), 1000):
        client.log_batch(new_id, metrics=metrics[i : i + 1000])
    datasets = [_dataset_input(row) for row in full.get("inputs", [])]
    if datasets:
        client.log_inputs(new_id, datasets=datasets)
    if full["artifacts"]:
        with tempfile.TemporaryDirectory(prefix="nbmlops-mlflow-") as tmp:
            for art in full["artifacts"]:
                target = Path(tmp, *art["name"].split("/"))
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(store.artifacts.get_bytes(art["digest"], art["name"]))
            client.log_artifacts(new_id, tmp)
    client.set_terminated(new_id, row["status"], end_time=v.millis(row["end_time"]))
    client.log_batch(new_id, tags=[RunTag(v.COMPLETE_TAG, "true")])
    mapped[run_id] = new_id
    report.written["runs"] += 1
    report.written["metric values"] += len(metrics)
    report.written["artifacts"] += len(full["artifacts"])
    if datasets:
        report.written["dataset inputs"] += len(datasets)


def _dataset_input(row: dict):
    """An input data row as an MLflow dataset input: name, digest (cut to MLflow's 36
    characters), source and schema as MLflow reads them, the context as MLflow's context tag,
    and the whole row in the profile, which an import reads back."""
    import json

    from mlflow.entities import Dataset, DatasetInput, InputTag

    info = json.loads(row["info"]) if row["info"] else {}
    original = info if row["kind"] == v.MLFLOW_DATASET_KIND else {}
    profile = json.dumps({v.PROFILE_KEY: row}, sort_keys=True, default=str)
    dataset = Dataset(
        name=row["name"],
        digest=row["digest"][: v.MLFLOW_MAX_DIGEST],
        source_type=original.get("source_type") or "nbmlops",
        source=original.get("source") or json.dumps({"nbmlops": row["kind"]}),
        schema=original.get("schema") or row["schema"],
        profile=profile,
    )
    tags = [InputTag(k, str(val)) for k, val in (original.get("input_tags") or {}).items()]
    context = info.get("context")
    if isinstance(context, str) and context:
        tags.append(InputTag(v.DATASET_CONTEXT_TAG, context))
    return DatasetInput(dataset, tags=tags)


def _same_run(client, run_id: str) -> str | None:
    """``run_id`` when the MLflow store itself holds a run of that id (an imported run)."""
    from mlflow.exceptions import MlflowException

    try:
        run = client.get_run(run_id)
    except MlflowException:
        return None
    return run.info.run_id if run.info.lifecycle_stage == "active" else None


def _export_models(client, store, records, mapped, report, progress_bar, view_type) -> None:
    from mlflow.exceptions import MlflowException

    versions = records.versions()
    existing: dict[str, dict[str, str]] = {}  # name -> {"name/version" mark: MLflow version}
    for row in progress(versions, "model versions", progress_bar):
        name, number = row["name"], row["version"]
        if name not in existing:
            try:
                client.get_registered_model(name)
            except MlflowException:
                client.create_registered_model(name, description=row["model_description"])
            existing[name] = {
                (x.tags or {}).get(v.MODEL_TAG, f"{name}/{x.version}"): x.version
                for x in paged(client.search_model_versions, f"name='{name}'")
            }
        mark = f"{name}/{number}"
        mlflow_version = existing[name].get(mark)
        if mlflow_version is None:
            mlflow_version = _create_version(client, store, row, mapped, mark, view_type)
            existing[name][mark] = mlflow_version
            report.written["model versions"] += 1
        else:
            report.present["model versions"] += 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # stages are deprecated in MLflow 3, still kept
            stage = v.STAGES_OUT[row["stage"]]
            if stage != "None":
                client.transition_model_version_stage(name, mlflow_version, stage)
        for alias in row["aliases"]:
            client.set_registered_model_alias(name, alias, mlflow_version)


def _create_version(client, store, row, mapped, mark, view_type) -> str:
    run_id = mapped.get(row["run_id"]) if row["run_id"] else None
    if run_id is None:
        exp_id = _experiment_id(client, _MODELS_EXPERIMENT)
        holder = client.create_run(exp_id, run_name=f"{row['name']} v{row['version']}")
        run_id = holder.info.run_id
        client.set_terminated(run_id, "FINISHED")
    path = f"{v.MODELS_PATH}/{row['name']}/v{row['version']}"
    packages = json.loads(row["packages"] or "{}")
    data = store.artifacts.get_bytes(row["digest"], mark)
    with tempfile.TemporaryDirectory(prefix="nbmlops-mlflow-") as tmp:
        write_sklearn_model(Path(tmp), row["flavor"], data, packages)
        client.log_artifacts(run_id, tmp, artifact_path=path)
    tags = {k: str(x) for k, x in json.loads(row["tags"] or "{}").items()}
    tags[v.MODEL_TAG] = mark
    tags[v.VERSION_FIELDS_TAG] = json.dumps({k: row[k] for k in v.VERSION_FIELDS}, sort_keys=True)
    # The artifact's own location, which resolves under any tracking URI (runs:/ does not).
    source = f"{client.get_run(run_id).info.artifact_uri.rstrip('/')}/{path}"
    created = client.create_model_version(
        row["name"],
        source,
        run_id=run_id,
        tags=tags,
        description=row["description"],
    )
    return created.version
