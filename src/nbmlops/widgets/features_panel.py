"""``FeaturesPanel``: search the feature catalog and look at one view's fields and versions."""

from __future__ import annotations

import ipywidgets as w

from ..display import html as h
from ..display.cells import is_missing
from ..errors import NbmlopsError
from ..features._html import feature_view_html


def _text(value) -> str:
    """Free text of a catalog column; missing (None, or NaN on pandas 3) is empty."""
    return "" if is_missing(value) else str(value)


def catalog_html(frame) -> str:
    if frame.empty:
        return (
            "<p style='color:#57606a'>no feature views match (define them with "
            "<code>nbmlops.FeatureView</code> and <code>nbmlops.features.apply</code>)</p>"
        )
    rows = [
        [
            f"<b>{h.esc(r['view'])}</b>",
            f"v{h.esc(h.fmt(r['version']))}",
            h.esc(h.fmt(r["entities"])),
            h.esc(h.fmt(r["fields"])),
            h.esc(h.fmt(r["ttl"])),
            h.esc(_text(r["description"])),
            h.esc(_text(r["owner"])),
        ]
        for r in frame.to_dict("records")
    ]
    headers = ["view", "version", "entities", "fields", "ttl", "description", "owner"]
    return h.table(headers, rows, raw=True, cls="nbmlops-catalog")


class FeaturesPanel(w.VBox):
    """The Features tab: ``search`` filters the catalog; ``view`` shows one view."""

    def __init__(self):
        super().__init__()
        self.search = w.Text(
            description="search",
            placeholder="name, field, owner, tag… (Enter)",
            continuous_update=False,
            layout=w.Layout(width="420px"),
        )
        self.listing = w.HTML()
        self.view = w.Dropdown(description="view", layout=w.Layout(width="320px"))
        self.details = w.HTML()
        self.message = w.HTML()
        self.search.observe(lambda _: self._guarded(self.refresh), names="value")
        self.view.observe(lambda _: self._guarded(self._on_view), names="value")
        self.children = [self.search, self.message, self.listing, self.view, self.details]
        self._guarded(self.refresh)

    def _guarded(self, action) -> None:
        """Run ``action``; an error is shown in the tab, not raised into the notebook."""
        try:
            action()
        except Exception as exc:  # noqa: BLE001 - the tab stays usable
            self.message.value = h.error(exc)

    def refresh(self) -> None:
        from .. import features

        frame = features.catalog(self.search.value.strip() or None)
        self.message.value = ""
        self.listing.value = catalog_html(frame)
        keep = self.view.value
        names = [str(n) for n in frame["view"]]
        self.view.options = names
        self.view.value = keep if keep in names else (names[0] if names else None)
        self._on_view()

    def _on_view(self) -> None:
        from .. import features

        if self.view.value is None:
            self.details.value = ""
            return
        try:
            view = features.get_view(self.view.value)
            versions = features.versions(self.view.value)
        except NbmlopsError as exc:
            self.details.value = h.error(exc)
            return
        self.details.value = feature_view_html(view) + h.section(
            "Versions",
            h.table(
                list(versions.columns),
                [[h.fmt(v) for v in row] for row in versions.itertuples(index=False)],
            ),
        )

    def to_html(self) -> str:
        from .. import features

        return catalog_html(features.catalog())
