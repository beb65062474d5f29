"""The zone policy: a lake counts days in the zone it was built in.

The first ingest records the zone in the lake's state; a later command that names another zone
(flag or ENGAGEMENT_TZ) is refused, and one that names none follows the lake's.
"""

from __future__ import annotations

from pathlib import Path

from pipelines.errors import UserError
from pipelines.lake import state as lake


def resolve_tz(state: lake.LakeState, tz: str, tz_explicit: bool, root: Path) -> str:
    """The zone to count in: the lake's own, which an explicit different zone may not override."""
    if state.tz is None or state.tz == tz:
        return tz
    if tz_explicit:
        raise UserError(
            f"the lake {root} counts days in {state.tz}, not {tz}: "
            f"count in {state.tz} (the zone is fixed per deployment) or use a new lake",
            "tz",
            "lake",
        )
    return state.tz


def lake_zone(root: Path, tz: str, tz_explicit: bool) -> str:
    """The zone of an existing lake (a UserError when there is none, or the zone given disagrees)."""
    return resolve_tz(lake.require_lake(root), tz, tz_explicit, root)
