"""The Studio: one per data folder and process, holding the store and every service."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from .backups import RollingBackups
from .config import StudioConfig
from .durable import save_failure
from .errors import StoreCorrupt, StudioError
from .media import MediaStore
from .storage import SCHEMA_VERSION, Store, StoreFileError, describe_damage
from .sweeper import Sweeper

__all__ = ["COLLECTIONS", "Studio", "open_studio"]

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

# Every collection and the secondary indexes services look records up by.
COLLECTIONS: dict[str, dict[str, Callable[[dict], object]]] = {
    "users": {"username": lambda r: r["username_key"]},
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
}


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Studio:
    """Everything a person can do, as services that each take the acting user first."""

    def __init__(
        self,
        data_dir: Path,
        config: StudioConfig | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.config = config or StudioConfig()
        self.clock: Clock = clock or _utc_now
        self.backups = RollingBackups(
            self.data_dir, self.config.backups_kept, self.config.backup_interval_minutes
        )
        self.media = MediaStore(self.data_dir / "images")
        self._last_backup_check = 0.0
        self.sweeper: Sweeper | None = None
        self.store = self._open_store()
        self.store.on_commit = self._after_commit
        for name, indexes in COLLECTIONS.items():
            collection = self.store.collection(name)
            for index_name, key in indexes.items():
                collection.add_index(index_name, key)
        self._closed = False
        self._build_services()
        # Before anything else can happen: finish deletions a stop interrupted, then clear
        # away what it left behind while nothing else can be writing in the folder.
        self.exports.resume_erasures()
        self.sweeper = Sweeper(self)
        self.sweeper.sweep_at_open()
        self.take_backup_if_due()
        if self.config.alert_worker and self.alerts.configured:
            # Also sends what was still waiting when the app last stopped.
            self.alerts.start_worker()

    def _open_store(self) -> Store:
        store = self._new_store()
        try:
            store.open(COLLECTIONS)
            return store
        except StoreFileError as damage:
            restored = self.backups.restore_newest(str(damage))
            if restored is None:
                raise describe_damage(damage, self.data_dir) from damage
        store = self._new_store()
        try:
            store.open(COLLECTIONS)
        except StoreFileError as damage:
            raise StoreCorrupt(
                f"The newest backup could not be opened either ({damage.problem}). "
                "Restore an older archive with `python -m gallery_store restore`."
            ) from damage
        store.recovery_notes.append("restored from the newest good backup")
        return store

    def _new_store(self) -> Store:
        return Store(self.data_dir, shard_capacity=self.config.shard_capacity)

    def _build_services(self) -> None:
        from .accounts import Accounts
        from .alerts import Alerts
        from .artworks import Artworks
        from .circles import Circles
        from .comments import Comments, Reactions
        from .exports import Exports
        from .insights import Insights
        from .moderation import Moderation
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

    def now(self) -> datetime:
        """Return the studio's current time (UTC, aware)."""
        return self.clock()

    def _after_commit(self) -> None:
        self.take_backup_if_due()
        if self.sweeper is not None:
            self.sweeper.sweep_if_due()

    def take_backup_if_due(self) -> None:
        """Write a rolling backup when the last one is older than the interval."""
        now = self.now()
        # Checking the folder on every commit would cost a directory listing per write.
        if now.timestamp() - self._last_backup_check < 60:
            return
        self._last_backup_check = now.timestamp()
        with self.store.lock:
            try:
                if self.backups.due(now):
                    self.backups.take(self.store.store_files(), SCHEMA_VERSION, now)
            except (OSError, StudioError):
                # This runs after a commit: failing here would make a saved change look
                # lost (and share() would delete the files of a record that was kept).
                log.exception("the rolling backup failed; it will be tried again")

    def backup_now(self) -> Path:
        """Write a rolling backup at once and return its path (SaveFailed if it can't be)."""
        with self.store.lock:
            try:
                return self.backups.take(self.store.store_files(), SCHEMA_VERSION, self.now())
            except OSError as exc:
                # The half-written archive is already gone (write_archive removes it).
                log.error("a backup could not be written: %s", exc)
                raise save_failure(exc) from exc

    def close(self) -> None:
        """Release the data folder."""
        with _REGISTRY_LOCK:
            if self._closed:
                return
            self._closed = True
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
