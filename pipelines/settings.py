"""Settings: command-line flag, else environment variable, else default; read when a command starts."""

from __future__ import annotations

import os
import zoneinfo
from dataclasses import dataclass
from pathlib import Path

from pipelines.errors import UserError

DEFAULT_LAKE = "data/lake"
DEFAULT_INBOX = "data/inbox"
DEFAULT_ARCHIVE = "data/archive"
DEFAULT_OUT = "data/out"
DEFAULT_OUTBOX = "data/outbox"
DEFAULT_TZ = "UTC"


@dataclass(frozen=True)
class Settings:
    """Where the lake lives and which time zone the Rocket.Chat server counts in."""

    lake: Path
    tz: str
    # True when the zone was given by flag or environment, False when it is the default:
    # a lake built in another zone is then followed instead of refused.
    tz_explicit: bool
    # DuckDB's memory limit for an ingest; beyond it, DuckDB spills to the lake's staging folder.
    ingest_memory: str = "1GB"
    inbox: Path = Path(DEFAULT_INBOX)
    archive: Path = Path(DEFAULT_ARCHIVE)
    out: Path = Path(DEFAULT_OUT)
    outbox: Path = Path(DEFAULT_OUTBOX)
    # origins whose pages may call `engagement serve` (CORS); none by default
    cors_origins: tuple[str, ...] = ()


def check_tz(name: str) -> str:
    """Return `name` if it is a known IANA time zone, else raise a UserError."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise UserError(f"unknown time zone {name!r}: give an IANA name such as UTC or Europe/Berlin") from None
    return name


def load_settings(
    lake: str | None = None,
    tz: str | None = None,
    inbox: str | None = None,
    archive: str | None = None,
    out: str | None = None,
) -> Settings:
    """Resolve each setting from its flag, then ENGAGEMENT_* environment variables, then defaults."""
    env = os.environ
    lake_value = lake or env.get("ENGAGEMENT_LAKE") or DEFAULT_LAKE
    tz_given = tz or env.get("ENGAGEMENT_TZ")
    return Settings(
        lake=Path(lake_value),
        tz=check_tz(tz_given or DEFAULT_TZ),
        tz_explicit=bool(tz_given),
        ingest_memory=env.get("ENGAGEMENT_INGEST_MEMORY") or "1GB",
        inbox=Path(inbox or env.get("ENGAGEMENT_INBOX") or DEFAULT_INBOX),
        archive=Path(archive or env.get("ENGAGEMENT_ARCHIVE") or DEFAULT_ARCHIVE),
        out=Path(out or env.get("ENGAGEMENT_OUT") or DEFAULT_OUT),
        outbox=Path(env.get("ENGAGEMENT_OUTBOX") or DEFAULT_OUTBOX),
        cors_origins=tuple(o.strip() for o in env.get("ENGAGEMENT_CORS_ORIGINS", "").split(",") if o.strip()),
    )
