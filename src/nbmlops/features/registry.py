"""The feature registry: apply views, read them back by name and version, search the catalog.

``apply`` writes every view in one transaction of the metadata store (``BEGIN IMMEDIATE`` on
SQLite, an advisory lock on PostgreSQL), so two kernels applying at once get one version per
distinct definition, never two. Views applied in this process keep their transformation
function; views read from another process know it by source only (nbmlops never executes code
read from the store).
"""

from __future__ import annotations

import getpass
import json
import re
import threading
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, NamedTuple

import pandas as pd

from .. import _args
from ..errors import FeatureError, FeatureNameCollision, FeatureViewNotFound
from .definition import FeatureView

if TYPE_CHECKING:
    from .workspace import FeatureWorkspace

# (name, digest) -> the FeatureView object applied in this process (with its function)
_live: dict[tuple[str, str], FeatureView] = {}
_live_lock = threading.Lock()

# fullmatch, so a trailing newline is no part of a name; versions are at most 9 ASCII digits
# (they are 32-bit integers in the store).
_REF_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:@([0-9]{1,9}))?:([A-Za-z_][A-Za-z0-9_]*|\*)")


def _user() -> str | None:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in some containers
        return None


def apply(fs: FeatureWorkspace, views: Iterable[FeatureView]) -> list[FeatureView]:
    """Register ``views``; each gets its ``version`` (new digest = next version)."""
    views = list(views)
    for view in views:
        if not isinstance(view, FeatureView):
            raise FeatureError(f"apply takes FeatureView objects, not {type(view).__name__}")
    names = [v.name for v in views]
    if len(set(names)) != len(names):
        raise FeatureError(f"apply got two definitions of the same view: {sorted(names)}")
    rows = [
        {
            "name": v.name,
            "digest": v.digest,
            "definition": json.dumps(v.to_dict(), default=str),
            "transformation": v.transformation_source,
            "description": v.description or None,
            "owner": v.owner,
            "tags": json.dumps(v.tags) if v.tags else None,
            "user_name": _user(),
        }
        for v in views
    ]
    results = fs.records.apply(rows)
    with _live_lock:
        for view, (version, _created) in zip(views, results, strict=True):
            view.version = version
            _live[(view.name, view.digest)] = view
    return views


def get_view(
    fs: FeatureWorkspace, name: str | FeatureView, version: int | None = None
) -> FeatureView:
    """The registered view ``name`` (latest version unless ``version`` is given)."""
    if isinstance(name, FeatureView):
        if name.version is None:
            raise FeatureError(
                f"feature view {name.name!r} is not registered; run nbmlops.features.apply(view)"
            )
        return name
    if not isinstance(name, str):
        raise FeatureError(f"a feature view is named by a string, not {type(name).__name__}")
    version = _args.integer(version, "feature view version", optional=True)
    if version is not None and not 1 <= version < 2**31:  # 32-bit in the store
        raise FeatureViewNotFound(name, f"feature view {name!r} has no version {version}")
    row = fs.records.view(name, version)
    live = _live.get((name, row["digest"]))
    if live is not None:
        live.version = int(row["version"])
        return live
    return FeatureView.from_record(row)


def versions(fs: FeatureWorkspace, name: str) -> pd.DataFrame:
    """Every version of view ``name``: version, digest, created_at, user, fields."""
    rows = fs.records.views(name, all_versions=True)
    if not rows:
        raise FeatureViewNotFound(name)
    return pd.DataFrame(
        [
            {
                "version": r["version"],
                "digest": r["digest"][:12],
                "created_at": pd.Timestamp(r["created_at"], unit="s", tz="UTC"),
                "user": r["user_name"],
                "fields": ", ".join(f["name"] for f in json.loads(r["definition"])["fields"]),
            }
            for r in rows
        ]
    )


def catalog(fs: FeatureWorkspace, search: str | None = None, fields: bool = False) -> pd.DataFrame:
    """The latest version of every view (or, with ``fields=True``, one row per field).

    ``search`` keeps rows whose name, description, tags, owner or entity contain the text
    (case-insensitive); a field matches by its own name/description or its view's.
    """
    needle = (search or "").lower()
    out = []
    for row in fs.records.views():
        doc = json.loads(row["definition"])
        entities = ", ".join(e["name"] for e in doc["entities"])
        view_text = " ".join(
            [
                doc["name"],
                doc.get("description") or "",
                json.dumps(doc.get("tags") or {}),
                doc.get("owner") or "",
                entities,
            ]
        ).lower()
        base = {
            "view": doc["name"],
            "version": row["version"],
            "entities": entities,
        }
        if not fields:
            if (
                needle
                and needle not in view_text
                and not any(
                    needle in (f["name"] + " " + f.get("description", "")).lower()
                    for f in doc["fields"]
                )
            ):
                continue
            out.append(
                {
                    **base,
                    "join_keys": ", ".join(k for e in doc["entities"] for k in e["join_keys"]),
                    "fields": ", ".join(f["name"] for f in doc["fields"]),
                    "ttl": None if doc.get("ttl") is None else pd.Timedelta(seconds=doc["ttl"]),
                    "description": doc.get("description") or "",
                    "owner": doc.get("owner"),
                    "tags": doc.get("tags") or {},
                    "updated_at": pd.Timestamp(row["updated_at"], unit="s", tz="UTC"),
                }
            )
            continue
        for f in doc["fields"]:
            text = " ".join([f["name"], f.get("description", ""), json.dumps(f.get("tags") or {})])
            if needle and needle not in view_text and needle not in text.lower():
                continue
            out.append(
                {
                    **base,
                    "field": f["name"],
                    "ref": f"{doc['name']}:{f['name']}",
                    "dtype": f["dtype"],
                    "nullable": f["nullable"],
                    "min": f.get("min"),
                    "max": f.get("max"),
                    "description": f.get("description", ""),
                }
            )
    columns = (
        ["view", "version", "entities", "field", "ref", "dtype", "nullable", "min", "max"]
        + ["description"]
        if fields
        else ["view", "version", "entities", "join_keys", "fields", "ttl", "description"]
        + ["owner", "tags", "updated_at"]
    )
    return pd.DataFrame(out, columns=columns)


class Request(NamedTuple):
    """The fields asked of one view version and the column each becomes."""

    view: FeatureView
    fields: list[str]
    columns: list[str]


def resolve(
    fs: FeatureWorkspace,
    refs: Sequence[str] | str,
    full_feature_names: bool = False,
    taken: Iterable[str] = (),
) -> list[Request]:
    """Parse ``"view:field"``, ``"view@2:field"`` and ``"view:*"`` references per view.

    Column names must be unique and must not clash with ``taken`` (the entity columns).
    """
    refs = _args.strings(refs, "features")
    if not refs:
        raise FeatureError("no features requested; pass references like ['view:field', …]")
    by_view: dict[tuple[str, int | None], list[str]] = {}
    for ref in refs:
        match = _REF_RE.fullmatch(ref) if isinstance(ref, str) else None
        if match is None:
            raise FeatureError(
                f"feature reference {ref!r} is not of the form 'view:field' (or 'view@2:field', "
                "'view:*'); list them with nbmlops.features.catalog(fields=True)"
            )
        name, version, field = match.groups()
        by_view.setdefault((name, None if version is None else int(version)), []).append(field)
    requests = []
    seen_views: dict[str, int] = {}
    for (name, version), wanted in by_view.items():
        view = get_view(fs, name, version)
        if seen_views.setdefault(view.name, view.version) != view.version:  # type: ignore[arg-type]
            raise FeatureError(
                f"features of two versions of view {view.name!r} were requested; ask for one"
            )
        names: list[str] = []
        for field in wanted:
            for f in view.feature_names if field == "*" else [view.field(field).name]:
                if f not in names:
                    names.append(f)
        cols = [f"{view.name}__{f}" if full_feature_names else f for f in names]
        requests.append(Request(view, names, cols))
    owners: dict[str, list[str]] = {}
    for req in requests:
        for field, col in zip(req.fields, req.columns, strict=True):
            owners.setdefault(col, []).append(f"{req.view.name}:{field}")
    for col in taken:
        if col in owners:
            owners[col].append("the entity rows")
    clashes = {col: refs for col, refs in owners.items() if len(refs) > 1}
    if clashes:
        raise FeatureNameCollision(clashes)
    return requests
