"""Deployment settings: limits, session lengths, backups and crisis resources.

Settings come from environment variables (``KINDRED_*``) so a clinic can tune a
deployment without touching code; tests build a ``StudioConfig`` directly.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

__all__ = ["ImageLimits", "StudioConfig", "config_from_env", "default_data_dir"]

MB = 1024 * 1024


@dataclass(frozen=True)
class ImageLimits:
    """Limits the image pipeline enforces on every upload."""

    max_bytes: int = 15 * MB
    max_pixels: int = 40_000_000
    full_edge: int = 2048
    thumb_edge: int = 480
    blur_edge: int = 480
    jpeg_quality: int = 85
    thumb_quality: int = 78


@dataclass(frozen=True)
class StudioConfig:
    """Everything a deployment may tune."""

    images: ImageLimits = field(default_factory=ImageLimits)
    session_idle_minutes: int = 60 * 24 * 3
    session_absolute_days: int = 30
    backups_kept: int = 10
    backup_interval_minutes: int = 60
    shard_capacity: int = 500
    crisis_resources_file: Path | None = None
    login_base_delay: float = 0.5
    login_max_delay: float = 300.0
    # argon2id cost; the defaults are RFC 9106's second profile (above OWASP's minimum).
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    argon2_parallelism: int = 4
    reset_code_hours: int = 48

    def with_overrides(self, **changes) -> StudioConfig:
        """Return a copy with the given settings changed."""
        return replace(self, **changes)


def default_data_dir() -> Path:
    """Return the data folder: ``KINDRED_DATA_DIR`` or ``./data`` beside the app."""
    configured = os.environ.get("KINDRED_DATA_DIR")
    if configured:
        return Path(configured).expanduser()
    return Path(__file__).resolve().parent.parent / "data"


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a whole number, not {raw!r}") from exc
    if value <= 0:
        raise ValueError(f"{name} must be above zero, not {value}")
    return value


def config_from_env() -> StudioConfig:
    """Build the configuration from ``KINDRED_*`` environment variables."""
    base = StudioConfig()
    images = replace(
        base.images,
        max_bytes=_env_int("KINDRED_MAX_UPLOAD_MB", base.images.max_bytes // MB) * MB,
        max_pixels=_env_int("KINDRED_MAX_MEGAPIXELS", base.images.max_pixels // 1_000_000)
        * 1_000_000,
    )
    resources = os.environ.get("KINDRED_CRISIS_RESOURCES")
    return replace(
        base,
        images=images,
        session_idle_minutes=_env_int("KINDRED_SESSION_IDLE_MINUTES", base.session_idle_minutes),
        session_absolute_days=_env_int("KINDRED_SESSION_MAX_DAYS", base.session_absolute_days),
        backups_kept=_env_int("KINDRED_BACKUPS_KEPT", base.backups_kept),
        backup_interval_minutes=_env_int(
            "KINDRED_BACKUP_INTERVAL_MINUTES", base.backup_interval_minutes
        ),
        crisis_resources_file=Path(resources).expanduser() if resources else None,
    )
