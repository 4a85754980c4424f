"""The web page: ``kvstore ui [--url URL] [--key-file F] [--write] [--port N] [--demo]``.

Serves ``kvstore.ui`` on 127.0.0.1 (a free port unless ``--port``) and prints its URL
with a random token. Needs the ``[ui]`` extra; without it the command says which
``pip install`` to run. ``--demo`` without ``--url`` opens ``memory://`` and seeds it
with the demo's sample data (``kvstore.cli._sync.demo.seeded``).
"""

from __future__ import annotations

import argparse
import asyncio

from kvstore.cli._common import CommandSet, positive_int, stop_on_sigterm, store_options
from kvstore.wrappers.compose import resolve_keyring

__all__ = ["DEMO_URL", "cmd_ui", "register"]

DEMO_URL = "memory://"
"""The store ``kvstore ui --demo`` opens when no URL is given."""


def cmd_ui(args: argparse.Namespace) -> int:
    """Serve the UI until Ctrl-C or SIGTERM.

    Raises:
        ConfigurationError: The ``[ui]`` extra is missing, the URL or the keys are
            invalid, or the port is taken.
        KVStoreError: The store cannot be reached.
    """
    from kvstore import ui  # the [ui] extra: ConfigurationError naming it if missing

    if args.demo and not args.url:
        args.resolved_url = DEMO_URL
    backend_url, options = store_options(args)
    keyring = resolve_keyring(
        key_file=options.pop("encryption_key_file", None),
        key_env=options.pop("encryption_key_env", None),
        where="ui",
    )
    with stop_on_sigterm():
        asyncio.run(
            ui.run(
                backend_url,
                keyring=keyring,
                namespace=options.get("namespace"),
                compress=options.get("compress"),
                write=args.write,
                port=args.port,
                demo=args.demo,
            )
        )
    return 0


def register(commands: CommandSet) -> None:
    """Add ``ui``."""
    sub = commands.add(
        "ui",
        cmd_ui,
        "serve a local web page (127.0.0.1) to browse the store: keys, values, history, "
        "live changes, leases, locks, cluster; read-only unless --write",
    )
    sub.add_argument(
        "--write", action="store_true", help="allow put, delete and delete-prefix from the page"
    )
    sub.add_argument("--port", type=positive_int, help="port on 127.0.0.1 (default: a free one)")
    sub.add_argument(
        "--demo",
        action="store_true",
        help=f"seed the store with the demo's sample data (default URL: {DEMO_URL})",
    )
