"""A collection of the embedded store: its records in memory, its shard files, its indexes.

Each collection is split into shards (TinyDB files) of at most ``shard_capacity`` records.
Everything is parsed once at open and served from memory; a write changes memory and tells
the store (``touched`` / ``changed``), which logs and later checkpoints it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tinydb import TinyDB
from tinydb.storages import Storage

from .records import (
    KeyFunction,
    Unique,
    index_keys,
    keys_wanted,
    merge_runs,
    new_id,
    page_of,
)
from .storefiles import TABLE, encode

if TYPE_CHECKING:
    from .storage import Store

__all__ = ["Collection", "Index", "Shard", "ShardStorage"]


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

    def __init__(self, key: KeyFunction, unique: Unique | None = None) -> None:
        self._key = key
        self.unique = unique
        self._buckets: dict[Any, dict[str, None]] = {}

    def keys_of(self, record: dict) -> list[Any]:
        """Return the index keys of a record (a key function may return a list)."""
        return index_keys(self._key, record)

    def refuse_taken(self, record: dict) -> None:
        """Raise the unique index's error if another record holds one of this one's keys."""
        if self.unique is None:
            return
        for key in self.keys_of(record):
            if any(other != record["id"] for other in self._buckets.get(key, ())):
                raise self.unique.violation()

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

    def add_index(self, name: str, key: KeyFunction, *, unique: Unique | None = None) -> None:
        """Add a secondary index maintained on every write (``unique``: one record per key)."""
        index = Index(key, unique)
        index.rebuild(self._records)
        self._indexes[name] = index

    def ids_by(self, index: str, key: Any) -> dict[str, None]:
        """Return ids under ``key`` in an index, oldest first."""
        return self._indexes[index].ids(key)

    def by(self, index: str, key: Any) -> list[dict]:
        """Return records under ``key`` in an index, oldest first."""
        return [self._records[i] for i in self._indexes[index].ids(key)]

    def count_by(self, index: str, key: Any) -> int:
        """Return how many records are under ``key`` in an index."""
        return len(self._indexes[index].ids(key))

    def newest_by(self, index: str, key: Any) -> Iterator[dict]:
        """Yield records under ``key`` in an index, newest first, lazily."""
        # Lazy: page one of a long list costs the same as of a short one. Callers hold
        # the store lock while they iterate, so the index cannot change underneath.
        for record_id in reversed(self._indexes[index].ids(key)):
            record = self._records.get(record_id)
            if record is not None:
                yield record

    def _oldest_by(self, index: str, key: Any) -> Iterator[dict]:
        for record_id in self._indexes[index].ids(key):
            record = self._records.get(record_id)
            if record is not None:
                yield record

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
        walk = self.newest_by if newest_first else self._oldest_by
        wanted = keys_wanted(keys)
        if len(wanted) == 1:
            return page_of(walk(index, wanted[0]), offset, limit)
        runs = [walk(index, key) for key in wanted]
        return page_of(merge_runs(runs, newest_first=newest_first), offset, limit)

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
            for index in self._indexes.values():
                index.refuse_taken(record)
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
            old = self._records[record_id]
            for index in self._indexes.values():
                index.refuse_taken({**old, **changes})
            self.store.touched(self)
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
