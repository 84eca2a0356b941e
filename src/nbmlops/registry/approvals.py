"""Release governance: policies per model name, promotion requests, approvals with four eyes.

``set_policy("churn", production={"approvals": 1, "separate_approver": True, "gates": [...]})``
makes ``promote("churn", v)`` open a :class:`PromotionRequest` (with its gate table) instead of
moving anything. ``approve(request)`` / ``reject(request)`` record a decision by the current
identity (the authenticated Jupyter user in the server extension, else ``NBMLOPS_USER``, else
the OS user); the approval that completes the request re-checks the gates against the
production version at that moment and moves the version in the same transaction. A request
expires when its candidate or the champion changes. Every step is in the audit log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..display import html as h
from ..errors import ApprovalError, GateFailed, InvalidModel, NbmlopsError, RequestExpired
from ..store.models import STAGES
from ._context import check_text, current_store, current_user
from ._names import model_name
from ._transitions import gate_table, table_records
from ._transitions import promote as _promote
from .gates import validate_gates

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "PromotionRequest",
    "approve",
    "model_policy",
    "promotion_requests",
    "reject",
    "set_policy",
]

_RULE_KEYS = {"approvals", "separate_approver", "gates"}


def _rule(stage: str, rule: object) -> dict | None:
    if rule is None or rule is False:
        return None
    if rule is True:
        rule = {}
    if not isinstance(rule, dict):
        raise InvalidModel(
            f"the {stage} rule of a policy is a dict such as {{'approvals': 1, "
            f"'separate_approver': True, 'gates': ['metrics.f1 >= 0.8']}}, got {rule!r:.60}"
        )
    unknown = set(rule) - _RULE_KEYS
    if unknown:
        raise InvalidModel(
            f"unknown key(s) {', '.join(sorted(unknown))} in the {stage} rule; use "
            f"{', '.join(sorted(_RULE_KEYS))}"
        )
    approvals = rule.get("approvals", 1)
    if isinstance(approvals, bool) or not isinstance(approvals, int) or not 0 <= approvals <= 10:
        raise InvalidModel(f"approvals is a whole number from 0 to 10, got {approvals!r}")
    separate = rule.get("separate_approver", False)
    if not isinstance(separate, bool):
        raise InvalidModel(f"separate_approver is True or False, got {separate!r}")
    return {
        "approvals": approvals,
        "separate_approver": separate,
        "gates": validate_gates(rule.get("gates")),
    }


def set_policy(name: str, **stages: dict | None) -> dict:
    """Set what promoting ``name`` to each stage needs; return the stored policy.

    Each keyword is a stage (``production``, ``staging``, ``archived``) mapped to
    ``{"approvals": n, "separate_approver": bool, "gates": [...]}`` (None removes it). A
    stage with ``approvals >= 1`` is reached only through approved requests; its gates are
    checked on every promotion to it, with or without approvals. ``set_policy(name)`` with no
    stage removes the policy.

    >>> import nbmlops
    >>> nbmlops.set_policy("churn", production={"approvals": 1, "separate_approver": True,
    ...                    "gates": ["metrics.f1 >= champion.metrics.f1"]})  # doctest: +SKIP
    """
    name = model_name(name)
    unknown = set(stages) - set(STAGES)
    if unknown:
        raise InvalidModel(
            f"unknown stage(s) {', '.join(sorted(unknown))} in set_policy; use {', '.join(STAGES)}"
        )
    store = current_store()
    policy = dict(store.governance.policy(name) or {}) if stages else {}
    for stage, rule in stages.items():
        checked = _rule(stage, rule)
        if checked is None:
            policy.pop(stage, None)
        else:
            policy[stage] = checked
    store.governance.set_policy(name, policy or None, current_user())
    return policy


def model_policy(name: str) -> dict:
    """The policy of ``name`` (``{}`` when it has none)."""
    return current_store().governance.policy(model_name(name)) or {}


class PromotionRequest:
    """A pending (or decided) request to move a model version to a stage."""

    def __init__(self, request_id: int, row: dict | None = None):
        self.id = int(request_id)
        self._cached = row

    def _row(self) -> dict:
        row = self._cached
        self._cached = None  # one use: properties read fresh afterwards
        return row if row is not None else current_store().governance.request(self.id)

    @property
    def info(self) -> dict[str, Any]:
        """Every stored field, with ``decisions`` (who approved or rejected, when, why)."""
        return self._row()

    @property
    def status(self) -> str:
        """``pending``, ``approved``, ``rejected``, ``expired`` or ``failed``."""
        return self._row()["status"]

    @property
    def name(self) -> str:
        return self._row()["name"]

    @property
    def version(self) -> int:
        return int(self._row()["version"])

    @property
    def approvals(self) -> list[str]:
        return [d["user_name"] for d in self._row()["decisions"] if d["decision"] == "approve"]

    @property
    def gate_table(self) -> pd.DataFrame:
        import pandas as pd

        from ..tracking._gates import COLUMNS

        return pd.DataFrame(self._row()["gate_table"], columns=COLUMNS)

    def approve(self, reason: str | None = None) -> PromotionRequest:
        """:func:`approve` this request."""
        return approve(self, reason)

    def reject(self, reason: str | None = None) -> PromotionRequest:
        """:func:`reject` this request."""
        return reject(self, reason)

    def _summary(self, row: dict) -> str:
        got = sum(d["decision"] == "approve" for d in row["decisions"])
        return (
            f"request {self.id}: {row['name']} v{row['version']} to {row['to_stage']}, "
            f"{row['status']} ({got} of {row['approvals_needed']} approvals"
            + (", separate approver" if row["separate_approver"] else "")
            + f"), requested by {row['requested_by'] or '?'}"
            + (f"; {row['outcome']}" if row["outcome"] else "")
        )

    def __repr__(self) -> str:
        return f"<PromotionRequest {self._summary(self._row())}>"

    def _repr_html_(self) -> str:
        row = self._row()
        gates = row["gate_table"]
        body = h.esc(self._summary(row))
        if gates:
            rows = "".join(
                f"<tr><td>{h.esc(g['gate'])}</td><td>{h.esc(h.fmt(g['value']))}</td>"
                f"<td>{h.esc(h.fmt(g['threshold']))}</td>"
                f"<td>{'PASS' if g['passed'] else 'FAIL'}</td><td>{h.esc(g['detail'])}</td></tr>"
                for g in gates
            )
            body += (
                "<table><tr><th>gate</th><th>value</th><th>threshold</th><th></th>"
                f"<th>detail</th></tr>{rows}</table>"
            )
        return f"<div>{body}</div>"


def request_promotion(
    name: str,
    version: int,
    to: str = "production",
    reason: str | None = None,
    gates: list[str] | None = None,
) -> PromotionRequest:
    """Open a request to move ``version`` of ``name`` to ``to`` even when no policy asks for
    one (it then needs one approval, by anyone); the policy's rule when it has one.
    Retraining uses it for a challenger that waits for a person's decision."""
    _name, _version, request = _promote(
        name, version, to=to, reason=reason, gates=gates, request=True
    )
    if request is None:  # already at that stage
        raise ApprovalError(f"version {version} of {name!r} is already {to}: nothing to request")
    return PromotionRequest(request)


def _request_id(request: PromotionRequest | int) -> int:
    if isinstance(request, PromotionRequest):
        return request.id
    if isinstance(request, bool) or not isinstance(request, int) or request < 1:
        raise InvalidModel(
            f"a request is a PromotionRequest or its id (a positive int), got {request!r:.40}"
        )
    return request


def decide(
    request: PromotionRequest | int, decision: str, reason: str | None, user: str | None
) -> PromotionRequest:
    """Record ``user``'s decision; raise after the commit when the request expired or its
    gates failed at the last approval."""
    request_id = _request_id(request)
    reason = None if reason is None else check_text("reason", reason)
    store = current_store()
    info = store.governance.request(request_id)

    def check(champion: int | None) -> tuple[list[dict], bool]:
        if not info["gates"]:
            return [], True
        table = gate_table(info["name"], int(info["version"]), info["gates"], champion)
        return table_records(table), bool(table["passed"].all())

    if decision == "approve" and info["gates"]:
        # Reading metrics writes the metrics a run of this process still buffers; do it now,
        # not inside the decision's write transaction (on SQLite it would wait for itself).
        try:
            check(store.models.production_version(info["name"]))
        except NbmlopsError:
            pass  # e.g. the candidate was deleted: the decision below says so (expired)
    result = store.governance.decide(request_id, user, decision, reason, check)
    out = PromotionRequest(request_id)
    subject = f"request {request_id} ({info['name']} v{info['version']} to {info['to_stage']})"
    if result["outcome"] == "expired":
        raise RequestExpired(
            f"{subject} expired: {result['detail']}; ask again with nbmlops.promote("
            f"{info['name']!r}, {info['version']}, to={info['to_stage']!r})"
        )
    if result["outcome"] == "failed":
        import pandas as pd

        from ..tracking._gates import COLUMNS

        table = pd.DataFrame(result["gate_table"], columns=COLUMNS)
        raise GateFailed(subject, table, outcome=f"{result['detail']}; nothing was promoted")
    return out


def approve(request: PromotionRequest | int, reason: str | None = None) -> PromotionRequest:
    """Approve ``request`` as the current identity. The approval that completes it re-checks
    its gates against the production version now and performs the promotion atomically.

    Raises :class:`~nbmlops.errors.ApprovalError` when the requester approves under
    ``separate_approver``, someone approves twice, or the request is closed;
    :class:`~nbmlops.errors.RequestExpired` when its candidate or champion changed;
    :class:`~nbmlops.errors.GateFailed` when the re-checked gates fail (it is then closed).
    """
    return decide(request, "approve", reason, current_user())


def reject(request: PromotionRequest | int, reason: str | None = None) -> PromotionRequest:
    """Reject ``request`` as the current identity; it is closed and nothing moves."""
    return decide(request, "reject", reason, current_user())


def promotion_requests(name: str | None = None, status: str | None = "pending") -> pd.DataFrame:
    """Promotion requests, newest first: ``id, name, version, to_stage, status, approvals,
    approvals_needed, separate_approver, requested_by, requested_at, reason, outcome``.
    ``status=None`` lists every request."""
    import pandas as pd

    rows = current_store().governance.requests(None if name is None else model_name(name), status)
    columns = [
        "id",
        "name",
        "version",
        "to_stage",
        "status",
        "approvals",
        "approvals_needed",
        "separate_approver",
        "requested_by",
        "requested_at",
        "reason",
        "outcome",
    ]
    frame = pd.DataFrame(
        [
            {
                **r,
                "approvals": [d["user_name"] for d in r["decisions"] if d["decision"] == "approve"],
            }
            for r in rows
        ],
        columns=columns,
    )
    frame["requested_at"] = pd.to_datetime(frame["requested_at"].astype(float), unit="s", utc=True)
    return frame
