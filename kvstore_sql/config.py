"""``SQLiteConfig``: where a SQLite store keeps its data and how, from arguments or a URL.

URLs follow SQLAlchemy's convention: three slashes and a relative path, four for an
absolute one::

    sqlite:///relative/path.db                 # ./relative/path.db
    sqlite:////var/lib/app/kvstore.db          # /var/lib/app/kvstore.db
    sqlite:///app.db?synchronous=normal&auto_compact=10000&busy_timeout=30

Options:

- ``synchronous``: ``full`` (the default: an acknowledged write survives a power loss,
  as etcd's fsync does) or ``normal`` (faster; a power loss, not a process crash, may
  lose the last writes);
- ``auto_compact``: keep the last N revisions, compacting older history as writes go on
  (0, the default: keep everything until ``compact_revision``);
- ``busy_timeout``: seconds a write waits for another process's write to finish before
  it fails with ``OperationTimeoutError`` (default 60).

Path percent-escapes are decoded (``%20`` is a space). ``:memory:`` is refused: the store
opens several connections to its database, and each would get its own empty one (use
``memory://`` for an in-memory store).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Literal, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

import attrs

from kvstore.errors import ConfigurationError

__all__ = ["DEFAULT_BUSY_TIMEOUT", "SQLiteConfig", "Synchronous"]

Synchronous = Literal["full", "normal"]

DEFAULT_BUSY_TIMEOUT = 60.0
"""Seconds a write waits for the database's write lock (other processes' writes)."""

_OPTIONS = ("auto_compact", "busy_timeout", "synchronous")


def _check_path(instance: SQLiteConfig, attribute: attrs.Attribute[str], path: str) -> None:
    if not isinstance(path, str) or not path:
        raise ConfigurationError("open: a SQLite store needs the path of its database file")
    if path == ":memory:" or path.startswith("file:"):
        raise ConfigurationError(
            f"open: {path!r} is not a file path: a SQLite store needs a file its connections "
            "share (memory:// is the in-memory store)"
        )


def _check_synchronous(
    instance: SQLiteConfig, attribute: attrs.Attribute[str], synchronous: str
) -> None:
    if synchronous not in ("full", "normal"):
        raise ConfigurationError(
            f"open: synchronous must be 'full' or 'normal', not {synchronous!r}"
        )


def _check_auto_compact(
    instance: SQLiteConfig, attribute: attrs.Attribute[int], auto_compact: int
) -> None:
    if not isinstance(auto_compact, int) or isinstance(auto_compact, bool) or auto_compact < 0:
        raise ConfigurationError(
            f"open: auto_compact must be an int >= 0 (0: off), not {auto_compact!r}"
        )


def _check_busy_timeout(
    instance: SQLiteConfig, attribute: attrs.Attribute[float], busy_timeout: float
) -> None:
    if (
        not isinstance(busy_timeout, (int, float))
        or isinstance(busy_timeout, bool)
        or not math.isfinite(busy_timeout)
        or busy_timeout <= 0
    ):
        raise ConfigurationError(
            f"open: busy_timeout must be a positive number of seconds, not {busy_timeout!r}"
        )


@attrs.frozen
class SQLiteConfig:
    """The settings of a SQLite store (see the module docstring for their meaning).

    Attributes:
        path: The database file (relative to the working directory, or absolute). Its
            directory must exist: it is not created.
        synchronous: ``"full"`` (durable on power loss) or ``"normal"``.
        auto_compact: Keep this many revisions of history (0: keep everything).
        busy_timeout: Seconds a write waits for other processes' writes.

    Raises:
        ConfigurationError: A setting is not valid.
    """

    path: str = attrs.field(converter=os.fspath, validator=_check_path)
    synchronous: Synchronous = attrs.field(default="full", validator=_check_synchronous)
    auto_compact: int = attrs.field(default=0, validator=_check_auto_compact)
    busy_timeout: float = attrs.field(default=DEFAULT_BUSY_TIMEOUT, validator=_check_busy_timeout)

    @classmethod
    def from_url(cls, url: str) -> SQLiteConfig:
        """The settings a ``sqlite://`` URL gives (see the module docstring).

        Raises:
            ConfigurationError: The URL is not a ``sqlite:///path`` URL, or an option is
                unknown or not valid.
        """
        parts = urlsplit(url)
        if (
            parts.scheme.lower() != "sqlite"
            or not url[len(parts.scheme) :].startswith("://")
            or parts.netloc
            or parts.fragment
            or not parts.path.startswith("/")
            or parts.path == "/"
        ):
            raise ConfigurationError(
                "open: a SQLite URL is sqlite:///relative/path.db or "
                "sqlite:////absolute/path.db (no host)",
                operation="open",
            )
        options = parse_qs(parts.query, keep_blank_values=True)
        unknown = sorted(set(options) - set(_OPTIONS))
        if unknown:
            raise ConfigurationError(
                f"open: unknown sqlite:// option(s): {', '.join(unknown)} "
                f"(known: {', '.join(_OPTIONS)})",
                operation="open",
            )
        values = {name: raw[-1] for name, raw in options.items()}
        return cls(
            unquote(parts.path[1:]),
            synchronous=_synchronous(values.get("synchronous", "full")),
            auto_compact=_number(values, "auto_compact", int, 0),
            busy_timeout=_number(values, "busy_timeout", float, DEFAULT_BUSY_TIMEOUT),
        )


def _synchronous(raw: str) -> Synchronous:
    value = raw.lower()
    if value == "full":
        return "full"
    if value == "normal":
        return "normal"
    raise ConfigurationError(
        f"open: synchronous must be 'full' or 'normal', not {raw!r}", operation="open"
    )


_N = TypeVar("_N", int, float)


def _number(values: dict[str, str], name: str, kind: Callable[[str], _N], default: _N) -> _N:
    raw = values.get(name)
    if raw is None:
        return default
    try:
        return kind(raw)
    except ValueError:
        raise ConfigurationError(
            f"open: {name} must be a number, not {raw!r}", operation="open"
        ) from None
