"""``SQLiteConfig`` and ``PostgresConfig``: where a SQL store keeps its data and how, from
arguments or a URL.

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
import re
from collections.abc import Callable
from typing import Literal, TypeVar
from urllib.parse import parse_qs, parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import attrs

from kvstore.errors import ConfigurationError

__all__ = ["DEFAULT_BUSY_TIMEOUT", "PostgresConfig", "SQLiteConfig", "Synchronous"]

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

        Returns:
            A new ``SQLiteConfig`` (nothing is opened).

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


_POSTGRES_SCHEMES = ("postgresql", "postgres")
_POSTGRES_OPTIONS = ("auto_compact", "password_env", "password_file", "schema")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def _check_schema(instance: PostgresConfig, attribute: attrs.Attribute[str], schema: str) -> None:
    if not isinstance(schema, str) or not _IDENTIFIER.fullmatch(schema):
        raise ConfigurationError(
            f"open: schema must be a plain identifier (letters, digits, _), not {schema!r}"
        )


@attrs.frozen(repr=False)
class PostgresConfig:
    """The settings of a PostgreSQL store.

    URLs are libpq's (``postgresql://user@host:5432/dbname?sslmode=require``, also
    ``postgres://``), handed to psycopg as they are, less kvstore's own options:
    ``schema`` (the PostgreSQL schema that holds the tables, created if missing; default
    ``kvstore``: several stores can share a database), ``password_env`` /
    ``password_file`` (where the password is, instead of the URL) and ``auto_compact``.

    Attributes:
        conninfo: The libpq URI (it may hold a password: it is never shown).
        schema: The schema of the tables.
        password: A password given apart from the URL (never shown).
        auto_compact: Keep this many revisions of history (0: keep everything).

    Raises:
        ConfigurationError: A setting is not valid.
    """

    conninfo: str
    schema: str = attrs.field(default="kvstore", validator=_check_schema)
    password: str | None = None
    auto_compact: int = attrs.field(default=0, validator=_check_auto_compact)

    @property
    def description(self) -> str:
        """The URL without its password, and the schema: how messages name the store."""
        parts = urlsplit(self.conninfo)
        netloc = parts.netloc
        if "@" in netloc:
            user, _, host = netloc.rpartition("@")
            netloc = f"{user.split(':', 1)[0]}@{host}"
        return f"{parts.scheme}://{netloc}{parts.path} (schema {self.schema})"

    def __repr__(self) -> str:
        return f"PostgresConfig({self.description!r})"

    @classmethod
    def from_url(cls, url: str) -> PostgresConfig:
        """The settings a ``postgresql://`` URL gives.

        Returns:
            A new ``PostgresConfig``: the libpq connection string without kvstore's options, and
            those options (nothing is connected).

        Raises:
            ConfigurationError: The URL is not a PostgreSQL URL, an option is unknown or
                not valid, or the password's environment variable or file is missing.
        """
        parts = urlsplit(url)
        if parts.scheme.lower() not in _POSTGRES_SCHEMES:
            raise ConfigurationError(
                "open: a PostgreSQL URL is postgresql://user@host:5432/dbname", operation="open"
            )
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        ours = {name: value for name, value in pairs if name in _POSTGRES_OPTIONS}
        libpq = [(name, value) for name, value in pairs if name not in _POSTGRES_OPTIONS]
        password = None
        if "password_env" in ours:
            password = os.environ.get(ours["password_env"])
            if password is None:
                raise ConfigurationError(
                    f"open: the environment variable {ours['password_env']} is not set",
                    operation="open",
                )
        if "password_file" in ours:
            try:
                with open(ours["password_file"], encoding="utf-8") as file:
                    password = file.read().strip()
            except OSError as exc:
                raise ConfigurationError(
                    f"open: cannot read the password file {ours['password_file']}: {exc.strerror}",
                    operation="open",
                ) from None
        conninfo = urlunsplit(
            (parts.scheme, parts.netloc, parts.path, urlencode(libpq), parts.fragment)
        )
        return cls(
            conninfo,
            schema=ours.get("schema", "kvstore"),
            password=password,
            auto_compact=_number(ours, "auto_compact", int, 0),
        )
