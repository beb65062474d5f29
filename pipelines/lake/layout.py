"""The lake's folder, every name in it declared once.

    _state.json                                     which file is current for each table and day
    _manifest.jsonl                                 every input file ingested (lake/manifest.py)
    sessions/date=YYYY-MM-DD/part-<hash>.parquet    every stored document, one row per _id
    user_daily/date=YYYY-MM-DD/part-<hash>.parquet  the active user-days of that date
    logins/date=YYYY-MM-DD/part-<hash>.parquet      a pruned date's logins: userId, loginAt, closedAt's hour (ingest/prune.py)
    registrations/<name>-<hash>.parquet             new users: rocketchat_analytics "users" documents
                                                    (name analytics) and users accounts (name users);
                                                    messages per room and day (analytics "messages")
    chat_messages/date=YYYY-MM-DD/part-<hash>.parquet  rocketchat_message: _id, rid, ts, has t, sender (never the text)
    room_daily/date=YYYY-MM-DD/part-<hash>.parquet  per room: that date's messages without t, and with
    ids/run-<hash>.npy                              the _id-to-day index's runs (lake/idindex.py)
    rejects/<key>.jsonl                             rejected documents of one input file
    forgotten/tombstones-<hash>.json                forgotten user ids and usernames: HMAC -> pseudonym (lake/forgetting.py)
    .forget_key                                     the HMAC key of those tombstones (0600)
    _users.json, .site_key, .site_logouts           who may call the API, the site's signing key, ended sessions (api/)
    _runs.jsonl                                     one line per nightly run (runs.py)
    .lock, .users.lock, .nightly.lock               the writers' locks (lake/locks.py); .site_logouts.lock
    .staging/                                       a writer's files in progress (lake/writing.py)

Partition, registration and index files are immutable and named by their content; _state.json
names the current ones, and replacing it is the one step that makes a write visible.
"""

from __future__ import annotations

STATE_FILE = "_state.json"
MANIFEST_FILE = "_manifest.jsonl"
TABLES = ("sessions", "user_daily")  # partitioned by day: <table>/date=YYYY-MM-DD/part-<hash>.parquet
LOGINS = "logins"  # what hourly-data and users-by-time need of a date whose raw sessions are pruned
MESSAGE_TABLES = ("chat_messages", "room_daily")  # the same, of rocketchat_message (pipelines/ingest/messages.py)
PARTITIONED = (*TABLES, LOGINS, *MESSAGE_TABLES)
RAW_TABLES = ("sessions", "chat_messages")  # what `engagement prune` drops; every other table stays
REGISTRATIONS_DIR = "registrations"
# one file each, not partitioned: a row per day, per account, or per room and day (analytics "messages")
REGISTRATIONS = ("analytics", "users", "messages", "rooms")
IDS_DIR = "ids"
REJECTS_DIR = "rejects"
FORGOTTEN_DIR = "forgotten"
FORGET_KEY_FILE = ".forget_key"
USERS_FILE = "_users.json"
SITE_KEY_FILE = ".site_key"
SITE_LOGOUTS_FILE = ".site_logouts"  # session ids logged out before they expired (pipelines/api/site.py)
RUNS_LEDGER = "_runs.jsonl"
WRITE_LOCK = ".lock"  # one writer of the lake's data at a time; readers never need it
USERS_LOCK = ".users.lock"
LOGOUTS_LOCK = ".site_logouts.lock"  # one change of SITE_LOGOUTS_FILE at a time, across server processes
NIGHTLY_LOCK = ".nightly.lock"  # one nightly run at a time
STAGING_DIR = ".staging"


def rejects_key(path) -> str:
    """The name (without .jsonl) of an input file's rejects file in REJECTS_DIR: one per input path."""
    import hashlib
    from pathlib import Path

    return hashlib.sha256(str(Path(path).resolve()).encode("utf-8")).hexdigest()[:16]
