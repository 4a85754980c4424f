"""Security (SPEC 12): TLS with client certificates (CN as the etcd user), a wrong CA
refused, ``insecure_skip_verify`` honoured; a user confined to a prefix gets
PermissionDeniedError outside it; a wrong password fails with AuthenticationError after a
single Authenticate call (no retries); an expired auth token is renewed transparently for
get, put and a watch."""

from __future__ import annotations

import re
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator

import pytest

from kvstore import AuthenticationError, PermissionDeniedError, UnavailableError
from kvstore_etcd import EtcdConfig, EtcdStore
from kvstore_etcd.launcher import EtcdServer, EtcdUser, PKIFiles, enable_auth, make_test_pki

from .conftest import WatchRecorder
from .proxy import FaultProxy

# One xdist group: every test of the module on one pytest-xdist worker, so that its module
# fixtures (a PKI, a TLS etcd with auth, an etcd with auth) are set up once, not once per
# worker.
pytestmark = [
    pytest.mark.reliability,
    pytest.mark.etcd,
    pytest.mark.xdist_group("reliability-security"),
]

APP_PASSWORD = "app-password-for-tests"
TOKEN_TTL = 2


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> PKIFiles:
    return make_test_pki(tmp_path_factory.mktemp("tls"), client_names=("root", "app"))


@pytest.fixture(scope="module")
def tls_server(tls_files: PKIFiles) -> Iterator[EtcdServer]:
    """TLS with client certificates required; auth on, so the CN is the user."""
    with EtcdServer(tls=tls_files.etcd_tls("root")) as server:
        enable_auth(
            server,
            {"app": EtcdUser("unused-with-certificates", prefix="app/")},
            root_password="root-password",
        )
        yield server


@pytest.fixture(scope="module")
def auth_server() -> Iterator[EtcdServer]:
    """Plain TCP, auth on with simple tokens that expire after TOKEN_TTL idle seconds."""
    args = ["--auth-token=simple", f"--auth-token-ttl={TOKEN_TTL}"]
    with EtcdServer(extra_args=args) as server:
        enable_auth(
            server, {"app": EtcdUser(APP_PASSWORD, prefix="app/")}, root_password="root-password"
        )
        yield server


def _tls_store(
    server: EtcdServer, cert: tuple[str, str], ca: str | None, *, skip_verify: bool = False
) -> EtcdStore:
    config = EtcdConfig(endpoints=[server.endpoint], request_timeout=3, dial_timeout=3)
    return EtcdStore(config.with_tls(cert[0], cert[1], ca, insecure_skip_verify=skip_verify))


def test_tls_client_certificate_cn_is_the_user(tls_server: EtcdServer, tls_files: PKIFiles) -> None:
    with _tls_store(tls_server, tls_files.client("app"), tls_files.ca_file) as store:
        store.put("app/x", b"1")
        assert store.get("app/x") == b"1"
        with pytest.raises(PermissionDeniedError):
            store.put("other/x", b"1")
    with _tls_store(tls_server, tls_files.client("root"), tls_files.ca_file) as root:
        root.put("other/x", b"root may")


def test_tls_wrong_ca_is_refused(tls_server: EtcdServer, tls_files: PKIFiles) -> None:
    with (
        _tls_store(tls_server, tls_files.client("app"), tls_files.other_ca_file) as store,
        pytest.raises(UnavailableError),
    ):
        store.get("app/x")


def test_tls_insecure_skip_verify_is_honoured(tls_server: EtcdServer, tls_files: PKIFiles) -> None:
    cert = tls_files.client("app")
    with _tls_store(tls_server, cert, None, skip_verify=True) as store:
        store.put("app/skip", b"1")
        assert store.get("app/skip") == b"1"


def _auth_store(server: EtcdServer, password: str = APP_PASSWORD, timeout: float = 3) -> EtcdStore:
    config = EtcdConfig(endpoints=[server.endpoint], request_timeout=timeout, dial_timeout=3)
    return EtcdStore(config.with_auth("app", password))


def test_user_confined_to_a_prefix_is_denied_outside_it(auth_server: EtcdServer) -> None:
    with _auth_store(auth_server) as store:
        store.put("app/ok", b"1")
        assert store.get("app/ok") == b"1"
        for call in (
            lambda: store.put("secret/x", b"1"),
            lambda: store.get("secret/x"),
            lambda: store.delete("secret/x"),
            lambda: store.get_multiple("secret/"),
        ):
            with pytest.raises(PermissionDeniedError):
                call()
        with pytest.raises(PermissionDeniedError), store.watch_prefix("secret/") as watch:
            watch.next_event(5)


def _authenticate_calls(server: EtcdServer) -> Counter[str]:
    """Authenticate RPCs the member has answered so far, by gRPC status code (its metrics)."""
    with urllib.request.urlopen(f"{server.metrics_url}/metrics", timeout=5) as response:
        text = response.read().decode()
    calls: Counter[str] = Counter()
    for match in _HANDLED_AUTHENTICATE.finditer(text):
        calls[match.group("code")] += int(float(match.group("count")))
    return calls


_HANDLED_AUTHENTICATE = re.compile(
    r'^grpc_server_handled_total\{grpc_code="(?P<code>\w+)",grpc_method="Authenticate",'
    r".*\} (?P<count>\S+)$",
    re.MULTILINE,
)


def test_wrong_password_fails_once_with_authentication_error(auth_server: EtcdServer) -> None:
    # A long timeout leaves room for retries: refused credentials are final, so the store
    # must ask the server exactly once and then raise.
    with _auth_store(auth_server, "not-the-password", timeout=20) as store:
        before = _authenticate_calls(auth_server)
        with pytest.raises(AuthenticationError) as info:
            store.get("app/x")
        after = _authenticate_calls(auth_server)
    assert after - before == Counter({"InvalidArgument": 1})
    assert "not-the-password" not in str(info.value)
    assert not any("not-the-password" in repr(arg) for arg in info.value.args)


def test_expired_token_is_renewed_for_get_put_and_watch(auth_server: EtcdServer) -> None:
    with FaultProxy(auth_server.client_port, lifetime=120) as proxy:
        config = EtcdConfig(endpoints=[proxy.endpoint], request_timeout=3, dial_timeout=3)
        store = EtcdStore(config.with_auth("app", APP_PASSWORD))
        try:
            start = store.put("app/t", b"0") + 1
            recorder = WatchRecorder(store.watch_prefix("app/t", start_revision=start))
            time.sleep(TOKEN_TTL + 2)  # the idle token expires on the server
            assert store.get("app/t") == b"0"
            time.sleep(TOKEN_TTL + 2)
            revision = store.put("app/t", b"1")
            time.sleep(TOKEN_TTL + 2)
            proxy.close_connections()  # the watch must re-create itself with a fresh token
            # A write racing the severed connection may rightly be IndeterminateError; a
            # read is retried, so the put below goes over the re-established connection.
            assert store.get("app/t") == b"1"
            last = store.put("app/t", b"2")
            assert recorder.wait_for_revision(last, timeout=20), repr(recorder.error)
            assert [event.kv.mod_revision for event in recorder.events] == [revision, last]
            recorder.stop()
        finally:
            store.close()
