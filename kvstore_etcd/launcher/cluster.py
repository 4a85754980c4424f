"""`EtcdCluster`: several `EtcdServer` members on loopback forming one cluster."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from kvstore_etcd.launcher._common import LOOPBACK, Launched, free_ports
from kvstore_etcd.launcher.binary import find_etcd_binary
from kvstore_etcd.launcher.errors import EtcdLaunchError
from kvstore_etcd.launcher.server import EtcdServer

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from kvstore_etcd.launcher.server import MemberOptions

__all__ = ["EtcdCluster"]


class EtcdCluster(Launched):
    """Several etcd members on loopback forming one cluster.

    Args:
        size: Number of members (3 tolerates one failure).
        binary: etcd binary; default `find_etcd_binary()`.
        **member_options: `EtcdServer`'s options for every member (`MemberOptions`):
            ``extra_args``, ``env``, ``heartbeat_interval``, ``election_timeout``,
            ``log_level``, ``startup_timeout`` (which `start()` also waits for every
            member to be healthy), ``tls``.

    Raises:
        ValueError: ``size`` is below 1.
        EtcdNotFoundError: ``binary`` is None and no etcd binary is found.
    """

    def __init__(
        self,
        size: int = 3,
        *,
        binary: str | None = None,
        **member_options: Unpack[MemberOptions],
    ) -> None:
        if size < 1:
            raise ValueError(f"cluster size must be at least 1, got {size}")
        self.binary = binary if binary is not None else find_etcd_binary()
        self.base_dir = Path(tempfile.mkdtemp(prefix="kvstore-etcd-cluster-"))
        self._closed = False
        ports = free_ports(3 * size)
        names = [f"member{index}" for index in range(size)]
        peer_ports = ports[size : 2 * size]
        initial_cluster = ",".join(
            f"{name}=http://{LOOPBACK}:{port}" for name, port in zip(names, peer_ports, strict=True)
        )
        token = f"kvstore-test-{os.getpid()}-{self.base_dir.name}"
        self.members: list[EtcdServer] = [
            EtcdServer(
                self.binary,
                name=names[index],
                client_port=ports[index],
                peer_port=peer_ports[index],
                metrics_port=ports[2 * size + index],
                initial_cluster=initial_cluster,
                cluster_token=token,
                base_dir=self.base_dir / names[index],
                **member_options,
            )
            for index in range(size)
        ]
        self.startup_timeout = self.members[0].startup_timeout
        self._track()

    @property
    def endpoints(self) -> list[str]:
        """Every member's client endpoint as ``"127.0.0.1:port"``."""
        return [member.endpoint for member in self.members]

    @property
    def client_urls(self) -> list[str]:
        """Every member's client URL."""
        return [member.client_url for member in self.members]

    def start(self, timeout: float | None = None) -> EtcdCluster:
        """Launch every stopped member and wait until all are healthy.

        Args:
            timeout: Seconds to wait; default `startup_timeout`.

        Returns:
            This cluster.

        Raises:
            EtcdLaunchError: A member exited or stayed unhealthy (log tail included).
        """
        # Members block until a quorum exists, so launch all before waiting on any.
        for member in self.members:
            if not member.is_running:
                member.start(wait=False)
        try:
            self.wait_healthy(timeout)
        except EtcdLaunchError:
            self.close()
            raise
        return self

    def wait_healthy(self, timeout: float | None = None) -> None:
        """Block until every running member reports healthy.

        Args:
            timeout: Seconds to wait in total; default `startup_timeout`.

        Raises:
            EtcdLaunchError: A member exited or stayed unhealthy (log tail included).
        """
        limit = self.startup_timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        for member in self.members:
            if member.is_running and not member.is_paused:
                member.wait_healthy(max(0.0, deadline - time.monotonic()))

    def leader(self, timeout: float = 10.0) -> EtcdServer:
        """Find the member that is raft leader, waiting for an election if needed.

        Paused and stopped members are not asked. While two members both claim leadership
        (an old leader that has not yet noticed), this keeps waiting.

        Args:
            timeout: Seconds to wait for exactly one leader.

        Returns:
            The leader member.

        Raises:
            EtcdLaunchError: No single leader within ``timeout``.
        """
        deadline = time.monotonic() + timeout
        while True:
            leaders = [member for member in self.members if member.is_leader()]
            if len(leaders) == 1:
                return leaders[0]
            if time.monotonic() >= deadline:
                raise EtcdLaunchError(
                    f"no single etcd leader after {timeout:.1f}s "
                    f"(claimants: {[member.name for member in leaders]}); {self.members}"
                )
            time.sleep(0.05)

    def followers(self, timeout: float = 10.0) -> list[EtcdServer]:
        """Return every member except the current leader.

        Args:
            timeout: Seconds to wait for a leader.

        Returns:
            The other members, running or not.

        Raises:
            EtcdLaunchError: No single leader within ``timeout``.
        """
        leader = self.leader(timeout)
        return [member for member in self.members if member is not leader]

    def close(self) -> None:
        """Stop every member and remove the temporary directory; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        try:
            # The data is deleted anyway, and a graceful stop of a leader waits for a
            # leadership transfer, so crash every member first.
            for member in self.members:
                member.kill()
            for member in self.members:
                member.close()
        finally:
            shutil.rmtree(self.base_dir, ignore_errors=True)
            self._untrack()

    def _running(self) -> bool:
        return all(member.is_running for member in self.members)

    def __repr__(self) -> str:
        return f"<EtcdCluster {self.members}>"
