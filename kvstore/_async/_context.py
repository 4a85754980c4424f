"""``AsyncClosing``: the context-manager protocol of kvstore's objects, written once."""

from __future__ import annotations

from types import TracebackType
from typing import TypeVar

__all__ = ["AsyncClosing"]

_T = TypeVar("_T", bound="AsyncClosing")


class AsyncClosing:
    """Base of the objects used in ``async with`` blocks (stores, watches, leases,
    sessions, locks, elections, servers): entering gives the object itself, leaving calls
    its ``_end_context`` (close, cancel, stop, revoke or unlock, as the class says).
    """

    __slots__ = ()

    async def __aenter__(self: _T) -> _T:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._end_context()

    async def _end_context(self) -> None:
        """What leaving the ``async with`` block does."""
        raise NotImplementedError
