"""The ``kvstore`` command line: read, write, watch and administer a store from a shell.

Every command opens the store named by ``--url``, else ``$KVSTORE_URL``, else
``$ETCD_ENDPOINTS`` (comma-separated ``host:port``, turned into ``etcd://...``), else
``etcd://localhost:2379``. The store is wrapped by ``kvstore.wrappers.compose.wrap_store``, as
``kvstore.open`` wraps it: the URL's own options (``?namespace=``,
``?encryption_key_file=`` ...), ``--namespace PREFIX`` (or ``$KVSTORE_NAMESPACE``) and
``--key-file`` (or ``$KVSTORE_ENCRYPTION_KEY_FILE`` / ``$KVSTORE_ENCRYPTION_KEY``) go into
that one composition, so values are encrypted and decrypted here, exactly once.

Mistakes and failures (a missing key, a bad argument, an unreachable server) print one line
to stderr, ``kvstore COMMAND: error: ...``, and exit non-zero, never a traceback. ``get``
writes the value's raw bytes to a pipe; ``--json`` gives machine-readable output where it
helps. Human-readable output never prints a key or value raw: every non-printable
character (line breaks, terminal escape codes, NUL ...) appears as a Python-style escape
(``\\n``, ``\\x1b``, ``\\x00``), so one key is one line and cannot drive the terminal.

Exit codes: 0 success, 1 a store or usage error, 2 bad command-line arguments,
130 interrupted; ``lock NAME -- CMD`` (and ``elect NAME PROPOSAL -- CMD``) exits with
``CMD``'s own exit code, 127 when ``CMD`` is not found and 126 when it cannot be run.

The commands live in one module per group: ``kv`` (get, put, del, ls, watch),
``coordination`` (lock, elect, lease), ``cluster`` (status, members, compact, defrag),
``encryption`` (reencrypt, keygen), ``server`` (serve, demo), ``ui`` (the web page,
which needs the ``[ui]`` extra); ``_common`` holds what they
share, ``_errors`` how failures are reported.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence

import kvstore
from kvstore.cli import _common, _errors, cluster, coordination, encryption, kv, server, ui
from kvstore.cli._common import (
    DEBUG_ENV_VAR,
    DEFAULT_URL,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    STORE_OPTIONS,
    CommandError,
    CommandSet,
    Handler,
    Parser,
    Terminated,
    first_line,
    namespace_arg,
    printable,
    prog_of,
    resolve_url,
)
from kvstore.cli._errors import describe, fail, tls_hint
from kvstore.cli.urls import redact_url
from kvstore.errors import KVStoreError

__all__ = ["DEFAULT_URL", "build_parser", "main", "printable", "redact_url", "resolve_url"]

GRPC_VERBOSITY_ENV_VAR = "GRPC_VERBOSITY"
GRPC_VERBOSITY = "NONE"
"""gRPC's C core otherwise logs its own lines (e.g. TLS handshake failures) beside our error."""

_ADDED_ENV_VARS: set[str] = set()
"""Variables ``main`` set for itself, kept out of the environment of ``lock``'s command."""

# The names the module had before it became a package, for callers and tests.
SERVE_DEFAULT_PORT = server.SERVE_DEFAULT_PORT
_serve_port = server.serve_port
_ProgressBar = encryption.ProgressBar
_endpoints_of = _common.endpoints_of
_speaks_tls = _errors.speaks_tls

_GROUPS = (kv, coordination, cluster, encryption, server, ui)
"""The command-group modules, in the order ``--help`` lists their commands."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``kvstore`` command.

    Returns:
        The parser; each subcommand sets ``handler``, ``parser`` (its own parser, for
        errors that name it) and ``options`` (the store options it takes).
    """
    parser = Parser(
        prog="kvstore",
        description="Read, write, watch and administer a kvstore (etcd, memory://, plugins).",
        epilog="Environment: KVSTORE_URL, ETCD_ENDPOINTS=host:port[,host:port], "
        "KVSTORE_NAMESPACE, KVSTORE_ENCRYPTION_KEY_FILE or KVSTORE_ENCRYPTION_KEY "
        "(keys: ID:KEY, hex or base64).",
    )
    parser.add_argument("--url", help="store URL (also accepted after the command)")
    parser.add_argument("--key-file", help="encryption key file (also after the command)")
    parser.add_argument(
        "--namespace",
        type=namespace_arg,
        metavar="PREFIX",
        help="work under the keys starting with PREFIX (also after the command)",
    )
    parser.add_argument("--version", action="version", version=f"kvstore {kvstore.__version__}")
    parser.set_defaults(parser=parser, options=())
    commands = CommandSet(parser)
    for group in _GROUPS:
        group.register(commands)
    return parser


def _quiet_grpc() -> None:
    """Keep gRPC's C core from logging beside our one-line errors (before grpc loads)."""
    if GRPC_VERBOSITY_ENV_VAR not in os.environ:
        os.environ[GRPC_VERBOSITY_ENV_VAR] = GRPC_VERBOSITY
        _ADDED_ENV_VARS.add(GRPC_VERBOSITY_ENV_VAR)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``kvstore`` command.

    Args:
        argv: The arguments (default ``sys.argv[1:]``).

    Returns:
        The exit code.
    """
    _quiet_grpc()
    parser = build_parser()
    args, unrecognized = parser.parse_known_args(argv)
    command_parser: argparse.ArgumentParser = args.parser
    if unrecognized:
        command_parser.error(f"unrecognized arguments: {' '.join(unrecognized)}")
    for dest in STORE_OPTIONS:
        if getattr(args, dest, None) is not None and dest not in args.options:
            flag = "--" + dest.replace("_", "-")
            command_parser.error(f"{flag} does not apply to {args.command}")
    args.resolved_url = resolve_url(getattr(args, "url", None))
    args.own_env_vars = frozenset(_ADDED_ENV_VARS)
    if not hasattr(args, "url"):
        args.url = None
    prog = prog_of(args)
    handler: Handler = args.handler
    try:
        return handler(args)
    except (KeyboardInterrupt, Terminated):
        return EXIT_INTERRUPTED
    except CommandError as exc:
        return fail(first_line(exc), prog, exc.code)
    except KVStoreError as exc:
        code = fail(describe(exc, args), prog)
        hint = tls_hint(exc, args.resolved_url)
        if hint:
            print(f"{prog}: hint: {hint}", file=sys.stderr)
        return code
    except BrokenPipeError:
        # The reader (e.g. `| head`) went away: not an error worth a message.
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silences the flush at exit
        return EXIT_ERROR
    except Exception as exc:
        if os.environ.get(DEBUG_ENV_VAR):
            raise
        return fail(
            f"unexpected {type(exc).__name__}: {exc} (set {DEBUG_ENV_VAR}=1 for a traceback)",
            prog,
        )
