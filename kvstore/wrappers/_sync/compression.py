# Generated from kvstore/wrappers/_async/compression.py by scripts/unasync.py;
# do not edit: edit the source and run `python scripts/unasync.py`.
"""``CompressedStore``: a wrapper store that compresses large values with zlib.

It is a ``ValueMappingStore``: ``encode`` and ``decode`` below are all it adds.

Stored format: values of at least ``threshold`` bytes that shrink are stored as
``magic "kvz" | version 0x01 | algorithm 0x01 (zlib) | zlib stream``. Every other value is
stored as it is, so values written before compression was turned on still read, and so
do small values, which compression would only make larger. A value that itself starts
with the 4 header bytes ``kvz\\x01`` is stored wrapped (algorithm 0x00, the value
unchanged) so it can never be taken for a compressed one.

zlib (in the standard library) rather than zstandard: no extra dependency, and for the
small records a key-value store holds the difference in ratio is small.
"""

from __future__ import annotations

import zlib

from kvstore._sync.base import BaseStore
from kvstore.errors import CompressionError, ConfigurationError
from kvstore.keys import is_int
from kvstore.wrappers._sync.mapping import ValueMappingStore

__all__ = ["CompressedStore"]

MAGIC = b"kvz\x01"
"""The first bytes of a value this store wrapped: magic and format version."""

_STORED = 0x00
_ZLIB = 0x01
_HEADER_BYTES = len(MAGIC) + 1

DEFAULT_THRESHOLD = 256
"""Values shorter than this many bytes are stored as they are."""


class CompressedStore(ValueMappingStore):
    """A store whose values of ``threshold`` bytes or more are zlib-compressed in ``inner``.

    ``Value`` compares and reads sorted by value are refused (the server holds
    compressed bytes); ``compare_and_swap`` compares here and writes guarded by the mod
    revision.

    Args:
        inner: The store to wrap.
        level: zlib's compression level, 0 (none) to 9 (smallest); default 6.
        threshold: Values shorter than this (in bytes) are stored as they are.

    Raises:
        ConfigurationError: ``level`` is not an int in 0..9, ``threshold`` not an int
            >= 0, or ``inner`` is not a store.
    """

    value_hint = "the server holds compressed bytes"
    size_hint = "values are compressed: a value that does not shrink is stored as it is"

    def __init__(
        self, inner: BaseStore, *, level: int = 6, threshold: int = DEFAULT_THRESHOLD
    ) -> None:
        if not is_int(level, minimum=0, maximum=9):
            raise ConfigurationError(f"CompressedStore: level must be 0..9, not {level!r}")
        if not is_int(threshold, minimum=0):
            raise ConfigurationError(
                f"CompressedStore: threshold must be an int >= 0, not {threshold!r}"
            )
        super().__init__(inner)
        self.level = level
        self.threshold = threshold

    def __repr__(self) -> str:
        return f"CompressedStore({self.inner!r}, level={self.level}, threshold={self.threshold})"

    def encode(self, key: str, value: bytes) -> bytes:
        if len(value) >= self.threshold:
            compressed = zlib.compress(value, self.level)
            if len(compressed) + _HEADER_BYTES < len(value):
                return MAGIC + bytes([_ZLIB]) + compressed
        if value.startswith(MAGIC):
            return MAGIC + bytes([_STORED]) + value
        return value

    def decode(self, key: str, stored: bytes, operation: str) -> bytes:
        """The value for ``stored``: decompressed, unwrapped, or as it is.

        Returns:
            The caller's value: decompressed, unwrapped from the header, or ``stored`` itself when
            it has no header (a value written before compression).

        Raises:
            CompressionError: ``stored`` has the header but an unknown algorithm or a
                corrupt zlib stream.
        """
        if not stored.startswith(MAGIC):
            return stored
        algorithm = stored[len(MAGIC) : _HEADER_BYTES]
        payload = stored[_HEADER_BYTES:]
        if algorithm == bytes([_STORED]):
            return payload
        if algorithm == bytes([_ZLIB]):
            try:
                return zlib.decompress(payload)
            except zlib.error as exc:
                raise CompressionError(
                    f"{operation}: the compressed value of key {key!r} is corrupt ({exc})",
                    key=key,
                    operation=operation,
                ) from exc
        raise CompressionError(
            f"{operation}: the value of key {key!r} has the 'kvz' header with an unknown "
            f"algorithm {algorithm!r}",
            key=key,
            operation=operation,
        )
