"""What every command group of the ``kvstore`` command line shares.

The store URL and its wrappers (``resolve_url``, ``open_store``), output and escaping
(``out``, ``printable`` ...), argument types, the one-line ``CommandError``, and
``CommandSet``, through which each group module adds its subcommands.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar, cast
from urllib.parse import urlsplit

import kvstore
from kvstore.types import KeyValue
from kvstore.wrappers.compose import WrapperOptions, split_url, wrap_store

if TYPE_CHECKING:
    from kvstore._sync.base import BaseStore

DEFAULT_URL = "etcd://localhost:2379"
"""The store used when neither ``--url`` nor the environment names one."""

URL_ENV_VAR = "KVSTORE_URL"
ENDPOINTS_ENV_VAR = "ETCD_ENDPOINTS"
KEY_FILE_ENV_VAR = "KVSTORE_ENCRYPTION_KEY_FILE"
KEY_ENV_VAR = "KVSTORE_ENCRYPTION_KEY"
NAMESPACE_ENV_VAR = "KVSTORE_NAMESPACE"
DEBUG_ENV_VAR = "KVSTORE_DEBUG"

ETCD_DEFAULT_PORT = 2379
"""etcd's standard client port."""

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_NOT_EXECUTABLE = 126
EXIT_NOT_FOUND = 127
EXIT_INTERRUPTED = 130

STORE_OPTIONS = ("url", "key_file", "namespace")
"""The options of the commands that open a store (accepted before or after the command)."""

Handler = Callable[[argparse.Namespace], int]


class CommandError(Exception):
    """A command-line mistake found by the CLI itself; printed as one line.

    Args:
        message: The line to print, without the ``kvstore COMMAND: error:`` prefix.
        code: The exit code (default 1).
    """

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr, exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class Terminated(Exception):
    """SIGTERM arrived; unwinds like Ctrl-C so that ``with`` blocks clean up."""


# ---------------------------------------------------------------------------- the store


def resolve_url(explicit: str | None, environ: dict[str, str] | None = None) -> str:
    """The store URL: ``explicit``, else ``$KVSTORE_URL``, else ``$ETCD_ENDPOINTS``, else default.

    Args:
        explicit: The ``--url`` argument, if given.
        environ: The environment to read (default ``os.environ``).

    Returns:
        A ``scheme://...`` URL.
    """
    env = os.environ if environ is None else environ
    if explicit:
        return explicit
    if env.get(URL_ENV_VAR, "").strip():
        return env[URL_ENV_VAR].strip()
    endpoints = [
        part.strip().split("://", 1)[-1].rstrip("/")
        for part in env.get(ENDPOINTS_ENV_VAR, "").split(",")
        if part.strip()
    ]
    if endpoints:
        return "etcd://" + ",".join(endpoints)
    return DEFAULT_URL


def store_options(args: argparse.Namespace) -> tuple[str, WrapperOptions]:
    """The backend URL and the wrapper options of the command's store.

    The URL's own options (``?namespace=``, ``?encryption_key_file=`` ...) and the flags
    (``--namespace``, ``--key-file``) may not contradict each other; the environment
    (``$KVSTORE_NAMESPACE``, ``$KVSTORE_ENCRYPTION_KEY_FILE``, ``$KVSTORE_ENCRYPTION_KEY``)
    fills in only what neither gives.

    Raises:
        ConfigurationError: A wrapper option of the URL is malformed.
        CommandError: A flag contradicts the URL.
    """
    backend_url, options = split_url(args.resolved_url)
    namespace = getattr(args, "namespace", None)
    if namespace is not None and options.get("namespace", namespace) != namespace:
        raise CommandError("--namespace and the URL's ?namespace= differ; give one of them")
    namespace = namespace or options.get("namespace") or os.environ.get(NAMESPACE_ENV_VAR)
    if namespace:
        options["namespace"] = namespace
    key_file = getattr(args, "key_file", None)
    url_has_keys = has_keys(options)
    if key_file is not None and url_has_keys and options.get("encryption_key_file") != key_file:
        raise CommandError("--key-file and the URL's ?encryption_key_...= differ; give one")
    if key_file is not None:
        options["encryption_key_file"] = key_file
    elif not url_has_keys and os.environ.get(KEY_FILE_ENV_VAR, "").strip():
        options["encryption_key_file"] = os.environ[KEY_FILE_ENV_VAR].strip()
    elif not url_has_keys and os.environ.get(KEY_ENV_VAR, "").strip():
        options["encryption_key_env"] = KEY_ENV_VAR
    return backend_url, options


def has_keys(options: WrapperOptions) -> bool:
    """Whether ``options`` name encryption keys."""
    return "encryption_key_file" in options or "encryption_key_env" in options


def open_store(
    args: argparse.Namespace, *, values: bool = True, allow_plaintext: bool = False
) -> BaseStore:
    """Open the command's store, wrapped as the URL, the flags and the environment ask.

    The wrappers are built by ``kvstore.wrappers.compose.wrap_store``, the composition
    ``kvstore.open`` uses: the backend is opened from the URL without its wrapper
    options, so a store is never wrapped (encrypted) twice.

    Args:
        args: The parsed command line.
        values: ``False`` for commands that read no values (cluster administration):
            the store is opened without wrappers and no key is read.
        allow_plaintext: Let the ``EncryptedStore`` read unencrypted values.

    Raises:
        ConfigurationError: The URL, a wrapper option or the encryption keys are invalid.
        BackendNotFoundError: No backend serves the URL's scheme.
        CommandError: A flag contradicts the URL.
    """
    backend_url, options = store_options(args)
    # kvstore.open is typed for applications (KVStore); what it builds is a BaseStore,
    # which the CLI needs for the primitives (and tests put a store of theirs in its place).
    store = cast("BaseStore", kvstore.open(backend_url))
    if not values:
        return store
    return wrap_store(store, allow_plaintext=allow_plaintext, **options)


def endpoints_of(url: str) -> str:
    """The ``host:port,...`` part of a store URL, the form ``$ETCD_ENDPOINTS`` takes."""
    return urlsplit(url).netloc.rpartition("@")[2]


# ---------------------------------------------------------------------------- output


def out(text: str = "") -> None:
    """Write a line to stdout, flushed."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def print_json(value: object) -> None:
    """Write ``value`` as one line of JSON."""
    out(json.dumps(value, sort_keys=False))


def value_json(value: bytes) -> dict[str, str]:
    """A value for JSON: ``{"value": text}``, or ``{"value_base64": ...}`` if not UTF-8."""
    try:
        return {"value": value.decode("utf-8")}
    except UnicodeDecodeError:
        return {"value_base64": base64.b64encode(value).decode("ascii")}


def kv_json(kv: KeyValue) -> dict[str, Any]:
    """A key-value and its metadata for JSON."""
    return {
        "key": kv.key,
        **value_json(kv.value),
        "create_revision": kv.create_revision,
        "mod_revision": kv.mod_revision,
        "version": kv.version,
        "lease": kv.lease,
    }


_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(char: str) -> str:
    named = _NAMED_ESCAPES.get(char)
    if named is not None:
        return named
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(text: str, *, keep: str = "") -> str:
    """``text`` safe to show on a terminal: each non-printable character as a Python escape.

    Line breaks, tabs, terminal escape codes, NUL and other characters for which
    ``str.isprintable()`` is false become ``\\n``, ``\\t``, ``\\x1b``, ``\\x00``,
    ``\\u2028`` ..., so a key or value is one line of visible text. Backslashes are left
    alone, so the result is for reading, not parsing: ``--json`` is the exact form.

    Args:
        text: A key, a value's text or a message.
        keep: Characters to leave as they are (``get`` keeps line breaks on a terminal).

    Returns:
        ``text`` with only printable characters (and those in ``keep``).
    """
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() or char in keep else _escape(char) for char in text)


def value_text(value: bytes, *, keep: str = "") -> str:
    """A value as visible text: UTF-8 where possible, backslash escapes for the rest."""
    return printable(value.decode("utf-8", "backslashreplace"), keep=keep)


def first_line(error: BaseException) -> str:
    """The first line of an error's message (its type's name if it has none)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def prog_of(args: argparse.Namespace) -> str:
    """The command as typed, ``kvstore lease revoke``: the prefix of its messages."""
    prog: str = args.parser.prog
    return prog


@contextlib.contextmanager
def stop_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM into ``Terminated`` in the main thread for the duration of the block."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise Terminated

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# ---------------------------------------------------------------------------- argument types

_Number = TypeVar("_Number", int, float)


def _positive(convert: Callable[[str], _Number], text: str, expected: str) -> _Number:
    try:
        number = convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if not number > 0:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return number


def positive_int(text: str) -> int:
    """An argument that is a positive integer."""
    return _positive(int, text, "a positive integer")


def positive_float(text: str) -> float:
    """An argument that is a positive number of seconds."""
    return _positive(float, text, "a positive number of seconds")


def lease_id(text: str) -> int:
    """Lease ids are hexadecimal, as etcdctl prints them (``0x`` optional)."""
    try:
        number = int(text, 16)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid lease id {text!r} (hexadecimal)") from None
    if number <= 0:
        raise argparse.ArgumentTypeError(f"invalid lease id {text!r} (must be positive)")
    return number


def namespace_arg(text: str) -> str:
    """A ``--namespace``: a non-empty key prefix."""
    if not text:
        raise argparse.ArgumentTypeError("the namespace is a non-empty prefix such as 'app/'")
    return text


# ---------------------------------------------------------------------------- subcommands


def _option_parsers() -> dict[str, Parser]:
    """The store options as parent parsers, accepted after the command too."""
    url = Parser(add_help=False)
    url.add_argument(
        "--url",
        default=argparse.SUPPRESS,
        help=f"store URL (default: ${URL_ENV_VAR}, else ${ENDPOINTS_ENV_VAR}, else {DEFAULT_URL})",
    )
    key_file = Parser(add_help=False)
    key_file.add_argument(
        "--key-file",
        default=argparse.SUPPRESS,
        help=f"encryption keys, ID:KEY per line (default: ${KEY_FILE_ENV_VAR}, ${KEY_ENV_VAR})",
    )
    prefix = Parser(add_help=False)
    prefix.add_argument(
        "--namespace",
        type=namespace_arg,
        default=argparse.SUPPRESS,
        metavar="PREFIX",
        help=f"work under the keys starting with PREFIX (default: ${NAMESPACE_ENV_VAR})",
    )
    return {"url": url, "key_file": key_file, "namespace": prefix}


class CommandSet:
    """The subcommands of a parser, each with the store options it takes.

    Args:
        parser: The parser that gets the subcommands.
        dest: The attribute naming the chosen subcommand.
        metavar: How the subcommand is shown in usage lines.
    """

    def __init__(
        self, parser: argparse.ArgumentParser, dest: str = "command", metavar: str = "COMMAND"
    ) -> None:
        self._commands = parser.add_subparsers(dest=dest, metavar=metavar, parser_class=Parser)
        self._commands.required = True
        self._options = _option_parsers()
        self.as_json = Parser(add_help=False)
        self.as_json.add_argument(
            "--json", action="store_true", help="machine-readable JSON output"
        )

    def add(
        self,
        name: str,
        handler: Handler | None,
        help_text: str,
        *parents: Parser,
        options: tuple[str, ...] = STORE_OPTIONS,
        **kwargs: Any,
    ) -> argparse.ArgumentParser:
        """Add the subcommand ``name``, run by ``handler`` (``None``: its parent's).

        Returns:
            The subcommand's parser; it sets ``handler`` (if given), ``parser`` (itself,
            for errors that name it) and ``options`` (the store options it takes).
        """
        sub = self._commands.add_parser(
            name,
            parents=[*(self._options[option] for option in options), *parents],
            help=help_text,
            description=help_text,
            **kwargs,
        )
        sub.set_defaults(parser=sub, options=options)
        if handler is not None:
            sub.set_defaults(handler=handler)
        return sub
