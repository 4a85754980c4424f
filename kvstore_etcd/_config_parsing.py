"""``EtcdConfig``'s fields read from text: an etcd URL, the ``ETCD_*`` environment
variables, endpoint strings.

Each reader returns the keyword arguments of ``EtcdConfig`` (``EtcdConfig.from_url`` and
``from_env`` build the value from them), so reading text and validating the value stay
apart: what the text says is converted here (``"2.5"`` to seconds, ``"true"`` to a bool,
``h1,h2`` to endpoints), what the value allows is checked by ``EtcdConfig`` itself. A URL
never carries a password as an option nor key material; errors never repeat a URL or an
option's value, which may be secret.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import Any

from kvstore.errors import ConfigurationError
from kvstore.wrappers.compose import is_key_option, url_key_option

__all__ = ["DEFAULT_PORT", "env_options", "normalize_endpoint", "parse_endpoints", "url_options"]

DEFAULT_PORT = 2379
"""The port used for an endpoint given without one."""

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


def normalize_endpoint(endpoint: object) -> str:
    """``host:port`` for an endpoint given as ``host``, ``host:port`` or ``http(s)://host:port``.

    Raises:
        ConfigurationError: The endpoint is not a non-empty ``str``, has a bad port, or
            has unbalanced brackets or an IPv6 address outside brackets.
    """
    if not isinstance(endpoint, str) or not endpoint.strip():
        raise ConfigurationError(
            f"etcd config: an endpoint is a non-empty 'host:port' str, not {endpoint!r}"
        )
    text = endpoint.strip()
    for scheme in ("http://", "https://", "etcd://", "etcds://"):
        if text.lower().startswith(scheme):
            text = text[len(scheme) :]
            break
    text = text.rstrip("/")
    if "/" in text or "@" in text or not text:
        raise ConfigurationError(f"etcd config: endpoint {endpoint!r} is not 'host:port'")
    if "[" in text or "]" in text:  # IPv6 literal: exactly one [...] at the start
        if not text.startswith("[") or text.count("[") != 1 or text.count("]") != 1:
            raise ConfigurationError(
                f"etcd config: endpoint {endpoint!r} has unbalanced brackets "
                "(an IPv6 address is written '[::1]:2379')"
            )
        host, _, rest = text.partition("]")
        host += "]"
        port_text = rest[1:] if rest.startswith(":") else ""
        if rest and not rest.startswith(":"):
            raise ConfigurationError(f"etcd config: endpoint {endpoint!r} is not 'host:port'")
    elif text.count(":") > 1:
        raise ConfigurationError(
            f"etcd config: endpoint {endpoint!r} is ambiguous "
            "(an IPv6 address goes in brackets: '[::1]:2379')"
        )
    elif ":" in text:
        host, _, port_text = text.rpartition(":")
    else:
        host, port_text = text, ""
    if not host or host == "[]":
        raise ConfigurationError(f"etcd config: endpoint {endpoint!r} has no host")
    if port_text == "":
        return f"{host}:{DEFAULT_PORT}"
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ConfigurationError(f"etcd config: endpoint {endpoint!r} has an invalid port")
    return f"{host}:{int(port_text)}"


def parse_endpoints(value: object) -> tuple[str, ...]:
    """The endpoints of a comma-separated str or a list, normalized, duplicates dropped.

    Raises:
        ConfigurationError: No endpoint, a malformed one, or neither a str nor a list.
    """
    if isinstance(value, str):
        items: Iterable[object] = [part for part in value.split(",") if part.strip()]
    elif isinstance(value, Iterable):
        items = list(value)
    else:
        raise ConfigurationError(f"etcd config: endpoints must be a list of str, not {value!r}")
    endpoints = tuple(dict.fromkeys(normalize_endpoint(item) for item in items))
    if not endpoints:
        raise ConfigurationError("etcd config: at least one endpoint is needed")
    return endpoints


def url_options(url: str) -> dict[str, Any]:
    """``EtcdConfig``'s keyword arguments from an etcd URL (see ``EtcdConfig.from_url``).

    Raises:
        ConfigurationError: The URL is malformed, names an unknown option, or tries to
            carry a password or key material in an option.
    """
    if not isinstance(url, str) or "://" not in url:
        raise ConfigurationError("etcd config: a URL looks like 'etcd://host:2379'")
    scheme, _, rest = url.partition("://")
    scheme = scheme.lower()
    if scheme not in ("etcd", "etcds"):
        raise ConfigurationError(f"etcd config: URL scheme {scheme!r} is not 'etcd' or 'etcds'")
    netloc, _, query = rest.partition("?")
    netloc, _, fragment_path = netloc.partition("/")
    if fragment_path.strip("/"):
        raise ConfigurationError("etcd config: an etcd URL has no path")
    userinfo, at, hosts = netloc.partition("@") if "@" in netloc else ("", "", netloc)
    if at and ("@" in hosts or "," in userinfo):
        # Taking everything before the last '@' as userinfo would drop hosts silently;
        # the netloc is not repeated: it holds passwords.
        raise ConfigurationError(
            "etcd config: a URL takes one 'user:password@' part, before the first host "
            "(percent-encode '@' and ',' in a user name or password as %40 and %2C)"
        )
    options: dict[str, Any] = {}
    if at:
        user, colon, password = userinfo.partition(":")
        options["username"] = urllib.parse.unquote(user)
        if colon:
            options["password"] = urllib.parse.unquote(password)
    if hosts:
        options["endpoints"] = hosts
    if scheme == "etcds":
        options["tls"] = True
    try:
        pairs = urllib.parse.parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise ConfigurationError("etcd config: the URL query is malformed") from None
    for name, value in pairs:
        options.update(_option(name, value))
    return options


def env_options(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``EtcdConfig``'s keyword arguments from ``ETCD_*`` variables (see
    ``EtcdConfig.from_env``); ``environ`` defaults to ``os.environ``.

    Raises:
        ConfigurationError: A variable has an invalid value.
    """
    env = os.environ if environ is None else environ
    options: dict[str, Any] = {}
    if env.get("ETCD_ENDPOINTS", "").strip():
        options["endpoints"] = env["ETCD_ENDPOINTS"]
    if env.get("ETCD_USERNAME"):
        options["username"] = env["ETCD_USERNAME"]
    if env.get("ETCD_PASSWORD"):
        options["password"] = env["ETCD_PASSWORD"]
    if env.get("ETCD_PASSWORD_FILE"):
        options["password_file"] = env["ETCD_PASSWORD_FILE"]
    for variable, name in (
        ("ETCD_REQUEST_TIMEOUT", "request_timeout"),
        ("ETCD_DIAL_TIMEOUT", "dial_timeout"),
        ("ETCD_CACERT", "ca"),
        ("ETCD_CERT", "cert"),
        ("ETCD_KEY", "key"),
        ("ETCD_INSECURE_SKIP_VERIFY", "insecure_skip_verify"),
    ):
        if env.get(variable):
            options.update(_option(name, env[variable]))
    return options


def _seconds(value: object) -> float:
    if isinstance(value, str):
        try:
            return float(value.strip().removesuffix("s"))
        except ValueError:
            raise ConfigurationError(f"etcd config: {value!r} is not a number of seconds") from None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise ConfigurationError(f"etcd config: {value!r} is not a number of seconds")


def _parse_bool(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigurationError(f"etcd config: {name} must be true or false, not {value!r}")


def _parse_int(name: str, value: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise ConfigurationError(f"etcd config: {name} must be an int, not {value!r}") from None


_SECONDS_OPTIONS = frozenset(
    {
        "dial_timeout",
        "dial_keepalive_time",
        "dial_keepalive_timeout",
        "request_timeout",
        "auto_sync_interval",
    }
)
_INT_OPTIONS = frozenset(
    {
        "max_call_send_msg_size",
        "max_call_recv_msg_size",
        "max_txn_ops",
        "max_request_bytes",
        "watch_buffer",
    }
)
_BOOL_OPTIONS = frozenset({"tls", "insecure_skip_verify", "enable_encryption", "coalesce_reads"})
_STR_OPTIONS = frozenset(
    {
        "username",
        "password_env",
        "password_file",
        "cert",
        "key",
        "ca",
        "server_name",
    }
)
_ALIASES = {"timeout": "request_timeout", "user": "username", "cacert": "ca"}


def _option(name: str, value: str) -> dict[str, Any]:
    name = _ALIASES.get(name, name)
    if name in _SECONDS_OPTIONS:
        return {name: _seconds(value)}
    if name in _INT_OPTIONS:
        return {name: _parse_int(name, value)}
    if name in _BOOL_OPTIONS:
        return {name: _parse_bool(name, value)}
    if is_key_option(name):
        return {name: url_key_option(name, value, "etcd config")}
    if name in _STR_OPTIONS:
        return {name: value}
    if name == "endpoints":
        return {name: value}
    if name == "password":
        raise ConfigurationError(
            "etcd config: password cannot be a URL option; use password_env / password_file "
            "or the user:password@ part"
        )
    raise ConfigurationError(f"etcd config: unknown option {name!r}")
