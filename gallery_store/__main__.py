"""Command line for whoever runs the server: check, back up, restore, count, set up.

Usage::

    python -m gallery_store [--data-dir DIR] check
    python -m gallery_store [--data-dir DIR] backup [--output FILE]
    python -m gallery_store [--data-dir DIR] restore ARCHIVE
    python -m gallery_store [--data-dir DIR] recover [--accept-loss]
    python -m gallery_store [--data-dir DIR] stats
    python -m gallery_store [--data-dir DIR] setup-code

``check``, ``backup`` and ``stats`` are safe while the app runs: they copy the store
files without any lock (files are replaced, never changed in place; each is checked
against its checksum) and work on the copy, so the app never waits for them.

With ``KINDRED_DATABASE_URL`` set, the records are in PostgreSQL: ``check`` and ``stats``
read the database as it is (changing nothing), and backups use PostgreSQL's own tools.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from .backups import (
    ArchiveDamaged,
    read_manifest,
    restore_archive,
    restore_images,
    write_archive,
)
from .config import StudioConfig, config_from_env, default_data_dir
from .durable import TEMP_SUFFIX
from .errors import StoreCorrupt, StoreUnavailable, StudioError
from .media import Media, is_stored_name, open_media
from .records import RecordStore
from .storage import SCHEMA_VERSION, Store

if TYPE_CHECKING:
    from .pgstore import PgStore

__all__ = ["main"]

MEDIA_FIELDS = ("full_name", "thumb_name", "blur_name")
LISTED = 10  # problems listed one by one before "... and N more"


class CommandFailed(Exception):
    """A command could not do its job; the message says why and what to do."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


# -- reading a running studio's files safely ------------------------------------------------------


def has_store(data_dir: Path) -> bool:
    """Say whether ``data_dir`` holds any store file."""
    root = data_dir / "store"
    return root.is_dir() and any(p.is_file() for p in root.rglob("*"))


def require_store(data_dir: Path) -> None:
    if not (data_dir / "store" / "meta.json").exists() and not has_store(data_dir):
        raise CommandFailed(
            f"There is no studio data in {data_dir}. Check --data-dir or KINDRED_DATA_DIR."
        )


@contextlib.contextmanager
def quiet_store_logs() -> Iterator[None]:
    """Keep the store's own log lines (about the private copy) out of the report."""
    logger = logging.getLogger("gallery_store")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


@dataclass
class StagedStore:
    """A private copy of the store, opened: what the app would see if it started now."""

    store: Store | None
    damage: str | None = None
    notes: list[str] = field(default_factory=list)
    repairs: list[str] = field(default_factory=list)  # damage opening would repair


def copy_store_files(data_dir: Path, staging: Path, attempts: int = 20) -> None:
    """Copy a live store without any lock: files are replaced, never changed in place.

    The copy holds meta.json, the shard files it lists and the commit log. Each shard is
    checked against meta.json's checksums; if the app wrote a checkpoint meanwhile, the
    copy is taken again. The log is append-only: a line still being written is left out.
    """
    source = data_dir / "store"
    for _attempt in range(attempts):
        shutil.rmtree(staging / "store", ignore_errors=True)
        (staging / "store").mkdir(parents=True)
        meta_before = _read_or_none(source / "meta.json")
        for path in sorted(source.rglob("*")):
            if not path.is_file() or path.name.endswith(TEMP_SUFFIX):
                continue
            data = _read_or_none(path)
            if data is None:
                continue
            target = staging / "store" / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        if _read_or_none(source / "meta.json") == meta_before:
            return
    # The app checkpoints rarely; if it kept changing, the last copy is still checked at open.


def _read_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        return None


@contextlib.contextmanager
def staged_store(data_dir: Path, *, accept_loss: bool = False) -> Iterator[StagedStore]:
    """Copy the store files (no lock: the app is never held up), then open the copy."""
    from .backups import RollingBackups

    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="kindred-canvas-") as temp:
        staging = Path(temp)
        copy_store_files(data_dir, staging)
        rolling = RollingBackups(data_dir, keep=10**6, interval_minutes=60)
        store = Store(staging, backups=rolling.copies, backup_positions=rolling.positions)
        damage = None
        try:
            with quiet_store_logs():
                store.open(_collection_names(), accept_loss=accept_loss)
        except (StoreCorrupt, StoreUnavailable) as exc:  # damaged, or from a newer version
            damage = exc.message
        if damage is not None:
            yield StagedStore(None, damage, notes)
            return
        try:
            notes.extend(f"opening would: {note}" for note in store.recovery_notes)
            repairs = [n for n in store.recovery_notes if "never confirmed" not in n]
            yield StagedStore(store, None, notes, repairs)
        finally:
            store.close()


def _collection_names() -> list[str]:
    from .studio import COLLECTIONS

    return list(COLLECTIONS)


# -- small helpers for reports --------------------------------------------------------------------


def size_text(size: int) -> str:
    """Return a byte count for people (``1.2 MB``)."""
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"  # pragma: no cover


def age_text(path: Path) -> str:
    """Return how long ago a file was written."""
    seconds = max(0, int(datetime.now(UTC).timestamp() - path.stat().st_mtime))
    if seconds < 120:
        return f"{seconds} seconds ago"
    if seconds < 7200:
        return f"{seconds // 60} minutes ago"
    if seconds < 172800:
        return f"{seconds // 3600} hours ago"
    return f"{seconds // 86400} days ago"


def rolling_backups(data_dir: Path) -> list[Path]:
    folder = data_dir / "backups"
    return sorted(folder.glob("store-*.zip"), reverse=True) if folder.is_dir() else []


def studio_archives(data_dir: Path) -> list[Path]:
    folder = data_dir / "backups"
    return sorted(folder.glob("studio-*.zip"), reverse=True) if folder.is_dir() else []


def listed(lines: list[str]) -> list[str]:
    if len(lines) <= LISTED:
        return lines
    return [*lines[:LISTED], f"... and {len(lines) - LISTED} more"]


# -- check ----------------------------------------------------------------------------------------


def studio_media(data_dir: Path) -> Media:
    """Return where this deployment keeps its images (``KINDRED_MEDIA_URL``), as the app does."""
    try:
        return open_media(os.environ.get("KINDRED_MEDIA_URL", "").strip(), data_dir)
    except ValueError as exc:
        raise CommandFailed(str(exc)) from exc


def image_problems(
    store: RecordStore, media: Media, stored: set[str] | None = None
) -> tuple[list[str], int, set[str]]:
    """Return missing-image problems, the number of artworks and the names they use.

    ``stored`` is every name the images hold (listed once, not asked for image by image).
    """
    if stored is None:
        stored = media.all_names()
    problems: list[str] = []
    used: set[str] = set()
    artworks = list(store.collection("artworks").all())
    for artwork in artworks:
        for key in MEDIA_FIELDS:
            name = artwork.get(key)
            if not name:
                continue
            used.add(name)
            if not is_stored_name(name):
                problems.append(
                    f"artwork {artwork['id']} names an image file we never write: {name}"
                )
            elif name not in stored:
                problems.append(
                    f"artwork {artwork['id']}: image file {media.label(name)} is missing"
                )
    return problems, len(artworks), used


def damaged_images(store: RecordStore, media: Media, stored: set[str] | None = None) -> list[str]:
    """Return a problem for each artwork file that is present but damaged.

    A file is checked against the digest kept when it was saved; an older record without
    digests needs a non-empty file that decodes as an image. Missing files are reported by
    ``image_problems``.
    """
    if stored is None:
        stored = media.all_names()
    problems: list[str] = []
    for artwork in store.collection("artworks").all():
        digests = artwork.get("digests") or {}
        for key in MEDIA_FIELDS:
            name = artwork.get(key)
            if not name or name not in stored:
                continue
            damage = media.damage(name, digests.get(name))
            if damage:
                problems.append(
                    f"artwork {artwork['id']}: image file {media.label(name)}: {damage}"
                )
    return problems


def confirmed(
    data_dir: Path, media: Media, missing: list[str], damaged: list[str]
) -> tuple[list[str], list[str]]:
    """Keep the image problems a later copy of the store still shows.

    The store was copied a moment ago but the images are live: an artwork deleted since
    took its files with it. A later copy no longer holds it, so only real problems stay.
    """
    with staged_store(data_dir) as later:
        if later.store is None:
            return missing, damaged
        still_missing = set(image_problems(later.store, media)[0])
        still_damaged = set(damaged_images(later.store, media))
    return [p for p in missing if p in still_missing], [p for p in damaged if p in still_damaged]


def leftover_warnings(data_dir: Path, store: RecordStore, media: Media) -> list[str]:
    """Describe what the app's sweeper would remove, one warning per kind (removes nothing)."""
    from .sweeper import WHY, survey

    try:
        config = config_from_env()
    except ValueError:  # a malformed KINDRED_* setting: judge sessions by the defaults
        config = StudioConfig()
    report = survey(data_dir, store, config, datetime.now(UTC), media)
    return [
        f"{count} {kind}"
        + (f" ({size_text(report.sizes[kind])})" if report.sizes[kind] else "")
        + f": {WHY[kind]}; the app clears them away at its next hourly sweep"
        for kind, count in report.counts.items()
    ]


# -- records in PostgreSQL ------------------------------------------------------------------------

PG_BACKUPS = (
    "This studio keeps its records in PostgreSQL (KINDRED_DATABASE_URL), so {what} with "
    "PostgreSQL's own tools: pg_dump / pg_restore, or a base backup with WAL archiving "
    "(see the README's PostgreSQL section). Back up the data folder's images and keys with it."
)


def database_url() -> str:
    """Return KINDRED_DATABASE_URL ('' when the records are in the data folder)."""
    try:
        return config_from_env().database_url
    except ValueError as error:
        raise CommandFailed(str(error), code=2) from error


@contextlib.contextmanager
def database(url: str) -> Iterator[PgStore]:
    """Open the studio's database to look at it: no migration, no table or index made."""
    from .pgstore import PgStore
    from .studio import COLLECTIONS, UNIQUE

    store = PgStore(url, pool_size=2, look_only=True)
    with quiet_store_logs():
        store.open(COLLECTIONS)
    try:
        for name, collection in store.collections().items():
            for index, key in COLLECTIONS[name].items():
                collection.add_index(index, key, unique=UNIQUE.get((name, index)))
        yield store
    finally:
        store.close()


def check_database(data_dir: Path, url: str) -> int:
    from .pgschema import SCHEMA_VERSION as PG_SCHEMA
    from .pgstore import redacted

    print(f"Checking the studio in PostgreSQL ({redacted(url)}) and the data folder {data_dir}")
    media = studio_media(data_dir)
    with database(url) as store:
        version = store.schema_version()
        if version > PG_SCHEMA:
            raise CommandFailed(
                f"The database was written by a newer Kindred Canvas (schema {version}; this "
                f"version knows {PG_SCHEMA}). Please upgrade the app."
            )
        warnings = [f"the app makes {what} at its next start" for what in store.missing]
        if version < PG_SCHEMA:
            warnings.append(
                f"schema {version}: the app migrates it to {PG_SCHEMA} at its next start"
            )
        problems, index_warnings = store.verify() if version == PG_SCHEMA else ([], [])
        warnings.extend(index_warnings)
        collections = store.collections()
        records = sum(len(c) for c in collections.values())
        print(
            f"  database: schema {version}, {records} records in {len(collections)} collections"
            + ("" if problems or version != PG_SCHEMA else ", every index key matches its record")
        )
        recoveries = (
            list(store.collection("recoveries").all())[-LISTED:]
            if "recoveries" in collections
            else []
        )
        for entry in recoveries:
            print(f"  earlier recovery ({entry['at'][:16].replace('T', ' ')}): {entry['note']}")
        if "artworks" in collections:
            missing, artworks, used = image_problems(store, media)
            problems.extend(missing)
            problems.extend(damaged_images(store, media))
            print(
                f"  images: {len(media.all_names())} files; {artworks} artworks use {len(used)}"
                + ("" if missing else ", all present")
            )
            warnings.extend(leftover_warnings(data_dir, store, media))
    print("  backups: the records are backed up with PostgreSQL's tools (pg_dump, or WAL)")
    for warning in warnings:
        print(f"  warning: {warning}")
    for problem in listed(problems):
        print(f"  problem: {problem}")
    if problems:
        print(f"NOT healthy: {len(problems)} problem{'s' if len(problems) != 1 else ''} found.")
        return 1
    print("healthy")
    return 0


def stats_database(data_dir: Path, url: str) -> int:
    from .pgstore import redacted

    with database(url) as store:
        sizes = store.sizes()
        rows = [(name, len(c), sizes[name]) for name, c in store.collections().items()]
        keys = store.keys_size()
        version = store.schema_version()
    width = max(len("collection"), *(len(name) for name, _, _ in rows))
    print(f"Studio records in PostgreSQL ({redacted(url)}), schema {version}")
    print(f"  {'collection':<{width}}  {'records':>9}  {'size':>9}")
    for name, records, size in rows:
        print(f"  {name:<{width}}  {records:>9,}  {size_text(size):>9}")
    total = sum(size for _, _, size in rows) + keys
    print(f"  {'index keys':<{width}}  {'':>9}  {size_text(keys):>9}")
    print(f"  {'total':<{width}}  {sum(r for _, r, _ in rows):>9,}  {size_text(total):>9}")
    media = studio_media(data_dir)
    names = media.all_names()
    print(f"images: {len(names)} files, {size_text(sum(media.size(n) for n in names))}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    data_dir: Path = args.data_dir
    url = database_url()
    if url:
        return check_database(data_dir, url)
    require_store(data_dir)
    print(f"Checking the studio data in {data_dir}")
    problems: list[str] = []
    warnings: list[str] = []
    media = studio_media(data_dir)
    with staged_store(data_dir) as staged:
        warnings.extend(staged.notes)
        if staged.store is None:
            problems.append(f"store: {staged.damage}")
        else:
            store = staged.store
            problems.extend(f"damaged, repairable: {note}" for note in staged.repairs)
            collections = store.collections()
            records = sum(len(c) for c in collections.values())
            shards = sum(len(c.shards) for c in collections.values())
            print(
                f"  store: schema {store.schema_version()}, {records} records in "
                f"{shards} data files, every file matches its checksum"
                if not staged.notes
                else f"  store: schema {store.schema_version()}, {records} records in "
                f"{shards} data files"
            )
            recoveries = list(store.collection("recoveries").all())[-LISTED:]
            for entry in recoveries:
                print(f"  earlier recovery ({entry['at'][:16].replace('T', ' ')}): {entry['note']}")
            try:
                stored_names = media.all_names()
            except StudioError as exc:
                stored_names = None
                problems.append(
                    f"images: {media.where()} can't be reached ({exc.__cause__ or exc.message})"
                )
            if stored_names is not None:
                missing, artworks, used = image_problems(store, media, stored_names)
                damaged = damaged_images(store, media, stored_names)
                if missing or damaged:
                    missing, damaged = confirmed(data_dir, media, missing, damaged)
                problems.extend(missing)
                problems.extend(damaged)
                place = f" in {media.where()}" if media.shared else ""
                print(
                    f"  images: {len(stored_names)} files{place}; {artworks} artworks use "
                    f"{len(used)}" + ("" if missing else ", all present")
                )
                warnings.extend(leftover_warnings(data_dir, store, media))
    backups = rolling_backups(data_dir)
    if not backups:
        warnings.append("there is no rolling backup yet; the app writes one within the hour")
    else:
        newest = backups[0]
        try:
            read_manifest(newest)
            verdict = "verified"
        except ArchiveDamaged:
            verdict = "DAMAGED"
            warnings.append(
                f"the newest rolling backup {newest.name} is damaged; an older one would be used"
            )
        print(
            f"  rolling backups: {len(backups)}, newest {newest.name} "
            f"({age_text(newest)}, {verdict})"
        )
    for warning in warnings:
        print(f"  warning: {warning}")
    for problem in listed(problems):
        print(f"  problem: {problem}")
    if problems:
        print(
            f"NOT healthy: {len(problems)} problem{'s' if len(problems) != 1 else ''} found. "
            "A damaged store file is rebuilt when the app opens, from a rolling backup and "
            "the commit log, if nothing would be lost; `python -m gallery_store recover` says "
            "what can be done otherwise. Or restore an archive into an empty folder with "
            "`python -m gallery_store restore ARCHIVE`."
        )
        return 1
    print("healthy")
    return 0


# -- backup ---------------------------------------------------------------------------------------


def default_archive_path(data_dir: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    candidate = data_dir / "backups" / f"studio-{stamp}.zip"
    number = 2
    while candidate.exists():
        candidate = data_dir / "backups" / f"studio-{stamp}-{number}.zip"
        number += 1
    return candidate


def cmd_backup(args: argparse.Namespace) -> int:
    data_dir: Path = args.data_dir
    if database_url():
        raise CommandFailed(PG_BACKUPS.format(what="back it up"))
    require_store(data_dir)
    destination = Path(args.output).expanduser() if args.output else default_archive_path(data_dir)
    if destination.exists():
        raise CommandFailed(f"{destination} already exists; choose another --output name.")
    media = studio_media(data_dir)
    with staged_store(data_dir) as staged:
        if staged.store is None:
            raise CommandFailed(
                f"The store is damaged ({staged.damage}), so no backup was written. "
                "Run `python -m gallery_store check` for details."
            )
        store = staged.store
        staging = store.data_dir
        store.checkpoint(force=True)  # in the private copy: the archive needs no commit log
        store_files = store.store_files()
        # The people's vault secrets, without which nobody's private notes open again. The
        # rolling backups leave them out, so deleting an account shreds its notes there.
        keys: list[Path] = []
        keys_folder = data_dir / "keys"
        for source in sorted(keys_folder.glob("*.key")) if keys_folder.exists() else []:
            link = staging / "keys" / source.name
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(source.resolve())
            keys.append(link)
        # Images are write-once, so they are streamed from where they live (the data folder
        # or the object store), one at a time, after the store files.
        try:
            image_names = sorted(media.all_names())
            manifest = write_archive(
                destination,
                staging,
                store_files + keys,
                schema_version=store.schema_version(),
                includes_images=True,
                images=media,
                image_names=image_names,
            )
        except StudioError as exc:
            raise CommandFailed(
                f"The images in {media.where()} couldn't be read ({exc.message}), so no backup "
                "was written."
            ) from exc
    image_count = sum(1 for name in manifest.files if name.startswith("images/"))
    key_count = sum(1 for name in manifest.files if name.startswith("keys/"))
    print(
        f"Wrote {destination} ({len(manifest.files)} files: "
        f"{len(manifest.files) - image_count - key_count} store files, {image_count} images, "
        f"{key_count} people's keys). It opens private notes: keep it as safe as the server."
    )
    return 0


# -- restore --------------------------------------------------------------------------------------


@contextlib.contextmanager
def folder_lock(data_dir: Path) -> Iterator[None]:
    """Hold the app's process lock so no server starts on the folder mid-restore."""
    try:
        fd = os.open(data_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise CommandFailed(
            f"The lock file {data_dir / '.lock'} can't be opened ({exc.strerror}). If it is a "
            "folder or belongs to another user, move it aside and try again."
        ) from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise CommandFailed(
                f"A Kindred Canvas server is using {data_dir}. Stop it before restoring."
            ) from exc
        yield
    finally:
        os.close(fd)


def cmd_restore(args: argparse.Namespace) -> int:
    data_dir: Path = args.data_dir
    if database_url():
        raise CommandFailed(PG_BACKUPS.format(what="restore it"))
    archive = Path(args.archive).expanduser()
    if not archive.is_file():
        raise CommandFailed(f"There is no archive at {archive}.")
    if has_store(data_dir):
        raise CommandFailed(
            f"{data_dir} already holds a studio, so nothing was restored. Restore into an "
            "empty folder (--data-dir NEW_FOLDER), or move this one aside first."
        )
    try:
        manifest = read_manifest(archive)  # every file checked before anything is written
    except ArchiveDamaged as exc:
        raise CommandFailed(f"{exc.message} Try an older archive.") from exc
    if manifest.schema_version > SCHEMA_VERSION:
        raise CommandFailed(
            f"{archive.name} was written by a newer Kindred Canvas (schema "
            f"{manifest.schema_version}); upgrade the app before restoring it."
        )
    if not any(name.startswith("store/") for name in manifest.files):
        raise CommandFailed(f"{archive.name} holds no store files, so nothing was restored.")
    media = studio_media(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    with folder_lock(data_dir):
        if has_store(data_dir):
            raise CommandFailed(f"{data_dir} gained a studio meanwhile; nothing was restored.")
        try:
            if media.shared:
                # Images first: then no restored record ever names an image not yet back.
                restore_images(archive, manifest, media)
            restore_archive(archive, data_dir, with_images=not media.shared)
        except ArchiveDamaged as exc:
            raise CommandFailed(f"{exc.message} Try an older archive.") from exc
        except StudioError as exc:
            raise CommandFailed(
                f"The images couldn't be written to {media.where()} ({exc.message}), so the "
                "store was not restored. Try again once it can be reached."
            ) from exc
    image_count = sum(1 for name in manifest.files if name.startswith("images/"))
    place = media.where() if media.shared else str(data_dir)
    print(
        f"Restored {len(manifest.files)} files ({len(manifest.files) - image_count} store files, "
        f"{image_count} images) from {archive.name} (made {manifest.created_at or 'unknown'}) "
        f"into {data_dir}" + (f", the images into {place}." if media.shared else ".")
    )
    if not manifest.includes_images:
        print("This archive holds no images: artworks will show as missing until they are added.")
    print("Next: run `python -m gallery_store check`, then start the app.")
    return 0


# -- stats ----------------------------------------------------------------------------------------


def cmd_stats(args: argparse.Namespace) -> int:
    data_dir: Path = args.data_dir
    url = database_url()
    if url:
        return stats_database(data_dir, url)
    require_store(data_dir)
    with staged_store(data_dir) as staged:
        if staged.store is None:
            raise CommandFailed(
                f"The store is damaged ({staged.damage}). Run `python -m gallery_store check`."
            )
        rows = [
            (name, len(collection), len(collection.shards))
            for name, collection in staged.store.collections().items()
        ]
    width = max(len("collection"), *(len(name) for name, _, _ in rows))
    print(f"Studio data in {data_dir}")
    print(f"  {'collection':<{width}}  {'records':>9}  {'files':>5}")
    for name, records, shards in rows:
        print(f"  {name:<{width}}  {records:>9,}  {shards:>5}")
    total_records = sum(r for _, r, _ in rows)
    total_shards = sum(s for _, _, s in rows)
    print(f"  {'total':<{width}}  {total_records:>9,}  {total_shards:>5}")
    store_files = [
        p for p in (data_dir / "store").rglob("*") if p.is_file() and p.suffix == ".json"
    ]
    print(
        f"store: {size_text(sum(p.stat().st_size for p in store_files))} "
        f"in {len(store_files)} files"
    )
    media = studio_media(data_dir)
    try:
        images = media.entries()
        print(f"images: {len(images)} files, {size_text(sum(e.size for e in images))}")
    except StudioError:
        print(f"images: {media.where()} can't be reached")
    rolling = rolling_backups(data_dir)
    archives = studio_archives(data_dir)
    newest = f", newest {rolling[0].name} ({age_text(rolling[0])})" if rolling else ""
    print(
        f"backups: {len(rolling)} rolling ({size_text(sum(p.stat().st_size for p in rolling))}"
        f"{newest}); {len(archives)} whole-studio archives "
        f"({size_text(sum(p.stat().st_size for p in archives))})"
    )
    return 0


# -- recover --------------------------------------------------------------------------------------


def cmd_recover(args: argparse.Namespace) -> int:
    data_dir: Path = args.data_dir
    from .studio import Studio

    if database_url():
        raise CommandFailed(PG_BACKUPS.format(what="a damaged database is recovered"))

    if not args.accept_loss:
        with staged_store(data_dir) as staged:
            if staged.store is not None:
                for note in staged.notes:
                    print(f"  {note}")
                print("The studio opens without losing anything; there is nothing to recover.")
                return 0
            print(f"As it is, the app refuses to open: {staged.damage}")
        with staged_store(data_dir, accept_loss=True) as staged:
            if staged.store is None:
                raise CommandFailed(f"Even accepting a loss, it can't be opened: {staged.damage}")
            print("Accepting the loss would:")
            for note in staged.store.recovery_notes:
                print(f"  - {note}")
        print("Nothing was changed. To go ahead: python -m gallery_store recover --accept-loss")
        return 1
    try:
        config = config_from_env()
    except ValueError as error:
        raise CommandFailed(str(error), code=2) from error
    try:
        studio = Studio(data_dir, config, accept_loss=True)
    except (StoreUnavailable, StoreCorrupt) as error:
        raise CommandFailed(error.message) from error
    try:
        for note in studio.store.recovery_notes:
            print(f"  - {note}")
        print(
            "Recovered. Damaged files are kept in quarantine/. Therapists see what happened "
            "on the Care page; `check` lists it too."
        )
    finally:
        studio.close()
    return 0


# -- setup-code -----------------------------------------------------------------------------------


NO_CODE = (
    "This studio already has a therapist account, so there is no setup code. "
    "A therapist can sign in and invite others."
)


def cmd_setup_code(args: argparse.Namespace) -> int:
    data_dir: Path = args.data_dir
    from .studio import Studio

    try:
        config = config_from_env()
    except ValueError as error:  # a malformed KINDRED_* setting
        raise CommandFailed(str(error), code=2) from error
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        # Not open_studio: this command must never share or close another open studio.
        studio = Studio(data_dir, config)
    except StoreUnavailable:
        return setup_code_while_running(data_dir)
    try:
        code = studio.accounts.setup_code()
    finally:
        studio.close()
    if code is None:
        raise CommandFailed(NO_CODE)
    print(code)
    return 0


def setup_code_while_running(data_dir: Path) -> int:
    """Read the code the running app made, from a copy of its files."""
    require_store(data_dir)
    with staged_store(data_dir) as staged:
        if staged.store is None:
            raise CommandFailed(f"The store is damaged ({staged.damage}).")
        users = staged.store.collection("users").all()
        if any(user.get("role") == "therapist" for user in users):
            raise CommandFailed(NO_CODE)
        record = staged.store.collection("setup").first(kind="setup-code")
    if record is None:
        raise CommandFailed(
            "The running app has not made a setup code yet. Open the app in a browser once, "
            "then run this again."
        )
    print(record["code"])
    return 0


# -- entry point ----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gallery_store",
        description="Look after a Kindred Canvas data folder.",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="the data folder (default: $KINDRED_DATA_DIR, or ./data beside the app)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    check = commands.add_parser("check", help="check every file; prints 'healthy' or the problem")
    check.set_defaults(handler=cmd_check)
    backup = commands.add_parser("backup", help="write a whole-studio archive (store + images)")
    backup.add_argument("--output", help="archive file (default: DATA/backups/studio-STAMP.zip)")
    backup.set_defaults(handler=cmd_backup)
    restore = commands.add_parser("restore", help="restore an archive into an empty data folder")
    restore.add_argument("archive", help="a .zip written by `backup` or a rolling backup")
    restore.set_defaults(handler=cmd_restore)
    recover = commands.add_parser(
        "recover", help="say how a damaged store can be opened, and (--accept-loss) do it"
    )
    recover.add_argument(
        "--accept-loss",
        action="store_true",
        help="open with what can be saved, accepting the losses `recover` lists",
    )
    recover.set_defaults(handler=cmd_recover)
    stats = commands.add_parser("stats", help="count records, files, images and backups")
    stats.set_defaults(handler=cmd_stats)
    setup = commands.add_parser("setup-code", help="show the one-time setup code")
    setup.set_defaults(handler=cmd_setup_code)
    demo = commands.add_parser("demo", help="fill an EMPTY folder with a demo studio")
    demo.set_defaults(handler=cmd_demo)
    return parser


def cmd_demo(args: argparse.Namespace) -> int:
    """Seed a demo studio into an empty folder and say how to sign in."""
    from .demo import seed_demo

    made = seed_demo(args.data_dir)
    print(f"A demo studio is ready in {made.data_dir}.")
    print(f"Sign in as the therapist: {made.therapist} / {made.password}")
    print(f"or as a participant: {', '.join(made.participants)} (same password).")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run one command; return the exit code (0 ok, 1 failed, 2 misused)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help, or a usage error argparse already explained
        return stop.code if isinstance(stop.code, int) else 2
    try:
        if args.data_dir is None:
            args.data_dir = default_data_dir()
        args.data_dir = Path(args.data_dir).expanduser()
        return args.handler(args)
    except CommandFailed as failure:
        print(failure, file=sys.stderr)
        return failure.code
    except StudioError as error:
        print(error.message, file=sys.stderr)
        return 1
    except OSError as error:
        where = f" ({error.filename})" if error.filename else ""
        print(f"Could not read or write a file{where}: {error.strerror or error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("Stopped.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
