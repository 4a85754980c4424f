"""``Mirror`` / ``AsyncMirror``: a prefix of a store kept in memory by a watch (SPEC 17).

Built with ``store.mirror(prefix)``; see ``kvstore/_async/mirror.py`` for how it stays
never silently wrong.
"""

from __future__ import annotations

from kvstore._async.mirror import AsyncMirror, AsyncMirrorChanges
from kvstore._sync.mirror import Mirror, MirrorChanges
from kvstore.types import MirrorChange

__all__ = ["AsyncMirror", "AsyncMirrorChanges", "Mirror", "MirrorChange", "MirrorChanges"]
