"""The commit log: every committed transaction, appended as one checked line.

Layout under ``<data>/store/log``::

    commits-000000000001.log     commits 1, 2, ... until the next checkpoint
    commits-000000000734.log     commits 734, ... (started by the checkpoint after 733)

A line is ``<json>\\t<sha256 of the json, 16 hex digits>\\n`` where the JSON is
``{"n": commit number, "at": time, "ops": [[collection, shard, doc id, record or null]]}``.
An op carries the whole record after the commit (or null: deleted), so applying a
commit twice gives the same state, and deletions stay deleted when a shard is
rebuilt from an older copy. A commit counts once its line is flushed; a torn last
line (the process died while appending) was never acknowledged and is ignored.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .durable import fsync_dir, make_folder, save_failure

__all__ = ["CommitLog", "LogScan", "Op", "segment_name"]

log = logging.getLogger(__name__)

LOG_FOLDER = "log"
_SEGMENT = re.compile(r"^commits-(\d{12})\.log$")
_NUMBER = re.compile(rb'^\{"n":(\d+),')  # encode_line always writes the number first

Op = list  # [collection, shard name, doc id, record | None]


def segment_name(first: int) -> str:
    """Return the file name of the segment whose first commit is ``first``."""
    return f"commits-{first:012d}.log"


def _digest(body: bytes) -> bytes:
    return hashlib.sha256(body).hexdigest()[:16].encode()


def encode_line(number: int, at: str, ops: list[Op]) -> bytes:
    """Return one commit as a checked log line."""
    body = json.dumps(
        {"n": number, "at": at, "ops": ops}, ensure_ascii=False, separators=(",", ":")
    ).encode("utf-8")
    return body + b"\t" + _digest(body) + b"\n"


def checked_body(line: bytes) -> tuple[int, bytes] | None:
    """Return a log line's commit number and body if its checksum holds, without parsing it.

    Opening only needs to parse the commits after the last checkpoint; the rest are kept
    as checked bytes until a repair needs them.
    """
    body, tab, digest = line.rpartition(b"\t")
    if not tab or _digest(body) != digest:
        return None
    number = _NUMBER.match(body)
    if number is None:
        return None
    return int(number.group(1)), body


def decode_body(body: bytes) -> dict | None:
    """Return the commit a checked line body holds, or None if it is not one."""
    try:
        entry = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if (
        not isinstance(entry, dict)
        or not isinstance(entry.get("n"), int)
        or not isinstance(entry.get("ops"), list)
    ):
        return None
    return entry


def decode_line(line: bytes) -> dict | None:
    """Return a commit from a log line, or None if the line is damaged."""
    checked = checked_body(line)
    if checked is None:
        return None
    entry = decode_body(checked[1])
    return entry if entry is not None and entry["n"] == checked[0] else None


@dataclass
class LogScan:
    """What the log on disk holds: each readable commit, and which are missing."""

    commits: dict[int, bytes] = field(default_factory=dict)  # number -> checked line body
    start: int = 1  # the first commit the oldest segment was made for
    last: int = 0
    # The highest commit known to exist: the last readable one, or one before the newest
    # segment (a checkpoint starts it after its last commit), or the store's checkpoint.
    known_last: int = 0
    segments: int = 0
    torn_tail: str | None = None  # a last line cut short by a crash: never acknowledged
    damage: list[str] = field(default_factory=list)  # where lines could not be read
    good_length: dict[Path, int] = field(default_factory=dict)

    def missing(self, position: int = 0) -> list[int]:
        """Return the commit numbers after ``position`` that cannot be read."""
        top = max(self.last, self.known_last)
        low = max(position + 1, self.start)
        gone = [n for n in range(low, top + 1) if n not in self.commits]
        if position + 1 < self.start and top >= self.start:
            gone = list(range(position + 1, self.start)) + gone
        return gone

    def complete_after(self, position: int) -> bool:
        """Say whether every commit after ``position`` is readable (and the log is there)."""
        if not self.segments and max(self.last, self.known_last) > position:
            return False
        if position >= max(self.last, self.known_last):
            return self.segments > 0 or position == 0
        return position + 1 >= self.start and not self.missing(position)

    def after(self, position: int) -> Iterator[dict]:
        """Yield readable commits after ``position``, in order."""
        for number in sorted(n for n in self.commits if n > position):
            entry = decode_body(self.commits[number])
            if entry is None or entry["n"] != number:
                # Its checksum held, so only a line written wrongly could get here.
                raise ValueError(f"commit {number} in the log is not a commit")
            yield entry


class CommitLog:
    """Append-only segments in ``store/log``."""

    def __init__(self, root: Path) -> None:
        self.folder = root / LOG_FOLDER
        self._fd: int | None = None
        self._path: Path | None = None
        self._first = 0
        self._length = 0
        self._good_length: int | None = None
        self.bytes_since_checkpoint = 0
        self.bytes_written = 0  # for the store benchmark

    # -- reading -------------------------------------------------------------------------

    def segments(self) -> list[tuple[int, Path]]:
        """Return ``(first commit, path)`` of every segment, oldest first."""
        if not self.folder.is_dir():
            return []
        found = []
        for path in self.folder.iterdir():
            match = _SEGMENT.match(path.name)
            if match and path.is_file():
                found.append((int(match.group(1)), path))
        return sorted(found)

    def scan(self) -> LogScan:
        """Read every segment; never writes (a full disk must not stop the studio opening)."""
        scan = LogScan()
        segments = self.segments()
        if segments:
            scan.start = segments[0][0]
            scan.segments = len(segments)
            scan.known_last = segments[-1][0] - 1
        for position, (first, path) in enumerate(segments):
            try:
                raw = path.read_bytes()
            except OSError as exc:
                scan.damage.append(f"{path.name} can't be read ({exc.strerror})")
                continue
            offset = 0
            bad_at: int | None = None
            lines = raw.split(b"\n")
            for index, line in enumerate(lines):
                if index == len(lines) - 1:
                    if line and bad_at is None:
                        bad_at = offset  # no newline yet: the append was cut short
                    break
                checked = checked_body(line)
                if checked is None or checked[0] < first:
                    if bad_at is None:
                        bad_at = offset
                else:
                    if bad_at is not None:
                        scan.damage.append(f"{path.name} has a damaged line at byte {bad_at}")
                        bad_at = None
                    number, body = checked
                    scan.commits.setdefault(number, body)
                    scan.last = max(scan.last, number)
                    scan.known_last = max(scan.known_last, scan.last)
                offset += len(line) + 1
            if bad_at is not None:
                if position == len(segments) - 1:
                    scan.torn_tail = f"{path.name} ends with a commit that was cut short"
                    scan.good_length[path] = bad_at
                else:
                    scan.damage.append(f"{path.name} ends with damaged lines")
        return scan

    # -- writing -------------------------------------------------------------------------

    def start(self, first: int, scan: LogScan | None = None) -> None:
        """Append to the segment starting at ``first`` (made if missing) from now on."""
        self.close()
        self._path = self.folder / segment_name(first)
        self._first = first
        self._good_length = scan.good_length.get(self._path) if scan else None

    def create_segment(self, first: int) -> Path:
        """Make an empty segment durably (a checkpoint names it before it is used)."""
        make_folder(self.folder)
        path = self.folder / segment_name(first)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        fsync_dir(self.folder)
        fsync_dir(self.folder.parent)
        return path

    def _open(self) -> int:
        if self._fd is not None:
            return self._fd
        assert self._path is not None, "start() the log before appending"
        if not self._path.exists():
            self.create_segment(self._first)
        fd = os.open(self._path, os.O_WRONLY | os.O_APPEND, 0o600)
        try:
            length = os.fstat(fd).st_size
            if self._good_length is not None and self._good_length < length:
                # Drop the torn tail a crash left, before the next commit follows it.
                os.ftruncate(fd, self._good_length)
                os.fsync(fd)
                length = self._good_length
            self._good_length = None
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        self._length = length
        return fd

    def append(self, line: bytes) -> bool:
        """Append one commit and flush it; return False if only the flush failed.

        A failed write is cut off again, so the log never holds half a commit, and
        SaveFailed is raised: nothing was committed. When the bytes are written but the
        disk then reports an error while flushing, the commit is in effect (it is in the
        file, and readers see it) but may not survive a power cut: the caller says so.
        """
        try:
            fd = self._open()
        except OSError as exc:
            raise save_failure(exc) from exc
        view = memoryview(line)
        try:
            while view:
                view = view[os.write(fd, view) :]
        except OSError as exc:
            try:
                os.ftruncate(fd, self._length)
            except OSError:
                # The tail can't be cut: writing on would bury half a commit mid-log.
                self.close()
                self._good_length = self._length
                log.error("could not cut a failed commit off the log; writes will retry it")
            raise save_failure(exc) from exc
        self._length += len(line)
        self.bytes_since_checkpoint += len(line)
        self.bytes_written += len(line)
        try:
            os.fsync(fd)
        except OSError as exc:
            log.error("the disk reported an error while flushing a commit: %s", exc)
            return False
        return True

    def close(self) -> None:
        """Close the open segment."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def prune(self, keep_from: int) -> int:
        """Delete segments holding only commits before ``keep_from``; return how many."""
        segments = self.segments()
        removed = 0
        for (_first, path), (next_first, _next) in itertools.pairwise(segments):
            if next_first <= keep_from and path != self._path:
                path.unlink(missing_ok=True)
                removed += 1
        if removed:
            fsync_dir(self.folder)
        return removed

    def files(self) -> list[Path]:
        """Return every segment file."""
        return [path for _first, path in self.segments()]


def ops_for(entry: dict[str, Any]) -> list[Op]:
    """Return a commit's ops (each checked to have the right shape)."""
    return [op for op in entry["ops"] if isinstance(op, list) and len(op) == 4]
