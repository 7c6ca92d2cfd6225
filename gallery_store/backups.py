"""Backups: rolling store snapshots kept automatically, and whole-studio archives.

An archive is a ZIP with a ``manifest.json`` that lists every file with its
SHA-256. Rolling backups (``<data>/backups/store-*.zip``) hold the store files
only — images are written once and never changed, so they are not copied each
hour; whole-studio archives (``python -m gallery_store backup``) hold both, the
images read through the media layer from wherever they live (the data folder or
an S3 bucket) under ``images/``, and a restore puts them back there.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from .durable import fsync_dir, make_folder
from .errors import NotFound, StudioError

if TYPE_CHECKING:
    from .media import Media

__all__ = [
    "ArchiveDamaged",
    "Manifest",
    "RollingBackups",
    "read_manifest",
    "restore_archive",
    "restore_images",
    "write_archive",
]

log = logging.getLogger(__name__)

ARCHIVE_KIND = "kindred-canvas-backup"


class ArchiveDamaged(StudioError):
    """A backup archive is unreadable or does not match its manifest."""


@dataclass(frozen=True)
class Manifest:
    """What an archive says it holds."""

    created_at: str
    schema_version: int
    files: dict[str, str]
    includes_images: bool


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_archive(
    destination: Path,
    data_dir: Path,
    files: list[Path],
    *,
    schema_version: int,
    includes_images: bool,
    images: Media | None = None,
    image_names: Iterable[str] = (),
) -> Manifest:
    """Write ``files`` (inside ``data_dir``) to a verified ZIP archive, atomically.

    ``image_names`` are streamed from ``images`` into ``images/<name>``, one at a time.
    """
    created = datetime.now(UTC).isoformat()
    digests: dict[str, str] = {}
    make_folder(destination.parent)
    with tempfile.NamedTemporaryFile(
        dir=destination.parent, prefix=".backup-", suffix=".kc-tmp", delete=False
    ) as handle:
        temp = Path(handle.name)
    try:
        with zipfile.ZipFile(temp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            for path in files:
                try:
                    data = path.read_bytes()
                except FileNotFoundError:
                    continue  # an image deleted while we copied: the record went with it
                name = path.relative_to(data_dir).as_posix()
                digests[name] = _sha256(data)
                # Images are already compressed; deflating them again only costs time.
                kind = zipfile.ZIP_STORED if name.startswith("images/") else zipfile.ZIP_DEFLATED
                zf.writestr(name, data, compress_type=kind)
            for image in image_names if images is not None else ():
                try:
                    # Images are already compressed; deflating them again only costs time.
                    digest = images.copy_into_zip(image, zf, f"images/{image}")
                except NotFound:
                    continue  # deleted while we copied: the record went with it
                digests[f"images/{image}"] = digest
            manifest = {
                "kind": ARCHIVE_KIND,
                "created_at": created,
                "schema_version": schema_version,
                "includes_images": includes_images,
                "files": digests,
            }
            zf.writestr("manifest.json", json.dumps(manifest, indent=1))
        with open(temp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(temp, destination)
        fsync_dir(destination.parent)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return Manifest(created, schema_version, digests, includes_images)


def read_manifest(archive: Path) -> Manifest:
    """Check every file of an archive against its manifest; raise ArchiveDamaged if off."""
    try:
        with zipfile.ZipFile(archive) as zf:
            raw = json.loads(zf.read("manifest.json"))
            if raw.get("kind") != ARCHIVE_KIND or not isinstance(raw.get("files"), dict):
                raise ArchiveDamaged(f"{archive.name} is not a Kindred Canvas backup.")
            for name, digest in raw["files"].items():
                if name.startswith("/") or ".." in Path(name).parts:
                    raise ArchiveDamaged(f"{archive.name} names a file outside the data folder.")
                data = zf.read(name)
                if _sha256(data) != digest:
                    raise ArchiveDamaged(f"{archive.name} is damaged: {name} does not match.")
                if name.startswith("store/") and name.endswith(".json"):
                    json.loads(data)
    except ArchiveDamaged:
        raise
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, EOFError, zlib.error) as exc:
        raise ArchiveDamaged(
            f"{archive.name} is damaged or incomplete, so nothing was restored ({exc})."
        ) from exc
    return Manifest(
        raw.get("created_at", ""),
        int(raw.get("schema_version", 0)),
        dict(raw["files"]),
        bool(raw.get("includes_images")),
    )


def restore_archive(
    archive: Path, data_dir: Path, *, only_store: bool = False, with_images: bool = True
) -> Manifest:
    """Unpack a verified archive into ``data_dir``; nothing changes if it is damaged.

    Without ``with_images`` the images stay out of the folder (``restore_images`` puts them
    where the studio keeps them).
    """
    manifest = read_manifest(archive)
    make_folder(data_dir)
    staging = Path(tempfile.mkdtemp(dir=data_dir, prefix=".restore-"))
    try:
        folders: set[Path] = {staging}
        with zipfile.ZipFile(archive) as zf:
            for name in manifest.files:
                if only_store and not name.startswith("store/"):
                    continue
                if not with_images and name.startswith("images/"):
                    continue
                target = staging / name
                _make_private_folders(target.parent, staging, folders)
                _write_durably(target, zf.read(name))
        # Every file is on disk before any folder entry that names it, and every folder
        # entry before the rename that brings the folder into the studio.
        for folder in sorted(folders, key=lambda f: len(f.parts), reverse=True):
            fsync_dir(folder)
        tops = sorted({Path(n).parts[0] for n in manifest.files})
        tops = [top for top in tops if (staging / top).exists()]
        # Refuse before moving anything, so a refused restore leaves the folder as it was.
        for top in tops:
            destination = data_dir / top
            if destination.exists() and top != "images":
                raise StudioError(f"{destination} already exists; restore into an empty folder.")
        for top in tops:
            source = staging / top
            destination = data_dir / top
            if top == "images" and destination.exists():
                _move_missing_files(source, destination)
            else:
                os.replace(source, destination)
        fsync_dir(data_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest


def restore_images(archive: Path, manifest: Manifest, media: Media) -> int:
    """Write an archive's images into ``media`` where they are missing; return how many.

    Call it with the manifest ``read_manifest`` checked. Images are write-once: one already
    stored under a name is that image, and stays.
    """
    from .media import is_stored_name

    wanted = [n for n in manifest.files if n.startswith("images/")]
    present = media.all_names()
    written = 0
    with zipfile.ZipFile(archive) as zf:
        for member in wanted:
            name = member[len("images/") :]
            if not is_stored_name(name) or name in present:
                continue
            data = zf.read(member)
            if _sha256(data) != manifest.files[member]:
                raise ArchiveDamaged(f"{archive.name} is damaged: {member} does not match.")
            media.write(name, data)
            written += 1
    return written


def _make_private_folders(folder: Path, root: Path, made: set[Path]) -> None:
    """Create ``folder`` below ``root`` as owner-only folders, remembering each one."""
    missing = []
    while folder not in made and folder != root:
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        path.mkdir(mode=0o700, exist_ok=True)
        made.add(path)


def _move_missing_files(source: Path, destination: Path) -> None:
    """Move staged files into an existing folder where they are missing, durably."""
    touched: set[Path] = set()
    for staged in sorted(p for p in source.rglob("*") if p.is_file()):
        target = destination / staged.relative_to(source)
        if target.exists():
            continue  # images are write-once: one with this name is this image
        _make_private_folders(target.parent, destination, touched)
        os.replace(staged, target)
        touched.add(target.parent)
    for folder in sorted(touched, key=lambda f: len(f.parts), reverse=True):
        fsync_dir(folder)
    fsync_dir(destination)


def _write_durably(path: Path, data: bytes) -> None:
    """Write a restored file readable by the owner only, flushed to disk before it counts."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


_position_cache: dict[tuple[str, int, int], int | None] = {}


def _lowest_position(meta: dict) -> int | None:
    try:
        positions = [int(meta["position"])]
        for files in meta["shards"].values():
            positions.extend(int(p) for pairs in files.values() for _d, p in pairs)
        return min(positions)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


class RollingCopy:
    """One rolling backup, opened for repair: checked once, then read member by member."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = path.name
        stem = path.stem[len("store-") :]
        try:
            stamp = datetime.strptime(stem, "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)
            self.taken = stamp.strftime("%d %b %Y, %H:%M UTC")
        except ValueError:
            self.taken = "at an unknown time"
        self._verified: bool | None = None
        self._meta: dict | None = None

    def _verify(self) -> bool:
        if self._verified is None:
            try:
                read_manifest(self.path)
                self._verified = True
            except ArchiveDamaged as exc:
                log.warning("backup %s can't be used: %s", self.name, exc)
                self._verified = False
        return self._verified

    def meta(self, *, verify: bool = True) -> dict | None:
        """Return the backup's checked meta.json, or None if it is damaged or too old."""
        if verify and not self._verify():
            return None
        if self._meta is None:
            from .storage import StoreFileError, meta_from_bytes

            data = self.read("store/meta.json", verify=verify)
            if data is None:
                return None
            try:
                meta = meta_from_bytes(Path(self.name) / "store" / "meta.json", data)
            except StoreFileError:
                return None
            if int(meta.get("schema_version", 0)) < 2:
                return None  # from before checksums: no commit can be matched to it
            self._meta = meta
        return self._meta

    def read(self, relative: str, *, verify: bool = True) -> bytes | None:
        """Return one member's bytes, or None if it is missing or the archive is damaged."""
        if verify and not self._verify():
            return None
        try:
            with zipfile.ZipFile(self.path) as zf:
                return zf.read(relative)
        except (KeyError, OSError, zipfile.BadZipFile, zlib.error, EOFError):
            return None


class RollingBackups:
    """Store snapshots taken automatically, the newest ``keep`` kept."""

    def __init__(self, data_dir: Path, keep: int, interval_minutes: int) -> None:
        self.folder = data_dir / "backups"
        self.data_dir = data_dir
        self.keep = keep
        self.interval_seconds = interval_minutes * 60

    def archives(self) -> list[Path]:
        """Return rolling backups, newest first."""
        if not self.folder.exists():
            return []
        return sorted(self.folder.glob("store-*.zip"), reverse=True)

    def due(self, now: datetime) -> bool:
        """Say whether the newest backup is older than the interval."""
        newest = self.archives()
        if not newest:
            return True
        # The name carries the studio clock's time when it was taken (the same clock as
        # ``now``); the file's mtime would mix in the machine's clock.
        try:
            stamp = datetime.strptime(newest[0].stem[len("store-") :], "%Y%m%dT%H%M%S%fZ")
            taken = stamp.replace(tzinfo=UTC).timestamp()
        except ValueError:
            taken = newest[0].stat().st_mtime
        return now.timestamp() - taken >= self.interval_seconds

    def take(
        self, files: list[Path], schema_version: int, now: datetime, *, base: Path | None = None
    ) -> Path:
        """Write a new snapshot of ``files`` (inside ``base``, the data folder) and prune."""
        stamp = now.strftime("%Y%m%dT%H%M%S%fZ")
        destination = self.folder / f"store-{stamp}.zip"
        write_archive(
            destination,
            base or self.data_dir,
            files,
            schema_version=schema_version,
            includes_images=False,
        )
        for old in self.archives()[self.keep :]:
            with contextlib.suppress(OSError):
                old.unlink()
        return destination

    def copies(self) -> list[RollingCopy]:
        """Return every rolling backup as a copy repair can read, newest first."""
        return [RollingCopy(path) for path in self.archives()]

    def positions(self) -> list[int]:
        """Return the commit each kept backup reflects (the log must reach back to them)."""
        found = []
        kept = set()
        for path in self.archives():
            try:
                info = path.stat()
            except OSError:
                continue
            # Archives are written once: a file with the same path, time and size is the same.
            key = (str(path), info.st_mtime_ns, info.st_size)
            kept.add(key)
            if key not in _position_cache:
                meta = RollingCopy(path).meta(verify=False)
                _position_cache[key] = _lowest_position(meta) if meta is not None else None
            position = _position_cache[key]
            if position is not None:
                found.append(position)
        # Forget archives pruned since: the cache would otherwise grow with every backup taken.
        folder = str(self.folder)
        for key in list(_position_cache):
            if key not in kept and os.path.dirname(key[0]) == folder:
                _position_cache.pop(key, None)
        return found
