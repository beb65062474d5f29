"""The report site behind `engagement serve`: /reports/ (the index) and /reports/<YYYY-MM-DD> (the
week ending that day), rendered on demand from the lake with the same templates as the published
files, cached on the lake's state like the API's answers.

Managers log in with the user id and token the API takes (`engagement users add`); the permission
view-engagement-dashboard is required. The session is a signed, expiring value in an HttpOnly,
SameSite=Strict cookie (Secure over HTTPS), checked against the users file on every request, so a
revoked user is out at once. Repeated failed logins from one client are answered more and more
slowly. With `public` (`serve --public-reports`), no login: for a trusted intranet.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import html
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, quote

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from pipelines.api import users
from pipelines.lake.layout import SITE_KEY_FILE

COOKIE = "engagement_session"
SESSION_HOURS = 12
MAX_DELAY = 5.0  # seconds: the slowest answer to a client that keeps failing to log in


def _key(root: Path) -> bytes:
    """The site's signing key, made once per lake."""
    path = root / SITE_KEY_FILE  # mode 0600: signs the sessions, so they survive a restart
    try:
        return path.read_bytes()
    except FileNotFoundError:
        from pipelines.files import atomic_write_bytes

        atomic_write_bytes(path, secrets.token_bytes(32), private=True)
        return path.read_bytes()


def _sign(key: bytes, payload: str) -> str:
    mac = hmac.new(key, payload.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(payload.encode("utf-8")).decode() + "." + base64.urlsafe_b64encode(mac).decode()


def make_session(key: bytes, user_id: str, now: float | None = None) -> str:
    """A cookie value: the user and when the session ends, signed."""
    expires = int((now or time.time()) + SESSION_HOURS * 3600)
    return _sign(key, f"{user_id}\n{expires}")


def session_user(key: bytes, value: str | None, now: float | None = None) -> str | None:
    """The user a cookie value names, if its signature holds and it has not expired."""
    if not value or "." not in value:
        return None
    encoded, _, mac = value.partition(".")
    try:
        payload = base64.urlsafe_b64decode(encoded.encode()).decode("utf-8")
        user_id, expires = payload.rsplit("\n", 1)
        fresh = int(expires) > (now or time.time())
    except (ValueError, UnicodeDecodeError):
        return None
    return user_id if fresh and hmac.compare_digest(_sign(key, payload), value) else None


class Failures:
    """Failed logins per client: each one more doubles the wait before the answer (up to MAX_DELAY)."""

    def __init__(self) -> None:
        self.counts: OrderedDict[str, int] = OrderedDict()
        self.lock = threading.Lock()

    def delay(self, client: str) -> float:
        with self.lock:
            n = self.counts.get(client, 0)
        return 0.0 if n == 0 else min(MAX_DELAY, 0.25 * 2 ** (n - 1))

    def failed(self, client: str) -> None:
        with self.lock:
            self.counts[client] = self.counts.get(client, 0) + 1
            self.counts.move_to_end(client)
            while len(self.counts) > 10_000:
                self.counts.popitem(last=False)

    def succeeded(self, client: str) -> None:
        with self.lock:
            self.counts.pop(client, None)


SAFE_NEXT = re.compile(r"/reports/(index\.html|\d{4}-\d{2}-\d{2}(\.html)?)?")


def safe_next(value: str | None) -> str:
    """Where to go after the login: one of the site's own pages, else the index (never another site,
    never out of /reports/)."""
    return value if value and SAFE_NEXT.fullmatch(value) else "/reports/"


def _day(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def add_report_site(app: FastAPI, root: Path, cache, public: bool = False) -> None:
    """Register /reports/… on `app` (`cache`: the server's AnswerCache, for the lake's version and pools)."""
    from pipelines.publish import report

    key = _key(root)
    failures = Failures()

    def signed_in(request: Request) -> str | None:
        if public:
            return "public"
        user_id = session_user(key, request.cookies.get(COOKIE))
        record = cache.users().get(user_id or "")
        if record is None or users.DEFAULT_PERMISSION not in record["permissions"]:
            return None
        return user_id

    def to_login(request: Request) -> Response:
        wanted = quote(request.url.path, safe="/")
        return RedirectResponse(f"/reports/login?next={wanted}", status_code=303)

    def login_page(message: str = "", wanted: str = "/reports/", status: int = 200) -> HTMLResponse:
        body = (
            report.environment()
            .get_template("login.html")
            .render(message=message, next=wanted, site=False, public=False)
        )
        return HTMLResponse(body, status_code=status)

    async def rendered(kind: str, arg, make: Callable[[], str]) -> HTMLResponse:
        """A page cached like the API's answers (on the lake's state), made in the heavy pool."""
        return HTMLResponse(await cache.cached(kind, (arg,), lambda: make().encode("utf-8"), heavy=True))

    def not_found(message: str) -> HTMLResponse:
        text = f"<!doctype html><title>Not found</title><p>{html.escape(message)}</p><p><a href='/reports/'>All weeks</a></p>"
        return HTMLResponse(text, status_code=404)

    @app.get("/reports/login", include_in_schema=False)
    async def login_form(request: Request, next: str = "/reports/"):
        return login_page(wanted=safe_next(next))

    @app.post("/reports/login", include_in_schema=False)
    async def login(request: Request):
        client = request.client.host if request.client else "?"
        wait = failures.delay(client)
        if wait:
            await anyio.sleep(wait)
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        user_id = (form.get("user_id") or [""])[0].strip()
        token = (form.get("token") or [""])[0].strip()
        wanted = safe_next((form.get("next") or [None])[0])
        record = users.check(cache.users(), user_id, token)
        if record is None:
            failures.failed(client)
            return login_page("That user id and token do not match: try again.", wanted, status=401)
        if users.DEFAULT_PERMISSION not in record["permissions"]:
            failures.failed(client)
            return login_page(f"{user_id} may not view the engagement dashboard.", wanted, status=403)
        failures.succeeded(client)
        response = RedirectResponse(wanted, status_code=303)
        response.set_cookie(
            COOKIE,
            make_session(key, user_id),
            max_age=SESSION_HOURS * 3600,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/reports/",
        )
        return response

    @app.post("/reports/logout", include_in_schema=False)
    async def logout(request: Request):
        response = RedirectResponse("/reports/login", status_code=303)
        response.delete_cookie(COOKIE, path="/reports/", httponly=True, samesite="strict")
        return response

    @app.get("/reports/", include_in_schema=False)
    @app.get("/reports/index.html", include_in_schema=False)
    async def index(request: Request, date: str | None = None):
        if signed_in(request) is None:
            return to_login(request)
        if date is not None:  # the jump form: any date, as a week's last day
            day = _day(date)
            if day is None:
                return not_found(f"{date!r} is not a date: use YYYY-MM-DD.")
            return RedirectResponse(f"/reports/{day.isoformat()}", status_code=303)

        def make() -> str:
            return report.index_page(root, site=True, public=public)

        return await rendered("index", None, make)

    @app.get("/reports/{name}", include_in_schema=False)
    async def week(request: Request, name: str):
        if signed_in(request) is None:
            return to_login(request)
        day = _day(name.removesuffix(".html"))
        if day is None:
            return not_found(f"No page {name!r}: weeks are named by their last day, YYYY-MM-DD.")

        def make() -> str:
            context = report.week_context(root, day)
            return report.render_page(context, site=True, public=public)

        return await rendered("week", day, make)
