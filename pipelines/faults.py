"""A test hook: the process kills itself (SIGKILL) at a named point, to test what a crash leaves.

Set ENGAGEMENT_CRASH_AT to a point's name (see the calls of crash_point); unset, nothing happens.
"""

from __future__ import annotations

import functools
import os
import signal


@functools.cache
def _crash_at() -> str | None:
    """The point named by ENGAGEMENT_CRASH_AT (read once per process, as the settings declare it)."""
    from pipelines.settings import Hooks, resolve

    return resolve(Hooks).crash_at


def crash_point(name: str) -> None:
    """Die here, as a killed process would, when ENGAGEMENT_CRASH_AT names this point."""
    if _crash_at() == name:
        os.kill(os.getpid(), signal.SIGKILL)
