"""Deprecated: ``Session`` moved to ``kvstore.recipes`` (module ``kvstore.recipes.session``).

Import ``Session`` from ``kvstore`` or ``kvstore.recipes``. This alias module warns on
import (``DeprecationWarning``) and will be removed in a later release.
"""

from __future__ import annotations

from kvstore._deprecation import warn_moved_module
from kvstore.recipes.session import LostCallback, Session

__all__ = ["LostCallback", "Session"]

warn_moved_module("kvstore.session", "kvstore.recipes", "Session")
