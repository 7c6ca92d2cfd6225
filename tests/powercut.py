"""A model of what a disk keeps after a power cut, for testing the store's fsync ordering.

While a workload runs, the model watches the calls that make data durable: ``os.fsync`` on
a file records the file's bytes at that moment, ``os.fsync`` on a folder records the
folder's entries. Everything else (written bytes not yet synced, renames and new files in a
folder not yet synced) is what a power cut may take away. ``crash_states`` then rebuilds a
data folder as the disk could hold it at any moment of the run, in three ways:

- ``synced``: only what was synced (the pessimistic case: unsynced data and entries gone);
- ``renamed``: every rename and new entry made it, but unsynced bytes did not (the classic
  "empty file after rename" case that fsync-before-rename guards against);
- ``torn``: synced entries, and files that grew since their last sync keep a random part of
  what was appended (a torn append).

Files and folders are told apart by inode number (a renamed folder keeps its synced
entries), with a generation bumped whenever a path is created afresh, so a reused inode
number never lends a deleted file's bytes to a new one.
"""

from __future__ import annotations

import builtins
import io
import os
import random
import stat
from dataclasses import dataclass, field
from pathlib import Path

VARIANTS = ("synced", "renamed", "torn")

Key = tuple[int, int]  # (inode, generation)


@dataclass
class Moment:
    """The disk's durable state just before one fsync (or at the end of the run)."""

    acks: int
    entries: dict[Key, dict[str, tuple[str, Key]]]
    data: dict[Key, bytes]
    live_entries: dict[Key, dict[str, tuple[str, Key]]]
    live_tails: dict[Key, bytes] = field(default_factory=dict)


class PowerCutDisk:
    """Watch durability calls below ``root``; rebuild the folder as a power cut leaves it."""

    def __init__(self, root: Path) -> None:
        self.root = Path(os.path.realpath(root))
        self.generation: dict[int, int] = {}
        self.data: dict[Key, bytes] = {}
        self.entries: dict[Key, dict[str, tuple[str, Key]]] = {}
        self.moments: list[Moment] = []
        self.acks = 0
        self.fsyncs = 0
        self._patched: list[tuple[object, str, object]] = []
        self.root_key = self._key(self.root)
        # At the start, everything on disk counts as durable.
        for folder, _dirs, files in os.walk(self.root):
            for name in files:
                key = self._key(Path(folder) / name)
                self.data[key] = (Path(folder) / name).read_bytes()
            self.entries[self._key(Path(folder))] = self._listing(Path(folder))

    # -- bookkeeping -------------------------------------------------------------------

    def _inside(self, path: object) -> Path | None:
        try:
            full = Path(os.path.realpath(os.fspath(path)))
        except TypeError:
            return None
        if full == self.root or self.root in full.parents:
            return full
        return None

    def _key(self, path: Path) -> Key:
        ino = os.stat(path).st_ino
        return (ino, self.generation.get(ino, 0))

    def _listing(self, folder: Path) -> dict[str, tuple[str, Key]]:
        listing: dict[str, tuple[str, Key]] = {}
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            return listing  # removed meanwhile (a background thread's staging folder)
        for name in names:
            full = folder / name
            try:
                mode = os.lstat(full).st_mode
                if stat.S_ISDIR(mode):
                    listing[name] = ("dir", self._key(full))
                elif stat.S_ISREG(mode):
                    listing[name] = ("file", self._key(full))
            except FileNotFoundError:
                continue
        return listing

    def _created(self, path: object) -> None:
        full = self._inside(path)
        if full is not None and full.exists():
            ino = os.stat(full).st_ino
            self.generation[ino] = self.generation.get(ino, 0) + 1

    def _live_entries(self) -> dict[Key, dict[str, tuple[str, Key]]]:
        live: dict[Key, dict[str, tuple[str, Key]]] = {}
        for folder, _dirs, _files in os.walk(self.root):
            try:
                live[self._key(Path(folder))] = self._listing(Path(folder))
            except FileNotFoundError:
                continue
        return live

    def _snapshot(self) -> None:
        live = self._live_entries()
        tails: dict[Key, bytes] = {}
        for folder, _dirs, files in os.walk(self.root):
            for name in files:
                path = Path(folder) / name
                try:
                    key = self._key(path)
                    if key not in self.data:
                        continue
                    if path.stat().st_size > len(self.data[key]):
                        tails[key] = path.read_bytes()
                except OSError:
                    continue
        self.moments.append(
            Moment(
                acks=self.acks,
                entries={k: dict(v) for k, v in self.entries.items()},
                data=dict(self.data),
                live_entries=live,
                live_tails=tails,
            )
        )

    # -- the watched calls ---------------------------------------------------------------

    def _fsync(self, real, fd: int) -> None:
        target = os.readlink(f"/proc/self/fd/{fd}")
        full = self._inside(target)
        if full is None:
            return real(fd)
        self._snapshot()  # the moment just before this sync: the most it can lose
        real(fd)
        self.fsyncs += 1
        ino = os.fstat(fd).st_ino
        key = (ino, self.generation.get(ino, 0))
        if full.is_dir():
            self.entries[key] = self._listing(full)
        else:
            with builtins.open(f"/proc/self/fd/{fd}", "rb") as synced:
                self.data[key] = synced.read()
        return None

    def __enter__(self) -> PowerCutDisk:
        real_open = os.open
        real_fsync = os.fsync
        real_io_open = io.open
        real_mkdir = os.mkdir

        def watched_open(path, flags, mode=0o777, *, dir_fd=None):
            fresh = flags & os.O_CREAT and not os.path.exists(path)
            fd = real_open(path, flags, mode, dir_fd=dir_fd)
            if fresh:
                self._created(path)
            return fd

        def watched_io_open(file, mode="r", *args, **kwargs):
            fresh = (
                isinstance(file, (str, bytes, os.PathLike))
                and any(c in mode for c in "wxa")
                and not os.path.exists(file)
            )
            handle = real_io_open(file, mode, *args, **kwargs)
            if fresh:
                self._created(file)
            return handle

        def watched_mkdir(path, mode=0o777, *, dir_fd=None):
            real_mkdir(path, mode, dir_fd=dir_fd)
            self._created(path)

        def watched_fsync(fd):
            return self._fsync(real_fsync, fd)

        for owner, name, replacement in (
            (os, "open", watched_open),
            (os, "fsync", watched_fsync),
            (os, "mkdir", watched_mkdir),
            (io, "open", watched_io_open),
            (builtins, "open", watched_io_open),
        ):
            self._patched.append((owner, name, getattr(owner, name)))
            setattr(owner, name, replacement)
        return self

    def __exit__(self, *exc: object) -> None:
        for owner, name, original in reversed(self._patched):
            setattr(owner, name, original)
        self._patched.clear()
        self._snapshot()

    def acknowledged(self) -> None:
        """The workload calls this each time an operation has returned to its caller."""
        self.acks += 1

    # -- rebuilding a crashed disk ---------------------------------------------------------

    def rebuild(self, moment: Moment, variant: str, target: Path, rng: random.Random) -> None:
        """Write the folder as the disk holds it after a power cut at ``moment``."""
        entries = moment.live_entries if variant == "renamed" else moment.entries

        def content(key: Key) -> bytes:
            synced = moment.data.get(key, b"")
            if variant == "torn" and key in moment.live_tails:
                tail = moment.live_tails[key]
                if tail.startswith(synced):
                    return tail[: rng.randint(len(synced), len(tail))]
            return synced

        def build(folder: Key, into: Path) -> None:
            into.mkdir(parents=True, exist_ok=True)
            for name, (kind, key) in entries.get(folder, {}).items():
                if kind == "dir":
                    build(key, into / name)
                else:
                    (into / name).write_bytes(content(key))
                    os.chmod(into / name, 0o600)

        build(self.root_key, target)
