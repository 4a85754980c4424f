# Generated from kvstore/wrappers/_async/namespace.py by scripts/unasync.py;
# do not edit: edit the source and run `python scripts/unasync.py`.
"""``NamespacedStore``: confine a store to the keys under one prefix.

Every key, range end, compare and operation gets the prefix; results and watch events
have it stripped, the way Go's ``clientv3/namespace`` does. Leases are not namespaced.
It is a ``KeyMappingStore``: it supplies the key mapping, the base does the rest.
"""

from __future__ import annotations

from kvstore._sync.base import BaseStore
from kvstore.errors import ConfigurationError
from kvstore.keys import ALL_KEYS, prefix_range_end
from kvstore.wrappers._sync.mapping import KeyMappingStore

__all__ = ["NamespacedStore"]


class NamespacedStore(KeyMappingStore):
    """A store that sees only the keys of ``inner`` under ``prefix``, without the prefix.

    Args:
        inner: The store to wrap.
        prefix: The namespace, for example ``"app1/"``; must not be empty.

    Raises:
        ConfigurationError: ``prefix`` is empty or not a ``str``.
    """

    def __init__(self, inner: BaseStore, prefix: str) -> None:
        if not isinstance(prefix, str) or not prefix:
            raise ConfigurationError("NamespacedStore: the prefix must be a non-empty str")
        super().__init__(inner)
        self.prefix = prefix
        self._prefix_end = prefix_range_end(prefix)

    def __repr__(self) -> str:
        return f"NamespacedStore({self.inner!r}, prefix={self.prefix!r})"

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
