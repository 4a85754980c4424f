"""Tests of the fault proxy itself, against a loopback echo server (no etcd needed)."""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from .proxy import FaultProxy, ProxyMode

pytestmark = pytest.mark.reliability

_WAIT = 10.0


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while True:
            try:
                data = self.request.recv(65536)
            except OSError:
                return
            if not data:
                return
            self.request.sendall(data)


class _EchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@pytest.fixture
def echo_port() -> Iterator[int]:
    server = _EchoServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def proxy(echo_port: int) -> Iterator[FaultProxy]:
    with FaultProxy(echo_port, lifetime=60) as started:
        yield started


def _connect(proxy: FaultProxy) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=_WAIT)
    return sock


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def _closed_by_peer(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def _wait_until(condition: Callable[[], bool], timeout: float = _WAIT) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_pass_forwards_both_ways(proxy: FaultProxy) -> None:
    with _connect(proxy) as sock:
        payload = bytes(range(256)) * 1024
        sock.sendall(payload)
        assert _recv_exactly(sock, len(payload)) == payload
    # the proxy counts a chunk once its write has drained, which can be just after the
    # client has read it: the count is waited for, not read at once
    assert _wait_until(lambda: proxy.bytes_forwarded >= 2 * len(payload)), proxy.bytes_forwarded
    assert proxy.mode is ProxyMode.PASS


def test_delay_holds_bytes_back_then_delivers_them_in_order(proxy: FaultProxy) -> None:
    proxy.delay(1000)
    with _connect(proxy) as sock:
        sock.sendall(b"first")
        sock.sendall(b"second")
        sock.settimeout(0.2)
        with pytest.raises(TimeoutError):
            sock.recv(100)
        sock.settimeout(_WAIT)
        assert _recv_exactly(sock, 11) == b"firstsecond"


def test_blackhole_drops_bytes_keeps_connections_and_heal_closes_them(
    proxy: FaultProxy,
) -> None:
    with _connect(proxy) as before:
        before.sendall(b"ping")
        assert _recv_exactly(before, 4) == b"ping"
        proxy.blackhole()
        with _connect(proxy) as during:
            for sock in (before, during):
                sock.sendall(b"lost")
            assert _wait_until(lambda: proxy.bytes_dropped >= 8)
            for sock in (before, during):
                sock.settimeout(0.2)
                with pytest.raises(TimeoutError):
                    sock.recv(100)
                sock.settimeout(_WAIT)
            assert proxy.open_connections == 2
            proxy.pass_through()
            assert _closed_by_peer(before)
            assert _closed_by_peer(during)
    with _connect(proxy) as after:
        after.sendall(b"healed")
        assert _recv_exactly(after, 6) == b"healed"


def test_close_connections_resets_open_ones_and_keeps_serving(proxy: FaultProxy) -> None:
    with _connect(proxy) as first, _connect(proxy) as second:
        for sock in (first, second):
            sock.sendall(b"x")
            assert _recv_exactly(sock, 1) == b"x"
        assert proxy.close_connections() == 2
        assert _closed_by_peer(first)
        assert _closed_by_peer(second)
    with _connect(proxy) as third:
        third.sendall(b"y")
        assert _recv_exactly(third, 1) == b"y"


def test_unreachable_target_closes_the_client(echo_port: int) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        dead_port = unused.getsockname()[1]
    with FaultProxy(dead_port, lifetime=30) as proxy, _connect(proxy) as sock:
        assert _closed_by_peer(sock)


def test_only_loopback_targets_are_allowed() -> None:
    with pytest.raises(ValueError, match="loopback"):
        FaultProxy(2379, target_host="10.1.2.3")


def test_stops_by_itself_after_its_lifetime(echo_port: int) -> None:
    proxy = FaultProxy(echo_port, lifetime=0.3).start()
    try:
        assert _wait_until(lambda: not proxy.running)
        assert proxy.shutdown_reason is not None
        assert "lifetime" in proxy.shutdown_reason
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", proxy.port), timeout=2).close()
    finally:
        proxy.close()


def test_stops_after_forwarding_max_bytes(echo_port: int) -> None:
    with FaultProxy(echo_port, max_bytes=10_000, lifetime=30) as proxy, _connect(proxy) as sock:
        sock.sendall(b"z" * 50_000)
        assert _wait_until(lambda: not proxy.running)
        assert proxy.shutdown_reason is not None
        assert "bytes" in proxy.shutdown_reason
        assert proxy.bytes_forwarded < 50_000 * 2


def test_connections_over_the_cap_are_refused(echo_port: int) -> None:
    with FaultProxy(echo_port, max_connections=1, lifetime=30) as proxy, _connect(proxy) as ok:
        ok.sendall(b"a")
        assert _recv_exactly(ok, 1) == b"a"
        with _connect(proxy) as extra:
            assert _closed_by_peer(extra)
        assert proxy.connections_refused == 1
