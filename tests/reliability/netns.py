"""A three-member etcd cluster whose members live in network namespaces of their own, so
a test can cut one member off from its peers while clients still reach it.

Each member ``i`` has two links: a peer link (``10.77.<n>.<i+1>``) on a bridge shared by
the members, and a client link to the test's namespace (``10.78.<3n+i>.2``, the host side
``.1``). ``partition(i)`` takes member ``i``'s bridge port down: its raft traffic stops,
its client port still answers, as when a member's peer network fails. Needs root and
iproute2 (``ip netns``), both of which CI has.

Several clusters may exist at once (pytest-xdist workers, each running its own tests): the
namespaces, bridge and veth names carry the process id, and the block ``n`` is one of the
xdist worker's own (``n = worker + k * workers``), the first whose client subnets no host
interface uses yet (a run that was killed may have left its links behind).
"""

from __future__ import annotations

import os
import subprocess
from types import TracebackType

from kvstore_etcd.launcher import EtcdServer

__all__ = ["NetnsCluster"]


_BLOCKS = 85
"""Blocks ``n`` of addresses: the client subnets ``10.78.<3n>`` to ``10.78.<3n+2>`` fit in 255."""


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


def _free_block() -> int:
    """A block of addresses of this xdist worker's that no host interface uses yet.

    The worker ``gw<w>`` of ``W`` takes the blocks ``w``, ``w + W``, ``w + 2W`` ..., so two
    workers never pick the same one; outside xdist, ``w = 0`` and ``W = 1``.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    index = int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0
    count = max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1))
    listed = subprocess.run(
        ["ip", "-4", "-o", "addr", "show"], check=True, capture_output=True, text=True, timeout=10
    ).stdout
    for block in range(index % _BLOCKS, _BLOCKS, count):
        if not any(f" 10.78.{3 * block + member}." in listed for member in range(3)):
            return block
    raise RuntimeError(f"no free 10.78.x.0/24 subnets for worker {worker or 'main'}:\n{listed}")


class _Member(EtcdServer):
    """An ``EtcdServer`` run inside a network namespace, on that namespace's addresses."""

    def __init__(
        self, binary: str, *, namespace: str, peer_ip: str, client_ip: str, **kwargs: object
    ) -> None:
        self.namespace = namespace
        self.peer_ip = peer_ip
        self.client_ip = client_ip
        super().__init__(binary, client_port=2379, peer_port=2380, metrics_port=2381, **kwargs)  # type: ignore[arg-type]

    @property
    def host(self) -> str:
        return self.client_ip

    @property
    def endpoint(self) -> str:
        return f"{self.client_ip}:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"http://{self.peer_ip}:{self.peer_port}"

    @property
    def metrics_url(self) -> str:
        return f"http://{self.client_ip}:{self.metrics_port}"

    def command(self) -> list[str]:
        return ["ip", "netns", "exec", self.namespace, *super().command()]


class NetnsCluster:
    """Three etcd members in namespaces of their own (see the module docstring)."""

    def __init__(self, binary: str) -> None:
        # The pid: unique among the live processes, and short enough for the 15-character
        # limit of interface names ("kvp" + at most 7 digits + "x0").
        tag = os.getpid()
        self._tag = tag
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        self.bridge = f"kvb{tag}"
        self.namespaces = [f"kvstore-{worker}-{tag}-m{index}" for index in range(3)]
        self.members: list[_Member] = []
        self._binary = binary
        self._subnet = _free_block()

    def __enter__(self) -> NetnsCluster:
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _peer_port(self, index: int) -> str:
        return f"kvp{self._tag}x{index}"

    def _build(self) -> None:
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("link", "set", self.bridge, "up")
        for index, namespace in enumerate(self.namespaces):
            _ip("netns", "add", namespace)
            _ip("-n", namespace, "link", "set", "lo", "up")
            # The peer link: the namespace's end, and a port on the members' bridge.
            _ip(
                "link",
                "add",
                "peer0",
                "netns",
                namespace,
                "type",
                "veth",
                "peer",
                "name",
                self._peer_port(index),
            )
            _ip("link", "set", self._peer_port(index), "master", self.bridge, "up")
            _ip(
                "-n",
                namespace,
                "addr",
                "add",
                f"10.77.{self._subnet}.{index + 1}/24",
                "dev",
                "peer0",
            )
            _ip("-n", namespace, "link", "set", "peer0", "up")
            # The client link: the namespace's end, and the host's end in this namespace.
            host_end = f"kvc{self._tag}x{index}"
            _ip(
                "link",
                "add",
                "client0",
                "netns",
                namespace,
                "type",
                "veth",
                "peer",
                "name",
                host_end,
            )
            client_net = f"10.78.{3 * self._subnet + index}"
            _ip("addr", "add", f"{client_net}.1/24", "dev", host_end)
            _ip("link", "set", host_end, "up")
            _ip("-n", namespace, "addr", "add", f"{client_net}.2/24", "dev", "client0")
            _ip("-n", namespace, "link", "set", "client0", "up")
        ips = [
            (f"10.77.{self._subnet}.{index + 1}", f"10.78.{3 * self._subnet + index}.2")
            for index in range(3)
        ]
        initial = ",".join(f"m{index}=http://{peer}:2380" for index, (peer, _) in enumerate(ips))
        for index, (peer, client) in enumerate(ips):
            self.members.append(
                _Member(
                    self._binary,
                    namespace=self.namespaces[index],
                    peer_ip=peer,
                    client_ip=client,
                    name=f"m{index}",
                    initial_cluster=initial,
                )
            )
        for member in self.members:
            member.start(wait=False)
        for member in self.members:
            member.wait_healthy()

    @property
    def endpoints(self) -> list[str]:
        return [member.endpoint for member in self.members]

    def partition(self, index: int) -> None:
        """Cut member ``index`` off from its peers (its client link stays up)."""
        _ip("link", "set", self._peer_port(index), "down")

    def heal(self, index: int) -> None:
        """Undo ``partition(index)``."""
        _ip("link", "set", self._peer_port(index), "up")

    def close(self) -> None:
        for member in self.members:
            member.close()
        for namespace in self.namespaces:
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True, timeout=10)
        for index in range(3):
            subprocess.run(
                ["ip", "link", "del", f"kvc{self._tag}x{index}"], capture_output=True, timeout=10
            )
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True, timeout=10)
