"""engagement weekly-data: the endpoint's body on the command line."""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer

from pipelines.cli.options import Lake, OutFile, Zone, _write, command


@command("weekly-data")
def cmd_weekly_data(
    start: Annotated[
        str,
        typer.Option(
            metavar="WHEN",
            help="2023-05-19T23:59:59.999Z, any ISO time with an offset, a local time, or a bare date",
        ),
    ],
    out: OutFile = None,
    indent: Annotated[Optional[int], typer.Option(metavar="N", help="pretty-print with N spaces")] = None,
    lake: Lake = None,
    tz: Zone = None,
) -> int:
    """Print the chat-busier/weekly-data body for the 8 days ending at --start.

    The body of GET /api/v1/engagement-dashboard/users/chat-busier/weekly-data: distinct
    non-anonymous active users per day for the 8 days ending on the date of --start.
    """
    from pipelines.lake.zones import lake_zone
    from pipelines.metrics.weekly import weekly_data
    from pipelines.settings import load_settings
    from pipelines.timeparse import date_of

    settings = load_settings(lake, tz)
    zone = lake_zone(settings.lake, settings.tz, settings.tz_explicit)
    body = weekly_data(settings.lake, date_of(start, zone))
    _write(out, json.dumps(body, indent=indent, separators=None if indent else (",", ":")) + "\n")
    return 0
