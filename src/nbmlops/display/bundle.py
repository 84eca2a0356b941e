"""One mimebundle for every displayable object: widget view, static HTML and plain text.

ipywidgets' own bundle has no HTML fallback, so nbconvert, GitHub and offline viewers would
show nothing. Objects return ``text/plain`` and ``text/html`` always, and add the widget view
(``application/vnd.jupyter.widget-view+json``) only inside a kernel, where a frontend can
render it; a terminal IPython gets text without building a widget.

A capability (a :class:`~nbmlops.Run`, a comparison) names its interactive view by a kind
(``"run"``); the view is built by a factory that the top package registers with
:func:`set_view`, so no capability imports :mod:`nbmlops.widgets`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"

_views: dict[str, Callable[[Any], Any]] = {}


def set_view(kind: str, factory: Callable[[Any], Any]) -> None:
    """Build the interactive view of objects of ``kind`` with ``factory(obj)`` (a widget)."""
    _views[kind] = factory


def view(kind: str, obj: Any) -> Callable[[], Any] | None:
    """A callable that builds the view of ``obj``, or None when no view is registered."""
    factory = _views.get(kind)
    return None if factory is None else (lambda: factory(obj))


def in_kernel() -> bool:
    """True inside a Jupyter kernel (a frontend that can show widgets may be attached)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def mimebundle(
    text: str,
    html: Callable[[], str],
    widget: Callable[[], Any] | None = None,
    include=None,
    exclude=None,
) -> dict[str, Any]:
    """``{text/plain, text/html}`` plus the widget view when running in a kernel."""
    bundle: dict[str, Any] = {"text/plain": text, "text/html": html()}
    if widget is not None and in_kernel():
        shown = widget()
        widget_bundle = shown._repr_mimebundle_() or {}
        if WIDGET_MIME in widget_bundle:
            bundle[WIDGET_MIME] = widget_bundle[WIDGET_MIME]
    if include:
        bundle = {k: v for k, v in bundle.items() if k in include}
    if exclude:
        bundle = {k: v for k, v in bundle.items() if k not in exclude}
    return bundle
