"""What the rotation methods of the encrypted stores return: ``EnvelopeInfo`` and
``ReencryptReport`` (one definition for the sync and asyncio stores)."""

from __future__ import annotations

import attrs

__all__ = ["EnvelopeInfo", "ReencryptReport"]


@attrs.frozen
class EnvelopeInfo:
    """What is stored at a key, read from the envelope header (nothing is decrypted).

    Attributes:
        key: The key.
        key_id: The id of the key that encrypted the value; ``None`` for a plaintext value
            (only readable with ``allow_plaintext=True``).
        primary_key_id: The keyring's primary id when the value was inspected.
        mod_revision: The key's mod revision.
    """

    key: str
    key_id: int | None
    primary_key_id: int
    mod_revision: int

    @property
    def stale(self) -> bool:
        """Whether ``reencrypt`` would rewrite it (plaintext, or not under the primary)."""
        return self.key_id != self.primary_key_id


@attrs.frozen
class ReencryptReport:
    """The outcome of ``EncryptedStore.reencrypt``.

    Attributes:
        key_id: The primary key id the stale values were rewritten with.
        examined: How many values were read.
        rewritten: How many stale values were rewritten with the primary key.
        current: How many values were already under the primary key.
        skipped: Keys changed (or deleted) by someone else between read and rewrite;
            they were left alone (whoever changed them wrote with their own key).
        failed: Keys whose values cannot be decrypted (unknown key id, corrupt, or
            plaintext without ``allow_plaintext``); they were left alone.
        revision: The store revision after the last rewrite (0 if nothing was written).
    """

    key_id: int
    examined: int
    rewritten: int
    current: int
    skipped: tuple[str, ...]
    failed: tuple[str, ...]
    revision: int

    @property
    def complete(self) -> bool:
        """Whether every examined value is now under the primary key (or was changed)."""
        return not self.failed
