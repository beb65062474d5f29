"""Every ENGAGEMENT_* setting, declared once: command-line flag, else environment variable, else default.

Two models read the environment the same way (`resolve`): `Settings` when a command starts, and
`MailSettings` when a command is about to send mail (so a broken SMTP variable does not stop a
command that sends nothing), and `Hooks` for the crash tests. The settings table of docs/settings.md is generated from these declarations
(`settings_table`). pydantic-settings is imported only by the commands that read settings, never by
`engagement --help`.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from pipelines.days import DEFAULT_TZ
from pipelines.errors import UserError

DEFAULT_LAKE = "data/lake"


def check_tz(name: str) -> str:
    """Return `name` if it is a known IANA time zone, else raise a UserError."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise UserError(f"unknown time zone {name!r}: give an IANA name such as UTC or Europe/Berlin") from None
    return name


def check_address(value: str, what: str) -> str:
    """`value` if it is exactly one plain email address (with or without a display name); else a
    UserError: a line break could inject a header, and a comma a second recipient."""
    from email.utils import getaddresses

    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise UserError(f"{what} {value!r} is not an email address: give one like boss@example.com")
    found = [address for _, address in getaddresses([value]) if address]
    if len(found) > 1 or value.count("@") > 1:
        raise UserError(f"{what} {value!r} holds {max(len(found), 2)} addresses: give one address per value")
    address = found[0] if found else ""
    local, at, domain = address.rpartition("@")
    if not (at and local and domain) or any(c.isspace() for c in address):
        raise UserError(f"{what} {value!r} is not an email address: give one like boss@example.com")
    return value.strip()


def address_list(value: str, what: str) -> tuple[str, ...]:
    """A comma-separated list of addresses (ENGAGEMENT_MAIL_TO), each exactly one address."""
    from email.utils import formataddr, getaddresses

    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise UserError(
            f"{what} {value!r}: that is not an email address list (a line break?): give one like a@x.com, b@x.com"
        )
    pairs = getaddresses([value])
    return tuple(check_address(formataddr((name, address)), what) for name, address in pairs if address)


def _comma_list(value: Any) -> Any:
    """'a, b,,c' -> ('a', 'b', 'c'): how a list is written in one environment variable."""
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


SWITCH = {"on": True, "true": True, "yes": True, "1": True, "off": False, "false": False, "no": False, "0": False}


def _switch(value: Any, info) -> Any:
    """An on/off setting: on, true, yes, 1 or off, false, no, 0 (any case)."""
    if isinstance(value, str):
        if value.strip().lower() not in SWITCH:
            raise ValueError(f"ENGAGEMENT_{info.field_name.upper()} must be on or off, not {value!r}")
        return SWITCH[value.strip().lower()]
    return value


def _bounded(kind: type, low: float, high: float, what: str, unit: str = "", above_low: bool = False):
    """A validator of a number setting of `kind` from `low` to `high` (above `low` if `above_low`)."""

    def check(value: Any, info) -> Any:
        name = f"ENGAGEMENT_{info.field_name.upper()}"
        try:
            number = kind(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be {what}") from None
        if not (low < number if above_low else low <= number) or number > high:
            raise ValueError(f"{name} must be between {low:g} and {high:g}{unit}")
        return number

    return check


def _setting(default: Any, what: str, flag: str = "", shown: str | None = None) -> Any:
    """A field with what the settings table (docs/settings.md) says about it: its meaning, its flag, its default as shown."""
    return Field(default, description=what, json_schema_extra={"flag": flag, "shown": shown or f"`{default}`"})


class _Engagement(BaseSettings):
    """ENGAGEMENT_<NAME> variables; an empty one counts as unset; unknown ones are ignored."""

    model_config = SettingsConfigDict(env_prefix="ENGAGEMENT_", env_ignore_empty=True, extra="ignore", frozen=True)


class Settings(_Engagement):
    """Where the lake, inbox and outputs live and which time zone the Rocket.Chat server counts in."""

    lake: Path = _setting(Path(DEFAULT_LAKE), "the lake folder", "`--lake DIR`")
    tz: str = _setting(DEFAULT_TZ, "the Rocket.Chat server's time zone", "`--tz ZONE`")
    ingest_memory: str = _setting("1GB", "DuckDB's memory limit while ingesting (it spills beyond)")
    inbox: Path = _setting(Path("data/inbox"), "the inbox the nightly job takes new files from", "`--inbox [DIR]`")
    archive: Path = _setting(
        Path("data/archive"), "where ingested files are kept (only with `--archive`)", "`--archive [DIR]`"
    )
    out: Path = _setting(Path("data/out"), "where the nightly run and backfills write their outputs", "`--out DIR`")
    outbox: Path = _setting(Path("data/outbox"), "where an email goes when no SMTP server is set")
    cors_origins: Annotated[tuple[str, ...], NoDecode] = _setting(
        (), "origins whose pages may call `engagement serve` (comma-separated; CORS)", shown="none"
    )
    lake_group_readable: bool = _setting(
        False,
        "the lake readable by its group too (0750 folders, 0640 files); off: by its owner only (0700, 0600)",
        shown="`off`",
    )
    header_timeout: float = _setting(
        10.0, "seconds `engagement serve` gives a client to send a request's headers", shown="`10`"
    )
    query_memory: str = _setting("2GB", "the memory one `engagement query` (or `lake.sql`) may use")
    query_threads: int = _setting(0, "the threads one query may use (0: every core)", shown="`0` (every core)")
    query_timeout: float = _setting(
        300.0, "seconds before a query is stopped, the writing of its result included", shown="`300`"
    )
    query_max_rows: int = _setting(10_000_000, "the rows one query may return", shown="`10000000`")
    query_max_bytes: str = _setting("1GB", "the size of one query's result, as written (CSV, JSON, ...)")
    keep_raw: dt.timedelta | None = _setting(
        None,
        "raw session and message rows older than this are dropped after each nightly ingest (`engagement prune`); "
        "the rollups, and every count, stay",
        "`--keep-raw 30d`",
        shown="unset (keep everything)",
    )
    metrics_textfile: Path | None = _setting(
        None,
        "where the nightly run and backfills write the lake's Prometheus metrics, for node_exporter's "
        "textfile collector (a `.prom` file in its `--collector.textfile.directory`)",
        shown="unset (none written)",
    )
    freshness_warn: dt.timedelta = _setting(
        dt.timedelta(hours=26), "newest activity older than this: a warning (`status --check`, nightly)", shown="`26h`"
    )
    freshness_error: dt.timedelta = _setting(
        dt.timedelta(hours=50),
        "newest activity older than this: `status --check` and the nightly run fail, and nothing is published",
        shown="`50h`",
    )

    @property
    def tz_explicit(self) -> bool:
        """True when the zone was given by flag or environment: a lake built in another zone is then refused
        instead of followed."""
        return "tz" in self.model_fields_set

    @field_validator("tz")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return _user_check(check_tz, value)

    _split_origins = field_validator("cors_origins", mode="before")(_comma_list)

    @field_validator("freshness_warn", "freshness_error", "keep_raw", mode="before")
    @classmethod
    def _duration(cls, value: Any, info) -> Any:
        if isinstance(value, str):
            from pipelines.timeparse import parse_duration, parse_keep

            try:  # a retention is whole days or weeks: `30m` must not read as minutes
                return (parse_keep if info.field_name == "keep_raw" else parse_duration)(value)
            except ValueError as exc:
                raise ValueError(f"ENGAGEMENT_{info.field_name.upper()}: {exc}") from None
        return value

    _switches = field_validator("lake_group_readable", mode="before")(_switch)
    _threads = field_validator("query_threads", mode="before")(_bounded(int, 0, 1024, "a number"))
    _header_timeout = field_validator("header_timeout", mode="before")(
        _bounded(float, 0, 3600, "a number of seconds", " seconds", above_low=True)
    )
    _timeout = field_validator("query_timeout", mode="before")(
        _bounded(float, 0, 86400, "a number of seconds", " seconds", above_low=True)
    )

    _rows = field_validator("query_max_rows", mode="before")(_bounded(int, 1, 10**12, "a number of rows", " rows"))

    @field_validator("query_memory", "query_max_bytes")
    @classmethod
    def _size(cls, value: str, info) -> str:
        try:
            size_bytes(value)
        except ValueError:
            raise ValueError(
                f"ENGAGEMENT_{info.field_name.upper()} must be a size such as 2GB or 512MB, not {value!r}"
            ) from None
        return value.strip()

    @model_validator(mode="after")
    def _thresholds_in_order(self) -> Settings:
        if self.freshness_error < self.freshness_warn:
            raise ValueError("ENGAGEMENT_FRESHNESS_ERROR must not be shorter than ENGAGEMENT_FRESHNESS_WARN")
        return self


_UNITS = {"kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def size_bytes(size: str) -> int:
    """The bytes of a size as DuckDB reads it (2GB: 2 x 10^9 bytes; 2GiB: 2 x 2^30); ValueError otherwise."""
    import re

    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b)\s*", size, flags=re.I)
    if not match:
        raise ValueError(f"not a size: {size!r}")
    return int(float(match[1]) * _UNITS[match[2].lower()])


SECURITY_PORTS = {"starttls": 587, "ssl": 465, "none": 25}


class MailSettings(_Engagement):
    """Where and how to send; secrets only from the environment, never logged."""

    smtp_host: str | None = _setting(None, "the SMTP server (unset: write `.eml` files to the outbox)", shown="unset")
    smtp_port: int = _setting(587, "the SMTP server's port", shown="587; 465 for `ssl`, 25 for `none`")
    smtp_security: Literal["starttls", "ssl", "none"] = _setting(
        "starttls", "how to secure the connection: `starttls`, `ssl` or `none`"
    )
    smtp_user: str | None = _setting(None, "the SMTP login", shown="none")
    smtp_password: str | None = Field(
        None, repr=False, description="the SMTP password", json_schema_extra={"shown": "none"}
    )
    smtp_backoff: float = _setting(
        2.0, "seconds before the second sending attempt, doubled before the third", shown="`2`"
    )
    mail_from: str = _setting("chat-engagement@localhost", "the sender")
    mail_to: Annotated[tuple[str, ...], NoDecode] = _setting(
        (), "the recipients (comma-separated)", "`--to ADDR` (send)", shown="none"
    )
    public_url: str | None = _setting(
        None, "the report site's address as managers reach it: the email links to the week's page", shown="unset"
    )
    smtp_allow_plaintext: bool = _setting(
        False,
        "allow `ENGAGEMENT_SMTP_SECURITY=none` with a password to a server that is not on this machine "
        "(the password then crosses the network in clear)",
        shown="`off`",
    )
    mail_corrections: bool = _setting(
        True, "mail a correction when a mailed week's numbers change (`off`: only its page says so)", shown="`on`"
    )
    correction_weeks: int = _setting(8, "how many weeks back a mailed week is checked for corrections", shown="`8`")

    @model_validator(mode="after")
    def _no_password_in_clear(self) -> MailSettings:
        """A password over an unencrypted connection only to this machine, unless allowed outright."""
        import ipaddress

        if self.smtp_security != "none" or not self.smtp_password or self.smtp_allow_plaintext:
            return self
        host = (self.smtp_host or "").strip("[]")
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host.lower() == "localhost"
        if not loopback:
            raise ValueError(
                f"ENGAGEMENT_SMTP_SECURITY=none would send the SMTP password in clear to {host}: use starttls "
                "or ssl, or set ENGAGEMENT_SMTP_ALLOW_PLAINTEXT=on"
            )
        return self

    _switches = field_validator("smtp_allow_plaintext", "mail_corrections", mode="before")(_switch)
    _weeks = field_validator("correction_weeks", mode="before")(_bounded(int, 0, 520, "a number of weeks"))
    _backoff = field_validator("smtp_backoff", mode="before")(
        _bounded(float, 0, 3600, "a number of seconds", " seconds")
    )

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"ENGAGEMENT_PUBLIC_URL must start with http:// or https://, not {value!r}")
        return value

    @model_validator(mode="before")
    @classmethod
    def _port_of_security(cls, values: Any) -> Any:
        """No port given: the usual one of the security chosen."""
        if isinstance(values, dict) and values.get("smtp_port") in (None, ""):
            security = cls._security(values.get("smtp_security", "starttls"))
            values = {**values, "smtp_port": SECURITY_PORTS[security]}
        return values

    @field_validator("smtp_security", mode="before")
    @classmethod
    def _security(cls, value: Any) -> Any:
        lowered = value.lower() if isinstance(value, str) else value
        if lowered not in SECURITY_PORTS:
            raise ValueError(f"ENGAGEMENT_SMTP_SECURITY must be starttls, ssl or none, not {lowered!r}")
        return lowered

    @field_validator("smtp_port", mode="before")
    @classmethod
    def _port(cls, value: Any) -> Any:
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ValueError("ENGAGEMENT_SMTP_PORT must be a number") from None

    @field_validator("mail_from")
    @classmethod
    def _sender(cls, value: str) -> str:
        return _user_check(check_address, value, "ENGAGEMENT_MAIL_FROM")

    @field_validator("mail_to", mode="before")
    @classmethod
    def _recipients(cls, value: Any) -> Any:
        if isinstance(value, str):
            return _user_check(address_list, value, "ENGAGEMENT_MAIL_TO has")
        return tuple(_user_check(check_address, a, "ENGAGEMENT_MAIL_TO has") for a in value)


class Clock(_Engagement):
    """The instant the commands take as now (pipelines/clock.py), read each time a command asks."""

    now: dt.datetime | None = _setting(
        None,
        "the instant the commands take as now (freshness ages, `--as-of`'s default, the times an ingest, a run "
        "or a mail is recorded at), such as `2023-05-20T02:30:00Z`: examples that read the same on any day, "
        "a past night rerun as it ran",
        shown="unset: the system clock",
    )

    @field_validator("now", mode="before")
    @classmethod
    def _instant(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            try:
                moment = dt.datetime.fromisoformat(text.replace("z", "Z"))
            except ValueError:
                raise ValueError(
                    f"ENGAGEMENT_NOW must be an ISO time such as 2023-05-20T02:30:00Z or a date, not {value!r}"
                ) from None
            value = moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc) if isinstance(value, dt.datetime) else value


class Counting(_Engagement):
    """Choices in how a number is counted where Rocket.Chat's own rule is not the only reasonable one,
    read each time a number is counted (pipelines/metrics/messages.py)."""

    messages_fill_day: Literal["utc", "local"] = _setting(
        "utc",
        "the day a message counts on where the Messages and Channels tabs are answered from the messages "
        "themselves (outside the analytics' span): `utc`, as Rocket.Chat's fill counts; `local`, the lake's "
        "zone's day, as its live counter does (not Rocket.Chat's answer)",
    )

    @field_validator("messages_fill_day", mode="before")
    @classmethod
    def _fill_day(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() in ("utc", "local"):
            return value.strip().lower()
        raise ValueError(f"ENGAGEMENT_MESSAGES_FILL_DAY must be utc or local, not {value!r}")


class Hooks(_Engagement):
    """For tests of what a crash leaves (pipelines/faults.py)."""

    crash_at: str | None = _setting(
        None, "a test hook: the process kills itself (SIGKILL) at this named point of an ingest", shown="unset"
    )


def _user_check(check, *args: Any) -> Any:
    """Run a check that raises UserError inside a validator (pydantic wants ValueError)."""
    try:
        return check(*args)
    except UserError as exc:
        raise ValueError(str(exc)) from None


Model = TypeVar("Model", bound=_Engagement)


def resolve(model: type[Model], **flags: Any) -> Model:
    """The one rule: a flag given on the command line, else ENGAGEMENT_<NAME>, else the default.

    A flag that is None or "" was not given (`--inbox` alone means "the inbox from the environment").
    A bad value is a UserError naming it.
    """
    given = {name: value for name, value in flags.items() if value is not None and value != ""}
    try:
        return model(**given)
    except ValidationError as exc:
        error = exc.errors()[0]
        reason = error.get("ctx", {}).get("error")
        raise UserError(str(reason) if reason else f"{error['loc'][0]}: {error['msg']}") from None


def load_settings(
    lake: str | None = None,
    tz: str | None = None,
    inbox: str | None = None,
    archive: str | None = None,
    out: str | None = None,
) -> Settings:
    """The command's settings (flags given as arguments)."""
    return resolve(Settings, lake=lake, tz=tz, inbox=inbox, archive=archive, out=out)


def settings_table() -> list[str]:
    """The table of docs/settings.md, from the declarations above."""
    rows = ["| setting | flag | environment | default |", "|---|---|---|---|"]
    for model in (Settings, MailSettings, Clock, Counting, Hooks):
        for name, field in model.model_fields.items():
            extra = field.json_schema_extra or {}
            env = f"`ENGAGEMENT_{name.upper()}`"
            rows.append(f"| {field.description} | {extra.get('flag', '')} | {env} | {extra['shown']} |")
    return rows
