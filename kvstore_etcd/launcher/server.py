"""`EtcdServer`: one etcd member run as a child process, and `EtcdTLS`, its TLS option."""

from __future__ import annotations

import os
import re
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

from kvstore_etcd.launcher._common import LOOPBACK, Launched, free_ports, http_json, http_text
from kvstore_etcd.launcher.binary import clean_environment, find_etcd_binary
from kvstore_etcd.launcher.errors import EtcdLaunchError

__all__ = ["EtcdServer", "EtcdTLS", "MemberOptions"]

_LOG_TAIL_LINES = 40
_STOP_TIMEOUT = 10.0


@dataclass(frozen=True)
class EtcdTLS:
    """TLS material for the members' client listeners.

    Attributes:
        cert_file: PEM server certificate (``--cert-file``); must be valid for 127.0.0.1.
        key_file: PEM private key of ``cert_file`` (``--key-file``).
        trusted_ca_file: PEM CA that signed the server certificate (the launcher's own
            calls verify the server with it) and, with ``client_cert_auth``, the client
            certificates etcd accepts (``--trusted-ca-file``).
        client_cert_auth: Require client certificates (``--client-cert-auth`` and
            ``--trusted-ca-file``).
        client_cert_file: Client certificate the launcher itself presents in `status()`
            calls when ``client_cert_auth`` is on.
        client_key_file: Private key of ``client_cert_file``.
    """

    cert_file: str
    key_file: str
    trusted_ca_file: str | None = None
    client_cert_auth: bool = False
    client_cert_file: str | None = None
    client_key_file: str | None = None

    def server_args(self) -> list[str]:
        """Return the etcd command-line flags for these files.

        Returns:
            The ``--cert-file`` / ``--key-file`` / ... flags.
        """
        args = [f"--cert-file={self.cert_file}", f"--key-file={self.key_file}"]
        # etcd requires a client certificate from every client as soon as it is given
        # --trusted-ca-file, with or without --client-cert-auth: only pass it with the latter.
        if self.client_cert_auth:
            if self.trusted_ca_file is not None:
                args.append(f"--trusted-ca-file={self.trusted_ca_file}")
            args.append("--client-cert-auth")
        return args

    def ssl_context(self) -> ssl.SSLContext:
        """Build an SSL context that trusts the CA and presents the client certificate.

        Returns:
            A client-side `ssl.SSLContext`.
        """
        context = ssl.create_default_context(cafile=self.trusted_ca_file)
        if self.trusted_ca_file is None:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.client_cert_file is not None:
            context.load_cert_chain(self.client_cert_file, self.client_key_file)
        return context


class MemberOptions(TypedDict, total=False):
    """The `EtcdServer` options that `EtcdCluster` passes to each of its members.

    Their meaning and defaults are those of `EtcdServer`'s arguments of the same names.
    """

    extra_args: Sequence[str]
    env: Mapping[str, str] | None
    heartbeat_interval: int
    election_timeout: int
    log_level: str
    startup_timeout: float
    tls: EtcdTLS | None


class EtcdServer(Launched):
    """One etcd member run as a child process.

    Used alone it is a single-member cluster with its own temporary directory; `EtcdCluster`
    builds several with a shared ``initial_cluster``. The process is launched by `start()`
    (or entering the context manager) and always cleaned up by `close()`, the context
    manager, or an ``atexit`` safety net. etcd's output goes to `log_path`.

    Args:
        binary: etcd binary; default `find_etcd_binary()`.
        name: Member name (``--name``).
        client_port: Client port on 127.0.0.1; default a free port.
        peer_port: Peer port on 127.0.0.1; default a free port.
        metrics_port: Plain-HTTP metrics/health port; default a free port.
        initial_cluster: ``--initial-cluster`` value; default this member alone.
        cluster_token: ``--initial-cluster-token``.
        base_dir: Directory holding ``data/`` and ``etcd.log``; default a new temporary
            directory, removed by `close()`. A given directory is left in place.
        extra_args: More etcd flags, appended last (so they override the defaults), e.g.
            ``["--max-txn-ops=256", "--auth-token=simple"]``.
        env: Extra environment variables for the process (inherited ``ETCD_*`` are dropped).
        heartbeat_interval: ``--heartbeat-interval`` in ms (short, for fast elections).
        election_timeout: ``--election-timeout`` in ms.
        log_level: ``--log-level``.
        startup_timeout: Seconds `start()` waits for the member to become healthy.
        tls: Serve clients over TLS with these files (client URLs become ``https``).

    Raises:
        EtcdNotFoundError: ``binary`` is None and no etcd binary is found.
    """

    def __init__(
        self,
        binary: str | None = None,
        *,
        name: str = "default",
        client_port: int | None = None,
        peer_port: int | None = None,
        metrics_port: int | None = None,
        initial_cluster: str | None = None,
        cluster_token: str = "kvstore-test",
        base_dir: str | os.PathLike[str] | None = None,
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        heartbeat_interval: int = 50,
        election_timeout: int = 500,
        log_level: str = "warn",
        startup_timeout: float = 20.0,
        tls: EtcdTLS | None = None,
    ) -> None:
        self.binary = binary if binary is not None else find_etcd_binary()
        self.name = name
        self._ports_given = client_port is not None or peer_port is not None
        ports = iter(free_ports(3))
        self.client_port = client_port if client_port is not None else next(ports)
        self.peer_port = peer_port if peer_port is not None else next(ports)
        self.metrics_port = metrics_port if metrics_port is not None else next(ports)
        self._initial_cluster = initial_cluster
        self.cluster_token = cluster_token
        self._owns_base_dir = base_dir is None
        self.base_dir = Path(
            tempfile.mkdtemp(prefix=f"kvstore-etcd-{name}-") if base_dir is None else base_dir
        )
        self.extra_args = list(extra_args)
        self.env = dict(env or {})
        self.heartbeat_interval = heartbeat_interval
        self.election_timeout = election_timeout
        self.log_level = log_level
        self.startup_timeout = startup_timeout
        self.tls = tls
        self._process: subprocess.Popen[bytes] | None = None
        self._paused = False
        self._closed = False
        self._has_started = False
        self._track()

    # -- addresses -------------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        """The etcd ``--data-dir`` (kept across restarts)."""
        return self.base_dir / "data"

    @property
    def log_path(self) -> Path:
        """File receiving etcd's stdout and stderr (appended across restarts)."""
        return self.base_dir / "etcd.log"

    @property
    def scheme(self) -> str:
        """``"https"`` when `tls` is set, else ``"http"``."""
        return "https" if self.tls is not None else "http"

    @property
    def host(self) -> str:
        """The loopback address the member listens on."""
        return LOOPBACK

    @property
    def endpoint(self) -> str:
        """Client endpoint as ``"127.0.0.1:port"``."""
        return f"{LOOPBACK}:{self.client_port}"

    @property
    def endpoints(self) -> list[str]:
        """Client endpoints (a list of one) as ``"127.0.0.1:port"`` strings."""
        return [self.endpoint]

    @property
    def client_url(self) -> str:
        """Client URL, e.g. ``"http://127.0.0.1:2379"``."""
        return f"{self.scheme}://{self.endpoint}"

    @property
    def client_urls(self) -> list[str]:
        """Client URLs (a list of one)."""
        return [self.client_url]

    @property
    def peer_url(self) -> str:
        """Peer URL used for raft traffic."""
        return f"http://{LOOPBACK}:{self.peer_port}"

    @property
    def metrics_url(self) -> str:
        """Plain-HTTP URL serving ``/health`` and ``/metrics``."""
        return f"http://{LOOPBACK}:{self.metrics_port}"

    @property
    def initial_cluster(self) -> str:
        """The ``--initial-cluster`` value."""
        return self._initial_cluster or f"{self.name}={self.peer_url}"

    @property
    def pid(self) -> int | None:
        """Process id while a process exists, else None."""
        if self._process is None or self._process.poll() is not None:
            return None
        return self._process.pid

    @property
    def is_running(self) -> bool:
        """Whether the etcd process exists (it may be paused)."""
        return self._process is not None and self._process.poll() is None

    @property
    def is_paused(self) -> bool:
        """Whether the process is stopped with SIGSTOP."""
        return self._paused and self.is_running

    def command(self) -> list[str]:
        """Return the full command line used to launch this member.

        Returns:
            The argv list.
        """
        args = [
            self.binary,
            f"--name={self.name}",
            f"--data-dir={self.data_dir}",
            f"--listen-client-urls={self.client_url}",
            f"--advertise-client-urls={self.client_url}",
            f"--listen-peer-urls={self.peer_url}",
            f"--initial-advertise-peer-urls={self.peer_url}",
            f"--listen-metrics-urls={self.metrics_url}",
            f"--initial-cluster={self.initial_cluster}",
            f"--initial-cluster-token={self.cluster_token}",
            "--initial-cluster-state=new",
            f"--heartbeat-interval={self.heartbeat_interval}",
            f"--election-timeout={self.election_timeout}",
            "--logger=zap",
            f"--log-level={self.log_level}",
        ]
        if self.tls is not None:
            args.extend(self.tls.server_args())
        args.extend(self.extra_args)
        return args

    # -- lifecycle -------------------------------------------------------------------

    def start(self, *, wait: bool = True, timeout: float | None = None) -> EtcdServer:
        """Launch the process (a restart reuses the data dir and ports, so it rejoins).

        Args:
            wait: Block until the member reports healthy.
            timeout: Seconds to wait; default `startup_timeout`.

        Returns:
            This server.

        Raises:
            EtcdLaunchError: Already running, closed, exited early, or not healthy in time
                (the message includes the tail of the etcd log).
        """
        if self._closed:
            raise EtcdLaunchError(f"etcd member {self.name!r} is closed")
        if self.is_running:
            raise EtcdLaunchError(f"etcd member {self.name!r} is already running")
        attempts = 1 if self._ports_given or self._has_started or self._initial_cluster else 3
        for attempt in range(attempts):
            self._spawn()
            if not wait:
                return self
            try:
                self.wait_healthy(timeout)
                return self
            except EtcdLaunchError:
                if attempt + 1 < attempts and self._lost_port_race():
                    # Another process grabbed a port between reservation and bind.
                    self._reap()
                    shutil.rmtree(self.data_dir, ignore_errors=True)
                    self.client_port, self.peer_port, self.metrics_port = free_ports(3)
                    continue
                self.kill()
                raise
        return self  # pragma: no cover - the loop always returns or raises

    def _spawn(self) -> None:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            log.write(f"--- launching: {' '.join(self.command())}\n".encode())
            log.flush()
            self._process = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=clean_environment(self.env),
                cwd=self.base_dir,
                # Own process group: a Ctrl-C aimed at pytest must not kill etcd mid-test.
                start_new_session=True,
            )
        self._paused = False
        self._has_started = True

    def _lost_port_race(self) -> bool:
        return (
            self._process is not None
            and self._process.poll() is not None
            and ("address already in use" in self.log_tail().lower())
        )

    def _reap(self) -> None:
        if self._process is not None:
            try:
                self._process.wait(timeout=_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._paused = False

    def restart(self, *, wait: bool = True, timeout: float | None = None) -> EtcdServer:
        """Stop the member gracefully (if running) and start it again.

        Args:
            wait: Block until the member reports healthy.
            timeout: Seconds to wait; default `startup_timeout`.

        Returns:
            This server.

        Raises:
            EtcdLaunchError: The member did not come back healthy in time.
        """
        self.stop()
        return self.start(wait=wait, timeout=timeout)

    def stop(self, timeout: float = _STOP_TIMEOUT) -> None:
        """Stop the process with SIGTERM and wait; SIGKILL if it does not exit in time.

        Args:
            timeout: Seconds to wait for a graceful exit.
        """
        if not self.is_running:
            self._paused = False
            return
        assert self._process is not None
        if self._paused:
            self.resume()
        self._process.terminate()
        try:
            self._process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def kill(self) -> None:
        """Kill the process with SIGKILL (a crash; works while paused) and reap it."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._paused = False

    def pause(self) -> None:
        """Freeze the process with SIGSTOP (it keeps its sockets but answers nothing).

        Raises:
            EtcdLaunchError: The member is not running.
        """
        self._signal(signal.SIGSTOP)
        self._paused = True

    def resume(self) -> None:
        """Continue a paused process with SIGCONT.

        Raises:
            EtcdLaunchError: The member is not running.
        """
        self._signal(signal.SIGCONT)
        self._paused = False

    def _signal(self, signum: int) -> None:
        if not self.is_running:
            raise EtcdLaunchError(f"etcd member {self.name!r} is not running")
        assert self._process is not None
        self._process.send_signal(signum)

    def close(self) -> None:
        """Stop the process and remove the temporary directory; safe to call twice.

        A member in its own temporary directory is killed (its data is deleted anyway);
        one in a given ``base_dir`` is stopped gracefully.
        """
        if self._closed:
            return
        try:
            if self._owns_base_dir:
                self.kill()
            else:
                self.stop()
        finally:
            self._closed = True
            if self._owns_base_dir:
                shutil.rmtree(self.base_dir, ignore_errors=True)
            self._untrack()

    def _running(self) -> bool:
        return self.is_running

    def __repr__(self) -> str:
        state = "paused" if self.is_paused else "running" if self.is_running else "stopped"
        return f"<EtcdServer {self.name} {self.client_url} {state}>"

    # -- observation -----------------------------------------------------------------

    def is_healthy(self) -> bool:
        """Ask the member's ``/health`` endpoint (true only once it has a leader).

        Returns:
            True when running, not paused, and reporting healthy.
        """
        if not self.is_running or self._paused:
            return False
        try:
            answer = http_json(f"{self.metrics_url}/health")
        except (OSError, ValueError):
            return False
        return isinstance(answer, dict) and str(answer.get("health")).lower() == "true"

    def wait_healthy(self, timeout: float | None = None) -> None:
        """Block until the member reports healthy.

        Args:
            timeout: Seconds to wait; default `startup_timeout`.

        Raises:
            EtcdLaunchError: The process exited or stayed unhealthy; the message includes
                the tail of the etcd log.
        """
        limit = self.startup_timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        while True:
            if not self.is_running:
                code = None if self._process is None else self._process.returncode
                raise EtcdLaunchError(
                    f"etcd member {self.name!r} exited (code {code}) before becoming healthy; "
                    f"log {self.log_path}:\n{self.log_tail()}"
                )
            if self.is_healthy():
                return
            if time.monotonic() >= deadline:
                raise EtcdLaunchError(
                    f"etcd member {self.name!r} not healthy after {limit:.1f}s; "
                    f"log {self.log_path}:\n{self.log_tail()}"
                )
            time.sleep(0.05)

    def is_leader(self) -> bool:
        """Whether this member currently reports itself raft leader (metrics gauge).

        Returns:
            True if running, not paused, and ``etcd_server_is_leader`` is 1.
        """
        return self._metric("etcd_server_is_leader") == 1.0

    def member_id(self) -> int | None:
        """The raft member id, read from the metrics endpoint.

        Returns:
            The id, or None if the member does not answer.
        """
        text = self._metrics_text()
        match = re.search(r'^etcd_server_id\{server_id="([0-9a-f]+)"\}', text or "", re.MULTILINE)
        return int(match.group(1), 16) if match else None

    def _metrics_text(self) -> str | None:
        if not self.is_running or self._paused:
            return None
        try:
            return http_text(f"{self.metrics_url}/metrics")
        except OSError:
            return None

    def metric(self, name: str) -> float | None:
        """The value of an unlabelled metric of the member (its ``/metrics`` page), for
        example ``etcd_debugging_mvcc_watcher_total``, the watchers it serves.

        Returns:
            The value, or None if the member does not answer or has no such metric.
        """
        return self._metric(name)

    def watch_counts(self) -> tuple[int, int]:
        """``(watch streams, watchers)`` the member serves now, from its metrics
        (``etcd_debugging_mvcc_watch_stream_total`` and ``..._watcher_total``)."""
        streams = self._metric("etcd_debugging_mvcc_watch_stream_total")
        watchers = self._metric("etcd_debugging_mvcc_watcher_total")
        return int(streams or 0), int(watchers or 0)

    def wait_for_watch_counts(
        self, expected: tuple[int, int], timeout: float = 5.0
    ) -> tuple[int, int]:
        """``watch_counts()`` once it equals ``expected``, or as it is after ``timeout``
        seconds (etcd updates them as it processes the streams' requests)."""
        deadline = time.monotonic() + timeout
        counts = self.watch_counts()
        while counts != expected and time.monotonic() < deadline:
            time.sleep(0.05)
            counts = self.watch_counts()
        return counts

    def _metric(self, name: str) -> float | None:
        text = self._metrics_text()
        match = re.search(rf"^{name} (\S+)$", text or "", re.MULTILINE)
        return float(match.group(1)) if match else None

    def status(self, timeout: float = 2.0) -> dict[str, Any]:
        """Call ``Maintenance.Status`` through etcd's JSON gateway.

        Args:
            timeout: Seconds for the HTTP call.

        Returns:
            The decoded JSON: ``header``, ``version``, ``leader`` (decimal member id string),
            ``raftTerm``, ``dbSize`` ...

        Raises:
            EtcdLaunchError: The member is not running or did not answer.
        """
        context = self.tls.ssl_context() if self.tls is not None else None
        try:
            answer = http_json(
                f"{self.client_url}/v3/maintenance/status", {}, timeout=timeout, context=context
            )
        except (OSError, ValueError) as exc:
            raise EtcdLaunchError(f"status of etcd member {self.name!r} failed: {exc}") from exc
        if not isinstance(answer, dict):
            raise EtcdLaunchError(f"unexpected status answer from {self.name!r}: {answer!r}")
        return answer

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """Return the last lines of the etcd log.

        Args:
            lines: How many lines.

        Returns:
            The text, or a note that there is no log yet.
        """
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])
