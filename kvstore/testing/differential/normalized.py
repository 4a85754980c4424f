"""Normalized answers: what a step's answer becomes so that two stores' answers compare
with ``==`` (see ``kvstore.testing.differential``).
"""

from __future__ import annotations

import attrs

__all__ = ["LeaseState", "Outcome", "Raised", "Remaining", "Replayed"]


@attrs.frozen
class Raised:
    """A call that raised: compared by the error's type name only.

    Attributes:
        error: The exception class name (``"CompactedError"``).
        message: The message, shown but not compared.
    """

    error: str
    message: str = attrs.field(default="", eq=False)

    @classmethod
    def of(cls, exc: BaseException) -> Raised:
        """The ``Raised`` for ``exc``."""
        return cls(type(exc).__name__, str(exc))


@attrs.frozen
class Remaining:
    """A remaining TTL, compared by whether it lies within the bound the run allows.

    Attributes:
        within: Whether ``low <= ttl <= high``; the only field compared.
        ttl: The remaining TTL the store reported.
        low: The smallest value the elapsed time allows.
        high: The largest (the granted TTL).
    """

    within: bool
    ttl: int = attrs.field(eq=False)
    low: int = attrs.field(eq=False)
    high: int = attrs.field(eq=False)


@attrs.frozen
class LeaseState:
    """A normalized ``LeaseInfo``: the lease's position in the run, its remaining TTL as a
    ``Remaining``, its granted TTL and its keys (without the run's prefix)."""

    id: int
    ttl: Remaining
    granted_ttl: int
    keys: tuple[str, ...]


@attrs.frozen
class Replayed:
    """What a watch replay collected: the marker put's answer and the events (normalized)
    in order, ending with ``Raised`` if the watch failed or ``"timeout"`` if the marker's
    event never came."""

    marker: object
    events: tuple[object, ...]


@attrs.frozen
class Outcome:
    """One store's answer to one step: the result and the store revision after the step."""

    result: object
    revision: object
