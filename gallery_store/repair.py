"""Repairing the embedded store at open: a damaged shard or meta.json is rebuilt.

A damaged or missing shard comes back from the newest rolling backup holding a good copy,
plus every commit logged since, so nothing committed is lost and nothing deleted comes back.
When that is impossible the store refuses to open and says what would be lost and which
command accepts it. Damaged files are moved aside to ``<data>/quarantine``, never deleted.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from .commitlog import CommitLog, LogScan
from .durable import atomic_write_bytes, fsync_dir
from .errors import StoreCorrupt
from .storefiles import (
    JOURNAL_FILE,
    META_FILE,
    SCHEMA_VERSION,
    TABLE,
    StoreFileError,
    encode,
    encode_meta,
    parse_store_bytes,
    sha,
)

__all__ = ["BackupCopy", "Base", "Problem", "StoreRepair", "commits_lost", "refusal"]

log = logging.getLogger(__name__)


def _inside_store(relative: object) -> bool:
    """Say whether a journal's file name is a plain path inside the store folder."""
    if not isinstance(relative, str) or not relative.endswith(".json"):
        return False
    parts = Path(relative).parts
    return bool(parts) and not Path(relative).is_absolute() and ".." not in parts


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


class StoreRepair:
    """What opening does about damaged files (a part of ``Store``)."""

    data_dir: Path
    root: Path
    log: CommitLog
    backups: Callable[[], Iterable[BackupCopy]]
    recovery_notes: list[str]

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
        digest = sha(raw)
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
                refusal(
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
                refusal(
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


def _match(data: bytes | None, pairs: list) -> tuple[dict, int] | None:
    """Return a file's tables and commit if its bytes have one of the listed checksums."""
    if data is None:
        for digest, position in pairs:
            if digest is None:
                return {TABLE: {}}, position
        return None
    digest = sha(data)
    for expected, position in pairs:
        if expected == digest:
            try:
                return json.loads(data), position
            except ValueError:
                return None
    return None


def commits_lost(scan: LogScan, gone: list[int]) -> str:
    where = "; ".join(scan.damage) or "a log file is missing"
    after = len([n for n in scan.commits if n > gone[0]])
    return (
        f"{len(gone)} committed change{'s' if len(gone) != 1 else ''} in the commit log "
        f"can't be read ({where})"
        + (f", and the {after} after them can't be applied in order" if after else "")
    )


def refusal(data_dir: Path, lost: list[str]) -> str:
    items = "; ".join(lost)
    return (
        f"The studio's data in {data_dir} is damaged and can't be repaired without losing "
        f"something: {items}. Nothing was changed and the app will not start on it. "
        "To see every option: `python -m gallery_store check`. To restore a whole-studio "
        "archive into an empty folder: `python -m gallery_store restore ARCHIVE`. To accept "
        "the loss and continue with everything else: `python -m gallery_store recover "
        "--accept-loss` (damaged files are kept in quarantine/)."
    )
