"""A loopback TCP fault proxy for the reliability tests.

``FaultProxy`` listens on ``127.0.0.1`` and forwards every connection to one loopback
target (usually one etcd member's client port). A test points a client at
``proxy.endpoint`` and then injects faults while the client runs:

- ``pass_through()``: forward bytes as they come (the default);
- ``delay(ms)``: deliver every chunk ``ms`` milliseconds late, in order, both ways;
- ``blackhole()``: keep connections open and accept new ones, but drop every byte, as a
  network partition does; connections that lost bytes are closed when the mode leaves
  ``BLACKHOLE`` (their streams are corrupt), as a healed partition's TCP resets would;
- ``close_connections()``: abort every open connection at once (a reset, the mode stays).

It is bounded so a failing test cannot leave it running or flood anything: it only talks
to loopback addresses, caps its connections and the bytes it forwards, and shuts itself
down after ``lifetime`` seconds. The event loop runs in one daemon thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import ipaddress
import threading
import time
from collections.abc import Callable
from types import TracebackType

__all__ = ["FaultProxy", "ProxyMode"]

_CHUNK_BYTES = 64 * 1024
_CONNECT_TIMEOUT = 5.0
_CALL_TIMEOUT = 10.0


class ProxyMode(enum.Enum):
    """What the proxy does with the bytes it receives."""

    PASS = "pass"
    DELAY = "delay"
    BLACKHOLE = "blackhole"


class _Connection:
    """One proxied client connection and its upstream half."""

    def __init__(self, client: asyncio.StreamWriter) -> None:
        self.client = client
        self.upstream: asyncio.StreamWriter | None = None
        self.tainted = False
        self.tasks: list[asyncio.Task[None]] = []

    def abort(self) -> None:
        for writer in (self.client, self.upstream):
            if writer is not None:
                writer.transport.abort()
        for task in self.tasks:
            task.cancel()


class FaultProxy:
    """Forward TCP connections from a loopback port to a loopback target, with faults.

    Args:
        target_port: The port to forward to.
        target_host: The host to forward to; must be a loopback address.
        listen_port: The port to listen on (0: a free one; see ``endpoint``).
        max_connections: Connections open at once; more are closed on accept.
        max_bytes: Total bytes forwarded (both ways) after which the proxy shuts down.
        lifetime: Seconds after which the proxy shuts itself down.

    Raises:
        ValueError: ``target_host`` is not a loopback address, or a bound is not positive.
    """

    def __init__(
        self,
        target_port: int,
        *,
        target_host: str = "127.0.0.1",
        listen_port: int = 0,
        max_connections: int = 64,
        max_bytes: int = 512 * 1024 * 1024,
        lifetime: float = 600.0,
    ) -> None:
        if not ipaddress.ip_address(target_host).is_loopback:
            raise ValueError(f"FaultProxy only forwards to loopback, not {target_host!r}")
        if max_connections < 1 or max_bytes < 1 or lifetime <= 0:
            raise ValueError("FaultProxy bounds must be positive")
        self.target_host = target_host
        self.target_port = target_port
        self.max_connections = max_connections
        self.max_bytes = max_bytes
        self.lifetime = lifetime
        self._listen_port = listen_port
        self._mode = ProxyMode.PASS
        self._delay_seconds = 0.0
        self._connections: set[_Connection] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopped = threading.Event()
        self._start_error: BaseException | None = None
        self._finished: asyncio.Event | None = None
        self.port = 0
        self.bytes_forwarded = 0
        self.bytes_dropped = 0
        self.connections_accepted = 0
        self.connections_refused = 0
        self.shutdown_reason: str | None = None

    # ------------------------------------------------------------------ public surface

    @property
    def endpoint(self) -> str:
        """``"127.0.0.1:port"`` to give to a client instead of the target."""
        return f"127.0.0.1:{self.port}"

    @property
    def mode(self) -> ProxyMode:
        """The current fault mode."""
        return self._mode

    @property
    def running(self) -> bool:
        """Whether the proxy still accepts and forwards connections."""
        return self._ready.is_set() and not self._stopped.is_set()

    @property
    def open_connections(self) -> int:
        """How many client connections are open now."""
        return len(self._connections)

    def start(self) -> FaultProxy:
        """Start listening (in a daemon thread) and return once the port is bound.

        Returns:
            This proxy.

        Raises:
            RuntimeError: Already started, or the listener could not be bound.
        """
        if self._thread is not None:
            raise RuntimeError("FaultProxy already started")
        self._thread = threading.Thread(target=self._run, name="fault-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(_CALL_TIMEOUT):
            raise RuntimeError("FaultProxy did not start in time")
        if self._start_error is not None:
            raise RuntimeError(f"FaultProxy could not listen: {self._start_error}")
        return self

    def pass_through(self) -> None:
        """Forward bytes immediately; close connections that lost bytes to a blackhole."""
        self._set_mode(ProxyMode.PASS, 0.0)

    def delay(self, milliseconds: float) -> None:
        """Deliver every chunk ``milliseconds`` late (order kept, throughput not capped).

        Raises:
            ValueError: ``milliseconds`` is negative.
        """
        if milliseconds < 0:
            raise ValueError("delay must be >= 0 ms")
        self._set_mode(ProxyMode.DELAY, milliseconds / 1000.0)

    def blackhole(self) -> None:
        """Drop every byte both ways, keeping connections open and accepting new ones."""
        self._set_mode(ProxyMode.BLACKHOLE, 0.0)

    def close_connections(self) -> int:
        """Abort every open connection (the mode is unchanged; new ones are accepted).

        Returns:
            How many connections were closed.
        """
        return self._call(lambda: self._abort_connections(lambda _: True))

    def close(self) -> None:
        """Stop listening and abort every connection; idempotent."""
        loop = self._loop
        if loop is not None and not self._stopped.is_set():
            with contextlib.suppress(RuntimeError):  # the loop already ended
                loop.call_soon_threadsafe(self._shutdown, "closed")
        if self._thread is not None:
            self._thread.join(_CALL_TIMEOUT)

    def __enter__(self) -> FaultProxy:
        if self._thread is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"<FaultProxy {self.endpoint} -> {self.target_host}:{self.target_port} "
            f"{self._mode.value} open={len(self._connections)}>"
        )

    # ------------------------------------------------------------------ loop side

    def _set_mode(self, mode: ProxyMode, delay_seconds: float) -> None:
        def apply() -> int:
            healing = self._mode is ProxyMode.BLACKHOLE and mode is not ProxyMode.BLACKHOLE
            self._mode = mode
            self._delay_seconds = delay_seconds
            if healing:
                return self._abort_connections(lambda connection: connection.tainted)
            return 0

        self._call(apply)

    def _call(self, function: Callable[[], int]) -> int:
        """Run ``function`` on the proxy's loop and return its result."""
        loop = self._loop
        if loop is None or self._stopped.is_set():
            raise RuntimeError("FaultProxy is not running")

        async def run() -> int:
            return function()

        return asyncio.run_coroutine_threadsafe(run(), loop).result(_CALL_TIMEOUT)

    def _abort_connections(self, predicate: Callable[[_Connection], bool]) -> int:
        chosen = [connection for connection in self._connections if predicate(connection)]
        for connection in chosen:
            connection.abort()
            self._connections.discard(connection)
        return len(chosen)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        finally:
            self._stopped.set()
            self._ready.set()
            loop.close()

    async def _serve(self) -> None:
        try:
            self._server = await asyncio.start_server(
                self._handle, "127.0.0.1", self._listen_port, reuse_address=True
            )
        except OSError as exc:
            self._start_error = exc
            return
        self.port = self._server.sockets[0].getsockname()[1]
        self._finished = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.call_later(self.lifetime, self._shutdown, f"lifetime of {self.lifetime}s reached")
        self._ready.set()
        await self._finished.wait()
        # Let aborted connections' tasks finish, so none is destroyed while pending.
        others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    def _shutdown(self, reason: str) -> None:
        if self.shutdown_reason is not None:
            return
        self.shutdown_reason = reason
        if self._server is not None:
            self._server.close()
        self._abort_connections(lambda _: True)
        if self._finished is not None:
            self._finished.set()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = _Connection(writer)
        if self.shutdown_reason is not None or len(self._connections) >= self.max_connections:
            self.connections_refused += 1
            writer.transport.abort()
            return
        self.connections_accepted += 1
        self._connections.add(connection)
        try:
            if self._mode is ProxyMode.BLACKHOLE:
                # A partitioned peer is unreachable: do not even open the upstream side.
                connection.tainted = True
                await self._drain_into_void(reader, connection)
                return
            try:
                upstream_reader, upstream = await asyncio.wait_for(
                    asyncio.open_connection(self.target_host, self.target_port),
                    _CONNECT_TIMEOUT,
                )
            except (OSError, asyncio.TimeoutError):
                return
            connection.upstream = upstream
            connection.tasks = [
                asyncio.create_task(self._pump(reader, upstream, connection)),
                asyncio.create_task(self._pump(upstream_reader, writer, connection)),
            ]
            await asyncio.wait(connection.tasks, return_when=asyncio.FIRST_COMPLETED)
        except (asyncio.CancelledError, ConnectionError, OSError):
            pass
        finally:
            connection.abort()
            self._connections.discard(connection)

    async def _drain_into_void(self, reader: asyncio.StreamReader, connection: _Connection) -> None:
        while True:
            data = await reader.read(_CHUNK_BYTES)
            if not data:
                return
            self.bytes_dropped += len(data)
            if self._mode is not ProxyMode.BLACKHOLE:
                return  # the partition healed: this connection's stream is corrupt

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        connection: _Connection,
    ) -> None:
        # Chunks go through a queue with their due time, so a delay adds latency without
        # capping throughput, and order is kept. An empty chunk marks the end of the stream.
        pending: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        sender = asyncio.create_task(self._send(pending, writer, connection))
        try:
            while True:
                data = await reader.read(_CHUNK_BYTES)
                if self._mode is ProxyMode.BLACKHOLE and data:
                    connection.tainted = True
                    self.bytes_dropped += len(data)
                    continue
                pending.put_nowait((time.monotonic() + self._delay_seconds, data))
                if not data:
                    break
            await sender
        except (ConnectionError, OSError):
            pass
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender

    async def _send(
        self,
        pending: asyncio.Queue[tuple[float, bytes]],
        writer: asyncio.StreamWriter,
        connection: _Connection,
    ) -> None:
        try:
            while True:
                due, data = await pending.get()
                if not data:
                    return
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if self._mode is ProxyMode.BLACKHOLE:
                    connection.tainted = True
                    self.bytes_dropped += len(data)
                    continue
                writer.write(data)
                await writer.drain()
                self.bytes_forwarded += len(data)
                if self.bytes_forwarded > self.max_bytes:
                    self._shutdown(f"forwarded more than {self.max_bytes} bytes")
                    return
        except (ConnectionError, OSError):
            connection.abort()
