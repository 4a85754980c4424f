"""The launcher's errors.

::

    RuntimeError
     +-- EtcdNotFoundError      no etcd binary could be found
     +-- EtcdLaunchError        a member did not become healthy, or was used wrongly
"""

from __future__ import annotations

__all__ = ["EtcdLaunchError", "EtcdNotFoundError"]


class EtcdNotFoundError(RuntimeError):
    """No etcd binary was found in any of the places `find_etcd_binary` looks."""


class EtcdLaunchError(RuntimeError):
    """An etcd member failed to start, did not become healthy, or was used wrongly."""
