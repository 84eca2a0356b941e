"""The tabbed app: tabs, live refresh after %%track, %nbmlops panel, reports and features,
and the displays of single objects."""

from __future__ import annotations

import pytest

import nbmlops
from nbmlops.errors import NbmlopsError
from nbmlops.widgets import FeaturesPanel, Panel, ReportsPanel, RunView

WIDGET = "application/vnd.jupyter.widget-view+json"


def test_panel_magic_and_refresh_after_a_tracked_cell(shell):
    shell.run_cell("p = %nbmlops panel")
    panel = shell.user_ns["p"]
    assert isinstance(panel, Panel)
    assert [panel.get_title(i) for i in range(5)] == [
        "Runs",
        "Compare",
        "Models",
        "Features",
        "Reports",
    ]
    assert panel.runs.page.total == 0
    result = shell.run_cell("%%track --quiet\nC = 0.5\naccuracy = round(C + 0.41, 2)")
    assert result.success
    assert panel.runs.page.total == 1
    assert panel.runs.page.frame.loc[0, "metrics.accuracy"] == 0.91
    shell.run_cell("x = 1")  # not a tracked cell: no refresh needed
    panel.unwatch()
    shell.run_cell("%%track --quiet\naccuracy = round(0.5, 1)")
    assert panel.runs.page.total == 1  # unhooked
    panel.refresh()
    assert panel.runs.page.total == 2
    with pytest.raises(NbmlopsError, match="try %nbmlops panel"):
        shell.run_line_magic("nbmlops", "show")


def test_panel_static_html_and_text(runs7, registry, saved_report):
    panel = Panel(page_size=5)
    bundle = panel._repr_mimebundle_()
    assert bundle["text/plain"] == "nbmlops panel: 9 runs, 1 models, 1 drift reports"
    html = bundle["text/html"]
    assert "runs 1–5 of 9" in html and "run-6" in html
    assert "iris" in html and "weekly-income" in html
    assert WIDGET in bundle


def test_reports_tab_opens_a_saved_report(saved_report):
    tab = ReportsPanel()
    assert "weekly-income" in tab.listing.value and "drift" in tab.listing.value
    assert tab.report.value == saved_report
    tab.open_button.click()
    assert tab.opened.report_id == saved_report
    assert "income" in tab.summary.value
    assert tab.figure is not None and len(tab.figure.data) > 0
    tab.open_report("ffffffff")
    assert "ffffffff" in tab.message.value


def test_features_tab_searches_the_catalog(workspace):
    from nbmlops import Entity, FeatureView, Field, features

    customer = Entity("customer", join_keys=["customer_id"])
    features.apply(
        FeatureView(
            "customer_stats",
            customer,
            [Field("spend_30d", "float64", min=0, description="spend in 30 days")],
            ttl="30d",
            description="rolling spend",
            owner="risk",
        ),
        FeatureView("orders", customer, [Field("n_orders", "int64")]),
    )
    tab = FeaturesPanel()
    assert "customer_stats" in tab.listing.value and "orders" in tab.listing.value
    tab.search.value = "spend"
    assert list(tab.view.options) == ["customer_stats"]
    assert "spend_30d" in tab.details.value and "Versions" in tab.details.value
    tab.search.value = "nothing-like-this"
    assert "no feature views match" in tab.listing.value and tab.details.value == ""
    html = features.get_view("customer_stats")._repr_html_()
    assert "spend in 30 days" in html and "customer_id" in html


def test_run_display_text_html_and_widget(runs7):
    run = nbmlops.get_run(runs7[2])
    bundle = run._repr_mimebundle_()
    assert bundle["text/plain"].startswith(f"run {run.run_id}")
    assert "run-2" in bundle["text/html"] and "penalty" in bundle["text/html"]
    assert "FINISHED" in bundle["text/html"]
    assert WIDGET not in bundle  # no kernel here
    assert set(run._repr_mimebundle_(include={"text/plain"})) == {"text/plain"}
    view = RunView(run)
    assert view.metric.options == ("accuracy", "loss")
    view.metric.value = "loss"
    assert list(view.figure.data[0].y) == [1 / 3, 1 / 4, 1 / 5]
