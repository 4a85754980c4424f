"""Triggers that make a test's PostgreSQL schema misbehave on cue (a real server's own
failures, no mock): ``postgres_trigger``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import psycopg

__all__ = ["postgres_trigger"]


@contextlib.contextmanager
def postgres_trigger(
    postgres_url: str, when: str, table: str, body: str, *, deferred: bool = False
) -> Iterator[None]:
    """While inside, the schema of ``postgres_url`` (a ``postgres_url`` fixture's URL)
    runs the PL/pgSQL ``body`` for each row, ``when`` (``"BEFORE INSERT"``) on ``table``;
    ``deferred``: at ``COMMIT`` (a deferred constraint trigger)."""
    server, schema = postgres_url.split("?schema=")
    kind, timing = (
        ("CONSTRAINT TRIGGER", "DEFERRABLE INITIALLY DEFERRED")
        if deferred
        else (
            "TRIGGER",
            "",
        )
    )
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(
            f"CREATE FUNCTION {schema}.misbehave() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN {body} END $$"
        )
        admin.execute(
            f"CREATE {kind} misbehave {when} ON {schema}.{table} {timing} "
            f"FOR EACH ROW EXECUTE FUNCTION {schema}.misbehave()"
        )
        try:
            yield
        finally:
            admin.execute(f"DROP TRIGGER misbehave ON {schema}.{table}")
            admin.execute(f"DROP FUNCTION {schema}.misbehave()")
