"""The persistence engine: TinyDB shard files, a commit log, transactions, indexes, repair.

Layout under ``<data>/store``::

    meta.json                               schema, checkpoint position, every shard's checksum
    <collection>/<collection>-NNNNNN.json   one TinyDB file per shard of a collection
    log/commits-NNNNNNNNNNNN.log            every commit since the checkpoints backups rely on

Each collection is split into shards of at most ``shard_capacity`` records. Everything
is parsed once at open and served from memory. A commit appends one checked line to the
commit log (the records it changed, whole) and flushes it: that is the only write on the
request path. Now and then a checkpoint writes the shards that changed and a new
``meta.json`` with their SHA-256, so opening replays only a short log.

Opening checks every shard against its checksum. A damaged or missing shard is rebuilt
from the newest rolling backup holding a good copy plus every commit logged since, so
nothing committed is lost and nothing deleted comes back. When that is impossible the
store refuses to open and says what would be lost and which command accepts it.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import gc
import hashlib
import json
import logging
import os
import secrets
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from tinydb import TinyDB
from tinydb.storages import Storage

from .commitlog import CommitLog, LogScan, decode_line, encode_line, ops_for, segment_name
from .durable import atomic_write_bytes, fsync_dir, make_folder, remove_stray_temp_files
from .errors import StoreCorrupt, StoreUnavailable, StudioError

__all__ = [
    "SCHEMA_VERSION",
    "BackupCopy",
    "Collection",
    "Store",
    "StoreFileError",
    "new_id",
]

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2  # 2: checksums in meta.json and a commit log
TABLE = "records"
META_FILE = "meta.json"
JOURNAL_FILE = "journal.json"  # schema 1 only: a multi-file commit being applied

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


def _read_bytes(path: Path, missing: str = "the file is missing") -> bytes:
    """Return a store file's bytes; raise StoreFileError when it is missing or unreadable."""
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise StoreFileError(path, missing) from exc
    except OSError as exc:
        raise StoreFileError(path, f"the file cannot be read ({exc.strerror})") from exc


def read_store_file(path: Path) -> dict:
    """Read and check one store file; raise StoreFileError when it is damaged."""
    return parse_store_bytes(path, _read_bytes(path))


def parse_store_bytes(path: Path, raw: bytes) -> dict:
    """Check one store file's bytes and return its tables; raise StoreFileError if damaged."""
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
        self._store.require_transaction()
        self._tables = data

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

    def rebuild(self, records: dict[str, dict]) -> None:
        """Index every record (id -> record, in ``seq`` order) from scratch.

        The same as ``add`` for each, in one tight loop: at open this runs over every record.
        """
        buckets: dict[Any, dict[str, None]] = {}
        key = self._key
        for record_id, record in records.items():
            value = key(record)
            if value is None:
                continue
            if isinstance(value, (list, tuple, set, frozenset)):
                for each in value:
                    buckets.setdefault(each, {})[record_id] = None
                continue
            bucket = buckets.get(value)
            if bucket is None:
                buckets[value] = {record_id: None}
            else:
                bucket[record_id] = None
        self._buckets = buckets

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
        index.rebuild(self._records)
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
            self.store.changed(self, shard, doc_id, None)
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
            self.store.changed(self, shard, doc_id, old)
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
            self.store.changed(self, shard, doc_id, old)
            shard.table.remove(doc_ids=[doc_id])
            del self._records[record_id]
            for index in self._indexes.values():
                index.discard(old)

    def _shard_with_room(self) -> Shard:
        # The first with room: what deletions free is used again, so a collection keeps the
        # shards its records need, not one for every ``shard_capacity`` records it ever held.
        for shard in self.shards:
            if len(shard) < self.store.shard_capacity:
                return shard
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

    def shard_named(self, name: str) -> Shard | None:
        """Return the shard with this file name, if the collection has it."""
        return next((s for s in self.shards if s.name == name), None)

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
            index.rebuild(self._records)

    def max_seq(self) -> int:
        """Return the highest sequence number stored."""
        return max((r.get("seq", 0) for r in self._records.values()), default=0)


# -- meta.json ----------------------------------------------------------------------------------
#
# {"schema_version": 2, "position": P, "segment": F, "shards": {collection: {file: [[sha, p]]}}}
#
# ``position``: the last commit the shard files hold. ``segment``: the log segment commits
# after P go to. Each shard lists the checksums its file may have, with the commit each
# reflects: one normally; two while a checkpoint is being written (old and new), so a crash
# between two shard writes leaves files that still pass. ``None`` for the checksum means
# "no file yet; empty as of p".


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def encode_meta(meta: dict) -> bytes:
    """Return meta.json's bytes, with a checksum of its own content."""
    body = {k: v for k, v in meta.items() if k != "sha256"}
    digest = _sha(encode(body))
    return encode({TABLE: {"1": {**body, "sha256": digest}}})


def read_meta(path: Path) -> dict:
    """Read and check meta.json; raise StoreFileError when it is damaged."""
    return meta_from_bytes(path, _read_bytes(path, "the index file is missing"))


def meta_from_bytes(path: Path, raw: bytes) -> dict:
    """Check meta.json's bytes (``path`` names it in messages); raise StoreFileError."""
    data = parse_store_bytes(path, raw)
    meta = data.get(TABLE, {}).get("1")
    if not isinstance(meta, dict) or not isinstance(meta.get("shards"), dict):
        raise StoreFileError(path, "the index file has no list of data files")
    version = meta.get("schema_version", 0)
    if not isinstance(version, int) or isinstance(version, bool):
        raise StoreFileError(path, "the index file's schema version is malformed")
    if version > SCHEMA_VERSION:
        raise StoreUnavailable(
            f"This data folder was written by a newer Kindred Canvas (schema {version}; "
            f"this version knows {SCHEMA_VERSION}). Please upgrade the app."
        )
    if int(meta.get("schema_version", 0)) < 2:
        if not all(isinstance(files, list) for files in meta["shards"].values()):
            raise StoreFileError(path, "the index file's list of data files is malformed")
        return meta  # written before checksums: open() upgrades it
    body = {k: v for k, v in meta.items() if k != "sha256"}
    if meta.get("sha256") != _sha(encode(body)):
        raise StoreFileError(path, "the index file does not match its checksum")
    try:
        for files in meta["shards"].values():
            for pairs in files.values():
                for digest, position in pairs:
                    assert digest is None or isinstance(digest, str)
                    assert isinstance(position, int)
        int(meta["position"])
        int(meta["segment"])
    except (AssertionError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise StoreFileError(path, "the index file is malformed") from exc
    return meta


class BackupCopy(Protocol):
    """A verified rolling backup, as repair reads it."""

    name: str
    taken: str

    def meta(self) -> dict | None:
        """Return its meta.json (checked), or None if it has none or it is damaged."""

    def read(self, relative: str) -> bytes | None:
        """Return one of its files (``store/...``), or None."""


@dataclass
class Base:
    """Where a shard's rebuilt content starts: its tables as of commit ``position``."""

    tables: dict
    position: int
    source: str  # "disk", a backup's name, or "empty"
    digest: str | None = None  # the checksum of the file on disk, when it came from there


@dataclass
class Problem:
    """A shard that failed its check."""

    collection: str
    name: str
    problem: str


class Transaction:
    """What one unit of work changed."""

    def __init__(self) -> None:
        self.changes: dict[tuple[str, str, int], Shard] = {}
        self.undo: dict[tuple[int, int], tuple[Shard, int, dict | None]] = {}
        self.collections: set[str] = set()
        self.new_shards: list[tuple[Collection, Shard]] = []
        self.decided = False  # set once its log line is written: it can no longer roll back
        self.scrub = False  # drop earlier versions of what it changed from the files


class Store:
    """All collections of one data folder; one per process; every access under one lock."""

    def __init__(
        self,
        data_dir: Path,
        *,
        shard_capacity: int = 500,
        on_commit: Callable[[], None] | None = None,
        backups: Callable[[], Iterable[BackupCopy]] | None = None,
        backup_positions: Callable[[], list[int]] | None = None,
        checkpoint_bytes: int = 8 * 1024 * 1024,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.root = self.data_dir / "store"
        self.shard_capacity = shard_capacity
        self.checkpoint_bytes = checkpoint_bytes
        self.lock = threading.RLock()
        self._versions: dict[str, int] = {}
        # Held while shard files are replaced, and by a backup while it links them.
        self.checkpoint_lock = threading.Lock()
        self._tx: Transaction | None = None
        self._seq = 0
        self._commit = 0
        self._collections: dict[str, Collection] = {}
        self._meta: dict = {}
        self._dirty: dict[Path, tuple[str, Shard]] = {}
        self.on_commit = on_commit
        self.backups = backups or (lambda: [])
        # The commit each kept backup reflects: the log is pruned no further back than that.
        self.backup_positions = backup_positions or (lambda: [])
        self.log = CommitLog(self.root)
        self._process_lock_fd: int | None = None
        self._pending_journal = False
        # What opening had to do (shown to therapists and by `check`), and write troubles.
        self.recovery_notes: list[str] = []
        self.health_warnings: list[str] = []

    # -- opening -------------------------------------------------------------------------------

    def open(self, collection_names: Iterable[str], *, accept_loss: bool = False) -> None:
        """Lock the folder, check every file, repair what is damaged, load and replay."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        _make_folder(self.root)
        self._lock_process()
        try:
            remove_stray_temp_files(self.root)
            self._replay_journal()
            with _collector_paused():
                self._load(list(collection_names), accept_loss)
        except BaseException:
            self.log.close()
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

    def _checked_tables(self, path: Path, pairs: list | None) -> Base:
        """Return a shard file's content if it passes its checksum (``pairs`` None: legacy)."""
        try:
            raw = path.read_bytes()
        except FileNotFoundError as exc:
            for digest, position in pairs or []:
                if digest is None:
                    return Base({TABLE: {}}, position, "disk")
            raise StoreFileError(path, "the file is missing") from exc
        except OSError as exc:
            raise StoreFileError(path, f"the file cannot be read ({exc.strerror})") from exc
        digest = _sha(raw)
        if pairs is None:
            return Base(parse_store_bytes(path, raw), 0, "disk", digest)
        for expected, position in pairs:
            if expected == digest:
                return Base(parse_store_bytes(path, raw), position, "disk", digest)
        parse_store_bytes(path, raw)  # names the damage when the file is also unreadable
        raise StoreFileError(
            path, "the file does not match its checksum (it was changed outside the app)"
        )

    def _nothing_stored(self, scan: LogScan) -> bool:
        return not scan.commits and not any(self.root.glob("*/*.json"))

    def _load(self, names: list[str], accept_loss: bool) -> None:
        meta_path = self.root / META_FILE
        scan = self.log.scan()
        if scan.torn_tail:
            self.recovery_notes.append(
                "A commit that was being written when the server stopped was never "
                "confirmed to anyone, so it was left out (normal after a crash)."
            )
        bases: dict[tuple[str, str], Base] = {}
        problems: list[Problem] = []
        lost: list[str] = []
        upgraded = False
        repaired: set[tuple[str, str]] = set()
        meta: dict | None = None
        try:
            meta = read_meta(meta_path)
        except StoreFileError as damage:
            if not meta_path.exists() and self._nothing_stored(scan):
                meta = self._fresh_or_refuse(accept_loss, bases, lost)
            else:
                meta = self._rebuild_everything(damage, scan, accept_loss, bases, lost)
                repaired.update(bases)
        from_disk = not bases
        if from_disk:
            legacy = int(meta.get("schema_version", 0)) < 2
            if legacy:
                meta, upgraded = self._legacy_meta(meta), True
            for collection, files in meta["shards"].items():
                for file_name, pairs in files.items():
                    path = self.root / collection / file_name
                    try:
                        bases[(collection, file_name)] = self._checked_tables(
                            path, None if legacy else pairs
                        )
                    except StoreFileError as damage:
                        problems.append(Problem(collection, file_name, damage.problem))
        if from_disk:
            scan.known_last = max(scan.known_last, int(meta.get("position", 0)))
        for problem in problems:
            base = self._repair_shard(problem, scan, meta, accept_loss, lost)
            bases[(problem.collection, problem.name)] = base
            repaired.add((problem.collection, problem.name))
        position = int(meta.get("position", 0))
        segment = int(meta.get("segment", position + 1))
        if (
            from_disk
            and not upgraded
            and not (self.log.folder / segment_name(segment)).exists()
            and not accept_loss
        ):
            raise StoreCorrupt(
                _refusal(
                    self.data_dir,
                    [
                        f"the commit log after the last checkpoint ({segment_name(segment)}) "
                        "is missing, so any change made since then is gone"
                    ],
                )
            )
        # Replay: each shard takes the commits after the one its content reflects.
        start = min([b.position for b in bases.values()] + [position])
        gone = scan.missing(start)
        if gone and not accept_loss:
            raise StoreCorrupt(_refusal(self.data_dir, [_commits_lost(scan, gone)]))
        stop = gone[0] if gone else scan.last + 1
        if gone:
            lost.append(_commits_lost(scan, gone))
        replayed: set[tuple[str, str]] = set()
        for entry in scan.after(start):
            if entry["n"] >= stop:
                break
            for collection, file_name, doc_id, record in ops_for(entry):
                base = bases.get((collection, file_name))
                if base is None:
                    base = bases[(collection, file_name)] = Base({TABLE: {}}, position, "empty")
                if entry["n"] <= base.position:
                    continue
                replayed.add((collection, file_name))
                table = base.tables.setdefault(TABLE, {})
                if record is None:
                    table.pop(str(doc_id), None)
                else:
                    table[str(doc_id)] = record
        self._commit = max(scan.last, position)
        self._meta = {
            "schema_version": max(int(meta.get("schema_version", SCHEMA_VERSION)), 2),
            "position": position,
            "segment": segment,
            "shards": {},
        }
        self._build(names, bases)
        if lost or gone:
            # The log behind the loss no longer matches the store: start a fresh one.
            self._set_log_aside()
        segments = self.log.segments()
        # New commits go to the newest segment (or a new one after the last commit).
        self.log.start(segments[-1][0] if segments else self._commit + 1, scan)
        # What replay changed, and what did not come from a good file on disk (repaired).
        rebuilt = {key for key, base in bases.items() if base.source != "disk"}
        for collection, file_name in replayed | rebuilt:
            self._mark_dirty(collection, file_name)
        self.recovery_notes.extend(f"Lost: {item}" for item in lost)
        if repaired or upgraded or lost or gone:
            try:
                self.checkpoint(force=True)
            except (OSError, StudioError) as exc:
                log.error("could not write the repaired store yet (%s); it is kept in memory", exc)
        self._migrate()

    def _fresh_or_refuse(
        self, accept_loss: bool, bases: dict[tuple[str, str], Base], lost: list[str]
    ) -> dict:
        """Start a new, empty store, unless this folder clearly held a studio before."""
        leftovers = [
            name
            for name in ("images", "backups", "keys")
            if (self.data_dir / name).is_dir() and any((self.data_dir / name).iterdir())
        ]
        if leftovers and not accept_loss:
            copies = list(self.backups())
            newest = copies[0] if copies else None
            choice = (
                f"bring back the newest backup ({newest.name}, taken {newest.taken}; "
                "anything after it is lost)"
                if newest
                else "start an empty studio beside the old files"
            )
            raise StoreCorrupt(
                f"The studio's records are missing: {self.root} is empty or gone, but "
                f"{' and '.join(leftovers)} are still in {self.data_dir}. Nothing was changed. "
                "If the folder was moved, point KINDRED_DATA_DIR at it. To restore a whole-studio "
                "archive: `python -m gallery_store restore ARCHIVE` into an empty folder. "
                f"To {choice}: `python -m gallery_store recover --accept-loss`."
            )
        if leftovers:
            copies = [c for c in self.backups() if c.meta() is not None]
            if copies:
                lost.append(f"every change after backup {copies[0].name} (taken {copies[0].taken})")
                return self._meta_from_backup(copies[0], bases, accept_loss=True)
            lost.append("every record: the store was missing and no backup was left")
        self.log.create_segment(1)
        meta = {"schema_version": SCHEMA_VERSION, "position": 0, "segment": 1, "shards": {}}
        atomic_write_bytes(self.root / META_FILE, encode_meta(meta))
        return meta

    def _meta_from_backup(
        self, copy_: BackupCopy, bases: dict[tuple[str, str], Base], *, accept_loss: bool
    ) -> dict:
        meta = copy_.meta()
        assert meta is not None
        for collection, files in meta["shards"].items():
            for file_name, pairs in files.items():
                data = copy_.read(f"store/{collection}/{file_name}")
                found = _match(data, pairs)
                if found is None:
                    if not accept_loss:
                        raise LookupError(file_name)
                    continue
                bases[(collection, file_name)] = Base(found[0], found[1], copy_.name)
        self.recovery_notes.append(
            f"The store's index was damaged or missing; it was rebuilt from backup "
            f"{copy_.name} (taken {copy_.taken})"
            + (" and the commit log, so nothing was lost." if not accept_loss else ".")
        )
        return meta

    def _rebuild_everything(
        self,
        damage: StoreFileError,
        scan: LogScan,
        accept_loss: bool,
        bases: dict[tuple[str, str], Base],
        lost: list[str],
    ) -> dict:
        """Rebuild every shard when meta.json is lost: a backup plus the log since it."""
        self._quarantine_store_files()
        copies = list(self.backups())
        for copy_ in copies:
            meta = copy_.meta()
            if meta is None or int(meta.get("schema_version", 0)) < 2:
                continue
            positions = [
                p
                for files in meta["shards"].values()
                for pairs in files.values()
                for _d, p in pairs[:1]
            ] + [int(meta["position"])]
            if scan.complete_after(min(positions)):
                try:
                    return self._meta_from_backup(copy_, bases, accept_loss=False)
                except LookupError:
                    bases.clear()
                    continue
        if scan.complete_after(0) and scan.start == 1:
            self.recovery_notes.append(
                "The store's index was damaged or missing; it was rebuilt from the whole "
                "commit log, so nothing was lost."
            )
            return {"schema_version": SCHEMA_VERSION, "position": 0, "segment": 1, "shards": {}}
        usable = [c for c in copies if c.meta() is not None]
        if not accept_loss:
            what = (
                f"the newest usable backup, {usable[0].name} (taken {usable[0].taken}), "
                "without the changes after it"
                if usable
                else "nothing: no usable backup is left"
            )
            raise StoreCorrupt(
                _refusal(
                    self.data_dir,
                    [
                        f"{damage.path.name}: {damage.problem}; the commit log does not reach "
                        f"back to any backup, so the store can only come back as {what}"
                    ],
                )
            )
        if not usable:
            lost.append("every record: no backup and no commit log could rebuild the store")
            return {
                "schema_version": SCHEMA_VERSION,
                "position": scan.last,
                "segment": 1,
                "shards": {},
            }
        meta = self._meta_from_backup(usable[0], bases, accept_loss=True)
        lost.append(f"every change after backup {usable[0].name} (taken {usable[0].taken})")
        return meta

    def _repair_shard(
        self,
        problem: Problem,
        scan: LogScan,
        meta: dict,
        accept_loss: bool,
        lost: list[str],
    ) -> Base:
        """Rebuild one damaged shard from the newest backup the log reaches back to."""
        relative = f"store/{problem.collection}/{problem.name}"
        fallback: Base | None = None
        for copy_ in self.backups():
            backup_meta = copy_.meta()
            if backup_meta is None or int(backup_meta.get("schema_version", 0)) < 2:
                continue
            pairs = backup_meta["shards"].get(problem.collection, {}).get(problem.name)
            if pairs is None:
                # Made after this backup: every record of it is in the log since then.
                base = Base({TABLE: {}}, int(backup_meta["position"]), copy_.name)
            else:
                found = _match(copy_.read(relative), pairs)
                if found is None:
                    continue
                base = Base(found[0], found[1], copy_.name)
            if scan.complete_after(base.position):
                self._quarantine(self.root / problem.collection / problem.name)
                self.recovery_notes.append(
                    f"{problem.collection} file {problem.name} was damaged ({problem.problem}); "
                    f"it was rebuilt from backup {copy_.name} (taken {copy_.taken}) and "
                    "every change logged since, so nothing was lost."
                )
                return base
            fallback = fallback or base
        if scan.start == 1 and scan.complete_after(0):
            self._quarantine(self.root / problem.collection / problem.name)
            self.recovery_notes.append(
                f"{problem.collection} file {problem.name} was damaged ({problem.problem}); "
                "it was rebuilt from the commit log, so nothing was lost."
            )
            return Base({TABLE: {}}, 0, "empty")
        what = (
            f"the changes to it since backup {fallback.source}"
            if fallback is not None
            else "every record in it (no backup holds a good copy)"
        )
        if not accept_loss:
            raise StoreCorrupt(
                _refusal(
                    self.data_dir,
                    [f"{problem.collection} file {problem.name}: {problem.problem}; {what}"],
                )
            )
        self._quarantine(self.root / problem.collection / problem.name)
        lost.append(f"{problem.collection} file {problem.name}: {what}")
        if fallback is None:
            return Base({TABLE: {}}, max(scan.last, int(meta.get("position", 0))), "empty")
        return fallback

    def _legacy_meta(self, meta: dict) -> dict:
        """Read a schema-1 index: file lists without checksums; no commit log yet."""
        return {
            "schema_version": 1,
            "position": 0,
            "segment": 1,
            "shards": {c: {f: [] for f in files} for c, files in meta["shards"].items()},
        }

    def _build(self, names: list[str], bases: dict[tuple[str, str], Base]) -> None:
        for name in names:
            collection = Collection(self, name)
            files = sorted(f for c, f in bases if c == name)
            shards = [Shard(self.root / name / f, self, bases[(name, f)].tables) for f in files]
            collection.load(shards)
            self._collections[name] = collection
            for shard in shards:
                base = bases[(name, shard.name)]
                # What is on disk now: a checkpoint keeps accepting it until it is replaced.
                pairs = [[base.digest, base.position]] if base.source == "disk" else []
                self._meta["shards"].setdefault(name, {})[shard.name] = pairs
        self._seq = max((c.max_seq() for c in self._collections.values()), default=0)

    def _quarantine(self, path: Path) -> None:
        """Move a damaged file aside (never delete it) under ``<data>/quarantine``."""
        if not path.exists():
            return
        folder = self._quarantine_folder()
        with contextlib.suppress(OSError):
            os.replace(path, folder / path.name)
            fsync_dir(folder)

    def _quarantine_folder(self) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        folder = self.data_dir / "quarantine" / f"{stamp}-{secrets.token_hex(3)}"
        folder.mkdir(parents=True, mode=0o700)
        return folder

    def _quarantine_store_files(self) -> None:
        folder = self._quarantine_folder()
        for path in self.root.rglob("*.json"):
            target = folder / path.relative_to(self.root)
            target.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(OSError):
                shutil.copy2(path, target)

    def _set_log_aside(self) -> None:
        folder = self._quarantine_folder()
        for path in self.log.files():
            with contextlib.suppress(OSError):
                os.replace(path, folder / path.name)

    def schema_version(self) -> int:
        """Return the stored schema version."""
        return int(self._meta.get("schema_version", 0))

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
            self._meta["schema_version"] = version + 1
            self.checkpoint(force=True)
            log.info("migrated the store from schema %s to %s", version, version + 1)
            version += 1

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

    def versions(self, *names: str) -> tuple[int, ...]:
        """Return how many commits have changed each collection since open.

        Derived data computed from those collections can be cached under these numbers: a
        commit that changes one of them changes the key.
        """
        return tuple(self._versions.get(name, 0) for name in names)

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
                    self._commit_tx(self._tx)
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

    def require_transaction(self) -> None:
        """Refuse a write made outside a transaction."""
        if self._tx is None:
            raise RuntimeError("store writes must happen inside store.transaction()")

    def touched(self, collection: Collection) -> None:
        """Record that a collection changed in the open transaction."""
        assert self._tx is not None
        self._tx.collections.add(collection.name)

    def changed(self, collection: Collection, shard: Shard, doc_id: int, old: dict | None) -> None:
        """Record a change to one record (``old``: its state before, None if new)."""
        tx = self._tx
        assert tx is not None
        tx.changes[(collection.name, shard.name, doc_id)] = shard
        key = (id(shard), doc_id)
        if key not in tx.undo:
            tx.undo[key] = (shard, doc_id, copy.deepcopy(old))

    def forget_earlier_versions(self) -> None:
        """Once this transaction commits, keep no earlier version of what it changed.

        For changes that must not linger on disk (notes being sealed, a person being
        erased): the changed shards are checkpointed at once and older commits in the log
        lose their ops for those records. Replaying the log still ends in the same state,
        since each op holds the whole record and the newest op for each record is kept.
        """
        assert self._tx is not None
        self._tx.scrub = True

    def register_shard(self, collection: Collection, shard: Shard) -> None:
        """List a new shard, in the same transaction."""
        assert self._tx is not None
        self._tx.new_shards.append((collection, shard))

    def _commit_tx(self, tx: Transaction) -> None:
        if not tx.changes:
            return
        number = self._commit + 1
        ops = [
            [collection, shard_name, doc_id, shard.records().get(str(doc_id))]
            for (collection, shard_name, doc_id), shard in tx.changes.items()
        ]
        line = encode_line(number, datetime.now(UTC).isoformat(timespec="seconds"), ops)
        flushed = self.log.append(line)  # SaveFailed: nothing was committed
        tx.decided = True
        self._commit = number
        for name in tx.collections:
            self._versions[name] = self._versions.get(name, 0) + 1
        for (collection, _shard_name, _doc_id), shard in tx.changes.items():
            self._dirty[shard.path] = (collection, shard)
        for collection_obj, shard in tx.new_shards:
            self._meta["shards"].setdefault(collection_obj.name, {}).setdefault(
                shard.name, [[None, self._meta["position"]]]
            )
        if tx.scrub:
            try:
                with self.checkpoint_lock:
                    self._write_checkpoint()
                    self._scrub_log(set(tx.changes), keep=number)
            except (OSError, StudioError):
                log.exception("earlier versions could not be cleared yet; the next checkpoint will")
        if not flushed:
            self.health_warnings.append(
                f"{datetime.now(UTC):%d %b %Y %H:%M} UTC: the disk reported an error while "
                "saving a change. The change was kept and everyone sees it, but it may not "
                "survive a power cut. Please check the server's disk."
            )
        if self.log.bytes_since_checkpoint >= self.checkpoint_bytes:
            try:
                # While a backup links the files, the checkpoint waits for a later commit.
                self._checkpoint(wait=False)
            except (OSError, StudioError):
                log.exception("a checkpoint failed; the commit log still holds every change")

    def _rollback(self, tx: Transaction) -> None:
        for shard, doc_id, old in reversed(list(tx.undo.values())):
            table = shard.storage.read().setdefault(TABLE, {})
            if old is None:
                table.pop(str(doc_id), None)
            else:
                table[str(doc_id)] = old
        for collection, shard in tx.new_shards:
            if shard in collection.shards and not shard.records():
                collection.shards.remove(shard)
        for name in tx.collections:
            collection = self._collections[name]
            collection.load(collection.shards)

    def _mark_dirty(self, collection: str, file_name: str) -> None:
        found = self._collections.get(collection)
        shard = found.shard_named(file_name) if found is not None else None
        if shard is not None:
            self._dirty[shard.path] = (collection, shard)

    # -- checkpoints -------------------------------------------------------------------------

    def checkpoint(self, *, force: bool = False) -> None:
        """Write every changed shard and a new meta.json; the log before it can then go."""
        with self.lock:
            if self._tx is not None:
                raise RuntimeError("checkpoint() inside a transaction")
            self._checkpoint(force=force)

    def _scrub_log(self, keys: set[tuple[str, str, int]], keep: int) -> None:
        """Rewrite the log without ops for ``keys``, except those of commit ``keep``."""
        self.log.close()
        for path in self.log.files():
            raw = path.read_bytes()
            lines = raw.split(b"\n")[:-1]  # a torn tail (never acknowledged) goes too
            kept, changed = [], False
            for line in lines:
                entry = decode_line(line)
                if entry is not None and entry["n"] != keep:
                    ops = [op for op in ops_for(entry) if (op[0], op[1], op[2]) not in keys]
                    if len(ops) != len(entry["ops"]):
                        line = encode_line(entry["n"], entry.get("at", ""), ops)[:-1]
                        changed = True
                kept.append(line)
            if changed:
                atomic_write_bytes(path, b"".join(line + b"\n" for line in kept))

    @contextlib.contextmanager
    def files_held(self) -> Iterator[list[Path]]:
        """Checkpoint, then keep the store files as they are while the caller copies them.

        Only the checkpoint holds the store lock; while the caller links or reads the files,
        commits go on (they only append to the log segment) and no checkpoint replaces a
        file: one that falls due waits for a later commit.
        """
        with self.lock:
            if self._tx is not None:
                raise RuntimeError("files_held() inside a transaction")
            self.checkpoint_lock.acquire()
            try:
                self._write_checkpoint()
                candidates = self._store_file_candidates()
            except BaseException:
                self.checkpoint_lock.release()
                raise
        try:
            # Looking at the disk (a stat per shard) needs no store lock: nothing is
            # replaced or removed while the checkpoint lock is held.
            yield [f for f in candidates if f.exists()]
        finally:
            self.checkpoint_lock.release()

    def _checkpoint(self, *, force: bool = False, wait: bool = True) -> bool:
        """Checkpoint now; without ``wait``, not while the files are held (then False)."""
        if not self.checkpoint_lock.acquire(blocking=wait):
            return False
        try:
            self._write_checkpoint(force=force)
        finally:
            self.checkpoint_lock.release()
        return True

    def _write_checkpoint(self, *, force: bool = False) -> None:
        position = self._commit
        if not self._dirty and not force and self._meta["position"] == position:
            return
        written = {
            path: (collection, shard, shard.storage.snapshot())
            for path, (collection, shard) in self._dirty.items()
        }
        shards = {c: dict(files) for c, files in self._meta["shards"].items()}
        for collection, shard, data in written.values():
            old = shards.setdefault(collection, {}).get(shard.name, [])
            digest = _sha(data)
            shards[collection][shard.name] = [[digest, position]] + [
                pair for pair in old if pair[0] != digest
            ]
        segment = position + 1
        self.log.create_segment(segment)
        # 1. The index accepts old and new content, so a crash between shard writes is safe.
        self._write_meta({**self._meta, "position": position, "segment": segment, "shards": shards})
        self.log.start(segment)
        self.log.bytes_since_checkpoint = 0
        # 2. The shards.
        for path, (_collection, _shard, data) in written.items():
            atomic_write_bytes(path, data)
        # 3. The index names only what is on disk now; the log before it may go.
        final = {
            c: {f: [[pairs[0][0], position]] if pairs else [] for f, pairs in files.items()}
            for c, files in shards.items()
        }
        self._write_meta({**self._meta, "shards": final})
        self._dirty.clear()
        keep_from = min([position, *self.backup_positions()]) + 1
        with contextlib.suppress(OSError):
            self.log.prune(keep_from)

    def _write_meta(self, meta: dict) -> None:
        atomic_write_bytes(self.root / META_FILE, encode_meta(meta))
        self._meta = meta

    def position(self) -> int:
        """Return the last commit number."""
        return self._commit

    def _replay_journal(self) -> None:
        """Finish a multi-file commit of a schema-1 store that a crash interrupted."""
        journal_path = self.root / JOURNAL_FILE
        if not journal_path.exists():
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
            folder = self._quarantine_folder()
            os.replace(journal_path, folder / JOURNAL_FILE)
            log.warning("set aside an unreadable commit journal")
            return
        for relative, data in files.items():
            atomic_write_bytes(self.root / relative, encode(data))
        journal_path.unlink()
        log.info("completed an interrupted commit of %d files", len(files))

    def store_files(self) -> list[Path]:
        """Return the files a checkpointed copy needs: meta.json and every shard on disk."""
        return [f for f in self._store_file_candidates() if f.exists()]

    def _store_file_candidates(self) -> list[Path]:
        files = [self.root / META_FILE]
        for collection in self._collections.values():
            files.extend(s.path for s in collection.shards)
        # The segment meta.json names: a copy without it could not tell "no change since the
        # checkpoint" from "the log was lost".
        files.append(self.log.folder / segment_name(int(self._meta["segment"])))
        return files

    def close(self) -> None:
        """Write a checkpoint (so the next open is quick) and release the folder lock."""
        with self.lock:
            if self._process_lock_fd is not None and self._dirty:
                try:
                    self.checkpoint()
                except (OSError, StudioError) as exc:
                    log.warning("no checkpoint at close (%s); the log holds every change", exc)
            self.log.close()
            self._unlock_process()


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Load without the cyclic garbage collector, then set what was loaded aside from it.

    Loading makes millions of objects that live as long as the store (records are plain
    dicts: reference counting frees them). Collections during the load would rescan them
    again and again, and every later full collection would walk them all; frozen, they are
    skipped (``gc.freeze``).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


def _make_folder(folder: Path) -> None:
    """Create a store folder owner-only and durably (each new entry flushed in its parent)."""
    with contextlib.suppress(OSError):
        make_folder(folder)
    folder.mkdir(parents=True, mode=0o700, exist_ok=True)


def _match(data: bytes | None, pairs: list) -> tuple[dict, int] | None:
    """Return a file's tables and commit if its bytes have one of the listed checksums."""
    if data is None:
        for digest, position in pairs:
            if digest is None:
                return {TABLE: {}}, position
        return None
    digest = _sha(data)
    for expected, position in pairs:
        if expected == digest:
            try:
                return json.loads(data), position
            except ValueError:
                return None
    return None


def _commits_lost(scan: LogScan, gone: list[int]) -> str:
    where = "; ".join(scan.damage) or "a log file is missing"
    after = len([n for n in scan.commits if n > gone[0]])
    return (
        f"{len(gone)} committed change{'s' if len(gone) != 1 else ''} in the commit log "
        f"can't be read ({where})"
        + (f", and the {after} after them can't be applied in order" if after else "")
    )


def _refusal(data_dir: Path, lost: list[str]) -> str:
    items = "; ".join(lost)
    return (
        f"The studio's data in {data_dir} is damaged and can't be repaired without losing "
        f"something: {items}. Nothing was changed and the app will not start on it. "
        "To see every option: `python -m gallery_store check`. To restore a whole-studio "
        "archive into an empty folder: `python -m gallery_store restore ARCHIVE`. To accept "
        "the loss and continue with everything else: `python -m gallery_store recover "
        "--accept-loss` (damaged files are kept in quarantine/)."
    )
