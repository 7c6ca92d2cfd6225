"""The PostgreSQL records backend: the studio's collections in real tables, for replicas.

Chosen with ``KINDRED_DATABASE_URL=postgresql://...``. It offers the same seam as the
embedded store (``records.py``); the schema and its migrations are in ``pgschema.py``.

Units of work. A thread borrows one connection from a pool (psycopg_pool) for as long as
it is inside ``transaction()`` or ``reading()``. A transaction is one PostgreSQL
transaction (READ COMMITTED) that first takes the studio-wide write lock
(``pg_advisory_xact_lock``): writers on every thread of every replica take turns, as they
do under the embedded store's one lock, so what a transaction checked still holds when it
commits. Unique indexes (usernames, invite codes, the first therapist) are UNIQUE
constraints besides, so no write can get past them. ``reading()`` is one REPEATABLE READ,
READ ONLY snapshot: its reads agree, and it waits for nobody. A transaction opened inside
``reading()`` ends that snapshot and commits on its own; the reads after it see a new one.
A read outside both sees the latest commit. Nothing is cached in the process: what one
replica commits, the next read on any replica sees.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool, PoolTimeout

from .errors import SaveFailed, StoreUnavailable
from .pgschema import SCHEMA_VERSION, WRITE_LOCK, collection_table, look, migrate
from .records import KeyFunction, Unique, index_keys, keys_wanted, new_id

__all__ = ["PgCollection", "PgStore", "encode_key", "redacted"]

log = logging.getLogger(__name__)

CHUNK = 200  # rows fetched at a time when walking a long list
MERGED_KEYS = 8  # up to this many keys, a page reads each key's newest rows on their own
UNAVAILABLE = (
    "We can't reach the studio's database just now, so nothing was changed. "
    "Please try again in a moment."
)
REINDEX = (
    "records whose index keys are out of date; the app rebuilds a collection's indexes "
    "at its next start once their rows are gone: "
    "DELETE FROM record_indexes WHERE collection = '{name}'"
)
# One key's first rows in a page of several keys (see PgCollection.page).
BRANCH_NEWEST = (
    "(SELECT record_id, seq FROM record_keys WHERE collection = %s AND index_name = %s"
    " AND key = %s ORDER BY seq DESC LIMIT %s)"
)
BRANCH_OLDEST = (
    "(SELECT record_id, seq FROM record_keys WHERE collection = %s AND index_name = %s"
    " AND key = %s ORDER BY seq LIMIT %s)"
)
KEYS_SQL = (
    "unnest(%(names)s::text[], %(keys)s::text[], %(uniques)s::boolean[])"
    " AS t(index_name, key, is_unique)"
)


def encode_key(key: Any) -> str:
    """Return an index key as stored: JSON, so "1" and 1 stay different keys."""
    return json.dumps(key, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def redacted(url: str) -> str:
    """Return a database URL without its password, for messages."""
    try:
        parts = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "the configured database"
    host, port, name = parts.get("host", "localhost"), parts.get("port", ""), parts.get("dbname")
    return f"{host}{':' + str(port) if port else ''}/{name or ''}"


class _Index:
    """A declared index: its key function and, for a unique one, the error a clash raises."""

    def __init__(self, key: KeyFunction, unique: Unique | None) -> None:
        self.key = key
        self.unique = unique


class _Thread(threading.local):
    """What one thread has open: its connection, how deep it is, which transaction."""

    def __init__(self) -> None:
        self.conn: psycopg.Connection | None = None
        self.depth = 0  # reading() and transaction() blocks holding the connection
        self.writing = 0  # transaction() blocks, nested
        self.open: str | None = None  # the PostgreSQL transaction in progress: read | write
        self.scrub: set[str] = set()  # tables whose earlier versions should go after commit
        self.forget = False
        self.written: set[str] = set()


class PgCollection:
    """One collection: a ``records_<name>`` table, its index keys in ``record_keys``."""

    def __init__(self, store: PgStore, name: str) -> None:
        self.store = store
        self.name = name
        self.table = collection_table(name)
        self._indexes: dict[str, _Index] = {}
        self._statements: dict[tuple, str] = {}

    def _sql(self, template: str, **parts: str) -> str:
        """Return a statement with this collection's table (and fixed SQL parts) filled in."""
        cache = (template, *sorted(parts.items()))
        statement = self._statements.get(cache)
        if statement is None:
            fragments = {name: sql.SQL(text) for name, text in parts.items()}
            statement = (
                sql.SQL(template)  # type: ignore[arg-type]
                .format(table=sql.Identifier(self.table), keys=sql.SQL(KEYS_SQL), **fragments)
                .as_string(None)
            )
            self._statements[cache] = statement
        return statement

    def _fetch(self, template: str, params: Any = None, *, write: bool = False, **parts: str):
        """Run a statement on this collection's table (see ``PgStore.fetch``)."""
        return self.store.fetch(self._sql(template, **parts), params, write=write)

    # -- reading -----------------------------------------------------------------------------

    def get(self, record_id: str) -> dict | None:
        """Return the record with this id, or None."""
        rows = self._fetch("SELECT body FROM {table} WHERE id = %s", (record_id,))
        return rows[0][0] if rows else None

    def __contains__(self, record_id: object) -> bool:
        if not isinstance(record_id, str):
            return False
        return bool(self._fetch("SELECT 1 FROM {table} WHERE id = %s", (record_id,)))

    def __len__(self) -> int:
        return int(self._fetch("SELECT count(*) FROM {table}")[0][0])

    def all(self) -> Iterator[dict]:
        """Yield every record, oldest first (those there when it was called)."""
        top = self._fetch("SELECT coalesce(max(seq), 0) FROM {table}")[0][0]
        return self._walk_all(top)

    def _walk_all(self, top: int) -> Iterator[dict]:
        after = 0
        while True:
            rows = self._fetch(
                "SELECT seq, body FROM {table} WHERE seq > %s AND seq <= %s ORDER BY seq LIMIT %s",
                (after, top, CHUNK * 5),
            )
            for _seq, body in rows:
                yield body
            if len(rows) < CHUNK * 5:
                return
            after = rows[-1][0]

    def find(self, **equals: Any) -> list[dict]:
        """Return records whose fields equal the given values, oldest first."""
        return [r for r in self._candidates(equals, first=False) if _matches(r, equals)]

    def first(self, **equals: Any) -> dict | None:
        """Return the oldest record matching ``find``, or None."""
        return next((r for r in self._candidates(equals, first=True) if _matches(r, equals)), None)

    def _candidates(self, equals: dict[str, Any], *, first: bool) -> list[dict]:
        # Text values narrow the scan in the database (containment is equality for them);
        # others (None also matches a missing field) are compared here.
        exact = {k: v for k, v in equals.items() if isinstance(v, str)}
        where = " WHERE body @> %s" if exact else ""
        limit = " LIMIT 1" if first and len(exact) == len(equals) else ""
        params = (Jsonb(exact),) if exact else None
        rows = self._fetch(
            "SELECT body FROM {table}{where} ORDER BY seq{limit}", params, where=where, limit=limit
        )
        return [row[0] for row in rows]

    def add_index(self, name: str, key: KeyFunction, *, unique: Unique | None = None) -> None:
        """Add a secondary index kept on every write (built now if the database lacks it)."""
        self._indexes[name] = _Index(key, unique)
        self.store.ensure_index(self, name, unique is not None)

    def index_names(self) -> list[str]:
        """Return the names of the declared indexes."""
        return list(self._indexes)

    def keys_of(self, record: dict) -> dict[str, list[str]]:
        """Return a record's stored keys in every declared index."""
        return {
            name: [encode_key(k) for k in index_keys(index.key, record)]
            for name, index in self._indexes.items()
        }

    def _where(self, index: str) -> None:
        if index not in self._indexes:
            raise KeyError(index)

    def ids_by(self, index: str, key: Any) -> dict[str, None]:
        """Return ids under ``key`` in an index, oldest first."""
        self._where(index)
        rows = self._fetch(
            "SELECT record_id FROM record_keys"
            " WHERE collection = %s AND index_name = %s AND key = %s ORDER BY seq",
            (self.name, index, encode_key(key)),
        )
        return dict.fromkeys(row[0] for row in rows)

    def by(self, index: str, key: Any) -> list[dict]:
        """Return records under ``key`` in an index, oldest first."""
        self._where(index)
        rows = self._fetch(
            "SELECT r.body FROM record_keys k JOIN {table} r ON r.id = k.record_id"
            " WHERE k.collection = %s AND k.index_name = %s AND k.key = %s ORDER BY k.seq",
            (self.name, index, encode_key(key)),
        )
        return [row[0] for row in rows]

    def count_by(self, index: str, key: Any) -> int:
        """Return how many records are under ``key`` in an index."""
        self._where(index)
        rows = self._fetch(
            "SELECT count(*) FROM record_keys"
            " WHERE collection = %s AND index_name = %s AND key = %s",
            (self.name, index, encode_key(key)),
        )
        return int(rows[0][0])

    def newest_by(self, index: str, key: Any) -> Iterator[dict]:
        """Yield records under ``key`` in an index, newest first, a chunk at a time."""
        self._where(index)
        return self._newest(index, encode_key(key))

    def _newest(self, index: str, key: str) -> Iterator[dict]:
        select = (
            "SELECT k.seq, r.body FROM record_keys k JOIN {table} r ON r.id = k.record_id"
            " WHERE k.collection = %s AND k.index_name = %s AND k.key = %s"
        )
        # The first chunk is small: most callers want a page, or only the newest one.
        rows = self._fetch(f"{select} ORDER BY k.seq DESC LIMIT %s", (self.name, index, key, 25))
        size = 25
        while True:
            for _seq, body in rows:
                yield body
            if len(rows) < size:
                return
            size = min(size * 4, CHUNK * 5)
            rows = self._fetch(
                f"{select} AND k.seq < %s ORDER BY k.seq DESC LIMIT %s",
                (self.name, index, key, rows[-1][0], size),
            )

    def page(
        self,
        index: str,
        keys: Any,
        *,
        newest_first: bool = True,
        offset: int = 0,
        limit: int = 50,
    ) -> list[dict]:
        """Return one page of the records under ``keys`` (a key or a list: any of them)."""
        self._where(index)
        offset, limit = max(0, int(offset)), max(0, int(limit))
        wanted = [encode_key(k) for k in keys_wanted(keys)]
        if not limit or not wanted:
            return []
        order = "DESC" if newest_first else "ASC"
        if len(wanted) == 1:
            rows = self._fetch(
                "SELECT r.body FROM record_keys k JOIN {table} r ON r.id = k.record_id"
                " WHERE k.collection = %s AND k.index_name = %s AND k.key = %s"
                " ORDER BY k.seq {order} OFFSET %s LIMIT %s",
                (self.name, index, wanted[0], offset, limit),
                order=order,
            )
            return [row[0] for row in rows]
        if len(wanted) <= MERGED_KEYS:
            # Each key's first offset + limit rows, straight from the index, then merged.
            branch = BRANCH_NEWEST if newest_first else BRANCH_OLDEST
            source = " UNION ALL ".join([branch] * len(wanted))
            params: list[Any] = []
            for key in wanted:
                params.extend([self.name, index, key, offset + limit])
        else:
            source = (
                "SELECT record_id, seq FROM record_keys"
                " WHERE collection = %s AND index_name = %s AND key = ANY(%s)"
            )
            params = [self.name, index, wanted]
        rows = self._fetch(
            "SELECT r.body FROM (SELECT DISTINCT record_id, seq FROM ({source}) AS u"
            " ORDER BY seq {order} OFFSET %s LIMIT %s) AS k"
            " JOIN {table} r ON r.id = k.record_id ORDER BY k.seq {order}",
            (*params, offset, limit),
            order=order,
            source=source,
        )
        return [row[0] for row in rows]

    # -- writing (always inside a transaction) ----------------------------------------------

    def insert(self, record: dict) -> dict:
        """Store a new record; give it an ``id`` (if it has none) and a ``seq``; return it."""
        with self.store.transaction():
            record = dict(record)
            record.setdefault("id", new_id())
            record.pop("seq", None)
            while True:
                names, keys, uniques = self._key_rows(self.keys_of(record))
                rows = self._guarded(
                    record,
                    "WITH s AS (SELECT nextval('record_seq') AS seq),"
                    " r AS (INSERT INTO {table} (id, seq, body)"
                    "  SELECT %(id)s, s.seq, %(body)s || jsonb_build_object('seq', s.seq)"
                    "  FROM s ON CONFLICT (id) DO NOTHING RETURNING seq, body),"
                    " k AS (INSERT INTO record_keys"
                    "  (collection, index_name, key, record_id, seq, is_unique)"
                    "  SELECT %(collection)s, t.index_name, t.key, %(id)s, r.seq, t.is_unique"
                    "  FROM r, {keys})"
                    " SELECT body FROM r",
                    {
                        "id": record["id"],
                        "body": Jsonb(record),
                        "collection": self.name,
                        "names": names,
                        "keys": keys,
                        "uniques": uniques,
                    },
                )
                if rows:
                    return rows[0][0]
                record["id"] = new_id()  # the id was taken: like the embedded store, pick another

    def update(self, record_id: str, **changes: Any) -> dict:
        """Change fields of a record and return the new version (KeyError if it is gone)."""
        with self.store.transaction():
            changes.pop("id", None)
            self.store.written(self.table)
            rows = self._fetch(
                "UPDATE {table} AS r SET body = r.body || %(changes)s"
                " FROM {table} AS o WHERE r.id = %(id)s AND o.id = r.id"
                " RETURNING o.body, r.body",
                {"id": record_id, "changes": Jsonb(changes)},
                write=True,
            )
            if not rows:
                raise KeyError(record_id)
            old, new = rows[0]
            self._rekey(old, new)
            return new

    def _rekey(self, old: dict, new: dict) -> None:
        """Bring a changed record's index keys up to date (only those that changed)."""
        before, after = self.keys_of(old), self.keys_of(new)
        gone = [(n, k) for n in before for k in before[n] if k not in after[n]]
        added = {n: [k for k in after[n] if k not in before[n]] for n in after}
        if gone:
            self._fetch(
                "DELETE FROM record_keys WHERE collection = %s AND record_id = %s"
                " AND (index_name, key) IN (SELECT * FROM unnest(%s::text[], %s::text[]))",
                (self.name, new["id"], [n for n, _ in gone], [k for _, k in gone]),
                write=True,
            )
        names, keys, uniques = self._key_rows(added)
        if names:
            self._guarded(
                new,
                "INSERT INTO record_keys (collection, index_name, key, record_id, seq, is_unique)"
                " SELECT %(collection)s, t.index_name, t.key, %(id)s, %(seq)s, t.is_unique"
                " FROM {keys}",
                {
                    "collection": self.name,
                    "id": new["id"],
                    "seq": new["seq"],
                    "names": names,
                    "keys": keys,
                    "uniques": uniques,
                },
            )

    def remove(self, record_id: str) -> None:
        """Delete a record if it exists."""
        with self.store.transaction():
            self._fetch(
                "WITH d AS (DELETE FROM {table} WHERE id = %s RETURNING id)"
                " DELETE FROM record_keys WHERE collection = %s"
                " AND record_id IN (SELECT id FROM d)",
                (record_id, self.name),
                write=True,
            )

    def _key_rows(self, keys: Mapping[str, list[str]]) -> tuple[list[str], list[str], list[bool]]:
        names: list[str] = []
        values: list[str] = []
        uniques: list[bool] = []
        for name, each in keys.items():
            unique = self._indexes[name].unique is not None
            for key in each:
                names.append(name)
                values.append(key)
                uniques.append(unique)
        return names, values, uniques

    def _guarded(self, record: dict, sql: str, params: Mapping[str, Any]) -> list[tuple]:
        """Run a write; a unique key already taken raises that index's error, changing nothing."""
        has_unique = any(i.unique is not None for i in self._indexes.values())
        self.store.written(self.table)
        if not has_unique:
            return self._fetch(sql, params, write=True)
        # A savepoint, so the transaction goes on after the refusal (as it would embedded).
        self._fetch("SAVEPOINT kindred_unique", write=True)
        try:
            return self._fetch(sql, params, write=True)
        except pg_errors.UniqueViolation:
            self._fetch("ROLLBACK TO SAVEPOINT kindred_unique", write=True)
            raise self._clash(record) from None

    def _clash(self, record: dict) -> Exception:
        """Return the error of the first unique index where a key of ``record`` is taken."""
        for name, index in self._indexes.items():
            if index.unique is None:
                continue
            for key in [encode_key(k) for k in index_keys(index.key, record)]:
                taken = self._fetch(
                    "SELECT 1 FROM record_keys WHERE collection = %s AND index_name = %s"
                    " AND key = %s AND is_unique AND record_id <> %s",
                    (self.name, name, key, record.get("id", "")),
                    write=True,
                )
                if taken:
                    return index.unique.violation()
        first = next(i.unique for i in self._indexes.values() if i.unique is not None)
        assert first is not None
        return first.violation()


def _matches(record: dict, equals: dict[str, Any]) -> bool:
    return all(record.get(k) == v for k, v in equals.items())


class PgStore:
    """Every collection of one studio in a PostgreSQL database; safe for many replicas."""

    backend = "postgresql"

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        connect_timeout: float = 10.0,
        on_commit: Callable[[], None] | None = None,
        look_only: bool = False,
    ) -> None:
        self.url = url
        # Look only (``check``, ``stats``): no migration, no table or index is made.
        self.look_only = look_only
        self.missing: list[str] = []  # look only: what the app would make at its next start
        self.pool_size = pool_size
        self.connect_timeout = connect_timeout
        self.on_commit = on_commit
        self.recovery_notes: list[str] = []
        self.health_warnings: list[str] = []
        self._collections: dict[str, PgCollection] = {}
        self._local = _Thread()
        self._pool: ConnectionPool | None = None
        self._version = 0
        self._built: dict[tuple[str, str], bool] = {}

    # -- opening -----------------------------------------------------------------------------

    def open(self, collection_names: Iterable[str], *, accept_loss: bool = False) -> None:
        """Connect, apply missing migrations and make missing collection tables."""
        collection_names = list(collection_names)
        names = list(collection_names)
        for name in names:
            collection_table(name)
        pool = ConnectionPool(
            self.url,
            min_size=1,
            max_size=max(1, self.pool_size),
            kwargs={"autocommit": True},
            open=False,
            name="kindred-records",
            timeout=30.0,
        )
        try:
            pool.open(wait=True, timeout=self.connect_timeout)
        except PoolTimeout as exc:
            pool.close()
            raise StoreUnavailable(
                f"Kindred Canvas can't connect to its database ({redacted(self.url)}). "
                "Check KINDRED_DATABASE_URL and that PostgreSQL is running; nothing was changed."
            ) from exc
        self._pool = pool
        try:
            with pool.connection() as conn:
                if self.look_only:
                    self._version, present = look(conn)
                    names = [n for n in names if collection_table(n) in present]
                    self.missing.extend(
                        f"the table of {n}" for n in collection_names if n not in names
                    )
                else:
                    self._version = migrate(conn, names)
                    present = {"record_indexes"}
                if "record_indexes" in present:
                    self._built = {
                        (collection, index): unique
                        for collection, index, unique in conn.execute(
                            "SELECT collection, index_name, is_unique FROM record_indexes"
                        )
                    }
        except BaseException:
            pool.close()
            self._pool = None
            raise
        self._collections = {name: PgCollection(self, name) for name in names}

    def ensure_index(self, collection: PgCollection, index: str, unique: bool) -> None:
        """Build an index's keys from every record when the database has none for it yet."""
        if self._built.get((collection.name, index)) == unique:
            return
        if self.look_only:
            self.missing.append(f"the keys of the {index} index of {collection.name}")
            return
        with self.transaction():
            rows = self.fetch(
                "SELECT is_unique FROM record_indexes WHERE collection = %s AND index_name = %s",
                (collection.name, index),
                write=True,
            )
            if not rows or rows[0][0] != unique:
                self._build_index(collection, index, unique)
        self._built[(collection.name, index)] = unique

    def _build_index(self, collection: PgCollection, index: str, unique: bool) -> None:
        self.fetch(
            "DELETE FROM record_keys WHERE collection = %s AND index_name = %s",
            (collection.name, index),
            write=True,
        )
        declared = collection._indexes[index]
        batch: list[tuple[str, str, int]] = []

        def flush() -> None:
            if batch:
                self.fetch(
                    "INSERT INTO record_keys"
                    " (collection, index_name, key, record_id, seq, is_unique)"
                    " SELECT %s, %s, t.key, t.record_id, t.seq, %s"
                    " FROM unnest(%s::text[], %s::text[], %s::bigint[]) AS t(key, record_id, seq)",
                    (
                        collection.name,
                        index,
                        unique,
                        [b[0] for b in batch],
                        [b[1] for b in batch],
                        [b[2] for b in batch],
                    ),
                    write=True,
                )
                batch.clear()

        try:
            for record in collection.all():
                for key in index_keys(declared.key, record):
                    batch.append((encode_key(key), record["id"], record["seq"]))
                if len(batch) >= 5000:
                    flush()
            flush()
        except pg_errors.UniqueViolation as exc:
            raise StoreUnavailable(
                f"Two {collection.name} records share a key of the {index} index, which "
                "allows one record per key, so Kindred Canvas can't open this database. "
                "Nothing was changed."
            ) from exc
        self.fetch(
            "INSERT INTO record_indexes (collection, index_name, is_unique) VALUES (%s, %s, %s)"
            " ON CONFLICT (collection, index_name)"
            " DO UPDATE SET is_unique = EXCLUDED.is_unique, built_at = now()",
            (collection.name, index, unique),
            write=True,
        )
        log.info("built the %s index of %s", index, collection.name)

    def collection(self, name: str) -> PgCollection:
        """Return a collection by name."""
        return self._collections[name]

    def collections(self) -> dict[str, PgCollection]:
        """Return every collection by name."""
        return dict(self._collections)

    def schema_version(self) -> int:
        """Return the schema version (the last migration applied)."""
        return self._version

    # -- connections and transactions -------------------------------------------------------

    def _pool_or_fail(self) -> ConnectionPool:
        if self._pool is None:
            raise StoreUnavailable("The studio's database is closed.")
        return self._pool

    @contextlib.contextmanager
    def _held(self) -> Iterator[_Thread]:
        """Keep one connection for this thread until the outermost block ends."""
        state = self._local
        if state.conn is None:
            try:
                state.conn = self._pool_or_fail().getconn()
            except PoolTimeout as exc:
                raise StoreUnavailable(UNAVAILABLE) from exc
        state.depth += 1
        try:
            yield state
        finally:
            state.depth -= 1
            if state.depth == 0:
                conn, state.conn = state.conn, None
                if state.open is not None:
                    self._finish(state, "ROLLBACK", conn=conn)
                assert conn is not None
                self._pool_or_fail().putconn(conn)

    def _finish(self, state: _Thread, command: str, conn: psycopg.Connection | None = None) -> None:
        """End the PostgreSQL transaction in progress (COMMIT raises SaveFailed)."""
        conn = conn or state.conn
        state.open = None
        assert conn is not None
        try:
            conn.execute(command)
        except psycopg.Error as exc:
            if command == "COMMIT":
                raise SaveFailed() from exc
            log.warning("could not end a database transaction (%s)", exc)

    def versions(self, *names: str) -> tuple[int, ...]:
        """Cache keys for derived data: never the same twice, so nothing is cached.

        Other replicas commit to the same database without this process seeing it, so a
        per-process change count could hand out stale derived data.
        """
        return (time.monotonic_ns(),) * len(names)

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """Read several records that must agree: one snapshot until the block ends."""
        with self._held():
            yield

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes: all are committed together, or none when the block raises."""
        state = self._local
        if state.writing:
            state.writing += 1
            try:
                yield
            finally:
                state.writing -= 1
            return
        with self._held():
            if state.open == "read":
                self._finish(state, "ROLLBACK")  # the snapshot ends; the write sees the latest
            state.writing = 1
            state.forget = False
            state.written = set()
            try:
                yield
            except BaseException:
                state.writing = 0
                if state.open == "write":
                    self._finish(state, "ROLLBACK")
                raise
            state.writing = 0
            if state.open == "write":
                self._finish(state, "COMMIT")
                if state.forget:
                    self._vacuum(state, sorted(state.written))
        if self.on_commit is not None:
            self.on_commit()

    def in_transaction(self) -> bool:
        """Say whether this thread is inside a transaction."""
        return self._local.writing > 0

    def written(self, table: str) -> None:
        """Note a table the open transaction writes to."""
        self._local.written.add(table)

    def forget_earlier_versions(self) -> None:
        """Once this transaction commits, vacuum what it changed (as far as PostgreSQL can).

        Old row versions stay in the table files until VACUUM frees their space and new rows
        overwrite it, and in the WAL and base backups for as long as those are kept.
        """
        if not self._local.writing:
            raise RuntimeError("forget_earlier_versions() outside a transaction")
        self._local.forget = True

    def _vacuum(self, state: _Thread, tables: list[str]) -> None:
        # On this thread's own connection, with no transaction open (VACUUM needs none).
        assert state.conn is not None
        try:
            for table in [*tables, "record_keys"]:
                state.conn.execute(sql.SQL("VACUUM {}").format(sql.Identifier(table)))
        except psycopg.Error:
            log.exception("earlier versions could not be vacuumed now; autovacuum will")

    @contextlib.contextmanager
    def _connection(self, write: bool) -> Iterator[psycopg.Connection]:
        """Yield the connection a statement runs on, inside the right transaction."""
        state = self._local
        try:
            if state.writing:
                assert state.conn is not None
                if state.open != "write":
                    # One round trip: the transaction and the studio-wide write lock.
                    state.conn.execute(
                        "BEGIN ISOLATION LEVEL READ COMMITTED;"
                        f" SELECT pg_advisory_xact_lock({int(WRITE_LOCK)})"
                    )
                    state.open = "write"
                yield state.conn
            elif write:
                raise RuntimeError("store writes must happen inside store.transaction()")
            elif state.depth:
                assert state.conn is not None
                if state.open is None:
                    state.conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    state.open = "read"
                yield state.conn
            else:
                with self._pool_or_fail().connection() as conn:
                    yield conn
        except psycopg.OperationalError as exc:
            if isinstance(exc, pg_errors.QueryCanceled):
                raise
            raise StoreUnavailable(UNAVAILABLE) from exc

    def fetch(self, sql: str, params: Any = None, *, write: bool = False) -> list[tuple]:
        """Run one statement and return its rows (none for a statement without any)."""
        with self._connection(write) as conn:
            cursor = conn.execute(sql, params)  # type: ignore[arg-type]
            return cursor.fetchall() if cursor.description is not None else []

    def close(self) -> None:
        """Close every pooled connection."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    # -- checking ----------------------------------------------------------------------------

    def verify(self) -> tuple[list[str], list[str]]:
        """Check every record and index key against the declared indexes.

        Returns (problems, warnings). A problem: a record whose keys are not what its
        index's key function gives, keys of a record that is gone, a record whose body
        disagrees with its row. A warning: keys of an index the code no longer declares.
        """
        problems: list[str] = []
        warnings: list[str] = []
        if self._version != SCHEMA_VERSION:
            problems.append(f"schema {self._version}, but this version expects {SCHEMA_VERSION}")
        for name, collection in self._collections.items():
            bad = collection._fetch(
                "SELECT count(*) FROM {table}"
                " WHERE body->>'id' IS DISTINCT FROM id"
                " OR (body->>'seq')::bigint IS DISTINCT FROM seq"
            )[0][0]
            if bad:
                problems.append(f"{name}: {bad} records whose id or seq disagree with their row")
            orphans = collection._fetch(
                "SELECT count(*) FROM record_keys k WHERE k.collection = %s"
                " AND NOT EXISTS (SELECT 1 FROM {table} r WHERE r.id = k.record_id)",
                (name,),
            )[0][0]
            if orphans:
                problems.append(f"{name}: {orphans} index keys of records that are gone")
            for (index,) in self.fetch(
                "SELECT DISTINCT index_name FROM record_keys WHERE collection = %s", (name,)
            ):
                if index not in collection._indexes:
                    warnings.append(f"{name}: keys of an index no longer used ({index})")
            wrong = self._wrong_keys(collection)
            if wrong:
                problems.append(f"{name}: {wrong} {REINDEX.format(name=name)}")
        return problems, warnings

    def _wrong_keys(self, collection: PgCollection) -> int:
        wrong = 0
        after = ""
        declared = collection.index_names()
        while True:
            rows = collection._fetch(
                "SELECT id, seq, body FROM {table} WHERE id > %s ORDER BY id LIMIT %s",
                (after, CHUNK * 5),
            )
            if not rows:
                return wrong
            ids = [row[0] for row in rows]
            stored: dict[str, set[tuple[str, str, int]]] = {i: set() for i in ids}
            for record_id, index, key, seq in self.fetch(
                "SELECT record_id, index_name, key, seq FROM record_keys"
                " WHERE collection = %s AND record_id = ANY(%s) AND index_name = ANY(%s)",
                (collection.name, ids, declared),
            ):
                stored[record_id].add((index, key, seq))
            for record_id, seq, body in rows:
                expected = {
                    (index, key, seq)
                    for index, keys in collection.keys_of(body).items()
                    for key in keys
                }
                if expected != stored[record_id]:
                    wrong += 1
            after = ids[-1]

    def sizes(self) -> dict[str, int]:
        """Return each collection table's size on disk, with its indexes, in bytes."""
        return {
            name: int(self.fetch("SELECT pg_total_relation_size(%s::regclass)", (c.table,))[0][0])
            for name, c in self._collections.items()
        }

    def keys_size(self) -> int:
        """Return the size of the index keys table, with its indexes, in bytes."""
        return int(self.fetch("SELECT pg_total_relation_size('record_keys'::regclass)")[0][0])
