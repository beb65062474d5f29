"""The report site behind `engagement serve`: /reports/ (the index) and /reports/<YYYY-MM-DD> (the
week ending that day), rendered on demand from the lake with the same templates as the published
files, cached on the lake's state like the API's answers.

Managers log in with the user id and token the API takes (`engagement users add`); the permission
view-engagement-dashboard is required. The session is a signed, expiring value in an HttpOnly,
SameSite=Strict cookie (Secure over HTTPS): a random session id, the user, and the generation of
the user's token. It is checked against the users file on every request, so a revoked or re-keyed
user is out at once; a logout records the session id (in the lake, so every server process sees it)
and the cookie no longer opens anything. Login and logout refuse cross-site posts (their Origin,
else their Referer, must be the site's own). Failed logins are budgeted, not merely slowed: 5 per
user id and client, 20 per client, in 15 minutes, counted before the token is checked (so parallel
tries count); past the budget, 429 with Retry-After. Someone else's failures never slow a login.
With `public` (`serve --public-reports`), no login: for a trusted intranet.
"""

from __future__ import annotations

import base64
import contextlib
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

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from pipelines.api import users
from pipelines.files import read_text_nofollow
from pipelines.lake.layout import LOGOUTS_LOCK, SITE_KEY_FILE, SITE_LOGOUTS_FILE

COOKIE = "engagement_session"
SESSION_HOURS = 12


def _key(root: Path) -> bytes:
    """The site's signing key, made once per lake."""
    from pipelines.files import atomic_write_bytes, read_bytes_nofollow

    path = root / SITE_KEY_FILE  # mode 0600: signs the sessions, so they survive a restart
    try:
        return read_bytes_nofollow(path)
    except FileNotFoundError:
        atomic_write_bytes(path, secrets.token_bytes(32), private=True)
        return read_bytes_nofollow(path)


def _sign(key: bytes, payload: str) -> str:
    mac = hmac.new(key, payload.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(payload.encode("utf-8")).decode() + "." + base64.urlsafe_b64encode(mac).decode()


def generation(record: dict) -> str:
    """The generation of a user's token: changes when the user is re-keyed (a new salt)."""
    return hashlib.sha256(record["salt"].encode()).hexdigest()[:16]


def make_session(key: bytes, user_id: str, record_generation: str = "", now: float | None = None) -> str:
    """A cookie value: a new session id, the user, its token's generation and when it ends, signed."""
    expires = int((now or time.time()) + SESSION_HOURS * 3600)
    return _sign(key, f"{secrets.token_hex(16)}\n{user_id}\n{record_generation}\n{expires}")


def session_of(key: bytes, value: str | None, now: float | None = None) -> tuple[str, str, str, int] | None:
    """(session id, user, generation, expiry) of a cookie value whose signature holds and which has not expired."""
    if not value or "." not in value:
        return None
    encoded, _, mac = value.partition(".")
    try:
        payload = base64.urlsafe_b64decode(encoded.encode()).decode("utf-8")
        sid, user_id, made_for, expires = payload.split("\n")
        fresh = int(expires) > (now or time.time())
    except (ValueError, UnicodeDecodeError):
        return None
    if not (fresh and hmac.compare_digest(_sign(key, payload), value)):
        return None
    return sid, user_id, made_for, int(expires)


def session_user(key: bytes, value: str | None, now: float | None = None) -> str | None:
    """The user a cookie value names, if its signature holds and it has not expired."""
    session = session_of(key, value, now)
    return session[1] if session else None


class Logouts:
    """Session ids logged out before they expired, kept in the lake (SITE_LOGOUTS_FILE) so that every
    server process refuses them. A change reads the file and writes it again under a lock every
    process shares (LOGOUTS_LOCK, flock), so two servers' logouts never overwrite each other; a
    reader reads it again whenever its inode, size or times differ (each write is a new file)."""

    def __init__(self, root: Path):
        self.root = root
        self.path = root / SITE_LOGOUTS_FILE
        self.lock = threading.Lock()
        self.seen: tuple[int, ...] | None = None
        self.ended: dict[str, int] = {}

    def _load(self, again: bool = False) -> None:
        import os

        try:
            st = os.stat(self.path, follow_symlinks=False)
        except FileNotFoundError:
            self.seen, self.ended = None, {}
            return
        mark = (st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        if mark == self.seen and not again:
            return
        ended = {}
        for line in read_text_nofollow(self.path).splitlines():
            sid, _, expires = line.partition(" ")
            if expires.isdigit():
                ended[sid] = int(expires)
        self.seen, self.ended = mark, ended

    def ended_session(self, sid: str) -> bool:
        with self.lock:
            self._load()
            return sid in self.ended

    def end(self, sid: str, expires: int) -> None:
        from pipelines.files import atomic_write_bytes
        from pipelines.lake.locks import exclusive

        with self.lock, exclusive(self.root, LOGOUTS_LOCK, timeout=30):
            self._load(again=True)  # what every process has ended so far, read under the lock
            now = time.time()
            self.ended = {s: e for s, e in self.ended.items() if e > now} | {sid: expires}
            body = "".join(f"{s} {e}\n" for s, e in sorted(self.ended.items()))
            atomic_write_bytes(self.path, body.encode("utf-8"), private=True)
            self.seen = None


class Failures:
    """A budget of failed logins in a sliding window: PER_USER per (client, user id) and PER_CLIENT per
    client. An attempt takes a slot before its token is checked (so parallel attempts count) and gives
    it back if it succeeds."""

    PER_USER, PER_CLIENT, WINDOW = 5, 20, 15 * 60.0

    def __init__(self) -> None:
        self.times: OrderedDict[str, list[float]] = OrderedDict()
        self.lock = threading.Lock()

    def _recent(self, key: str, now: float) -> list[float]:
        kept = [t for t in self.times.get(key, []) if now - t < self.WINDOW]
        if kept:
            self.times[key] = kept
            self.times.move_to_end(key)
        else:
            self.times.pop(key, None)
        return kept

    def take(self, client: str, user_id: str) -> tuple[float, float] | float:
        """A slot (to give back on success), or the seconds until one is free (the budget is spent)."""
        now = time.monotonic()
        keys = ((f"{client}\n{user_id}", self.PER_USER), (client, self.PER_CLIENT))
        with self.lock:
            for key, budget in keys:
                recent = self._recent(key, now)
                if len(recent) >= budget:
                    return max(1.0, self.WINDOW - (now - recent[0]))
            for key, _ in keys:
                self.times.setdefault(key, []).append(now)
            while len(self.times) > 20_000:
                self.times.popitem(last=False)
            return (now, now)

    def give_back(self, client: str, user_id: str, slot: tuple[float, float]) -> None:
        with self.lock:
            for key in (f"{client}\n{user_id}", client):
                times = self.times.get(key, [])
                if slot[0] in times:
                    times.remove(slot[0])


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


WARM_EVERY = 2.0  # seconds between the warmer's looks at the lake's state


def warm(cache, make_index: Callable[[], bytes]) -> threading.Thread:
    """A daemon thread that makes the site's index for each new lake snapshot as soon as it appears
    (at the server's start, and after each nightly), so no manager waits on its first request. A
    failure is left for the request to meet (and say) as it would without the warmer."""

    def loop() -> None:
        seen = None
        while True:
            version = cache.version()
            if version != seen and version != (0, 0):
                with contextlib.suppress(Exception):
                    cache.prepare("index", (None,), make_index)
                seen = version
            time.sleep(WARM_EVERY)

    thread = threading.Thread(target=loop, name="site-warmer", daemon=True)
    thread.start()
    return thread


def add_report_site(app: FastAPI, root: Path, cache, public: bool = False) -> None:
    """Register /reports/… on `app` (`cache`: the server's AnswerCache, for the lake's version and pools)."""
    from pipelines.publish import report

    key = _key(root)
    failures = Failures()
    logouts = Logouts(root)

    def signed_in(request: Request) -> str | None:
        if public:
            return "public"
        session = session_of(key, request.cookies.get(COOKIE))
        if session is None:
            return None
        sid, user_id, made_for, _ = session
        record = cache.users().get(user_id)
        if record is None or users.DEFAULT_PERMISSION not in record["permissions"]:
            return None
        if not hmac.compare_digest(generation(record), made_for) or logouts.ended_session(sid):
            return None  # re-keyed since, or logged out
        return user_id

    def same_site(request: Request) -> bool:
        """A post from the site's own pages: its Origin (else its Referer) is this site, if given."""
        from urllib.parse import urlsplit

        own = f"{request.url.scheme}://{request.headers.get('host', '')}"
        origin = request.headers.get("origin")
        if origin is not None:
            return origin == own
        referer = request.headers.get("referer")
        if referer is not None:
            parts = urlsplit(referer)
            return f"{parts.scheme}://{parts.netloc}" == own
        return True  # neither: not a browser's cross-site form (browsers send Origin with a post)

    def cross_site() -> HTMLResponse:
        return login_page("Log in from this site's own login page.", status=403)

    def to_login(request: Request) -> Response:
        wanted = quote(request.url.path, safe="/")
        return RedirectResponse(f"/reports/login?next={wanted}", status_code=303)

    def login_page(message: str = "", wanted: str = "/reports/", status: int = 200, user_id: str = "") -> HTMLResponse:
        """The login form; after a failed attempt, its message and the user id given, kept (never the token)."""
        body = (
            report.environment()
            .get_template("login.html")
            .render(message=message, next=wanted, site=False, public=False, user_id=user_id)
        )
        return HTMLResponse(body, status_code=status)

    def make_index() -> str:
        return report.index_page(root, site=True, public=public)

    warm(cache, lambda: make_index().encode("utf-8"))

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
        if not same_site(request):
            return cross_site()
        client = request.client.host if request.client else "?"
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        user_id = (form.get("user_id") or [""])[0].strip()
        token = (form.get("token") or [""])[0].strip()
        wanted = safe_next((form.get("next") or [None])[0])
        slot = failures.take(client, user_id)
        if not isinstance(slot, tuple):
            page = login_page("Too many failed logins: wait, then try again.", wanted, 429, user_id)
            page.headers["Retry-After"] = str(int(slot))
            return page
        record = users.check(cache.users(), user_id, token)
        if record is None:
            return login_page("That user id and token do not match: try again.", wanted, 401, user_id)
        if users.DEFAULT_PERMISSION not in record["permissions"]:
            return login_page(f"{user_id} may not view the engagement dashboard.", wanted, 403, user_id)
        failures.give_back(client, user_id, slot)
        response = RedirectResponse(wanted, status_code=303)
        response.set_cookie(
            COOKIE,
            make_session(key, user_id, generation(record)),
            max_age=SESSION_HOURS * 3600,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/reports/",
        )
        return response

    @app.post("/reports/logout", include_in_schema=False)
    async def logout(request: Request):
        if not same_site(request):
            return cross_site()
        session = session_of(key, request.cookies.get(COOKIE))
        if session is not None:  # the cookie opens nothing from now on, wherever it is replayed
            logouts.end(session[0], session[3])
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

        return await rendered("index", None, make_index)

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
