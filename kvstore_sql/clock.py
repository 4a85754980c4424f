"""The clock that lease expiry uses: wall time, the same in every process on one database.

A lease's expiry is stored in the database as seconds since the epoch, so that whichever
store looks first (in any process) finds it due. Tests may pass any object with a
``now()`` method, such as ``kvstore_memory.ManualClock`` (leases then expire when it is
advanced; use one clock for every store on the database).
"""

from __future__ import annotations

import time
from typing import Protocol

__all__ = ["Clock", "WallClock"]


class Clock(Protocol):
    """What a SQL store needs of a clock: the time in seconds."""

    def now(self) -> float:
        """The current time in seconds.

        Returns:
            The current time in seconds (the processes sharing a database must share the clock:
            lease deadlines are stored by it).
        """
        ...


class WallClock:
    """The system's wall clock (``time.time()``), shared by the processes of one machine."""

    def now(self) -> float:
        """``time.time()``.

        Returns:
            ``time.time()``, in seconds since the epoch.
        """
        return time.time()

    def __repr__(self) -> str:
        return "WallClock()"
