"""The etcd launcher: throwaway local etcd servers and clusters for tests, development, the demo.

`EtcdServer` runs one etcd member and `EtcdCluster` runs several, each from the etcd binary
found by `find_etcd_binary`, on free loopback ports with a temporary data directory that is
removed on `close()`. Members can be stopped, killed, restarted (same data directory and
ports, so they rejoin) and paused with SIGSTOP, which is what the reliability tests need.

Health and leadership are read from each member's plain-HTTP metrics listener
(``/health`` and the ``etcd_server_is_leader`` gauge), so they work the same whether the
client port uses TLS or auth, and on etcd 3.4 and 3.5.

Example::

    with EtcdCluster(3) as cluster:
        leader = cluster.leader()
        leader.kill()
        new_leader = cluster.leader()
        leader.start()

For TLS and authentication, `make_test_pki` writes a throwaway CA, server and client
certificates whose `PKIFiles.etcd_tls` feeds the launcher's ``tls`` option, and
`enable_auth` creates ``root`` and prefix-confined users and turns etcd's auth on::

    pki = make_test_pki(tmp_path, client_names=("root", "app"))
    with EtcdServer(tls=pki.etcd_tls("root")) as server:
        enable_auth(server, {"app": EtcdUser("app-password", prefix="app/")},
                    root_password="root-password")

Errors::

    RuntimeError
     +-- EtcdNotFoundError      no etcd binary could be found
     +-- EtcdLaunchError        a member did not become healthy, or was used wrongly

Modules, by concern (everything public is importable from the package itself):

- ``binary``: `find_etcd_binary`, `etcd_version`, ``BINARY_ENV_VAR``.
- ``server``: `EtcdServer`, `EtcdTLS`.
- ``cluster``: `EtcdCluster`.
- ``external``: `ExternalEtcd`, `endpoints_from_env`, `wipe_etcd`, ``ENDPOINTS_ENV_VAR``.
- ``pki``: `make_test_pki`, `PKIFiles`.
- ``auth``: `enable_auth`, `EtcdUser` (the only part that needs the ``[etcd]`` extra's
  gRPC client, imported when `enable_auth` runs).
- ``errors``: `EtcdNotFoundError`, `EtcdLaunchError`.
"""

from __future__ import annotations

from kvstore_etcd.launcher.auth import EtcdUser, enable_auth
from kvstore_etcd.launcher.binary import BINARY_ENV_VAR, etcd_version, find_etcd_binary
from kvstore_etcd.launcher.cluster import EtcdCluster
from kvstore_etcd.launcher.errors import EtcdLaunchError, EtcdNotFoundError
from kvstore_etcd.launcher.external import (
    ENDPOINTS_ENV_VAR,
    ExternalEtcd,
    endpoints_from_env,
    wipe_etcd,
)
from kvstore_etcd.launcher.pki import PKIFiles, make_test_pki
from kvstore_etcd.launcher.server import EtcdServer, EtcdTLS

__all__ = [
    "BINARY_ENV_VAR",
    "ENDPOINTS_ENV_VAR",
    "EtcdCluster",
    "EtcdLaunchError",
    "EtcdNotFoundError",
    "EtcdServer",
    "EtcdTLS",
    "EtcdUser",
    "ExternalEtcd",
    "PKIFiles",
    "enable_auth",
    "endpoints_from_env",
    "etcd_version",
    "find_etcd_binary",
    "make_test_pki",
    "wipe_etcd",
]
