"""The endpoint body's one schema: what it accepts and what it refuses."""

from __future__ import annotations

import pytest

from pipelines.metrics.schema import check_weekly_body

DAY = {"users": 1, "day": 19, "month": 5, "year": 2023}


def test_a_good_body_passes_unchanged():
    body = {"month": [DAY, {"users": 3, "day": 16, "month": 5, "year": 2023}], "success": True}
    assert check_weekly_body(body) is body
    assert check_weekly_body({"month": [], "success": True})


@pytest.mark.parametrize(
    "body",
    [
        {"success": True, "month": []},  # key order
        {"month": [], "success": False},
        {"month": [DAY], "success": True, "extra": 1},
        {"month": [{"day": 19, "users": 1, "month": 5, "year": 2023}], "success": True},
        {"month": [dict(DAY, users=0)], "success": True},
        {"month": [dict(DAY, users="1")], "success": True},
        {"month": [dict(DAY, users=True)], "success": True},
        {"month": [DAY, DAY], "success": True},  # one per date
        {"month": [dict(DAY, day=12), DAY], "success": True},  # newest first
        {"month": [dict(DAY, day=d) for d in range(28, 19, -1)], "success": True},  # more than 8
    ],
)
def test_a_bad_body_is_refused(body):
    with pytest.raises(ValueError):
        check_weekly_body(body)
