"""``ModelsPanel``: registered models, their versions with stage and alias badges (and a badge on
challengers from retraining that wait for a person's decision), promote, rollback and delete
with a reason and a confirmation step, the gate table when a promotion fails, the pending
promotion requests with Approve/Reject, the model card of the chosen version."""

from __future__ import annotations

import ipywidgets as w

from ..display import html as h
from ..display.cells import format_column, is_missing, short_id
from ..errors import GateFailed, NbmlopsError

STAGES = ["production", "staging", "archived"]


def gate_table_html(error: GateFailed) -> str:
    table = error.table
    rows = [
        [
            h.badge("PASS", ("#1a7f37", "#dafbe1"))
            if row["passed"]
            else h.badge("FAIL", ("#cf222e", "#ffebe9")),
            h.esc(row["gate"]),
            h.esc(h.fmt(row["value"])),
            h.esc(h.fmt(row["threshold"])),
            h.esc(row.get("detail") or ""),
        ]
        for row in table.to_dict("records")
    ]
    failed = int((~table["passed"].astype(bool)).sum())
    return h.box(
        f"<p style='color:#cf222e;margin:4px 0'><b>{h.esc(error.subject)}: {failed} of "
        f"{len(table)} gates failed — nothing was changed.</b></p>"
        + h.table(["", "gate", "value", "threshold", "detail"], rows, raw=True),
        "nbmlops-gates",
    )


def challenger_badge(pending: dict) -> str:
    """A challenger from retraining still in staging: waiting for a person's decision (gates
    passed) or kept out by its gates; the tooltip says against which champion and why."""
    passed = pending["status"] == "awaiting"
    label = "challenger: awaiting decision" if passed else "challenger: gates failed"
    colors = ("#9a6700", "#fff8c5") if passed else ("#cf222e", "#ffebe9")
    gates = "; ".join(
        f"{'PASS' if g.get('passed') else 'FAIL'} {g.get('gate')}" for g in pending["gate_table"]
    )
    title = f"alert {pending['alert_id']} of monitor {pending['monitor']}: {pending['message']}"
    return f'<span title="{h.esc(title + (" — " + gates if gates else ""))}">{h.badge(label, colors)}</span>'


def versions_html(name: str) -> str:
    """The versions of ``name`` with stage and alias badges and their metrics."""
    from ..monitoring.retrain import pending_challengers
    from ..registry import model_versions

    frame = model_versions(name)
    metrics = [c for c in frame.columns if c.startswith("metrics.")][:6]
    waiting = pending_challengers(name)
    metric_texts = {m: format_column(frame[m])[0] for m in metrics}
    rows = []
    for i, r in enumerate(frame.to_dict("records")):
        version = int(r["version"])
        aliases = "" if is_missing(r["aliases"]) else str(r["aliases"])
        badges = " ".join(
            ([h.stage_badge(r["stage"])] if isinstance(r["stage"], str) else [])
            + [h.badge(a, ("#8250df", "#fbefff")) for a in filter(None, aliases.split(", "))]
            + ([challenger_badge(waiting[version])] if version in waiting else [])
        )
        model_class = "" if is_missing(r["model_class"]) else str(r["model_class"])
        run = short_id(r["run_id"])
        rows.append(
            [
                f"<b>v{version}</b>",
                badges,
                h.esc(model_class.rsplit(".", 1)[-1]),
                f"<code>{h.esc(run)}</code>" if run else "<span style='color:#57606a'>—</span>",
                h.esc(h.fmt(r["created_at"])),
                *(h.esc(metric_texts[m][i]) for m in metrics),
            ]
        )
    headers = ["version", "stage / aliases", "class", "run", "registered", *metrics]
    return h.table(headers, rows, raw=True, cls="nbmlops-versions")


def requests_html(name: str) -> str:
    """The pending promotion requests of ``name`` (static HTML); empty when there are none."""
    from ..registry import model_policy, promotion_requests

    frame = promotion_requests(name)
    policy = model_policy(name)
    rules = "; ".join(
        f"{stage}: {rule['approvals']} approval(s)"
        + (", separate approver" if rule["separate_approver"] else "")
        + (f", gates {', '.join(rule['gates'])}" if rule["gates"] else "")
        for stage, rule in sorted(policy.items())
    )
    head = f"<p style='color:#57606a;margin:4px 0'>policy — {h.esc(rules)}</p>" if rules else ""
    if frame.empty:
        return head
    rows = [
        [
            f"<b>#{int(r['id'])}</b>",
            f"v{int(r['version'])} → {h.esc(r['to_stage'])}",
            h.esc(f"{len(r['approvals'])}/{int(r['approvals_needed'])}")
            + (" " + h.esc(", ".join(r["approvals"])) if r["approvals"] else ""),
            h.esc(r["requested_by"] or "-"),
            h.esc(r["reason"] or ""),
        ]
        for r in frame.to_dict("records")
    ]
    return head + h.box(
        "<p style='margin:4px 0'><b>pending promotion requests</b></p>"
        + h.table(["request", "change", "approvals", "requested by", "reason"], rows, raw=True),
        "nbmlops-requests",
    )


def models_html() -> str:
    """Every registered model with its versions (static HTML)."""
    from ..registry import models

    frame = models()
    if frame.empty:
        return "<p style='color:#57606a'>no registered models yet (nbmlops.register_model)</p>"
    return "".join(h.section(f"{name}", versions_html(name)) for name in frame["name"])


class ModelsPanel(w.VBox):
    """The Models tab. ``promote_button``/``rollback_button``/``delete_button`` ask for
    confirmation first; ``confirm_button`` then calls :func:`nbmlops.promote` /
    :func:`nbmlops.rollback` / :func:`nbmlops.delete_model_version` with the reason typed in
    ``reason``. Delete is disabled for a version holding production or an alias."""

    def __init__(self, name: str | None = None):
        super().__init__()
        self.model = w.Dropdown(description="model", layout=w.Layout(width="300px"))
        self.version = w.Dropdown(description="version", layout=w.Layout(width="200px"))
        self.stage = w.Dropdown(description="to stage", options=STAGES, value="production")
        self.gates = w.Textarea(
            placeholder="gates, one per line, e.g.\nmetrics.f1 >= champion.metrics.f1",
            description="gates",
            layout=w.Layout(width="460px", height="60px"),
        )
        self.reason = w.Textarea(
            placeholder="why (kept in the model's history)",
            description="reason",
            layout=w.Layout(width="460px", height="48px"),
        )
        self.promote_button = w.Button(
            description="Promote…", icon="arrow-up", button_style="success"
        )
        self.rollback_button = w.Button(
            description="Rollback…", icon="undo", button_style="warning"
        )
        self.delete_button = w.Button(
            description="Delete…",
            icon="trash",
            button_style="danger",
            tooltip="delete this version",
        )
        self.confirm_text = w.HTML()
        self.confirm_button = w.Button(description="Confirm", button_style="danger")
        self.cancel_button = w.Button(description="Cancel")
        self.confirm_box = w.HBox([self.confirm_text, self.confirm_button, self.cancel_button])
        self.confirm_box.layout.display = "none"
        self.message = w.HTML()
        self.versions = w.HTML()
        self.requests = w.HTML()
        self.request = w.Dropdown(description="request", layout=w.Layout(width="200px"))
        self.approve_button = w.Button(description="Approve", icon="check", button_style="success")
        self.reject_button = w.Button(description="Reject", icon="times", button_style="danger")
        self.request_box = w.HBox([self.request, self.approve_button, self.reject_button])
        self.request_box.layout.display = "none"
        self.card = w.HTML()
        self.pending: tuple[str, str, int | None, str | None] | None = None  # action, name, v, to
        self._holds: dict[int, list[str]] = {}  # version → production / aliases it holds

        self.model.observe(lambda _: self._on_model(), names="value")
        self.version.observe(lambda _: self._on_version(), names="value")
        self.promote_button.on_click(lambda _: self.ask("promote"))
        self.rollback_button.on_click(lambda _: self.ask("rollback"))
        self.delete_button.on_click(lambda _: self.ask("delete"))
        self.confirm_button.on_click(lambda _: self.confirm())
        self.cancel_button.on_click(lambda _: self.cancel())
        self.approve_button.on_click(lambda _: self.decide("approve"))
        self.reject_button.on_click(lambda _: self.decide("reject"))
        self.children = [
            self.model,
            self.versions,
            self.requests,
            self.request_box,
            w.HBox([self.version, self.stage]),
            self.gates,
            self.reason,
            w.HBox([self.promote_button, self.rollback_button, self.delete_button]),
            self.confirm_box,
            self.message,
            self.card,
        ]
        if name is not None:
            self._check_name(name)
        try:
            self.refresh(name)
        except Exception as exc:  # noqa: BLE001 - the tab shows it and stays usable
            self.message.value = h.error(exc)

    @staticmethod
    def _model_names() -> list[str]:
        from ..registry import models

        return [str(n) for n in models()["name"]]

    def _check_name(self, name: str) -> None:
        names = self._model_names()
        if name not in names:
            raise NbmlopsError(f"no registered model named {name!r}; models: {names}")

    def refresh(self, name: str | None = None) -> None:
        """Re-read models and versions (keeps the chosen model when it still exists)."""
        names = self._model_names()
        keep = name if name is not None else self.model.value
        if name is not None and name not in names:
            raise NbmlopsError(f"no registered model named {name!r}; models: {names}")
        self.model.options = names
        self.model.value = keep if keep in names else (names[0] if names else None)
        self._on_model()

    def _on_model(self) -> None:
        from ..registry import model_versions

        name = self.model.value
        for control in (self.promote_button, self.rollback_button, self.delete_button):
            control.disabled = name is None
        if name is None:
            self.versions.value = (
                "<p style='color:#57606a'>no registered models yet: register one with "
                "<code>nbmlops.register_model(model, 'name')</code> or <code>%register</code></p>"
            )
            self.version.options = []
            self.card.value = ""
            self.requests.value = ""
            self.request_box.layout.display = "none"
            return
        self.versions.value = versions_html(name)
        self._show_requests(name)
        frame = model_versions(name)
        versions = [int(v) for v in frame["version"]]
        self._holds = {
            int(r["version"]): [
                *([r["stage"]] if r["stage"] == "production" else []),
                *filter(None, ("" if is_missing(r["aliases"]) else str(r["aliases"])).split(", ")),
            ]
            for r in frame.to_dict("records")
        }
        keep = self.version.value
        self.version.options = [(f"v{v}", v) for v in reversed(versions)]
        self.version.value = keep if keep in versions else (versions[-1] if versions else None)
        self._on_version()

    def _on_version(self) -> None:
        from ..registry import model_card

        holds = self._holds.get(self.version.value, []) if self.version.value else []
        self.delete_button.disabled = self.version.value is None or bool(holds)
        self.delete_button.tooltip = (
            f"v{self.version.value} holds {', '.join(holds)}: promote another version or move "
            "the alias first"
            if holds
            else "delete this version"
        )
        if self.model.value is None or self.version.value is None:
            self.card.value = ""
            return
        try:
            card = model_card(self.model.value, self.version.value).to_html(compact=True)
        except Exception as exc:  # noqa: BLE001 - e.g. its artifact was deleted: say so
            card = h.error(exc)
        self.card.value = card

    def _show_requests(self, name: str) -> None:
        from ..registry import promotion_requests

        self.requests.value = requests_html(name)
        pending = promotion_requests(name)
        keep = self.request.value
        self.request.options = [
            (f"#{int(r.id)} v{int(r.version)} → {r.to_stage}", int(r.id))
            for r in pending.itertuples()
        ]
        ids = [int(i) for i in pending["id"]]
        self.request.value = keep if keep in ids else (ids[0] if ids else None)
        self.request_box.layout.display = "flex" if len(pending) else "none"

    # -- actions -----------------------------------------------------------------------------

    def decide(self, decision: str) -> None:
        """Approve or reject the chosen request as the current identity, with the reason typed
        in ``reason``; the approval that completes it promotes."""
        from ..registry import approve, reject

        if self.request.value is None:
            return
        reason = self.reason.value.strip() or None
        try:
            done = (approve if decision == "approve" else reject)(self.request.value, reason)
        except GateFailed as exc:
            self.message.value = gate_table_html(exc)
            self.refresh()
            return
        except NbmlopsError as exc:
            self.message.value = h.error(exc)
            self.refresh()
            return
        info = done.info
        self.reason.value = ""
        self.refresh()
        self.message.value = (
            f"<p style='color:#1a7f37'>✔ request {done.id} "
            f"{h.esc(info['status'])}: {h.esc(info['name'])} v{int(info['version'])} → "
            f"{h.esc(info['to_stage'])}</p>"
        )

    def ask(self, action: str) -> None:
        """First step of promote/rollback: say what will happen and wait for Confirm."""
        name, version = self.model.value, self.version.value
        if name is None:
            return
        if action == "promote":
            text = f"Promote <b>{h.esc(name)} v{version}</b> to <b>{h.esc(self.stage.value)}</b>?"
            self.pending = ("promote", name, version, self.stage.value)
        elif action == "delete":
            if version is None:
                return
            text = (
                f"Delete <b>{h.esc(name)} v{version}</b>? It leaves the registry (the history "
                "keeps it; its number is not reused)."
            )
            self.pending = ("delete", name, version, None)
        else:
            text = f"Roll back <b>{h.esc(name)}</b> to the previous production version?"
            self.pending = ("rollback", name, None, None)
        if not self.reason.value.strip():
            text += " <span style='color:#9a6700'>(no reason given)</span>"
        self.confirm_text.value = text + "&nbsp;"
        self.confirm_box.layout.display = "flex"
        self.message.value = ""

    def cancel(self) -> None:
        self.pending = None
        self.confirm_box.layout.display = "none"

    def confirm(self) -> None:
        """Second step: carry out the pending promote/rollback/delete; show gates if they
        fail and the registry's refusal if it refuses."""
        from ..registry import delete_model_version, promote, rollback

        if self.pending is None:
            return
        action, name, version, to = self.pending
        self.cancel()
        reason = self.reason.value.strip() or None
        gates = [g.strip() for g in self.gates.value.splitlines() if g.strip()] or None
        try:
            if action == "promote":
                mv = promote(name, version, to=to, reason=reason, gates=gates)
                if hasattr(mv, "stage"):
                    done = f"{mv.name} v{mv.version} is now {mv.stage}"
                else:  # a policy asks for approval: a pending request, nothing moved yet
                    done = (
                        f"request {mv.id} opened: {mv.name} v{mv.version} to {to} awaits approval"
                    )
            elif action == "delete":
                mv = delete_model_version(name, version, reason=reason)
                done = f"deleted {mv.name} v{mv.version}"
            else:
                mv = rollback(name, reason=reason)
                done = f"rolled back: {mv.name} v{mv.version} is in production again"
        except GateFailed as exc:
            self.message.value = gate_table_html(exc)
            return
        except NbmlopsError as exc:
            self.message.value = h.error(exc)
            return
        self.reason.value = ""
        self.refresh()
        self.message.value = f"<p style='color:#1a7f37'>✔ {h.esc(done)}</p>"

    def to_html(self) -> str:
        return models_html()
