"""The Studio: one per data folder and process, holding the store and every service."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from .backups import RollingBackups
from .config import StudioConfig
from .durable import make_folder, save_failure
from .errors import Conflict, PermissionDenied, StoreUnavailable, StudioError
from .media import open_media
from .policy import shown_to
from .records import RecordStore, Unique
from .storage import Store
from .sweeper import Sweeper

__all__ = ["COLLECTIONS", "UNIQUE", "Studio", "open_studio"]

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

# How much lower than people's requests the background backup thread runs (nice value).
BACKUP_NICENESS = 10

# Every collection and the secondary indexes services look records up by. PostgreSQL keeps each
# index's keys in the database, built once by name: a changed key function needs a new index name
# (or a migration that deletes the index's row in record_indexes, so it is built again).
COLLECTIONS: dict[str, dict[str, Callable[[dict], object]]] = {
    "users": {
        "username": lambda r: r["username_key"],
        "first_therapist": lambda r: "first" if r.get("first_therapist") else None,
    },
    "sessions": {"token": lambda r: r["token_hash"], "user": lambda r: r["user_id"]},
    "circles": {},
    "memberships": {"user": lambda r: r["user_id"], "circle": lambda r: r["circle_id"]},
    "invites": {"code": lambda r: r["code_hash"], "circle": lambda r: r["circle_id"]},
    "prompts": {"slug": lambda r: r["slug"]},
    "schedules": {"circle": lambda r: r["circle_id"]},
    "prompt_draws": {"user": lambda r: r["user_id"]},
    "artworks": {
        "circle": lambda r: r["circle_id"],
        "user": lambda r: r["user_id"],
        "prompt": lambda r: r.get("prompt_id"),
        # The gallery's pages: artworks by circle (and prompt) under who they show to.
        "shown": lambda r: [f"{r['circle_id']} {a}" for a in shown_to(r)],
        "shown_prompt": lambda r: (
            [f"{r['circle_id']} {r['prompt_id']} {a}" for a in shown_to(r)]
            if r.get("prompt_id")
            else None
        ),
        "mine": lambda r: (
            f"{r['circle_id']} {r['user_id']}" if r.get("status") != "removed" else None
        ),
    },
    "comments": {"artwork": lambda r: r["artwork_id"], "user": lambda r: r["user_id"]},
    "reactions": {"artwork": lambda r: r["artwork_id"], "user": lambda r: r["user_id"]},
    "reflections": {"user": lambda r: r["user_id"]},
    "moods": {"user": lambda r: r["user_id"], "circle": lambda r: r.get("circle_id")},
    "flags": {"circle": lambda r: r["circle_id"], "subject": lambda r: r["subject_id"]},
    "audit": {"circle": lambda r: r.get("circle_id")},
    "preferences": {"user": lambda r: r["user_id"]},
    "drafts": {"user": lambda r: r["user_id"]},
    "notices": {"user": lambda r: r["user_id"]},
    "reads": {"subject": lambda r: r["subject_id"]},
    "setup": {},
    # Urgent alerts waiting to go out (or sent), and where each therapist wants them.
    "outbox": {
        "status": lambda r: r["status"],
        "flag": lambda r: r["flag_id"],
        "user": lambda r: r.get("user_id"),
    },
    "alert_contacts": {"user": lambda r: r["user_id"]},
    # Noised insight figures, each drawn once and kept (see insights.py).
    "insight_releases": {"circle": lambda r: r["circle_id"]},
    # What opening the store had to repair (or accept losing), newest last.
    "recoveries": {},
}


# Indexes where a key belongs to one record at most: the store refuses a second one, so
# a check made before the write can never be outrun (two replicas, one username).
UNIQUE: dict[tuple[str, str], Unique] = {
    ("users", "username"): Unique(Conflict, "That username is taken. Please choose another."),
    ("users", "first_therapist"): Unique(
        PermissionDenied, "This studio already has a therapist account."
    ),
    ("invites", "code"): Unique(
        Conflict, "That invite code is in use already; please make another."
    ),
}


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _link_into(path: Path, data_dir: Path, staging: Path) -> Path:
    """Hard-link a store file into a staging folder (copy it where links are refused)."""
    target = staging / path.relative_to(data_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(path, target)
    except OSError:
        shutil.copy2(path, target)
    return target


class Studio:
    """Everything a person can do, as services that each take the acting user first."""

    def __init__(
        self,
        data_dir: Path,
        config: StudioConfig | None = None,
        clock: Clock | None = None,
        *,
        accept_loss: bool = False,
    ) -> None:
        self.data_dir = Path(data_dir)
        self._accept_loss = accept_loss
        self.config = config or StudioConfig()
        self.clock: Clock = clock or _utc_now
        self.backups = RollingBackups(
            self.data_dir, self.config.backups_kept, self.config.backup_interval_minutes
        )
        self.media = open_media(self.config.media_url, self.data_dir)
        self._last_backup_check = 0.0
        self.sweeper: Sweeper | None = None
        # Until the sweep at open has run, commits start no backup: that sweep removes every
        # backup staging folder it finds, and would take a new one's files away mid-copy.
        self._opened = False
        self.store = self._open_store()
        self.store.on_commit = self._after_commit
        for name, indexes in COLLECTIONS.items():
            collection = self.store.collection(name)
            for index_name, key in indexes.items():
                collection.add_index(index_name, key, unique=UNIQUE.get((name, index_name)))
        self._closed = False
        self._backup_lock = threading.Lock()
        self._backup_thread: threading.Thread | None = None
        self._sweep_thread: threading.Thread | None = None
        self._backup_thread_lock = threading.Lock()
        self._record_recovery()
        self._build_services()
        # Before anything else can happen: finish deletions a stop interrupted, then clear
        # away what it left behind while nothing else can be writing in the folder.
        self.exports.resume_erasures()
        self.sweeper = Sweeper(self)
        self.sweeper.sweep_at_open()
        self._opened = True
        self.take_backup_if_due()
        if self.config.alert_worker and self.alerts.configured:
            # Also sends what was still waiting when the app last stopped.
            self.alerts.start_worker()

    def _open_store(self) -> RecordStore:
        """Open the store: PostgreSQL when configured, else the data folder's own.

        The data folder's store repairs a damaged file from a backup and the commit log.
        """
        if self.config.database_url:
            from .pgstore import PgStore

            records = PgStore(self.config.database_url, pool_size=self.config.database_pool_size)
            records.open(COLLECTIONS)
            return records
        store = Store(
            self.data_dir,
            shard_capacity=self.config.shard_capacity,
            backups=self.backups.copies,
            backup_positions=self.backups.positions,
        )
        store.open(COLLECTIONS, accept_loss=self._accept_loss)
        return store

    def _record_recovery(self) -> None:
        """Keep what opening repaired, so therapists see it in the app and `check` lists it."""
        notes = self.store.recovery_notes
        if not notes:
            return
        for note in notes:
            log.warning("store recovery: %s", note)
        try:
            with self.store.transaction():
                for note in notes:
                    self.store.collection("recoveries").insert(
                        {"at": self.now().isoformat(), "note": note}
                    )
        except StudioError:
            log.exception("could not record what recovery did; it is in this log")

    def _build_services(self) -> None:
        from .accounts import Accounts
        from .alerts import Alerts
        from .artworks import Artworks
        from .circles import Circles
        from .comments import Comments, Reactions
        from .exports import Exports
        from .health import StoreHealth
        from .insights import Insights
        from .moderation import Moderation
        from .notices import Notices
        from .prompt_library import PromptLibrary
        from .reflections import Reflections
        from .support import SupportDesk

        self.support = SupportDesk(self)
        self.accounts = Accounts(self)
        self.circles = Circles(self)
        self.prompts = PromptLibrary(self)
        self.artworks = Artworks(self)
        self.comments = Comments(self)
        self.reactions = Reactions(self)
        self.reflections = Reflections(self)
        self.moderation = Moderation(self)
        self.insights = Insights(self)
        self.exports = Exports(self)
        self.alerts = Alerts(self)
        self.health = StoreHealth(self)
        self.notices = Notices(self)

    def now(self) -> datetime:
        """Return the studio's current time (UTC, aware)."""
        return self.clock()

    def _after_commit(self) -> None:
        if not self._opened:
            return
        self.take_backup_if_due()
        if self.sweeper is not None and self.sweeper.due():
            # The sweep walks the whole data folder: never on the request that committed.
            with self._backup_thread_lock:
                running = self._sweep_thread
                if self._closed or (running is not None and running.is_alive()):
                    return
                self._sweep_thread = threading.Thread(
                    target=self.sweeper.sweep_if_due, name="kindred-sweep", daemon=True
                )
                self._sweep_thread.start()

    def take_backup_if_due(self) -> None:
        """Start a rolling backup in the background when the last one is older than the interval.

        This runs after commits and at open: nobody waits for the backup. Only its first
        step (a checkpoint and a hard link per store file) holds the store lock.
        """
        if self.store.backend != "embedded":
            return  # PostgreSQL is backed up with its own tools (README: PostgreSQL)
        now = self.now()
        # Checking the folder on every commit would cost a directory listing per write.
        if now.timestamp() - self._last_backup_check < 60:
            return
        self._last_backup_check = now.timestamp()
        try:
            due = self.backups.due(now)
        except OSError:
            log.exception("could not look at the rolling backups; they will be tried again")
            return
        if not due:
            return
        with self._backup_thread_lock:
            running = self._backup_thread
            if self._closed or (running is not None and running.is_alive()):
                return
            self._backup_thread = threading.Thread(
                target=self._backup_in_background, args=(now,), name="kindred-backup", daemon=True
            )
            self._backup_thread.start()

    def _backup_in_background(self, now: datetime) -> None:
        # A lower priority for this thread only (Linux gives each thread its own nice value),
        # so compressing never competes with people's pages for the cores.
        with contextlib.suppress(OSError, AttributeError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKUP_NICENESS)
        try:
            self._take_backup(now)
        except (OSError, StudioError):
            # A commit already stands: failing here must not make it look lost.
            log.exception("the rolling backup failed; it will be tried again")

    def wait_for_maintenance(self, timeout: float | None = None) -> bool:
        """Wait for background backups and sweeps to finish; False if one still runs."""
        finished = self.wait_for_backup(timeout)
        sweeping = self._sweep_thread
        if sweeping is not None:
            sweeping.join(timeout)
            finished = finished and not sweeping.is_alive()
        return finished

    def wait_for_backup(self, timeout: float | None = None) -> bool:
        """Wait for a background rolling backup to finish; False if one is still running."""
        running = self._backup_thread
        if running is None:
            return True
        running.join(timeout)
        return not running.is_alive()

    def backup_now(self) -> Path:
        """Write a rolling backup at once and return its path (SaveFailed if it can't be)."""
        try:
            path = self._take_backup(self.now(), wait=True)
        except OSError as exc:
            # The half-written archive is already gone (write_archive removes it).
            log.error("a backup could not be written: %s", exc)
            raise save_failure(exc) from exc
        assert path is not None
        return path

    def _take_backup(self, now: datetime, *, wait: bool = False) -> Path | None:
        """Checkpoint and link the store files under the lock; compress them outside it."""
        store = self.store
        if not isinstance(store, Store):
            raise StoreUnavailable(
                "This studio keeps its records in PostgreSQL: back them up with pg_dump or a "
                "base backup and WAL archiving (see the README), and the data folder's images "
                "and keys with a file backup."
            )
        if not self._backup_lock.acquire(blocking=wait):
            return None  # one is being written already
        try:
            make_folder(self.backups.folder)
            staging = Path(tempfile.mkdtemp(dir=self.backups.folder, prefix=".snapshot-"))
            try:
                schema = store.schema_version()
                # Only the checkpoint holds the store lock; the links are made while commits
                # go on. Shard files are replaced, never changed in place, so the links stay
                # as they were at the checkpoint.
                with store.files_held() as held:
                    files = [_link_into(path, self.data_dir, staging) for path in held]
                return self.backups.take(files, schema, now, base=staging)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        finally:
            self._backup_lock.release()

    def close(self) -> None:
        """Release the data folder."""
        with _REGISTRY_LOCK:
            if self._closed:
                return
            self._closed = True
            # A backup half-way through its snapshot needs the store until it is done.
            self.wait_for_maintenance()
            self.alerts.close()
            self.store.close()
            _OPEN.pop(self.data_dir.resolve(), None)

    def __enter__(self) -> Studio:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_OPEN: dict[Path, Studio] = {}
_REGISTRY_LOCK = threading.Lock()


def open_studio(
    data_dir: str | Path,
    config: StudioConfig | None = None,
    clock: Clock | None = None,
) -> Studio:
    """Open (or return the already open) studio on a data folder, creating it if missing."""
    folder = Path(data_dir).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    key = folder.resolve()
    with _REGISTRY_LOCK:
        studio = _OPEN.get(key)
        if studio is None:
            studio = Studio(folder, config, clock)
            _OPEN[key] = studio
        return studio
