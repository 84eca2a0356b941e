"""``ServingPanel``: the Serving tab of the panel. Rollouts of the workspace (versions, mode,
arms and traffic shares, status and why it ended), the guard values of the active one picked,
the buttons that advance or abort it (abort: every server back on the champion), and the model
servers seen (live or gone) with the version and rollout arm each serves now."""

from __future__ import annotations

import ipywidgets as w

from ..display import html as h

_STATUS = {
    "running": ("#0969da", "#ddf4ff"),
    "paused": ("#9a6700", "#fff8c5"),
    "completed": ("#1a7f37", "#dafbe1"),
    "aborted": ("#cf222e", "#ffebe9"),
}


def rollouts_html(frame) -> str:
    if frame.empty:
        return (
            "<p style='color:#57606a'>no rollouts yet: serve a model with "
            "<code>nbmlops.serve('name')</code>, then <code>nbmlops.rollout('name', "
            "candidate=2, mode='canary')</code></p>"
        )
    rows = []
    for r in frame.to_dict("records"):
        share = float(r["share"])
        arms = (
            "shadow copy"
            if r["mode"] == "shadow"
            else f"v{r['champion']} {100 - share:g}% · v{r['candidate']} {share:g}%"
        )
        rows.append(
            [
                h.esc(str(r["id"])),
                h.esc(r["name"]),
                h.esc(f"v{r['candidate']} vs v{r['champion']}"),
                h.esc(r["mode"]),
                h.esc(f"{int(r['step']) + 1}/{len(r['steps'])}"),
                h.esc(arms),
                h.badge(r["status"], _STATUS.get(r["status"], ("#57606a", "#eaeef2"))),
                h.esc("" if r["reason"] is None or r["reason"] != r["reason"] else r["reason"]),
            ]
        )
    headers = ["id", "model", "versions", "mode", "step", "traffic", "status", "reason"]
    return h.table(headers, rows, raw=True, cls="nbmlops-rollouts")


def servers_html(frame) -> str:
    """The servers seen (``nbmlops.servers()``): one row per server and model it serves."""
    if frame.empty:
        return (
            "<p style='color:#57606a'>no model server seen: start one with "
            "<code>nbmlops.serve('name')</code> or <code>nbmlops serve name</code></p>"
        )
    import pandas as pd

    rows = []
    for r in frame.to_dict("records"):
        version = r["version"]
        serves = "loading" if pd.isna(version) else f"v{int(version)}"
        if r["mode"] == "shadow":
            serves += f" + shadow v{int(r['candidate'])}"
        elif isinstance(r["mode"], str):
            serves += f" + v{int(r['candidate'])} at {float(r['share']):g}%"
        problem = r["problem"] if isinstance(r["problem"], str) else ""
        rows.append(
            [
                h.esc(r["url"] or r["server"]),
                h.badge(
                    r["status"],
                    _STATUS["completed"] if r["status"] == "live" else ("#57606a", "#eaeef2"),
                ),
                h.esc(f"{r['host']} pid {r['pid']}"),
                h.esc(r["name"]),
                h.esc(serves),
                h.esc(problem),
            ]
        )
    headers = ["server", "status", "where", "model", "serves", "problem"]
    return h.table(headers, rows, raw=True, cls="nbmlops-servers")


class ServingPanel(w.VBox):
    """The Serving tab: ``rollout`` picks an active rollout; ``abort``/``advance`` act on it."""

    def __init__(self) -> None:
        super().__init__()
        self.listing = w.HTML()
        self.servers = w.HTML()
        self.rollout = w.Dropdown(description="rollout", layout=w.Layout(width="420px"))
        self.advance_button = w.Button(description="Advance", icon="forward")
        self.abort_button = w.Button(description="Abort", icon="stop", button_style="danger")
        self.guards = w.HTML()
        self.message = w.HTML()
        self.advance_button.on_click(lambda _: self.act("advance"))
        self.abort_button.on_click(lambda _: self.act("abort"))
        self.rollout.observe(lambda _: self.show_guards(), names="value")
        self.children = [
            self.listing,
            w.HBox([self.rollout, self.advance_button, self.abort_button]),
            self.guards,
            self.message,
            w.HTML("<p style='margin:8px 0 2px'><b>servers seen</b></p>"),
            self.servers,
        ]
        try:
            self.refresh()
        except Exception as exc:  # noqa: BLE001 - the tab shows it and stays usable
            self.message.value = h.error(exc)

    def refresh(self) -> None:
        from ..serving.presence import servers
        from ..serving.rollouts import rollouts

        self.servers.value = servers_html(servers())
        frame = rollouts()
        self.frame = frame
        self.listing.value = rollouts_html(frame)
        active = frame.loc[frame["status"].isin(["running", "paused"])]
        keep = self.rollout.value
        self.rollout.options = [
            (f"{r['id']}: {r['name']} v{r['candidate']} ({r['mode']})", int(r["id"]))
            for r in active.to_dict("records")
        ]
        if keep in [v for _, v in self.rollout.options]:
            self.rollout.value = keep
        self.show_guards()

    def show_guards(self) -> None:
        """The guard table of the picked rollout over its current window."""
        if self.rollout.value is None:
            self.guards.value = ""
            return
        from ..serving.rollouts import get_rollout

        try:
            status = get_rollout(int(self.rollout.value)).status()
        except Exception as exc:  # noqa: BLE001
            self.guards.value = h.error(exc)
            return
        table = status.get("evaluation")
        if table is None or not len(table):
            self.guards.value = f"<p>{status.get('requests', 0)} candidate requests, no guards</p>"
            return
        rows = [
            [
                h.esc(r["gate"]),
                h.esc(h.fmt(r["value"])),
                h.esc(h.fmt(r["threshold"])),
                h.badge("holds", _STATUS["completed"])
                if r["passed"]
                else h.badge("fails", _STATUS["aborted"]),
                h.esc(r["detail"] or ""),
            ]
            for r in table.to_dict("records")
        ]
        self.guards.value = f"<p>{status['requests']} candidate requests in the window</p>" + (
            h.table(["guard", "value", "threshold", "", "detail"], rows, raw=True)
        )

    def act(self, action: str) -> None:
        """Advance or abort the picked rollout, then refresh."""
        from ..serving.rollouts import get_rollout

        if self.rollout.value is None:
            self.message.value = h.error(ValueError("pick an active rollout first"))
            return
        try:
            r = getattr(get_rollout(int(self.rollout.value)), action)()
        except Exception as exc:  # noqa: BLE001 - a face shows errors, it does not raise them
            self.message.value = h.error(exc)
            return
        self.message.value = f"<code>{h.esc(r.headline())}</code>"
        self.refresh()

    def to_html(self) -> str:
        return self.listing.value + self.servers.value
