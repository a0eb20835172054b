"""Named crash points for recovery tests.

With `ALPHATRADER_CRASH_AT=<point>` in the environment, the process kills itself with SIGKILL —
a real kill -9, no cleanup, no exception handlers — when it reaches that point. Tests use it to
prove that a rerun after a crash anywhere finishes the work without repeating side effects.
Never set it in production.
"""

from __future__ import annotations

import os
import signal

ENV = "ALPHATRADER_CRASH_AT"


def checkpoint(point: str) -> None:
    if os.environ.get(ENV) == point:
        os.kill(os.getpid(), signal.SIGKILL)
