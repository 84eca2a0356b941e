"""The static HTML of a feature view: entities, keys, ttl and the typed fields."""

from __future__ import annotations

from ..display.html import badge, box, esc, fmt, key_values, section, table


def feature_view_html(view) -> str:
    version = f" v{view.version}" if getattr(view, "version", None) is not None else ""
    ttl = "none" if view.ttl is None else f"{view.ttl:g} s"
    pairs = [
        ("entities", esc(", ".join(e.name for e in view.entities))),
        ("join keys", esc(", ".join(view.join_keys))),
        ("timestamp", f"<code>{esc(view.timestamp)}</code>"),
        ("ttl", esc(ttl)),
    ]
    if view.description:
        pairs.append(("description", esc(view.description)))
    if view.owner:
        pairs.append(("owner", esc(view.owner)))
    if view.tags:
        pairs.append(("tags", " ".join(badge(f"{k}={v}") for k, v in view.tags.items())))
    if view.source:
        pairs.append(("source", esc(view.source)))
    rows = [
        (
            f.name,
            f.dtype,
            "yes" if f.nullable else "no",
            fmt(f.min),
            fmt(f.max),
            f.description or "",
        )
        for f in view.fields
    ]
    return box(
        f'<h3 style="margin:4px 0">Feature view {esc(view.name)}{esc(version)}</h3>'
        + key_values(pairs)
        + section(
            "Fields", table(["field", "dtype", "nullable", "min", "max", "description"], rows)
        ),
        "nbmlops-feature-view",
    )
