"""``Keyring``: the AES-256 keys of an ``EncryptedStore``, by integer id, with one primary.

The primary key seals every write; the other keys only open values written before a
rotation. A keyring is immutable: ``add``, ``with_primary``, ``rotate`` and ``without``
return new keyrings. Its ``repr`` shows key ids and the primary, never key material.

Key text (files and environment variables) holds one or more entries separated by
newlines, commas or spaces; ``#`` starts a comment. An entry is ``ID:KEY`` or, when it is
the only entry, a bare ``KEY`` (id 1). ``KEY`` is 32 bytes in hex (64 digits) or base64
(standard or URL-safe, padding optional). Without an explicit ``primary`` the highest id
is the primary, so a rotation is "append a line with a higher id".
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import string
from collections.abc import Iterator, Mapping
from typing import NoReturn

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kvstore.errors import ConfigurationError
from kvstore.keys import is_int
from kvstore.wrappers.encryption.envelope import KEY_BYTES

__all__ = ["DEFAULT_KEY_ENV", "Keyring"]

DEFAULT_KEY_ENV = "KVSTORE_ENCRYPTION_KEY"
"""The environment variable ``Keyring.from_env`` reads by default."""

_MAX_KEY_ID = 0xFFFFFFFF
_SEPARATORS = re.compile(r"[\s,]+")
_HEX_DIGITS = frozenset(string.hexdigits)


def _check_key_id(key_id: object) -> int:
    if not is_int(key_id, minimum=0, maximum=_MAX_KEY_ID):
        raise ConfigurationError(
            f"keyring: a key id is an int from 0 to {_MAX_KEY_ID}, not {key_id!r}"
        )
    return key_id


def _check_material(key_id: int, material: object) -> bytes:
    # The error names the type and length only: the material itself is secret.
    if isinstance(material, (bytearray, memoryview)):
        material = bytes(material)
    if not isinstance(material, bytes):
        raise ConfigurationError(
            f"keyring: key {key_id} must be {KEY_BYTES} bytes, not a "
            f"{type(material).__name__} (decode key text with Keyring.from_text)"
        )
    if len(material) != KEY_BYTES:
        raise ConfigurationError(
            f"keyring: key {key_id} must be exactly {KEY_BYTES} bytes (AES-256), "
            f"not {len(material)}"
        )
    return material


def _decode_key(token: str, where: str) -> bytes:
    if len(token) == 2 * KEY_BYTES and set(token) <= _HEX_DIGITS:
        return bytes.fromhex(token)
    standard = token.replace("-", "+").replace("_", "/")
    try:
        material = base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except (binascii.Error, ValueError):
        material = b""
    if len(material) != KEY_BYTES:
        raise ConfigurationError(
            f"keyring: {where} is not a {KEY_BYTES}-byte key in hex (64 digits) or base64"
        )
    return material


class Keyring:
    """AES-256 keys by integer id; the primary one encrypts, all of them decrypt.

    Args:
        keys: Key material by key id (ids 0 to 2**32-1, each key exactly 32 bytes).
        primary: The id of the key that encrypts new writes; default the highest id.

    Raises:
        ConfigurationError: No keys, a key that is not 32 bytes, an invalid id, or a
            ``primary`` that is not in ``keys``.

    Example::

        keyring = Keyring({1: old_key, 2: new_key}, primary=2)
    """

    __slots__ = ("_ciphers", "_keys", "_primary")

    def __init__(self, keys: Mapping[int, bytes], *, primary: int | None = None) -> None:
        if not isinstance(keys, Mapping) or not keys:
            raise ConfigurationError(
                "keyring: at least one key is needed (encryption never falls back to plaintext)"
            )
        checked: dict[int, bytes] = {}
        for key_id, material in keys.items():
            checked[_check_key_id(key_id)] = _check_material(key_id, material)
        if primary is None:
            primary = max(checked)
        elif _check_key_id(primary) not in checked:
            raise ConfigurationError(
                f"keyring: primary key id {primary} is not among the key ids {sorted(checked)}"
            )
        self._keys = dict(sorted(checked.items()))
        self._primary = primary
        self._ciphers = {key_id: AESGCM(material) for key_id, material in self._keys.items()}

    # ------------------------------------------------------------------ constructors

    @classmethod
    def single(cls, key: bytes, *, key_id: int = 1) -> Keyring:
        """A keyring of one key, which is the primary.

        Returns:
            A new keyring holding ``key`` under ``key_id``, as its primary.

        Raises:
            ConfigurationError: ``key`` is not exactly 32 bytes, or ``key_id`` is invalid.
        """
        return cls({key_id: key}, primary=key_id)

    @classmethod
    def from_text(
        cls, text: str, *, primary: int | None = None, source: str = "key text"
    ) -> Keyring:
        """Parse key text: ``ID:KEY`` entries (or one bare ``KEY``), hex or base64.

        Args:
            text: The entries, separated by newlines, commas or spaces; ``#`` comments.
            primary: The primary key id; default the highest id.
            source: Where the text came from (a file path, a variable name), for errors.

        Returns:
            A new keyring of the parsed keys, with ``primary`` (default: the highest id) as its
            primary.

        Raises:
            ConfigurationError: No entry, an entry that is not a 32-byte key, a duplicate
                or invalid id, or a bare key beside other entries. The message never
                repeats key text.
        """
        tokens = [
            token
            for line in text.splitlines()
            for token in _SEPARATORS.split(line.split("#", 1)[0])
            if token
        ]
        if not tokens:
            raise ConfigurationError(f"keyring: {source} holds no key")
        keys: dict[int, bytes] = {}
        for position, token in enumerate(tokens, start=1):
            where = f"entry {position} of {source}"
            id_text, colon, key_text = token.rpartition(":")
            if not colon:
                if len(tokens) > 1:
                    raise ConfigurationError(
                        f"keyring: {where} has no key id; with several keys, write ID:KEY"
                    )
                id_text, key_text = "1", token
            if not id_text.isdigit():
                raise ConfigurationError(f"keyring: {where} has an invalid key id")
            key_id = _check_key_id(int(id_text))
            if key_id in keys:
                raise ConfigurationError(f"keyring: {where} repeats key id {key_id}")
            keys[key_id] = _decode_key(key_text, where)
        return cls(keys, primary=primary)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], *, primary: int | None = None) -> Keyring:
        """Read a key file (see ``from_text`` for the format).

        Returns:
            A new keyring of the file's keys.

        Raises:
            ConfigurationError: The file cannot be read or does not hold valid keys.
        """
        name = os.fspath(path)
        try:
            with open(name, encoding="utf-8") as handle:
                text = handle.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigurationError(
                f"keyring: cannot read key file {name!r}: {type(exc).__name__}"
            ) from exc
        return cls.from_text(text, primary=primary, source=f"key file {name!r}")

    @classmethod
    def from_env(
        cls,
        variable: str = DEFAULT_KEY_ENV,
        *,
        primary: int | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Keyring:
        """Read keys from an environment variable (see ``from_text`` for the format).

        Args:
            variable: The variable's name.
            primary: The primary key id; default the highest id.
            environ: The variables to read (default ``os.environ``).

        Returns:
            A new keyring of the variable's keys.

        Raises:
            ConfigurationError: The variable is unset or empty, or does not hold valid keys.
        """
        value = (os.environ if environ is None else environ).get(variable, "")
        if not value.strip():
            raise ConfigurationError(
                f"keyring: environment variable {variable} is unset or empty; "
                "encryption needs a key"
            )
        return cls.from_text(value, primary=primary, source=f"environment variable {variable}")

    @staticmethod
    def generate_key() -> bytes:
        """A new random 32-byte key (from ``os.urandom``).

        Returns:
            32 random bytes, usable as an AES-256 key.
        """
        return os.urandom(KEY_BYTES)

    @staticmethod
    def encode_key(key: bytes) -> str:
        """``key`` as base64 text, the form key files and variables hold.

        Returns:
            The base64 text of ``key``.

        Raises:
            ConfigurationError: ``key`` is not exactly 32 bytes.
        """
        return base64.b64encode(_check_material(0, key)).decode("ascii")

    # ------------------------------------------------------------------ derived keyrings

    def add(self, key_id: int, key: bytes) -> Keyring:
        """A keyring with one more (decrypt-only) key; the primary stays.

        Returns:
            A new keyring (this one is not changed: keyrings are immutable).

        Raises:
            ConfigurationError: ``key_id`` is already in the keyring or invalid, or ``key``
                is not 32 bytes.
        """
        if _check_key_id(key_id) in self._keys:
            raise ConfigurationError(f"keyring: key id {key_id} is already in the keyring")
        return Keyring({**self._keys, key_id: key}, primary=self._primary)

    def with_primary(self, key_id: int) -> Keyring:
        """The same keys with ``key_id`` as the primary.

        Returns:
            A new keyring with the same keys and ``key_id`` as its primary.

        Raises:
            ConfigurationError: ``key_id`` is not in the keyring.
        """
        return Keyring(self._keys, primary=key_id)

    def rotate(self, key_id: int, key: bytes) -> Keyring:
        """Add ``key`` as ``key_id`` and make it the primary (older keys keep decrypting).

        Returns:
            A new keyring with ``key`` added as ``key_id``, the primary.

        Raises:
            ConfigurationError: As ``add``.
        """
        return self.add(key_id, key).with_primary(key_id)

    def without(self, key_id: int) -> Keyring:
        """A keyring without ``key_id`` (after ``reencrypt`` left no value under it).

        Returns:
            A new keyring without ``key_id``; the primary stays.

        Raises:
            ConfigurationError: ``key_id`` is the primary or not in the keyring.
        """
        if key_id == self._primary:
            raise ConfigurationError(f"keyring: key id {key_id} is the primary; cannot drop it")
        if key_id not in self._keys:
            raise ConfigurationError(f"keyring: key id {key_id} is not in the keyring")
        return Keyring({i: k for i, k in self._keys.items() if i != key_id}, primary=self._primary)

    # ------------------------------------------------------------------ queries

    @property
    def primary(self) -> int:
        """The id of the key that encrypts new writes."""
        return self._primary

    @property
    def key_ids(self) -> tuple[int, ...]:
        """Every key id, ascending."""
        return tuple(self._keys)

    def cipher(self, key_id: int) -> AESGCM | None:
        """The AES-256-GCM cipher of ``key_id``, or ``None`` if the keyring lacks it.

        Returns:
            The ``AESGCM`` cipher of ``key_id``, or ``None``.
        """
        return self._ciphers.get(key_id)

    def primary_cipher(self) -> AESGCM:
        """The cipher of the primary key.

        Returns:
            The ``AESGCM`` cipher of the primary key.
        """
        return self._ciphers[self._primary]

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._keys

    def __iter__(self) -> Iterator[int]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Keyring):
            return NotImplemented
        return self._primary == other._primary and self._keys == other._keys

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Keyring(key_ids={list(self._keys)}, primary={self._primary})"

    def __copy__(self) -> Keyring:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> Keyring:
        return self

    def __reduce__(self) -> NoReturn:
        # Pickling would write key material into whatever stores the pickle.
        raise TypeError("a Keyring holds secret keys and cannot be pickled")
