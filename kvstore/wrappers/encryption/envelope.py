"""The encrypted value format (envelope version 1): sealing, opening, reading the header.

Layout (all integers big-endian)::

    offset  size  field
    0       3     magic        b"kve"
    3       1     version      0x01
    4       1     algorithm    0x01 = AES-256-GCM
    5       4     key id       uint32, the keyring id of the key that sealed the value
    9       12    nonce        random (os.urandom), new for every write
    21      n     ciphertext   same length as the plaintext
    21+n    16    tag          the GCM authentication tag

    AAD = envelope[0:9] (magic, version, algorithm, key id) + the key name in UTF-8

An envelope is 37 bytes longer than its plaintext. The nonce is not in the AAD: GCM
already authenticates it (a changed nonce derives a different keystream and tag). Binding
the key name means a value copied or moved to another key fails to open; binding the
header means a changed version, algorithm or key id fails to open.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable

import attrs
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kvstore.errors import DecryptionError

__all__ = [
    "ALGORITHM_AES_256_GCM",
    "HEADER_BYTES",
    "KEY_BYTES",
    "MAGIC",
    "NONCE_BYTES",
    "OVERHEAD_BYTES",
    "TAG_BYTES",
    "VERSION",
    "EnvelopeHeader",
    "has_magic",
    "open_envelope",
    "read_header",
    "seal",
]

MAGIC = b"kve"
VERSION = 1
ALGORITHM_AES_256_GCM = 1
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16

_HEADER = struct.Struct(">3sBBI")
HEADER_BYTES = _HEADER.size
"""Magic, version, algorithm and key id: the part of the envelope that is AAD."""

OVERHEAD_BYTES = HEADER_BYTES + NONCE_BYTES + TAG_BYTES
"""How many bytes an envelope adds to its plaintext (37)."""


@attrs.frozen
class EnvelopeHeader:
    """The readable part of an envelope (nothing in it is secret).

    Attributes:
        version: The envelope version (1).
        algorithm: The algorithm id (1: AES-256-GCM).
        key_id: The keyring id of the key that sealed the value.
    """

    version: int
    algorithm: int
    key_id: int


def has_magic(value: bytes) -> bool:
    """Whether ``value`` starts like an envelope (it may still be corrupt)."""
    return value[: len(MAGIC)] == MAGIC


def _aad(header: bytes, key: str) -> bytes:
    return header + key.encode("utf-8")


def seal(cipher: AESGCM, key_id: int, key: str, plaintext: bytes) -> bytes:
    """Encrypt ``plaintext`` for ``key`` into a version 1 envelope.

    Args:
        cipher: The AES-256-GCM cipher of the key ``key_id``.
        key_id: Its keyring id (written in the header).
        key: The store key the value is written at (bound through the AAD).
        plaintext: The value.

    Returns:
        The envelope, ``OVERHEAD_BYTES`` longer than ``plaintext``.
    """
    header = _HEADER.pack(MAGIC, VERSION, ALGORITHM_AES_256_GCM, key_id)
    nonce = os.urandom(NONCE_BYTES)
    return header + nonce + cipher.encrypt(nonce, plaintext, _aad(header, key))


def read_header(key: str, envelope: bytes, *, operation: str) -> EnvelopeHeader:
    """Parse and check the header of ``envelope`` without decrypting it.

    Raises:
        DecryptionError: The value has no magic, is shorter than an empty envelope, or has
            an unknown version or algorithm.
    """
    if not has_magic(envelope):
        raise DecryptionError(
            f"{operation}: the value of key {key!r} is not encrypted (no 'kve' envelope)",
            key=key,
            operation=operation,
        )
    if len(envelope) < OVERHEAD_BYTES:
        raise DecryptionError(
            f"{operation}: the value of key {key!r} is a truncated envelope "
            f"({len(envelope)} bytes, at least {OVERHEAD_BYTES} expected)",
            key=key,
            operation=operation,
        )
    _, version, algorithm, key_id = _HEADER.unpack_from(envelope)
    if version != VERSION:
        raise DecryptionError(
            f"{operation}: the value of key {key!r} has envelope version {version}; "
            f"this kvstore reads version {VERSION}",
            key=key,
            operation=operation,
        )
    if algorithm != ALGORITHM_AES_256_GCM:
        raise DecryptionError(
            f"{operation}: the value of key {key!r} names unknown algorithm {algorithm}",
            key=key,
            operation=operation,
        )
    return EnvelopeHeader(version, algorithm, key_id)


def open_envelope(
    cipher_for: Callable[[int], AESGCM | None], key: str, envelope: bytes, *, operation: str
) -> bytes:
    """Authenticate and decrypt an envelope stored at ``key``.

    Args:
        cipher_for: Returns the cipher of a key id, or ``None`` if the keyring lacks it.
        key: The store key the envelope was read from.
        envelope: The stored value.
        operation: The calling operation, for error messages.

    Returns:
        The plaintext.

    Raises:
        DecryptionError: The header is invalid, the key id is not in the keyring, or
            authentication failed (wrong key, changed byte, truncated, or a value written
            for another key).
    """
    header = read_header(key, envelope, operation=operation)
    cipher = cipher_for(header.key_id)
    if cipher is None:
        raise DecryptionError(
            f"{operation}: the value of key {key!r} was encrypted with key id "
            f"{header.key_id}, which is not in the keyring",
            key=key,
            operation=operation,
        )
    nonce = envelope[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES]
    sealed = envelope[HEADER_BYTES + NONCE_BYTES :]
    try:
        return cipher.decrypt(nonce, sealed, _aad(envelope[:HEADER_BYTES], key))
    except InvalidTag as exc:
        raise DecryptionError(
            f"{operation}: the value of key {key!r} failed authentication with key id "
            f"{header.key_id} (corrupted, truncated, or written for another key)",
            key=key,
            operation=operation,
        ) from exc
