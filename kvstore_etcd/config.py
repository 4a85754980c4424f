"""``EtcdConfig``: everything needed to connect to etcd, as one frozen value.

Build it with keyword arguments, with the ``with_*`` builders (each returns a new
config), from a URL (``EtcdConfig.from_url("etcd://user@h1:2379,h2:2379?request_timeout=2")``)
or from the environment (``EtcdConfig.from_env()``, reading ``ETCD_ENDPOINTS`` ...): the
text is read by ``kvstore_etcd._config_parsing``, the value checks itself here. Then
``kvstore_etcd.new_client(config)`` opens the store (``new_async_client(config)`` the
asyncio one), or ``EtcdStore(config)`` the bare store.

The password can be given as a value, as the name of an environment variable
(``password_env``) or as a file (``password_file``); it is read when the store connects.

Encryption (``EncryptedStore`` around the etcd store) is enabled by one key source:
``with_encryption(key_or_keyring)`` in code, or, from configuration, a key file
(``encryption_key_file``) or an environment variable (``encryption_key_env``) in the
``kvstore.Keyring`` text format, read when ``new_client()`` opens the store. The config
only holds the key source: reading the keys and wrapping the store is
``kvstore.wrappers.compose`` (``resolve_keyring``, ``wrap_store``), the same code ``kvstore.open``
uses for every scheme. A URL never carries key material: ``?encryption_key=...`` is
refused. Passwords and encryption keys never appear in ``repr`` or in error messages.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

import attrs

from kvstore.errors import ConfigurationError
from kvstore.keys import MAX_REQUEST_BYTES
from kvstore.wrappers.compose import one_key_source, resolve_keyring
from kvstore.wrappers.encryption import Keyring
from kvstore_etcd._config_parsing import DEFAULT_PORT, env_options, parse_endpoints, url_options

__all__ = ["DEFAULT_PORT", "EtcdConfig"]

_MIB = 1024 * 1024


def _positive_seconds(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if (
        not isinstance(value, (int, float))
        or isinstance(value, bool)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ConfigurationError(
            f"etcd config: {attribute.name} must be a positive number of seconds, not {value!r}"
        )


def _seconds_or_off(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if (
        not isinstance(value, (int, float))
        or isinstance(value, bool)
        or not math.isfinite(value)
        or value < 0
    ):
        raise ConfigurationError(
            f"etcd config: {attribute.name} must be a number of seconds (0: off), not {value!r}"
        )


def _positive_int(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigurationError(
            f"etcd config: {attribute.name} must be a positive int, not {value!r}"
        )


def _optional_str(instance: object, attribute: attrs.Attribute[str | None], value: object) -> None:
    if value is not None and not isinstance(value, str):
        raise ConfigurationError(f"etcd config: {attribute.name} must be a str or None")


def _str(instance: object, attribute: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str):
        raise ConfigurationError(f"etcd config: {attribute.name} must be a str")


def _bool(instance: object, attribute: attrs.Attribute[bool], value: object) -> None:
    if not isinstance(value, bool):
        raise ConfigurationError(f"etcd config: {attribute.name} must be a bool")


def _encryption_key(
    instance: object, attribute: attrs.Attribute[bytes | None], value: object
) -> None:
    if value is None:
        return
    if not isinstance(value, bytes) or len(value) != 32:
        # Never echo the value: it is a secret, even when malformed.
        raise ConfigurationError(
            "etcd config: the encryption key must be exactly 32 bytes (AES-256)"
        )


def _keyring(instance: object, attribute: attrs.Attribute[Keyring | None], value: object) -> None:
    if value is not None and not isinstance(value, Keyring):
        raise ConfigurationError("etcd config: encryption_keyring must be a kvstore.Keyring")


@attrs.frozen
class EtcdConfig:
    """How to reach etcd: endpoints, timeouts, credentials, TLS, limits, encryption.

    Every field has the Go provider's default; all times are seconds (sub-second values are
    fine). The config is frozen: the ``with_*`` methods return a modified copy.

    Attributes:
        endpoints: ``host:port`` of each member; the store fails over between them.
        username: etcd user name (``""``: no authentication).
        password: The password (never shown in ``repr``); at most one of ``password``,
            ``password_env`` and ``password_file`` is given.
        password_env: Name of an environment variable holding the password.
        password_file: Path of a file holding the password (a trailing newline is dropped).
        dial_timeout: Most time spent connecting to an endpoint.
        dial_keepalive_time: Interval of gRPC keepalive pings on busy connections.
        dial_keepalive_timeout: How long a keepalive ping may stay unanswered.
        request_timeout: Bound of every call (reads, writes, leases, locks).
        enable_encryption: Wrap the store in ``EncryptedStore`` (needs exactly one of the
            four key sources below; set by each of them).
        encryption_key: 32-byte AES-256 key (never shown in ``repr``).
        encryption_keyring: A ``kvstore.Keyring`` (rotation: several keys, one primary;
            never shown in ``repr``).
        encryption_key_file: Path of a key file in ``Keyring`` text format, read when the
            store is opened.
        encryption_key_env: Name of an environment variable holding keys in ``Keyring``
            text format, read when the store is opened.
        max_call_send_msg_size: Largest gRPC message sent, in bytes.
        max_call_recv_msg_size: Largest gRPC message received, in bytes.
        max_txn_ops: Most operations per transaction (etcd's ``--max-txn-ops``).
        max_request_bytes: Request size limit (etcd's ``--max-request-bytes``).
        tls: Use TLS even without certificate files (system CA roots).
        cert: Client certificate file (PEM), for TLS client authentication.
        key: Private key file of ``cert`` (PEM).
        ca: CA certificate file (PEM) that signs the server certificates.
        insecure_skip_verify: Accept any server certificate (testing only).
        server_name: Name expected in the server certificate (default: the endpoint host).
        watch_buffer: Most events a watch holds unread before its stream parks it (see
            "Streams" in the README: it resumes from its next revision once half are read).
        auto_sync_interval: Every so many seconds, replace the endpoints by the members'
            client URLs (etcd's ``MemberList``, as Go's ``AutoSyncInterval``); 0 (the
            default) keeps the configured endpoints.
        coalesce_reads: Reads at the current revision issued concurrently leave as one
            etcd transaction of ranges (``max_txn_ops`` at most): those of one event-loop
            iteration on ``AsyncEtcdStore``, those issued while another read is in
            flight on ``EtcdStore`` (threads sharing it). Each stays linearizable and
            keeps its own result and error (see "Read coalescing" in the etcd backend's
            docs). On by default; ``False`` (``?coalesce_reads=0``) sends one ``Range``
            per read.
    """

    endpoints: tuple[str, ...] = attrs.field(default=("localhost:2379",), converter=parse_endpoints)
    username: str = attrs.field(default="", validator=_str)
    password: str = attrs.field(default="", repr=False, validator=_str)
    password_env: str | None = attrs.field(default=None, validator=_optional_str)
    password_file: str | None = attrs.field(default=None, validator=_optional_str)
    dial_timeout: float = attrs.field(default=5.0, validator=_positive_seconds)
    dial_keepalive_time: float = attrs.field(default=30.0, validator=_positive_seconds)
    dial_keepalive_timeout: float = attrs.field(default=10.0, validator=_positive_seconds)
    request_timeout: float = attrs.field(default=5.0, validator=_positive_seconds)
    enable_encryption: bool = attrs.field(default=False, validator=_bool)
    encryption_key: bytes | None = attrs.field(default=None, repr=False, validator=_encryption_key)
    encryption_keyring: Keyring | None = attrs.field(default=None, repr=False, validator=_keyring)
    encryption_key_file: str | None = attrs.field(default=None, validator=_optional_str)
    encryption_key_env: str | None = attrs.field(default=None, validator=_optional_str)
    max_call_send_msg_size: int = attrs.field(default=2 * _MIB, validator=_positive_int)
    max_call_recv_msg_size: int = attrs.field(default=2 * _MIB, validator=_positive_int)
    max_txn_ops: int = attrs.field(default=128, validator=_positive_int)
    max_request_bytes: int = attrs.field(default=MAX_REQUEST_BYTES, validator=_positive_int)
    tls: bool = attrs.field(default=False, validator=_bool)
    cert: str | None = attrs.field(default=None, validator=_optional_str)
    key: str | None = attrs.field(default=None, validator=_optional_str)
    ca: str | None = attrs.field(default=None, validator=_optional_str)
    insecure_skip_verify: bool = attrs.field(default=False, validator=_bool)
    server_name: str | None = attrs.field(default=None, validator=_optional_str)
    watch_buffer: int = attrs.field(default=10_000, validator=_positive_int)
    auto_sync_interval: float = attrs.field(default=0.0, validator=_seconds_or_off)
    coalesce_reads: bool = attrs.field(default=True, validator=_bool)

    def __attrs_post_init__(self) -> None:
        if (self.cert is None) != (self.key is None):
            raise ConfigurationError("etcd config: TLS cert and key must be given together")
        key_source = one_key_source(
            {
                "encryption_key": self.encryption_key,
                "encryption_keyring": self.encryption_keyring,
                "encryption_key_file": self.encryption_key_file,
                "encryption_key_env": self.encryption_key_env,
            },
            "etcd config",
        )
        password_sources = [
            name
            for name, value in (
                ("password", self.password or None),
                ("password_env", self.password_env),
                ("password_file", self.password_file),
            )
            if value is not None
        ]
        if len(password_sources) > 1:
            # Which one would win is a guess the user did not make; the values are not named.
            raise ConfigurationError(
                "etcd config: give one password source, not "
                f"{' and '.join(password_sources)} (a password in the URL counts as password)"
            )
        if key_source is not None and not self.enable_encryption:
            # A key source implies encryption: storing plaintext because a flag was
            # forgotten is the one failure encryption must never have.
            object.__setattr__(self, "enable_encryption", True)

    # ------------------------------------------------------------------ builders

    def with_endpoints(self, *endpoints: str) -> EtcdConfig:
        """A copy using ``endpoints`` (``"host:port"`` each; several fail over).

        Returns:
            A new ``EtcdConfig``; this one is not changed (configs are immutable).

        Raises:
            ConfigurationError: No endpoint, or a malformed one.
        """
        return attrs.evolve(self, endpoints=endpoints)

    def with_timeout(self, seconds: float) -> EtcdConfig:
        """A copy whose every call is bounded by ``seconds`` (``request_timeout``).

        Returns:
            A new ``EtcdConfig``; this one is not changed (configs are immutable).

        Raises:
            ConfigurationError: ``seconds`` is not positive.
        """
        return attrs.evolve(self, request_timeout=seconds)

    def with_dial_timeout(self, seconds: float) -> EtcdConfig:
        """A copy that waits at most ``seconds`` to connect to an endpoint.

        Returns:
            A new ``EtcdConfig``; this one is not changed (configs are immutable).

        Raises:
            ConfigurationError: ``seconds`` is not positive.
        """
        return attrs.evolve(self, dial_timeout=seconds)

    def with_auth(
        self,
        username: str,
        password: str = "",
        *,
        password_env: str | None = None,
        password_file: str | None = None,
    ) -> EtcdConfig:
        """A copy authenticating as ``username``, with a password given one of three ways.

        Returns:
            A new ``EtcdConfig``; this one is not changed (configs are immutable).

        Raises:
            ConfigurationError: ``username`` is empty, or more than one password source is
                given.
        """
        if not isinstance(username, str) or not username:
            raise ConfigurationError("etcd config: with_auth needs a non-empty user name")
        return attrs.evolve(
            self,
            username=username,
            password=password,
            password_env=password_env,
            password_file=password_file,
        )

    def with_tls(
        self,
        cert: str | None = None,
        key: str | None = None,
        ca: str | None = None,
        insecure_skip_verify: bool = False,
        *,
        server_name: str | None = None,
    ) -> EtcdConfig:
        """A copy that talks TLS: client ``cert``/``key`` (optional), trusted ``ca``.

        Args:
            cert: Client certificate file (PEM), with ``key``.
            key: Private key file (PEM) of ``cert``.
            ca: CA file (PEM) of the server certificates (default: system roots).
            insecure_skip_verify: Accept any server certificate (testing only).
            server_name: Expected name in the server certificate.

        Returns:
            A new ``EtcdConfig``; this one is not changed (configs are immutable).

        Raises:
            ConfigurationError: Only one of ``cert`` and ``key`` is given.
        """
        return attrs.evolve(
            self,
            tls=True,
            cert=cert,
            key=key,
            ca=ca,
            insecure_skip_verify=insecure_skip_verify,
            server_name=server_name,
        )

    def with_encryption(self, key_or_keyring: bytes | Keyring) -> EtcdConfig:
        """A copy whose store (``kvstore_etcd.new_client``) encrypts every value with AES-256-GCM.

        Args:
            key_or_keyring: A 32-byte key, or a ``kvstore.Keyring`` (several keys, the
                primary one encrypts). It replaces any other key source of this config.

        Returns:
            A new ``EtcdConfig``; this one is not changed (configs are immutable).

        Raises:
            ConfigurationError: A key that is not exactly 32 bytes, or neither a key nor a
                ``Keyring`` (the error never shows key material).
        """
        sources: dict[str, Any] = {
            "encryption_key": None,
            "encryption_keyring": None,
            "encryption_key_file": None,
            "encryption_key_env": None,
        }
        if isinstance(key_or_keyring, Keyring):
            sources["encryption_keyring"] = key_or_keyring
        elif isinstance(key_or_keyring, (bytes, bytearray)):
            sources["encryption_key"] = bytes(key_or_keyring)
        else:
            raise ConfigurationError(
                "etcd config: with_encryption needs a 32-byte key or a kvstore.Keyring, not "
                f"{type(key_or_keyring).__name__}"
            )
        return attrs.evolve(self, enable_encryption=True, **sources)

    # ------------------------------------------------------------------ derived values

    @property
    def uses_tls(self) -> bool:
        """Whether connections use TLS."""
        return self.tls or self.ca is not None or self.cert is not None or self.insecure_skip_verify

    def resolve_password(self) -> str:
        """The password, from ``password``, ``password_env`` or ``password_file``.

        Returns:
            The password, read now from its source; ``""`` when the config has none (no
            authentication).

        Raises:
            ConfigurationError: The variable is unset or the file cannot be read (the error
                names the variable or file, never the password).
        """
        if self.password:
            return self.password
        if self.password_env is not None:
            value = os.environ.get(self.password_env)
            if value is None:
                raise ConfigurationError(
                    f"etcd config: password variable ${self.password_env} is not set"
                )
            return value
        if self.password_file is not None:
            try:
                with open(self.password_file, encoding="utf-8") as handle:
                    return handle.read().rstrip("\r\n")
            except OSError as exc:
                raise ConfigurationError(
                    f"etcd config: cannot read password file {self.password_file!r}: {exc.strerror}"
                ) from None
        return ""

    def resolve_keyring(self) -> Keyring | None:
        """The encryption keys, from the key, the keyring, the key file or the variable.

        Read by ``kvstore.wrappers.compose.resolve_keyring``, as for every store URL.

        Returns:
            The ``Keyring``, or ``None`` when encryption is not enabled.

        Raises:
            ConfigurationError: Encryption is enabled without a key source, or the file or
                variable cannot be read or holds no valid key (the error names the file or
                variable, never key material).
        """
        if not self.enable_encryption:
            return None
        keyring = resolve_keyring(
            self.encryption_keyring if self.encryption_keyring is not None else self.encryption_key,
            key_file=self.encryption_key_file,
            key_env=self.encryption_key_env,
            where="etcd config",
        )
        if keyring is not None:
            return keyring
        raise ConfigurationError(
            "etcd config: encryption is enabled but no key is given (with_encryption(), "
            "encryption_key_file or encryption_key_env); there is no plaintext fallback"
        )

    # ------------------------------------------------------------------ parsing

    @classmethod
    def from_url(cls, url: str) -> EtcdConfig:
        """Parse ``etcd://[user[:password]@]host:port[,host:port...][?option=value&...]``.

        ``etcds://`` turns TLS on. Options are config field names (``request_timeout=2.5``,
        ``dial_timeout``, ``max_txn_ops``, ``ca``, ``cert``, ``key``,
        ``insecure_skip_verify``, ``server_name``, ``password_env``, ``password_file``,
        ``encryption_key_file``, ``encryption_key_env`` ...).

        Returns:
            The ``EtcdConfig`` the URL describes (no connection is made).

        Raises:
            ConfigurationError: The URL is malformed (a ``user:password@`` part anywhere but
                once before the first host, unbalanced IPv6 brackets ...), names an unknown
                option, gives a password both in the URL and as ``password_env`` /
                ``password_file``, or tries to carry a password or key material in an option
                (the error never repeats the URL or an option's value, which may be secret).
        """
        return cls(**url_options(url))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EtcdConfig:
        """Build a config from ``ETCD_*`` environment variables.

        Reads ``ETCD_ENDPOINTS`` (comma-separated), ``ETCD_USERNAME``, ``ETCD_PASSWORD``,
        ``ETCD_PASSWORD_FILE``, ``ETCD_REQUEST_TIMEOUT``, ``ETCD_DIAL_TIMEOUT``,
        ``ETCD_CACERT``, ``ETCD_CERT``, ``ETCD_KEY``, ``ETCD_INSECURE_SKIP_VERIFY``;
        unset variables keep the defaults.

        Args:
            environ: The variables to read (default ``os.environ``).

        Returns:
            The ``EtcdConfig`` the variables describe (no connection is made).

        Raises:
            ConfigurationError: A variable has an invalid value.
        """
        return cls(**env_options(environ))
