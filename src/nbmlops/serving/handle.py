"""``nbmlops.serve(...)``: a model server in the background of a notebook (or a script), and
the handle that shows its URL and what it serves and stops it."""

from __future__ import annotations

import html
import os
import socket
import threading
import time
from typing import Any

from .._args import flag, integer, number, strings, text
from ..errors import ServingError
from .state import ServeOptions, ServingState

TOKEN_ENV = "NBMLOPS_SERVE_TOKEN"


class Server:
    """A running model server: ``url``, ``status()``, ``stop()``; displays what it serves."""

    def __init__(
        self, state: ServingState, uvicorn_server: Any, thread: threading.Thread, url: str
    ):
        self.state = state
        self._server = uvicorn_server
        self._thread = thread
        self.url = url

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def status(self) -> dict:
        """What each served name answers with now (version, rollout arm and share)."""
        return self.state.status()

    def wait_ready(self, timeout: float = 60.0) -> Server:
        """Return once every model is loaded, or raise :class:`ServingError` naming why not."""
        deadline = time.monotonic() + timeout
        while not self.state.ready:
            if not self.running:
                raise ServingError(f"the server at {self.url} stopped before it was ready")
            if time.monotonic() > deadline:
                problems = "; ".join(f"{k}: {v}" for k, v in self.state.problems.items())
                raise ServingError(
                    f"the models at {self.url} were not loaded within {timeout:g} s"
                    + (f" ({problems})" if problems else "")
                )
            time.sleep(0.05)
        return self

    def stop(self, timeout: float = 60.0) -> None:
        """Finish the requests in flight, write every logged prediction, and stop."""
        self._server.should_exit = True
        self._thread.join(timeout)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<nbmlops Server {self.url} {'running' if self.running else 'stopped'}>"

    def _lines(self) -> list[str]:
        out = []
        for name, entry in self.status().items():
            text = f"{name}: v{entry['version']}" if entry["version"] else f"{name}: loading"
            rollout = entry.get("rollout")
            if rollout:
                text += f" · {rollout['mode']} v{rollout['candidate']} at {rollout['share']:g}%"
            if entry.get("problem"):
                text += f" ({entry['problem']})"
            out.append(text)
        return out

    def _repr_pretty_(self, p, cycle) -> None:
        p.text("\n".join([repr(self), *("  " + line for line in self._lines())]))

    def _repr_html_(self) -> str:
        items = "".join(f"<li>{html.escape(line)}</li>" for line in self._lines())
        state = "running" if self.running else "stopped"
        return (
            f'<div class="nbmlops-server"><b>nbmlops server</b> <code>{html.escape(self.url)}'
            f"</code> ({state})<ul>{items}</ul>"
            f"<small>POST {html.escape(self.url)}/invocations · /v2/models/NAME/infer · "
            "/metrics</small></div>"
        )


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ServingError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


def serve(
    models: str | list[str],
    host: str = "127.0.0.1",
    port: int = 0,
    token: str | None = None,
    poll: float = 1.0,
    max_body_bytes: int = 10 * 1024 * 1024,
    log_predictions: bool = True,
    evaluate_every: float = 10.0,
    trusted: bool | list[str] = False,
    id_columns: list[str] | None = None,
    wait: bool = True,
) -> Server:
    """Serve registered models over HTTP in the background; return the :class:`Server`.

    ``models`` are registry references: ``"churn"`` (its production version),
    ``"churn@staging"``, ``"models:/churn/3"``. The server follows the registry: when a stage,
    alias or rollout moves, it loads and warms the new version and switches within ``poll``
    seconds. ``port=0`` picks a free port (see ``Server.url``). Binding anything but loopback
    needs a ``token`` (or ``NBMLOPS_SERVE_TOKEN``) that clients send as a bearer token. Served
    predictions go to the prediction log unless ``log_predictions=False``; ``id_columns``
    are accepted (and logged) beside the signature's columns, as is the ``key`` of any
    rollout of a served name. ``evaluate_every`` is how often running rollouts' guards are
    evaluated.

    >>> import nbmlops
    >>> server = nbmlops.serve("churn")  # doctest: +SKIP
    >>> server.url  # doctest: +SKIP
    'http://127.0.0.1:53817'
    """
    import uvicorn

    from .app import build_app

    refs = [models] if isinstance(models, str) else strings(models, "serve(models=...)")
    if not refs:
        raise ServingError("serve() needs at least one model: a name, name@alias or models:/ URI")
    host = text(host, "serve(host=...)")
    port = integer(port, "serve(port=...)", low=0, high=65535)
    token = text(token, "serve(token=...)", optional=True)
    poll = number(poll, "serve(poll=...)", positive=True)
    max_body_bytes = integer(max_body_bytes, "serve(max_body_bytes=...)", low=1, high=2**40)
    log_predictions = flag(log_predictions, "serve(log_predictions=...)")
    evaluate_every = number(evaluate_every, "serve(evaluate_every=...)", positive=True)
    if not isinstance(trusted, bool):
        trusted = strings(trusted, "serve(trusted=...)")
    id_columns = strings(id_columns, "serve(id_columns=...)", optional=True)
    wait = flag(wait, "serve(wait=...)")
    options = ServeOptions(
        models=refs,
        host=host,
        port=port,
        token=token or os.environ.get(TOKEN_ENV) or None,
        poll=poll,
        max_body_bytes=max_body_bytes,
        log_predictions=log_predictions,
        evaluate_every=evaluate_every,
        trusted=trusted,
        id_columns=list(id_columns or []),
    )
    state = ServingState(options)
    sock = _bind(host, port)
    bound = sock.getsockname()[1]
    # loop="asyncio": older uvicorn installs uvloop's policy process-wide, which would change
    # the event loop of the kernel this server runs inside.
    config = uvicorn.Config(
        build_app(state),
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=30,
        loop="asyncio",
    )
    server = uvicorn.Server(config)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{bound}"
    state.presence.url = url
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="nbmlops-serve", daemon=True
    )
    thread.start()
    handle = Server(state, server, thread, url)
    if wait:
        handle.wait_ready()
    return handle
