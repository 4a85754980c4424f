"""Turning etcd's authentication on for tests: `enable_auth` and the `EtcdUser` it creates.

The gRPC client libraries (the ``[etcd]`` extra) are imported when `enable_auth` runs, so
the rest of the launcher works without them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kvstore.keys import prefix_range_end
from kvstore_etcd._extra import is_missing_client, missing_client_message
from kvstore_etcd.launcher._common import strip_scheme
from kvstore_etcd.launcher.errors import EtcdLaunchError
from kvstore_etcd.launcher.server import EtcdServer, EtcdTLS

__all__ = ["EtcdUser", "enable_auth"]

_AUTH_CALL_TIMEOUT = 10.0


@dataclass(frozen=True)
class EtcdUser:
    """A user for `enable_auth` to create: its password and the prefix it may use.

    Attributes:
        password: The password; kept out of ``repr``. Any value works for a user that
            only logs in with a client certificate.
        prefix: Key prefix the user's role may read and write; None gives it no role.
    """

    password: str = field(repr=False)
    prefix: str | None = None


def enable_auth(
    endpoint_or_server: str | EtcdServer,
    users: Mapping[str, EtcdUser],
    *,
    root_password: str,
    tls: EtcdTLS | None = None,
) -> None:
    """Create ``root`` and ``users``, confine each user to its prefix, and turn auth on.

    Each user with a prefix gets a role ``role-<name>`` with read-write permission on
    exactly that prefix. Auth is cluster-wide, so any one member will do; the member
    must not have auth on yet.

    Args:
        endpoint_or_server: ``host:port`` of a member, or a running `EtcdServer`.
        users: User name -> user to create (``"root"`` is made from ``root_password``).
        root_password: Password of the ``root`` user.
        tls: TLS for the call: its ``trusted_ca_file`` must have signed the server
            certificate, and its client certificate is presented. Default: the
            server's own ``tls`` when given an `EtcdServer`, else plaintext.

    Raises:
        ValueError: ``users`` names ``root``.
        EtcdLaunchError: etcd refused a call or did not answer (its status code and
            message are included, never a password).
        ModuleNotFoundError: The ``[etcd]`` extra (gRPC client libraries) is not
            installed; the message names ``pip install "kvstore[etcd]"``.
    """
    if "root" in users:
        raise ValueError("users must not name 'root'; it is made from root_password")
    grpc, auth_pb2, rpc_pb2, rpc_pb2_grpc = _client_modules()
    if isinstance(endpoint_or_server, EtcdServer):
        endpoint = endpoint_or_server.endpoint
        tls = tls if tls is not None else endpoint_or_server.tls
    else:
        endpoint = strip_scheme(endpoint_or_server)
    timeout = _AUTH_CALL_TIMEOUT
    try:
        with _grpc_channel(endpoint, tls) as channel:
            auth = rpc_pb2_grpc.AuthStub(channel)
            auth.UserAdd(
                rpc_pb2.AuthUserAddRequest(name="root", password=root_password), timeout=timeout
            )
            auth.RoleAdd(rpc_pb2.AuthRoleAddRequest(name="root"), timeout=timeout)
            auth.UserGrantRole(
                rpc_pb2.AuthUserGrantRoleRequest(user="root", role="root"), timeout=timeout
            )
            for name, user in users.items():
                auth.UserAdd(
                    rpc_pb2.AuthUserAddRequest(name=name, password=user.password),
                    timeout=timeout,
                )
                if user.prefix is None:
                    continue
                role = f"role-{name}"
                permission = auth_pb2.Permission(
                    permType=auth_pb2.Permission.READWRITE,
                    key=user.prefix.encode(),
                    range_end=prefix_range_end(user.prefix).encode(),
                )
                auth.RoleAdd(rpc_pb2.AuthRoleAddRequest(name=role), timeout=timeout)
                auth.RoleGrantPermission(
                    rpc_pb2.AuthRoleGrantPermissionRequest(name=role, perm=permission),
                    timeout=timeout,
                )
                auth.UserGrantRole(
                    rpc_pb2.AuthUserGrantRoleRequest(user=name, role=role), timeout=timeout
                )
            auth.AuthEnable(rpc_pb2.AuthEnableRequest(), timeout=timeout)
    except grpc.RpcError as exc:
        raise EtcdLaunchError(
            f"enabling etcd auth at {endpoint} failed: {exc.code()} {exc.details()}"
        ) from exc


def _client_modules() -> tuple[Any, Any, Any, Any]:
    """``grpc`` and etcd3's ``auth_pb2``, ``rpc_pb2``, ``rpc_pb2_grpc``, imported on first use."""
    try:
        import grpc
        from etcd3.etcdrpc import auth_pb2, rpc_pb2, rpc_pb2_grpc
    except ImportError as exc:
        if not is_missing_client(exc):
            raise
        raise ModuleNotFoundError(missing_client_message("enable_auth"), name=exc.name) from exc
    return grpc, auth_pb2, rpc_pb2, rpc_pb2_grpc


def _grpc_channel(endpoint: str, tls: EtcdTLS | None) -> Any:
    grpc = _client_modules()[0]
    if tls is None:
        return grpc.insecure_channel(endpoint)

    def read(path: str | None) -> bytes | None:
        return None if path is None else Path(path).read_bytes()

    credentials = grpc.ssl_channel_credentials(
        root_certificates=read(tls.trusted_ca_file),
        private_key=read(tls.client_key_file),
        certificate_chain=read(tls.client_cert_file),
    )
    return grpc.secure_channel(endpoint, credentials)
