"""Durable file writes: temp file, fsync, atomic rename, fsync the folder.

Every byte the studio keeps goes through ``atomic_write_bytes`` so that a crash,
a killed process or a full disk leaves either the old file or the new one,
never a torn or empty one.
"""

from __future__ import annotations

import errno
import logging
import os
import secrets
from pathlib import Path

from .errors import SaveFailed

__all__ = [
    "DISK_FULL_MESSAGE",
    "TEMP_SUFFIX",
    "atomic_write_bytes",
    "fsync_dir",
    "make_folder",
    "remove_stray_temp_files",
    "save_failure",
]

log = logging.getLogger(__name__)

TEMP_SUFFIX = ".kc-tmp"

DISK_FULL_MESSAGE = (
    "We couldn't save that because the server's disk is full. Nothing was changed — "
    "please let your facilitator know."
)


def save_failure(exc: OSError, message: str | None = None) -> SaveFailed:
    """Return the SaveFailed a person should see for a failed write (a full disk says so)."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return SaveFailed(DISK_FULL_MESSAGE)
    return SaveFailed(message)


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries to disk so a rename survives power loss."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_folder(folder: Path, mode: int = 0o700) -> None:
    """Create ``folder`` and any missing parents durably: each new entry is flushed in its parent.

    Without the parent's fsync, a power cut can take away a new folder together with every
    file already written and synced inside it.
    """
    folder = Path(folder)
    if folder.is_dir():
        return
    missing: list[Path] = []
    level = folder
    while not level.is_dir():
        missing.append(level)
        level = level.parent
    for new in reversed(missing):
        try:
            new.mkdir(mode=mode)
        except FileExistsError:
            if not new.is_dir():
                raise
            continue  # made meanwhile by another writer, who flushes it
        fsync_dir(new.parent)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically and durably, or raise SaveFailed."""
    # The temp file lives in the same folder so os.replace is a same-filesystem rename.
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}{TEMP_SUFFIX}")
    try:
        make_folder(path.parent)
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
        fsync_dir(path.parent)
    except OSError as exc:
        try:
            temp.unlink(missing_ok=True)
        except OSError:
            log.warning("could not remove temp file %s", temp)
        log.error("durable write of %s failed: %s", path, exc)
        raise save_failure(exc) from exc


def remove_stray_temp_files(folder: Path) -> int:
    """Delete temp files a crash left behind below ``folder``; return how many."""
    removed = 0
    if not folder.exists():
        return 0
    for temp in folder.rglob(f"*{TEMP_SUFFIX}"):
        try:
            temp.unlink()
            removed += 1
        except OSError:
            log.warning("could not remove stray temp file %s", temp)
    return removed
