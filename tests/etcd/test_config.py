"""EtcdConfig: defaults, builders, URL and environment parsing, secrets kept out of sight."""

from __future__ import annotations

import pickle
from pathlib import Path

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

import kvstore
from kvstore.errors import ConfigurationError, KVStoreError
from kvstore.wrappers.encryption import EncryptedStore, Keyring
from kvstore_etcd import EtcdConfig, EtcdStore, new_client

CANARY = "canary-Secret-9f3b"
CANARY_KEY = b"K" * 32


def test_defaults_are_the_seed_defaults() -> None:
    config = EtcdConfig()
    assert config.endpoints == ("localhost:2379",)
    assert config.username == ""
    assert config.dial_timeout == 5.0
    assert config.dial_keepalive_time == 30.0
    assert config.dial_keepalive_timeout == 10.0
    assert config.request_timeout == 5.0
    assert config.enable_encryption is False
    assert config.encryption_key is None
    assert config.max_call_send_msg_size == 2 * 1024 * 1024
    assert config.max_call_recv_msg_size == 2 * 1024 * 1024
    assert config.max_txn_ops == 128
    assert config.insecure_skip_verify is False
    assert not config.uses_tls


def test_config_is_frozen_and_slotted() -> None:
    config = EtcdConfig()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        config.request_timeout = 1.0  # type: ignore[misc]
    assert not hasattr(config, "__dict__")


def test_builders_return_new_configs() -> None:
    base = EtcdConfig()
    config = (
        base.with_endpoints("10.0.0.1:2379", "http://10.0.0.2:2380", "host3")
        .with_timeout(0.25)
        .with_dial_timeout(0.5)
        .with_auth("alice", "pw")
        .with_tls("c.pem", "k.pem", "ca.pem", insecure_skip_verify=True, server_name="etcd")
    )
    assert base == EtcdConfig()
    assert config.endpoints == ("10.0.0.1:2379", "10.0.0.2:2380", "host3:2379")
    assert config.request_timeout == 0.25
    assert config.dial_timeout == 0.5
    assert (config.username, config.password) == ("alice", "pw")
    assert (config.cert, config.key, config.ca) == ("c.pem", "k.pem", "ca.pem")
    assert config.insecure_skip_verify and config.server_name == "etcd" and config.uses_tls


@pytest.mark.parametrize(
    "change",
    [
        {"request_timeout": 0},
        {"request_timeout": -1},
        {"dial_timeout": float("nan")},
        {"max_txn_ops": 0},
        {"endpoints": []},
        {"endpoints": ["host:notaport"]},
        {"endpoints": ["host:70000"]},
        {"endpoints": ["user@host:1"]},
        {"cert": "c.pem"},
        {"encryption_key": b"short"},
    ],
)
def test_invalid_values_raise_configuration_error(change: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        EtcdConfig(**change)  # type: ignore[arg-type]


def test_with_encryption_needs_a_32_byte_key() -> None:
    assert EtcdConfig().with_encryption(CANARY_KEY).enable_encryption
    with pytest.raises(ConfigurationError) as info:
        EtcdConfig().with_encryption(b"x" * 31)
    assert "x" * 31 not in str(info.value)
    with pytest.raises(ConfigurationError):
        EtcdConfig().with_encryption(None)  # type: ignore[arg-type]


def test_encryption_enabled_without_key_is_an_error() -> None:
    with pytest.raises(ConfigurationError):
        new_client(EtcdConfig(enable_encryption=True))


def test_new_client_with_encryption_wraps_the_store() -> None:
    store = new_client(EtcdConfig(endpoints=["127.0.0.1:1"]).with_encryption(CANARY_KEY))
    try:
        assert isinstance(store, EncryptedStore)
        assert isinstance(store.inner, EtcdStore)
    finally:
        store.close()


def test_from_url_parses_hosts_user_and_options() -> None:
    config = EtcdConfig.from_url(
        "etcd://alice:p%40ss@h1:2379,h2:2380?request_timeout=2.5&dial_timeout=0.5"
        "&max_txn_ops=64&insecure_skip_verify=true&ca=/ca.pem"
    )
    assert config.endpoints == ("h1:2379", "h2:2380")
    assert (config.username, config.password) == ("alice", "p@ss")
    assert config.request_timeout == 2.5
    assert config.dial_timeout == 0.5
    assert config.max_txn_ops == 64
    assert config.insecure_skip_verify and config.ca == "/ca.pem"


def test_from_url_defaults_and_tls_scheme() -> None:
    assert EtcdConfig.from_url("etcd://") == EtcdConfig()
    assert EtcdConfig.from_url("etcds://h:1").uses_tls
    assert EtcdConfig.from_url("etcd://bob@h").username == "bob"


@pytest.mark.parametrize(
    "url",
    [
        "http://h:2379",
        "etcd://h:2379/some/path",
        "etcd://h:2379?unknown=1",
        "etcd://h:2379?request_timeout=soon",
        "etcd://h:2379?insecure_skip_verify=maybe",
        f"etcd://h:2379?password={CANARY}",
        "etcd://h:port",
        "not a url",
    ],
)
def test_malformed_urls_raise_without_echoing_secrets(url: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        EtcdConfig.from_url(url)
    assert CANARY not in str(info.value)


CANARY_2 = "canary-Other-41c7"


@pytest.mark.parametrize(
    "url",
    [
        f"etcd://u:{CANARY}@h1:2379,u2:{CANARY_2}@h2:1",
        f"etcd://h1:2379,u:{CANARY}@h2:1",
        f"etcd://u:{CANARY}@@h1:2379",
        f"etcd://u:{CANARY},{CANARY_2}@h1:2379",
        f"etcds://u:{CANARY}@h1:2379,h2@h3",
    ],
)
def test_userinfo_only_once_before_the_first_host(url: str) -> None:
    # Taking everything before the last '@' as userinfo would silently drop h1.
    with pytest.raises(ConfigurationError, match="user:password@") as info:
        EtcdConfig.from_url(url)
    for text in (str(info.value), repr(info.value)):
        assert CANARY not in text and CANARY_2 not in text


def test_percent_encoded_userinfo_keeps_every_host() -> None:
    config = EtcdConfig.from_url(f"etcd://u:{CANARY}%40%2Cx@h1:2379,h2:1")
    assert config.endpoints == ("h1:2379", "h2:1")
    assert config.password == f"{CANARY}@,x"


@pytest.mark.parametrize(
    "url",
    [
        "etcd://[::1",
        "etcd://::1]:2379",
        "etcd://[::1]]:2379",
        "etcd://[[::1]:2379",
        "etcd://h1:2379,[::1",
        "etcd://a[::1]:2379",
        "etcd://::1",
        f"etcd://u:{CANARY}@[::1",
    ],
)
def test_unbalanced_brackets_are_refused(url: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        EtcdConfig.from_url(url)
    assert CANARY not in str(info.value)


@pytest.mark.parametrize(
    ("url", "endpoints"),
    [
        ("etcd://[::1]", ("[::1]:2379",)),
        ("etcd://[::1]:2380,h:1", ("[::1]:2380", "h:1")),
        ("etcd://[fe80::1]:7", ("[fe80::1]:7",)),
    ],
)
def test_bracketed_ipv6_endpoints(url: str, endpoints: tuple[str, ...]) -> None:
    assert EtcdConfig.from_url(url).endpoints == endpoints


@pytest.mark.parametrize(
    "url",
    [
        f"etcd://u:{CANARY}@h:2379?password_env=ETCD_PW",
        f"etcd://u:{CANARY}@h:2379?password_file=/run/pw",
        "etcd://u@h:2379?password_env=ETCD_PW&password_file=/run/pw",
    ],
)
def test_conflicting_password_sources_in_a_url(url: str) -> None:
    with pytest.raises(ConfigurationError, match="one password source") as info:
        EtcdConfig.from_url(url)
    assert CANARY not in str(info.value) and CANARY not in repr(info.value)


@pytest.mark.parametrize(
    "sources",
    [
        {"password": CANARY, "password_env": "ETCD_PW"},
        {"password": CANARY, "password_file": "/run/pw"},
        {"password_env": "ETCD_PW", "password_file": "/run/pw"},
    ],
)
def test_conflicting_password_sources(sources: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError, match="one password source") as info:
        EtcdConfig(username="u", **sources)  # type: ignore[arg-type]
    assert CANARY not in str(info.value)
    with pytest.raises(ConfigurationError, match="one password source"):
        EtcdConfig.from_env({"ETCD_PASSWORD": CANARY, "ETCD_PASSWORD_FILE": "/run/pw"})
    # with_auth replaces every source, so switching from one to another is fine
    config = EtcdConfig(username="u", password=CANARY).with_auth("u", password_env="ETCD_PW")
    assert (config.password, config.password_env) == ("", "ETCD_PW")


def test_password_from_env_and_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KVSTORE_TEST_PW", CANARY)
    assert EtcdConfig(username="u", password_env="KVSTORE_TEST_PW").resolve_password() == CANARY
    secret = tmp_path / "pw"
    secret.write_text(CANARY + "\n")
    assert EtcdConfig(username="u", password_file=str(secret)).resolve_password() == CANARY
    monkeypatch.delenv("KVSTORE_TEST_PW")
    with pytest.raises(ConfigurationError):
        EtcdConfig(username="u", password_env="KVSTORE_TEST_PW").resolve_password()
    with pytest.raises(ConfigurationError):
        EtcdConfig(username="u", password_file=str(tmp_path / "missing")).resolve_password()


def test_from_env_reads_etcd_variables(tmp_path: Path) -> None:
    env = {
        "ETCD_ENDPOINTS": "a:1, b:2",
        "ETCD_USERNAME": "carol",
        "ETCD_PASSWORD": CANARY,
        "ETCD_REQUEST_TIMEOUT": "0.75",
        "ETCD_CACERT": "/ca.pem",
    }
    config = EtcdConfig.from_env(env)
    assert config.endpoints == ("a:1", "b:2")
    assert (config.username, config.password) == ("carol", CANARY)
    assert config.request_timeout == 0.75
    assert config.ca == "/ca.pem"
    assert EtcdConfig.from_env({}) == EtcdConfig()


def test_secrets_never_in_repr_or_errors() -> None:
    config = EtcdConfig(username="dave", password=CANARY).with_encryption(CANARY_KEY)
    for text in (repr(config), str(config)):
        assert CANARY not in text
        assert CANARY_KEY.decode() not in text
    store = EtcdStore(EtcdConfig(endpoints=["127.0.0.1:1"], username="dave", password=CANARY))
    try:
        assert CANARY not in repr(store)
    finally:
        store.close()
    url = f"etcd://dave:{CANARY}@h:1?bogus=1"
    with pytest.raises(KVStoreError) as info:
        kvstore.open(url)
    assert CANARY not in str(info.value) and CANARY not in repr(info.value)


def test_config_pickles() -> None:
    config = EtcdConfig(endpoints=["a:1"], request_timeout=0.5)
    assert pickle.loads(pickle.dumps(config)) == config


@given(
    st.lists(
        st.tuples(
            st.from_regex(r"[a-z][a-z0-9.-]{0,20}", fullmatch=True),
            st.integers(min_value=1, max_value=65535),
        ),
        min_size=1,
        max_size=5,
        unique_by=lambda pair: pair,
    ),
    st.floats(min_value=0.001, max_value=1000, allow_nan=False),
)
def test_url_round_trip(hosts: list[tuple[str, int]], timeout: float) -> None:
    endpoints = [f"{host}:{port}" for host, port in hosts]
    url = f"etcd://{','.join(endpoints)}?request_timeout={timeout!r}"
    config = EtcdConfig.from_url(url)
    assert config.endpoints == tuple(dict.fromkeys(endpoints))
    assert config.request_timeout == timeout


# ------------------------------------------------------------------ encryption from config


def _key_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "keys"
    path.write_text(text)
    return str(path)


def test_with_encryption_takes_a_key_or_a_keyring() -> None:
    keyring = Keyring({1: CANARY_KEY, 2: b"L" * 32})
    config = EtcdConfig().with_encryption(keyring)
    assert config.enable_encryption and config.encryption_keyring is keyring
    assert config.resolve_keyring() is keyring
    # A later key replaces the keyring instead of clashing with it.
    rekeyed = config.with_encryption(CANARY_KEY)
    assert rekeyed.encryption_keyring is None
    resolved = rekeyed.resolve_keyring()
    assert resolved is not None and resolved.primary == 1
    with pytest.raises(ConfigurationError) as info:
        EtcdConfig().with_encryption(CANARY_KEY.decode())  # type: ignore[arg-type]
    assert CANARY_KEY.decode() not in str(info.value)
    for text in (repr(config), str(config)):
        assert CANARY_KEY.decode() not in text and CANARY_KEY.hex() not in text


def test_url_key_file_enables_encryption(tmp_path: Path) -> None:
    path = _key_file(tmp_path, f"# rotation\n1:{CANARY_KEY.hex()}\n2:{'4c' * 32}\n")
    config = EtcdConfig.from_url(f"etcd://127.0.0.1:1?encryption_key_file={path}")
    assert config.enable_encryption and config.encryption_key_file == path
    keyring = config.resolve_keyring()
    assert isinstance(keyring, Keyring) and keyring.primary == 2
    store = kvstore.open(f"etcd://127.0.0.1:1?encryption_key_file={path}")
    try:
        assert isinstance(store, EncryptedStore) and isinstance(store.inner, EtcdStore)
        assert CANARY_KEY.hex() not in repr(store)
    finally:
        store.close()


def test_url_key_env_enables_encryption(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KVSTORE_TEST_KEYS", Keyring.encode_key(CANARY_KEY))
    config = EtcdConfig.from_url("etcd://127.0.0.1:1?encryption_key_env=KVSTORE_TEST_KEYS")
    keyring = config.resolve_keyring()
    assert keyring is not None and keyring.primary == 1
    store = new_client(config)
    try:
        assert isinstance(store, EncryptedStore)
    finally:
        store.close()


@pytest.mark.parametrize(
    "option",
    ["encryption_key", "encryption_keyring", "encryption_key_hex", "keyring", "password"],
)
def test_url_refuses_key_material_without_echoing_it(option: str) -> None:
    material = CANARY_KEY.hex()
    with pytest.raises(ConfigurationError) as info:
        EtcdConfig.from_url(f"etcd://h:2379?{option}={material}")
    assert material not in str(info.value) and material not in repr(info.value)
    with pytest.raises(ConfigurationError) as opened:
        kvstore.open(f"etcd://h:2379?{option}={material}")
    assert material not in str(opened.value)


def test_unusable_key_sources_are_configuration_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KVSTORE_TEST_UNSET", raising=False)
    bad = _key_file(tmp_path, CANARY + "\n")
    for url in (
        f"etcd://127.0.0.1:1?encryption_key_file={tmp_path / 'missing'}",
        f"etcd://127.0.0.1:1?encryption_key_file={bad}",
        "etcd://127.0.0.1:1?encryption_key_env=KVSTORE_TEST_UNSET",
        "etcd://127.0.0.1:1?encryption_key_file=",
        "etcd://127.0.0.1:1?enable_encryption=true",
    ):
        with pytest.raises(ConfigurationError) as info:
            kvstore.open(url)
        assert CANARY not in str(info.value)
    with pytest.raises(ConfigurationError):
        EtcdConfig(encryption_key=CANARY_KEY, encryption_key_env="X")
    with pytest.raises(ConfigurationError):
        EtcdConfig.from_url(f"etcd://h?encryption_key_file={bad}&encryption_key_env=X")


def test_a_key_source_implies_encryption() -> None:
    # Never plaintext because the enable flag was forgotten.
    assert EtcdConfig(encryption_key=CANARY_KEY).enable_encryption
    assert EtcdConfig(encryption_key_env="X").enable_encryption
    assert not EtcdConfig().enable_encryption


@pytest.mark.etcd
def test_open_with_key_file_stores_ciphertext(etcd_endpoints: list[str], tmp_path: Path) -> None:
    import etcd3

    path = _key_file(tmp_path, Keyring.encode_key(CANARY_KEY) + "\n")
    store = kvstore.open(f"etcd://{etcd_endpoints[0]}?encryption_key_file={path}")
    host, _, port = etcd_endpoints[0].rpartition(":")
    raw = etcd3.client(host=host, port=int(port))
    try:
        assert isinstance(store, EncryptedStore)
        store.put("secret/a", CANARY.encode())
        stored, _ = raw.get("secret/a")
        assert stored is not None and stored[:3] == b"kve"
        assert CANARY.encode() not in stored
        assert store.get("secret/a") == CANARY.encode()
    finally:
        raw.close()
        store.close()
