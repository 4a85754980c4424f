"""``ChannelSettings``: how a store's gRPC channels are made, options and TLS credentials.

Shared by the sync pool (``kvstore_etcd._endpoints``) and the asyncio one
(``kvstore_etcd._async._endpoints``), which differ only in the channel class they build
with these. gRPC Python cannot switch certificate verification off, so with
``insecure_skip_verify`` the server's own certificate is fetched without verification
and trusted as the root.
"""

from __future__ import annotations

import socket
import ssl
import threading
from typing import Any

import grpc

from kvstore.errors import ConfigurationError, UnavailableError
from kvstore_etcd.config import EtcdConfig

__all__ = ["ChannelSettings"]


def _read_file(path: str | None, what: str) -> bytes | None:
    if path is None:
        return None
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise ConfigurationError(
            f"etcd config: cannot read the TLS {what} file {path!r}: {exc.strerror}"
        ) from None


def _certificate_name(pem: str) -> str | None:
    """A name the certificate is valid for (DNS SAN, else IP SAN, else CN)."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    cert = x509.load_pem_x509_certificate(pem.encode())
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san = None
    if san is not None:
        dns = san.get_values_for_type(x509.DNSName)
        if dns:
            return str(dns[0])
        ips = san.get_values_for_type(x509.IPAddress)
        if ips:
            return str(ips[0])
    common = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(common[0].value) if common else None


class ChannelSettings:
    """How a store's channels are made: gRPC options and TLS credentials per endpoint.

    Shared by the sync pool and the asyncio one (``kvstore_etcd._async._endpoints``),
    which differ only in the channel class they build with these.

    Raises:
        ConfigurationError: A TLS file cannot be read.
    """

    def __init__(self, config: EtcdConfig) -> None:
        self.config = config
        self._credentials: grpc.ChannelCredentials | None = None
        self._unverified_cache: dict[str, tuple[grpc.ChannelCredentials, str | None]] = {}
        self._unverified_lock = threading.Lock()
        if config.uses_tls and not config.insecure_skip_verify:
            self._credentials = grpc.ssl_channel_credentials(
                root_certificates=_read_file(config.ca, "CA"),
                private_key=_read_file(config.key, "key"),
                certificate_chain=_read_file(config.cert, "certificate"),
            )

    def options(self) -> list[tuple[str, Any]]:
        """The gRPC channel options every endpoint gets."""
        config = self.config
        options: list[tuple[str, Any]] = [
            ("grpc.max_send_message_length", config.max_call_send_msg_size),
            ("grpc.max_receive_message_length", config.max_call_recv_msg_size),
            ("grpc.keepalive_time_ms", int(config.dial_keepalive_time * 1000)),
            ("grpc.keepalive_timeout_ms", int(config.dial_keepalive_timeout * 1000)),
            # Reconnect fast after a member restarts. min_reconnect_backoff_ms stays at its
            # default: it is also the connect deadline (100 ms would break slow handshakes).
            ("grpc.initial_reconnect_backoff_ms", 100),
            ("grpc.max_reconnect_backoff_ms", 1000),
            # One channel per endpoint, never shared with other stores in this process.
            ("grpc.use_local_subchannel_pool", 1),
        ]
        if config.server_name:
            options.append(("grpc.ssl_target_name_override", config.server_name))
        return options

    def needs_fetch(self, address: str) -> bool:
        """Whether ``credentials_for(address)`` would connect to fetch a certificate."""
        with self._unverified_lock:
            return (
                self.config.uses_tls
                and self._credentials is None
                and (address not in self._unverified_cache)
            )

    def channel_options(self, address: str) -> list[tuple[str, Any]]:
        """The gRPC channel options for ``address``.

        Raises:
            UnavailableError: With ``insecure_skip_verify``, the server certificate could
                not be fetched.
        """
        options = self.options()
        if self.config.uses_tls and self._credentials is None and not self.config.server_name:
            name = self._unverified(address)[1]
            if name:
                options.append(("grpc.ssl_target_name_override", name))
        return options

    def credentials_for(self, address: str) -> grpc.ChannelCredentials:
        """The TLS channel credentials for ``address``.

        Raises:
            UnavailableError: With ``insecure_skip_verify``, the server certificate could
                not be fetched.
        """
        if self._credentials is not None:
            return self._credentials
        return self._unverified(address)[0]

    def _unverified(self, address: str) -> tuple[grpc.ChannelCredentials, str | None]:
        with self._unverified_lock:
            cached = self._unverified_cache.get(address)
            if cached is None:
                cached = self._unverified_cache[address] = self._unverified_credentials(address)
            return cached

    def _unverified_credentials(self, address: str) -> tuple[grpc.ChannelCredentials, str | None]:
        """Credentials trusting whatever certificate ``address`` presents right now.

        gRPC Python cannot switch verification off, so the server's own certificate is
        fetched without verification and then trusted as the root.
        """
        host, _, port = address.rpartition(":")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        if self.config.cert is not None:
            context.load_cert_chain(self.config.cert, self.config.key)
        try:
            with (
                socket.create_connection(
                    (host.strip("[]"), int(port)), timeout=self.config.dial_timeout
                ) as raw,
                context.wrap_socket(raw) as tls,
            ):
                der = tls.getpeercert(binary_form=True)
        except (OSError, ssl.SSLError) as exc:
            raise UnavailableError(
                f"connect: no endpoint reachable: cannot fetch the TLS certificate of "
                f"{address}: {exc}",
                operation="connect",
            ) from exc
        if der is None:
            raise UnavailableError(
                f"connect: no endpoint reachable: {address} presented no TLS certificate",
                operation="connect",
            )
        pem = ssl.DER_cert_to_PEM_cert(der)
        credentials = grpc.ssl_channel_credentials(
            root_certificates=pem.encode(),
            private_key=_read_file(self.config.key, "key"),
            certificate_chain=_read_file(self.config.cert, "certificate"),
        )
        return credentials, _certificate_name(pem)
