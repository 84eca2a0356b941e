"""The metadata tables (SQLAlchemy Core), identical on SQLite and PostgreSQL.

Times are float seconds since the epoch (UTC): portable, sortable and cheap to write.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

KEY_LEN = 250
RUN_ID_LEN = 32
DIGEST_LEN = 64

metadata = MetaData()

schema_version = Table(
    "nbmlops_schema_version",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("applied_at", Float, nullable=False),
    Column("nbmlops_version", String(32), nullable=False),
)

experiments = Table(
    "experiments",
    metadata,
    Column("experiment_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(KEY_LEN), nullable=False),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("name", name="uq_experiments_name"),
)

environments = Table(
    "environments",
    metadata,
    Column("env_id", String(DIGEST_LEN), primary_key=True),
    Column("python", String(64), nullable=False),
    Column("implementation", String(32), nullable=False),
    Column("platform", String(256), nullable=False),
    Column("packages_digest", String(DIGEST_LEN), nullable=False),
    Column("n_packages", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("run_id", String(RUN_ID_LEN), primary_key=True),
    Column("experiment_id", Integer, ForeignKey("experiments.experiment_id"), nullable=False),
    Column("name", String(KEY_LEN), nullable=True),
    Column("status", String(16), nullable=False),
    Column("start_time", Float, nullable=False),
    Column("end_time", Float, nullable=True),
    Column("heartbeat_at", Float, nullable=False),
    Column("parent_run_id", String(RUN_ID_LEN), nullable=True),
    Column("source", Text, nullable=True),
    Column("source_kind", String(16), nullable=True),
    Column("code", Text, nullable=True),
    Column("error", Text, nullable=True),
    Column("host", String(256), nullable=True),
    Column("pid", Integer, nullable=True),
    Column("user_name", String(256), nullable=True),
    Column("env_id", String(DIGEST_LEN), ForeignKey("environments.env_id"), nullable=True),
    Column("git_commit", String(64), nullable=True),
    Column("git_branch", String(KEY_LEN), nullable=True),
    Column("git_dirty", Boolean, nullable=True),
    Index("ix_runs_status_heartbeat", "status", "heartbeat_at"),
    Index("ix_runs_experiment_start", "experiment_id", "start_time"),
    Index("ix_runs_parent", "parent_run_id"),
)

params = Table(
    "params",
    metadata,
    Column("run_id", String(RUN_ID_LEN), ForeignKey("runs.run_id"), primary_key=True),
    Column("key", String(KEY_LEN), primary_key=True),
    # JSON text so types survive the round trip (0.5 stays a float, "0.5" a string).
    Column("value", Text, nullable=False),
)

tags = Table(
    "tags",
    metadata,
    Column("run_id", String(RUN_ID_LEN), ForeignKey("runs.run_id"), primary_key=True),
    Column("key", String(KEY_LEN), primary_key=True),
    Column("value", Text, nullable=False),
)

metrics = Table(
    "metrics",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("run_id", String(RUN_ID_LEN), ForeignKey("runs.run_id"), nullable=False),
    Column("key", String(KEY_LEN), nullable=False),
    # NULL stands for NaN: SQLite cannot store a NaN REAL.
    Column("value", Float, nullable=True),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", Float, nullable=False),
    Index("ix_metrics_run_key_step", "run_id", "key", "step"),
)

# The last value of each metric of each run: what run tables show, kept up to date on every
# flush so listing 10,000 runs never scans the whole history.
latest_metrics = Table(
    "latest_metrics",
    metadata,
    Column("run_id", String(RUN_ID_LEN), ForeignKey("runs.run_id"), primary_key=True),
    Column("key", String(KEY_LEN), primary_key=True),
    Column("value", Float, nullable=True),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", Float, nullable=False),
)

artifacts = Table(
    "artifacts",
    metadata,
    Column("run_id", String(RUN_ID_LEN), ForeignKey("runs.run_id"), primary_key=True),
    Column("name", String(1024), primary_key=True),
    Column("digest", String(DIGEST_LEN), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("media_type", String(128), nullable=True),
    Column("created_at", Float, nullable=False),
)

# Data (and models) a run read or produced, with their fingerprints.
data_io = Table(
    "data_io",
    metadata,
    Column("run_id", String(RUN_ID_LEN), ForeignKey("runs.run_id"), primary_key=True),
    Column("direction", String(8), primary_key=True),  # "input" | "output"
    Column("name", String(KEY_LEN), primary_key=True),
    Column("kind", String(128), nullable=False),
    Column("digest", String(DIGEST_LEN), nullable=False),
    Column("shape", Text, nullable=True),  # JSON list
    Column("schema", Text, nullable=True),  # JSON list of [column, dtype]
    Column("info", Text, nullable=True),  # JSON object, e.g. an estimator's fit inputs
    Column("created_at", Float, nullable=False),
    Index("ix_data_io_digest", "digest"),
)


# -- model registry (schema version 2) ---------------------------------------------------------

MODEL_NAME_LEN = 128

registered_models = Table(
    "registered_models",
    metadata,
    Column("name", String(MODEL_NAME_LEN), primary_key=True),
    Column("created_at", Float, nullable=False),
    Column("description", Text, nullable=True),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("name", String(MODEL_NAME_LEN), ForeignKey("registered_models.name"), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    # None (just registered), "staging", "production" or "archived".
    Column("stage", String(16), nullable=True),
    Column("run_id", String(RUN_ID_LEN), ForeignKey("runs.run_id"), nullable=True),
    Column("flavor", String(16), nullable=False),  # "skops" | "pickle" | "cloudpickle"
    Column("digest", String(DIGEST_LEN), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("model_class", String(512), nullable=False),
    Column("model_digest", String(DIGEST_LEN), nullable=True),  # estimator_digest of the object
    Column("untrusted_types", Text, nullable=True),  # JSON list, what skops flagged at save
    Column("packages", Text, nullable=False),  # JSON {package: version} at save time
    Column("signature", Text, nullable=True),  # JSON, see nbmlops.registry.signature
    Column("description", Text, nullable=True),
    Column("tags", Text, nullable=True),  # JSON object
    Column("card", Text, nullable=True),  # JSON object: intended_use, limitations, …
    Column("created_at", Float, nullable=False),
    Column("user_name", String(256), nullable=True),
    # + uq_model_versions_one_production: see production_index() below.
)


def production_index() -> Index:
    """The partial unique index by which the database itself guarantees at most one
    production version per name, attached to ``model_versions`` on first use: its
    ``postgresql_where`` option imports SQLAlchemy's PostgreSQL dialect (and asyncio with
    it, ~0.1 s), which ``import nbmlops.tracking`` need not pay. Migration 2 creates it."""
    for index in model_versions.indexes:
        if index.name == "uq_model_versions_one_production":
            return index
    return Index(
        "uq_model_versions_one_production",
        model_versions.c.name,
        unique=True,
        sqlite_where=text("stage = 'production'"),
        postgresql_where=text("stage = 'production'"),
    )


model_aliases = Table(
    "model_aliases",
    metadata,
    Column("name", String(MODEL_NAME_LEN), ForeignKey("registered_models.name"), primary_key=True),
    Column("alias", String(64), primary_key=True),
    Column("version", Integer, nullable=False),
)

model_transitions = Table(
    "model_transitions",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("name", String(MODEL_NAME_LEN), ForeignKey("registered_models.name"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("action", String(16), nullable=False),  # register|promote|rollback|alias|unalias|delete
    Column("from_stage", String(64), nullable=True),
    Column("to_stage", String(64), nullable=True),
    Column("user_name", String(256), nullable=True),
    Column("at", Float, nullable=False),
    Column("reason", Text, nullable=True),
    Column("gates", Text, nullable=True),  # JSON list: the gates a promotion passed (schema 6)
    Index("ix_model_transitions_name", "name", "id"),
)

# Metrics computed by ``nbmlops.evaluate`` and stored on a version ("" segment = overall).
model_metrics = Table(
    "model_metrics",
    metadata,
    Column("name", String(MODEL_NAME_LEN), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("segment", String(KEY_LEN), primary_key=True),
    Column("key", String(KEY_LEN), primary_key=True),
    Column("value", Float, nullable=True),
    Column("n", BigInteger, nullable=False),
    Column("dataset_digest", String(DIGEST_LEN), nullable=True),
    Column("at", Float, nullable=False),
)

# -- monitoring (schema version 3) --------------------------------------------------------------

drift_reports = Table(
    "drift_reports",
    metadata,
    Column("report_id", String(RUN_ID_LEN), primary_key=True),
    Column("name", String(KEY_LEN), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("run_id", String(RUN_ID_LEN), ForeignKey("runs.run_id"), nullable=True),
    Column("model_name", String(MODEL_NAME_LEN), nullable=True),
    Column("model_version", Integer, nullable=True),
    Column("dataset_drift", Boolean, nullable=False),
    Column("n_drifted", Integer, nullable=False),
    Column("n_columns", Integer, nullable=False),
    Column("drifted_columns", Text, nullable=False),  # JSON list
    Column("reference_rows", BigInteger, nullable=False),
    Column("current_rows", BigInteger, nullable=False),
    Column("json_digest", String(DIGEST_LEN), nullable=False),
    Column("html_digest", String(DIGEST_LEN), nullable=False),
    Column("html_size", BigInteger, nullable=False),
    Index("ix_drift_reports_created", "created_at"),
    Index("ix_drift_reports_model", "model_name", "model_version"),
)

expectation_suites = Table(
    "expectation_suites",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("name", String(KEY_LEN), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("run_id", String(RUN_ID_LEN), ForeignKey("runs.run_id"), nullable=True),
    Column("model_name", String(MODEL_NAME_LEN), nullable=True),
    Column("model_version", Integer, nullable=True),
    Column("document", Text, nullable=False),  # JSON of the suite
    Index("ix_expectation_suites_name", "name", "id"),
)

V1_TABLES = (
    schema_version,
    experiments,
    environments,
    runs,
    params,
    tags,
    metrics,
    latest_metrics,
    artifacts,
    data_io,
)
V2_TABLES = (registered_models, model_versions, model_aliases, model_transitions, model_metrics)
V3_TABLES = (drift_reports, expectation_suites)

# -- feature store (schema version 4) -----------------------------------------------------------

VIEW_NAME_LEN = 128

# One row per version of a feature view; ``definition`` is the JSON document the digest covers
# plus the descriptive fields (descriptions, tags, owner), which change without a new version.
feature_views = Table(
    "feature_views",
    metadata,
    Column("name", String(VIEW_NAME_LEN), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("digest", String(DIGEST_LEN), nullable=False),
    Column("definition", Text, nullable=False),  # JSON
    Column("transformation", Text, nullable=True),  # source code of the transformation
    Column("description", Text, nullable=True),
    Column("owner", String(256), nullable=True),
    Column("tags", Text, nullable=True),  # JSON object
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("user_name", String(256), nullable=True),
    UniqueConstraint("name", "digest", name="uq_feature_views_name_digest"),
)

# Offline writes: a Parquet file is readable once its row is "committed"; a "pending" row is a
# write in progress (or one that crashed, whose file is ignored).
feature_writes = Table(
    "feature_writes",
    metadata,
    Column(
        "write_id",
        BigInteger().with_variant(Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    Column("name", String(VIEW_NAME_LEN), nullable=False),
    Column("version", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # pending | committed
    Column("path", Text, nullable=True),
    Column("rows", BigInteger, nullable=True),
    Column("size", BigInteger, nullable=True),
    Column("min_event_time", Float, nullable=True),
    Column("max_event_time", Float, nullable=True),
    # no two rows share their (join keys, event time): joins need no tie-breaking within it
    Column("unique_keys", Boolean, nullable=True),
    Column("run_id", String(RUN_ID_LEN), nullable=True),
    Column("created_at", Float, nullable=False),
    Index("ix_feature_writes_view", "name", "version", "status"),
)

feature_materializations = Table(
    "feature_materializations",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("name", String(VIEW_NAME_LEN), nullable=False),
    Column("version", Integer, nullable=False),
    Column("online_store", Text, nullable=False),  # URL without password
    Column("start_time", Float, nullable=True),  # event-time window, None = unbounded
    Column("end_time", Float, nullable=False),
    Column("max_write_id", BigInteger, nullable=False),  # writes up to this id were read
    Column("rows", BigInteger, nullable=False),
    Column("created_at", Float, nullable=False),
    Index("ix_feature_materializations_view", "name", "online_store", "id"),
)

V4_TABLES = (feature_views, feature_writes, feature_materializations)

# -- prediction logs, monitors and alerts (schema version 5) -----------------------------------

MONITOR_NAME_LEN = 128

# One row per Parquet file of the prediction log (kind "predictions") or of late labels (kind
# "labels"). The file is written first and its row inserted after, so readers never see a file
# that is still being written; retention deletes the row first, then the file.
prediction_writes = Table(
    "prediction_writes",
    metadata,
    Column(
        "write_id",
        BigInteger().with_variant(Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    Column("kind", String(16), nullable=False),  # predictions | labels
    Column("model_name", String(MODEL_NAME_LEN), nullable=False),  # "" = labels of any model
    Column("model_version", Integer, nullable=True),
    Column("day", String(10), nullable=False),  # YYYY-MM-DD (UTC) of the partition
    Column("path", Text, nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("min_time", Float, nullable=False),
    Column("max_time", Float, nullable=False),
    Column("columns", Text, nullable=True),  # JSON list of the logged input columns
    Column("created_at", Float, nullable=False),
    Index("ix_prediction_writes_model", "kind", "model_name", "max_time"),
)

# The data a version was trained on, recorded at registration (or given to a monitor): the
# baseline its logged traffic is compared with. ``digest`` names a Parquet artifact.
model_references = Table(
    "model_references",
    metadata,
    Column("name", String(MODEL_NAME_LEN), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("digest", String(DIGEST_LEN), nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("columns", Text, nullable=False),  # JSON list
    Column("created_at", Float, nullable=False),
)

monitors = Table(
    "monitors",
    metadata,
    Column("name", String(MONITOR_NAME_LEN), primary_key=True),
    Column("model_name", String(MODEL_NAME_LEN), nullable=False),
    Column("definition", Text, nullable=False),  # JSON: window, checks, retraining policy …
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("user_name", String(256), nullable=True),
)

# One row per run of a monitor: the window, what was found, and whether it alerted.
monitor_runs = Table(
    "monitor_runs",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("monitor", String(MONITOR_NAME_LEN), nullable=False),
    Column("ran_at", Float, nullable=False),
    Column("window_start", Float, nullable=False),
    Column("window_end", Float, nullable=False),
    Column("model_name", String(MODEL_NAME_LEN), nullable=False),
    Column("model_version", Integer, nullable=True),
    Column("status", String(16), nullable=False),  # ok | alert | no_data
    Column("rows", BigInteger, nullable=False),
    Column("labelled", BigInteger, nullable=False),
    Column("drift_share", Float, nullable=True),
    Column("report_id", String(RUN_ID_LEN), nullable=True),
    Column("result", Text, nullable=False),  # JSON: checks table, metrics, baseline
    Index("ix_monitor_runs_monitor", "monitor", "window_end"),
)

alerts = Table(
    "alerts",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("monitor_run_id", BigInteger, nullable=False),
    Column("monitor", String(MONITOR_NAME_LEN), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("model_name", String(MODEL_NAME_LEN), nullable=False),
    Column("model_version", Integer, nullable=True),
    Column("summary", Text, nullable=False),
    Column("context", Text, nullable=False),  # JSON: failed checks, columns, segments, report
    # none | running | promoted | staged | awaiting | failed
    Column("retrain_status", String(16), nullable=False),
    Column("challenger_version", Integer, nullable=True),
    Column("retrain", Text, nullable=True),  # JSON: pipeline run, gate table, decision
    Index("ix_alerts_monitor", "monitor", "id"),
    Index("ix_alerts_model", "model_name", "retrain_status"),
)

V5_TABLES = (prediction_writes, model_references, monitors, monitor_runs, alerts)

# -- rollouts (schema version 7) ---------------------------------------------------------------

# One row per rollout of a candidate version: routing (mode, share, key) is read by every
# server; steps advance by conditional updates (expected step and status), so when several
# servers evaluate the same guards only one of them moves the rollout.
rollouts = Table(
    "rollouts",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("name", String(MODEL_NAME_LEN), nullable=False),
    Column("champion", Integer, nullable=True),  # production version when it started
    Column("candidate", Integer, nullable=False),
    Column("mode", String(16), nullable=False),  # shadow | canary | ab
    Column("steps", Text, nullable=False),  # JSON list of percentages
    Column("step", Integer, nullable=False),  # index into steps
    Column("share", Float, nullable=False),  # percent of keys sent to the candidate now
    Column("every_s", Float, nullable=False),
    Column("key", String(KEY_LEN), nullable=True),
    Column("guards", Text, nullable=False),  # JSON list of guard strings
    Column("min_requests", Integer, nullable=False),
    Column("gates", Text, nullable=False),  # JSON list: promotion gates at the last step
    Column("status", String(16), nullable=False),  # running | paused | aborted | completed
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("step_started_at", Float, nullable=False),
    Column("user_name", String(KEY_LEN), nullable=True),
    Column("reason", Text, nullable=True),  # why it ended
    Column("alert_id", BigInteger, nullable=True),
    Index("ix_rollouts_name_status", "name", "status"),
)

# What happened to a rollout (start, advance, pause, resume, abort, complete) and the
# requests a server saw fail per arm (kind "errors": count), for the error_rate guard.
rollout_events = Table(
    "rollout_events",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("rollout_id", BigInteger, nullable=False),
    Column("at", Float, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("arm", String(16), nullable=True),
    Column("count", BigInteger, nullable=True),
    Column("server_id", String(64), nullable=True),
    Column("detail", Text, nullable=True),  # JSON
    Index("ix_rollout_events_rollout", "rollout_id", "at"),
)

V7_TABLES = (rollouts, rollout_events)


# -- governance: audit log, policies, promotion requests (schema version 8) -------------------

HASH_LEN = 64

# Append-only, hash-chained: each row's ``hash`` is sha256 over the canonical JSON of its
# fields and ``prev_hash`` (the previous row's hash), so a changed, removed or reordered row
# breaks the chain (see nbmlops.store.audit). ``seq`` is given by the writer holding the lock on
# ``audit_head``, never by the database, so positions have no gaps unless a row is removed.
audit_events = Table(
    "audit_events",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    ),
    Column("at", Float, nullable=False),
    Column("kind", String(64), nullable=False),  # model.promote, policy.set, request.approve …
    Column("subject", String(512), nullable=False),  # models:/churn/3, models:/churn …
    Column("actor", String(256), nullable=True),
    Column("payload", Text, nullable=False),  # canonical JSON object
    Column("prev_hash", String(HASH_LEN), nullable=False),
    Column("hash", String(HASH_LEN), nullable=False),
    Index("ix_audit_events_subject", "subject", "seq"),
)

# One row (id 1): the last seq and hash. Appenders lock it (FOR UPDATE on PostgreSQL; SQLite's
# BEGIN IMMEDIATE already serialises writers), so two writers never fork the chain, and it
# anchors the end of the log: removing the last rows is detected too.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(HASH_LEN), nullable=False),
)

# What promoting a model needs, per target stage: approvals, four eyes, gates (JSON object
# {stage: {"approvals": n, "separate_approver": bool, "gates": [...]}}).
model_policies = Table(
    "model_policies",
    metadata,
    Column("name", String(MODEL_NAME_LEN), ForeignKey("registered_models.name"), primary_key=True),
    Column("policy", Text, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("user_name", String(256), nullable=True),
)

promotion_requests = Table(
    "promotion_requests",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("name", String(MODEL_NAME_LEN), ForeignKey("registered_models.name"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("to_stage", String(16), nullable=False),
    # pending | approved | rejected | expired | failed
    Column("status", String(16), nullable=False),
    Column("champion_version", Integer, nullable=True),  # production version when requested
    Column("candidate_stage", String(16), nullable=True),  # the candidate's stage then
    Column("approvals_needed", Integer, nullable=False),
    Column("separate_approver", Boolean, nullable=False),
    Column("gates", Text, nullable=True),  # JSON list
    Column("gate_table", Text, nullable=True),  # JSON records of the last gate check
    Column("requested_by", String(256), nullable=True),
    Column("requested_at", Float, nullable=False),
    Column("reason", Text, nullable=True),
    Column("closed_at", Float, nullable=True),
    Column("closed_by", String(256), nullable=True),
    Column("outcome", Text, nullable=True),  # why it closed
    Index("ix_promotion_requests_name", "name", "status"),
)

request_decisions = Table(
    "request_decisions",
    metadata,
    Column("request_id", BigInteger, nullable=False, primary_key=True, autoincrement=False),
    Column("user_name", String(256), nullable=False, primary_key=True),
    Column("decision", String(16), nullable=False),  # approve | reject
    Column("at", Float, nullable=False),
    Column("reason", Text, nullable=True),
)

V8_TABLES = (audit_events, audit_head, model_policies, promotion_requests, request_decisions)

# -- run keys (schema version 9) ------------------------------------------------------------------

# Every param, metric and tag key used in an experiment, kept on write: the run table's columns
# (what the panel reads after every tracked cell) come from here, not from a SELECT DISTINCT
# over every value. Keys of deleted runs stay until ``MetadataStore.rebuild_run_keys``.
run_keys = Table(
    "run_keys",
    metadata,
    Column(
        "experiment_id",
        Integer,
        ForeignKey("experiments.experiment_id"),
        primary_key=True,
    ),
    Column("kind", String(8), primary_key=True),  # params, metrics or tags
    Column("key", String(KEY_LEN), primary_key=True),
)
V9_TABLES = (run_keys,)

# -- servers seen (schema version 11) -------------------------------------------------------------

# One row per running model server (``nbmlops serve`` worker or ``nbmlops.serve`` handle),
# written when it starts, refreshed on its registry poll (``last_seen``) and deleted when it
# stops cleanly. A row whose ``last_seen`` is older than a few ``heartbeat_s`` names a server
# that died without saying so: readers show it as gone.
servers = Table(
    "servers",
    metadata,
    Column("id", String(64), primary_key=True),  # the server's id (ServeOptions.server_id)
    Column("host", String(KEY_LEN), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("url", Text, nullable=True),
    Column("started_at", Float, nullable=False),
    Column("last_seen", Float, nullable=False),
    Column("heartbeat_s", Float, nullable=False),
    Column("models", Text, nullable=False),  # JSON: what each served name answers with now
    Column("nbmlops_version", String(32), nullable=False),
)
V11_TABLES = (servers,)
