# Generated from kvstore/_async/_context.py by scripts/unasync.py;
# do not edit: edit the source and run `python scripts/unasync.py`.
"""``Closing``: the context-manager protocol of kvstore's objects, written once."""

from __future__ import annotations

from types import TracebackType
from typing import TypeVar

__all__ = ["Closing"]

_T = TypeVar("_T", bound="Closing")


class Closing:
    """Base of the objects used in ``with`` blocks (stores, watches, leases,
    sessions, locks, elections, servers): entering gives the object itself, leaving calls
    its ``_end_context`` (close, cancel, stop, revoke or unlock, as the class says).
    """

    __slots__ = ()

    def __enter__(self: _T) -> _T:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._end_context()

    def _end_context(self) -> None:
        """What leaving the ``with`` block does."""
        raise NotImplementedError
