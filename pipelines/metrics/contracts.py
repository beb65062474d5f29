"""One contract per endpoint: the body Rocket.Chat answers, as a pydantic model.

Each model is the one place its body is described. The server's OpenAPI document is generated
from it (api/server.py), and every body is checked against it before it is written to a file or
sent over HTTP (`checked`), keys in Rocket.Chat's order, with no extra field.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pipelines.timeparse import ISO_STRING_PATTERN

Count = Annotated[int, Field(ge=0)]


class _Body(BaseModel):
    # strict: 1 is not True and "1" is not 1; forbid: a field Rocket.Chat does not send is an error
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class WeeklyDay(_Body):
    users: Annotated[int, Field(ge=1, description="distinct non-anonymous active users that day")]
    day: int
    month: int
    year: int


class WeeklyData(_Body):
    """chat-busier/weekly-data: the days of the 8 ending at `start` that have users, newest first."""

    month: Annotated[list[WeeklyDay], Field(max_length=8)]
    success: Literal[True]

    @model_validator(mode="after")
    def _newest_first(self) -> WeeklyData:
        dates = [(d.year, d.month, d.day) for d in self.month]
        if any(a <= b for a, b in zip(dates, dates[1:])):
            raise ValueError("weekly-data items must be newest first, one per date")
        return self


class ActiveDay(_Body):
    day: int
    month: int
    year: int
    usersList: list[str]
    users: Count


class ActiveUsers(_Body):
    """active-users: every date from start to end with active users, and who they were."""

    month: list[ActiveDay]
    success: Literal[True]


class HourlyItem(_Body):
    users: Count
    hour: Annotated[int, Field(ge=0, le=22)]


class HourlyData(_Body):
    """chat-busier/hourly-data: distinct users per even UTC hour of the 24 hours up to start."""

    hours: list[HourlyItem]
    success: Literal[True]


class ByTimeItem(_Body):
    users: Count
    hour: Annotated[int, Field(ge=0, le=23)]
    day: int
    month: int
    year: int


class UsersByTime(_Body):
    """users-by-time-of-the-day-in-a-week: distinct users per date and hour."""

    week: list[ByTimeItem]
    success: Literal[True]


class NewUsersDay(_Body):
    day: Annotated[str, Field(pattern=ISO_STRING_PATTERN)]
    users: int


class Change(_Body):
    count: int
    variation: int


class NewUsers(_Body):
    """new-users: registrations per day from start to end, against the period before."""

    days: list[NewUsersDay]
    period: Change
    yesterday: Change
    success: Literal[True]


class MessagesDay(_Body):
    day: Annotated[str, Field(pattern=ISO_STRING_PATTERN)]
    messages: int


class MessagesSent(_Body):
    """messages/messages-sent: messages per day from start to end, against the period before."""

    days: list[MessagesDay]
    period: Change
    yesterday: Change
    success: Literal[True]


class Origin(_Body):
    t: str
    messages: int


class MessagesOrigin(_Body):
    """messages/origin: messages per room type from start to end (every dashboard type, 0 if none)."""

    origins: list[Origin]
    success: Literal[True]


class PopularChannel(_Body):
    t: str
    messages: int
    # a room without a name (a direct message) has no `name` key: Rocket.Chat never stores an
    # undefined field, and `$project` leaves out a missing one; never null
    name: str = Field(None)
    usernames: list[str]


class TopFiveChannels(_Body):
    """messages/top-five-popular-channels: the five rooms with the most messages from start to end."""

    channels: Annotated[list[PopularChannel], Field(max_length=5)]
    success: Literal[True]


class ChannelRoom(_Body):
    # Rocket.Chat's names start with an underscore, which pydantic keeps for private attributes
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, populate_by_name=True)

    id: str = Field(alias="_id")
    name: str = Field(None)  # absent for a room without a name (a direct message), never null
    ts: str | None
    t: str
    updated_at: str | None = Field(alias="_updatedAt")
    usernames: list[str] | None = None  # only a room that has them (a direct message)


class Channel(_Body):
    room: ChannelRoom
    messages: int
    lastWeekMessages: int
    diffFromLastWeek: int


class ChannelsList(_Body):
    """channels/list: each room's messages this period and the last, most first, one page."""

    channels: list[Channel]
    total: int
    offset: int
    count: int
    success: Literal[True]


class Failure(_Body):
    """A refused request (400, 403, 404, 405, 500), as Rocket.Chat answers it."""

    success: Literal[False]
    error: str


class Unauthorized(_Body):
    """A request without a valid X-User-Id / X-Auth-Token (401), as Rocket.Chat answers it."""

    status: Literal["error"]
    message: str


def checked(model: type[_Body], body: dict[str, Any]) -> dict[str, Any]:
    """`body` itself once it is exactly a `model` body (the same keys in the same order, nothing
    else); a ValueError naming what is wrong otherwise."""
    try:
        parsed = model.model_validate(body)
    except ValidationError as exc:
        raise ValueError(f"not a {model.__name__} body: {exc.errors()[0]['msg']} at {exc.errors()[0]['loc']}") from None
    # by alias (Rocket.Chat's names), fields left unset left out (a room's usernames, when it has none)
    if json.dumps(parsed.model_dump(mode="json", by_alias=True, exclude_unset=True)) != json.dumps(body, default=str):
        raise ValueError(f"not a {model.__name__} body: its keys are not in Rocket.Chat's order")
    return body


def check_weekly_body(body: dict[str, Any]) -> dict[str, Any]:
    """Raise ValueError unless `body` is exactly a weekly-data success body; return it."""
    return checked(WeeklyData, body)
