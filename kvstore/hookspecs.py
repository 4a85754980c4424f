"""pluggy hook specifications for kvstore backend plugins.

A backend plugin is a module (or object) with ``@hookimpl`` functions, named in the
``kvstore`` entry-point group under the URL scheme it serves::

    [project.entry-points.kvstore]
    mybackend = "my_package.plugin"

The module is imported only when a URL with that scheme is opened.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from kvstore.base import BaseStore

__all__ = ["PROJECT_NAME", "hookimpl", "hookspec"]

PROJECT_NAME = "kvstore"
"""The pluggy project name and the entry-point group."""

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec(firstresult=True)
def kvstore_open(url: str, scheme: str) -> BaseStore | None:
    """Open a store for ``url`` if this plugin serves ``scheme``, else return ``None``.

    Args:
        url: The whole URL, for example ``"etcd://h1:2379,h2:2379?request_timeout=5"``.
        scheme: The URL's scheme, lower-cased.

    Raises:
        ConfigurationError: The URL is malformed for this backend.
    """
