"""The HTTP endpoint: Rocket.Chat's user-engagement API served from the lake (FastAPI on uvicorn).

Same paths, same bodies, same errors as Rocket.Chat. Requests read the lake without locks: a
query loads the lake's state and reads the files it names (immutable), so an ingest running at
the same time never gives an error or a mixed answer. Answers are cached on the lake's state.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from pipelines import lake, users
from pipelines.timeparse import is_js_iso_string

PREFIX = "/api/v1/engagement-dashboard/users"
UNAUTHORIZED = {"status": "error", "message": "You must be logged in to do this."}
FORBIDDEN = {"success": False, "error": "User does not have the permissions required for this action [error-unauthorized]"}


def bad_date(field: str) -> dict[str, Any]:
    return {"success": False, "error": f"Match error: Failed Match.Where validation in field {field}"}


class Lake:
    """The lake as the server sees it: its state's identity, the users, a small cache of answers."""

    def __init__(self, root: Path, cache_size: int = 4096):
        self.root = root
        self.cache: OrderedDict[tuple, bytes] = OrderedDict()
        self.cache_size = cache_size
        self.lock = threading.Lock()
        self.local = threading.local()
        self._users: tuple[tuple, dict] | None = None

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
        con = getattr(self.local, "con", None)
        if con is None:
            from pipelines.sql import connect

            con = self.local.con = connect(threads=1)
        return con

    def tz(self) -> str:
        version = self.version()
        cached = getattr(self, "_tz", None)
        if cached is None or cached[0] != version:
            cached = self._tz = (version, lake.read_state(self.root).tz or "UTC")
        return cached[1]

    async def answer(self, kind: str, args: tuple, compute) -> Response:
        """The cached response for (lake state, kind, args); computed off the event loop on a miss."""
        key = (self.version(), kind, args)
        with self.lock:
            if key in self.cache:
                self.cache.move_to_end(key)
                return Response(self.cache[key], media_type="application/json")
        body = await run_in_threadpool(compute)
        encoded = json.dumps(body, separators=(",", ":")).encode("utf-8")
        with self.lock:
            self.cache[key] = encoded
            if len(self.cache) > self.cache_size:
                self.cache.popitem(last=False)
        return Response(encoded, media_type="application/json")


def _date_in_zone(value: str, tz: str) -> dt.date:
    from pipelines.timeparse import date_of

    return date_of(value, tz)


def create_app(root: Path) -> FastAPI:
    """The ASGI app for the lake at `root`."""
    state = Lake(root)
    app = FastAPI(
        title="chat-engagement",
        description="Rocket.Chat's Engagement Dashboard user endpoints, answered from the lake.",
        version="0.1.0",
    )

    def refuse(request: Request, **dates: str | None) -> JSONResponse | None:
        """Rocket.Chat's checks, in its order: logged in, allowed, then each date in toISOString() form."""
        record = users.check(state.users(), request.headers.get("x-user-id"), request.headers.get("x-auth-token"))
        if record is None:
            return JSONResponse(UNAUTHORIZED, status_code=401)
        if users.DEFAULT_PERMISSION not in record["permissions"]:
            return JSONResponse(FORBIDDEN, status_code=403)
        for name, value in dates.items():
            if value is None or not is_js_iso_string(value):
                return JSONResponse(bad_date(name), status_code=400)
        return None

    def instant(value: str) -> dt.datetime:
        return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.timezone.utc)

    @app.get(f"{PREFIX}/chat-busier/weekly-data", summary="Daily active users, the 8 days ending at start")
    async def weekly(request: Request, start: str | None = Query(None, description="toISOString() form")):
        if denied := refuse(request, start=start):
            return denied
        from pipelines.weekly import weekly_data

        end = _date_in_zone(start, state.tz())
        return await state.answer("weekly", (end,), lambda: weekly_data(root, end, con=state.connection()))

    @app.get(f"{PREFIX}/active-users", summary="Active users per date from start to end, with their ids")
    async def active(request: Request, start: str | None = None, end: str | None = None):
        if denied := refuse(request, start=start, end=end):
            return denied
        from pipelines.activity import active_users

        tz = state.tz()
        first, last = _date_in_zone(start, tz), _date_in_zone(end, tz)
        return await state.answer(
            "active", (first, last), lambda: active_users(root, first, last, con=state.connection())
        )

    @app.get(f"{PREFIX}/chat-busier/hourly-data", summary="Distinct users per even UTC hour, the 24 h up to start")
    async def hourly(request: Request, start: str | None = None):
        if denied := refuse(request, start=start):
            return denied
        from pipelines.activity import hourly_data

        moment = instant(start)
        return await state.answer("hourly", (moment,), lambda: hourly_data(root, moment, con=state.connection()))

    @app.get(f"{PREFIX}/users-by-time-of-the-day-in-a-week", summary="Distinct users per date and hour")
    async def by_time(request: Request, start: str | None = None, end: str | None = None):
        if denied := refuse(request, start=start, end=end):
            return denied
        from pipelines.activity import users_by_time

        first, last = instant(start), instant(end)
        return await state.answer(
            "by-time", (first, last), lambda: users_by_time(root, first, last, con=state.connection())
        )

    return app
