"""Encryption keys: ``reencrypt`` (with a progress bar) and ``keygen``."""

from __future__ import annotations

import argparse
import sys
from typing import IO

from kvstore._sync.base import BaseStore
from kvstore.cli._common import (
    EXIT_ERROR,
    KEY_ENV_VAR,
    KEY_FILE_ENV_VAR,
    CommandError,
    CommandSet,
    has_keys,
    open_store,
    out,
    print_json,
    prog_of,
    store_options,
)
from kvstore.wrappers._sync.namespace import NamespacedStore
from kvstore.wrappers.encryption import EncryptedStore, Keyring

__all__ = ["ProgressBar", "cmd_keygen", "cmd_reencrypt", "register"]


class ProgressBar:
    """A progress bar redrawn in place on a terminal; elsewhere only a final summary line.

    Args:
        label: Printed before the bar and the summary.
        stream: Where to draw (default stderr).
        width: The bar's width in characters.
    """

    def __init__(self, label: str, stream: IO[str] | None = None, width: int = 30) -> None:
        self._label = label
        self._stream = stream if stream is not None else sys.stderr
        self._width = width
        self._tty = self._stream.isatty()
        self._shown = (-1, -1)
        self._latest = (0, 0)

    def update(self, done: int, total: int) -> None:
        """Record progress; redraw the bar when on a terminal and something changed."""
        self._latest = (done, total)
        if not self._tty or (done, total) == self._shown:
            return
        self._shown = (done, total)
        fraction = done / total if total else 1.0
        filled = int(self._width * fraction)
        bar = "#" * filled + "-" * (self._width - filled)
        self._stream.write(f"\r{self._label} [{bar}] {done}/{total}")
        self._stream.flush()

    def finish(self) -> None:
        """End the bar's line on a terminal; elsewhere write the one summary line."""
        if self._tty:
            self._stream.write("\n")
        else:
            done, total = self._latest
            self._stream.write(f"{self._label}: {done}/{total} value(s) examined\n")
        self._stream.flush()


def _encrypted_layer(store: BaseStore) -> tuple[EncryptedStore, str]:
    """The ``EncryptedStore`` in the chain ``store`` heads, and the namespace above it."""
    namespace = ""
    layer = store
    while not isinstance(layer, EncryptedStore):
        if isinstance(layer, NamespacedStore):
            namespace = layer.prefix + namespace
        inner = getattr(layer, "inner", None)
        if not isinstance(inner, BaseStore):
            raise CommandError("the store has no encryption layer")  # cannot happen: keys given
        layer = inner
    return layer, namespace


def cmd_reencrypt(args: argparse.Namespace) -> int:
    """Rewrite every value under a prefix that is not under the primary encryption key.

    With a namespace, the prefix is inside it, as for every command. Exit code 1 when some
    values could not be decrypted (they are left alone and listed).
    """
    if not has_keys(store_options(args)[1]):
        raise CommandError(
            f"needs the encryption keys: --key-file FILE, ${KEY_FILE_ENV_VAR} or ${KEY_ENV_VAR}"
        )
    with open_store(args, allow_plaintext=args.allow_plaintext) as store:
        encrypted, namespace = _encrypted_layer(store)
        bar = ProgressBar(prog_of(args))
        try:
            report = encrypted.reencrypt(namespace + args.prefix, progress=bar.update)
        finally:
            bar.finish()
    skipped = [key[len(namespace) :] for key in report.skipped]
    failed = [key[len(namespace) :] for key in report.failed]
    if args.json:
        print_json(
            {
                "prefix": args.prefix,
                "key_id": report.key_id,
                "examined": report.examined,
                "rewritten": report.rewritten,
                "current": report.current,
                "skipped": skipped,
                "failed": failed,
                "revision": report.revision,
            }
        )
    else:
        out(
            f"examined {report.examined} value(s) under {args.prefix!r}: "
            f"{report.rewritten} rewritten with key {report.key_id}, "
            f"{report.current} already current, {len(skipped)} changed meanwhile, "
            f"{len(failed)} undecryptable"
        )
        for key in failed:
            print(f"{prog_of(args)}: cannot decrypt {key!r} (left alone)", file=sys.stderr)
    return EXIT_ERROR if failed else 0


def cmd_keygen(args: argparse.Namespace) -> int:
    """Print a new random encryption key as an ``ID:KEY`` line of a key file."""
    key = Keyring.generate_key()
    Keyring.single(key, key_id=args.id)  # rejects an id a key file cannot hold
    out(f"{args.id}:{Keyring.encode_key(key)}")
    return 0


def _key_id(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a key id (an integer), got {text!r}") from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"expected a key id >= 0, got {text!r}")
    return number


def register(commands: CommandSet) -> None:
    """Add ``reencrypt`` and ``keygen``."""
    sub = commands.add(
        "reencrypt",
        cmd_reencrypt,
        "rewrite values under a prefix with the primary encryption key",
        commands.as_json,
    )
    sub.add_argument("--prefix", required=True, help="the key prefix to rewrite ('' for all)")
    sub.add_argument(
        "--allow-plaintext",
        action="store_true",
        help="encrypt plaintext values too (migrating a store to encryption)",
    )

    sub = commands.add(
        "keygen",
        cmd_keygen,
        "print a new random encryption key as an ID:KEY line: kvstore keygen > keys.txt "
        "(keep the file private); to rotate, append a key with a higher --id and reencrypt",
        options=(),
    )
    sub.add_argument("--id", type=_key_id, default=1, help="the key id (default 1)")
