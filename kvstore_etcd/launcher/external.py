"""An etcd not launched here (``$KVSTORE_ETCD_ENDPOINTS``), and emptying any etcd."""

from __future__ import annotations

import base64
import os
import urllib.error
from dataclasses import dataclass

from kvstore_etcd.launcher._common import http_json, strip_scheme
from kvstore_etcd.launcher.errors import EtcdLaunchError

__all__ = ["ENDPOINTS_ENV_VAR", "ExternalEtcd", "endpoints_from_env", "wipe_etcd"]

ENDPOINTS_ENV_VAR = "KVSTORE_ETCD_ENDPOINTS"
"""Environment variable with comma-separated ``host:port`` of an external etcd to test."""


def endpoints_from_env() -> list[str] | None:
    """Read external etcd endpoints from ``$KVSTORE_ETCD_ENDPOINTS``.

    Returns:
        The ``host:port`` strings, or ``None`` when the variable is unset or empty.
    """
    raw = os.environ.get(ENDPOINTS_ENV_VAR, "")
    endpoints = [strip_scheme(part.strip()) for part in raw.split(",") if part.strip()]
    return endpoints or None


@dataclass(frozen=True)
class ExternalEtcd:
    """An etcd not launched by us, from ``$KVSTORE_ETCD_ENDPOINTS``; no process control.

    Attributes:
        endpoints: ``host:port`` strings.
    """

    endpoints: list[str]

    @property
    def endpoint(self) -> str:
        """The first endpoint."""
        return self.endpoints[0]

    @property
    def client_urls(self) -> list[str]:
        """``http://host:port`` for every endpoint."""
        return [f"http://{endpoint}" for endpoint in self.endpoints]

    @property
    def host(self) -> str:
        """Host of the first endpoint."""
        return self.endpoint.rsplit(":", 1)[0]

    @property
    def client_port(self) -> int:
        """Port of the first endpoint."""
        return int(self.endpoint.rsplit(":", 1)[1])


def wipe_etcd(endpoint: str, *, timeout: float = 5.0) -> None:
    """Revoke every lease and delete every key, through the JSON gateway over plain HTTP.

    Leases go first because revoking one deletes its keys; the delete covers the whole
    keyspace (``key="\\0"``, ``range_end="\\0"``), which prefix deletes cannot express.
    Works on etcd 3.4 and 3.5 without auth or TLS.

    Args:
        endpoint: ``host:port`` of any member (or ``http://host:port``).
        timeout: Seconds per HTTP call.

    Raises:
        EtcdLaunchError: A gateway call failed.
    """
    base = endpoint if "://" in endpoint else f"http://{endpoint}"
    everything = base64.b64encode(b"\0").decode()
    try:
        leases = http_json(f"{base}/v3/lease/leases", {}, timeout=timeout)
        for lease in leases.get("leases") or []:
            try:
                http_json(f"{base}/v3/lease/revoke", {"ID": lease["ID"]}, timeout=timeout)
            except urllib.error.HTTPError as exc:
                if exc.code != 404:  # expired between list and revoke
                    raise
        http_json(
            f"{base}/v3/kv/deleterange",
            {"key": everything, "range_end": everything},
            timeout=timeout,
        )
    except (OSError, ValueError, KeyError) as exc:
        raise EtcdLaunchError(f"wiping etcd at {endpoint} failed: {exc}") from exc
