"""Deprecated: the etcd launcher is now ``kvstore_etcd.launcher``.

This module only re-exports ``kvstore_etcd.launcher`` (the same objects, so code written
against it keeps working) and emits a ``DeprecationWarning`` when imported. It was renamed
because ``kvstore_etcd.testing`` read like ``kvstore.testing``, the conformance suite.
Replace ``from kvstore_etcd.testing import EtcdServer`` with
``from kvstore_etcd.launcher import EtcdServer``.
"""

from __future__ import annotations

import warnings

from kvstore_etcd import launcher as _launcher
from kvstore_etcd.launcher import *  # noqa: F403 - the launcher's public names, unchanged

__all__ = _launcher.__all__

warnings.warn(
    "kvstore_etcd.testing is deprecated; import the etcd launcher from kvstore_etcd.launcher",
    DeprecationWarning,
    stacklevel=2,
)
