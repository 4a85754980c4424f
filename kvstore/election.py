"""Deprecated: ``Election`` moved to ``kvstore.recipes`` (module ``kvstore.recipes.election``).

Import ``Election`` and ``LeaderObserver`` from ``kvstore`` or ``kvstore.recipes``, and
``ELECTION_NAMESPACE`` from ``kvstore.recipes``. This alias module warns on import
(``DeprecationWarning``) and will be removed in a later release.
"""

from __future__ import annotations

from kvstore._deprecation import warn_moved_module
from kvstore.recipes.election import ELECTION_NAMESPACE, Election, LeaderObserver

__all__ = ["ELECTION_NAMESPACE", "Election", "LeaderObserver"]

warn_moved_module(
    "kvstore.election", "kvstore.recipes", "Election, LeaderObserver and ELECTION_NAMESPACE"
)
