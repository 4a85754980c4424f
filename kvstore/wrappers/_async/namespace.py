"""``AsyncNamespacedStore``: confine a store to the keys under one prefix.

Every key, range end, compare and operation gets the prefix; results and watch events
have it stripped, the way Go's ``clientv3/namespace`` does. Leases are not namespaced.
It is a ``AsyncKeyMappingStore``: it supplies the key mapping, the base does the rest.
"""

from __future__ import annotations

from kvstore._async.base import AsyncBaseStore
from kvstore.errors import ConfigurationError
from kvstore.keys import ALL_KEYS, prefix_range_end
from kvstore.wrappers._async.mapping import AsyncKeyMappingStore

__all__ = ["AsyncNamespacedStore"]


class AsyncNamespacedStore(AsyncKeyMappingStore):
    """A store that sees only the keys of ``inner`` under ``prefix``, without the prefix.

    Args:
        inner: The store to wrap.
        prefix: The namespace, for example ``"app1/"``; must not be empty.

    Raises:
        ConfigurationError: ``prefix`` is empty or not a ``str``.
    """

    def __init__(self, inner: AsyncBaseStore, prefix: str) -> None:
        if not isinstance(prefix, str) or not prefix:
            raise ConfigurationError("AsyncNamespacedStore: the prefix must be a non-empty str")
        super().__init__(inner)
        self.prefix = prefix
        self._prefix_end = prefix_range_end(prefix)

    def __repr__(self) -> str:
        return f"AsyncNamespacedStore({self.inner!r}, prefix={self.prefix!r})"

    def map_key(self, key: str) -> str:
        return self.prefix + key

    def map_range(self, key: str, range_end: str | None) -> tuple[str, str | None]:
        if range_end is None:
            return self.prefix + key, None
        if range_end == ALL_KEYS:
            return self.prefix + key, self._prefix_end
        return self.prefix + key, self.prefix + range_end

    def unmap_key(self, key: str) -> str | None:
        return key[len(self.prefix) :] if key.startswith(self.prefix) else None
