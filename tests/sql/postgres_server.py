"""The tests' throwaway PostgreSQL server: ``kvstore_sql.launcher.PostgresServer`` (kept
importable under this name for the test modules that import it from here)."""

from __future__ import annotations

from kvstore_sql.launcher import PostgresServer

__all__ = ["PostgresServer"]
