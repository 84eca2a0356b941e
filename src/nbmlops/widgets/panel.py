"""``nbmlops.panel()`` / ``%nbmlops panel``: one tabbed app over the workspace.

Runs (filter, sort, page, select → Compare), Compare, Models (promote/rollback/delete),
Features (catalog search), Reports (saved drift reports) and Serving (rollouts: traffic shares,
guards, advance and abort). The panel refreshes itself after
every cell of the same kernel that may have changed the workspace (``%%track``, ``%register``,
code naming ``nbmlops``); a refresh that fails shows the error in the tab and never in the
notebook. Its static HTML (nbconvert, GitHub) shows the first page of runs, the models and
the reports.
"""

from __future__ import annotations

import weakref

import ipywidgets as w

from ..display import html as h
from .compare import compare
from .compare_view import CompareView
from .features_panel import FeaturesPanel
from .models_panel import ModelsPanel
from .reports_panel import ReportsPanel
from .runs_table import RunsTable
from .serving_panel import ServingPanel

TABS = ["Runs", "Compare", "Models", "Features", "Reports", "Serving"]
# A cell that may have changed the workspace: a tracked cell, an nbmlops magic, or code
# that names nbmlops (promote, register_model, …). Other cells do not re-read the store.
MAGICS = ("%%track", "%register", "%drift", "%monitor", "%rollout")


def touches_workspace(source: str) -> bool:
    """Whether the panel should re-read the workspace after a cell with this source."""
    return "nbmlops" in source or any(magic in source for magic in MAGICS)


class Panel(w.Tab):
    """The tabbed app. Its tabs are attributes: ``runs``, ``compare``, ``models``,
    ``features``, ``reports``, ``serving``."""

    def __init__(self, experiment: str | None = None, page_size: int = 25):
        self.runs = RunsTable(experiment=experiment, page_size=page_size)
        self.compare = CompareView()
        self.models = ModelsPanel()
        self.features = FeaturesPanel()
        self.reports = ReportsPanel()
        self.serving = ServingPanel()
        super().__init__(
            children=[
                self.runs,
                self.compare,
                self.models,
                self.features,
                self.reports,
                self.serving,
            ]
        )
        for i, title in enumerate(TABS):
            self.set_title(i, title)
        self.runs.on_compare(self.show_comparison)
        self._hook = None
        self.errors: dict[str, str] = {}  # tab → the error of its last refresh

    def show_comparison(self, run_ids: list[str]) -> None:
        """Compare ``run_ids`` and switch to the Compare tab (an error stays in the Runs tab)."""
        try:
            comparison = compare(*run_ids)
        except Exception as exc:  # noqa: BLE001 - a face shows errors, it does not raise them
            self.runs.message.value = h.error(exc)
            return
        self.compare.show(comparison)
        self.selected_index = TABS.index("Compare")

    def refresh(self) -> None:
        """Re-read everything: new runs, statuses, model stages, reports, feature views.

        A tab that fails to refresh shows the error in its message line and keeps what it
        showed; the other tabs refresh as usual. ``errors`` holds what failed.
        """
        failed_before, self.errors = self.errors, {}
        for name, tab in (
            ("Runs", self.runs),
            ("Models", self.models),
            ("Features", self.features),
            ("Reports", self.reports),
            ("Serving", self.serving),
        ):
            try:
                tab.refresh()
            except Exception as exc:  # noqa: BLE001 - the panel must stay alive
                self.errors[name] = f"{type(exc).__name__}: {exc}"
                tab.message.value = h.error(exc)
            else:
                if name in failed_before:
                    tab.message.value = ""

    # -- live refresh ------------------------------------------------------------------------

    def watch(self, shell=None) -> Panel:
        """Refresh after each cell of ``shell`` (the current IPython by default) that may have
        changed the workspace (see :func:`touches_workspace`). The hook holds the panel
        weakly: a panel that is gone unhooks itself. It never raises into the shell."""
        if shell is None:
            from IPython import get_ipython

            shell = get_ipython()
        if shell is None or self._hook is not None:
            return self
        ref = weakref.ref(self)

        def after_cell(result) -> None:
            # Runs inside IPython's event loop: an exception here would print "Error in
            # callback" under every later cell. Nothing may escape.
            try:
                panel = ref()
                if panel is None:
                    shell.events.unregister("post_run_cell", after_cell)
                    return
                if touches_workspace(getattr(result.info, "raw_cell", None) or ""):
                    panel.refresh()
            except Exception:  # noqa: BLE001 - see above; refresh() shows its own errors
                pass

        shell.events.register("post_run_cell", after_cell)
        self._hook = (shell, after_cell)
        return self

    def unwatch(self) -> None:
        if self._hook is not None:
            shell, hook = self._hook
            shell.events.unregister("post_run_cell", hook)
            self._hook = None

    # -- display -----------------------------------------------------------------------------

    def to_html(self) -> str:
        """Static HTML: the first page of runs, the models and the saved reports."""
        return h.box(
            '<h3 style="margin:4px 0">nbmlops</h3>'
            + h.section("Runs", self.runs.to_html())
            + h.section("Models", self.models.to_html())
            + h.section("Features", self.features.to_html())
            + h.section("Reports", self.reports.to_html())
            + h.section("Serving", self.serving.to_html()),
            "nbmlops-panel",
        )

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = super()._repr_mimebundle_(include=include, exclude=exclude) or {}
        page = self.runs.page
        bundle["text/plain"] = (
            f"nbmlops panel: {page.total:,} runs, {len(self.models.model.options)} models, "
            f"{len(self.reports.report.options)} drift reports"
        )
        bundle["text/html"] = self.to_html()
        return bundle


def panel(experiment: str | None = None, page_size: int = 25) -> Panel:
    """The nbmlops app for this workspace: runs, compare, models, features, reports.

    It refreshes itself after ``%%track`` cells (and cells using nbmlops) in the same kernel.

    >>> import nbmlops
    >>> nbmlops.panel()  # doctest: +SKIP
    """
    return Panel(experiment=experiment, page_size=page_size).watch()
