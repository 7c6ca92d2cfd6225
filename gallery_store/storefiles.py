"""The embedded store's files: how shards are encoded and checked, and meta.json.

A shard is a TinyDB JSON file (``{"records": {doc_id: record}}``). ``meta.json`` lists every
shard with the SHA-256 its file may have and the commit it reflects, and carries a checksum
of its own content, so opening can tell a good file from a damaged or foreign one.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from .errors import StoreUnavailable

__all__ = [
    "JOURNAL_FILE",
    "META_FILE",
    "SCHEMA_VERSION",
    "TABLE",
    "StoreFileError",
    "encode",
    "encode_meta",
    "meta_from_bytes",
    "parse_store_bytes",
    "read_meta",
    "read_store_file",
    "sha",
]

SCHEMA_VERSION = 2  # 2: checksums in meta.json and a commit log
TABLE = "records"
META_FILE = "meta.json"
JOURNAL_FILE = "journal.json"  # schema 1 only: a multi-file commit being applied


def encode(data: Any) -> bytes:
    """Serialize a shard's tables compactly."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class StoreFileError(Exception):
    """A store file failed its integrity check (internal; becomes StoreCorrupt)."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


def read_bytes(path: Path, missing: str = "the file is missing") -> bytes:
    """Return a store file's bytes; raise StoreFileError when it is missing or unreadable."""
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise StoreFileError(path, missing) from exc
    except OSError as exc:
        raise StoreFileError(path, f"the file cannot be read ({exc.strerror})") from exc


def read_store_file(path: Path) -> dict:
    """Read and check one store file; raise StoreFileError when it is damaged."""
    return parse_store_bytes(path, read_bytes(path))


def parse_store_bytes(path: Path, raw: bytes) -> dict:
    """Check one store file's bytes and return its tables; raise StoreFileError if damaged."""
    if not raw.strip(b"\x00 \t\r\n"):
        raise StoreFileError(path, "the file is empty or full of zero bytes")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StoreFileError(path, f"the file is not valid JSON ({exc})") from exc
    if not isinstance(data, dict) or not all(isinstance(t, dict) for t in data.values()):
        raise StoreFileError(path, "the file does not hold TinyDB tables")
    for table in data.values():
        for doc_id, doc in table.items():
            if not doc_id.isdigit() or not isinstance(doc, dict):
                raise StoreFileError(path, f"record {doc_id!r} is malformed")
    return data


# -- meta.json ----------------------------------------------------------------------------------
#
# {"schema_version": 2, "position": P, "segment": F, "shards": {collection: {file: [[sha, p]]}}}
#
# ``position``: the last commit the shard files hold. ``segment``: the log segment commits
# after P go to. Each shard lists the checksums its file may have, with the commit each
# reflects: one normally; two while a checkpoint is being written (old and new), so a crash
# between two shard writes leaves files that still pass. ``None`` for the checksum means
# "no file yet; empty as of p".


def sha(data: bytes) -> str:
    """Return the hex SHA-256 of some bytes."""
    return hashlib.sha256(data).hexdigest()


def encode_meta(meta: dict) -> bytes:
    """Return meta.json's bytes, with a checksum of its own content."""
    body = {k: v for k, v in meta.items() if k != "sha256"}
    digest = sha(encode(body))
    return encode({TABLE: {"1": {**body, "sha256": digest}}})


def read_meta(path: Path) -> dict:
    """Read and check meta.json; raise StoreFileError when it is damaged."""
    return meta_from_bytes(path, read_bytes(path, "the index file is missing"))


def meta_from_bytes(path: Path, raw: bytes) -> dict:
    """Check meta.json's bytes (``path`` names it in messages); raise StoreFileError."""
    data = parse_store_bytes(path, raw)
    meta = data.get(TABLE, {}).get("1")
    if not isinstance(meta, dict) or not isinstance(meta.get("shards"), dict):
        raise StoreFileError(path, "the index file has no list of data files")
    version = meta.get("schema_version", 0)
    if not isinstance(version, int) or isinstance(version, bool):
        raise StoreFileError(path, "the index file's schema version is malformed")
    if version > SCHEMA_VERSION:
        raise StoreUnavailable(
            f"This data folder was written by a newer Kindred Canvas (schema {version}; "
            f"this version knows {SCHEMA_VERSION}). Please upgrade the app."
        )
    if int(meta.get("schema_version", 0)) < 2:
        if not all(isinstance(files, list) for files in meta["shards"].values()):
            raise StoreFileError(path, "the index file's list of data files is malformed")
        return meta  # written before checksums: open() upgrades it
    body = {k: v for k, v in meta.items() if k != "sha256"}
    if meta.get("sha256") != sha(encode(body)):
        raise StoreFileError(path, "the index file does not match its checksum")
    try:
        for files in meta["shards"].values():
            for pairs in files.values():
                for digest, position in pairs:
                    assert digest is None or isinstance(digest, str)
                    assert isinstance(position, int)
        int(meta["position"])
        int(meta["segment"])
    except (AssertionError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise StoreFileError(path, "the index file is malformed") from exc
    return meta
