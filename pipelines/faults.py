"""A test hook: the process kills itself (SIGKILL) at a named point, to test what a crash leaves.

Set ENGAGEMENT_CRASH_AT to a point's name (see the calls of crash_point); unset, nothing happens.
"""

from __future__ import annotations

import os
import signal


def crash_point(name: str) -> None:
    """Die here, as a killed process would, when ENGAGEMENT_CRASH_AT names this point."""
    if os.environ.get("ENGAGEMENT_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
