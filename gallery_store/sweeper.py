"""The sweeper: clears away what crashes, killed commands and the passing of time leave behind.

Image and draft files no record names (an upload or a deletion was interrupted), temp files
of interrupted writes, restore staging folders, unfinished backups, private store copies a
killed ``python -m gallery_store`` command left in the temp folder, expired download
archives, expired sessions and old entries of the sign-in throttle.

The studio sweeps once when it opens and then at most hourly, after a commit. At open the
studio holds the data folder's lock, so nothing else can be writing inside it and every
leftover there is stale; later, files younger than an hour are left alone (an upload writes
its files just before its record). Images in an object store are shared with other servers,
whose uploads may be under way at any time, so there the hour applies at open too. A sweep
never raises: it logs and carries on, because it runs after someone's change was already
saved.

``python -m gallery_store check`` reports what a sweep would remove (``survey``) and removes
nothing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import stat
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from .accounts import session_alive
from .artworks import DRAFT_FILE
from .durable import TEMP_SUFFIX
from .errors import StudioError
from .exports import DOWNLOAD_SECONDS
from .media import Media, MediaStore

if TYPE_CHECKING:
    from .config import StudioConfig
    from .storage import Store
    from .studio import Studio

__all__ = [
    "GRACE_SECONDS",
    "KINDS",
    "STAGED_PREFIX",
    "WHY",
    "Leftover",
    "SweepReport",
    "Sweeper",
    "find_leftovers",
    "referenced_files",
    "survey",
]

log = logging.getLogger(__name__)

GRACE_SECONDS = 3600  # files younger than this may still be in the middle of being saved
STAGED_COPY_SECONDS = 6 * 3600  # no CLI command works on its private copy this long
SWEEP_INTERVAL_SECONDS = 3600
# The prefix `python -m gallery_store` gives its private store copies (__main__.staged_store).
STAGED_PREFIX = "kindred-canvas-"
MEDIA_FIELDS = ("full_name", "thumb_name", "blur_name")

ORPHAN_IMAGES = "orphan image files"
ORPHAN_DRAFTS = "orphan draft files"
TEMP_FILES = "temp files of interrupted writes"
BACKUP_TEMP_FILES = "unfinished backup files"
RESTORE_FOLDERS = "restore staging folders"
SNAPSHOT_FOLDERS = "backup staging folders"
STAGED_COPIES = "stale store copies in the temp folder"
EXPIRED_EXPORTS = "expired download archives"
EXPIRED_SESSIONS = "expired sessions"
THROTTLE_ENTRIES = "old sign-in throttle entries"
ORPHANS = (ORPHAN_IMAGES, ORPHAN_DRAFTS)
KINDS = (
    ORPHAN_IMAGES,
    ORPHAN_DRAFTS,
    TEMP_FILES,
    BACKUP_TEMP_FILES,
    RESTORE_FOLDERS,
    SNAPSHOT_FOLDERS,
    STAGED_COPIES,
    EXPIRED_EXPORTS,
    EXPIRED_SESSIONS,
    THROTTLE_ENTRIES,
)

# Where each kind comes from, in the words `check` uses.
WHY = {
    ORPHAN_IMAGES: "no artwork uses them; an upload or a deletion was interrupted",
    ORPHAN_DRAFTS: "no draft record names them; saving or deleting a draft was interrupted",
    TEMP_FILES: "a write was interrupted",
    BACKUP_TEMP_FILES: "a backup was interrupted",
    RESTORE_FOLDERS: "a restore was interrupted",
    SNAPSHOT_FOLDERS: "a rolling backup was interrupted",
    STAGED_COPIES: "a `python -m gallery_store` command was stopped before it tidied up",
    EXPIRED_EXPORTS: "their download link expired unfetched",
    EXPIRED_SESSIONS: "their sign-in has ended",
    THROTTLE_ENTRIES: "their wait is long over",
}


@dataclass(frozen=True)
class Leftover:
    """One file or folder a sweep would remove, and how many bytes it holds."""

    kind: str
    path: Path | None  # None for an image: it goes through the media layer, by name
    size: int
    name: str = ""  # the stored name, for orphan images and drafts


@dataclass
class SweepReport:
    """What one sweep removed: how many of each kind, and how many bytes."""

    counts: dict[str, int] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, count: int = 1, size: int = 0) -> None:
        """Count ``count`` things of a kind removed, holding ``size`` bytes."""
        if count:
            self.counts[kind] = self.counts.get(kind, 0) + count
            self.sizes[kind] = self.sizes.get(kind, 0) + size

    @property
    def total(self) -> int:
        """Return how many things were removed in all."""
        return sum(self.counts.values())

    def __str__(self) -> str:
        if not self.counts:
            return "nothing to sweep"
        return ", ".join(f"{self.counts[k]} {k}" for k in KINDS if k in self.counts)


# -- finding leftovers (shared by the sweep and by `check`) --------------------------------------


def referenced_files(store: Store) -> tuple[set[str], set[str]]:
    """Return the image names artworks use and the draft files drafts use (hold the lock)."""
    images = {
        record[key]
        for record in store.collection("artworks").all()
        for key in MEDIA_FIELDS
        if record.get(key)
    }
    drafts = {record["file"] for record in store.collection("drafts").all() if record.get("file")}
    return images, drafts


def _stat(path: Path) -> os.stat_result | None:
    try:
        return path.lstat()
    except OSError:
        return None


def _older(info: os.stat_result | None, now: float, seconds: float) -> bool:
    return info is not None and now - info.st_mtime >= seconds


def _folder_size(folder: Path) -> int:
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            info = _stat(Path(root) / name)
            total += info.st_size if info is not None else 0
    return total


def _temp_files(data_dir: Path) -> Iterator[Path]:
    """Yield every interrupted write's temp file in the data folder.

    Set-aside store files (``quarantine/``) are kept as they are for whoever investigates, and
    restore staging folders go whole.
    """
    for root, folders, files in os.walk(data_dir):
        if Path(root) == data_dir:
            folders[:] = [f for f in folders if f != "quarantine" and not f.startswith(".restore-")]
        for name in files:
            if name.endswith(TEMP_SUFFIX):
                yield Path(root) / name


def _staged_copies(temp_root: Path, now: float) -> Iterator[Leftover]:
    """Yield private store copies of killed CLI commands: ours, old, holding a store/ folder.

    Anything else in the temp folder is never touched: another user's folder, a symlink, a
    folder without ``store/`` or one still in use (its entries changed recently).
    """
    try:
        entries = list(temp_root.iterdir())
    except OSError:
        return
    for folder in entries:
        if not folder.name.startswith(STAGED_PREFIX):
            continue
        info = _stat(folder)
        if info is None or not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            continue
        store = _stat(folder / "store")
        if store is None or not stat.S_ISDIR(store.st_mode):
            continue
        try:
            newest = max([info.st_mtime, *(c.lstat().st_mtime for c in folder.iterdir())])
        except OSError:
            continue
        if now - newest >= STAGED_COPY_SECONDS:
            yield Leftover(STAGED_COPIES, folder, _folder_size(folder))


def find_leftovers(
    data_dir: Path,
    images_used: set[str],
    drafts_used: set[str],
    *,
    now: float,
    at_open: bool = False,
    temp_root: Path | None = None,
    media: Media | None = None,
) -> list[Leftover]:
    """List what a sweep would remove from a data folder and the temp folder (``now``: epoch).

    With ``at_open`` the caller holds the folder's lock, so nothing inside the folder is being
    written: everything found there is stale, whatever its age. Backups and the temp folder
    are written by `python -m gallery_store` too, so they always keep the grace period, and
    so do images other servers share (``media.shared``).
    """
    grace = 0 if at_open else GRACE_SECONDS
    found: list[Leftover] = []
    media = media or MediaStore(data_dir / "images")
    image_grace = GRACE_SECONDS if media.shared else grace
    try:
        stored = media.entries()
    except (OSError, StudioError) as exc:
        log.warning("could not list the images to look for orphans: %s", exc)
        stored = []
    for entry in stored:
        if entry.name not in images_used and now - entry.modified >= image_grace:
            found.append(Leftover(ORPHAN_IMAGES, None, entry.size, entry.name))
    drafts = data_dir / "drafts"
    if drafts.is_dir():
        for path in sorted(drafts.iterdir()):
            if not DRAFT_FILE.fullmatch(path.name) or path.name in drafts_used:
                continue
            info = _stat(path)
            if _older(info, now, grace) and stat.S_ISREG(info.st_mode):
                found.append(Leftover(ORPHAN_DRAFTS, path, info.st_size, path.name))
    backups = data_dir / "backups"
    for path in _temp_files(data_dir):
        info = _stat(path)
        if path.parent == backups and path.name.startswith(".backup-"):
            if _older(info, now, GRACE_SECONDS):
                found.append(Leftover(BACKUP_TEMP_FILES, path, info.st_size))
        elif _older(info, now, grace):
            found.append(Leftover(TEMP_FILES, path, info.st_size))
    with contextlib.suppress(OSError):
        for folder in sorted(data_dir.glob(".restore-*")):
            info = _stat(folder)
            if info is not None and stat.S_ISDIR(info.st_mode) and _older(info, now, grace):
                found.append(Leftover(RESTORE_FOLDERS, folder, _folder_size(folder)))
    with contextlib.suppress(OSError):
        for folder in sorted(backups.glob(".snapshot-*")):
            info = _stat(folder)
            if info is not None and stat.S_ISDIR(info.st_mode) and _older(info, now, grace):
                found.append(Leftover(SNAPSHOT_FOLDERS, folder, _folder_size(folder)))
    found.extend(_staged_copies(temp_root or Path(tempfile.gettempdir()), now))
    return found


def _expired_exports(data_dir: Path, now: float) -> Iterator[Leftover]:
    folder = data_dir / "exports"
    if not folder.is_dir():
        return
    for path in sorted(folder.glob("*.zip")):
        info = _stat(path)
        if _older(info, now, DOWNLOAD_SECONDS):
            yield Leftover(EXPIRED_EXPORTS, path, info.st_size)


def survey(
    data_dir: Path,
    store: Store,
    config: StudioConfig,
    now: datetime,
    media: Media | None = None,
) -> SweepReport:
    """Count what the app's sweeper would remove, by kind (removes nothing).

    ``store`` may be a private copy of the studio's store; the files are the real ones, so
    the grace period always applies. The sign-in throttle lives in the app's memory only.
    """
    images_used, drafts_used = referenced_files(store)
    leftovers = find_leftovers(data_dir, images_used, drafts_used, now=time.time(), media=media)
    leftovers.extend(_expired_exports(data_dir, time.time()))
    report = SweepReport()
    for leftover in leftovers:
        report.add(leftover.kind, 1, leftover.size)
    users = store.collection("users")
    report.add(
        EXPIRED_SESSIONS,
        sum(
            1
            for session in store.collection("sessions").all()
            if not session_alive(session, users.get(session["user_id"]), now, config)
        ),
    )
    return report


# -- sweeping a running studio -------------------------------------------------------------------


def _remove(leftover: Leftover, media: Media) -> bool:
    try:
        if leftover.kind == ORPHAN_IMAGES:
            media.delete([leftover.name])
        elif leftover.kind in (RESTORE_FOLDERS, SNAPSHOT_FOLDERS, STAGED_COPIES):
            shutil.rmtree(leftover.path)
        else:
            leftover.path.unlink()
        return True
    except FileNotFoundError:
        return False
    except OSError as exc:
        where = leftover.path or media.label(leftover.name)
        log.warning("the sweeper could not remove %s: %s", where, exc.strerror or exc)
        return False
    except StudioError:
        log.warning("the sweeper could not remove %s", media.label(leftover.name))
        return False


class Sweeper:
    """Sweeps one studio: once at open, then at most hourly, never raising."""

    def __init__(self, studio: Studio, *, temp_root: Path | None = None) -> None:
        self.studio = studio
        self.store = studio.store
        self.temp_root = temp_root
        self._last_sweep = float("-inf")
        self._running = threading.Lock()

    def sweep_at_open(self) -> SweepReport:
        """Sweep while the studio opens, when everything in its folder is known to be stale."""
        return self._guarded(self.studio.now(), at_open=True) or SweepReport()

    def due(self) -> bool:
        """Say whether the last sweep was an hour ago or more (cheap: no disk access)."""
        return self.studio.now().timestamp() - self._last_sweep >= SWEEP_INTERVAL_SECONDS

    def sweep_if_due(self) -> SweepReport | None:
        """Sweep if the last sweep was an hour ago or more."""
        if not self.due():
            return None
        return self._guarded(self.studio.now(), at_open=False)

    def _guarded(self, now: datetime, *, at_open: bool) -> SweepReport | None:
        try:
            report = self.sweep(now, at_open=at_open)
        except Exception:
            log.exception("the sweep failed; it will be tried again in an hour")
            return None
        if report.total:
            log.info("swept %s", report)
        return report

    def sweep(self, now: datetime, *, at_open: bool = False) -> SweepReport:
        """Remove every leftover of every kind; return how many of each went.

        One sweep at a time: while one runs (in another thread, or in this one, from the
        commits it makes itself), another returns an empty report at once.
        """
        report = SweepReport()
        if not self._running.acquire(blocking=False):
            return report
        try:
            self._last_sweep = now.timestamp()
            for step in (self._files, self._exports, self._sessions, self._throttle):
                try:
                    step(report, now, at_open)
                except Exception:
                    # One kind failing must not keep the others from being swept.
                    log.exception("sweeping %s failed", step.__name__.strip("_"))
        finally:
            self._running.release()
        return report

    def _files(self, report: SweepReport, now: datetime, at_open: bool) -> None:
        with self.store.reading():
            images_used, drafts_used = referenced_files(self.store)
        found = find_leftovers(
            self.studio.data_dir,
            images_used,
            drafts_used,
            now=time.time(),
            at_open=at_open,
            temp_root=self.temp_root,
            media=self.studio.media,
        )
        orphans = [f for f in found if f.kind in ORPHANS]
        if orphans and self.store.recovery_notes:
            # Opening had to repair the store: after a loss these files may be the only copy
            # of art saved since the backup, so they stay for whoever runs the studio.
            log.warning(
                "kept %d files no record names, because opening had to repair the store",
                len(orphans),
            )
            orphans = []
        self._remove_all(report, [f for f in found if f.kind not in ORPHANS])
        if orphans:
            # Under the lock, against the records as they are now, so nothing a record has
            # just come to name is removed.
            with self.store.reading():
                images_used, drafts_used = referenced_files(self.store)
                named = images_used | drafts_used
                self._remove_all(report, [f for f in orphans if f.name not in named])

    def _remove_all(self, report: SweepReport, leftovers: Iterable[Leftover]) -> None:
        for leftover in leftovers:
            if _remove(leftover, self.studio.media):
                report.add(leftover.kind, 1, leftover.size)

    def _exports(self, report: SweepReport, now: datetime, at_open: bool) -> None:
        report.add(EXPIRED_EXPORTS, self.studio.exports.sweep())

    def _sessions(self, report: SweepReport, now: datetime, at_open: bool) -> None:
        report.add(EXPIRED_SESSIONS, self.studio.accounts.end_expired_sessions(now))

    def _throttle(self, report: SweepReport, now: datetime, at_open: bool) -> None:
        report.add(THROTTLE_ENTRIES, self.studio.accounts.throttle.prune(now.timestamp()))
