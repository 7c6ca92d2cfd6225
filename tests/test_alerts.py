"""Urgent alerts: who is told, what the message holds, retries, signing and settings.

Every test talks to real servers on localhost: an aiosmtpd mail server and a stdlib HTTP
server standing in for a clinic's paging webhook.
"""

from __future__ import annotations

import email
import email.policy
import json
import logging
import socket
import threading
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from gallery_store import StudioConfig, config_from_env, open_studio
from gallery_store.alerts import NOT_MONITORED, AlertDelivery, sign, verify_signature
from gallery_store.errors import NotFound, PermissionDenied, ValidationError
from gallery_store.policy import COFACILITATOR

from .conftest import FAST_CONFIG, PASSWORD

SECRET = "a-long-webhook-secret-for-tests"
# Words that must never leave the app: they stand in for what the person wrote.
PRIVATE_WORDS = "PURPLE-LIGHTHOUSE-7731 I can't keep going"
CARE_URL = "https://care.example.org/care"
WAIT = 10  # seconds a background delivery may take before a test gives up


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class MailServer:
    """A real SMTP server on localhost that keeps what it receives."""

    def __init__(self, port: int | None = None, **options) -> None:
        self.port = port or free_port()
        self.options = options
        self.envelopes: list = []
        self.received = threading.Event()
        self._controller: Controller | None = None

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        self.received.set()
        return "250 Message accepted"

    def start(self) -> None:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, **self.options)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def url(self, query: str = "from=alerts@clinic.org") -> str:
        return f"smtp://127.0.0.1:{self.port}?{query}"

    def messages(self) -> list[email.message.EmailMessage]:
        return [
            email.message_from_bytes(e.original_content, policy=email.policy.default)
            for e in self.envelopes
        ]

    def recipients(self) -> list[str]:
        return sorted(address for e in self.envelopes for address in e.rcpt_tos)


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length)
        hook = self.server.hook
        hook.posts.append((self.path, dict(self.headers), body))
        self.send_response(hook.status)
        if 300 <= hook.status < 400:
            self.send_header("Location", "/elsewhere")
        self.send_header("Content-Length", "0")
        self.end_headers()
        hook.received.set()

    def log_message(self, *args):
        pass


class Webhook:
    """A real HTTP server on localhost that records the POSTs it gets."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict, bytes]] = []
        self.status = 200
        self.received = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
        self.server.daemon_threads = True
        self.server.hook = self
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/kindred"

    def __enter__(self) -> Webhook:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def mail():
    server = MailServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def webhook():
    with Webhook() as hook:
        yield hook


@pytest.fixture
def config(mail, webhook) -> StudioConfig:
    return FAST_CONFIG.with_overrides(
        smtp_url=mail.url(),
        alert_webhook_url=webhook.url,
        alert_webhook_secret=SECRET,
        public_url="https://care.example.org/",
        alert_worker=False,
    )


def therapist_for(studio, inviter, circle, username: str):
    code = studio.circles.invite(inviter, circle.id, for_therapist=True)
    return studio.accounts.join(code, username, PASSWORD, username.title())


@pytest.fixture
def people(studio, therapist, circle, participant, peer, other_circle):
    """Everyone around a circle, each with an alert address if they could have one."""
    ari = therapist_for(studio, therapist, circle, "ari")
    noa = therapist_for(studio, therapist, circle, "noa")  # runs the circle, no address set
    kim = therapist_for(studio, therapist, other_circle, "kim")
    studio.circles.set_role(therapist, circle.id, peer.id, COFACILITATOR)
    studio.alerts.set_email(therapist, "tess@clinic.org")
    studio.alerts.set_email(ari, "ari@clinic.org")
    studio.alerts.set_email(kim, "kim@clinic.org")
    # Participants can't set one; store some anyway to prove they're never used.
    contacts = studio.store.collection("alert_contacts")
    with studio.store.transaction():
        contacts.insert({"user_id": peer.id, "email": "sam@clinic.org"})
        contacts.insert({"user_id": participant.id, "email": "robin@home.org"})
    return {
        "tess": therapist,
        "ari": ari,
        "noa": noa,
        "kim": kim,
        "sam": peer,
        "robin": participant,
    }


def raise_flag(studio, circle_id: str, about, *, tier: int = 1) -> tuple[str, int]:
    """Save a crisis flag and queue its alerts in one transaction, as moderation does."""
    now = studio.now().isoformat()
    with studio.store.transaction():
        flag = studio.store.collection("flags").insert(
            {
                "circle_id": circle_id,
                "kind": "crisis",
                "subject_type": "comment",
                "subject_id": "c1",
                "about_user_id": about.id,
                "reason": "Possible crisis language (self_harm)",
                "excerpt": PRIVATE_WORDS,
                "status": "open",
                "created_at": now,
                "updated_at": now,
            }
        )
        queued = studio.alerts.urgent(circle_id, flag["id"], tier=tier)
    return flag["id"], queued


def outbox(studio, channel: str | None = None) -> list[dict]:
    records = studio.store.collection("outbox").all()
    return [r for r in records if channel is None or r["channel"] == channel]


def assert_private(text: str) -> None:
    assert "PURPLE-LIGHTHOUSE" not in text
    assert "keep going" not in text
    assert "Robin" not in text and "robin" not in text


# -- email -----------------------------------------------------------------------------------


def test_urgent_flag_emails_each_therapist_running_the_circle(studio, people, circle, mail):
    _, queued = raise_flag(studio, circle.id, people["robin"])

    assert queued == 3  # tess and ari by email, and the webhook
    assert studio.alerts.deliver_pending() == 3
    # Not the co-facilitator, the participant, a therapist without an address, or kim
    # (who runs another circle).
    assert mail.recipients() == ["ari@clinic.org", "tess@clinic.org"]
    for envelope in mail.envelopes:
        assert_private(envelope.original_content.decode())
    message = mail.messages()[0]
    assert message["Subject"] == "Kindred Canvas: someone in your circle may need support now"
    assert message["From"] == "alerts@clinic.org"
    body = message.get_body().get_content()
    assert CARE_URL in body
    assert '"Tuesday caregivers"' in body
    assert "09:00 UTC on Monday 2 November 2026" in body
    assert "someone may be at risk now" in body
    assert NOT_MONITORED in body
    assert_private(body)
    assert studio.alerts.deliver_pending() == 0  # sent once, not again


def test_worried_about_someone_has_its_own_words(studio, people, circle, mail, webhook):
    raise_flag(studio, circle.id, people["robin"], tier=2)
    studio.alerts.deliver_pending()

    subject = mail.messages()[0]["Subject"]
    assert subject == "Kindred Canvas: someone in your circle is worried about someone else"
    assert b"\r\nSubject: Kindred Canvas" in mail.envelopes[0].original_content  # not folded
    assert "someone is worried about another person" in mail.messages()[0].get_body().get_content()
    assert json.loads(webhook.posts[0][2])["tier"] == "worried_about_someone"


def test_the_care_queue_sees_which_alerts_went_out(studio, people, circle, clock):
    flag_id, _ = raise_flag(studio, circle.id, people["robin"])
    before = studio.alerts.for_flag(people["tess"], flag_id)
    assert {d.status for d in before} == {"pending"}

    clock.advance(minutes=2)
    studio.alerts.deliver_pending()

    shown = studio.alerts.for_flag(people["ari"], flag_id)
    assert [(d.channel, d.recipient, d.status) for d in shown] == [
        ("email", "email to t***@clinic.org", "sent"),
        ("email", "email to a***@clinic.org", "sent"),
        ("webhook", "webhook", "sent"),
    ]
    assert shown[0] == AlertDelivery("email", "email to t***@clinic.org", "sent", clock.now, 0)


@pytest.mark.parametrize("who", ["robin", "sam", "kim"])
def test_only_the_circles_therapists_see_its_alerts(studio, people, circle, who):
    flag_id, _ = raise_flag(studio, circle.id, people["robin"])
    with pytest.raises(PermissionDenied):
        studio.alerts.for_flag(people[who], flag_id)


def test_an_unknown_flag_has_no_alerts(studio, people):
    with pytest.raises(NotFound):
        studio.alerts.for_flag(people["tess"], "no-such-flag")


def test_mail_login_uses_the_decoded_password(tmp_path, clock):
    logins = []

    def check(server, session, envelope, mechanism, auth):
        logins.append((auth.login, auth.password))
        return AuthResult(success=(auth.login, auth.password) == (b"alerts", b"p@ss:w/rd"))

    # Plain-text AUTH is fine on localhost in a test; a real server would want TLS.
    server = MailServer(authenticator=check, auth_require_tls=False)
    server.start()
    try:
        config = FAST_CONFIG.with_overrides(
            smtp_url=f"smtp://alerts:p%40ss%3Aw%2Frd@127.0.0.1:{server.port}?from=a@clinic.org",
            alert_worker=False,
        )
        with open_studio(tmp_path / "data", config, clock) as studio:
            tess = studio.accounts.bootstrap_therapist("tess", PASSWORD, "Tess")
            circle = studio.circles.create(tess, "Tuesday caregivers")
            studio.alerts.set_email(tess, "tess@clinic.org")
            raise_flag(studio, circle.id, tess)
            assert studio.alerts.deliver_pending() == 1
    finally:
        server.stop()
    assert server.recipients() == ["tess@clinic.org"]
    assert logins == [(b"alerts", b"p@ss:w/rd")]


# -- webhook -----------------------------------------------------------------------------------


def test_the_webhook_gets_a_signed_message_without_private_words(
    studio, people, circle, webhook, clock
):
    flag_id, _ = raise_flag(studio, circle.id, people["robin"])
    studio.alerts.deliver_pending()

    (path, headers, body), *_ = webhook.posts
    assert len(webhook.posts) == 1
    assert path == "/kindred"
    assert headers["Content-Type"] == "application/json"
    timestamp = headers["X-Kindred-Timestamp"]
    signature = headers["X-Kindred-Signature"]
    assert timestamp == str(int(clock.now.timestamp()))
    assert json.loads(body) == {
        "event": "urgent_flag",
        "tier": "at_risk_now",
        "flag_id": flag_id,
        "circle_id": circle.id,
        "circle_name": "Tuesday caregivers",
        "raised_at": clock.now.isoformat(),
        "care_queue_url": CARE_URL,
        "note": NOT_MONITORED,
    }
    assert_private(body.decode())

    now = clock.now.timestamp()
    assert verify_signature(SECRET, timestamp, body, signature, now=now)
    tampered = body.replace(b"at_risk", b"at_rest")
    assert not verify_signature(SECRET, timestamp, tampered, signature, now=now)
    assert not verify_signature(SECRET, timestamp, body, signature, now=now + 301)
    assert not verify_signature("another-secret-entirely", timestamp, body, signature, now=now)
    assert not verify_signature(SECRET, "soon", body, signature, now=now)
    assert not verify_signature(SECRET, timestamp, body, "sha256=ünïcode", now=now)


def test_signatures_are_hmac_sha256_of_timestamp_and_body():
    # What a receiver computes itself, so the contract is pinned down.
    import hashlib
    import hmac

    digest = hmac.new(b"s" * 16, b"1700000000.{}", hashlib.sha256).hexdigest()
    assert sign("s" * 16, 1700000000, b"{}") == f"sha256={digest}"
    assert verify_signature("s" * 16, "1700000000", "{}", f"sha256={digest}", now=1700000100)


def test_a_webhook_that_redirects_or_fails_is_tried_again(studio, people, circle, webhook, clock):
    raise_flag(studio, circle.id, people["robin"])
    webhook.status = 302  # following it would drop the POST body
    studio.alerts.deliver_pending()
    (record,) = outbox(studio, "webhook")
    assert record["status"] == "pending"
    assert "302" in record["last_error"]

    webhook.status = 503
    studio.alerts.deliver_pending(now=clock.now + timedelta(seconds=30))
    assert outbox(studio, "webhook")[0]["attempts"] == 2

    webhook.status = 204
    assert studio.alerts.deliver_pending(now=clock.now + timedelta(seconds=90)) == 1
    assert outbox(studio, "webhook")[0]["status"] == "sent"
    assert len(webhook.posts) == 3


# -- retries -----------------------------------------------------------------------------------


def test_a_mail_server_that_is_down_is_tried_again_with_backoff(
    studio, people, circle, mail, clock
):
    mail.stop()
    start = clock.now
    raise_flag(studio, circle.id, people["robin"])

    assert studio.alerts.deliver_pending() == 1  # only the webhook got through
    emails = outbox(studio, "email")
    assert {(r["status"], r["attempts"]) for r in emails} == {("pending", 1)}
    assert {r["next_attempt_at"] for r in emails} == {(start + timedelta(seconds=30)).isoformat()}

    assert studio.alerts.deliver_pending(now=start + timedelta(seconds=29)) == 0
    assert {r["attempts"] for r in outbox(studio, "email")} == {1}  # not due, not tried

    studio.alerts.deliver_pending(now=start + timedelta(seconds=30))
    assert {r["next_attempt_at"] for r in outbox(studio, "email")} == {
        (start + timedelta(seconds=90)).isoformat()  # the wait doubled
    }

    mail.start()
    assert studio.alerts.deliver_pending(now=start + timedelta(seconds=90)) == 2
    assert mail.recipients() == ["ari@clinic.org", "tess@clinic.org"]
    assert {r["status"] for r in outbox(studio)} == {"sent"}


def test_retries_wait_at_most_an_hour_and_stop_after_a_day(
    studio, people, circle, mail, clock, caplog
):
    mail.stop()
    start = clock.now
    raise_flag(studio, circle.id, people["robin"])
    moment = start
    for _ in range(12):
        studio.alerts.deliver_pending(now=moment)
        moment = datetime.fromisoformat(max(r["next_attempt_at"] for r in outbox(studio, "email")))
    waits = outbox(studio, "email")[0]
    assert waits["attempts"] == 12
    assert moment - start < timedelta(hours=24)

    caplog.set_level(logging.ERROR, logger="gallery_store.alerts")
    studio.alerts.deliver_pending(now=start + timedelta(hours=24, seconds=1))
    assert {r["status"] for r in outbox(studio, "email")} == {"failed"}
    assert "GAVE UP" in caplog.text
    assert studio.alerts.deliver_pending(now=start + timedelta(hours=30)) == 0


def test_retry_waits_double_up_to_an_hour():
    from gallery_store.alerts import retry_delay

    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 7, 8, 20)] == [
        30,
        60,
        120,
        1920,
        3600,
        3600,
    ]


def test_pending_alerts_are_sent_after_a_restart(studio, people, circle, mail, data_dir, clock):
    mail.stop()
    raise_flag(studio, circle.id, people["robin"])
    studio.alerts.deliver_pending()
    studio.close()

    mail.start()
    config = studio.config
    with open_studio(data_dir, config, clock) as reopened:
        assert reopened is not studio
        assert reopened.alerts.deliver_pending(now=clock.now + timedelta(minutes=1)) == 2
        assert {r["status"] for r in outbox(reopened)} == {"sent"}
    assert mail.recipients() == ["ari@clinic.org", "tess@clinic.org"]


def test_the_worker_sends_alerts_in_the_background(tmp_path, clock, mail, config):
    with open_studio(tmp_path / "worker", config.with_overrides(alert_worker=True), clock) as s:
        tess = s.accounts.bootstrap_therapist("tess", PASSWORD, "Tess")
        circle = s.circles.create(tess, "Tuesday caregivers")
        s.alerts.set_email(tess, "tess@clinic.org")
        raise_flag(s, circle.id, tess)
        assert mail.received.wait(WAIT)
    assert "kindred-alerts" not in {t.name for t in threading.enumerate()}
    assert mail.recipients() == ["tess@clinic.org"]


# -- when alerts are off or something goes wrong ------------------------------------------------


def test_nothing_is_queued_when_no_channel_is_set_up(tmp_path, clock, caplog):
    caplog.set_level(logging.INFO, logger="gallery_store.alerts")
    with open_studio(tmp_path / "plain", FAST_CONFIG, clock) as studio:
        tess = studio.accounts.bootstrap_therapist("tess", PASSWORD, "Tess")
        circle = studio.circles.create(tess, "Tuesday caregivers")
        studio.alerts.set_email(tess, "tess@clinic.org")
        flag_id, queued = raise_flag(studio, circle.id, tess)
        assert queued == 0
        assert outbox(studio) == []
        assert studio.alerts.deliver_pending() == 0
        assert studio.alerts.for_flag(tess, flag_id) == []
    assert "no alert email or webhook is set up" in caplog.text
    assert "kindred-alerts" not in {t.name for t in threading.enumerate()}


def test_a_fault_while_queueing_never_loses_the_flag(studio, people, circle, monkeypatch, caplog):
    def broken(circle_id):
        raise RuntimeError("boom")

    monkeypatch.setattr(studio.alerts, "_facilitator_addresses", broken)
    flag_id, queued = raise_flag(studio, circle.id, people["robin"])
    assert queued == 0
    assert studio.store.collection("flags").get(flag_id) is not None
    assert "could not queue the alerts" in caplog.text


def test_forget_removes_a_therapists_address_and_messages(studio, people, circle):
    raise_flag(studio, circle.id, people["robin"])
    studio.alerts.forget(people["ari"].id)
    assert studio.alerts.email_of(people["ari"]) == ""
    assert all(r["user_id"] != people["ari"].id for r in outbox(studio))
    assert len(outbox(studio, "email")) == 1


# -- alert addresses ---------------------------------------------------------------------------


def test_a_therapist_sets_and_clears_their_alert_address(studio, therapist):
    assert studio.alerts.email_of(therapist) == ""
    assert studio.alerts.set_email(therapist, "  Tess.Moss+alerts@clinic.org ") == (
        "Tess.Moss+alerts@clinic.org"
    )
    assert studio.alerts.email_of(therapist) == "Tess.Moss+alerts@clinic.org"
    studio.alerts.set_email(therapist, "tess@clinic.org")
    assert len(studio.store.collection("alert_contacts")) == 1
    studio.alerts.set_email(therapist, "")
    assert studio.alerts.email_of(therapist) == ""
    assert len(studio.store.collection("alert_contacts")) == 0


def test_only_therapists_have_an_alert_address(studio, therapist, circle, participant, peer):
    studio.circles.set_role(therapist, circle.id, peer.id, COFACILITATOR)
    for person in (participant, peer, None):
        with pytest.raises(PermissionDenied):
            studio.alerts.set_email(person, "me@home.org")
        with pytest.raises(PermissionDenied):
            studio.alerts.email_of(person)


@pytest.mark.parametrize(
    "address",
    [
        "tess",
        "tess@clinic",
        "tess@@clinic.org",
        "tess @clinic.org",
        "tess@clinic.org\r\nBcc: everyone@elsewhere.org",
        "tess@clinic.org\nx",
        "tess@clinic.org, ari@clinic.org",
        "tess@clinic.org;ari@clinic.org",
        "Tess <tess@clinic.org>",
        "t" * 250 + "@clinic.org",
    ],
)
def test_an_alert_address_must_be_one_plain_address(studio, therapist, address):
    with pytest.raises(ValidationError):
        studio.alerts.set_email(therapist, address)
    assert studio.alerts.email_of(therapist) == ""


# -- settings ----------------------------------------------------------------------------------

ALERT_VARIABLES = (
    "KINDRED_SMTP_URL",
    "KINDRED_ALERT_WEBHOOK_URL",
    "KINDRED_ALERT_WEBHOOK_SECRET",
    "KINDRED_PUBLIC_URL",
)


@pytest.fixture
def env(monkeypatch):
    for name in ALERT_VARIABLES:
        monkeypatch.delenv(name, raising=False)

    def set_env(**values):
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        return config_from_env()

    return set_env


def test_settings_default_to_alerts_off(env):
    config = env()
    assert config.smtp() is None
    assert config.alert_webhook_url == ""
    assert config.care_queue_url() == "http://localhost:8501/care"


def test_the_smtp_url_is_read_and_percent_decoded(env):
    config = env(
        KINDRED_SMTP_URL="smtp://alerts%40clinic.org:p%40ss%3Aword@mail.clinic.org:587"
        "?from=alerts@clinic.org&starttls=true",
        KINDRED_ALERT_WEBHOOK_URL="https://pager.clinic.org/hooks/kindred",
        KINDRED_ALERT_WEBHOOK_SECRET=SECRET,
        KINDRED_PUBLIC_URL="https://care.example.org/",
    )
    smtp = config.smtp()
    assert (smtp.host, smtp.port, smtp.sender) == ("mail.clinic.org", 587, "alerts@clinic.org")
    assert (smtp.username, smtp.password) == ("alerts@clinic.org", "p@ss:word")
    assert smtp.starttls and not smtp.implicit_tls
    assert config.alert_webhook_url == "https://pager.clinic.org/hooks/kindred"
    assert config.care_queue_url() == CARE_URL
    assert "p@ss" not in repr(config) and SECRET not in repr(config)


def test_smtps_means_tls_from_the_start(env):
    smtp = env(KINDRED_SMTP_URL="smtps://alerts%40clinic.org:pw@mail.clinic.org").smtp()
    assert (smtp.port, smtp.implicit_tls, smtp.starttls) == (465, True, False)
    assert smtp.sender == "alerts@clinic.org"  # the login name, when it is an address


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"KINDRED_SMTP_URL": "http://mail.clinic.org?from=a@clinic.org"}, "KINDRED_SMTP_URL"),
        ({"KINDRED_SMTP_URL": "smtp://?from=a@clinic.org"}, "KINDRED_SMTP_URL"),
        ({"KINDRED_SMTP_URL": "smtp://mail.clinic.org"}, "KINDRED_SMTP_URL"),
        ({"KINDRED_SMTP_URL": "smtp://u:hunter2@mail.clinic.org:99999?from=a@clinic.org"}, "port"),
        ({"KINDRED_SMTP_URL": "smtp://mail.clinic.org?from=a@clinic.org&tls=1"}, "tls"),
        ({"KINDRED_SMTP_URL": "smtp://mail.clinic.org?from=a@c.org&starttls=maybe"}, "starttls"),
        ({"KINDRED_SMTP_URL": "smtps://mail.clinic.org?from=a@c.org&starttls=true"}, "smtps"),
        (
            {
                "KINDRED_ALERT_WEBHOOK_URL": "ftp://pager.clinic.org/hook",
                "KINDRED_ALERT_WEBHOOK_SECRET": SECRET,
            },
            "KINDRED_ALERT_WEBHOOK_URL",
        ),
        (
            {"KINDRED_ALERT_WEBHOOK_URL": "https://pager.clinic.org/hook"},
            "KINDRED_ALERT_WEBHOOK_SECRET",
        ),
        (
            {
                "KINDRED_ALERT_WEBHOOK_URL": "https://pager.clinic.org/hook",
                "KINDRED_ALERT_WEBHOOK_SECRET": "short",
            },
            "KINDRED_ALERT_WEBHOOK_SECRET",
        ),
        ({"KINDRED_PUBLIC_URL": "care.example.org"}, "KINDRED_PUBLIC_URL"),
    ],
)
def test_bad_alert_settings_are_refused_by_name(env, variables, named):
    with pytest.raises(ValueError, match=named) as refused:
        env(**variables)
    assert "hunter2" not in str(refused.value)


def test_a_config_built_in_code_is_checked_too():
    with pytest.raises(ValueError, match="KINDRED_SMTP_URL"):
        StudioConfig(smtp_url="mail.clinic.org")
    with pytest.raises(ValueError, match="KINDRED_ALERT_WEBHOOK_SECRET"):
        FAST_CONFIG.with_overrides(alert_webhook_url="https://pager.clinic.org/hook")


# -- the whole way, from someone's words to a person ----------------------------------------------


def test_words_of_risk_reach_a_therapist_by_mail_and_a_signed_webhook(
    studio, people, circle, mail, webhook, clock
):
    words = "I took 30 paracetamol an hour ago. PURPLE-LIGHTHOUSE-7731"
    written = studio.reflections.write(people["robin"], words, circle_id=circle.id)
    assert written.support.tier == 1
    assert studio.alerts.deliver_pending() == 3

    assert mail.recipients() == ["ari@clinic.org", "tess@clinic.org"]
    for envelope in mail.envelopes:
        assert_private(envelope.original_content.decode())
        assert "paracetamol" not in envelope.original_content.decode()
    (_, headers, body), *_ = webhook.posts
    assert json.loads(body)["tier"] == "at_risk_now"
    assert verify_signature(
        SECRET, headers["X-Kindred-Timestamp"], body, headers["X-Kindred-Signature"],
        now=clock.now.timestamp(),
    )  # fmt: skip
    assert "paracetamol" not in body.decode()


def test_a_mention_reaches_nobody(studio, people, circle, mail, webhook):
    studio.reflections.write(
        people["robin"], "I'm not suicidal, just tired after the shift.", circle_id=circle.id
    )
    assert studio.alerts.deliver_pending() == 0
    assert mail.recipients() == [] and webhook.posts == []
