"""The ASGI app of a model server (Starlette): MLflow's scoring protocol, the Open Inference
Protocol, health, version and Prometheus metrics.

Every error a client can cause is a JSON body ``{"error_code", "message", "column"}`` with a
4xx status (400 unreadable or mismatched input, 401 missing token, 404 unknown model, 413 body
over the limit, 415 content type); a 500 means the model itself failed on valid input.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import uuid
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from .._version import __version__
from ..errors import InvalidRequest
from .payloads import jsonable, oip_output, parse_invocations, parse_oip
from .state import ServeOptions, ServingState

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request

log = logging.getLogger("nbmlops.serving")

OPTIONS_ENV = "NBMLOPS_SERVE_OPTIONS"
# Liveness needs no token (orchestrators probe it); everything else does when one is set.
_OPEN_PATHS = ("/ping", "/v2/health/live")
_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    404: "RESOURCE_DOES_NOT_EXIST",
    413: "REQUEST_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    503: "NOT_READY",
}


def _json_response(body: Any, status: int = 200, headers: dict | None = None):
    from starlette.responses import Response

    return Response(
        json.dumps(body, allow_nan=False, default=str),
        status,
        headers,
        media_type="application/json",
    )


def _error(exc: InvalidRequest):
    body = {"error_code": _CODES.get(exc.status, "BAD_REQUEST"), "message": str(exc)}
    if exc.column is not None:
        body["column"] = exc.column
    return _json_response(body, exc.status)


class _TokenGuard:
    """ASGI middleware: a bearer token on every path but liveness, compared in constant time."""

    def __init__(self, app, token: str):
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"] not in _OPEN_PATHS:
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                response = _error(
                    InvalidRequest(
                        "this server needs 'Authorization: Bearer TOKEN' (the token it was "
                        "started with)",
                        status=401,
                    )
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise InvalidRequest(
            f"the body is {int(declared)} bytes, over this server's limit of {limit} "
            "(max_body_bytes): send fewer rows per request",
            status=413,
        )
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise InvalidRequest(
                f"the body is over this server's limit of {limit} bytes (max_body_bytes): "
                "send fewer rows per request",
                status=413,
            )
        chunks.append(chunk)
    return b"".join(chunks)


def build_app(state: ServingState) -> Starlette:
    """The Starlette app serving ``state``'s models (started and stopped with the app)."""
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route

    limit = state.options.max_body_bytes

    async def scored(request: Request, name: str | None, oip: bool):
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        model_name = name or state.default
        try:
            served = state.model(name)
            body = await _body(request, limit)
            columns = served.snapshot.champion.columns
            if oip:
                frame, given = parse_oip(body, columns)
                request_id = given or request_id
            else:
                frame = parse_invocations(body, request.headers.get("content-type", ""), columns)
            if not len(frame):
                raise InvalidRequest("the request holds no rows")
            predictions, version = state.score(served, frame, request_id)
        except InvalidRequest as exc:
            state.record_error(model_name, exc.status)
            return _error(exc)
        except Exception as exc:  # noqa: BLE001 - the model failed on valid input
            log.exception("request %s to %s failed", request_id, model_name)
            state.record_error(model_name, 500)
            return _json_response(
                {
                    "error_code": "INTERNAL_ERROR",
                    "message": f"{model_name} failed: {type(exc).__name__}: {str(exc)[:300]}",
                },
                500,
                {"x-request-id": request_id},
            )
        headers = {"x-request-id": request_id, "x-model-version": str(version)}
        if oip:
            return _json_response(
                {
                    "model_name": served.name,
                    "model_version": str(version),
                    "id": request_id,
                    "outputs": [oip_output(predictions)],
                },
                headers=headers,
            )
        return _json_response({"predictions": jsonable(predictions)}, headers=headers)

    async def invocations(request: Request):
        return await scored(request, request.path_params.get("name"), oip=False)

    async def infer(request: Request):
        return await scored(request, request.path_params["name"], oip=True)

    async def ping(request: Request):
        return PlainTextResponse("\n", 200 if state.ready else 503)

    async def health(request: Request):
        return _json_response(
            {
                "status": "ready" if state.ready else "loading",
                "models": state.status(),
                "server_id": state.options.server_id,
            },
            200 if state.ready else 503,
        )

    async def version(request: Request):
        return _json_response(
            {"nbmlops": __version__, "models": {n: s["version"] for n, s in state.status().items()}}
        )

    async def metrics(request: Request):
        body, content_type = state.metrics.render()
        return Response(body, media_type=content_type)

    async def v2_server(request: Request):
        return _json_response({"name": "nbmlops", "version": __version__, "extensions": []})

    async def v2_live(request: Request):
        return _json_response({"live": True})

    async def v2_ready(request: Request):
        return _json_response({"ready": state.ready}, 200 if state.ready else 503)

    async def v2_model(request: Request):
        try:
            served = state.model(request.path_params["name"])
        except InvalidRequest as exc:
            return _error(exc)
        loaded = served.snapshot.champion
        inputs = [
            {"name": c.name, "datatype": _oip_type(c.family), "shape": [-1]}
            for c in loaded.signature.columns
        ]
        return _json_response(
            {
                "name": served.name,
                "versions": [str(loaded.version)],
                "platform": "nbmlops",
                "inputs": inputs,
                "outputs": [{"name": "predict", "datatype": "BYTES", "shape": [-1]}],
            }
        )

    async def v2_model_ready(request: Request):
        try:
            served = state.model(request.path_params["name"])
        except InvalidRequest as exc:
            return _error(exc)
        return _json_response({"name": served.name, "ready": True})

    @asynccontextmanager
    async def lifespan(app):
        state.start()
        try:
            yield
        finally:
            # After uvicorn drained the in-flight requests: write every queued prediction.
            state.close()

    app = Starlette(
        routes=[
            Route("/invocations", invocations, methods=["POST"]),
            Route("/models/{name}/invocations", invocations, methods=["POST"]),
            Route("/ping", ping, methods=["GET"]),
            Route("/health", health, methods=["GET"]),
            Route("/version", version, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            Route("/v2", v2_server, methods=["GET"]),
            Route("/v2/health/live", v2_live, methods=["GET"]),
            Route("/v2/health/ready", v2_ready, methods=["GET"]),
            Route("/v2/models/{name}", v2_model, methods=["GET"]),
            Route("/v2/models/{name}/ready", v2_model_ready, methods=["GET"]),
            Route("/v2/models/{name}/infer", infer, methods=["POST"]),
        ],
        lifespan=lifespan,
    )
    app.state.serving = state
    if state.options.token:
        return _TokenGuard(app, state.options.token)  # type: ignore[return-value]
    return app


def _oip_type(family: str) -> str:
    return {"float": "FP64", "integer": "INT64", "bool": "BOOL"}.get(family, "BYTES")


def app_from_environment():
    """The app of ``nbmlops serve --workers N``: each worker process builds its own state from
    the options the command put in :data:`OPTIONS_ENV`."""
    options = ServeOptions(**json.loads(os.environ[OPTIONS_ENV]))
    state = ServingState(options)
    state.owns_process = True
    return build_app(state)
