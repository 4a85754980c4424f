# Generated from kvstore/recipes/_async/party.py by scripts/unasync.py;
# do not edit: edit the source and run `python scripts/unasync.py`.
"""``Party``: group membership on leases (kazoo's ``Party``).

A member that ``join()`` s puts a key with its own session's lease; ``leave()`` deletes it
and revokes the session. A member whose process dies (or pauses past its TTL) stops
renewing, so its key vanishes after the TTL: ``members()`` reflects who is alive. Two
members may share a name; each has its own key.

Key layout::

    __kvstore/parties/<quoted name>/<quoted member>/<lease id hex>
"""

from __future__ import annotations

import urllib.parse
from typing import TYPE_CHECKING

from kvstore.keys import check_key, prefix_range_end
from kvstore.recipes._sync._waiters import LockLostCallback, QueueClaim
from kvstore.txn import Get

if TYPE_CHECKING:
    from kvstore.recipes._sync._store import RecipeStore

__all__ = ["PARTY_NAMESPACE", "Party", "member_name"]

PARTY_NAMESPACE = "__kvstore/parties/"
"""Top-level prefix of every party key."""


class Party(QueueClaim):
    """The membership of ``member`` in the party ``name``.

    Get one with ``store.new_party(name, member, ttl=60)``; ``with`` joins and leaves.

    Args:
        store: Any store with the ``leases``, ``txn`` and ``watch`` capabilities.
        name: The party's name (any non-empty ``str``).
        member: This member's name (any non-empty ``str``), what ``members()`` lists.
        ttl: TTL of the member's session: how long a dead member stays listed.
        on_lost: Called with a ``LockLostError`` when the membership is lost (lease expired).

    Raises:
        InvalidKeyError: ``name`` or ``member`` is not a valid key.
        InvalidArgumentError: ``ttl`` is not a positive int.
        UnsupportedOperationError: The store has no ``leases`` capability.
    """

    _namespace = PARTY_NAMESPACE
    _creator = "new_party"
    _noun = "party"
    _kind = "Party"
    _operation = "join"
    _not_held = "not a member of party {name!r}"
    _lost_what = "party {name!r}: the membership was lost"
    _states = ("joined", "left")

    def __init__(
        self,
        store: RecipeStore,
        name: str,
        member: str,
        *,
        ttl: int = 60,
        on_lost: LockLostCallback | None = None,
    ) -> None:
        super().__init__(store, name, ttl=ttl, on_lost=on_lost)
        self.member = check_key(member, operation="new_party")

    def __repr__(self) -> str:
        return f"{super().__repr__()[:-1]}, member={self.member!r})"

    def _key_of(self, lease_id: int) -> str:
        return f"{self.prefix}{urllib.parse.quote(self.member, safe='')}/{lease_id:x}"

    @property
    def joined(self) -> bool:
        """Whether this member is in the party, as far as this process knows."""
        return self._holding

    def join(self) -> None:
        """Join the party (put the member's key with a new session); idempotent.

        Raises:
            LockError: This object was closed.
            StoreClosedError: The store was closed.
            BackendError: The backend failed a call.
        """
        if self._holding:
            return
        session, key = self._begin("join")
        try:
            revision, _, _ = self._queue.enqueue(key, b"", session)
        except BaseException:
            self._abandon(key)
            raise
        self._acquired(session, revision, "join")

    def leave(self) -> None:
        """Leave the party (delete the key, revoke the session); idempotent.

        Raises:
            BackendError: The delete failed; the member stays listed (retry, or ``close``).
        """
        self._release()

    def members(self) -> list[str]:
        """The names of the party's members now, sorted (a name twice if two joined with it).

        Returns:
            The member names, sorted.

        Raises:
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call.
        """
        read = self.store.kv_range(Get(self.prefix, prefix_range_end(self.prefix), keys_only=True))
        return sorted(member_name(kv.key[len(self.prefix) :]) for kv in read.kvs)

    def __enter__(self) -> Party:
        self.join()
        return self

    def _end_context(self) -> None:
        self.leave()


def member_name(rest: str) -> str:
    """The member a key of a party stands for.

    Args:
        rest: The key after the party's prefix (the ``rest`` of ``recipe_name``):
            ``<quoted member>/<lease id hex>``.
    """
    return urllib.parse.unquote(rest.rpartition("/")[0])
