"""Widgets and rich displays: the ``nbmlops.panel()`` app, ``compare`` and per-object views.

Every displayable object gives a widget view inside a kernel (JupyterLab, Notebook 7,
VS Code), static HTML where widgets cannot run (nbconvert, GitHub) and text in a terminal.

>>> import nbmlops
>>> nbmlops.panel()  # doctest: +SKIP
>>> nbmlops.compare("3f2a9c", "81bd07")  # doctest: +SKIP
"""

from .compare import Comparison, compare
from .compare_view import CompareView
from .features_panel import FeaturesPanel
from .models_panel import ModelsPanel
from .panel import Panel, panel
from .reports_panel import ReportsPanel
from .run_grid import RunGrid
from .run_view import RunView
from .runs_table import RunsTable

__all__ = [
    "CompareView",
    "Comparison",
    "FeaturesPanel",
    "ModelsPanel",
    "Panel",
    "ReportsPanel",
    "RunGrid",
    "RunView",
    "RunsTable",
    "compare",
    "panel",
]
