"""The Models tab: promote and rollback go through a reason and a confirmation step; a
promotion failing its gates changes nothing and shows the gate table."""

from __future__ import annotations

import nbmlops
from nbmlops.widgets import ModelsPanel


def _stages() -> dict[int, str | None]:
    frame = nbmlops.model_versions("iris")
    return {
        int(v): (s if isinstance(s, str) else None)
        for v, s in zip(frame["version"], frame["stage"], strict=True)
    }


def test_versions_with_stage_badges_and_the_card(registry):
    panel = ModelsPanel()
    assert panel.model.value == "iris" and panel.version.value == 2
    assert "production" in panel.versions.value and "nbmlops-badge" in panel.versions.value
    assert "nan" not in panel.versions.value  # v2 has no stage: no badge
    assert "iris" in panel.card.value
    panel.version.value = 1
    assert "DecisionTreeClassifier" in panel.card.value


def test_promote_asks_then_changes_the_store_with_the_reason(registry):
    panel = ModelsPanel()
    panel.version.value = 2
    panel.reason.value = "smaller tree, same recall"
    panel.promote_button.click()
    assert panel.confirm_box.layout.display == "flex"
    assert "Promote <b>iris v2</b> to <b>production</b>" in panel.confirm_text.value
    assert _stages() == {1: "production", 2: None}, "nothing changes before Confirm"
    panel.confirm_button.click()
    assert _stages() == {1: "archived", 2: "production"}
    history = nbmlops.model_history("iris")
    assert history.iloc[-1]["reason"] == "smaller tree, same recall"
    assert "is now production" in panel.message.value
    assert panel.confirm_box.layout.display == "none" and panel.reason.value == ""


def test_cancel_changes_nothing(registry):
    panel = ModelsPanel()
    panel.promote_button.click()
    panel.cancel_button.click()
    panel.confirm_button.click()  # nothing pending any more
    assert _stages() == {1: "production", 2: None}


def test_failing_gates_leave_the_store_unchanged_and_show_the_table(registry):
    before = nbmlops.model_history("iris")
    panel = ModelsPanel()
    panel.version.value = 2
    panel.gates.value = "metrics.accuracy >= champion.metrics.accuracy\nmetrics.accuracy >= 0.5"
    panel.reason.value = "try the stump"
    panel.promote_button.click()
    panel.confirm_button.click()
    assert _stages() == {1: "production", 2: None}
    assert len(nbmlops.model_history("iris")) == len(before)
    shown = panel.message.value
    assert "1 of 2 gates failed" in shown and "nothing was changed" in shown
    assert "metrics.accuracy &gt;= champion.metrics.accuracy" in shown
    assert "FAIL" in shown and "PASS" in shown and "0.8" in shown and "0.9" in shown


def test_rollback_button(registry):
    nbmlops.promote("iris", 2, reason="v2 first")
    panel = ModelsPanel()
    panel.reason.value = "v2 misbehaves"
    panel.rollback_button.click()
    assert "Roll back <b>iris</b>" in panel.confirm_text.value
    panel.confirm_button.click()
    assert _stages() == {1: "production", 2: "archived"}
    assert nbmlops.model_history("iris").iloc[-1]["reason"] == "v2 misbehaves"


def test_empty_registry(workspace):
    panel = ModelsPanel()
    assert panel.model.value is None and "no registered models" in panel.versions.value
    assert panel.promote_button.disabled


def test_delete_asks_then_deletes_with_the_reason(registry):
    panel = ModelsPanel()
    panel.version.value = 2
    assert not panel.delete_button.disabled
    panel.reason.value = "registered by mistake"
    panel.delete_button.click()
    assert "Delete <b>iris v2</b>" in panel.confirm_text.value
    assert _stages() == {1: "production", 2: None}, "nothing changes before Confirm"
    panel.confirm_button.click()
    assert _stages() == {1: "production"}
    last = nbmlops.model_history("iris").iloc[-1]
    assert (int(last["version"]), last["reason"]) == (2, "registered by mistake")
    assert "deleted iris v2" in panel.message.value
    assert "<b>v2</b>" not in panel.versions.value and list(panel.version.options) == [("v1", 1)]


def test_delete_is_disabled_for_production_and_the_registry_refuses_it(registry):
    panel = ModelsPanel()
    panel.version.value = 1
    assert panel.delete_button.disabled
    assert "holds production" in panel.delete_button.tooltip
    panel.ask("delete")  # as if the button were pressed anyway: the registry says no
    panel.confirm_button.click()
    assert _stages() == {1: "production", 2: None}
    assert "production" in panel.message.value and "color:#cf222e" in panel.message.value
    nbmlops.set_alias("iris", "champion", 2)
    panel.refresh()
    panel.version.value = 2
    assert panel.delete_button.disabled and "champion" in panel.delete_button.tooltip


def test_cancel_delete_changes_nothing(registry):
    panel = ModelsPanel()
    panel.version.value = 2
    panel.delete_button.click()
    panel.cancel_button.click()
    panel.confirm_button.click()
    assert _stages() == {1: "production", 2: None}


def test_pending_requests_are_approved_from_the_panel(registry, monkeypatch):
    monkeypatch.setenv("NBMLOPS_USER", "alice")
    nbmlops.set_policy("iris", production={"approvals": 1, "separate_approver": True})
    panel = ModelsPanel()
    panel.version.value = 2
    panel.reason.value = "stump for latency"
    panel.promote_button.click()
    panel.confirm_button.click()
    assert "awaits approval" in panel.message.value
    assert _stages() == {1: "production", 2: None}
    assert "pending promotion requests" in panel.requests.value
    assert "separate approver" in panel.requests.value
    assert panel.request_box.layout.display == "flex" and len(panel.request.options) == 1
    panel.approve_button.click()  # alice asked: four eyes refuse her approval
    assert "separate approver" in panel.message.value
    assert _stages() == {1: "production", 2: None}
    monkeypatch.setenv("NBMLOPS_USER", "bob")
    panel.reason.value = "fine by me"
    panel.approve_button.click()
    assert "approved" in panel.message.value
    assert _stages() == {1: "archived", 2: "production"}
    assert panel.request_box.layout.display == "none"
    assert nbmlops.model_history("iris")["user"].iloc[-1] == "bob"
