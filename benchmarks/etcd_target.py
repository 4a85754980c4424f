"""The etcd every benchmark measures: given endpoints, ``$KVSTORE_ETCD_ENDPOINTS``, or a
throwaway local etcd started from the installed binary.

``run.py`` needs etcd (`etcd_target`); a ``bench_*.py`` run alone measures MemoryStore
anyway and adds etcd when one is reachable or can be started (`optional_etcd_store`).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Sequence
from typing import NamedTuple

import kvstore
from kvstore.base import BaseStore

__all__ = ["EtcdTarget", "etcd_target", "optional_etcd_store"]


class EtcdTarget(NamedTuple):
    """Where the benchmarked etcd answers."""

    endpoints: list[str]
    """``host:port`` of each member."""
    version: str
    """The etcd version, or ``"external"`` for endpoints given from outside."""

    @property
    def url(self) -> str:
        """The ``kvstore.open`` URL of these endpoints."""
        return "etcd://" + ",".join(self.endpoints)


@contextlib.contextmanager
def etcd_target(endpoints: Sequence[str] = ()) -> Iterator[EtcdTarget]:
    """``endpoints``, else ``$KVSTORE_ETCD_ENDPOINTS``, else a throwaway local etcd.

    Args:
        endpoints: ``host:port`` of an existing etcd; empty to look further.

    Yields:
        The target; a local etcd is removed when the block ends.

    Raises:
        ImportError: The etcd backend is not installed.
        EtcdNotFoundError: No etcd binary to start (``kvstore_etcd.launcher``).
        EtcdLaunchError: The local etcd did not start (``kvstore_etcd.launcher``).
    """
    from kvstore_etcd.launcher import EtcdServer, endpoints_from_env

    external = list(endpoints) or endpoints_from_env()
    if external:
        yield EtcdTarget(external, "external")
        return
    with EtcdServer() as server:
        yield EtcdTarget(list(server.endpoints), server.version)


@contextlib.contextmanager
def optional_etcd_store(endpoints: Sequence[str] = ()) -> Iterator[BaseStore | None]:
    """A store on `etcd_target`, or ``None`` (the reason on stderr) when there is no etcd.

    Args:
        endpoints: ``host:port`` of an existing etcd; empty to look further.

    Yields:
        The open store, closed when the block ends, or ``None``.
    """
    with contextlib.ExitStack() as stack:
        target: EtcdTarget | None = None
        try:
            target = stack.enter_context(etcd_target(endpoints))
        except Exception as exc:  # noqa: BLE001 - no etcd here: report and measure the rest
            print(f"etcd unavailable, skipped: {type(exc).__name__}: {exc}", file=sys.stderr)
        yield None if target is None else stack.enter_context(kvstore.open(target.url))
