"""TLS (certificates from ``make_test_pki``) and etcd authentication (``enable_auth``)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest

from kvstore.errors import (
    AuthenticationError,
    KVStoreError,
    PermissionDeniedError,
    UnavailableError,
)
from kvstore_etcd import EtcdConfig, EtcdStore
from kvstore_etcd.launcher import EtcdServer, EtcdUser, PKIFiles, enable_auth, make_test_pki

# One xdist group: every test of the module on one pytest-xdist worker, so that its module
# fixtures (a PKI, a TLS etcd, an etcd with auth) are set up once, not once per worker.
pytestmark = [pytest.mark.etcd, pytest.mark.xdist_group("etcd-tls-auth")]

ROOT_PASSWORD = "root-canary-7c1e"
ALICE_PASSWORD = "alice-canary-51d2"
CLIENT = "client"


# ------------------------------------------------------------------ TLS


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKIFiles:
    return make_test_pki(tmp_path_factory.mktemp("pki"), client_names=[CLIENT])


@pytest.fixture(scope="module")
def tls_server(etcd_binary: str, pki: PKIFiles) -> Iterator[EtcdServer]:
    """etcd serving clients over TLS and requiring a client certificate."""
    with EtcdServer(etcd_binary, tls=pki.etcd_tls(CLIENT)) as server:
        yield server


def _tls_config(server: EtcdServer) -> EtcdConfig:
    return EtcdConfig(endpoints=server.endpoints, request_timeout=3.0, dial_timeout=2.0)


def _use(config: EtcdConfig) -> bytes:
    with EtcdStore(config) as store:
        store.put("tls/key", b"value")
        return store.get("tls/key")


def test_tls_with_ca_and_client_certificate(tls_server: EtcdServer, pki: PKIFiles) -> None:
    config = _tls_config(tls_server).with_tls(*pki.client(CLIENT), pki.ca_file)
    assert _use(config) == b"value"


def test_tls_server_name_override(tls_server: EtcdServer, pki: PKIFiles) -> None:
    config = _tls_config(tls_server).with_tls(
        *pki.client(CLIENT), pki.ca_file, server_name="localhost"
    )
    assert _use(config) == b"value"


def test_insecure_skip_verify_accepts_an_unknown_ca(tls_server: EtcdServer, pki: PKIFiles) -> None:
    config = _tls_config(tls_server).with_tls(*pki.client(CLIENT), None, insecure_skip_verify=True)
    assert _use(config) == b"value"


def test_untrusted_server_certificate_is_refused(tls_server: EtcdServer, pki: PKIFiles) -> None:
    config = _tls_config(tls_server).with_tls(*pki.client(CLIENT), pki.other_ca_file)
    with pytest.raises(UnavailableError):
        _use(config)


def test_missing_client_certificate_is_refused(tls_server: EtcdServer, pki: PKIFiles) -> None:
    config = _tls_config(tls_server).with_tls(None, None, pki.ca_file)
    with pytest.raises(UnavailableError):
        _use(config)


def test_wrong_ca_is_reported_without_waiting_out_the_dial_timeout(
    tls_server: EtcdServer, pki: PKIFiles
) -> None:
    config = _tls_config(tls_server).with_dial_timeout(30.0).with_timeout(30.0)
    config = config.with_tls(*pki.client(CLIENT), pki.other_ca_file)
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


@pytest.fixture(scope="module")
def auth_server(etcd_binary: str) -> Iterator[EtcdServer]:
    """etcd with auth on; simple tokens expire after 2 s of disuse."""
    with EtcdServer(
        etcd_binary, extra_args=["--auth-token=simple", "--auth-token-ttl=2"]
    ) as server:
        enable_auth(
            server, {"alice": EtcdUser(ALICE_PASSWORD, prefix="app/")}, root_password=ROOT_PASSWORD
        )
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
