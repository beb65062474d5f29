"""The endpoint bodies' one schema, checked on every output we write."""

from __future__ import annotations

from typing import Any

DAY_KEYS = ["users", "day", "month", "year"]


def check_weekly_body(body: dict[str, Any]) -> dict[str, Any]:
    """Raise ValueError unless `body` is exactly a weekly-data success body; return it."""
    if list(body) != ["month", "success"] or body["success"] is not True:
        raise ValueError(f"weekly-data body has keys {list(body)}; expected ['month', 'success']")
    items = body["month"]
    if not isinstance(items, list) or len(items) > 8:
        raise ValueError("weekly-data 'month' must be a list of at most 8 days")
    previous = None
    for item in items:
        if list(item) != DAY_KEYS or not all(type(item[k]) is int for k in DAY_KEYS):
            raise ValueError(f"weekly-data item {item!r} must be {{users, day, month, year}} integers")
        if item["users"] <= 0:
            raise ValueError(f"weekly-data item {item!r} has no users; empty days are left out")
        key = (item["year"], item["month"], item["day"])
        if previous is not None and key >= previous:
            raise ValueError("weekly-data items must be newest first, one per date")
        previous = key
    return body
