"""The PostgreSQL backend's schema, and the numbered migrations that build and change it.

``schema_migrations`` lists every step applied. Opening applies the missing ones in order,
each in its own transaction, while holding an advisory lock, so two replicas starting at
once never both run one. A database with a step this version does not know was written by
a newer version: opening refuses it.

Every collection has a table ``records_<name>`` (``id text primary key, seq bigint, body
jsonb``), made at open when missing (collections are declared in code, as for the embedded
store). Index keys live in ``record_keys``: one row per record and key of each index, kept
by the store on every write from the same key functions the embedded store uses.
"""

from __future__ import annotations

import re

import psycopg
from psycopg import sql

from .errors import StoreUnavailable

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "collection_table",
    "ensure_collections",
    "look",
    "migrate",
]

# pg_advisory_lock keys: one while migrating, one for every write (the studio-wide lock).
MIGRATION_LOCK = 0x4B43_0001
WRITE_LOCK = 0x4B43_0002

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}$")

# (version, what it does, SQL). Never edit a step once released: add the next one.
MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "record order, index keys and the indexes they belong to",
        """
        CREATE SEQUENCE record_seq;
        CREATE TABLE record_keys (
            collection text NOT NULL,
            index_name text NOT NULL,
            key text NOT NULL,
            record_id text NOT NULL,
            seq bigint NOT NULL,
            is_unique boolean NOT NULL DEFAULT false
        );
        -- by(), newest_by() and page(): one key's records in seq order, from the index alone.
        CREATE INDEX record_keys_order
            ON record_keys (collection, index_name, key, seq) INCLUDE (record_id);
        -- Keeping keys up to date when a record changes or goes.
        CREATE INDEX record_keys_record ON record_keys (collection, record_id);
        -- Usernames, invite codes, the first therapist: one record per key, whoever writes.
        CREATE UNIQUE INDEX record_keys_unique
            ON record_keys (collection, index_name, key) WHERE is_unique;
        CREATE TABLE record_indexes (
            collection text NOT NULL,
            index_name text NOT NULL,
            is_unique boolean NOT NULL,
            built_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (collection, index_name)
        );
        """,
    ),
]
SCHEMA_VERSION = MIGRATIONS[-1][0]


def collection_table(name: str) -> str:
    """Return the table of a collection; refuse a name that is not a plain word."""
    if not _NAME.match(name):
        raise ValueError(f"not a collection name: {name!r}")
    return f"records_{name}"


def migrate(conn: psycopg.Connection, collections: list[str]) -> int:
    """Apply every missing migration and make missing collection tables; return the version.

    ``conn`` is in autocommit mode; each step runs in a transaction of its own.
    """
    conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY,"
            " description text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        row = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
        version = (row[0] if row else None) or 0
        if version > SCHEMA_VERSION:
            raise StoreUnavailable(
                f"This database was written by a newer Kindred Canvas (schema {version}; "
                f"this version knows {SCHEMA_VERSION}). Please upgrade the app."
            )
        for number, description, statements in MIGRATIONS:
            if number <= version:
                continue
            try:
                with conn.transaction():
                    conn.execute(statements)
                    conn.execute(
                        "INSERT INTO schema_migrations (version, description) VALUES (%s, %s)",
                        (number, description),
                    )
            except psycopg.Error as exc:
                raise StoreUnavailable(
                    f"Updating the database to schema {number} ({description}) failed, so "
                    f"none of that step was kept and the app can't start on it: {exc}"
                ) from exc
            version = number
        ensure_collections(conn, collections)
        return version
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))


def look(conn: psycopg.Connection) -> tuple[int, set[str]]:
    """Return the schema version and the tables there are, changing nothing."""
    present = {
        row[0]
        for row in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        )
    }
    version = 0
    if "schema_migrations" in present:
        row = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
        version = (row[0] if row else None) or 0
    return version, present


def ensure_collections(conn: psycopg.Connection, names: list[str]) -> None:
    """Make the table of every collection that has none yet (under the migration lock)."""
    present = {
        row[0]
        for row in conn.execute(
            "SELECT tablename FROM pg_tables"
            " WHERE schemaname = current_schema() AND tablename LIKE 'records\\_%'"
        )
    }
    missing = [name for name in names if f"records_{name}" not in present]
    if not missing:
        return
    with conn.transaction():
        for name in missing:
            table = collection_table(name)
            conn.execute(
                sql.SQL(
                    "CREATE TABLE {} (id text PRIMARY KEY, seq bigint NOT NULL,"
                    " body jsonb NOT NULL)"
                ).format(sql.Identifier(table))
            )
            conn.execute(
                sql.SQL("CREATE INDEX {} ON {} (seq)").format(
                    sql.Identifier(f"{table}_seq"), sql.Identifier(table)
                )
            )
