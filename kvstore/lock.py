"""Deprecated: ``Lock`` moved to ``kvstore.recipes`` (module ``kvstore.recipes.lock``).

Import ``Lock`` and ``Session`` from ``kvstore`` or ``kvstore.recipes``, and
``LOCK_NAMESPACE`` from ``kvstore.recipes``. This alias module warns on import
(``DeprecationWarning``) and will be removed in a later release.
"""

from __future__ import annotations

from kvstore._deprecation import warn_moved_module
from kvstore.recipes.lock import LOCK_NAMESPACE, Lock
from kvstore.recipes.session import Session

__all__ = ["LOCK_NAMESPACE", "Lock", "Session"]

warn_moved_module("kvstore.lock", "kvstore.recipes", "Lock, Session and LOCK_NAMESPACE")
