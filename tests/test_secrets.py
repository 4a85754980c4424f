"""Secrets never leak: canary passwords, tokens and encryption keys are absent from the
``repr`` of configs and stores, from every error (message, ``repr``, cause chain, pickle,
formatted traceback) and from everything logged at DEBUG, including a failed login.

Auth tokens are random (etcd ``simple`` tokens look like ``<16 letters>.<index>``), so
they are searched by that shape, besides the exact canary strings.
"""

from __future__ import annotations

import base64
import functools
import logging
import pickle
import re
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import kvstore
from kvstore import (
    AuthenticationError,
    ConfigurationError,
    DecryptionError,
    KVStoreError,
    PermissionDeniedError,
    UnavailableError,
)
from kvstore.wrappers.compose import wrap_store
from kvstore.wrappers.encryption import EncryptedStore, Keyring
from kvstore_etcd import EtcdConfig, EtcdStore
from kvstore_etcd.launcher import EtcdServer, EtcdUser, enable_auth
from kvstore_memory import MemoryStore

PASSWORD = "pw-CANARY-9d1c4e7a"
ROOT_PASSWORD = "root-CANARY-5b2f8e1d"
WRONG_PASSWORD = "wrong-CANARY-3a6c0f92"
ENCRYPTION_KEY = b"KEY-CANARY-0123456789abcdefghijk"
OTHER_KEY = b"OTHERKEY-CANARY-0123456789abcdef"
assert len(ENCRYPTION_KEY) == len(OTHER_KEY) == 32

_SIMPLE_TOKEN = re.compile(r"\b[A-Za-z]{16}\.\d+\b")


def _forms(secret: str | bytes) -> list[str]:
    """The ways a secret could show up in text: as is, repr'd, hex, base64."""
    raw = secret.encode() if isinstance(secret, str) else secret
    return [
        raw.decode("latin-1"),
        repr(raw),
        raw.hex(),
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
    ]


_CANARIES = [
    form
    for secret in (PASSWORD, ROOT_PASSWORD, WRONG_PASSWORD, ENCRYPTION_KEY, OTHER_KEY)
    for form in _forms(secret)
]


def assert_no_secret(text: str, where: str) -> None:
    """Fail if ``text`` holds a canary in any form, or something shaped like a token."""
    for canary in _CANARIES:
        assert canary not in text, f"a secret leaked into {where}: {text!r}"
    token = _SIMPLE_TOKEN.search(text)
    assert token is None, f"an auth token leaked into {where}: {token.group(0)!r}"


def assert_error_clean(error: BaseException) -> None:
    """Check an error's message, repr, whole cause chain, traceback and pickle."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        assert_no_secret(str(current), f"str({type(current).__name__})")
        assert_no_secret(repr(current), f"repr({type(current).__name__})")
        for name in ("details", "debug_error_string"):
            method = getattr(current, name, None)
            if callable(method):
                assert_no_secret(str(method()), f"{type(current).__name__}.{name}()")
        current = current.__cause__ or current.__context__
    assert_no_secret("".join(traceback.format_exception(error)), "the formatted traceback")
    if isinstance(error, KVStoreError):
        assert_no_secret(repr(pickle.loads(pickle.dumps(error))), "the unpickled error")


def _raised(call: Callable[[], object]) -> KVStoreError:
    with pytest.raises(KVStoreError) as caught:
        call()
    return caught.value


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Capture every logger at DEBUG; the test's logs are checked for secrets at the end."""
    root = logging.getLogger()
    old_level = root.level
    root.setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    try:
        yield caplog
    finally:
        root.setLevel(old_level)
    for record in caplog.records:
        assert_no_secret(record.getMessage(), f"the log record of {record.name}")
        if record.exc_info and record.exc_info[1] is not None:
            assert_error_clean(record.exc_info[1])
    assert_no_secret(caplog.text, "the captured log")


@pytest.fixture(scope="module")
def auth_server() -> Iterator[EtcdServer]:
    """A single etcd member with auth on: ``root`` and ``app`` (confined to ``app/``)."""
    with EtcdServer(extra_args=["--auth-token=simple"]) as server:
        enable_auth(server, {"app": EtcdUser(PASSWORD, prefix="app/")}, root_password=ROOT_PASSWORD)
        yield server


def _config(server: EtcdServer, password: str = PASSWORD) -> EtcdConfig:
    return EtcdConfig().with_endpoints(server.endpoint).with_timeout(5).with_auth("app", password)


def test_configs_and_stores_hide_secrets_in_repr() -> None:
    config = (
        EtcdConfig()
        .with_endpoints("127.0.0.1:2379")
        .with_auth("app", PASSWORD)
        .with_encryption(ENCRYPTION_KEY)
    )
    from_url = EtcdConfig.from_url(f"etcd://app:{PASSWORD}@127.0.0.1:2379")
    keyring = Keyring.single(ENCRYPTION_KEY).add(2, OTHER_KEY)
    for value in (config, from_url, keyring):
        assert_no_secret(repr(value), f"repr({type(value).__name__})")
        assert_no_secret(str(value), f"str({type(value).__name__})")
    store = EtcdStore(config)
    encrypted = EncryptedStore(store, keyring)
    try:
        for opened in (store, encrypted):
            assert_no_secret(repr(opened), f"repr({type(opened).__name__})")
    finally:
        encrypted.close()


def test_config_and_url_errors_do_not_echo_secrets(
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    errors = [
        _raised(lambda: EtcdConfig.from_url(f"etcd://app:{PASSWORD}@127.0.0.1:99999")),
        _raised(lambda: kvstore.open(f"etcd://app:{PASSWORD}@127.0.0.1:2379?nosuch=1")),
        _raised(lambda: kvstore.open(f"etcd://app:{PASSWORD}@host:port:bad")),
        _raised(lambda: kvstore.open(f"nosuchscheme://app:{PASSWORD}@127.0.0.1:2379")),
        _raised(lambda: EtcdConfig().with_encryption(ENCRYPTION_KEY[:31])),
        _raised(lambda: EtcdConfig(encryption_key=ENCRYPTION_KEY + b"!")),
        _raised(lambda: Keyring.single(ENCRYPTION_KEY + b"!")),
    ]
    for error in errors:
        assert_error_clean(error)
    assert isinstance(errors[0], ConfigurationError)


def test_wrapper_url_options_do_not_echo_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, debug_logs: pytest.LogCaptureFixture
) -> None:
    good = tmp_path / "keys"
    good.write_text(f"1:{ENCRYPTION_KEY.hex()}\n2:{Keyring.encode_key(OTHER_KEY)}\n")
    short = tmp_path / "short-keys"
    short.write_text(f"1:{ENCRYPTION_KEY[:31].hex()}\n")
    raw = tmp_path / "raw-keys"
    raw.write_text(ENCRYPTION_KEY.decode() + "\n")  # key text that is neither hex nor base64
    monkeypatch.setenv("KVSTORE_TEST_SECRET_KEYS", f"1:{OTHER_KEY[:31].hex()}")
    refused = [
        f"memory://?{option}={form}"
        for option in ("encryption_key", "encryption_keyring", "keyring")
        for form in (ENCRYPTION_KEY.hex(), base64.b64encode(ENCRYPTION_KEY).decode())
    ]
    errors = [_raised(functools.partial(kvstore.open, url)) for url in refused]
    errors += [
        _raised(lambda: kvstore.open(f"memory://?encryption_key_file={short}")),
        _raised(lambda: kvstore.open(f"memory://?encryption_key_file={raw}&namespace=a/")),
        _raised(lambda: kvstore.open("memory://?encryption_key_env=KVSTORE_TEST_SECRET_KEYS")),
        _raised(lambda: kvstore.open(f"etcd://app:{PASSWORD}@h:1?encryption_key_file={short}")),
        _raised(lambda: wrap_store(MemoryStore(), keyring=ENCRYPTION_KEY[:31])),
    ]
    for error in errors:
        assert isinstance(error, ConfigurationError)
        assert_error_clean(error)
    # A key file's path may be shown (it is how the user finds the file); its keys never.
    missing = _raised(lambda: kvstore.open(f"memory://?encryption_key_file={tmp_path / 'nope'}"))
    assert str(tmp_path / "nope") in str(missing)
    with kvstore.open(f"memory://?encryption_key_file={good}&namespace=app/") as store:
        assert_no_secret(repr(store), "repr of a store opened with ?encryption_key_file=")
        store.put("k", b"v")
        assert_no_secret(repr(store.inner), "repr(EncryptedStore) from a URL")


def test_encryption_errors_do_not_echo_keys(debug_logs: pytest.LogCaptureFixture) -> None:
    from kvstore_memory import MemoryStore

    memory = MemoryStore()
    EncryptedStore(memory, Keyring.single(ENCRYPTION_KEY)).put("k", b"value")
    wrong = EncryptedStore(memory, Keyring.single(OTHER_KEY))
    error = _raised(lambda: wrong.get("k"))
    assert isinstance(error, DecryptionError)
    assert_error_clean(error)
    memory.close()


@pytest.mark.etcd
def test_failed_auth_is_clean_in_errors_and_logs(
    auth_server: EtcdServer, debug_logs: pytest.LogCaptureFixture
) -> None:
    with EtcdStore(_config(auth_server, WRONG_PASSWORD)) as store:
        error = _raised(lambda: store.get("app/x"))
        assert isinstance(error, AuthenticationError)
        assert_error_clean(error)
        assert_no_secret(repr(store), "repr(EtcdStore)")
    url = f"etcd://app:{WRONG_PASSWORD}@{auth_server.endpoint}"
    with kvstore.open(url) as opened:
        assert_no_secret(repr(opened), "repr of a store opened from a URL")
        error = _raised(lambda: opened.put("app/x", b"v"))
        assert isinstance(error, AuthenticationError)
        assert_error_clean(error)


@pytest.mark.etcd
def test_authenticated_work_and_denials_are_clean(
    auth_server: EtcdServer, debug_logs: pytest.LogCaptureFixture
) -> None:
    with EtcdStore(_config(auth_server)) as store:
        encrypted = EncryptedStore(store, Keyring.single(ENCRYPTION_KEY))
        encrypted.put("app/secret", b"s3cr3t")
        assert encrypted.get("app/secret") == b"s3cr3t"
        with encrypted.watch_prefix("app/", start_revision=1) as watch:
            assert watch.next_event(10) is not None
        with store.lease(5) as lease:
            store.put("app/leased", b"v", lease=lease)
        denied = _raised(lambda: store.put("other/x", b"v"))
        assert isinstance(denied, PermissionDeniedError)
        assert_error_clean(denied)
        assert_no_secret(repr(store), "repr(EtcdStore)")
        assert_no_secret(repr(encrypted), "repr(EncryptedStore)")


@pytest.mark.etcd
def test_unreachable_server_error_is_clean(debug_logs: pytest.LogCaptureFixture) -> None:
    import socket

    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    config = (
        EtcdConfig()
        .with_endpoints(f"127.0.0.1:{port}")
        .with_timeout(0.5)
        .with_dial_timeout(0.5)
        .with_auth("app", PASSWORD)
    )
    with EtcdStore(config) as store:
        error = _raised(lambda: store.get("app/x"))
    assert isinstance(error, UnavailableError)
    assert_error_clean(error)
