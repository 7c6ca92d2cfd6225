"""The image folder: artwork files under generated names, never a person's file name."""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
from pathlib import Path

from .durable import atomic_write_bytes
from .errors import NotFound

__all__ = ["MediaStore"]

log = logging.getLogger(__name__)

_NAME = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{24}-(full|thumb|blur)\.(webp|jpg|png)$")


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

    def write(self, name: str, data: bytes) -> None:
        """Store one file durably."""
        atomic_write_bytes(self.path(name), data)

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
