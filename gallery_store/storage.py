"""The persistence engine: TinyDB shard files, transactions, indexes and recovery.

Layout under ``<data>/store``::

    meta.json                         schema version and the list of shard files
    <collection>/<collection>-NNNNNN.json   one TinyDB file per shard of a collection
    journal.json                      only while a multi-file commit is being applied

Each collection is split into shards of at most ``shard_capacity`` records so a
write rewrites one small file, whatever else is stored. Everything is parsed once
at open and served from memory; writes go through ``ShardStorage`` (a TinyDB
``Storage``) which defers to the open transaction. A commit that touches one file
is an atomic rename; one that touches several first writes a journal, so a crash
mid-commit is completed on the next open.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from tinydb import TinyDB
from tinydb.storages import Storage

from .durable import atomic_write_bytes, remove_stray_temp_files
from .errors import StoreCorrupt, StoreUnavailable, StudioError

__all__ = [
    "SCHEMA_VERSION",
    "Collection",
    "Store",
    "StoreFileError",
    "new_id",
]

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
TABLE = "records"
META_FILE = "meta.json"
JOURNAL_FILE = "journal.json"

# Migrations upgrade a store written by an older version: MIGRATIONS[n] takes a
# store at schema n to n + 1 inside one transaction.
MIGRATIONS: dict[int, Callable[[Store], None]] = {}


def _inside_store(relative: object) -> bool:
    """Say whether a journal's file name is a plain path inside the store folder."""
    if not isinstance(relative, str) or not relative.endswith(".json"):
        return False
    parts = Path(relative).parts
    return bool(parts) and not Path(relative).is_absolute() and ".." not in parts


def new_id() -> str:
    """Return a fresh random record id (64 bits, hex)."""
    return secrets.token_hex(8)


def encode(data: Any) -> bytes:
    """Serialize a shard's tables compactly."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class StoreFileError(Exception):
    """A store file failed its integrity check (internal; becomes StoreCorrupt)."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


def read_store_file(path: Path) -> dict:
    """Read and check one store file; raise StoreFileError when it is damaged."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise StoreFileError(path, "the file is missing") from exc
    except OSError as exc:
        raise StoreFileError(path, f"the file cannot be read ({exc.strerror})") from exc
    if not raw.strip(b"\x00 \t\r\n"):
        raise StoreFileError(path, "the file is empty or full of zero bytes")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StoreFileError(path, f"the file is not valid JSON ({exc})") from exc
    if not isinstance(data, dict) or not all(isinstance(t, dict) for t in data.values()):
        raise StoreFileError(path, "the file does not hold TinyDB tables")
    for table in data.values():
        for doc_id, doc in table.items():
            if not doc_id.isdigit() or not isinstance(doc, dict):
                raise StoreFileError(path, f"record {doc_id!r} is malformed")
    return data


class ShardStorage(Storage):
    """TinyDB storage kept in memory whose writes are flushed by the store's commit."""

    def __init__(self, path: Path, store: Store, initial: dict | None = None) -> None:
        self.path = path
        self._store = store
        self._tables: dict = initial if initial is not None else {}

    def read(self) -> dict:
        return self._tables

    def write(self, data: dict) -> None:
        self._tables = data
        self._store.mark_dirty(self)

    def reload(self, journaled: dict | None = None) -> None:
        """Drop in-memory changes; take the last durable state (a pending journal's, or disk's)."""
        if journaled is not None:
            self._tables = journaled
            return
        self._tables = read_store_file(self.path) if self.path.exists() else {}

    def snapshot(self) -> bytes:
        """Return the bytes that represent this shard on disk."""
        return encode(self._tables)

    def close(self) -> None:
        """Nothing to release: the file is only open while it is written."""


class Shard:
    """One TinyDB file holding part of a collection."""

    def __init__(self, path: Path, store: Store, initial: dict | None = None) -> None:
        self.path = path
        self.name = path.name
        self.db = TinyDB(path, storage=lambda p: ShardStorage(p, store, initial))
        self.table = self.db.table(TABLE, cache_size=0)

    @property
    def storage(self) -> ShardStorage:
        """Return the shard's storage."""
        return self.db.storage  # type: ignore[return-value]

    def records(self) -> dict[str, dict]:
        """Return the raw ``doc_id -> record`` mapping (read-only)."""
        return self.storage.read().get(TABLE, {})

    def __len__(self) -> int:
        return len(self.records())


class Index:
    """A secondary index: key -> record ids in insertion order."""

    def __init__(self, key: Callable[[dict], Any]) -> None:
        self._key = key
        self._buckets: dict[Any, dict[str, None]] = {}

    def keys_of(self, record: dict) -> list[Any]:
        """Return the index keys of a record (a key function may return a list)."""
        value = self._key(record)
        if value is None:
            return []
        if isinstance(value, (list, tuple, set, frozenset)):
            return list(value)
        return [value]

    def add(self, record: dict) -> None:
        """Index a record (records arrive in ``seq`` order, so appending keeps order)."""
        for key in self.keys_of(record):
            self._buckets.setdefault(key, {})[record["id"]] = None

    def replace(self, old_keys: list[Any], record: dict, records: dict[str, dict]) -> None:
        """Re-index an updated record without moving it in the order of its buckets."""
        new_keys = self.keys_of(record)
        if old_keys == new_keys:
            return
        for key in old_keys:
            bucket = self._buckets.get(key)
            if bucket is not None:
                bucket.pop(record["id"], None)
                if not bucket:
                    del self._buckets[key]
        seq = record.get("seq", 0)
        for key in new_keys:
            bucket = self._buckets.setdefault(key, {})
            last = next(reversed(bucket), None) if bucket else None
            bucket[record["id"]] = None
            if last is not None and records[last].get("seq", 0) > seq:
                # Rare (an index key changed): put the bucket back in posting order.
                ordered = sorted(bucket, key=lambda i: records[i].get("seq", 0))
                self._buckets[key] = dict.fromkeys(ordered)

    def discard(self, record: dict) -> None:
        """Forget a record."""
        for key in self.keys_of(record):
            bucket = self._buckets.get(key)
            if bucket is not None:
                bucket.pop(record["id"], None)
                if not bucket:
                    del self._buckets[key]

    def ids(self, key: Any) -> dict[str, None]:
        """Return the ids under ``key``, oldest first (a live, read-only view)."""
        return self._buckets.get(key, {})

    def clear(self) -> None:
        """Forget everything."""
        self._buckets.clear()


class Collection:
    """A named set of records spread over shards, with indexes, served from memory."""

    def __init__(self, store: Store, name: str) -> None:
        self.store = store
        self.name = name
        self.shards: list[Shard] = []
        self._records: dict[str, dict] = {}
        self._home: dict[str, tuple[Shard, int]] = {}
        self._indexes: dict[str, Index] = {}

    # -- reading ---------------------------------------------------------------------------

    def get(self, record_id: str) -> dict | None:
        """Return the record with this id, or None (do not mutate it)."""
        return self._records.get(record_id)

    def __contains__(self, record_id: object) -> bool:
        return record_id in self._records

    def __len__(self) -> int:
        return len(self._records)

    def all(self) -> Iterator[dict]:
        """Yield every record, oldest first."""
        return iter(list(self._records.values()))

    def find(self, **equals: Any) -> list[dict]:
        """Return records whose fields equal the given values (a scan: small collections)."""
        return [r for r in self._records.values() if all(r.get(k) == v for k, v in equals.items())]

    def first(self, **equals: Any) -> dict | None:
        """Return the first record matching ``find``, or None."""
        for record in self._records.values():
            if all(record.get(k) == v for k, v in equals.items()):
                return record
        return None

    def add_index(self, name: str, key: Callable[[dict], Any]) -> None:
        """Add a secondary index maintained on every write."""
        index = Index(key)
        for record in self._records.values():
            index.add(record)
        self._indexes[name] = index

    def ids_by(self, index: str, key: Any) -> dict[str, None]:
        """Return ids under ``key`` in an index, oldest first."""
        return self._indexes[index].ids(key)

    def by(self, index: str, key: Any) -> list[dict]:
        """Return records under ``key`` in an index, oldest first."""
        return [self._records[i] for i in self._indexes[index].ids(key)]

    def newest_by(self, index: str, key: Any) -> Iterator[dict]:
        """Yield records under ``key`` in an index, newest first, lazily."""
        # Lazy: page one of a long list costs the same as of a short one. Callers hold
        # the store lock while they iterate, so the index cannot change underneath.
        for record_id in reversed(self._indexes[index].ids(key)):
            record = self._records.get(record_id)
            if record is not None:
                yield record

    # -- writing (always inside a transaction) -------------------------------------------

    def insert(self, record: dict) -> dict:
        """Store a new record; give it an ``id`` and ``seq`` if it has none; return it."""
        with self.store.transaction():
            # Say so first: if anything below fails, rollback must rebuild this collection.
            self.store.touched(self)
            record = dict(record)
            record.setdefault("id", new_id())
            while record["id"] in self._records:
                record["id"] = new_id()
            record["seq"] = self.store.next_seq()
            shard = self._shard_with_room()
            doc_id = shard.table.insert(record)
            stored = shard.records()[str(doc_id)]
            self._records[record["id"]] = stored
            self._home[record["id"]] = (shard, doc_id)
            for index in self._indexes.values():
                index.add(stored)
            return stored

    def update(self, record_id: str, **changes: Any) -> dict:
        """Change fields of a record and return the new version."""
        with self.store.transaction():
            self.store.touched(self)
            old = self._records[record_id]
            shard, doc_id = self._home[record_id]
            # Re-index only where a key changes, keeping posting order: re-adding would move
            # an edited record to the end of its index (an edited comment to the thread's end).
            old_keys = {name: index.keys_of(old) for name, index in self._indexes.items()}
            shard.table.update(changes, doc_ids=[doc_id])
            stored = shard.records()[str(doc_id)]
            self._records[record_id] = stored
            for name, index in self._indexes.items():
                index.replace(old_keys[name], stored, self._records)
            return stored

    def remove(self, record_id: str) -> None:
        """Delete a record if it exists."""
        with self.store.transaction():
            old = self._records.get(record_id)
            if old is None:
                return
            self.store.touched(self)
            shard, doc_id = self._home.pop(record_id)
            shard.table.remove(doc_ids=[doc_id])
            del self._records[record_id]
            for index in self._indexes.values():
                index.discard(old)

    def _shard_with_room(self) -> Shard:
        if self.shards and len(self.shards[-1]) < self.store.shard_capacity:
            return self.shards[-1]
        number = len(self.shards) + 1
        while True:
            path = self.store.root / self.name / f"{self.name}-{number:06d}.json"
            if not path.exists() and all(s.path != path for s in self.shards):
                break
            number += 1
        shard = Shard(path, self.store, {TABLE: {}})
        self.shards.append(shard)
        self.store.register_shard(self, shard)
        return shard

    # -- loading -----------------------------------------------------------------------------

    def load(self, shards: list[Shard]) -> None:
        """(Re)build the in-memory view from the given shards."""
        self.shards = shards
        self._records = {}
        self._home = {}
        rows = []
        for shard in shards:
            for doc_id, record in shard.records().items():
                rows.append((record.get("seq", 0), record, shard, int(doc_id)))
        rows.sort(key=lambda row: row[0])
        for _seq, record, shard, doc_id in rows:
            self._records[record["id"]] = record
            self._home[record["id"]] = (shard, doc_id)
        for index in self._indexes.values():
            index.clear()
            for record in self._records.values():
                index.add(record)

    def max_seq(self) -> int:
        """Return the highest sequence number stored."""
        return max((r.get("seq", 0) for r in self._records.values()), default=0)


def _document(record: dict, doc_id: int):
    from tinydb.table import Document

    return Document(record, doc_id=doc_id)


class Transaction:
    """The shards changed by one unit of work."""

    def __init__(self) -> None:
        self.dirty: dict[Path, ShardStorage] = {}
        self.collections: set[str] = set()
        self.new_shards: list[tuple[Collection, Shard]] = []
        self.decided = False  # set once its journal is durable: it can no longer roll back


class Store:
    """All collections of one data folder; one per process; every access under one lock."""

    def __init__(
        self,
        data_dir: Path,
        *,
        shard_capacity: int = 500,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.root = self.data_dir / "store"
        self.shard_capacity = shard_capacity
        self.lock = threading.RLock()
        self._tx: Transaction | None = None
        self._seq = 0
        self._collections: dict[str, Collection] = {}
        self._meta: Shard | None = None
        self.on_commit = on_commit
        self._process_lock_fd: int | None = None
        self._pending_journal = False
        self.recovery_notes: list[str] = []

    # -- opening -------------------------------------------------------------------------------

    def open(self, collection_names: Iterable[str]) -> None:
        """Lock the folder, finish any interrupted commit, check and load every file."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock_process()
        try:
            remove_stray_temp_files(self.root)
            self._replay_journal()
            self._load(collection_names)
        except BaseException:
            self._unlock_process()
            raise

    def _lock_process(self) -> None:
        lock_path = self.data_dir / ".lock"
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StoreUnavailable(
                f"The data folder's lock file {lock_path} can't be opened ({exc.strerror}). "
                "If it is a folder or belongs to another user, move it aside and start again; "
                "nothing in the store was touched."
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(fd)
            raise StoreUnavailable(
                f"Another Kindred Canvas server is already using the data folder {self.data_dir}. "
                "Stop it first, or point this one at another folder with KINDRED_DATA_DIR."
            ) from exc
        self._process_lock_fd = fd

    def _unlock_process(self) -> None:
        if self._process_lock_fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._process_lock_fd, fcntl.LOCK_UN)
            os.close(self._process_lock_fd)
            self._process_lock_fd = None

    def check_files(self) -> dict[str, list[str]]:
        """Return ``collection -> shard file names`` after checking every file (StoreFileError)."""
        meta_path = self.root / META_FILE
        if not meta_path.exists():
            strays = [p for p in self.root.rglob("*.json") if p.name != JOURNAL_FILE]
            if strays:
                raise StoreFileError(meta_path, "the index file is missing but data files exist")
            return {}
        meta = read_store_file(meta_path).get(TABLE, {}).get("1")
        if not isinstance(meta, dict) or not isinstance(meta.get("shards"), dict):
            raise StoreFileError(meta_path, "the index file has no list of data files")
        shards: dict[str, list[str]] = meta["shards"]
        for name, files in shards.items():
            for file_name in files:
                read_store_file(self.root / name / file_name)
        return shards

    def _load(self, collection_names: Iterable[str]) -> None:
        listing = self.check_files()
        meta_path = self.root / META_FILE
        fresh = not meta_path.exists()
        initial = None if fresh else read_store_file(meta_path)
        self._meta = Shard(meta_path, self, initial if initial is not None else {TABLE: {}})
        for name in collection_names:
            collection = Collection(self, name)
            shards = [
                Shard(self.root / name / f, self, read_store_file(self.root / name / f))
                for f in listing.get(name, [])
            ]
            collection.load(shards)
            self._collections[name] = collection
        self._seq = max((c.max_seq() for c in self._collections.values()), default=0)
        if fresh:
            with self.transaction():
                self._meta.table.insert(
                    _document({"schema_version": SCHEMA_VERSION, "shards": {}}, 1)
                )
        self._migrate()

    def schema_version(self) -> int:
        """Return the stored schema version."""
        assert self._meta is not None
        return int(self._meta.records()["1"].get("schema_version", 0))

    def _migrate(self) -> None:
        version = self.schema_version()
        if version > SCHEMA_VERSION:
            raise StoreUnavailable(
                f"This data folder was written by a newer Kindred Canvas (schema {version}; "
                f"this version knows {SCHEMA_VERSION}). Please upgrade the app."
            )
        while version < SCHEMA_VERSION:
            with self.transaction():
                MIGRATIONS[version](self)
                self._set_meta(schema_version=version + 1)
            log.info("migrated the store from schema %s to %s", version, version + 1)
            version += 1

    def _set_meta(self, **changes: Any) -> None:
        assert self._meta is not None
        current = dict(self._meta.records()["1"])
        current.update(changes)
        self._meta.table.upsert(_document(current, 1))

    def collection(self, name: str) -> Collection:
        """Return a collection by name."""
        return self._collections[name]

    def collections(self) -> dict[str, Collection]:
        """Return every collection by name."""
        return dict(self._collections)

    # -- transactions ------------------------------------------------------------------------

    def next_seq(self) -> int:
        """Return the next sequence number (insertion order across the store)."""
        self._seq += 1
        return self._seq

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """Hold the lock while reading several records that must agree."""
        with self.lock:
            yield

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes: all become durable together, or none do and memory is restored."""
        with self.lock:
            outer = self._tx is None
            if outer:
                self._tx = Transaction()
                seq_before = self._seq
            try:
                yield
                if outer:
                    self._commit(self._tx)
            except BaseException:
                if outer and not self._tx.decided:
                    self._rollback(self._tx)
                    self._seq = seq_before
                raise
            finally:
                if outer:
                    self._tx = None
        if outer and self.on_commit is not None:
            self.on_commit()

    def in_transaction(self) -> bool:
        """Say whether a transaction is open on this thread's behalf."""
        return self._tx is not None

    def mark_dirty(self, storage: ShardStorage) -> None:
        """Record that a shard changed in the open transaction."""
        if self._tx is None:
            raise RuntimeError("store writes must happen inside store.transaction()")
        self._tx.dirty[storage.path] = storage

    def touched(self, collection: Collection) -> None:
        """Record that a collection changed in the open transaction."""
        assert self._tx is not None
        self._tx.collections.add(collection.name)

    def register_shard(self, collection: Collection, shard: Shard) -> None:
        """List a new shard file in the index, in the same transaction."""
        assert self._tx is not None and self._meta is not None
        self._tx.new_shards.append((collection, shard))
        listing = {k: list(v) for k, v in self._meta.records()["1"]["shards"].items()}
        listing.setdefault(collection.name, []).append(shard.name)
        self._set_meta(shards=listing)
        self._tx.dirty[shard.path] = shard.storage

    def _commit(self, tx: Transaction) -> None:
        if not tx.dirty:
            return
        # Lets `python -m gallery_store backup` copy a consistent set of files while the app
        # runs: it takes this lock while it reads.
        with cross_process_write_lock(self.data_dir):
            if self._pending_journal:
                self._replay_journal()
            files = {path: storage.snapshot() for path, storage in tx.dirty.items()}
            if len(files) == 1:
                ((path, data),) = files.items()
                atomic_write_bytes(path, data)
                return
            # The shards are JSON already: splice their bytes in rather than parse them again.
            entries = b",".join(
                json.dumps(str(path.relative_to(self.root))).encode() + b":" + data
                for path, data in files.items()
            )
            # Once the journal is durable the commit is decided: applying it may be redone.
            atomic_write_bytes(self.root / JOURNAL_FILE, b'{"files":{' + entries + b"}}")
            tx.decided = True
            try:
                for path, data in files.items():
                    atomic_write_bytes(path, data)
                (self.root / JOURNAL_FILE).unlink()
            except BaseException as exc:
                # Memory keeps the decided state; the next commit or open finishes the journal.
                self._pending_journal = True
                if not isinstance(exc, (OSError, StudioError)):
                    raise
                log.exception("applying a committed journal failed; it will be retried")

    def _rollback(self, tx: Transaction) -> None:
        for collection, shard in tx.new_shards:
            if shard in collection.shards:
                collection.shards.remove(shard)
        # Files of a journal not yet applied are durable in the journal, not on disk.
        journaled = self._journaled_files()
        for path, storage in tx.dirty.items():
            if path in journaled:
                storage.reload(journaled[path])
            elif path.exists():
                storage.reload()
        for name in tx.collections:
            collection = self._collections[name]
            kept_shards = [s for s in collection.shards if s.path.exists() or s.path in journaled]
            collection.load(kept_shards)

    def _journaled_files(self) -> dict[Path, dict]:
        """Return the contents of a durable journal that is not applied yet, by path."""
        if not self._pending_journal:
            return {}
        try:
            files = json.loads((self.root / JOURNAL_FILE).read_bytes())["files"]
        except (OSError, ValueError, KeyError, TypeError):
            return {}
        return {self.root / relative: data for relative, data in files.items()}

    def _replay_journal(self) -> None:
        journal_path = self.root / JOURNAL_FILE
        if not journal_path.exists():
            self._pending_journal = False
            return
        try:
            journal = json.loads(journal_path.read_bytes())
            files = journal["files"]
            if not isinstance(files, dict) or not all(
                _inside_store(relative) and isinstance(data, dict)
                for relative, data in files.items()
            ):
                raise TypeError("not a journal of store files")
        except (OSError, ValueError, KeyError, TypeError):
            # The journal is written atomically, so a damaged one was never committed.
            quarantine = self.data_dir / "quarantine"
            quarantine.mkdir(exist_ok=True)
            os.replace(journal_path, quarantine / f"journal-{secrets.token_hex(4)}.json")
            log.warning("set aside an unreadable commit journal")
            return
        for relative, data in files.items():
            atomic_write_bytes(self.root / relative, encode(data))
        journal_path.unlink()
        self._pending_journal = False
        log.info("completed an interrupted commit of %d files", len(files))

    def store_files(self) -> list[Path]:
        """Return every durable store file (meta first)."""
        files = [self.root / META_FILE]
        for collection in self._collections.values():
            files.extend(s.path for s in collection.shards if s.path.exists())
        # A journal not yet applied holds the newest state of its files; open replays it.
        files.append(self.root / JOURNAL_FILE)
        return [f for f in files if f.exists()]

    def close(self) -> None:
        """Release the folder lock."""
        with self.lock:
            self._unlock_process()


@contextlib.contextmanager
def cross_process_write_lock(data_dir: Path) -> Iterator[None]:
    """Hold the write lock of a data folder (used by backups from another process)."""
    fd = os.open(Path(data_dir) / ".write-lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def describe_damage(error: StoreFileError, data_dir: Path) -> StoreCorrupt:
    """Turn a file error into a message that tells the operator what to do."""
    return StoreCorrupt(
        f"A data file is damaged ({error.path.name}: {error.problem}) and no good backup "
        f"was found in {data_dir / 'backups'}. Nothing was changed. Restore a backup with "
        f"`python -m gallery_store restore <archive>` into an empty folder, or move the "
        f"damaged file aside and run `python -m gallery_store check`."
    )
