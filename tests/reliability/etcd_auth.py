"""Test helpers that turn on etcd authentication and make TLS material.

``enable_auth`` creates users and prefix-scoped roles through etcd's Auth API (the
generated gRPC stubs) and then enables authentication. ``make_tls`` writes a CA, a
server certificate for 127.0.0.1 and client certificates into a directory, with the
``cryptography`` package.
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Mapping
from pathlib import Path

import attrs
import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from etcd3.etcdrpc import auth_pb2, rpc_pb2, rpc_pb2_grpc

from kvstore.keys import prefix_range_end

__all__ = ["TLSFiles", "UserSpec", "enable_auth", "make_tls"]

_CALL_TIMEOUT = 10.0


@attrs.frozen
class UserSpec:
    """A user to create: its password and the key prefix its role may read and write.

    Attributes:
        password: The password ("" for a certificate-only user).
        prefix: The prefix the user's role covers; ``None`` gives the user no role.
    """

    password: str
    prefix: str | None


def enable_auth(
    endpoint: str,
    *,
    root_password: str,
    users: Mapping[str, UserSpec],
    credentials: grpc.ChannelCredentials | None = None,
) -> None:
    """Create ``root`` and ``users``, give each a role on its prefix, and enable auth.

    Args:
        endpoint: ``host:port`` of a member (auth is cluster-wide).
        root_password: The password of the ``root`` user.
        users: User name -> what to create.
        credentials: TLS channel credentials, for a member that serves TLS.

    Raises:
        grpc.RpcError: etcd refused a call (the test fails with it).
    """
    channel = (
        grpc.secure_channel(endpoint, credentials)
        if credentials is not None
        else grpc.insecure_channel(endpoint)
    )
    with channel:
        auth = rpc_pb2_grpc.AuthStub(channel)
        auth.UserAdd(
            rpc_pb2.AuthUserAddRequest(name="root", password=root_password),
            timeout=_CALL_TIMEOUT,
        )
        auth.RoleAdd(rpc_pb2.AuthRoleAddRequest(name="root"), timeout=_CALL_TIMEOUT)
        auth.UserGrantRole(
            rpc_pb2.AuthUserGrantRoleRequest(user="root", role="root"), timeout=_CALL_TIMEOUT
        )
        for name, spec in users.items():
            auth.UserAdd(
                rpc_pb2.AuthUserAddRequest(name=name, password=spec.password),
                timeout=_CALL_TIMEOUT,
            )
            if spec.prefix is None:
                continue
            role = f"role-{name}"
            auth.RoleAdd(rpc_pb2.AuthRoleAddRequest(name=role), timeout=_CALL_TIMEOUT)
            permission = auth_pb2.Permission(
                permType=auth_pb2.Permission.READWRITE,
                key=spec.prefix.encode(),
                range_end=prefix_range_end(spec.prefix).encode(),
            )
            auth.RoleGrantPermission(
                rpc_pb2.AuthRoleGrantPermissionRequest(name=role, perm=permission),
                timeout=_CALL_TIMEOUT,
            )
            auth.UserGrantRole(
                rpc_pb2.AuthUserGrantRoleRequest(user=name, role=role), timeout=_CALL_TIMEOUT
            )
        auth.AuthEnable(rpc_pb2.AuthEnableRequest(), timeout=_CALL_TIMEOUT)


@attrs.frozen
class TLSFiles:
    """PEM files written by ``make_tls``.

    Attributes:
        ca: The CA certificate that signed everything below.
        server_cert: Server certificate for 127.0.0.1 / localhost.
        server_key: Its private key.
        clients: Client name (the certificate CN) -> (certificate, key) paths.
        other_ca: A second, unrelated CA (a "wrong CA" for clients to trust).
    """

    ca: str
    server_cert: str
    server_key: str
    clients: Mapping[str, tuple[str, str]]
    other_ca: str


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> str:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(path)


def _write_cert(path: Path, cert: x509.Certificate) -> str:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return str(path)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _ca(common_name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _leaf(
    common_name: str,
    ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey],
    *,
    server: bool,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
    if server:
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca[0].subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
    return builder.sign(ca[1], hashes.SHA256()), key


def make_tls(directory: Path, client_names: tuple[str, ...] = ("root",)) -> TLSFiles:
    """Write a CA, a 127.0.0.1 server certificate and client certificates.

    Args:
        directory: Where to write the PEM files (must exist).
        client_names: One client certificate per name, with the name as CN (etcd maps
            the CN to the user when ``--client-cert-auth`` and auth are on).

    Returns:
        The file paths.
    """
    ca = _ca("kvstore test CA")
    other = _ca("some other CA")
    server = _leaf("etcd server", ca, server=True)
    clients = {}
    for name in client_names:
        cert, key = _leaf(name, ca, server=False)
        clients[name] = (
            _write_cert(directory / f"client-{name}.pem", cert),
            _write_key(directory / f"client-{name}-key.pem", key),
        )
    return TLSFiles(
        ca=_write_cert(directory / "ca.pem", ca[0]),
        server_cert=_write_cert(directory / "server.pem", server[0]),
        server_key=_write_key(directory / "server-key.pem", server[1]),
        clients=clients,
        other_ca=_write_cert(directory / "other-ca.pem", other[0]),
    )
