"""Local development: ``serve`` (a local etcd) and ``demo`` (the feature walkthrough)."""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
import time

import kvstore
from kvstore.cli._async import demo as async_demo
from kvstore.cli._common import (
    ENDPOINTS_ENV_VAR,
    ETCD_DEFAULT_PORT,
    URL_ENV_VAR,
    CommandError,
    CommandSet,
    Terminated,
    endpoints_of,
    first_line,
    out,
    positive_int,
    prog_of,
    resolve_url,
    stop_on_sigterm,
)
from kvstore.cli._sync import demo
from kvstore.plugins.discovery import start_local_server

__all__ = [
    "SERVE_DEFAULT_PORT",
    "SERVE_SCHEME",
    "SERVE_WARNING",
    "cmd_demo",
    "cmd_serve",
    "register",
    "serve_port",
]

SERVE_SCHEME = "etcd"
"""The backend whose plugin ``kvstore serve`` asks for a local server."""

SERVE_DEFAULT_PORT = ETCD_DEFAULT_PORT
"""etcd's standard client port: ``serve`` takes it when free, so ``DEFAULT_URL`` just works."""

SERVE_WARNING = (
    "the bundled etcd 3.5.1 is for development and tests only: etcd 3.5.0-3.5.2 have a "
    "known data-inconsistency bug when a member is killed under load; run etcd >= 3.5.3 "
    "in production"
)


def _port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on ``host:port`` now (another may take it later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As etcd does: a port left in TIME_WAIT by a previous server is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def serve_port(requested: int | None, preferred: int = SERVE_DEFAULT_PORT) -> int | None:
    """The client port for ``serve``: ``requested``, else ``preferred`` if free, else any.

    Returns:
        The port, or ``None`` for "a free port, chosen by the launcher".
    """
    if requested is not None:
        return requested
    return preferred if _port_is_free(preferred) else None


def cmd_serve(args: argparse.Namespace) -> int:
    """Run a local etcd (through its backend plugin) until Ctrl-C or SIGTERM."""
    prog = prog_of(args)
    port = serve_port(args.port)
    server = None
    try:
        with stop_on_sigterm():
            server = start_local_server(
                SERVE_SCHEME, port=port, data_dir=args.data_dir, binary=args.etcd_binary
            )
            if server.warning:
                print(f"{prog}: warning: {server.warning}", file=sys.stderr)
            if port is None:
                print(
                    f"{prog}: port {SERVE_DEFAULT_PORT} is in use, so this server listens on "
                    "another port: use the export line below (or choose one with --port)",
                    file=sys.stderr,
                )
            out(f"{server.description} serving at {server.url}")
            endpoints = endpoints_of(server.url)
            out(f"  export {ENDPOINTS_ENV_VAR}={endpoints}   # or: --url {server.url}")
            if server.data_dir:
                kept = "" if args.data_dir else " (removed on exit)"
                out(f"  data dir: {server.data_dir}{kept}")
            out("Press Ctrl-C to stop.")
            while server.is_running:
                time.sleep(0.2)
            raise CommandError(f"{server.description} exited unexpectedly; see {server.log_path}")
    except (kvstore.BackendNotFoundError, kvstore.PluginLoadError) as exc:
        # Not about --url: serve opens no store, so the URL suffix of other errors misleads.
        raise CommandError(first_line(exc)) from exc
    except (KeyboardInterrupt, Terminated):
        if server is not None:
            print(f"stopping {server.description} ...", file=sys.stderr)
        return 0
    finally:
        if server is not None:
            server.stop()


def cmd_demo(args: argparse.Namespace) -> int:
    """Walk through the library's features (see ``kvstore.cli._sync.demo``)."""
    url = args.url or os.environ.get(URL_ENV_VAR) or None
    if url is None and os.environ.get(ENDPOINTS_ENV_VAR, "").strip():
        url = resolve_url(None)
    try:
        if args.use_async:
            return asyncio.run(async_demo.run(url))
        return demo.run(url)
    except demo.DemoError as exc:
        raise CommandError(first_line(exc)) from exc


def register(commands: CommandSet) -> None:
    """Add ``serve`` and ``demo``."""
    sub = commands.add(
        "serve",
        cmd_serve,
        f"start a local etcd for development; {SERVE_WARNING}",
        options=(),
    )
    sub.add_argument(
        "--port",
        type=positive_int,
        help=f"client port (default: {SERVE_DEFAULT_PORT} if free, else a free port)",
    )
    sub.add_argument("--data-dir", help="keep data here (default: a temporary directory)")
    sub.add_argument("--etcd-binary", help="etcd binary (default: $KVSTORE_ETCD_BIN, bundled)")

    sub = commands.add(
        "demo",
        cmd_demo,
        "walk through every feature; with no URL it starts a throwaway local etcd",
        options=("url",),
    )
    sub.add_argument(
        "--async",
        dest="use_async",
        action="store_true",
        help="run the same sections on the asyncio API (kvstore.open_async)",
    )
