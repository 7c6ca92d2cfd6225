"""Where artwork images live: write-once files under generated names, never a person's name.

``Media`` is the small interface every service, the sweeper, exports, ``check`` and
``backup`` speak to: bytes and streams in and out, by stored name, and never a local path.
Two kinds implement it: ``MediaStore``, the ``images/`` folder inside the data folder (the
default), and ``S3MediaStore`` (``media_s3.py``), a bucket in an S3-compatible object store,
chosen with ``KINDRED_MEDIA_URL=s3://...`` so several app servers share one set of images.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import secrets
import time
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .durable import atomic_write_bytes
from .errors import ImagesUnavailable, NotFound
from .images import stored_image_damage

__all__ = ["Media", "MediaStore", "StoredImage", "digest_of", "is_stored_name", "open_media"]

log = logging.getLogger(__name__)

_NAME = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{24}-(full|thumb|blur)\.(webp|jpg|png)$")
CHUNK = 1024 * 1024  # bytes copied at a time when streaming an image into an archive


def digest_of(data: bytes) -> str:
    """Return the SHA-256 hex digest the studio keeps for a file's bytes."""
    return hashlib.sha256(data).hexdigest()


def is_stored_name(name: str) -> bool:
    """Say whether a name is one the studio writes (``ab/<24 hex>-full.webp``)."""
    return bool(_NAME.match(name))


@dataclass(frozen=True)
class StoredImage:
    """One stored image as a listing shows it: its name, size and when it was written."""

    name: str
    size: int
    modified: float  # seconds since the epoch


class Media(ABC):
    """Write-once image files addressed by generated names."""

    # True where other app servers write into the same images (an object store): then no
    # server can know that a young file without a record is not another's upload under way.
    shared = False

    def new_stem(self) -> str:
        """Return a fresh random name stem (``ab/abcdef...``)."""
        token = secrets.token_hex(12)
        return f"{token[:2]}/{token}"

    @staticmethod
    def check_name(name: str) -> str:
        """Return the name if the studio writes such names; otherwise raise NotFound."""
        if not is_stored_name(name):
            raise NotFound()
        return name

    @abstractmethod
    def where(self) -> str:
        """Say where the images are, for whoever runs the server (no secrets)."""

    @abstractmethod
    def label(self, name: str) -> str:
        """Name one stored file the way a report to whoever runs the server should."""

    @abstractmethod
    def write(self, name: str, data: bytes) -> str:
        """Store one file durably and whole; return its SHA-256 digest, to keep on its record."""

    @abstractmethod
    def read(self, name: str) -> bytes:
        """Return a stored file's bytes (NotFound when it is missing)."""

    @abstractmethod
    def open(self, name: str) -> contextlib.AbstractContextManager[BinaryIO]:
        """Open a stored file for reading as a stream (NotFound when it is missing)."""

    @abstractmethod
    def exists(self, name: str) -> bool:
        """Say whether a stored file is there (False for a name we never write)."""

    @abstractmethod
    def size(self, name: str) -> int:
        """Return a stored file's size in bytes (NotFound when it is missing)."""

    @abstractmethod
    def delete(self, names: list[str]) -> None:
        """Remove files; a missing one is fine."""

    @abstractmethod
    def entries(self) -> list[StoredImage]:
        """Return every stored file, sorted by name."""

    def all_names(self) -> set[str]:
        """Return every stored name."""
        return {entry.name for entry in self.entries()}

    def copy_to(self, name: str, target: BinaryIO) -> str:
        """Stream a stored file into ``target`` a chunk at a time; return its SHA-256 digest."""
        digest = hashlib.sha256()
        with self.open(name) as source:
            while chunk := source.read(CHUNK):
                digest.update(chunk)
                target.write(chunk)
        return digest.hexdigest()

    def copy_into_zip(
        self,
        name: str,
        archive: zipfile.ZipFile,
        member: str,
        compress_type: int = zipfile.ZIP_STORED,
    ) -> str:
        """Stream a stored file into an archive as ``member``; return its SHA-256 digest.

        One chunk in memory at a time. A missing file raises NotFound before the member is
        begun, so the archive never holds an empty stand-in for it.
        """
        info = zipfile.ZipInfo(member, date_time=time.localtime()[:6])
        info.compress_type = compress_type
        info.external_attr = 0o600 << 16  # owner-only, like the files the studio writes
        digest = hashlib.sha256()
        with self.open(name) as source, archive.open(info, "w") as target:
            while chunk := source.read(CHUNK):
                digest.update(chunk)
                target.write(chunk)
        return digest.hexdigest()

    def damage(self, name: str, digest: str | None = None) -> str | None:
        """Say what is wrong with a stored file, or None when it is whole.

        With the digest kept when it was written, the file must match it exactly; without
        one (older records), it must be a non-empty image Pillow can decode.
        """
        if not is_stored_name(name):
            return "its name is not one the studio writes"
        try:
            data = self.read(name)
        except NotFound:
            return "the file is missing"
        except ImagesUnavailable as exc:
            return f"the file can't be read ({exc.message})"
        except OSError as exc:
            return f"the file can't be read ({exc.strerror or exc})"
        if digest is not None:
            if not data:
                return "the file is empty"
            if digest_of(data) != digest:
                return "the file no longer matches the digest kept when it was saved"
            return None
        return stored_image_damage(data)


class MediaStore(Media):
    """The images folder inside the data folder (``<data>/images/ab/...``)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def where(self) -> str:
        return str(self.folder)

    def label(self, name: str) -> str:
        return f"images/{name}"

    def path(self, name: str) -> Path:
        """Return the file path for a stored name, refusing anything not ours."""
        return self.folder / self.check_name(name)

    def write(self, name: str, data: bytes) -> str:
        atomic_write_bytes(self.path(name), data)
        return digest_of(data)

    def read(self, name: str) -> bytes:
        try:
            return self.path(name).read_bytes()
        except FileNotFoundError as exc:
            raise NotFound("That image file is missing.") from exc

    @contextlib.contextmanager
    def open(self, name: str) -> Iterator[BinaryIO]:
        try:
            handle = self.path(name).open("rb")
        except FileNotFoundError as exc:
            raise NotFound("That image file is missing.") from exc
        with handle:
            yield handle

    def exists(self, name: str) -> bool:
        try:
            return self.path(name).is_file()
        except NotFound:
            return False

    def size(self, name: str) -> int:
        try:
            return self.path(name).stat().st_size
        except FileNotFoundError as exc:
            raise NotFound("That image file is missing.") from exc

    def delete(self, names: list[str]) -> None:
        for name in names:
            with contextlib.suppress(FileNotFoundError, NotFound):
                self.path(name).unlink()

    def entries(self) -> list[StoredImage]:
        if not self.folder.exists():
            return []
        found = []
        for path in self.folder.glob("*/*"):
            name = path.relative_to(self.folder).as_posix()
            if not is_stored_name(name):
                continue
            try:
                info = path.lstat()
            except FileNotFoundError:
                continue  # deleted while we looked
            if path.is_file():
                found.append(StoredImage(name, info.st_size, info.st_mtime))
        return sorted(found, key=lambda entry: entry.name)

    def files(self) -> list[Path]:
        """Return every stored file path (this folder's own; other code reads by name)."""
        return [self.folder / n for n in sorted(self.all_names())]


def open_media(url: str, data_dir: Path) -> Media:
    """Return the images a deployment configured: ``s3://...``, or the data folder's own."""
    if url:
        from .media_s3 import S3MediaStore, parse_media_url

        return S3MediaStore(parse_media_url(url))
    return MediaStore(Path(data_dir) / "images")
