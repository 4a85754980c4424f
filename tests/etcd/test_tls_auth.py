"""TLS (certificates made here with ``cryptography``) and etcd authentication."""

from __future__ import annotations

import datetime
import ipaddress
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from etcd3.etcdrpc import auth_pb2, rpc_pb2
from etcd3.etcdrpc.rpc_pb2_grpc import AuthStub

from kvstore.errors import (
    AuthenticationError,
    KVStoreError,
    PermissionDeniedError,
    UnavailableError,
)
from kvstore_etcd import EtcdConfig, EtcdStore
from kvstore_etcd.testing import EtcdServer, EtcdTLS

pytestmark = pytest.mark.etcd

ROOT_PASSWORD = "root-canary-7c1e"
ALICE_PASSWORD = "alice-canary-51d2"


# ------------------------------------------------------------------ certificates


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> str:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(path)


def _write_cert(cert: x509.Certificate, path: Path) -> str:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return str(path)


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool = False,
    server: bool = False,
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    issuer_name, issuer_key = issuer if issuer is not None else (name, key)
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        usage = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
        builder = builder.add_extension(x509.ExtendedKeyUsage(usage), critical=False)
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


class Pki:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, as PEM files."""

    def __init__(self, directory: Path) -> None:
        ca_key = _key()
        ca_cert = _certificate("kvstore test CA", ca_key, None, ca=True)
        issuer = (ca_cert.subject, ca_key)
        server_key, client_key = _key(), _key()
        self.ca = _write_cert(ca_cert, directory / "ca.pem")
        self.server_cert = _write_cert(
            _certificate("etcd", server_key, issuer, server=True), directory / "server.pem"
        )
        self.server_key = _write_key(server_key, directory / "server-key.pem")
        self.client_cert = _write_cert(
            _certificate("client", client_key, issuer), directory / "client.pem"
        )
        self.client_key = _write_key(client_key, directory / "client-key.pem")
        other_key = _key()
        self.other_ca = _write_cert(
            _certificate("unrelated CA", other_key, None, ca=True), directory / "other-ca.pem"
        )


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def tls_server(etcd_binary: str, pki: Pki) -> Iterator[EtcdServer]:
    """etcd serving clients over TLS and requiring a client certificate."""
    tls = EtcdTLS(
        cert_file=pki.server_cert,
        key_file=pki.server_key,
        trusted_ca_file=pki.ca,
        client_cert_auth=True,
        client_cert_file=pki.client_cert,
        client_key_file=pki.client_key,
    )
    with EtcdServer(etcd_binary, tls=tls) as server:
        yield server


def _tls_config(server: EtcdServer) -> EtcdConfig:
    return EtcdConfig(endpoints=server.endpoints, request_timeout=3.0, dial_timeout=2.0)


def _use(config: EtcdConfig) -> bytes:
    with EtcdStore(config) as store:
        store.put("tls/key", b"value")
        return store.get("tls/key")


def test_tls_with_ca_and_client_certificate(tls_server: EtcdServer, pki: Pki) -> None:
    config = _tls_config(tls_server).with_tls(pki.client_cert, pki.client_key, pki.ca)
    assert _use(config) == b"value"


def test_tls_server_name_override(tls_server: EtcdServer, pki: Pki) -> None:
    config = _tls_config(tls_server).with_tls(
        pki.client_cert, pki.client_key, pki.ca, server_name="localhost"
    )
    assert _use(config) == b"value"


def test_insecure_skip_verify_accepts_an_unknown_ca(tls_server: EtcdServer, pki: Pki) -> None:
    config = _tls_config(tls_server).with_tls(
        pki.client_cert, pki.client_key, None, insecure_skip_verify=True
    )
    assert _use(config) == b"value"


def test_untrusted_server_certificate_is_refused(tls_server: EtcdServer, pki: Pki) -> None:
    config = _tls_config(tls_server).with_tls(pki.client_cert, pki.client_key, pki.other_ca)
    with pytest.raises(UnavailableError):
        _use(config)


def test_missing_client_certificate_is_refused(tls_server: EtcdServer, pki: Pki) -> None:
    config = _tls_config(tls_server).with_tls(None, None, pki.ca)
    with pytest.raises(UnavailableError):
        _use(config)


def test_wrong_ca_is_reported_without_waiting_out_the_dial_timeout(
    tls_server: EtcdServer, pki: Pki
) -> None:
    config = _tls_config(tls_server).with_dial_timeout(30.0).with_timeout(30.0)
    config = config.with_tls(pki.client_cert, pki.client_key, pki.other_ca)
    with pytest.raises(UnavailableError) as info:
        _use(config)
    # Only the fail-fast path says "every endpoint" (the dial-timeout one lists states).
    message = str(info.value)
    assert "TLS handshake failed with every endpoint" in message
    assert tls_server.endpoint in message and "check the ca" in message


def test_plaintext_client_cannot_talk_to_a_tls_server(tls_server: EtcdServer) -> None:
    with pytest.raises(UnavailableError):
        _use(_tls_config(tls_server))


# ------------------------------------------------------------------ authentication


def _enable_auth(endpoint: str) -> None:
    """Create root, a role for ``app/`` only, user alice in it; then turn auth on."""
    with grpc.insecure_channel(endpoint) as channel:
        auth = AuthStub(channel)
        auth.RoleAdd(rpc_pb2.AuthRoleAddRequest(name="root"), timeout=5)
        auth.UserAdd(rpc_pb2.AuthUserAddRequest(name="root", password=ROOT_PASSWORD), timeout=5)
        auth.UserGrantRole(rpc_pb2.AuthUserGrantRoleRequest(user="root", role="root"), timeout=5)
        auth.RoleAdd(rpc_pb2.AuthRoleAddRequest(name="app"), timeout=5)
        permission = auth_pb2.Permission(
            permType=auth_pb2.Permission.READWRITE, key=b"app/", range_end=b"app0"
        )
        auth.RoleGrantPermission(
            rpc_pb2.AuthRoleGrantPermissionRequest(name="app", perm=permission), timeout=5
        )
        auth.UserAdd(rpc_pb2.AuthUserAddRequest(name="alice", password=ALICE_PASSWORD), timeout=5)
        auth.UserGrantRole(rpc_pb2.AuthUserGrantRoleRequest(user="alice", role="app"), timeout=5)
        auth.AuthEnable(rpc_pb2.AuthEnableRequest(), timeout=5)


@pytest.fixture(scope="module")
def auth_server(etcd_binary: str) -> Iterator[EtcdServer]:
    """etcd with auth on; simple tokens expire after 2 s of disuse."""
    with EtcdServer(
        etcd_binary, extra_args=["--auth-token=simple", "--auth-token-ttl=2"]
    ) as server:
        _enable_auth(server.endpoint)
        yield server


def _alice(server: EtcdServer, password: str = ALICE_PASSWORD) -> EtcdStore:
    config = EtcdConfig(endpoints=server.endpoints, request_timeout=3.0).with_auth(
        "alice", password
    )
    return EtcdStore(config)


def test_user_works_inside_its_prefix(auth_server: EtcdServer) -> None:
    with _alice(auth_server) as store:
        store.put("app/a", b"1")
        assert store.get("app/a") == b"1"
        assert store.get_multiple("app/") == {"app/a": b"1"}
        with store.watch_prefix("app/") as watch:
            store.put("app/b", b"2")
            event = watch.next_event(5)
        assert event is not None and event.kv.key == "app/b"


def test_user_is_denied_outside_its_prefix(auth_server: EtcdServer) -> None:
    with _alice(auth_server) as store:
        with pytest.raises(PermissionDeniedError):
            store.put("other/a", b"1")
        with pytest.raises(PermissionDeniedError):
            store.get("other/a")
        with pytest.raises(PermissionDeniedError):
            store.delete_prefix("", allow_all=True)
        with pytest.raises(PermissionDeniedError):
            store.watch("other/a")


def test_wrong_password_fails_with_authentication_error(
    auth_server: EtcdServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-canary-0b9a"
    with _alice(auth_server, wrong) as store:
        with pytest.raises(AuthenticationError) as info:
            store.get("app/a")
        with pytest.raises(AuthenticationError):
            store.watch("app/a")
    for text in (str(info.value), repr(info.value), repr(store), caplog.text):
        assert wrong not in text and ALICE_PASSWORD not in text


def test_expired_token_is_renewed_transparently(auth_server: EtcdServer) -> None:
    store = _alice(auth_server)
    with store:
        store.put("app/t", b"1")
        token = store._metadata_cache  # the token in use
        time.sleep(3.5)  # past --auth-token-ttl
        assert store.get("app/t") == b"1"
        assert store._metadata_cache not in (None, token)


def test_no_secret_in_errors_of_a_refused_store(auth_server: EtcdServer) -> None:
    config = EtcdConfig(endpoints=auth_server.endpoints, request_timeout=2.0)
    with EtcdStore(config) as anonymous, pytest.raises(KVStoreError) as info:
        anonymous.get("app/a")
    assert isinstance(info.value, (AuthenticationError, PermissionDeniedError))
    assert ROOT_PASSWORD not in str(info.value)
