"""Deployment settings: limits, session lengths, backups, images, crisis resources and alerts.

Settings come from environment variables (``KINDRED_*``) so a clinic can tune a
deployment without touching code; tests build a ``StudioConfig`` directly.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = [
    "ImageLimits",
    "SmtpSettings",
    "StudioConfig",
    "check_database_url",
    "config_from_env",
    "default_data_dir",
    "parse_smtp_url",
    "parse_trusted_proxies",
]

MB = 1024 * 1024


@dataclass(frozen=True)
class ImageLimits:
    """Limits the image pipeline enforces on every upload."""

    max_bytes: int = 15 * MB
    max_pixels: int = 40_000_000
    # Memory the decoder may need for one upload, estimated from its header before decoding;
    # keeps every accepted upload within about 100 MB of a server's idle memory.
    max_decode_bytes: int = 90 * MB
    full_edge: int = 2048
    thumb_edge: int = 480
    blur_edge: int = 480
    jpeg_quality: int = 85
    thumb_quality: int = 78


MIN_SECRET_LENGTH = 16
SMTP_SCHEMES = {"smtp": 25, "smtps": 465}
SMTP_OPTIONS = {"from", "starttls"}
YES = {"1", "true", "yes", "on"}
NO = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how urgent alert emails are sent."""

    host: str
    port: int
    sender: str
    username: str = ""
    password: str = field(default="", repr=False)
    implicit_tls: bool = False  # smtps://
    starttls: bool = False


def parse_smtp_url(url: str) -> SmtpSettings:
    """Read ``smtp[s]://[user[:pass]@]host[:port]?from=...&starttls=true`` (ValueError)."""
    name = "KINDRED_SMTP_URL"
    # Messages never repeat the URL: it may hold a password.
    parts = urlsplit(url.strip())
    if parts.scheme not in SMTP_SCHEMES:
        raise ValueError(f"{name} must start with smtp:// or smtps:// (for TLS from the start).")
    try:
        port = parts.port or SMTP_SCHEMES[parts.scheme]
    except ValueError as exc:
        raise ValueError(f"{name} has a port that isn't a number from 1 to 65535.") from exc
    if not parts.hostname:
        raise ValueError(f"{name} needs a mail server, like smtp://mail.clinic.org:587.")
    options = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(options) - SMTP_OPTIONS)
    if unknown:
        raise ValueError(f"{name} has options we don't know: {', '.join(unknown)}.")
    username = unquote(parts.username or "")
    sender = options.get("from", [""])[-1].strip() or (username if "@" in username else "")
    if not sender or "@" not in sender or any(c in sender for c in "\r\n<>, "):
        raise ValueError(f"{name} needs one sender address, like ?from=alerts@clinic.org.")
    starttls = options.get("starttls", [""])[-1].strip().lower()
    if starttls not in YES | NO:
        raise ValueError(f"{name} takes starttls=true or starttls=false.")
    if parts.scheme == "smtps" and starttls in YES:
        raise ValueError(f"{name}: smtps:// is TLS already; drop starttls=true.")
    return SmtpSettings(
        host=parts.hostname,
        port=port,
        sender=sender,
        username=username,
        password=unquote(parts.password or ""),
        implicit_tls=parts.scheme == "smtps",
        starttls=starttls in YES,
    )


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_trusted_proxies(value: str) -> tuple[Network, ...]:
    """Read ``KINDRED_TRUSTED_PROXIES``: IPs or CIDRs split by commas or spaces (ValueError)."""
    networks = []
    for item in value.replace(",", " ").split():
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError as exc:
            raise ValueError(
                f"KINDRED_TRUSTED_PROXIES has {item!r}, which isn't an IP address or a "
                "network like 10.0.0.0/8."
            ) from exc
    return tuple(networks)


def _check_web_url(name: str, url: str) -> None:
    """Refuse anything but an http(s) address with a host (ValueError naming the variable)."""
    # Messages never repeat the URL: a webhook address often carries a token.
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - reading it checks the port
    except ValueError as exc:
        raise ValueError(f"{name} has a port that isn't a number from 1 to 65535.") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{name} must be an http:// or https:// address with a host name.")


DATABASE_SCHEMES = ("postgresql", "postgres")


def check_database_url(url: str) -> None:
    """Refuse a ``KINDRED_DATABASE_URL`` that is not a postgresql:// address (ValueError)."""
    # Messages never repeat the URL: it may hold a password.
    parts = urlsplit(url)
    if parts.scheme not in DATABASE_SCHEMES:
        raise ValueError(
            "KINDRED_DATABASE_URL must be a PostgreSQL address, like "
            "postgresql://kindred:PASSWORD@db.clinic.org:5432/kindred (leave it unset to keep "
            "the studio's records in its data folder)."
        )
    try:
        parts.port  # noqa: B018 - reading it checks the port
    except ValueError as exc:
        raise ValueError(
            "KINDRED_DATABASE_URL has a port that isn't a number from 1 to 65535."
        ) from exc


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
    # Urgent crisis alerts (alerts.py); an empty URL turns that channel off.
    smtp_url: str = field(default="", repr=False)  # may hold a password
    alert_webhook_url: str = ""
    alert_webhook_secret: str = field(default="", repr=False)
    public_url: str = "http://localhost:8501"
    alert_worker: bool = True  # deliver alerts from a background thread (tests turn it off)
    # Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed
    # (KINDRED_TRUSTED_PROXIES="127.0.0.1, 10.0.0.0/8"). Empty: those headers are ignored,
    # and the address a connection comes from is the client (for the sign-in slow-down),
    # and only a connection that is itself https gets Secure cookies.
    trusted_proxies: tuple[Network, ...] = ()
    # Where artwork images live: "" for the data folder's images/, or an S3 bucket
    # (KINDRED_MEDIA_URL="s3://bucket?endpoint=http://host:8333"; see media_s3.py).
    media_url: str = field(default="", repr=False)  # may hold a secret key
    # Records in PostgreSQL (KINDRED_DATABASE_URL=postgresql://...) instead of the data
    # folder's own store; keys stay in the data folder.
    database_url: str = field(default="", repr=False)  # may hold a password
    database_pool_size: int = 10  # connections each server process keeps at most

    def __post_init__(self) -> None:
        if self.media_url:
            from .media_s3 import parse_media_url

            parse_media_url(self.media_url)
        if self.database_url:
            check_database_url(self.database_url)
        if self.smtp_url:
            parse_smtp_url(self.smtp_url)
        if self.alert_webhook_url:
            _check_web_url("KINDRED_ALERT_WEBHOOK_URL", self.alert_webhook_url)
            if len(self.alert_webhook_secret) < MIN_SECRET_LENGTH:
                raise ValueError(
                    "KINDRED_ALERT_WEBHOOK_SECRET must be set (at least "
                    f"{MIN_SECRET_LENGTH} characters) when KINDRED_ALERT_WEBHOOK_URL is, so the "
                    "receiver can check that alerts really come from Kindred Canvas."
                )
        _check_web_url("KINDRED_PUBLIC_URL", self.public_url)

    def smtp(self) -> SmtpSettings | None:
        """Return the parsed mail server settings, or None when email alerts are off."""
        return parse_smtp_url(self.smtp_url) if self.smtp_url else None

    def care_queue_url(self) -> str:
        """Return the address of the care queue, for links in alerts."""
        return f"{self.public_url.rstrip('/')}/care"

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
    public_url = os.environ.get("KINDRED_PUBLIC_URL", "").strip() or base.public_url
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
        smtp_url=os.environ.get("KINDRED_SMTP_URL", "").strip(),
        alert_webhook_url=os.environ.get("KINDRED_ALERT_WEBHOOK_URL", "").strip(),
        alert_webhook_secret=os.environ.get("KINDRED_ALERT_WEBHOOK_SECRET", "").strip(),
        public_url=public_url,
        trusted_proxies=parse_trusted_proxies(os.environ.get("KINDRED_TRUSTED_PROXIES", "")),
        media_url=os.environ.get("KINDRED_MEDIA_URL", "").strip(),
        database_url=os.environ.get("KINDRED_DATABASE_URL", "").strip(),
        database_pool_size=_env_int("KINDRED_DATABASE_POOL_SIZE", base.database_pool_size),
    )
