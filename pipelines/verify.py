"""`engagement verify`: the lake's Users-tab numbers checked against a live Rocket.Chat, day by day.

Rocket.Chat keeps about 45 days of sessions. Before its TTL erases them, an administrator can prove
the archive: ask the server (or anything that speaks its API, such as `engagement serve`) for the
active users of each day both hold (GET /api/v1/engagement-dashboard/users/active-users), compare
them with the lake's, and name each day that differs, with both numbers and the likely cause.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from pipelines.errors import UserError, shown
from pipelines.lake import state as lake
from pipelines.lake.freshness import freshness
from pipelines.metrics.activity import active_users

ACTIVE_USERS = "/api/v1/engagement-dashboard/users/active-users"
RETENTION_DAYS = 45  # how long Rocket.Chat keeps sessions: the default range's length


@dataclass(frozen=True)
class Difference:
    """One day whose active users differ: the lake's, the server's, and the likely cause."""

    date: dt.date
    lake: int
    server: int
    cause: str

    def line(self) -> str:
        return f"{self.date.isoformat()}: lake {self.lake:,}, server {self.server:,} ({self.cause})"


@dataclass(frozen=True)
class Verification:
    first: dt.date
    last: dt.date
    url: str
    differences: list[Difference]

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def lines(self) -> list[str]:
        """What the command prints."""
        span = f"{self.first} .. {self.last} ({self.days} day{'s' * (self.days != 1)})"
        if not self.differences:
            return [f"{span}: the lake and {self.url} agree on every day's active users"]
        head = f"{span}: {len(self.differences)} day(s) differ between the lake and {self.url}"
        return [head, *[d.line() for d in self.differences]]


def default_range(root: Path) -> tuple[dt.date, dt.date]:
    """The days both are likely to hold: the lake's last RETENTION_DAYS loaded days."""
    fresh = freshness(root, lake.require_lake(root))
    if fresh.loaded_through is None or fresh.first_day is None:
        raise UserError(f"the lake {root} holds no loaded day to verify", "lake")
    first = max(fresh.first_day, fresh.loaded_through - dt.timedelta(days=RETENTION_DAYS - 1))
    return first, fresh.loaded_through


def _noon(day: dt.date) -> str:
    """A `start`/`end` that names `day` in any server zone within ±12 hours of UTC."""
    return f"{day.isoformat()}T12:00:00.000Z"


MAX_ANSWER = 64 * 1024 * 1024  # bytes of an answer read at most (45 days of 50,000 users: about 45 MB)
DEADLINE = 120.0  # seconds for the whole answer, however slowly it comes


def without_credentials(url: str) -> str:
    """The URL as it may be printed: no user name or password in it."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def check_address(url: str, allow_http: bool) -> None:
    """A UserError for an address that is not http(s), or plain http to a host other than this machine
    (the token would cross the network in clear) unless `allow_http`."""
    import ipaddress
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    shown_url = without_credentials(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UserError(
            f"{shown(shown_url)!r} is not a server address: give one like https://chat.example.com", "against"
        )
    if parts.scheme == "http" and not allow_http:
        host = parts.hostname
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            raise UserError(
                f"{shown(shown_url)} is plain http: the token would cross the network in clear; use https, "
                "or --allow-http if this network is yours",
                "against",
            )


def server_users(
    url: str,
    user_id: str,
    token: str,
    first: dt.date,
    last: dt.date,
    limit: int = MAX_ANSWER,
    deadline: float = DEADLINE,
) -> dict[dt.date, set[str]]:
    """Each day's active user ids, as the server's active-users endpoint gives them: the answer read as
    a stream, at most `limit` bytes, all of it within `deadline` seconds; what the server says is
    printed escaped and cut, and its address without credentials."""
    import json
    import time

    import httpx

    address = url.rstrip("/") + ACTIVE_USERS
    shown_address = shown(without_credentials(address))
    ends = time.monotonic() + deadline
    chunks: list[bytes] = []
    size = 0
    try:
        with httpx.stream(
            "GET",
            address,
            params={"start": _noon(first), "end": _noon(last)},
            headers={"X-User-Id": user_id, "X-Auth-Token": token},
            timeout=httpx.Timeout(min(30.0, deadline)),
        ) as response:
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > limit:
                    raise UserError(
                        f"{shown_address} answered more than {limit // (1024 * 1024)} MB: stopped; "
                        "verify a shorter range (--from, --to)",
                        "against",
                    )
                if time.monotonic() > ends:
                    raise UserError(f"{shown_address} took longer than {deadline:g} s to answer: stopped", "against")
                chunks.append(chunk)
            status = response.status_code
    except httpx.HTTPError as exc:
        raise UserError(
            f"cannot reach {shown_address}: {shown(str(exc))}; check the server's address", "against"
        ) from None
    if status == 401:
        raise UserError(
            f"{shown(without_credentials(url))} refused the user id and token (401): give an admin's id and a valid token",
            "token",
        )
    text = b"".join(chunks)
    if status != 200:
        raise UserError(f"{shown_address} answered {status}: {shown(text[:200].decode('utf-8', 'replace'))}", "against")
    try:
        body = json.loads(text)
        return {dt.date(i["year"], i["month"], i["day"]): set(i["usersList"]) for i in body["month"]}
    except (ValueError, KeyError, TypeError) as exc:
        raise UserError(
            f"{shown_address} did not answer with active-users JSON ({shown(repr(exc))}): is it a Rocket.Chat?"
        ) from None


def _cause(root: Path, state: lake.LakeState, day: dt.date, mine: set[str], theirs: dict[dt.date, set[str]]) -> str:
    """The likely cause of a day's difference."""
    from pipelines.metrics.history import explain

    server = theirs.get(day, set())
    if day.isoformat() not in state.held_days() and day.isoformat() not in state.files["user_daily"]:
        return "no data in the lake for this day: an export is missing (ingest one that covers it)"
    if not server:
        return "the server has no users this day: its data expired, or it was down"
    for neighbour in (day - dt.timedelta(days=1), day + dt.timedelta(days=1)):
        if theirs.get(neighbour) and theirs[neighbour] == mine:
            return f"the lake's users of this day are the server's of {neighbour}: the zones differ (the lake's is {state.zone})"
    rejected = explain(root, day)[1].num_rows
    if rejected:
        return (
            f"{rejected} document(s) naming this day were rejected at ingest "
            f"(`engagement explain --date {day}` lists them)"
        )
    if len(mine) < len(server):
        return "the server knows more sessions of this day than the exports did: ingest a later export"
    return "the exports hold sessions the server no longer counts (`engagement explain --date " + f"{day}` tells who)"


def verify(root: Path, url: str, user_id: str, token: str, first: dt.date, last: dt.date) -> Verification:
    """Compare the lake's active users of each day first..last with the server's."""
    state = lake.require_lake(root)
    theirs = server_users(url, user_id, token, first, last)
    body = active_users(root, first, last)
    ours = {dt.date(i["year"], i["month"], i["day"]): set(i["usersList"]) for i in body["month"]}
    differences = []
    day = first
    while day <= last:
        mine, server = ours.get(day, set()), theirs.get(day, set())
        if mine != server:
            cause = _cause(root, state, day, mine, theirs)
            differences.append(Difference(day, len(mine), len(server), cause))
        day += dt.timedelta(days=1)
    return Verification(first, last, without_credentials(url), differences)
