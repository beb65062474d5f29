"""The published outputs: one weekly-data JSON per end date, written only when its inputs changed.

An output is keyed on what it was computed from: the lake's zone and the names of the 8 user_daily
partition files of its window. Those names are content hashes, so the key changes exactly when
one of the 8 days' rollups changes, and a rerun over unchanged days writes nothing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import zoneinfo
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

from pipelines.days import between, shifted
from pipelines.files import atomic_write_bytes, remove_temporaries
from pipelines.lake import state as lake
from pipelines.lake.locks import exclusive
from pipelines.lake.zones import lake_zone
from pipelines.metrics.weekly import weekly_data, window

KEYS = ".keys"  # beside the outputs: <output name>.key holds the key it was written for


@dataclass(frozen=True)
class WeekOutput:
    """One end date's output file, and whether this run wrote it."""

    end: dt.date
    path: Path
    written: bool
    body: dict


# the folders outputs are written to (atomically), whose temporary files a killed run can leave
FOLDERS = (".", "weekly-data", f"weekly-data/{KEYS}", "reports", f"reports/{KEYS}")


@contextlib.contextmanager
def publishing(out: Path, outbox: Path | None = None) -> Iterator[None]:
    """Hold the outputs' lock (one publishing run at a time) after clearing a killed run's leftovers."""
    with exclusive(out, ".outputs.lock"):
        for folder in FOLDERS:
            remove_temporaries(out / folder)
        if outbox is not None:
            remove_temporaries(outbox, "*.eml")
        yield


def last_complete_day(now: dt.datetime, tz: str) -> dt.date:
    """The day before `now`'s date in the server's zone: the last day that is over."""
    return now.astimezone(zoneinfo.ZoneInfo(tz)).date() - dt.timedelta(days=1)


def nightly_end(root: Path, tz: str, tz_explicit: bool, run_date: dt.date | None, now: dt.datetime) -> dt.date:
    """The week a nightly run publishes: `run_date`, else the last complete day in the lake's own zone."""
    if run_date is not None:
        return run_date
    return last_complete_day(now, lake_zone(root, tz, tz_explicit))


def end_dates(first: dt.date, last: dt.date, every: str = "day") -> list[dt.date]:
    """End dates from `first` to `last`, every day or every 7 days (from `first`)."""
    if every not in ("day", "week"):
        raise ValueError(f"every must be day or week, not {every!r}")
    step = 1 if every == "day" else 7
    dates: list[dt.date] = []
    day: dt.date | None = first
    while day is not None and day <= last:
        dates.append(day)
        day = shifted(day, step)
    return dates


def window_key(state: lake.LakeState, end: dt.date) -> str:
    """What the output for `end` depends on: the zone and its window's rollup files."""
    days = list(reversed(between(*window(end))))
    return _key([state.tz or "", *(state.files["user_daily"].get(d, "-") for d in days)])


def _key(inputs: list[str]) -> str:
    """The key of an output: a hash of what it was computed from, one input a line."""
    return hashlib.sha256("\n".join(inputs).encode()).hexdigest()[:32]


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


KEYED = (("weekly-data", ".json"), ("reports", ".html"))  # (folder, suffix) of each keyed output


def _key_path(folder: Path, end: dt.date, suffix: str) -> Path:
    """Where the key an output was written for is kept."""
    return folder / KEYS / f"{end.isoformat()}{suffix}.key"


def output_key(out: Path, state: lake.LakeState, end: dt.date, suffix: str) -> str:
    """The key an output of `end` is written for: its window's; a page's, with the corrections its
    week has had (a new one writes the page again)."""
    key = window_key(state, end)
    if suffix == ".html":
        from pipelines.publish.mail import corrections_of

        if corrections := corrections_of(out, end.isoformat()):
            key = _key([key, json.dumps(corrections, sort_keys=True)])
    return key


def stale_outputs(out: Path, state: lake.LakeState) -> list[str]:
    """The published outputs (folder/<end><suffix>) whose 8 days changed after they were written."""
    stale = []
    for folder, suffix in KEYED:
        for key_file in sorted((out / folder / KEYS).glob(f"*{suffix}.key")):
            try:
                end = dt.date.fromisoformat(key_file.name.removesuffix(f"{suffix}.key"))
            except ValueError:  # not one of ours
                continue
            if _read(key_file) != output_key(out, state, end, suffix):
                stale.append(f"{folder}/{end.isoformat()}{suffix}")
    return stale


def up_to_date(out: Path, state: lake.LakeState, end: dt.date) -> bool:
    """True when every keyed output of `end` (JSON, page) exists and was written from its window's
    current inputs: publishing it again would change nothing."""
    return all(
        (out / folder / f"{end.isoformat()}{suffix}").exists()
        and _read(_key_path(out / folder, end, suffix)) == output_key(out, state, end, suffix)
        for folder, suffix in KEYED
    )


def unchanged_week(out: Path, end: dt.date) -> WeekOutput:
    """The output of an end date that is up to date (see up_to_date), as publishing it would return it."""
    path = out / "weekly-data" / f"{end.isoformat()}.json"
    return WeekOutput(end, path, False, json.loads(path.read_text(encoding="utf-8")))


def _keyed_write(folder: Path, end: dt.date, suffix: str, key: str, force: bool, render) -> tuple[Path, bool, str]:
    """folder/<end><suffix> from render(), unless its key file says it is up to date (always with force).

    Returns the path, whether its bytes changed, and its text. Each end date has its own key file,
    so many can be written at once (a backfill's tasks).
    """
    path = folder / f"{end.isoformat()}{suffix}"
    key_path = _key_path(folder, end, suffix)
    current = _read(path)
    if not force and current is not None and _read(key_path) == key:
        return path, False, current
    text = render()
    written = current != text
    if written:
        atomic_write_bytes(path, text.encode("utf-8"))
    if _read(key_path) != key:
        atomic_write_bytes(key_path, key.encode("utf-8"))
    return path, written, text


def write_report(
    root: Path, out: Path, end: dt.date, force: bool = False, coming: Collection[dt.date] = ()
) -> tuple[Path, bool]:
    """Write out/reports/<end>.html, keyed like the JSON. `coming`: the weeks the same run publishes
    (a backfill's): linked to at once, so the index need not write the page again for its links."""
    from pipelines.publish import mail, report

    folder = out / "reports"
    rendered: dict = {}

    def render() -> str:
        rendered.update(report.week_context(root, end), corrections=mail.corrections_of(out, end.isoformat()))
        # a published page links only to published pages (write_index adds a link once its page exists)
        before, after = shifted(end, -7), shifted(end, 7)
        rendered.update(
            previous_end=before.isoformat() if before in coming else _published(folder, before),
            next_end=after.isoformat() if after in coming else _published(folder, after),
        )
        rendered["provenance_line"] = report.published_line(rendered, end)
        return report.render_page(rendered)

    key = output_key(out, lake.require_lake(root), end, ".html")
    path, written, text = _keyed_write(folder, end, ".html", key, force, render)
    _lineage(root, out, path, text, "report", end, written)
    if rendered:
        headline = {k: rendered[k] for k in report.HEADLINE_KEYS}
        headline["links"] = [rendered["previous_end"], rendered["next_end"]]
        atomic_write_bytes(folder / KEYS / f"{end.isoformat()}.json", json.dumps(headline).encode("utf-8"))
    return path, written


def _published(folder: Path, end: dt.date | None) -> str | None:
    """`end` as a link target if its page is published, else None."""
    return end.isoformat() if end is not None and (folder / f"{end.isoformat()}.html").exists() else None


def _relink(out: Path, root: Path, headlines: dict[str, dict]) -> bool:
    """Write again each published page (otherwise up to date) whose neighbour's page appeared or went
    since it was written, so its previous/next links point at exactly the pages that exist."""
    state = lake.read_state(root)
    changed = False
    for iso, headline in headlines.items():
        end = dt.date.fromisoformat(iso)
        wanted = [_published(out / "reports", shifted(end, -7)), _published(out / "reports", shifted(end, 7))]
        key_path = _key_path(out / "reports", end, ".html")
        fresh = _read(key_path) == output_key(out, state, end, ".html")
        if headline.get("links") != wanted and fresh:  # a stale page waits for its backfill, links and all
            write_report(root, out, end, force=True)
            changed = True
    return changed


def write_index(out: Path, root: Path) -> Path:
    """out/reports/index.html: the lake's history (every week, DAU/WAU/MAU over the last year), then
    every week with a report, newest first (rewritten only if it changed)."""
    from pipelines.publish import report

    folder = out / "reports"
    listed = {p.name.removesuffix(".json"): p for p in sorted((folder / KEYS).glob("*.json"))}
    if _relink(out, root, {end: json.loads(p.read_text(encoding="utf-8")) for end, p in listed.items()}):
        listed = {p.name.removesuffix(".json"): p for p in sorted((folder / KEYS).glob("*.json"))}
    headlines = [p.read_text(encoding="utf-8") for p in listed.values()]
    # what the index shows: the weeks listed and the lake's rollups (their files are named by content)
    state = lake.read_state(root)
    inputs = [state.tz or "", *headlines, *state.held_days()]
    inputs += [f"{day}={name}" for day, name in sorted(state.files["user_daily"].items())]
    key = _key(inputs)
    key_path = folder / KEYS / "index.html.key"
    if _read(key_path) == key and (folder / "index.html").exists():
        return folder / "index.html"  # nothing it shows changed: skip the year's trend
    index = report.index_page(root, [_without_links(json.loads(h)) for h in headlines])
    written = _read(folder / "index.html") != index
    if written:
        atomic_write_bytes(folder / "index.html", index.encode("utf-8"))
    _lineage(root, out, folder / "index.html", index, "index", None, written)
    atomic_write_bytes(key_path, key.encode("utf-8"))
    return folder / "index.html"


def _without_links(headline: dict) -> dict:
    return {k: v for k, v in headline.items() if k != "links"}


def write_week(root: Path, out: Path, end: dt.date, force: bool = False) -> WeekOutput:
    """Write out/weekly-data/<end>.json unless its window's inputs are unchanged (always with `force`)."""

    def render() -> str:
        return json.dumps(weekly_data(root, end), separators=(",", ":")) + "\n"

    key = window_key(lake.require_lake(root), end)
    path, written, text = _keyed_write(out / "weekly-data", end, ".json", key, force, render)
    _lineage(root, out, path, text, "weekly-data", end, written)
    return WeekOutput(end, path, written, json.loads(text))


def _lineage(root: Path, out: Path, path: Path, text: str, kind: str, end: dt.date | None, written: bool) -> None:
    """The published file's run event (publish/lineage.py): when it was written, or has none yet."""
    from pipelines.publish import lineage

    if written or not lineage.where(out, path).exists():
        first, last = window(end) if end is not None else (None, None)
        lineage.record(out, path, text.encode("utf-8"), lineage.stands_on(root, first, last), kind, end)


def forget_in_outputs(root: Path, out: Path, outbox: Path, values: list[str], scrub) -> list[str]:
    """After `engagement forget` (pipelines/ingest/forget.py): every published week whose window's
    files the forget rewrote is published again from the lake (the same numbers; a forgotten
    username reads as its pseudonym), and the index with it; then every file left under the outputs
    and the outbox that still names one of `values` (a delivery's record, an email, its parts
    decoded) has each of them replaced by `scrub` (text -> text). Returns the files written again."""
    import email
    from email import policy

    from pipelines.publish import lineage

    written: list[str] = []
    with publishing(out, outbox):
        state = lake.read_state(root)
        ends = sorted({dt.date.fromisoformat(Path(name).stem) for name in stale_outputs(out, state)})
        for end in ends:
            written.append(str(write_week(root, out, end).path))
            written.append(str(write_report(root, out, end)[0]))
        if ends and (out / "reports" / "index.html").exists():
            written.append(str(write_index(out, root)))
        for path in sorted(p for folder in (out, outbox) if folder.exists() for p in folder.rglob("*") if p.is_file()):
            data = path.read_bytes()
            if path.suffix == ".eml":
                message = email.message_from_bytes(data, policy=policy.default)
                parts = [p for p in message.walk() if p.get_content_maintype() == "text"]
                if not any(v in p.get_content() for p in parts for v in values) and not any(
                    v.encode() in data for v in values
                ):
                    continue
                for part in parts:
                    part.set_content(scrub(part.get_content()), subtype=part.get_content_subtype())
                data = bytes(message)
            else:
                text = data.decode("utf-8", "replace")
                if not any(v in text for v in values):
                    continue
                data = scrub(text).encode("utf-8")
            atomic_write_bytes(path, data)
            lineage.amend(out, path, data, "engagement forget")  # still the published file, its new bytes named
            written.append(str(path))
    return sorted(set(written))
