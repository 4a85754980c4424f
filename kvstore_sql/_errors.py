"""The one place where database driver exceptions become ``kvstore`` errors.

Every statement the SQL backend runs goes through ``map_errors`` (the engine's transactions
and the dialects' connects), so no ``sqlite3`` exception escapes ``kvstore_sql``. Each
dialect names its driver's exception classes and its translation function, both here:
``translate_sqlite`` for ``sqlite3``, ``translate_psycopg`` for PostgreSQL's ``psycopg``.

How a SQLite error is told to the caller:

==============================================  ===========================================
SQLite result code                              kvstore error
==============================================  ===========================================
``SQLITE_BUSY``, ``SQLITE_LOCKED``              ``OperationTimeoutError``: another writer
                                                held the database longer than the busy
                                                timeout (writers queue until then)
``SQLITE_CANTOPEN``, ``SQLITE_PERM``,           ``ConfigurationError``: the file cannot be
``SQLITE_READONLY``, ``SQLITE_NOTADB``,         opened, written, or is not a kvstore SQLite
``SQLITE_AUTH``                                 database: fix the URL or the permissions
``SQLITE_FULL``, ``SQLITE_IOERR``,              ``UnavailableError`` (the write was rolled
``SQLITE_CORRUPT``, ``SQLITE_NOMEM`` ...        back, nothing was applied)
the same, raised by ``COMMIT``                  ``IndeterminateError``: the commit may or may
                                                not be durable
a closed connection (``ProgrammingError``)      ``StoreClosedError``
anything else (a constraint, a misuse: a bug)   ``BackendError``
==============================================  ===========================================

Messages name the operation and the database (the SQLite file's path), in one line; the
driver's exception stays the ``__cause__``.
"""

from __future__ import annotations

import re
import sqlite3
from types import TracebackType
from typing import Protocol

from kvstore.errors import (
    AuthenticationError,
    BackendError,
    ConfigurationError,
    IndeterminateError,
    KVStoreError,
    OperationTimeoutError,
    PermissionDeniedError,
    StoreClosedError,
    UnavailableError,
)

__all__ = ["Translator", "map_errors", "translate_psycopg", "translate_sqlite"]


class Translator(Protocol):
    """What ``map_errors`` needs of a dialect: its driver's errors and how to translate them."""

    driver_errors: tuple[type[BaseException], ...]

    def translate(
        self, error: BaseException, *, operation: str, key: str | None, committing: bool
    ) -> KVStoreError:
        """The kvstore error for a driver error raised by ``operation``."""
        ...


class map_errors:
    """Raise the kvstore error for any driver error raised inside the block.

    A class rather than a ``contextlib.contextmanager``: it wraps every statement of the
    SQL backend, and a generator-based context costs several times more per use.

    Args:
        translator: The dialect of the database.
        operation: The store call that runs the block (``"put"``, ``"open"`` ...).
        key: The key the call is about, if any.
        committing: The block commits a write: an error there leaves its outcome unknown.
    """

    __slots__ = ("committing", "key", "operation", "translator")

    def __init__(
        self,
        translator: Translator,
        operation: str,
        *,
        key: str | None = None,
        committing: bool = False,
    ) -> None:
        self.translator = translator
        self.operation = operation
        self.key = key
        self.committing = committing

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if error is not None and isinstance(error, self.translator.driver_errors):
            raise self.translator.translate(
                error, operation=self.operation, key=self.key, committing=self.committing
            ) from error


# SQLite's primary result codes (https://sqlite.org/rescode.html)
_SQLITE_PERM = 3
_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
_SQLITE_READONLY = 8
_SQLITE_CANTOPEN = 14
_SQLITE_AUTH = 23
_SQLITE_NOTADB = 26

_CONFIGURATION_CODES = {
    _SQLITE_PERM: "permission denied",
    _SQLITE_READONLY: "it cannot be written (read-only file or directory)",
    _SQLITE_CANTOPEN: "it cannot be opened (a missing directory, or no permission)",
    _SQLITE_AUTH: "access denied",
    _SQLITE_NOTADB: "the file is not a SQLite database",
}

# Before Python 3.11 ``sqlite3`` errors carry no result code: their messages tell it.
_CODES_BY_MESSAGE = (
    ("database is locked", _SQLITE_BUSY),
    ("database table is locked", _SQLITE_LOCKED),
    ("readonly database", _SQLITE_READONLY),
    ("unable to open database file", _SQLITE_CANTOPEN),
    ("file is not a database", _SQLITE_NOTADB),
)


def _sqlite_code(error: sqlite3.Error) -> int | None:
    """The primary SQLite result code of ``error``, if it can be told."""
    code = getattr(error, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF  # extended codes keep the primary one in the low byte
    message = str(error).lower()
    for text, known in _CODES_BY_MESSAGE:
        if text in message:
            return known
    return None


def translate_sqlite(
    error: BaseException,
    *,
    operation: str,
    database: str,
    busy_timeout: float,
    key: str | None = None,
    committing: bool = False,
) -> KVStoreError:
    """The kvstore error for a ``sqlite3`` error (see the module docstring's table).

    Args:
        error: The ``sqlite3.Error``.
        operation: The store call that failed.
        database: How to name the database in the message (the file's path).
        busy_timeout: The busy timeout in seconds (named by ``OperationTimeoutError``).
        key: The key the call was about, if any.
        committing: ``COMMIT`` raised it.
    """
    reason = str(error).splitlines()[0] if str(error) else type(error).__name__
    if isinstance(error, sqlite3.ProgrammingError) and "closed" in reason.lower():
        return StoreClosedError(f"{operation}: the store is closed", key=key, operation=operation)
    code = _sqlite_code(error) if isinstance(error, sqlite3.Error) else None
    if code in (_SQLITE_BUSY, _SQLITE_LOCKED):
        return OperationTimeoutError(
            f"{operation}: the SQLite database {database} stayed locked by another writer "
            f"for more than the busy timeout of {busy_timeout:g} s",
            key=key,
            operation=operation,
        )
    if code in _CONFIGURATION_CODES:
        return ConfigurationError(
            f"{operation}: cannot use the SQLite database {database}: "
            f"{_CONFIGURATION_CODES[code]} ({reason})",
            key=key,
            operation=operation,
        )
    if committing:
        return IndeterminateError(
            f"{operation}: committing to the SQLite database {database} failed ({reason}); "
            "the write may or may not have been applied",
            key=key,
            operation=operation,
        )
    if type(error) in (sqlite3.OperationalError, sqlite3.DatabaseError):
        return UnavailableError(
            f"{operation}: the SQLite database {database} failed ({reason}); nothing was written",
            key=key,
            operation=operation,
        )
    return BackendError(
        f"{operation}: the SQLite database {database} failed ({reason})",
        key=key,
        operation=operation,
    )


_CONNECT_FAILURES = (
    # (what libpq or the server says, the kvstore error, what the message says)
    (re.compile(r'database "(?P<name>[^"]*)" does not exist'), ConfigurationError, "missing_db"),
    (re.compile(r'role "(?P<name>[^"]*)" does not exist'), AuthenticationError, "refused"),
    (
        re.compile(
            r"password authentication failed|authentication failed for user"
            r"|no password supplied|fe_sendauth"
        ),
        AuthenticationError,
        "refused",
    ),
    (re.compile(r"no pg_hba\.conf entry"), AuthenticationError, "refused"),
    (
        re.compile(r"failed to resolve host|could not translate host name"),
        UnavailableError,
        "unresolved",
    ),
)
"""Connection failures that psycopg raises as a bare ``OperationalError`` (no SQLSTATE):
told apart by their messages (libpq's, and the server's, which are English unless the
server was set up with another ``lc_messages``)."""


def _reason(error: BaseException) -> str:
    """The first line of the driver's message, less psycopg's and libpq's preambles."""
    text = str(error).strip()
    if not text:
        return type(error).__name__
    line = text.splitlines()[0].strip()
    line = re.sub(r"^connection failed:\s*", "", line)
    line = re.sub(
        r'^connection to server at "[^"]*"(?:\s*\([^)]*\))?, port \d+ failed:\s*', "", line
    )
    line = re.sub(r"^connection to server on socket \"[^\"]*\" failed:\s*", "", line)
    line = re.sub(r"^(FATAL|ERROR):\s*", "", line)
    return line.strip() or type(error).__name__


def translate_psycopg(
    error: BaseException,
    *,
    operation: str,
    database: str,
    key: str | None = None,
    committing: bool = False,
) -> KVStoreError:
    """The kvstore error for a ``psycopg`` error (PostgreSQL).

    ==============================================  ===========================================
    PostgreSQL / libpq                              kvstore error
    ==============================================  ===========================================
    the database does not exist                     ``ConfigurationError``: fix the URL
    wrong password, unknown role, no password,      ``AuthenticationError`` (the password is
    no ``pg_hba.conf`` entry                        never in the message)
    insufficient privilege                          ``PermissionDeniedError``
    a missing schema or catalog                     ``ConfigurationError``
    a lock or statement timeout of the server       ``OperationTimeoutError``
    the connection lost, or the server failing,     ``IndeterminateError``: the write may or
    while a write commits                           may not have been applied
    the host unknown or unreachable, the            ``UnavailableError``: nothing was written
    connection lost or refused, the server
    starting up, recovering or shutting down
    anything else (a bug)                           ``BackendError``
    ==============================================  ===========================================

    Args:
        error: The ``psycopg.Error``.
        operation: The store call that failed.
        database: How to name the database (its URL without password, and the schema).
        key: The key the call was about, if any.
        committing: The statements that ``COMMIT`` the write raised it. An ``ERROR`` the
            server answered them with (a write refused, a ``COMMIT`` failed) rolled the
            transaction back; anything else leaves the outcome unknown: no answer (a
            connection lost, or psycopg's own error), a ``FATAL`` or ``PANIC`` (a
            failure inside the commit itself), or a server failing (SQLSTATE classes 08,
            57, 58, XX).
    """
    from psycopg import errors as pg  # the [postgres] extra: imported with the dialect

    reason = _reason(error)
    if isinstance(error, pg.OperationalError) and getattr(error, "sqlstate", None) is None:
        message = str(error)
        for pattern, kind, what in _CONNECT_FAILURES:
            found = pattern.search(message)
            if found is None:
                continue
            if what == "missing_db":
                return ConfigurationError(
                    f"{operation}: the database {found['name']!r} does not exist on the "
                    f"server of {database}",
                    key=key,
                    operation=operation,
                )
            if what == "refused":
                return AuthenticationError(
                    f"{operation}: PostgreSQL refused the credentials for {database} ({reason})",
                    key=key,
                    operation=operation,
                )
            return kind(
                f"{operation}: cannot reach {database}: {reason}", key=key, operation=operation
            )
    if isinstance(error, pg.InvalidPassword | pg.InvalidAuthorizationSpecification):
        return AuthenticationError(
            f"{operation}: PostgreSQL refused the credentials for {database}",
            key=key,
            operation=operation,
        )
    if isinstance(error, pg.InsufficientPrivilege):
        return PermissionDeniedError(
            f"{operation}: permission denied on {database} ({reason})", key=key, operation=operation
        )
    if isinstance(error, pg.InvalidCatalogName | pg.InvalidSchemaName):
        return ConfigurationError(
            f"{operation}: cannot use {database}: {reason}", key=key, operation=operation
        )
    if isinstance(error, pg.QueryCanceled | pg.LockNotAvailable):
        return OperationTimeoutError(
            f"{operation}: {database} did not answer in time ({reason})",
            key=key,
            operation=operation,
        )
    if committing and _outcome_unknown(error):
        return IndeterminateError(
            f"{operation}: committing to {database} failed ({reason}); the write may or may "
            "not have been applied",
            key=key,
            operation=operation,
        )
    if isinstance(error, pg.OperationalError | pg.InterfaceError):
        return UnavailableError(
            f"{operation}: {database} is unavailable ({reason}); nothing was written",
            key=key,
            operation=operation,
        )
    return BackendError(f"{operation}: {database} failed ({reason})", key=key, operation=operation)


_UNKNOWN_OUTCOME_CLASSES = ("08", "57", "58", "XX")
"""SQLSTATE classes of a server error that may have come after a commit was durable:
connection exceptions, operator intervention (a shutdown), system and internal errors."""


def _outcome_unknown(error: BaseException) -> bool:
    """Whether a write whose commit statements raised ``error`` (a ``psycopg.Error``) may
    have been applied: anything but an ``ERROR`` the server answered with, outside
    ``_UNKNOWN_OUTCOME_CLASSES``."""
    sqlstate = getattr(error, "sqlstate", None)
    if sqlstate is None or sqlstate[:2] in _UNKNOWN_OUTCOME_CLASSES:
        return True
    diag = getattr(error, "diag", None)
    severity = getattr(diag, "severity_nonlocalized", None) or getattr(diag, "severity", None)
    return severity != "ERROR"
