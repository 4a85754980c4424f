"""Throwaway TLS material for tests: `make_test_pki` writes a CA, server and client certificates.

`PKIFiles.etcd_tls` turns them into the launcher's `EtcdTLS` option.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kvstore_etcd.launcher._common import LOOPBACK
from kvstore_etcd.launcher.server import EtcdTLS

__all__ = ["PKIFiles", "make_test_pki"]

_CERTIFICATE_LIFETIME_DAYS = 1


@dataclass(frozen=True)
class PKIFiles:
    """PEM files written by `make_test_pki`: one CA, a server and client certificates.

    Attributes:
        ca_file: The CA certificate that signed every certificate below.
        server_cert_file: Server certificate valid for ``127.0.0.1`` and ``localhost``.
        server_key_file: Private key of ``server_cert_file``.
        clients: Client name (the certificate's CN) -> (certificate path, key path).
        other_ca_file: A second, unrelated CA, for "wrong CA" tests.
    """

    ca_file: str
    server_cert_file: str
    server_key_file: str
    clients: Mapping[str, tuple[str, str]]
    other_ca_file: str

    def client(self, name: str) -> tuple[str, str]:
        """Return the certificate and key paths of one client.

        Args:
            name: A name given to `make_test_pki` in ``client_names``.

        Returns:
            ``(certificate path, key path)``.

        Raises:
            KeyError: No client certificate was made for ``name``.
        """
        return self.clients[name]

    def etcd_tls(self, client: str | None = None, *, client_cert_auth: bool = True) -> EtcdTLS:
        """Build the launcher's TLS option from these files.

        Args:
            client: Client whose certificate the launcher presents in its own calls
                (`EtcdServer.status`, `enable_auth`); default the first client name.
            client_cert_auth: Make etcd require client certificates signed by the CA;
                without it any client that trusts the CA may connect (no client
                certificate needed).

        Returns:
            An `EtcdTLS` for `EtcdServer` / `EtcdCluster`.

        Raises:
            KeyError: No client certificate was made for ``client``.
        """
        name = client if client is not None else next(iter(self.clients))
        cert_file, key_file = self.clients[name]
        return EtcdTLS(
            cert_file=self.server_cert_file,
            key_file=self.server_key_file,
            trusted_ca_file=self.ca_file,
            client_cert_auth=client_cert_auth,
            client_cert_file=cert_file,
            client_key_file=key_file,
        )


def make_test_pki(
    directory: str | os.PathLike[str], *, client_names: Sequence[str] = ("root",)
) -> PKIFiles:
    """Write a throwaway CA, a loopback server certificate and client certificates.

    Every certificate uses a fresh P-256 key and is valid for one day. The server
    certificate names ``127.0.0.1`` and ``localhost`` and may also authenticate as a
    client (etcd's own gateway connects to itself with it). Each client certificate's CN
    is its name, which etcd takes as the user name when ``--client-cert-auth`` and auth
    are both on. Files: ``ca.pem``, ``server.pem``, ``server-key.pem``,
    ``client-<name>.pem``, ``client-<name>-key.pem`` and ``other-ca.pem``.

    Args:
        directory: Where to write the PEM files; created if missing.
        client_names: One client certificate per name, at least one.

    Returns:
        The paths of the files written.

    Raises:
        ValueError: ``client_names`` is empty, repeats a name, or holds a name that is
            empty or not a plain file-name part.
    """
    names = list(client_names)
    if not names or len(set(names)) != len(names):
        raise ValueError(f"client_names must be distinct and at least one: {names!r}")
    for name in names:
        if not name or Path(name).name != name or name in (".", ".."):
            raise ValueError(f"client name {name!r} cannot name a file")
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    ca = _make_ca("kvstore test CA")
    other_ca = _make_ca("kvstore unrelated test CA")
    server = _make_leaf("etcd test server", ca, server=True)
    clients = {}
    for name in names:
        certificate, key = _make_leaf(name, ca, server=False)
        clients[name] = (
            _write_certificate(folder / f"client-{name}.pem", certificate),
            _write_private_key(folder / f"client-{name}-key.pem", key),
        )
    return PKIFiles(
        ca_file=_write_certificate(folder / "ca.pem", ca[0]),
        server_cert_file=_write_certificate(folder / "server.pem", server[0]),
        server_key_file=_write_private_key(folder / "server-key.pem", server[1]),
        clients=clients,
        other_ca_file=_write_certificate(folder / "other-ca.pem", other_ca[0]),
    )


def _subject(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate_builder(
    common_name: str, issuer: x509.Name, key: ec.EllipticCurvePrivateKey
) -> x509.CertificateBuilder:
    # Backdated a little so a clock that lags the test's by seconds still accepts it.
    now = datetime.datetime.now(datetime.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(_subject(common_name))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=_CERTIFICATE_LIFETIME_DAYS))
    )


def _make_ca(common_name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )
    certificate = (
        _certificate_builder(common_name, _subject(common_name), key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    return certificate, key


def _make_leaf(
    common_name: str,
    ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey],
    *,
    server: bool,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    ca_certificate, ca_key = ca
    key = ec.generate_private_key(ec.SECP256R1())
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
    if server:
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
    authority = x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key())
    builder = (
        _certificate_builder(common_name, ca_certificate.subject, key)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(authority, critical=False)
    )
    if server:
        names = [x509.IPAddress(ipaddress.ip_address(LOOPBACK)), x509.DNSName("localhost")]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


def _write_certificate(path: Path, certificate: x509.Certificate) -> str:
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return str(path)


def _write_private_key(path: Path, key: ec.EllipticCurvePrivateKey) -> str:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Owner-only from creation, as for any private key, even a throwaway one.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(pem)
    return str(path)
