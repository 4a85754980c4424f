"""Wrapper composition in one place: ``kvstore.wrappers.compose.wrap_store``, used by
``kvstore.open(url)`` for every scheme (``?namespace=``, ``?encryption_key_file=`` /
``?encryption_key_env=``, ``?compress=1``), by ``kvstore_etcd.new_client()`` and by the CLI
(``--namespace``, ``--key-file``), in the fixed order
``NamespacedStore( CompressedStore( EncryptedStore( backend ) ) )``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import kvstore
import kvstore.cli
from kvstore import ConfigurationError, DecryptionError, StoreClosedError
from kvstore.base import BaseStore
from kvstore.cli import main
from kvstore.wrappers import NamespacedStore
from kvstore.wrappers.compose import WRAPPER_ORDER, split_url, wrap_store
from kvstore.wrappers.encryption import EncryptedStore, Keyring
from kvstore_memory import MemoryStore

KEY1 = b"1" * 32
KEY2 = b"2" * 32


def _key_file(tmp_path: Path, *keys: bytes, name: str = "keys") -> str:
    path = tmp_path / name
    path.write_text(
        "".join(f"{key_id}:{Keyring.encode_key(key)}\n" for key_id, key in enumerate(keys, 1))
    )
    return str(path)


def _chain(store: BaseStore) -> list[str]:
    """The class names from the outermost store to the backend."""
    names = [type(store).__name__]
    while hasattr(store, "inner"):
        store = store.inner
        names.append(type(store).__name__)
    return names


def _backend(store: BaseStore) -> BaseStore:
    while hasattr(store, "inner"):
        store = store.inner
    return store


class _SharedMemory(MemoryStore):
    """A ``MemoryStore`` that outlives the CLI commands that "close" it."""

    def close(self) -> None:
        pass


@pytest.fixture
def shared(monkeypatch: pytest.MonkeyPatch) -> Iterator[_SharedMemory]:
    """Every ``kvstore.open`` of the CLI gets the same backend (so commands see each
    other's writes); the URLs it was asked to open are in ``shared.urls``."""
    store = _SharedMemory()
    urls: list[str] = []

    def open_shared(url: str) -> MemoryStore:
        urls.append(url)
        return store

    for name in ("KVSTORE_URL", "ETCD_ENDPOINTS", "KVSTORE_NAMESPACE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("KVSTORE_ENCRYPTION_KEY_FILE", raising=False)
    monkeypatch.delenv("KVSTORE_ENCRYPTION_KEY", raising=False)
    monkeypatch.setattr(kvstore, "open", open_shared)
    store.urls = urls  # type: ignore[attr-defined]
    yield store
    MemoryStore.close(store)


# ---------------------------------------------------------------------------- kvstore.open


def test_no_wrapper_option_opens_the_bare_backend() -> None:
    with kvstore.open("memory://?max_txn_ops=7") as store:
        assert type(store) is MemoryStore
        assert store.max_txn_ops == 7


def test_namespace_on_memory() -> None:
    with kvstore.open("memory://?namespace=app/") as store:
        assert isinstance(store, NamespacedStore) and store.prefix == "app/"
        store.put("k", b"v")
        assert store.inner.get("app/k") == b"v"
        assert store.list("") == ["k"]


def test_namespace_is_percent_decoded() -> None:
    with kvstore.open("memory://?namespace=a%26b%2F") as store:
        assert isinstance(store, NamespacedStore) and store.prefix == "a&b/"


def test_encryption_key_file_on_memory(tmp_path: Path) -> None:
    with kvstore.open(f"memory://?encryption_key_file={_key_file(tmp_path, KEY1)}") as store:
        assert _chain(store) == ["EncryptedStore", "MemoryStore"]
        store.put("k", b"secret")
        raw = _backend(store).get("k")
        assert raw.startswith(b"kve") and b"secret" not in raw
        assert store.get("k") == b"secret"


def test_encryption_key_env_on_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KVSTORE_TEST_COMPOSE_KEYS", f"1:{Keyring.encode_key(KEY1)}")
    with kvstore.open("memory://?encryption_key_env=KVSTORE_TEST_COMPOSE_KEYS") as store:
        assert isinstance(store, EncryptedStore) and store.keyring.primary == 1
        store.put("k", b"v")
        assert EncryptedStore(_backend(store), Keyring.single(KEY1)).get("k") == b"v"


def test_namespace_is_outside_encryption_so_the_full_key_is_bound(tmp_path: Path) -> None:
    url = f"memory://?encryption_key_file={_key_file(tmp_path, KEY1)}&namespace=app/"
    with kvstore.open(url) as store:
        assert _chain(store) == ["NamespacedStore", "EncryptedStore", "MemoryStore"]
        store.put("k", b"secret")
        backend = _backend(store)
        raw = backend.get("app/k")  # ciphertext, under the prefixed key
        assert raw.startswith(b"kve") and b"secret" not in raw
        # The envelope binds the stored key "app/k", prefix included ...
        assert EncryptedStore(backend, Keyring.single(KEY1)).get("app/k") == b"secret"
        # ... so the same bytes under another namespace do not decrypt.
        backend.put("other/k", raw)
        other = NamespacedStore(EncryptedStore(backend, Keyring.single(KEY1)), "other/")
        with pytest.raises(DecryptionError):
            other.get("k")


def test_compress_on_memory() -> None:
    with kvstore.open("memory://?compress=1&compress_level=9") as store:
        assert _chain(store) == ["CompressedStore", "MemoryStore"]
        value = b"abc" * 10_000
        store.put("k", value)
        assert store.get("k") == value
        assert len(_backend(store).get("k")) < len(value)


def test_full_order_namespace_compression_encryption(tmp_path: Path) -> None:
    keys = _key_file(tmp_path, KEY1)
    url = f"memory://?compress=true&trace=1&namespace=app/&encryption_key_file={keys}"
    with kvstore.open(url) as store:
        assert _chain(store) == [*WRAPPER_ORDER, "MemoryStore"]
        value = b"abc" * 10_000
        store.put("k", value)
        raw = _backend(store).get("app/k")
        # compressed before it was encrypted: the ciphertext is far smaller than the value
        assert raw.startswith(b"kve") and len(raw) < len(value) // 10
        assert store.get("k") == value


def test_compress_off_builds_no_compression() -> None:
    with kvstore.open("memory://?compress=0&namespace=a/") as store:
        assert _chain(store) == ["NamespacedStore", "MemoryStore"]


# ---------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("namespace=", "namespace"),
        ("namespace=a/&namespace=b/", "twice"),
        ("compress=maybe", "compress"),
        ("compress=", "compress"),
        ("compress=1&compress_level=high", "compress_level"),
        ("compress_level=3", "compress=1"),
        ("compress=1&compress_level=42", "level"),
        ("compress=1&compress_threshold=-1", "threshold"),
        ("encryption_key_file=", "encryption_key_file"),
        ("encryption_key_env=", "encryption_key_env"),
        ("encryption_key_file=/k&encryption_key_env=K", "one encryption key source"),
    ],
)
def test_bad_wrapper_options_are_configuration_errors(query: str, named: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        kvstore.open(f"memory://?{query}")
    assert named in str(info.value)


def test_a_missing_key_file_is_named(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-keys")
    with pytest.raises(ConfigurationError) as info:
        kvstore.open(f"memory://?encryption_key_file={missing}")
    assert missing in str(info.value)


def test_an_unset_key_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KVSTORE_TEST_COMPOSE_UNSET", raising=False)
    with pytest.raises(ConfigurationError) as info:
        kvstore.open("memory://?encryption_key_env=KVSTORE_TEST_COMPOSE_UNSET")
    assert "KVSTORE_TEST_COMPOSE_UNSET" in str(info.value)


@pytest.mark.parametrize("option", ["encryption_key", "encryption_key_hex", "keyring"])
def test_key_material_in_a_url_is_refused_on_every_scheme(option: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        kvstore.open(f"memory://?{option}={KEY1.hex()}")
    assert KEY1.hex() not in str(info.value) and KEY1.hex() not in repr(info.value)


def test_wrapper_options_never_reach_the_backend_plugin() -> None:
    # memory:// refuses options it does not know: these got through only as wrappers.
    with pytest.raises(ConfigurationError, match="unknown memory"):
        kvstore.open("memory://?bogus=1")
    kvstore.open("memory://?namespace=a/&compress=off").close()


def test_a_failed_wrap_closes_the_store(tmp_path: Path) -> None:
    backend = MemoryStore()
    with pytest.raises(ConfigurationError):
        wrap_store(backend, encryption_key_file=str(tmp_path / "missing"))
    with pytest.raises(StoreClosedError):
        backend.get("k")


@pytest.mark.parametrize(
    "options",
    [
        {"namespace": ""},
        {"allow_plaintext": True},
        {"compress_level": 3},
        {"keyring": Keyring.single(KEY1), "encryption_key_env": "X"},
    ],
)
def test_wrap_store_checks_its_options(options: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        wrap_store(MemoryStore(), **options)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- wrap_store, split_url


def test_wrap_store_without_options_is_the_store_itself() -> None:
    store = MemoryStore()
    assert wrap_store(store) is store
    store.close()


def test_wrap_store_takes_a_keyring_or_a_key() -> None:
    for keys in (Keyring.single(KEY1), KEY1):
        with wrap_store(MemoryStore(), keyring=keys, namespace="n/") as store:
            assert _chain(store) == ["NamespacedStore", "EncryptedStore", "MemoryStore"]
            store.put("k", b"v")
            assert store.get("k") == b"v"


def test_split_url_keeps_the_backend_options_in_order() -> None:
    url = "etcd://u:p%40ss@h1:1,h2:2?request_timeout=2&namespace=app/&compress=1&dial_timeout=1"
    backend_url, options = split_url(url)
    assert backend_url == "etcd://u:p%40ss@h1:1,h2:2?request_timeout=2&dial_timeout=1"
    assert options == {"namespace": "app/", "compress": True}
    assert split_url("memory://?namespace=a/") == ("memory://", {"namespace": "a/"})
    assert split_url("memory://") == ("memory://", {})


def test_etcd_urls_compose_the_same_way(tmp_path: Path) -> None:
    pytest.importorskip("etcd3")
    from kvstore_etcd import EtcdStore

    url = f"etcd://127.0.0.1:1?encryption_key_file={_key_file(tmp_path, KEY1)}&namespace=a/"
    with kvstore.open(url) as store:
        # encrypted once: the etcd plugin did not see the key file and wrapped nothing
        assert _chain(store) == ["NamespacedStore", "EncryptedStore", "EtcdStore"]
        assert isinstance(_backend(store), EtcdStore)


# ---------------------------------------------------------------------------- the CLI


Cli = Callable[..., int]


@pytest.fixture
def cli(
    shared: _SharedMemory, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Cli:
    # main() sets GRPC_VERBOSITY=NONE in its process when unset, and notes it: here, that
    # process is the test's, whose later tests (tests/test_cli.py's subprocesses inherit
    # os.environ) must not see it. As test_cli.py's `seeded` fixture does:
    monkeypatch.setattr(kvstore.cli, "_ADDED_ENV_VARS", set())
    monkeypatch.setenv("GRPC_VERBOSITY", "unchanged")

    def run(*args: str) -> int:
        return main(list(args))

    return run


def test_cli_namespace_option(
    shared: _SharedMemory, cli: Cli, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli("--url", "memory://", "--namespace", "app/", "put", "k", "v") == 0
    assert shared.get("app/k") == b"v"
    assert cli("put", "j", "w", "--url", "memory://", "--namespace", "app/") == 0
    capsys.readouterr()
    assert cli("--url", "memory://", "ls") == 0
    assert capsys.readouterr().out.split() == ["app/j", "app/k"]
    assert cli("--url", "memory://", "--namespace", "app/", "ls") == 0
    assert capsys.readouterr().out.split() == ["j", "k"]


def test_cli_namespace_from_the_environment_and_the_url(
    shared: _SharedMemory,
    cli: Cli,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shared.put("env/a", b"1")
    shared.put("url/b", b"2")
    monkeypatch.setenv("KVSTORE_NAMESPACE", "env/")
    capsys.readouterr()
    assert cli("--url", "memory://", "ls") == 0
    assert capsys.readouterr().out.split() == ["a"]
    # the URL's ?namespace= and the flag are explicit: they win over the environment
    assert cli("--url", "memory://?namespace=url/", "ls") == 0
    assert capsys.readouterr().out.split() == ["b"]
    assert shared.urls[-1] == "memory://"  # the backend got the URL without the option
    assert cli("--url", "memory://?namespace=url/", "--namespace", "url/", "ls") == 0
    assert capsys.readouterr().out.split() == ["b"]


def test_cli_namespace_errors(cli: Cli, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("--url", "memory://?namespace=a/", "--namespace", "b/", "ls") == 1
    assert "--namespace and the URL's ?namespace= differ" in capsys.readouterr().err
    assert cli("--url", "memory://?namespace=", "ls") == 1
    assert "namespace" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        cli("--url", "memory://", "--namespace", "", "ls")
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit) as exit_info:
        cli("--namespace", "a/", "serve")
    assert exit_info.value.code == 2
    assert "--namespace does not apply to serve" in capsys.readouterr().err


def test_cli_never_encrypts_twice(
    shared: _SharedMemory, cli: Cli, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = _key_file(tmp_path, KEY1)
    url = f"memory://?encryption_key_file={keys}"
    assert cli("--url", url, "--key-file", keys, "put", "k", "secret") == 0
    # one EncryptedStore with the key opens it: the value was encrypted once
    assert EncryptedStore(shared, Keyring.single(KEY1)).get("k") == b"secret"
    other = _key_file(tmp_path, KEY2, name="other")
    assert cli("--url", url, "--key-file", other, "get", "k") == 1
    assert "--key-file and the URL's" in capsys.readouterr().err


def test_cli_key_file_with_namespace_binds_the_full_key(
    shared: _SharedMemory, cli: Cli, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = _key_file(tmp_path, KEY1)
    assert (
        cli("--url", "memory://", "--namespace", "app/", "--key-file", keys, "put", "k", "s") == 0
    )
    assert EncryptedStore(shared, Keyring.single(KEY1)).get("app/k") == b"s"


def test_cli_reencrypt_inside_a_namespace(
    shared: _SharedMemory, cli: Cli, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = EncryptedStore(shared, Keyring.single(KEY1))
    old.put("app/s/1", b"one")
    old.put("other/s/1", b"two")
    rotated = _key_file(tmp_path, KEY1, KEY2)  # key 2 is the primary
    capsys.readouterr()
    code = cli(
        "--url", "memory://", "--namespace", "app/", "--key-file", rotated,
        "reencrypt", "--prefix", "s/", "--json",
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert '"rewritten": 1' in capsys.readouterr().out
    both = Keyring.from_file(rotated)
    assert EncryptedStore(shared, both).inspect("app/s/1").key_id == 2
    assert EncryptedStore(shared, both).inspect("other/s/1").key_id == 1
