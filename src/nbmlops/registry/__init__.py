"""The model registry: versions, stages and aliases, gated promotion, rollback, signatures,
model cards and safe (skops) persistence.

>>> import nbmlops
>>> mv = nbmlops.register_model(model, "churn")  # doctest: +SKIP
>>> nbmlops.promote("churn", mv.version, reason="first model", gates=["metrics.f1 >= 0.8"])  # doctest: +SKIP
>>> nbmlops.load_model("models:/churn@production")  # doctest: +SKIP
"""

from .approvals import (
    PromotionRequest,
    approve,
    model_policy,
    promotion_requests,
    reject,
    set_policy,
)
from .audit import AuditVerification, audit_log, export_audit, verify_audit
from .card import ModelCard
from .evaluate import evaluate
from .lifecycle import (
    delete_alias,
    delete_model_version,
    model_history,
    promote,
    rollback,
    set_alias,
)
from .persistence import PackageVersionWarning
from .provenance import Lineage, lineage
from .signature import Signature
from .versions import (
    ModelVersion,
    get_model,
    load_model,
    measure_latency,
    model_card,
    model_versions,
    models,
    register_model,
)

__all__ = [
    "Lineage",
    "lineage",
    "PromotionRequest",
    "approve",
    "model_policy",
    "promotion_requests",
    "reject",
    "set_policy",
    "AuditVerification",
    "audit_log",
    "export_audit",
    "verify_audit",
    "ModelCard",
    "ModelVersion",
    "PackageVersionWarning",
    "Signature",
    "delete_alias",
    "delete_model_version",
    "evaluate",
    "get_model",
    "load_model",
    "measure_latency",
    "model_card",
    "model_history",
    "model_versions",
    "models",
    "promote",
    "register_model",
    "rollback",
    "set_alias",
]
