"""The endpoints' contracts: what each accepts and what it refuses."""

from __future__ import annotations

import pytest

from pipelines.metrics.contracts import check_weekly_body

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


GOOD = {
    "ActiveUsers": {"month": [{"day": 19, "month": 5, "year": 2023, "usersList": ["u1"], "users": 1}], "success": True},
    "HourlyData": {"hours": [{"users": 2, "hour": 22}, {"users": 0, "hour": 20}], "success": True},
    "UsersByTime": {"week": [{"users": 1, "hour": 23, "day": 19, "month": 5, "year": 2023}], "success": True},
    "NewUsers": {
        "days": [{"day": "2023-05-18T22:00:00.000Z", "users": 3}],
        "period": {"count": 3, "variation": 1},
        "yesterday": {"count": 0, "variation": 3},
        "success": True,
    },
}
BAD = {
    "ActiveUsers": {"month": [{"day": 19, "month": 5, "year": 2023, "users": 1, "usersList": ["u1"]}], "success": True},
    "HourlyData": {"hours": [{"users": 2, "hour": 23}], "success": True},
    "UsersByTime": {"week": [{"users": -1, "hour": 3, "day": 19, "month": 5, "year": 2023}], "success": True},
    "NewUsers": {
        "days": [{"day": "2023-05-18", "users": 3}],
        "period": {"count": 3, "variation": 1},
        "yesterday": {"count": 0, "variation": 3},
        "success": True,
    },
}


@pytest.mark.parametrize("name", sorted(GOOD))
def test_each_endpoint_contract_passes_its_body_and_refuses_a_wrong_one(name):
    from pipelines.metrics import contracts

    model = getattr(contracts, name)
    assert contracts.checked(model, GOOD[name]) is GOOD[name]
    with pytest.raises(ValueError, match=f"not a {name} body"):
        contracts.checked(model, BAD[name])
