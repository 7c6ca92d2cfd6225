"""Urgent crisis alerts: who is told, the outbox, and delivery by email and signed webhook.

When moderation raises an urgent crisis flag it calls ``Alerts.urgent`` inside the same
transaction, so an alert is queued exactly when the flag is saved: one outbox message per
therapist who runs the circle and has an alert email, and one for the clinic's webhook. A
background worker (or ``deliver_pending``) sends them outside the store lock, at least once,
retrying with backoff for about a day.

An alert says only that an urgent flag was raised, in which circle, when, and where to look.
It never carries anyone's words or names: those stay behind the care queue's sign-in.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import re
import smtplib
import ssl
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import TYPE_CHECKING

from .config import SmtpSettings
from .errors import NotFound, ValidationError
from .models import ROLE_THERAPIST, User, parse_time
from .policy import FACILITATOR, Policy

if TYPE_CHECKING:
    from .studio import Studio

__all__ = [
    "TIER_AT_RISK",
    "TIER_WORRIED",
    "AlertDelivery",
    "Alerts",
    "sign",
    "verify_signature",
]

log = logging.getLogger(__name__)

TIER_AT_RISK = 1  # someone may be at risk now
TIER_WORRIED = 2  # someone is worried about another person
TIER_NAMES = {TIER_AT_RISK: "at_risk_now", TIER_WORRIED: "worried_about_someone"}
SUBJECTS = {
    TIER_AT_RISK: "Kindred Canvas: someone in your circle may need support now",
    # Short enough to fit on one header line (78 characters with "Subject: ").
    TIER_WORRIED: "Kindred Canvas: someone in your circle is worried about someone else",
}
WHAT_HAPPENED = {
    TIER_AT_RISK: "someone may be at risk now",
    TIER_WORRIED: "someone is worried about another person",
}
NOT_MONITORED = (
    "Kindred Canvas is not monitored around the clock. "
    "If you can't look soon, please ask a colleague to."
)
EMAIL_BODY = """\
Hello,

An urgent flag was raised in your circle "{circle_name}" at {when}: {what}.

Please look at the care queue as soon as you can:
{care_queue_url}

To keep everyone's privacy, this message holds no names and none of anyone's words. \
You'll find what you need in the care queue once you sign in.

{not_monitored}

With care,
Kindred Canvas
"""

SEND_TIMEOUT = 10  # seconds, for the mail server and the webhook alike
FIRST_RETRY = 30  # seconds; doubles after each failure
LONGEST_RETRY = 3600
GIVE_UP_AFTER = timedelta(hours=24)
IDLE_WAKE = 60.0  # the worker looks at the outbox at least this often (seconds)
STOP_WAIT = SEND_TIMEOUT + 5

PENDING, SENT, FAILED = "pending", "sent", "failed"
EMAIL, WEBHOOK = "email", "webhook"

MAX_EMAIL_LENGTH = 254
EMAIL_PATTERN = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
BAD_EMAIL = "That doesn't look like an email address. Try something like name@clinic.org."
ONE_EMAIL = "Please give just one email address."


@dataclass(frozen=True)
class AlertDelivery:
    """One alert message about a flag, as the care queue shows it."""

    channel: str  # email | webhook
    recipient: str  # "email to t***@clinic.org" or "webhook"
    status: str  # pending | sent | failed
    sent_at: datetime | None
    attempts: int = 0


class DeliveryFailed(Exception):
    """A message could not be handed over this time (internal; it will be retried)."""


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """Return the ``X-Kindred-Signature`` value for a webhook body sent at ``timestamp``."""
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(
    secret: str,
    timestamp: str | int,
    body: bytes | str,
    header: str,
    *,
    now: float | None = None,
    tolerance: int = 300,
) -> bool:
    """Say whether a webhook's signature is ours and its timestamp is recent."""
    try:
        sent = int(timestamp)
    except (TypeError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - sent) > tolerance:
        return False
    raw = body.encode() if isinstance(body, str) else body
    expected = sign(secret, sent, raw).encode()
    return hmac.compare_digest(expected, str(header).encode("utf-8", "replace"))


def masked(address: str) -> str:
    """Return an address shown safely, like ``t***@clinic.org``."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


def clean_email(raw: str) -> str:
    """Return one checked email address ("" to clear it), or raise ValidationError."""
    address = (raw or "").strip()
    if not address:
        return ""
    if any(sep in address for sep in (",", ";")) or address.count("@") > 1:
        raise ValidationError(ONE_EMAIL)
    if len(address) > MAX_EMAIL_LENGTH or not EMAIL_PATTERN.fullmatch(address):
        raise ValidationError(BAD_EMAIL)
    return address


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """Treat a redirect as a failure: following one would turn the POST into a GET."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def post_webhook(url: str, secret: str, body: bytes, timestamp: int, delivery_id: str) -> None:
    """POST a signed JSON body; raise DeliveryFailed unless the receiver answers 2xx."""
    request = urllib.request.Request(  # noqa: S310 - config allows only http(s) URLs
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "KindredCanvas-Alerts/1",
            "X-Kindred-Timestamp": str(timestamp),
            "X-Kindred-Signature": sign(secret, timestamp, body),
            # The same message may arrive twice (at-least-once): receivers can drop repeats.
            "X-Kindred-Delivery": delivery_id,
        },
    )
    try:
        # Built per call so proxy settings from the environment are read as they are now.
        opener = urllib.request.build_opener(_RefuseRedirects)
        with opener.open(request, timeout=SEND_TIMEOUT) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        exc.close()
        raise DeliveryFailed(f"the webhook answered HTTP {exc.code}") from exc
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        raise DeliveryFailed(f"the webhook could not be reached ({exc})") from exc
    if not 200 <= status < 300:
        raise DeliveryFailed(f"the webhook answered HTTP {status}")


def send_email(smtp: SmtpSettings, message: EmailMessage) -> None:
    """Hand one message to the mail server; raise DeliveryFailed if it isn't accepted."""
    context = ssl.create_default_context()
    try:
        if smtp.implicit_tls:
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                smtp.host, smtp.port, timeout=SEND_TIMEOUT, context=context
            )
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=SEND_TIMEOUT)
        with client:
            if smtp.starttls:
                client.starttls(context=context)
            if smtp.username:
                client.login(smtp.username, smtp.password)
            client.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryFailed(f"the mail server did not take the message ({exc})") from exc


def retry_delay(attempts: int) -> timedelta:
    """Return how long to wait after the given number of failed attempts."""
    return timedelta(seconds=min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_RETRY))


class Alerts:
    """Tell a circle's therapists at once, outside the app, when an urgent flag is raised."""

    def __init__(self, studio: Studio) -> None:
        self.studio = studio
        self.store = studio.store
        self.config = studio.config
        self.outbox = studio.store.collection("outbox")
        self.contacts = studio.store.collection("alert_contacts")
        self.flags = studio.store.collection("flags")
        self.circles = studio.store.collection("circles")
        self.users = studio.store.collection("users")
        self.policy = Policy(studio)
        self.smtp = self.config.smtp()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._wake_after_commit = False
        self._delivering = threading.Lock()
        self._worker: threading.Thread | None = None
        self._closed = False
        # Held while the outbox is written and while closing: no write after close.
        self._closing = threading.Lock()
        self._chain_on_commit()
        if self.smtp and self.smtp.username and not (self.smtp.implicit_tls or self.smtp.starttls):
            log.warning(
                "KINDRED_SMTP_URL logs in without encryption; add starttls=true or use smtps://"
            )

    def _chain_on_commit(self) -> None:
        """Wake the worker after a commit that queued alerts, keeping the hook already set."""
        before = self.store.on_commit

        def after_commit() -> None:
            try:
                if before is not None:
                    before()
            finally:
                if self._wake_after_commit:
                    self._wake_after_commit = False
                    self._wake.set()

        self.store.on_commit = after_commit

    @property
    def configured(self) -> bool:
        """Say whether any alert channel (email or webhook) is set up."""
        return bool(self.smtp or self.config.alert_webhook_url)

    # -- where a therapist's alerts go -------------------------------------------------------

    def set_email(self, actor: User, email: str) -> str:
        """Set (or clear with "") the address the actor's urgent alerts go to; return it."""
        address = clean_email(email)
        with self.store.transaction():
            self.policy.therapist(actor)
            existing = self.contacts.first(user_id=actor.id)
            now = self.studio.now().isoformat()
            if not address:
                if existing is not None:
                    self.contacts.remove(existing["id"])
            elif existing is None:
                self.contacts.insert({"user_id": actor.id, "email": address, "updated_at": now})
            else:
                self.contacts.update(existing["id"], email=address, updated_at=now)
        return address

    def email_of(self, actor: User) -> str:
        """Return the address the actor's urgent alerts go to ("" if none)."""
        with self.store.reading():
            self.policy.therapist(actor)
            return self._address_of(actor.id)

    def _address_of(self, user_id: str) -> str:
        for record in self.contacts.by("user", user_id):
            return record["email"]
        return ""

    def forget(self, user_id: str) -> None:
        """Remove a person's alert address and their alert messages (callers check who may)."""
        with self.store.transaction():
            for record in self.contacts.by("user", user_id):
                self.contacts.remove(record["id"])
            for record in self.outbox.by("user", user_id):
                self.outbox.remove(record["id"])

    # -- queueing ------------------------------------------------------------------------------

    def urgent(self, circle_id: str, flag_id: str, *, tier: int) -> int:
        """Queue alerts about an urgent flag (joins the caller's transaction); return how many."""
        if not self.configured:
            log.info("an urgent flag was raised, but no alert email or webhook is set up")
            return 0
        try:
            with self.store.transaction():
                queued = self._queue(circle_id, flag_id, self._known_tier(tier))
                self._wake_after_commit = self._wake_after_commit or bool(queued)
            return queued
        except Exception:  # an alert must never stop a flag from being saved
            log.exception("could not queue the alerts for an urgent flag")
            return 0

    @staticmethod
    def _known_tier(tier: int) -> int:
        if tier in TIER_NAMES:
            return tier
        # Tell people anyway, in the more urgent words, rather than not at all.
        log.error("an urgent flag came with an unknown tier %r; sending it as tier 1", tier)
        return TIER_AT_RISK

    def _queue(self, circle_id: str, flag_id: str, tier: int) -> int:
        now = self.studio.now()
        circle = self.circles.get(circle_id) or {}
        flag = self.flags.get(flag_id) or {}
        facts = {
            "flag_id": flag_id,
            "circle_id": circle_id,
            "circle_name": circle.get("name") or "your circle",
            "tier": tier,
            "raised_at": (parse_time(flag.get("created_at")) or now).astimezone(UTC).isoformat(),
            "care_queue_url": self.config.care_queue_url(),
        }
        messages = []
        if self.smtp is not None:
            messages += [
                {"channel": EMAIL, "user_id": user_id, "address": address}
                for user_id, address in self._facilitator_addresses(circle_id)
            ]
        if self.config.alert_webhook_url:
            messages.append({"channel": WEBHOOK, "user_id": None, "address": ""})
        for message in messages:
            self.outbox.insert(
                {
                    **message,
                    **facts,
                    "status": PENDING,
                    "attempts": 0,
                    "created_at": now.isoformat(),
                    "next_attempt_at": now.isoformat(),
                    "sent_at": None,
                    "last_error": "",
                }
            )
        if not messages:
            log.warning(
                "an urgent flag was raised in circle %s, but none of its therapists has an "
                "alert email set",
                circle_id,
            )
        return len(messages)

    def _facilitator_addresses(self, circle_id: str) -> list[tuple[str, str]]:
        """Return (user id, address) of the circle's active therapists who set an address."""
        found: dict[str, str] = {}
        for membership in self.policy.memberships.by("circle", circle_id):
            if membership["role"] != FACILITATOR:
                continue
            person = self.users.get(membership["user_id"])
            if person is None or person["role"] != ROLE_THERAPIST or person.get("disabled"):
                continue
            address = self._address_of(person["id"])
            if address and address.lower() not in found:
                found[address.lower()] = person["id"]
        return [(user_id, address) for address, user_id in found.items()]

    # -- delivery ------------------------------------------------------------------------------

    def deliver_pending(self, now: datetime | None = None) -> int:
        """Send every message that is due; return how many were delivered."""
        with self._delivering:
            if self._closed:
                return 0
            moment = now or self.studio.now()
            delivered = 0
            for message in self._due(moment):
                if self._stopping.is_set():
                    break
                try:
                    self._send(message, moment)
                except DeliveryFailed as exc:
                    self._failed(message, moment, str(exc))
                except Exception as exc:  # a fault here must not stop the other messages
                    log.exception("an alert could not be sent")
                    self._failed(message, moment, f"unexpected error ({type(exc).__name__})")
                else:
                    self._sent(message, moment)
                    delivered += 1
            return delivered

    def _due(self, now: datetime) -> list[dict]:
        with self.store.reading():
            return [
                dict(record)
                for record in self.outbox.by("status", PENDING)
                if parse_time(record["next_attempt_at"]) <= now
            ]

    def _send(self, message: dict, now: datetime) -> None:
        if message["channel"] == EMAIL:
            if self.smtp is None:
                raise DeliveryFailed("email alerts are not set up (KINDRED_SMTP_URL)")
            send_email(self.smtp, self._email(message, now))
            return
        if not self.config.alert_webhook_url:
            raise DeliveryFailed("the alert webhook is not set up (KINDRED_ALERT_WEBHOOK_URL)")
        post_webhook(
            self.config.alert_webhook_url,
            self.config.alert_webhook_secret,
            self._webhook_body(message),
            int(now.timestamp()),
            message["id"],
        )

    def _email(self, message: dict, now: datetime) -> EmailMessage:
        assert self.smtp is not None
        raised = parse_time(message["raised_at"]).astimezone(UTC)
        email = EmailMessage()
        email["From"] = self.smtp.sender
        email["To"] = message["address"]
        email["Subject"] = SUBJECTS[message["tier"]]
        email["Date"] = format_datetime(now.astimezone(UTC))
        # The same id on every attempt lets mail systems drop a repeat.
        domain = self.smtp.sender.rpartition("@")[2]
        email["Message-ID"] = f"<kindred-alert-{message['id']}@{domain}>"
        email["Auto-Submitted"] = "auto-generated"
        email.set_content(
            EMAIL_BODY.format(
                circle_name=message["circle_name"],
                when=f"{raised:%H:%M} UTC on {raised:%A} {raised.day} {raised:%B %Y}",
                what=WHAT_HAPPENED[message["tier"]],
                care_queue_url=message["care_queue_url"],
                not_monitored=NOT_MONITORED,
            )
        )
        return email

    @staticmethod
    def _webhook_body(message: dict) -> bytes:
        body = {
            "event": "urgent_flag",
            "tier": TIER_NAMES[message["tier"]],
            "flag_id": message["flag_id"],
            "circle_id": message["circle_id"],
            "circle_name": message["circle_name"],
            "raised_at": message["raised_at"],
            "care_queue_url": message["care_queue_url"],
            "note": NOT_MONITORED,
        }
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    def _sent(self, message: dict, now: datetime) -> None:
        self._settle(message, status=SENT, sent_at=now.isoformat(), last_error="")
        log.info("sent an urgent alert by %s (%s)", message["channel"], message["id"])

    def _failed(self, message: dict, now: datetime, error: str) -> None:
        attempts = message["attempts"] + 1
        if now - parse_time(message["created_at"]) >= GIVE_UP_AFTER:
            self._settle(message, status=FAILED, attempts=attempts, last_error=error)
            log.error(
                "GAVE UP on an urgent alert by %s (%s) after %d attempts over a day: %s. "
                "Check KINDRED_SMTP_URL / KINDRED_ALERT_WEBHOOK_URL; the flag is still in the "
                "care queue.",
                message["channel"],
                message["id"],
                attempts,
                error,
            )
            return
        retry_at = now + retry_delay(attempts)
        self._settle(
            message, attempts=attempts, next_attempt_at=retry_at.isoformat(), last_error=error
        )
        log.warning(
            "an urgent alert by %s (%s) failed (%s); trying again at %s",
            message["channel"],
            message["id"],
            error,
            retry_at.isoformat(timespec="seconds"),
        )

    def _settle(self, message: dict, **changes: object) -> None:
        """Record what happened to a message, unless it was removed or the studio closed."""
        with self._closing:
            if self._closed:
                return
            with self.store.transaction():
                current = self.outbox.get(message["id"])
                if current is None or current["status"] != PENDING:
                    return
                self.outbox.update(message["id"], **changes)

    # -- the worker ----------------------------------------------------------------------------

    def start_worker(self) -> None:
        """Start the background thread that delivers alerts (once)."""
        if self._worker is not None and self._worker.is_alive():
            return
        self._stopping.clear()
        self._worker = threading.Thread(target=self._run, name="kindred-alerts", daemon=True)
        self._worker.start()

    def stop_worker(self) -> None:
        """Ask the background thread to stop and wait a little for it."""
        self._stopping.set()
        self._wake.set()
        worker, self._worker = self._worker, None
        if worker is not None and worker is not threading.current_thread():
            worker.join(STOP_WAIT)

    def wake(self) -> None:
        """Ask the worker to look at the outbox now."""
        self._wake.set()

    def close(self) -> None:
        """Stop the worker and refuse further outbox writes (the studio is closing)."""
        self.stop_worker()
        with self._closing:
            self._closed = True

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                self.deliver_pending()
                wait = self._seconds_to_next()
            except Exception:
                log.exception("the alert worker hit a problem; it will try again")
                wait = IDLE_WAKE
            self._wake.wait(wait)

    def _seconds_to_next(self) -> float:
        with self.store.reading():
            times = [parse_time(r["next_attempt_at"]) for r in self.outbox.by("status", PENDING)]
        if not times:
            return IDLE_WAKE
        seconds = (min(times) - self.studio.now()).total_seconds()
        return min(max(seconds, 0.5), IDLE_WAKE)

    # -- what the care queue shows --------------------------------------------------------------

    def for_flag(self, actor: User, flag_id: str) -> list[AlertDelivery]:
        """Return the alert messages about a flag, oldest first (its circle's therapists)."""
        with self.store.reading():
            messages = self.outbox.by("flag", flag_id)
            # The flag names its circle; a flag since deleted is known by its messages.
            known = self.flags.get(flag_id) or (messages[0] if messages else {})
            circle_id = known.get("circle_id")
            if not circle_id:
                self.policy.active(actor)
                raise NotFound("We couldn't find that flag. It may already have been dealt with.")
            self.policy.therapist(actor)
            self.policy.facilitator(actor, circle_id, therapist_only=True)
            return [delivery_of(record) for record in messages]


def delivery_of(record: dict) -> AlertDelivery:
    """Describe an outbox message for the care queue, with the address masked."""
    email = record["channel"] == EMAIL
    return AlertDelivery(
        channel=record["channel"],
        recipient=f"email to {masked(record['address'])}" if email else "webhook",
        status=record["status"],
        sent_at=parse_time(record.get("sent_at")),
        attempts=record.get("attempts", 0),
    )
