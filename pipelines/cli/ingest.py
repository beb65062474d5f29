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


def _forget_file(path: str) -> tuple[list[str], list[str]]:
    """--from-file: one user id a line, or `@name` for a username; blank lines and # comments skipped."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read --from-file {path}: {exc}") from None
    ids, names = [], []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            (names if line.startswith("@") else ids).append(line.removeprefix("@"))
    return ids, names


@command("forget")
def cmd_forget(
    user_ids: Annotated[
        Optional[list[str]], typer.Argument(metavar="USER_ID", help="a Rocket.Chat user id", show_default=False)
    ] = None,
    username: Annotated[
        Optional[list[str]], typer.Option("--username", metavar="NAME", help="a username to forget too (repeat)")
    ] = None,
    from_file: Annotated[
        Optional[str],
        typer.Option("--from-file", metavar="FILE", help="user ids, one a line, and @usernames (# comments)"),
    ] = None,
    lake: Lake = None,
    out: Annotated[
        Optional[str],
        typer.Option("--out", metavar="DIR", help="the published outputs (env ENGAGEMENT_OUT, default data/out)"),
    ] = None,
) -> int:
    """Forget people: their user ids and usernames become pseudonyms in every file; no count changes.

    Every stored occurrence of each user id (sessions, user_daily, the messages' senders, accounts,
    rejects) and of each username (rooms' and analytics documents' usernames) is replaced by a
    pseudonym: random, one per value, the same everywhere, so that every distinct-user count, every
    endpoint body, trend and cohort stays as it was. The lake keeps a tombstone per value (a keyed
    hash, never the value), so a later ingest of an old export brings nobody back. One write.
    Then the published weeks, pages and emails (--out, ENGAGEMENT_OUTBOX) are written again without them.
    """
    from pipelines.ingest.forget import forget
    from pipelines.settings import load_settings

    ids, names = list(user_ids or []), list(username or [])
    if from_file is not None:
        more_ids, more_names = _forget_file(from_file)
        ids, names = ids + more_ids, names + more_names
    settings = load_settings(lake, out=out)
    summary = forget(settings.lake, ids, names)
    from pipelines.publish.outputs import forget_in_outputs

    scrub = summary.tombstones.scrub_text
    rewritten = forget_in_outputs(settings.lake, settings.out, settings.outbox, ids + names, scrub)
    print("\n".join(summary.lines()))
    print(f"published files written again without them: {len(rewritten)} (under {settings.out} and {settings.outbox})")
    return 0


@command("prune")
def cmd_prune(
    keep_raw: Annotated[
        Optional[str],
        typer.Option(
            "--keep-raw", metavar="DURATION", help="keep this much raw data: 30d, 13w (env ENGAGEMENT_KEEP_RAW)"
        ),
    ] = None,
    lake: Lake = None,
) -> int:
    """Drop raw sessions and messages older than --keep-raw; the rollups, and every count, stay.

    Each date wholly older than the cutoff (in the lake's zone) loses its raw session and message
    rows, and its rejected documents their raw text. First its sessions are kept as the `logins`
    rollup (what hourly-data and users-by-time count), so every endpoint body over a pruned range
    is what it was. A later export's documents of a pruned date are rejected (pruned_day). One write.
    """
    from pipelines.ingest.prune import check_keep, prune
    from pipelines.settings import load_settings

    settings = load_settings(lake)
    keep = check_keep(keep_raw) if keep_raw is not None else settings.keep_raw
    if keep is None:
        raise UserError("say how much raw data to keep: --keep-raw 30d (or set ENGAGEMENT_KEEP_RAW)")
    print("\n".join(prune(settings.lake, keep).lines()))
    return 0
