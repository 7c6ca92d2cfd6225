"""The embedded store's engine: opening, transactions, the commit log and checkpoints.

Layout under ``<data>/store``::

    meta.json                               schema, checkpoint position, every shard's checksum
    <collection>/<collection>-NNNNNN.json   one TinyDB file per shard of a collection
    log/commits-NNNNNNNNNNNN.log            every commit since the checkpoints backups rely on

Each collection (``shards.py``) is split into shards of at most ``shard_capacity`` records.
Everything is parsed once at open and served from memory. A commit appends one checked line
to the commit log (the records it changed, whole) and flushes it: that is the only write on
the request path. Now and then a checkpoint writes the shards that changed and a new
``meta.json`` with their SHA-256 (``storefiles.py``), so opening replays only a short log.

Opening checks every shard against its checksum; ``repair.py`` rebuilds what is damaged.
This module also re-exports the names other modules have always imported from it.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import gc
import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from .commitlog import CommitLog, decode_line, encode_line, ops_for, segment_name
from .durable import atomic_write_bytes, make_folder, remove_stray_temp_files
from .errors import StoreCorrupt, StoreUnavailable, StudioError
from .records import new_id
from .repair import BackupCopy, Base, Problem, StoreRepair, commits_lost, refusal
from .shards import Collection, Index, Shard, ShardStorage
from .storefiles import (
    JOURNAL_FILE,
    META_FILE,
    SCHEMA_VERSION,
    TABLE,
    StoreFileError,
    encode,
    encode_meta,
    meta_from_bytes,
    parse_store_bytes,
    read_meta,
    read_store_file,
    sha,
)

__all__ = [
    "JOURNAL_FILE",
    "META_FILE",
    "SCHEMA_VERSION",
    "TABLE",
    "BackupCopy",
    "Base",
    "Collection",
    "Index",
    "Problem",
    "Shard",
    "ShardStorage",
    "Store",
    "StoreFileError",
    "encode",
    "encode_meta",
    "meta_from_bytes",
    "new_id",
    "parse_store_bytes",
    "read_meta",
    "read_store_file",
]

log = logging.getLogger(__name__)

# Migrations upgrade a store written by an older version: MIGRATIONS[n] takes a
# store at schema n to n + 1 inside one transaction.
MIGRATIONS: dict[int, Callable[[Store], None]] = {}


class Transaction:
    """What one unit of work changed."""

    def __init__(self) -> None:
        self.changes: dict[tuple[str, str, int], Shard] = {}
        self.undo: dict[tuple[int, int], tuple[Shard, int, dict | None]] = {}
        self.collections: set[str] = set()
        self.new_shards: list[tuple[Collection, Shard]] = []
        self.decided = False  # set once its log line is written: it can no longer roll back
        self.scrub = False  # drop earlier versions of what it changed from the files


class Store(StoreRepair):
    """All collections of one data folder; one per process; every access under one lock."""

    backend = "embedded"

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
                refusal(
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
            raise StoreCorrupt(refusal(self.data_dir, [commits_lost(scan, gone)]))
        stop = gone[0] if gone else scan.last + 1
        if gone:
            lost.append(commits_lost(scan, gone))
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
            digest = sha(data)
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
