"""How the command line reports a failure: one escaped line, plus a hint where it helps."""

from __future__ import annotations

import argparse
import socket
import ssl
import sys
from urllib.parse import urlsplit

import kvstore
from kvstore.cli._common import ETCD_DEFAULT_PORT, EXIT_ERROR, endpoints_of, first_line, printable
from kvstore.cli.urls import redact_url
from kvstore.errors import ConfigurationError, KVStoreError

__all__ = ["describe", "fail", "speaks_tls", "tls_hint"]

_TLS_PROBE_TIMEOUT = 1.0
_TLS_PROBE_MAX_ENDPOINTS = 3


def fail(message: str, prog: str = "kvstore", code: int = EXIT_ERROR) -> int:
    """Print ``prog: error: message`` (escaped) to stderr and return ``code``."""
    print(f"{prog}: error: {printable(message)}", file=sys.stderr)
    return code


def describe(error: KVStoreError, args: argparse.Namespace) -> str:
    """The error's first line, without the library's operation prefix, plus the store URL.

    The library names its primitive (``range:``, ``lease_revoke:``); the line's prefix
    already names the command the user typed, so the primitive's name is dropped.
    """
    message = first_line(error)
    is_open_error = isinstance(error, ConfigurationError) and message.startswith("open:")
    if error.operation and message.startswith(f"{error.operation}: "):
        message = message[len(error.operation) + 2 :]
    if isinstance(error, kvstore.UnavailableError | kvstore.OperationTimeoutError):
        message += f" (store: {redact_url(args.resolved_url)})"
    elif isinstance(error, kvstore.BackendNotFoundError | kvstore.PluginLoadError) or is_open_error:
        message += f" (url: {redact_url(args.resolved_url)})"
    return message


def speaks_tls(host: str, port: int) -> bool:
    """Whether ``host:port`` answers a TLS handshake (the certificate is not checked)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection((host, port), timeout=_TLS_PROBE_TIMEOUT) as raw,
            context.wrap_socket(raw),
        ):
            return True
    except ssl.SSLError as exc:
        # A TLS server that refuses us (e.g. wants a client certificate) still answers
        # with a TLS alert; a plaintext server's reply is no TLS record at all.
        return "ALERT" in (exc.reason or "").upper()
    except OSError:
        return False


def tls_hint(error: KVStoreError, url: str) -> str | None:
    """A hint when a plain ``etcd://`` URL failed because the server speaks TLS.

    Only given when an endpoint completes a TLS handshake (or answers with a TLS alert),
    so an unreachable plaintext server never gets a misleading hint.
    """
    if not isinstance(error, kvstore.UnavailableError):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() != "etcd":
        return None
    for endpoint in endpoints_of(url).split(",")[:_TLS_PROBE_MAX_ENDPOINTS]:
        try:
            address = urlsplit(f"//{endpoint}")
            host, port = address.hostname, address.port or ETCD_DEFAULT_PORT
        except ValueError:
            continue
        if host and speaks_tls(host, port):
            return f"{endpoint} speaks TLS: is the server using TLS? try etcds://"
    return None
