"""The HTTP endpoint: Rocket.Chat's user-engagement API served from the lake (FastAPI on uvicorn).

Same paths, same bodies, same errors as Rocket.Chat. Requests read the lake without locks: a
query loads the lake's state and reads the files it names (immutable), so an ingest running at
the same time never gives an error or a mixed answer. Answers are cached on the lake's state.

Every answer is JSON in Rocket.Chat's shape (an unexpected error too: logged here with its
traceback, answered 500 {"success": false, ...}), with `Cache-Control: no-store` and
`Pragma: no-cache` as Rocket.Chat sends them. The work of a request is bounded by the days the
lake holds, and the range endpoints (active-users, users-by-time) run in a small pool of their own,
so a client asking for 0001..9999 cannot starve the others.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware

from pipelines.api import users
from pipelines.lake import state as lake
from pipelines.metrics import activity, channels, contracts, messages, new_users, weekly
from pipelines.metrics.contracts import Failure, Unauthorized
from pipelines.timeparse import ISO_STRING_PATTERN, date_of, is_js_iso_string

PREFIX = "/api/v1/engagement-dashboard"
UNAUTHORIZED = {"status": "error", "message": "You must be logged in to do this."}
FORBIDDEN = {
    "success": False,
    "error": "User does not have the permissions required for this action [error-unauthorized]",
}
INTERNAL = {"success": False, "error": "Internal server error"}
NO_CACHE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
# on every answer: the pages need no script, no frame, nothing from elsewhere; inline styles only
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
MAX_BODY = 64 * 1024  # bytes: no route takes more (the API reads none; a login form is a few hundred)
MAX_LOGIN_BODY = 8 * 1024
TOO_LARGE = {"success": False, "error": "the request body is too large"}
# the range endpoints share this many threads; weekly-data and hourly-data have their own
HEAVY_WORKERS = 1
LIGHT_WORKERS = 8

log = logging.getLogger("engagement.serve")


def bad_date(field: str) -> dict[str, Any]:
    return {"success": False, "error": f"Match error: Failed Match.Where validation in field {field}"}


def missing_key(field: str) -> dict[str, Any]:
    return {"success": False, "error": f"Match error: Missing key '{field}'"}


def check_query(request: Request, names: tuple[str, ...]) -> tuple[dict[str, str], dict | None]:
    """The query's dates, or the 400 body Rocket.Chat's check(queryParams, Match.ObjectIncluding(...)) gives.

    As Meteor's check walks the query object: keys in the order they came, the first bad one named
    (a repeated key, or start[]=..., is an array there, so it is bad); then the first missing one.
    Other keys are allowed.
    """
    given: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        name = key.split("[", 1)[0] if "[" in key[1:] else key
        given.setdefault(name, []).append(value if name == key else "\0")  # start[x]=... is never a date
    for name, values in given.items():
        if name in names and (len(values) != 1 or not is_js_iso_string(values[0])):
            return {}, bad_date(name)
    for name in names:
        if name not in given:
            return {}, missing_key(name)
    return {name: given[name][0] for name in names}, None


class AnswerCache:
    """What the server keeps of the lake: its state's identity, the users, a small cache of answers."""

    def __init__(self, root: Path, cache_size: int = 4096):
        self.root = root
        self.cache: OrderedDict[tuple, bytes] = OrderedDict()
        self.cache_size = cache_size
        self.lock = threading.Lock()
        self._users: tuple[tuple, dict] | None = None
        self.heavy = anyio.CapacityLimiter(HEAVY_WORKERS)
        self.light = anyio.CapacityLimiter(LIGHT_WORKERS)

    def version(self) -> tuple:
        """Changes whenever an ingest replaces the state (it is rewritten by rename)."""
        try:
            st = (self.root / lake.STATE_FILE).stat()
        except FileNotFoundError:
            return (0, 0)
        return (st.st_mtime_ns, st.st_ino, st.st_size)

    def users(self) -> dict:
        path = self.root / users.USERS_FILE
        try:
            st = path.stat()
            key = (st.st_mtime_ns, st.st_ino, st.st_size)
        except FileNotFoundError:
            key = (0, 0, 0)
        if self._users is None or self._users[0] != key:
            self._users = (key, users.load_users(self.root))
        return self._users[1]

    def connection(self):
        """The worker thread's reading connection: one DuckDB thread each, the server's threads
        answering side by side."""
        from pipelines.sql import reader

        return reader(threads=1)

    def tz(self) -> str:
        version = self.version()
        cached = getattr(self, "_tz", None)
        if cached is None or cached[0] != version:
            cached = self._tz = (version, lake.read_state(self.root).zone)
        return cached[1]

    def prepare(self, kind: str, args: tuple, make: Callable[[], bytes]) -> None:
        """Make and keep the bytes for (lake state, kind, args) now, if they are not kept yet (the
        site's warmer, pipelines/api/site.py: the index ready before anyone asks)."""
        key = (self.version(), kind, args)
        with self.lock:
            if key in self.cache:
                return
        self._keep(key, make())

    def _keep(self, key: tuple, made: bytes) -> None:
        """Keep an answer, the oldest dropped past cache_size."""
        with self.lock:
            self.cache[key] = made
            if len(self.cache) > self.cache_size:
                self.cache.popitem(last=False)

    async def cached(self, kind: str, args: tuple, make: Callable[[], bytes], heavy: bool = False) -> bytes:
        """The bytes for (lake state, kind, args): from the cache, or made in a worker pool on a miss."""
        key = (self.version(), kind, args)
        with self.lock:
            if key in self.cache:
                self.cache.move_to_end(key)
                return self.cache[key]
        made = await anyio.to_thread.run_sync(make, limiter=self.heavy if heavy else self.light)
        self._keep(key, made)
        return made

    async def answer(self, kind: str, args: tuple, compute: Callable[[], dict], heavy: bool = False) -> Response:
        """The cached JSON response for (lake state, kind, args)."""

        def make() -> bytes:
            return json.dumps(compute(), separators=(",", ":")).encode("utf-8")

        return Response(await self.cached(kind, args, make, heavy), media_type="application/json")


class JsonCORSMiddleware(CORSMiddleware):
    """Starlette's CORS, with a refused preflight answered in Rocket.Chat's JSON shape."""

    def preflight_response(self, request_headers) -> Response:
        response = super().preflight_response(request_headers)
        headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-type")}
        if response.status_code == 200:
            return JSONResponse({"success": True}, headers=headers)
        error = {"success": False, "error": response.body.decode("utf-8", "replace")}
        return JSONResponse(error, status_code=response.status_code, headers=headers)


def closing_json_headers(body: bytes) -> dict[str, str]:
    """The headers of a refusal sent before any route answers (a body or a head too large): JSON,
    no-store, the security headers, and the connection closed."""
    headers = {"Content-Type": "application/json", "Content-Length": str(len(body)), **NO_CACHE, **SECURITY_HEADERS}
    return headers | {"Connection": "close"}


class NoStore:
    """ASGI middleware: Cache-Control: no-store, Pragma: no-cache and the security headers
    (SECURITY_HEADERS) on every answer; a request body over its route's limit gets 413 before the
    route reads it (a Content-Length over it, or a chunked body that grows over it)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = MAX_LOGIN_BODY if scope.get("path") == "/reports/login" else MAX_BODY
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            return await self._too_large(send)
        started = False

        async def with_headers(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                names = {name.lower() for name, _ in message.get("headers", [])}
                extra = [
                    (k.lower().encode(), v.encode())
                    for k, v in {**NO_CACHE, **SECURITY_HEADERS}.items()
                    if k.lower().encode() not in names
                ]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        received = 0

        async def bounded():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, bounded, with_headers)
        except _BodyTooLarge:
            if not started:
                await self._too_large(send)

    @staticmethod
    async def _too_large(send) -> None:
        body = json.dumps(TOO_LARGE).encode()
        headers = [(k.lower().encode(), v.encode()) for k, v in closing_json_headers(body).items()]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class _BodyTooLarge(Exception):
    """A chunked request body grew over its route's limit."""


def _page(request: Request) -> tuple[int, int]:
    """(offset, count) as Rocket.Chat's getPaginationItems reads them: offset 0 and count 50 unless given
    as whole numbers; a count over 100, or 0, is the limit or the default."""
    from pipelines.metrics.channels import DEFAULT_COUNT, MAX_COUNT

    def number(name: str, default: int) -> int:
        value = request.query_params.get(name, "")
        return int(value) if value.isascii() and value.isdigit() and len(value) < 12 else default

    count = number("count", DEFAULT_COUNT) or DEFAULT_COUNT
    return number("offset", 0), min(count, MAX_COUNT)


def _instant(value: str) -> dt.datetime:
    return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.timezone.utc)


# --- the OpenAPI document: what the endpoints really take and answer --------------------------

DATE_PARAMETER = {
    "required": True,
    "schema": {
        "type": "string",
        "pattern": ISO_STRING_PATTERN,
        "example": "2023-05-19T23:59:59.999Z",
    },
    "description": "An instant exactly as JavaScript's Date.prototype.toISOString() prints it, years 0001..9999",
}


def _json(model: type, description: str, example: dict) -> dict[str, Any]:
    return {"model": model, "description": description, "content": {"application/json": {"example": example}}}


def _operation(body: type, dates: tuple[str, ...]) -> dict[str, Any]:
    """FastAPI route arguments documenting one endpoint from its contract (metrics/contracts.py);
    its query is checked by check_query."""
    return {
        "response_class": Response,
        "responses": {
            200: {"model": body, "description": "The numbers, as Rocket.Chat answers them"},
            400: _json(Failure, "A date missing, repeated or not in toISOString() form", bad_date(dates[0])),
            401: _json(Unauthorized, "No or a wrong X-User-Id / X-Auth-Token", UNAUTHORIZED),
            403: _json(Failure, "The user lacks view-engagement-dashboard", FORBIDDEN),
        },
        "openapi_extra": {
            "parameters": [{"name": name, "in": "query", **DATE_PARAMETER} for name in dates],
            "security": [{"userId": [], "authToken": []}],
        },
    }


def _openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    from fastapi.openapi.utils import get_openapi

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            schema.setdefault("components", {})["securitySchemes"] = {
                "userId": {"type": "apiKey", "in": "header", "name": "X-User-Id"},
                "authToken": {"type": "apiKey", "in": "header", "name": "X-Auth-Token"},
            }
            for path in schema["paths"].values():
                for operation in path.values():
                    operation.get("responses", {}).pop("422", None)  # FastAPI's, never ours
            app.openapi_schema = schema
        return app.openapi_schema

    return build


def metrics_registry(root: Path):
    """The registry `serve --metrics-port` answers from: the lake's metrics (publish/prometheus.py,
    read once per snapshot) and, once create_app is given it, the server's own requests."""
    from prometheus_client import CollectorRegistry

    from pipelines.publish.prometheus import LakeCollector

    registry = CollectorRegistry()
    registry.register(LakeCollector(root))
    return registry


def _instrument(app: FastAPI, registry) -> None:
    """Count each request by route (the route's template, not its path: no unbounded labels) and
    status, and time it."""
    import time

    from prometheus_client import Counter, Histogram

    answered = Counter(
        "engagement_http_requests", "requests answered, by route and status", ["route", "status"], registry=registry
    )
    latency = Histogram(
        "engagement_http_request_duration_seconds",
        "seconds to answer a request, by route and status",
        ["route", "status"],
        registry=registry,
    )

    @app.middleware("http")
    async def measure(request: Request, call_next):
        start = time.perf_counter()
        response = await call_next(request)
        with contextlib.suppress(Exception):  # a metric that cannot be counted never costs a client its answer
            route = getattr(request.scope.get("route"), "path", "unmatched")
            answered.labels(route, str(response.status_code)).inc()
            latency.labels(route, str(response.status_code)).observe(time.perf_counter() - start)
        return response


def create_app(root: Path, cors_origins: tuple[str, ...] = (), public_reports: bool = False, metrics=None) -> FastAPI:
    """The ASGI app for the lake at `root`; `cors_origins` may call it from their pages. The report
    site (/reports/) asks for a login unless `public_reports`. `metrics`: a prometheus_client
    registry (metrics_registry) the app counts its requests in."""
    state = AnswerCache(root)
    app = FastAPI(
        title="chat-engagement",
        description="Rocket.Chat's Engagement Dashboard user endpoints, answered from the lake.",
        version="0.1.0",
        docs_url=None,
        redoc_url=None,
        redirect_slashes=False,  # a path with a trailing slash is unknown (404 in JSON), not a bare 307
    )
    app.openapi = _openapi(app)  # type: ignore[method-assign]
    if cors_origins:
        app.add_middleware(
            JsonCORSMiddleware,
            allow_origins=list(cors_origins),
            allow_methods=["GET", "HEAD", "OPTIONS"],
            allow_headers=["X-User-Id", "X-Auth-Token", "Content-Type"],
            max_age=600,
        )
    app.add_middleware(NoStore)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        # unknown routes (404) and wrong methods (405), in Rocket.Chat's envelope
        return JSONResponse({"success": False, "error": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> Response:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return JSONResponse(INTERNAL, status_code=500, headers=NO_CACHE)

    def refuse(request: Request, names: tuple[str, ...]) -> tuple[dict[str, str], JSONResponse | None]:
        """Rocket.Chat's checks, in its order: logged in, allowed, then the query's dates."""
        record = users.check(state.users(), request.headers.get("x-user-id"), request.headers.get("x-auth-token"))
        if record is None:
            return {}, JSONResponse(UNAUTHORIZED, status_code=401)
        if users.DEFAULT_PERMISSION not in record["permissions"]:
            return {}, JSONResponse(FORBIDDEN, status_code=403)
        dates, error = check_query(request, names)
        return dates, JSONResponse(error, status_code=400) if error else None

    def route(path: str, summary: str, body: type, dates: tuple[str, ...]):
        """GET, documented; HEAD, answered like GET without the body (uvicorn drops it)."""

        def register(handler):
            app.add_api_route(PREFIX + path, handler, methods=["GET"], summary=summary, **_operation(body, dates))
            app.add_api_route(PREFIX + path, handler, methods=["HEAD"], include_in_schema=False)
            return handler

        return register

    def endpoint(
        path: str,
        summary: str,
        kind: str,
        body: type,
        dates: tuple[str, ...],
        compute: Callable[..., dict],
        days: bool,
        heavy: bool = False,
    ):
        """One endpoint: Rocket.Chat's checks, then `compute` of the lake and the query's dates, read
        as days in the lake's zone (`days`) or as UTC instants, answering a `body` (which `compute`
        checks); its answers cached by them (AnswerCache)."""

        async def handler(request: Request):
            query, denied = refuse(request, dates)
            if denied:
                return denied
            if days:
                tz = state.tz()
                args = tuple(date_of(query[d], tz) for d in dates)
            else:
                args = tuple(_instant(query[d]) for d in dates)
            return await state.answer(kind, args, lambda: compute(root, *args, con=state.connection()), heavy=heavy)

        handler.__name__ = kind.replace("-", "_")  # FastAPI's operationId
        route(path, summary, body, dates)(handler)

    endpoint(
        "/users/chat-busier/weekly-data",
        "Daily active users, the 8 days ending at start",
        "weekly",
        contracts.WeeklyData,
        ("start",),
        weekly.weekly_data,
        days=True,
    )
    endpoint(
        "/users/active-users",
        "Active users per date from start to end, with their ids",
        "active",
        contracts.ActiveUsers,
        ("start", "end"),
        activity.active_users,
        days=True,
        heavy=True,
    )
    endpoint(
        "/users/chat-busier/hourly-data",
        "Distinct users per even UTC hour, the 24 h up to start",
        "hourly",
        contracts.HourlyData,
        ("start",),
        activity.hourly_data,
        days=False,
    )
    endpoint(
        "/users/users-by-time-of-the-day-in-a-week",
        "Distinct users per date and hour",
        "by-time",
        contracts.UsersByTime,
        ("start", "end"),
        activity.users_by_time,
        days=False,
        heavy=True,
    )
    endpoint(
        "/users/new-users",
        "Registrations per day from start to end, against the period before",
        "new",
        contracts.NewUsers,
        ("start", "end"),
        new_users.new_users,
        days=False,
    )

    for path, summary, kind, body, compute in (
        (
            "/messages/messages-sent",
            "Messages per day from start to end, against the period before",
            "messages-sent",
            contracts.MessagesSent,
            messages.messages_sent,
        ),
        (
            "/messages/origin",
            "Messages per room type from start to end",
            "origin",
            contracts.MessagesOrigin,
            messages.messages_origin,
        ),
        (
            "/messages/top-five-popular-channels",
            "The five rooms with the most messages from start to end",
            "top-five",
            contracts.TopFiveChannels,
            messages.top_five_popular_channels,
        ),
    ):
        endpoint(path, summary, kind, body, ("start", "end"), compute, days=False)

    @route(
        "/channels/list",
        "Each room's messages this period and the last, most first, a page",
        contracts.ChannelsList,
        ("start", "end"),
    )
    async def channels_list(request: Request):
        query, denied = refuse(request, ("start", "end"))
        if denied:
            return denied
        if "hideRoomsWithNoActivity" in request.query_params:  # removed from the current release
            return JSONResponse(
                {"success": False, "error": "Match error: Unknown key in field hideRoomsWithNoActivity"},
                status_code=400,
            )
        offset, count = _page(request)
        args = (_instant(query["start"]), _instant(query["end"]), offset, count)
        return await state.answer(
            "channels", args, lambda: channels.channels_list(root, *args, con=state.connection()), heavy=True
        )

    from pipelines.api.site import add_report_site

    add_report_site(app, root, state, public=public_reports)
    if metrics is not None:
        _instrument(app, metrics)
    return app


HEADER_TIMEOUT = 10.0  # seconds a client has to send a request's headers
MAX_HEAD = 16 * 1024  # bytes of a request line and its headers together
HEAD_END = re.compile(rb"\r?\n\r?\n")  # the blank line after the headers (h11 takes bare newlines too)
HEAD_TOO_LARGE = {
    414: ("URI Too Long", "the request line is too long"),
    431: ("Request Header Fields Too Large", "the request's headers are too large"),
}


def head_too_large(head: bytes) -> int | None:
    """414 or 431 when a request's line and headers (`head`: what came before its blank line, or all
    that came so far) pass MAX_HEAD, whether they came in one write or in many; else None."""
    if len(head) <= MAX_HEAD:
        return None
    line_end = head.find(b"\n")
    return 414 if line_end < 0 or line_end > MAX_HEAD else 431


def _refusal(status: int) -> bytes:
    """The whole answer to a head over MAX_HEAD, as the other errors answer (JSON, no-store, the
    security headers), closing the connection."""
    reason, error = HEAD_TOO_LARGE[status]
    body = json.dumps({"success": False, "error": error}).encode()
    lines = [f"HTTP/1.1 {status} {reason}", *(f"{k}: {v}" for k, v in closing_json_headers(body).items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def http_protocol(header_timeout: float = HEADER_TIMEOUT):
    """uvicorn's h11 protocol with a header-read timeout, and a cap on a request's head: a client
    that dribbles its headers (one line a second, to hold a connection) is closed `header_timeout`
    seconds after it began; a request line or headers over MAX_HEAD in all get 414 or 431 (h11's
    own cap holds only for headers that arrive in pieces), before any route or the access log sees them."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class WithHeaderTimeout(H11Protocol):
        _header_timer = None
        _head = b""  # the current request's head so far (until its blank line)
        _head_done = False

        def data_received(self, data: bytes) -> None:
            if self._head_fits(data):
                super().data_received(data)

        def _head_fits(self, data: bytes) -> bool:
            """Count `data` into the current request's head; False (the answer sent, the connection
            closing) once the head passes MAX_HEAD."""
            if self._head_done:
                return True
            head = self._head + data[: MAX_HEAD + 4 - len(self._head)]
            end = HEAD_END.search(head)
            status = head_too_large(head if end is None else head[: end.start()])
            if status is not None:
                self._disarm()
                self.transport.write(_refusal(status))
                self.transport.close()
                return False
            self._head, self._head_done = head, end is not None
            return True

        def _arm(self) -> None:
            self._disarm()
            self._header_timer = self.loop.call_later(header_timeout, self._headers_late)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_late(self) -> None:
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self.transport.close()

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._arm()

        def handle_events(self) -> None:
            super().handle_events()
            if self.conn.their_state is not h11.IDLE:  # the headers are in
                self._disarm()

        def on_response_complete(self) -> None:
            # the next request's head, counted afresh: from what a pipelining client already sent
            self._head, self._head_done = b"", False
            if not self._head_fits(bytes(self.conn.trailing_data[0])):
                return
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()  # the next request's headers have the same time

        def connection_lost(self, exc) -> None:
            self._disarm()
            super().connection_lost(exc)

    return WithHeaderTimeout
