"""``lineage("models:/churn@production")``: where a model version came from and where it went.

data and feature views → training run (code at a git commit, environment) → model version
(evaluated on, reference data) → promotion requests and their approvers → stages, aliases and
rollouts. Built from the records the store already keeps (the run's inputs, the version's
row, its history and the audit log); returned as nodes and edges (DataFrames), JSON, and an
interactive plotly figure.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..display import html as h
from ..errors import RunNotFound
from .versions import ModelVersion, resolve

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Lineage", "lineage"]

# Left to right in the figure.
_LAYER = {
    "data": 0,
    "feature_view": 0,
    "code": 0,
    "environment": 0,
    "run": 1,
    "model_version": 2,
    "request": 3,
    "stage": 4,
    "alias": 4,
    "rollout": 4,
}
_COLOURS = {
    "data": "#0969da",
    "feature_view": "#8250df",
    "code": "#57606a",
    "environment": "#57606a",
    "run": "#9a6700",
    "model_version": "#1a7f37",
    "request": "#bc4c00",
    "stage": "#cf222e",
    "alias": "#cf222e",
    "rollout": "#cf222e",
}


@dataclass
class Lineage:
    """The lineage graph of one model version: ``nodes`` (id, kind, label, details) and
    ``edges`` (source, target, relation), as DataFrames, JSON or a plotly figure."""

    uri: str
    _nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    _edges: list[dict[str, str]] = field(default_factory=list)

    def _node(self, node_id: str, kind: str, label: str, **details: Any) -> str:
        if node_id not in self._nodes:
            self._nodes[node_id] = {"id": node_id, "kind": kind, "label": label, "details": {}}
        self._nodes[node_id]["details"].update({k: v for k, v in details.items() if v is not None})
        return node_id

    def _edge(self, source: str, target: str, relation: str) -> None:
        edge = {"source": source, "target": target, "relation": relation}
        if edge not in self._edges:
            self._edges.append(edge)

    @property
    def nodes(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(list(self._nodes.values()), columns=["id", "kind", "label", "details"])

    @property
    def edges(self) -> pd.DataFrame:
        """One row per edge: ``source, source_kind, relation, target, target_kind``."""
        import pandas as pd

        rows = [
            {
                "source": e["source"],
                "source_kind": self._nodes[e["source"]]["kind"],
                "relation": e["relation"],
                "target": e["target"],
                "target_kind": self._nodes[e["target"]]["kind"],
            }
            for e in self._edges
        ]
        return pd.DataFrame(
            rows, columns=["source", "source_kind", "relation", "target", "target_kind"]
        )

    def to_dict(self) -> dict[str, Any]:
        return {"uri": self.uri, "nodes": list(self._nodes.values()), "edges": list(self._edges)}

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, default=str)

    def figure(self):
        """An interactive plotly figure: sources on the left, deployments on the right; hover
        a node for its details."""
        import plotly.graph_objects as go

        columns: dict[int, list[str]] = {}
        for node_id, node in self._nodes.items():
            columns.setdefault(_LAYER.get(node["kind"], 2), []).append(node_id)
        pos = {}
        for x, ids in columns.items():
            for i, node_id in enumerate(ids):
                pos[node_id] = (x, (len(ids) - 1) / 2 - i)
        fig = go.Figure()
        for e in self._edges:
            (x0, y0), (x1, y1) = pos[e["source"]], pos[e["target"]]
            fig.add_annotation(
                x=x1, y=y1, ax=x0, ay=y0, xref="x", yref="y", axref="x", ayref="y",
                showarrow=True, arrowhead=2, arrowsize=1, arrowwidth=1, arrowcolor="#8c959f",
                standoff=12, startstandoff=12, text="",
            )  # fmt: skip
        for kind in dict.fromkeys(n["kind"] for n in self._nodes.values()):
            ids = [i for i, n in self._nodes.items() if n["kind"] == kind]
            fig.add_trace(
                go.Scatter(
                    x=[pos[i][0] for i in ids],
                    y=[pos[i][1] for i in ids],
                    mode="markers+text",
                    name=kind.replace("_", " "),
                    text=[self._nodes[i]["label"] for i in ids],
                    textposition="bottom center",
                    marker={"size": 16, "color": _COLOURS.get(kind, "#57606a")},
                    hovertext=[_hover(self._nodes[i]) for i in ids],
                    hoverinfo="text",
                )
            )
        fig.update_layout(
            title=f"lineage of {self.uri}",
            xaxis={"visible": False, "range": [-0.6, max(columns, default=0) + 0.6]},
            yaxis={"visible": False},
            plot_bgcolor="white",
            height=max(320, 90 * max((len(v) for v in columns.values()), default=1)),
            legend={"orientation": "h"},
        )
        return fig

    def __repr__(self) -> str:
        return f"<Lineage of {self.uri}: {len(self._nodes)} nodes, {len(self._edges)} edges>"

    def _repr_html_(self) -> str:
        rows = [
            [h.esc(self._nodes[e["source"]]["label"]), h.esc(e["relation"]),
             h.esc(self._nodes[e["target"]]["label"])]
            for e in self._edges
        ]  # fmt: skip
        return h.section(
            f"lineage of {self.uri}", h.table(["from", "relation", "to"], rows, raw=True)
        )

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, Any]:
        bundle = {"text/plain": repr(self), "text/html": self._repr_html_()}
        # The figure as plotly's own MIME type: JupyterLab renders it interactive, viewers
        # without plotly show the HTML table.
        bundle["application/vnd.plotly.v1+json"] = json.loads(self.figure().to_json())
        return bundle


def _hover(node: dict) -> str:
    lines = [f"<b>{h.esc(node['label'])}</b> ({node['kind']})"]
    for key, value in node["details"].items():
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        lines.append(f"{h.esc(key)}: {h.esc(text[:120])}")
    return "<br>".join(lines)


def _short(digest: str | None) -> str:
    return (digest or "")[:12]


def lineage(model: str | ModelVersion, version: int | None = None) -> Lineage:
    """The lineage of a model version: its data and feature views, training run, code and
    environment, evaluation and reference data, promotion requests and approvers, stages,
    aliases and rollouts.

    >>> import nbmlops
    >>> g = nbmlops.lineage("models:/churn@production")  # doctest: +SKIP
    >>> g.edges, g.to_json(), g.figure()  # doctest: +SKIP
    """
    mv = model if isinstance(model, ModelVersion) else resolve(model, version)
    store = mv._store
    graph = Lineage(mv.uri)
    row = mv.info
    target = graph._node(
        mv.uri,
        "model_version",
        f"{mv.name} v{mv.version}",
        model_class=row["model_class"],
        flavor=row["flavor"],
        digest=row["digest"],
        stage=row["stage"],
        registered_by=row["user_name"],
    )
    _training(graph, mv, target)
    _evaluation(graph, store, mv, target)
    _governance(graph, store, mv, target)
    return graph


def _training(graph: Lineage, mv: ModelVersion, target: str) -> None:
    run = mv.run
    if run is None:
        return
    try:
        details = run._store.meta.run_details(run.run_id)
        run_row = run._store.meta.get_run(run.run_id)
    except RunNotFound:
        return
    run_node = graph._node(
        f"run:{run.run_id}",
        "run",
        f"run {run_row.get('name') or run.run_id[:8]}",
        run_id=run.run_id,
        status=run_row.get("status"),
        user=run_row.get("user_name"),
    )
    graph._edge(run_node, target, "trained")
    if run_row.get("git_commit"):
        code = graph._node(
            f"git:{run_row['git_commit']}",
            "code",
            f"git {run_row['git_commit'][:8]}" + (" (dirty)" if run_row.get("git_dirty") else ""),
            commit=run_row["git_commit"],
            branch=run_row.get("git_branch"),
            dirty=run_row.get("git_dirty"),
        )
        graph._edge(code, run_node, "code")
    if run_row.get("env_id"):
        env = run._store.meta.get_environment(run_row["env_id"]) or {}
        node = graph._node(
            f"env:{run_row['env_id']}",
            "environment",
            f"python {env.get('python', '?')}",
            env_id=run_row["env_id"],
            platform=env.get("platform"),
            packages=env.get("n_packages"),
        )
        graph._edge(node, run_node, "environment")
    for item in details["data"]:
        if item["direction"] != "input":
            continue
        info = json.loads(item["info"] or "{}")
        if item["kind"] == "nbmlops.FeatureView":
            view = item["name"].split(":", 1)[-1]
            node = graph._node(
                f"feature_view:{view}@{info.get('version')}",
                "feature_view",
                f"{view} v{info.get('version')}",
                digest=item["digest"],
                fields=info.get("fields"),
                training_set=info.get("training_set"),
            )
            graph._edge(node, run_node, "features")
        elif item["kind"] == "estimator":
            continue  # an estimator the run read is not data
        else:
            node = graph._node(
                f"data:{item['digest']}",
                "data",
                f"{item['name']} {_short(item['digest'])}",
                name=item["name"],
                data_kind=item["kind"],
                digest=item["digest"],
                shape=json.loads(item["shape"]) if item["shape"] else None,
            )
            graph._edge(node, run_node, "fit on" if info.get("used_in_fit") else "input")
    if run_row.get("parent_run_id"):
        parent = graph._node(
            f"run:{run_row['parent_run_id']}",
            "run",
            f"pipeline run {run_row['parent_run_id'][:8]}",
            run_id=run_row["parent_run_id"],
        )
        graph._edge(parent, run_node, "parent")


def _evaluation(graph: Lineage, store, mv: ModelVersion, target: str) -> None:
    reference = store.predictions.reference(mv.name, mv.version)
    if reference is not None:
        node = graph._node(
            f"data:{reference['digest']}",
            "data",
            f"reference {_short(reference['digest'])}",
            digest=reference["digest"],
            rows=reference["rows"],
        )
        graph._edge(node, target, "reference")
    digests = {r["dataset_digest"] for r in store.models.version_metrics(mv.name, mv.version)}
    for digest in sorted(d for d in digests if d):
        node = graph._node(f"data:{digest}", "data", f"data {_short(digest)}", digest=digest)
        graph._edge(node, target, "evaluated on")


def _governance(graph: Lineage, store, mv: ModelVersion, target: str) -> None:
    for request in reversed(store.governance.requests(mv.name, status=None)):
        if int(request["version"]) != mv.version:
            continue
        approvers = [d["user_name"] for d in request["decisions"] if d["decision"] == "approve"]
        node = graph._node(
            f"request:{request['id']}",
            "request",
            f"request {request['id']} {request['status']}",
            to_stage=request["to_stage"],
            requested_by=request["requested_by"],
            approved_by=approvers or None,
            rejected_by=[d["user_name"] for d in request["decisions"] if d["decision"] == "reject"]
            or None,
            outcome=request["outcome"],
        )
        graph._edge(target, node, "requested")
    for change in store.models.history(mv.name):
        if change["version"] != mv.version or change["action"] not in ("promote", "rollback"):
            continue
        stage = change["to_stage"]
        if stage not in ("staging", "production"):
            continue
        node = graph._node(f"stage:{mv.name}@{stage}", "stage", f"{mv.name}@{stage}")
        graph._edge(target, node, change["action"])
    for alias in mv.aliases:
        node = graph._node(f"alias:{mv.name}@{alias}", "alias", f"{mv.name}@{alias}")
        graph._edge(target, node, "alias")
    for event in store.audit.events(kind="rollout.", subject=mv.uri):
        if event["subject"] != mv.uri:  # models:/churn/1 is a prefix of models:/churn/10
            continue
        payload = json.loads(event["payload"])
        node = graph._node(
            f"rollout:{event['seq']}",
            "rollout",
            f"{event['kind'].split('.', 1)[-1]} {payload.get('name', '')}".strip(),
            **{k: v for k, v in payload.items() if isinstance(v, (str, int, float))},
        )
        graph._edge(target, node, event["kind"])
