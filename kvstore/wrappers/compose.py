"""Wrapper composition: the one place where wrapper stores are stacked on a backend store.

``kvstore.open(url)`` takes the wrapper options out of the URL's query, for every scheme,
opens the backend with the rest of the URL and hands the store to ``wrap_store``.
``kvstore_etcd.new_client(config)`` and the ``kvstore`` command line call the same ``wrap_store``,
so a store is never wrapped twice (no double encryption)::

    kvstore.open("memory://?namespace=app/")
    kvstore.open("etcd://h:2379?namespace=app/&encryption_key_file=/etc/app/keys&compress=1")

URL options (any scheme; the backend's plugin never sees them):

- ``namespace=PREFIX``: ``NamespacedStore(store, PREFIX)`` (percent-encode ``&``, ``+``,
  ``%`` and ``#`` in the prefix);
- ``encryption_key_file=PATH`` or ``encryption_key_env=VARIABLE``: ``EncryptedStore``
  with the keys read from that file or variable (``kvstore.Keyring`` text format);
  key material itself is refused in a URL (``?encryption_key=...``), never repeated;
- ``compress=1`` (``true``/``yes``/``on``; ``0``/``false``/``no``/``off`` to turn it off),
  optionally ``compress_level=N`` and ``compress_threshold=BYTES``: ``CompressedStore``;
- ``trace=1`` (the same flags), optionally ``trace_keys=1``: ``TracingStore``
  (OpenTelemetry spans and metrics, extra ``[otel]``; ``trace_keys`` records keys on
  spans), with the global tracer and meter providers.

The order is fixed, outermost first::

    NamespacedStore( CompressedStore( EncryptedStore( TracingStore( backend ) ) ) )

The namespace is outermost, so the encryption binds the full stored key, prefix included
(a value copied from one namespace to another does not decrypt); values are compressed
before they are encrypted, because ciphertext does not compress. Tracing is innermost,
so each span is one request the backend really gets.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, TypedDict, TypeVar, cast
from urllib.parse import unquote_plus

from kvstore._async.base import AsyncBaseStore
from kvstore._sync.base import BaseStore
from kvstore.errors import ConfigurationError
from kvstore.wrappers._async.namespace import AsyncNamespacedStore
from kvstore.wrappers._sync.namespace import NamespacedStore
from kvstore.wrappers.encryption import AsyncEncryptedStore, EncryptedStore, Keyring

__all__ = [
    "WRAPPER_ORDER",
    "WRAPPER_URL_OPTIONS",
    "WrapperOptions",
    "is_key_option",
    "one_key_source",
    "resolve_keyring",
    "split_url",
    "url_key_option",
    "wrap_store",
]

WRAPPER_ORDER = ("NamespacedStore", "CompressedStore", "EncryptedStore", "TracingStore")
"""The wrappers ``wrap_store`` may build, outermost first; the backend is innermost."""

WRAPPER_URL_OPTIONS = frozenset(
    {
        "namespace",
        "encryption_key_file",
        "encryption_key_env",
        "compress",
        "compress_level",
        "compress_threshold",
        "trace",
        "trace_keys",
    }
)
"""The query options ``split_url`` takes out of a store URL."""

_KEY_MATERIAL_OPTIONS = frozenset({"encryption_keyring", "encryption_keys", "keyring"})
_FLAGS = {
    **dict.fromkeys(("1", "true", "yes", "on"), True),
    **dict.fromkeys(("0", "false", "no", "off"), False),
}


class WrapperOptions(TypedDict, total=False):
    """The wrapper options of a URL, as ``wrap_store`` keyword arguments."""

    namespace: str
    encryption_key_file: str
    encryption_key_env: str
    compress: bool
    compress_level: int
    compress_threshold: int
    trace: bool
    trace_keys: bool


# ---------------------------------------------------------------------------- keys


def one_key_source(sources: Mapping[str, object], where: str = "open") -> str | None:
    """The name of the one key source given in ``sources`` (name -> value or ``None``).

    Returns:
        The name whose value is not ``None``, or ``None`` when none is.

    Raises:
        ConfigurationError: More than one source is given (the values are never shown).
    """
    given = [name for name, value in sources.items() if value is not None]
    if len(given) > 1:
        raise ConfigurationError(
            f"{where}: give one encryption key source, not {' and '.join(given)}",
            operation="open",
        )
    return given[0] if given else None


def resolve_keyring(
    keyring: Keyring | bytes | None = None,
    *,
    key_file: str | os.PathLike[str] | None = None,
    key_env: str | None = None,
    where: str = "open",
) -> Keyring | None:
    """The encryption keys from one source: a ``Keyring`` or 32-byte key, a key file, or
    an environment variable (both in ``Keyring`` text format, read now).

    Returns:
        The ``Keyring``, or ``None`` when no source is given.

    Raises:
        ConfigurationError: More than one source, a key that is not 32 bytes, or a file or
            variable that cannot be read or holds no valid key (the error names the file
            or variable, never key material).
    """
    source = one_key_source(
        {"keyring": keyring, "encryption_key_file": key_file, "encryption_key_env": key_env},
        where,
    )
    if source is None:
        return None
    if key_file is not None:
        return Keyring.from_file(key_file)
    if key_env is not None:
        return Keyring.from_env(key_env)
    if isinstance(keyring, Keyring):
        return keyring
    if isinstance(keyring, (bytes, bytearray)):
        return Keyring.single(bytes(keyring))
    raise ConfigurationError(
        f"{where}: the encryption keys are a kvstore.Keyring or a 32-byte key, not "
        f"{type(keyring).__name__}",
        operation="open",
    )


# ---------------------------------------------------------------------------- composition


_StoreT = TypeVar("_StoreT", BaseStore, AsyncBaseStore)
"""A sync or an asyncio store: the wrappers given back are of the same API."""


def wrap_store(
    store: _StoreT,
    *,
    namespace: str | None = None,
    keyring: Keyring | bytes | None = None,
    encryption_key_file: str | os.PathLike[str] | None = None,
    encryption_key_env: str | None = None,
    allow_plaintext: bool = False,
    compress: bool = False,
    compress_level: int | None = None,
    compress_threshold: int | None = None,
    trace: bool = False,
    trace_keys: bool = False,
) -> _StoreT:
    """Stack the requested wrappers on ``store``, in the one documented order.

    ``NamespacedStore( CompressedStore( EncryptedStore( TracingStore( store ) ) ) )``, each
    layer only when
    asked for; with no option, ``store`` itself is returned. An asyncio store gets the
    asyncio wrappers (``AsyncNamespacedStore`` ...). The wrappers own ``store`` from this
    call on: if the chain cannot be built, a sync ``store`` is closed (an asyncio store
    is left to the caller's ``aclose``: closing it needs its event loop).

    Args:
        store: The backend store (or any store) to wrap.
        namespace: Confine the store to the keys under this non-empty prefix.
        keyring: Encrypt values with these keys (a ``Keyring`` or one 32-byte key).
        encryption_key_file: Or read the keys from this file.
        encryption_key_env: Or read the keys from this environment variable.
        allow_plaintext: Let the ``EncryptedStore`` return values stored unencrypted
            (migrations; see ``EncryptedStore``); needs a key source.
        compress: Compress values (``CompressedStore``), before they are encrypted.
        compress_level: The compression level (``CompressedStore``'s default if ``None``).
        compress_threshold: Values shorter than this many bytes stay uncompressed
            (``CompressedStore``'s default if ``None``).
        trace: Trace every request to ``store`` (``TracingStore``, with the global
            OpenTelemetry providers; needs the ``[otel]`` extra).
        trace_keys: Record keys on the spans (``TracingStore(record_keys=True)``).

    Returns:
        The outermost store of the chain.

    Raises:
        ConfigurationError: An option is unusable: an empty namespace, more than one key
            source, an unreadable key file or variable, ``allow_plaintext`` or a
            compression setting without what it modifies (never showing key material),
            or tracing asked for without OpenTelemetry installed.
    """
    try:
        return _build(
            store,
            namespace=namespace,
            keyring=resolve_keyring(
                keyring, key_file=encryption_key_file, key_env=encryption_key_env
            ),
            allow_plaintext=allow_plaintext,
            compress=compress,
            compress_level=compress_level,
            compress_threshold=compress_threshold,
            trace=trace,
            trace_keys=trace_keys,
        )
    except BaseException:
        if isinstance(store, BaseStore):
            store.close()
        raise


def _build(
    store: _StoreT,
    *,
    namespace: str | None,
    keyring: Keyring | None,
    allow_plaintext: bool,
    compress: bool,
    compress_level: int | None,
    compress_threshold: int | None,
    trace: bool,
    trace_keys: bool,
) -> _StoreT:
    if namespace is not None and (not isinstance(namespace, str) or not namespace):
        raise ConfigurationError(
            "open: the namespace must be a non-empty prefix such as 'app/'", operation="open"
        )
    if allow_plaintext and keyring is None:
        raise ConfigurationError(
            "open: allow_plaintext needs encryption keys (a key file or variable)",
            operation="open",
        )
    compression = {"level": compress_level, "threshold": compress_threshold}
    if not compress and any(value is not None for value in compression.values()):
        raise ConfigurationError(
            "open: compress_level and compress_threshold need compress=1", operation="open"
        )
    if trace_keys and not trace:
        raise ConfigurationError("open: trace_keys needs trace=1", operation="open")
    if isinstance(store, AsyncBaseStore):
        encrypted: Any = AsyncEncryptedStore
        namespaced: Any = AsyncNamespacedStore
    else:
        encrypted, namespaced = EncryptedStore, NamespacedStore
    if trace:
        store = _traced(store, record_keys=trace_keys)
    if keyring is not None:
        store = encrypted(store, keyring, allow_plaintext=allow_plaintext)
    if compress:
        store = _compressed(store, compression)
    if namespace is not None:
        store = namespaced(store, namespace)
    return store


def _compressed(store: _StoreT, settings: Mapping[str, int | None]) -> _StoreT:
    """``CompressedStore(store, ...)`` (or the asyncio one), imported only when asked for."""
    from kvstore.wrappers._async.compression import AsyncCompressedStore
    from kvstore.wrappers._sync.compression import CompressedStore

    options = {name: value for name, value in settings.items() if value is not None}
    if isinstance(store, AsyncBaseStore):
        return AsyncCompressedStore(store, **options)
    return CompressedStore(store, **options)


def _traced(store: _StoreT, *, record_keys: bool) -> _StoreT:
    """``TracingStore(store)`` (or the asyncio one), imported only when asked for.

    Raises:
        ConfigurationError: OpenTelemetry is not installed (``pip install 'kvstore[otel]'``).
    """
    from kvstore.wrappers.tracing import AsyncTracingStore, TracingStore

    if isinstance(store, AsyncBaseStore):
        return AsyncTracingStore(store, record_keys=record_keys)
    return TracingStore(store, record_keys=record_keys)


# ---------------------------------------------------------------------------- URL options


def url_key_option(name: str, value: str, where: str = "open") -> str:
    """Check an ``encryption_key*`` URL option: only a file or a variable name may be given.

    Args:
        name: The option's name (``encryption_key_file``, ``encryption_key_env`` ...).
        value: Its value (a path or a variable name; never repeated if it is refused).
        where: The prefix of error messages.

    Returns:
        ``value``.

    Raises:
        ConfigurationError: The option would carry key material (``encryption_key=``,
            ``keyring=`` ...), or the path or variable name is empty.
    """
    if name in ("encryption_key_file", "encryption_key_env"):
        if not value.strip():
            raise ConfigurationError(f"{where}: {name} needs a value", operation="open")
        return value
    # URLs end up in logs, shell history and process lists: keys come from a file or
    # a variable, and the refused value is never repeated.
    raise ConfigurationError(
        f"{where}: {name} cannot be a URL option (key material never goes in a URL);"
        " use encryption_key_file=PATH or encryption_key_env=VARIABLE",
        operation="open",
    )


def is_key_option(name: str) -> bool:
    """Whether a URL option names encryption keys (``encryption_key*``, ``keyring`` ...).

    Returns:
        ``True`` if the option's value is key material (to be kept out of reprs and logs).
    """
    return name.startswith("encryption_key") or name in _KEY_MATERIAL_OPTIONS


def _int_option(name: str, value: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise ConfigurationError(
            f"open: {name} must be an integer, not {value!r}", operation="open"
        ) from None


def _url_option(name: str, value: str) -> Any:
    if name == "namespace":
        if not value:
            raise ConfigurationError(
                "open: ?namespace= needs a non-empty prefix such as 'app/'", operation="open"
            )
        return value
    if name in ("compress", "trace", "trace_keys"):
        flag = _FLAGS.get(value.strip().lower())
        if flag is None:
            raise ConfigurationError(
                f"open: {name} must be 1 or 0 (true/false, yes/no, on/off), not {value!r}",
                operation="open",
            )
        return flag
    if name in ("compress_level", "compress_threshold"):
        return _int_option(name, value)
    return url_key_option(name, value)


def split_url(url: str) -> tuple[str, WrapperOptions]:
    """Take the wrapper options out of a store URL's query.

    Args:
        url: ``scheme://...[?option=value&...]``.

    Returns:
        The URL without the wrapper options (what the backend's plugin gets; other query
        options stay as they were, in order) and the options, checked, as keyword
        arguments of ``wrap_store``.

    Raises:
        ConfigurationError: A wrapper option is malformed or given twice, or a query
            option would carry key material (never repeated).
    """
    base, mark, query = url.partition("?")
    if not mark:
        return url, WrapperOptions()
    kept: list[str] = []
    options: dict[str, Any] = {}
    for piece in query.split("&"):
        raw_name, _, raw_value = piece.partition("=")
        name = unquote_plus(raw_name)
        if name not in WRAPPER_URL_OPTIONS and not is_key_option(name):
            kept.append(piece)
            continue
        if name in options:
            raise ConfigurationError(f"open: ?{name}= is given twice", operation="open")
        options[name] = _url_option(name, unquote_plus(raw_value))
    one_key_source(
        {name: options.get(name) for name in ("encryption_key_file", "encryption_key_env")}
    )
    backend_url = f"{base}?{'&'.join(kept)}" if kept else base
    return backend_url, cast(WrapperOptions, options)
