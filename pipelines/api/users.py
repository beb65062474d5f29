"""API users as Rocket.Chat has them: a user id, a secret token, permissions; only a hash is kept.

Tokens are 32 random bytes, so a salted SHA-256 is enough to store them (nothing to brute-force)
and cheap enough to check on every request; the check runs in constant time.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import re
import secrets
from pathlib import Path

from pipelines.errors import UserError
from pipelines.files import atomic_write_bytes, read_text_nofollow, remove_temporaries
from pipelines.lake.layout import USERS_FILE, USERS_LOCK
from pipelines.lake.locks import exclusive

DEFAULT_PERMISSION = "view-engagement-dashboard"
USER_ID = re.compile(r"[\x21-\x7e]+")


def _path(root: Path) -> Path:
    return root / USERS_FILE


def _digest(salt: str, token: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt) + token.encode("utf-8")).hexdigest()


def load_users(root: Path) -> dict[str, dict]:
    """user id -> {salt, hash, permissions}; a users file (or a lake folder) others could have written
    is refused (files.check_trusted)."""
    from pipelines.files import check_trusted

    try:
        check_trusted(root)
        return json.loads(read_text_nofollow(_path(root)))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise UserError(
            f"cannot read the users file {_path(root)}: {exc}; restore it or remove it and add the users again"
        ) from None


def _save(root: Path, users: dict[str, dict]) -> None:
    """Replace the users file, readable by its owner only (it holds the token hashes)."""
    body = (json.dumps(users, indent=1, sort_keys=True) + "\n").encode("utf-8")
    atomic_write_bytes(_path(root), body, private=True)


@contextlib.contextmanager
def _changing(root: Path):
    """The users file's own lock (an ingest does not block `users add`); clears a killed writer's leftovers."""
    from pipelines.lake.writing import private

    with private(root), exclusive(root, USERS_LOCK):
        remove_temporaries(root, USERS_FILE)
        yield


def add_user(root: Path, user_id: str, permissions: list[str] | None = None) -> str:
    """Create (or re-key) a user; return its new token, which is not stored anywhere."""
    if not USER_ID.fullmatch(user_id):
        raise UserError(
            f"user id {user_id!r} cannot be sent in an X-User-Id header: use visible ASCII without spaces, "
            "as Rocket.Chat's ids are (e.g. rbAXPnMktTFbNpwtJ)"
        )
    token = secrets.token_urlsafe(32)
    salt = secrets.token_hex(16)
    with _changing(root):
        users = load_users(root)
        users[user_id] = {
            "salt": salt,
            "hash": _digest(salt, token),
            "permissions": permissions or [DEFAULT_PERMISSION],
        }
        _save(root, users)
    return token


def revoke_user(root: Path, user_id: str) -> None:
    """Remove a user; its token stops working at once."""
    with _changing(root):
        users = load_users(root)
        if user_id not in users:
            raise UserError(f"no user {user_id!r}; `engagement users list` shows them")
        del users[user_id]
        _save(root, users)


def check(users: dict[str, dict], user_id: str | None, token: str | None) -> dict | None:
    """The user's record if the token is theirs, else None (constant time in the token)."""
    record = users.get(user_id or "")
    if record is None or not token:
        # compare anyway, so a missing user costs what a wrong token does
        hmac.compare_digest(_digest("00" * 16, token or ""), "0" * 64)
        return None
    return record if hmac.compare_digest(_digest(record["salt"], token), record["hash"]) else None
