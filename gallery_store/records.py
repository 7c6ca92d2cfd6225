"""The storage seam: what services ask of a record store, whichever backend holds it.

Two backends implement it: the embedded store (``storage.Store``: TinyDB files in the data
folder, the default) and PostgreSQL (``pgstore.PgStore``, chosen by ``KINDRED_DATABASE_URL``).
Services only use what is here:

- ``store.collection(name)`` -> a :class:`RecordCollection`: records are plain dicts with a
  string ``id`` and a ``seq`` (insertion order across the store), looked up by id or by a
  secondary index declared with ``add_index(name, key_function)``. A key function returns
  one key, a list of keys (the record is under each), or None (under none). Records handed
  out must not be changed in place: ``update`` makes the change.
- ``store.transaction()``: a unit of work. Every write happens inside one (a lone write is
  its own); all of it is kept, or none of it when the block raises. Nested blocks join the
  outer one. Transactions never run side by side: one studio-wide write lock.
- ``store.reading()``: several reads that must agree.

One contract suite (``tests/test_store_contract.py``) runs against every backend.
"""

from __future__ import annotations

import heapq
import itertools
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from .errors import StudioError

__all__ = [
    "KeyFunction",
    "RecordCollection",
    "RecordStore",
    "Unique",
    "index_keys",
    "keys_wanted",
    "merge_runs",
    "new_id",
    "page_of",
]

KeyFunction = Callable[[dict], Any]
MULTIPLE = (list, tuple, set, frozenset)


def new_id() -> str:
    """Return a fresh random record id (64 bits, hex)."""
    return secrets.token_hex(8)


def index_keys(key: KeyFunction, record: dict) -> list[Any]:
    """Return the keys a record has in an index (a key function may return a list, or None)."""
    value = key(record)
    if value is None:
        return []
    if isinstance(value, MULTIPLE):
        return list(dict.fromkeys(value))
    return [value]


def keys_wanted(keys: Any) -> list[Any]:
    """Return the keys ``page`` is asked for: one key, or a list of keys (any of them)."""
    if isinstance(keys, MULTIPLE):
        return list(dict.fromkeys(keys))
    return [keys]


def merge_runs(runs: Iterable[Iterable[dict]], *, newest_first: bool = True) -> Iterator[dict]:
    """Merge runs of records, each in ``seq`` order (newest first or not), each record once."""
    # Records of one store never share a seq: equal ones are one record under two keys.
    ordered = heapq.merge(*runs, key=lambda r: r.get("seq", 0), reverse=newest_first)
    seen: set[str] = set()
    for record in ordered:
        if record["id"] not in seen:
            seen.add(record["id"])
            yield record


def page_of(records: Iterable[dict], offset: int, limit: int) -> list[dict]:
    """Return ``limit`` records after skipping ``offset`` (negative values count as 0)."""
    return list(itertools.islice(records, max(0, offset), max(0, offset) + max(0, limit)))


@dataclass(frozen=True)
class Unique:
    """An index where a key belongs to one record at most, and the error a second one gets."""

    error: type[StudioError]
    message: str

    def violation(self) -> StudioError:
        """Return the error a second record under a taken key raises."""
        return self.error(self.message)


class RecordCollection(Protocol):
    """A named set of records with secondary indexes."""

    name: str

    def get(self, record_id: str) -> dict | None:
        """Return the record with this id, or None."""
        ...

    def __contains__(self, record_id: object) -> bool: ...

    def __len__(self) -> int: ...

    def all(self) -> Iterator[dict]:
        """Yield every record, oldest first."""
        ...

    def find(self, **equals: Any) -> list[dict]:
        """Return records whose fields equal the given values (a scan: small collections)."""
        ...

    def first(self, **equals: Any) -> dict | None:
        """Return the oldest record matching ``find``, or None."""
        ...

    def add_index(self, name: str, key: KeyFunction, *, unique: Unique | None = None) -> None:
        """Add a secondary index kept up to date on every write (``unique``: one per key)."""
        ...

    def ids_by(self, index: str, key: Any) -> Mapping[str, None]:
        """Return the ids under ``key`` in an index, oldest first."""
        ...

    def by(self, index: str, key: Any) -> list[dict]:
        """Return the records under ``key`` in an index, oldest first."""
        ...

    def newest_by(self, index: str, key: Any) -> Iterator[dict]:
        """Yield the records under ``key`` in an index, newest first, lazily."""
        ...

    def count_by(self, index: str, key: Any) -> int:
        """Return how many records are under ``key`` in an index."""
        ...

    def page(
        self,
        index: str,
        keys: Any,
        *,
        newest_first: bool = True,
        offset: int = 0,
        limit: int = 50,
    ) -> list[dict]:
        """Return one page of the records under ``keys`` (a key or a list: any of them).

        Each record comes once, in ``seq`` order (newest first unless told otherwise),
        after skipping ``offset`` of them. The backend does the paging.
        """
        ...

    def insert(self, record: dict) -> dict:
        """Store a new record; give it an ``id`` (if it has none) and a ``seq``; return it."""
        ...

    def update(self, record_id: str, **changes: Any) -> dict:
        """Change fields of a record and return the new version (KeyError if it is gone)."""
        ...

    def remove(self, record_id: str) -> None:
        """Delete a record if it exists."""
        ...


class RecordStore(Protocol):
    """Every collection of one studio, and its units of work."""

    backend: str  # "embedded" or "postgresql"
    recovery_notes: list[str]  # what opening had to repair (shown to therapists and by check)
    health_warnings: list[str]  # write troubles people should hear about
    on_commit: Callable[[], None] | None  # called after each outermost commit

    def collection(self, name: str) -> RecordCollection:
        """Return a collection by name."""
        ...

    def collections(self) -> Mapping[str, RecordCollection]:
        """Return every collection by name."""
        ...

    def transaction(self) -> AbstractContextManager[None]:
        """Group writes: all are kept together, or none when the block raises."""
        ...

    def reading(self) -> AbstractContextManager[None]:
        """Read several records that must agree."""
        ...

    def in_transaction(self) -> bool:
        """Say whether this thread is inside a transaction."""
        ...

    def forget_earlier_versions(self) -> None:
        """Once this transaction commits, keep no earlier version of what it changed."""
        ...

    def schema_version(self) -> int:
        """Return the stored schema version."""
        ...

    def versions(self, *names: str) -> tuple[int, ...]:
        """Keys under which data derived from these collections may be cached."""
        ...

    def close(self) -> None:
        """Release what the store holds."""
        ...
