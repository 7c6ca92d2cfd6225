"""The image folder: artwork files under generated names, never a person's file name."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import secrets
from pathlib import Path

from .durable import atomic_write_bytes
from .errors import NotFound
from .images import stored_image_damage

__all__ = ["MediaStore", "digest_of"]

log = logging.getLogger(__name__)

_NAME = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{24}-(full|thumb|blur)\.(webp|jpg|png)$")


def digest_of(data: bytes) -> str:
    """Return the SHA-256 hex digest the studio keeps for a file's bytes."""
    return hashlib.sha256(data).hexdigest()


class MediaStore:
    """Write-once image files addressed by generated names."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def new_stem(self) -> str:
        """Return a fresh random name stem (``ab/abcdef...``)."""
        token = secrets.token_hex(12)
        return f"{token[:2]}/{token}"

    def path(self, name: str) -> Path:
        """Return the file path for a stored name, refusing anything not ours."""
        if not _NAME.match(name):
            raise NotFound()
        return self.folder / name

    def write(self, name: str, data: bytes) -> str:
        """Store one file durably; return its SHA-256 digest, to keep on its record."""
        atomic_write_bytes(self.path(name), data)
        return digest_of(data)

    def exists(self, name: str) -> bool:
        """Say whether a stored file is on disk (False for a name we never write)."""
        try:
            return self.path(name).is_file()
        except NotFound:
            return False

    def damage(self, name: str, digest: str | None = None) -> str | None:
        """Say what is wrong with a stored file, or None when it is whole.

        With the digest kept when it was written, the file must match it exactly; without
        one (older records), it must be a non-empty image Pillow can decode.
        """
        try:
            data = self.path(name).read_bytes()
        except NotFound:
            return "its name is not one the studio writes"
        except FileNotFoundError:
            return "the file is missing"
        except OSError as exc:
            return f"the file can't be read ({exc.strerror or exc})"
        if digest is not None:
            if not data:
                return "the file is empty"
            if digest_of(data) != digest:
                return "the file no longer matches the digest kept when it was saved"
            return None
        return stored_image_damage(data)

    def read(self, name: str) -> bytes:
        """Return a stored file's bytes."""
        try:
            return self.path(name).read_bytes()
        except FileNotFoundError as exc:
            raise NotFound("That image file is missing.") from exc

    def delete(self, names: list[str]) -> None:
        """Remove files; a missing one is fine."""
        for name in names:
            with contextlib.suppress(FileNotFoundError, NotFound):
                self.path(name).unlink()

    def all_names(self) -> set[str]:
        """Return every stored name."""
        if not self.folder.exists():
            return set()
        return {
            p.relative_to(self.folder).as_posix()
            for p in self.folder.glob("*/*")
            if p.is_file() and _NAME.match(p.relative_to(self.folder).as_posix())
        }

    def files(self) -> list[Path]:
        """Return every stored file path."""
        return [self.folder / n for n in sorted(self.all_names())]
