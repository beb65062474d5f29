"""engagement ingest: exports, dumps and logs into the lake."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from pipelines.cli.options import Inbox, Lake, Zone, command
from pipelines.errors import UserError


@command("ingest")
def cmd_ingest(
    paths: Annotated[
        Optional[list[str]],
        typer.Argument(metavar="PATH", help="an export file or a folder of them", show_default=False),
    ] = None,
    inbox: Inbox = None,
    archive: Annotated[
        Optional[str],
        typer.Option(
            metavar="[DIR]",
            help="copy each file ingested into the archive folder (env ENGAGEMENT_ARCHIVE, default data/archive)",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="read files again even if the lake's manifest has them")
    ] = False,
    mapping_file: Annotated[
        Optional[str],
        typer.Option(
            "--mapping",
            metavar="FILE",
            help="plain session logs: a TOML file with the mapping (see docs/commands/ingest.md)",
        ),
    ] = None,
    map_: Annotated[
        Optional[list[str]],
        typer.Option(
            "--map",
            metavar="FIELD=COLUMN",
            help="plain session logs: map a field to a column, e.g. userId=user_id loginAt=started_at "
            "lastActivityAt=last_seen (repeat)",
        ),
    ] = None,
    timestamp_format: Annotated[
        Optional[str],
        typer.Option(
            metavar="FMT",
            help="plain session logs: iso (default), epoch_s, epoch_ms, or a strptime format such as "
            "'%d/%m/%Y %H:%M:%S'",
        ),
    ] = None,
    log_tz: Annotated[
        Optional[str],
        typer.Option(
            metavar="ZONE", help="plain session logs: the zone of timestamps written without one (default UTC)"
        ),
    ] = None,
    lake: Lake = None,
    tz: Zone = None,
) -> int:
    """Read rocketchat_sessions exports (mongoexport JSON, mongodump BSON, .gz) or session logs into the lake.

    Exports: mongoexport JSON lines or --jsonArray, mongodump BSON, gzipped or not; plain session
    logs (CSV or JSON lines) through --map or --mapping.
    Documents are upserted by _id (latest _updatedAt wins); rejected ones are written to the lake's
    rejects/ folder with file, line and reason. A file the lake's manifest already has (same path,
    size and time, or same content) is skipped.
    """
    from contextlib import nullcontext

    from pipelines.ingest.progress import for_terminal
    from pipelines.ingest.run import ingest_with
    from pipelines.settings import load_settings

    settings = load_settings(lake, tz, inbox=inbox, archive=archive)
    mapping = None
    if mapping_file or map_ or timestamp_format or log_tz:
        from pipelines.inputs.logs import load_mapping

        mapping = load_mapping(mapping_file, map_ or [], timestamp_format, log_tz)
    sources = list(paths or [])
    if inbox is not None:
        from pipelines.inputs.readers import require_inbox

        sources.append(require_inbox(settings.inbox))
    if not sources:
        raise UserError("nothing to ingest: name export files or folders, or use --inbox")
    bars = for_terminal()
    with bars or nullcontext():
        summary = ingest_with(
            settings,
            sources,
            force=force,
            archive=Path(settings.archive) if archive is not None else None,
            mapping=mapping,
            progress=bars,
        )
    print("\n".join(summary.lines()))
    return 0
