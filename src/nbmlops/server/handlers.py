"""Tornado handlers of the REST API under ``/nbmlops/api/``.

Every handler is a jupyter_server ``APIHandler`` with ``@tornado.web.authenticated`` on each
method: requests need the server's token or login cookie, and POSTs authenticated by cookie
also need the XSRF token (``ServerConnection.makeRequest`` sends both). Store calls run on one
worker thread so a slow query never blocks the server's event loop. Errors are JSON:
``{"error": "RunNotFound", "message": "no run with id …"}`` with status 404 for a missing run,
model, version or report, 409 for a change the model's state refuses (a failing gate answers
its gate table as ``gates``; nothing is changed) and 400 for anything else the request got
wrong.
"""

from __future__ import annotations

import asyncio
import json
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import tornado.web
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from ..errors import NbmlopsError
from . import serving_views, views

API = "nbmlops/api"
# One thread: the store is used from a single thread, in the order requests arrive.
_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nbmlops-api")
# jupyter_server's IdentityProvider.generate_anonymous_user: uuid4().hex, "Anonymous <moon>".
_ANONYMOUS = re.compile(r"[0-9a-f]{32}")


class BadRequest(NbmlopsError, ValueError):
    """The request itself is malformed (a bad query argument or JSON body)."""


class _Handler(APIHandler):
    def _identity(self) -> str | None:
        """The authenticated Jupyter user's name: who registry changes are recorded as.

        None for the anonymous user jupyter_server makes up for a shared token (a random id
        per browser session, which names nobody): the change is then recorded as the server
        process's user (``NBMLOPS_USER`` or the OS user), so one token holder cannot approve
        their own request under four eyes by opening a second session.
        """
        user = self.current_user
        name = getattr(user, "username", None) or getattr(user, "name", None)
        if name is None and isinstance(user, str):
            name = user
        if (
            not name
            or _ANONYMOUS.fullmatch(str(name))
            and str(getattr(user, "name", "")).startswith("Anonymous ")
        ):
            return None
        return str(name)

    async def _call(self, fn, *args: Any, **kwargs: Any) -> Any:
        from ..registry._context import acting_as

        loop = asyncio.get_running_loop()
        identity = self._identity()

        def call():
            with acting_as(identity):
                return fn(*args, **kwargs)

        return await loop.run_in_executor(_executor, call)

    async def _answer(self, fn, *args: Any, **kwargs: Any) -> None:
        try:
            result = await self._call(fn, *args, **kwargs)
        except NbmlopsError as exc:
            self._error(views.status_of(exc), exc)
            return
        self.finish(json.dumps(result, allow_nan=False))

    def _error(self, status: int, exc: NbmlopsError) -> None:
        self.set_status(status)
        self.finish(json.dumps(views.error_body(exc), allow_nan=False))

    def _int_argument(self, name: str, default: int) -> int:
        text = self.get_query_argument(name, None)
        if text is None or text == "":
            return default
        try:
            return int(text)
        except ValueError:
            raise BadRequest(f"query argument {name!r} must be an integer, got {text!r}") from None

    def _body(self) -> dict[str, Any]:
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError as exc:
            raise BadRequest(f"the request body is not JSON: {exc}") from None
        if not isinstance(body, dict):
            raise BadRequest("the request body must be a JSON object")
        return body

    @staticmethod
    def _required_reason(body: dict[str, Any]) -> str:
        reason = body.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise BadRequest(
                'give a "reason" (a non-empty string): every change of a model is kept in its '
                "history with who made it and why"
            )
        return reason.strip()

    @staticmethod
    def _id_number(text: str, what: str) -> int:
        try:
            return int(text)
        except ValueError:
            raise BadRequest(f"{what} is a positive integer, got {text!r}") from None

    @staticmethod
    def _version_number(text: str) -> int:
        try:
            return int(text)
        except ValueError:
            raise BadRequest(f"a model version is a positive integer, got {text!r}") from None


class RunsHandler(_Handler):
    """``GET runs?filter=&order_by=&experiment=&offset=&limit=``: one page of runs."""

    @tornado.web.authenticated
    async def get(self) -> None:
        try:
            offset = self._int_argument("offset", 0)
            limit = self._int_argument("limit", 50)
        except BadRequest as exc:
            self._error(400, exc)
            return
        await self._answer(
            views.runs_page,
            experiment=self.get_query_argument("experiment", None) or None,
            filter=self.get_query_argument("filter", None),
            order_by=self.get_query_argument("order_by", None),
            offset=offset,
            limit=limit,
        )


class RunHandler(_Handler):
    """``GET runs/<id>``: one run with params, metrics, history, code and artifacts."""

    @tornado.web.authenticated
    async def get(self, run_id: str) -> None:
        await self._answer(views.run_detail, run_id)


class ExperimentsHandler(_Handler):
    @tornado.web.authenticated
    async def get(self) -> None:
        await self._answer(views.experiments)


class ModelsHandler(_Handler):
    """``GET models``: every registered model."""

    @tornado.web.authenticated
    async def get(self) -> None:
        await self._answer(views.models)


class ModelHandler(_Handler):
    """``GET models/<name>``: its versions with stage, aliases and metrics, and its history."""

    @tornado.web.authenticated
    async def get(self, name: str) -> None:
        await self._answer(views.model_detail, name)


class CardHandler(_Handler):
    """``GET models/<name>/versions/<version>/card``: the model card (Markdown and HTML)."""

    @tornado.web.authenticated
    async def get(self, name: str, version: str) -> None:
        try:
            number = self._version_number(version)
        except BadRequest as exc:
            self._error(400, exc)
            return
        await self._answer(views.model_card, name, number)


class PromoteHandler(_Handler):
    """``POST models/<name>/promote`` with ``{"version", "to", "reason", "gates"}``."""

    @tornado.web.authenticated
    async def post(self, name: str) -> None:
        try:
            body = self._body()
            reason = self._required_reason(body)
            version = body.get("version")
            if isinstance(version, str):
                version = self._version_number(version)
            gates = body.get("gates") or None
        except BadRequest as exc:
            self._error(400, exc)
            return
        await self._answer(
            views.promote, name, version, body.get("to", "production"), reason, gates
        )


class VersionHandler(_Handler):
    """``DELETE models/<name>/versions/<version>`` with ``{"reason"}``: delete the version.

    Refused (409, nothing changed) for a version that holds production or an alias.
    """

    @tornado.web.authenticated
    async def delete(self, name: str, version: str) -> None:
        try:
            number = self._version_number(version)
            reason = self._required_reason(self._body())
        except BadRequest as exc:
            self._error(400, exc)
            return
        await self._answer(views.delete_version, name, number, reason)


class RollbackHandler(_Handler):
    """``POST models/<name>/rollback`` with ``{"reason"}``."""

    @tornado.web.authenticated
    async def post(self, name: str) -> None:
        try:
            reason = self._required_reason(self._body())
        except BadRequest as exc:
            self._error(400, exc)
            return
        await self._answer(views.rollback, name, reason)


class RequestsHandler(_Handler):
    """``GET requests?model=&status=``: promotion requests (default: pending), newest first."""

    @tornado.web.authenticated
    async def get(self) -> None:
        status = self.get_query_argument("status", "pending")
        await self._answer(
            views.requests,
            self.get_query_argument("model", None) or None,
            None if status in ("", "all") else status,
        )


class DecisionHandler(_Handler):
    """``POST requests/<id>/approve`` or ``…/reject`` with ``{"reason"}``: decide as the
    authenticated Jupyter user. The approval that completes a request promotes (its gates
    re-checked; a failure answers 409 with the gate table); the requester cannot approve
    under a four-eyes policy (409)."""

    @tornado.web.authenticated
    async def post(self, request_id: str, decision: str) -> None:
        try:
            number = self._version_number(request_id)
            reason = self._body().get("reason")
            if reason is not None and not isinstance(reason, str):
                raise BadRequest('"reason" is a string')
        except BadRequest as exc:
            self._error(400, exc)
            return
        await self._answer(views.decide, number, decision, reason or None)


class PolicyHandler(_Handler):
    """``GET models/<name>/policy``: what promoting the model needs, per stage."""

    @tornado.web.authenticated
    async def get(self, name: str) -> None:
        await self._answer(views.policy, name)


class RolloutsHandler(_Handler):
    """``GET rollouts?model=&status=``: rollouts (default: running or paused; ``all`` or one
    status), newest first, with arms, traffic shares and guard values."""

    @tornado.web.authenticated
    async def get(self) -> None:
        status = self.get_query_argument("status", "active")
        await self._answer(
            serving_views.rollouts,
            self.get_query_argument("model", None) or None,
            None if status in ("", "all") else status,
        )


class AbortHandler(_Handler):
    """``POST rollouts/<id>/abort`` with ``{"reason"}``: every server back on the champion,
    recorded as the authenticated Jupyter user (409 when the rollout already ended)."""

    @tornado.web.authenticated
    async def post(self, rollout_id: str) -> None:
        try:
            number = self._id_number(rollout_id, "a rollout id")
            reason = self._required_reason(self._body())
        except BadRequest as exc:
            self._error(400, exc)
            return
        await self._answer(serving_views.abort_rollout, number, reason)


class ServersHandler(_Handler):
    """``GET servers``: the model servers seen (live or gone) and what each serves now."""

    @tornado.web.authenticated
    async def get(self) -> None:
        await self._answer(serving_views.servers)


class ReportsHandler(_Handler):
    """``GET reports?model=``: saved drift reports, newest first."""

    @tornado.web.authenticated
    async def get(self) -> None:
        await self._answer(views.reports, self.get_query_argument("model", None) or None)


class ReportHtmlHandler(_Handler):
    """``GET reports/<id>/html``: the saved standalone report page.

    It is served with ``Content-Security-Policy: sandbox allow-scripts``, so its scripts
    (plotly) run in an opaque origin and cannot reach the Jupyter server as the user.
    """

    @tornado.web.authenticated
    async def get(self, report_id: str) -> None:
        try:
            html = await self._call(views.report_html, report_id)
        except NbmlopsError as exc:
            self._error(views.status_of(exc), exc)
            return
        self.set_header("Content-Security-Policy", "sandbox allow-scripts")
        self.finish(html, set_content_type="text/html; charset=utf-8")


def routes(base_url: str) -> list[tuple[str, type[_Handler]]]:
    """The URL patterns of the API under ``base_url``."""
    name = r"(?P<name>[^/]+)"

    def url(pattern: str) -> str:
        return url_path_join(base_url, API, pattern)

    return [
        (url("runs"), RunsHandler),
        (url(r"runs/(?P<run_id>[^/]+)"), RunHandler),
        (url("experiments"), ExperimentsHandler),
        (url("models"), ModelsHandler),
        (url(f"models/{name}"), ModelHandler),
        (url(f"models/{name}/versions/(?P<version>[^/]+)"), VersionHandler),
        (url(f"models/{name}/versions/(?P<version>[^/]+)/card"), CardHandler),
        (url(f"models/{name}/promote"), PromoteHandler),
        (url(f"models/{name}/rollback"), RollbackHandler),
        (url(f"models/{name}/policy"), PolicyHandler),
        (url("requests"), RequestsHandler),
        (url(r"requests/(?P<request_id>[^/]+)/(?P<decision>approve|reject)"), DecisionHandler),
        (url("rollouts"), RolloutsHandler),
        (url(r"rollouts/(?P<rollout_id>[^/]+)/abort"), AbortHandler),
        (url("servers"), ServersHandler),
        (url("reports"), ReportsHandler),
        (url(r"reports/(?P<report_id>[^/]+)/html"), ReportHtmlHandler),
    ]


def setup_handlers(web_app: tornado.web.Application) -> None:
    web_app.add_handlers(".*$", routes(web_app.settings["base_url"]))
