"""Accounts: first-run setup, joining, signing in, sessions, and account care."""

from __future__ import annotations

import logging
import re
import secrets
import threading
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .errors import (
    AuthenticationFailed,
    Conflict,
    NotFound,
    PermissionDenied,
    TooManyAttempts,
    ValidationError,
)
from .models import ROLE_PARTICIPANT, ROLE_THERAPIST, Invite, User
from .passwords import PasswordPolicy, code_hash, new_code, same, token_hash
from .policy import FACILITATOR, PARTICIPANT, Policy
from .text import clean_text

if TYPE_CHECKING:
    from .studio import Studio

__all__ = ["Accounts", "Throttle"]

log = logging.getLogger(__name__)

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,31}$")
SESSION_TOUCH_SECONDS = 60  # write last-seen at most once a minute per session
HANDOFF_SECONDS = 120


def username_key(username: str) -> str:
    """Return the case-insensitive form a username is looked up by."""
    return unicodedata.normalize("NFKC", username).strip().casefold()


class Throttle:
    """Exponential slow-down of failed sign-ins, per account and per client."""

    def __init__(self, base: float, ceiling: float) -> None:
        self.base = base
        self.ceiling = ceiling
        self._lock = threading.Lock()
        self._failures: dict[str, tuple[int, float]] = {}

    def wait_time(self, keys: list[str], now: float) -> float:
        """Return how long until these keys may try again (0 when they may)."""
        with self._lock:
            waits = [self._failures.get(k, (0, 0.0))[1] - now for k in keys]
        return max([0.0, *waits])

    def failed(self, keys: list[str], now: float) -> None:
        """Record a failure: each one doubles the wait."""
        with self._lock:
            for key in keys:
                count, _ = self._failures.get(key, (0, 0.0))
                count += 1
                delay = min(self.ceiling, self.base * (2 ** (count - 1)))
                self._failures[key] = (count, now + delay)

    def succeeded(self, keys: list[str]) -> None:
        """Forget failures after a successful sign-in."""
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)


@dataclass(frozen=True)
class SignedIn:
    """A new session: the user and the token for their cookie (shown only once)."""

    user: User
    token: str


class Accounts:
    """Everything about people's accounts and sessions."""

    def __init__(self, studio: Studio) -> None:
        self.studio = studio
        self.store = studio.store
        self.users = studio.store.collection("users")
        self.sessions = studio.store.collection("sessions")
        self.memberships = studio.store.collection("memberships")
        self.invites = studio.store.collection("invites")
        self.setup = studio.store.collection("setup")
        self.policy = Policy(studio)
        config = studio.config
        self.passwords = PasswordPolicy(
            config.argon2_time_cost, config.argon2_memory_kib, config.argon2_parallelism
        )
        self.throttle = Throttle(config.login_base_delay, config.login_max_delay)
        self._handoffs: dict[str, tuple[str, float]] = {}
        self._handoff_lock = threading.Lock()

    # -- first run -------------------------------------------------------------------------------

    def needs_setup(self) -> bool:
        """Say whether no therapist exists yet."""
        with self.store.reading():
            return not any(u["role"] == ROLE_THERAPIST for u in self.users.all())

    def setup_code(self) -> str | None:
        """Return the one-time setup code (made on first call) while no therapist exists."""
        with self.store.transaction():
            if not self.needs_setup():
                return None
            record = self.setup.first(kind="setup-code")
            if record is None:
                record = self.setup.insert({"kind": "setup-code", "code": new_code(prefix="SET")})
            return record["code"]

    def bootstrap_therapist(
        self,
        username: str,
        password: str,
        display_name: str,
        *,
        setup_code: str | None = None,
        require_code: bool = False,
    ) -> User:
        """Create the first therapist; only while no therapist exists.

        The setup page passes ``require_code=True`` with what the person typed; code on
        the server (the command line, tests, the demo) is trusted and may omit it.
        """
        prepared = self._prepare(username, password, display_name)
        with self.store.transaction():
            if not self.needs_setup():
                raise PermissionDenied("This studio already has a therapist account.")
            if require_code:
                stored = self.setup.first(kind="setup-code")
                typed = (setup_code or "").strip().upper()
                if stored is None or not typed or not same(typed, stored["code"].upper()):
                    raise PermissionDenied(
                        "That setup code doesn't match. It's printed in the server log, or run "
                        "`python -m gallery_store setup-code` on the server."
                    )
            user = self._create_user(prepared, ROLE_THERAPIST)
            for record in self.setup.find(kind="setup-code"):
                self.setup.remove(record["id"])
            log.info("first therapist account created")
            return user

    # -- joining -----------------------------------------------------------------------------------

    def join(self, code: str, username: str, password: str, display_name: str) -> User:
        """Create an account with an invite code; they join its circle.

        Most codes make a participant; a therapist invite makes a therapist who co-runs it.
        """
        prepared = self._prepare(username, password, display_name)
        with self.store.transaction():
            invite = self._usable_invite(code)
            role = ROLE_THERAPIST if invite.for_therapist else ROLE_PARTICIPANT
            user = self._create_user(prepared, role)
            self._consume_invite(invite, user.id)
            return user

    def join_another_circle(self, actor: User, code: str) -> str:
        """Add a signed-in person to another circle with its invite code; return its id."""
        with self.store.transaction():
            record = self.policy.active(actor)
            invite = self._usable_invite(code)
            if self.policy.membership(actor.id, invite.circle_id) is not None:
                raise Conflict("You're already in that circle.")
            if invite.for_therapist and record["role"] != ROLE_THERAPIST:
                raise PermissionDenied(
                    "That code is for a therapist. Please ask your facilitator for a "
                    "participant invite."
                )
            self._consume_invite(invite, actor.id)
            return invite.circle_id

    def _usable_invite(self, code: str) -> Invite:
        records = self.invites.by("code", code_hash(code or ""))
        now = self.studio.now()
        if not records:
            raise ValidationError(
                "That invite code doesn't work. Please check it, or ask your facilitator "
                "for a new one."
            )
        invite = Invite.from_record(records[0])
        if not self.policy.invite_open(records[0], now):
            raise ValidationError(
                "That invite code has expired or been used up. Please ask your facilitator "
                "for a new one."
            )
        return invite

    def _consume_invite(self, invite: Invite, user_id: str) -> None:
        self.invites.update(invite.id, uses=invite.uses + 1)
        self.memberships.insert(
            {
                "user_id": user_id,
                "circle_id": invite.circle_id,
                "role": FACILITATOR if invite.for_therapist else PARTICIPANT,
                "joined_at": self.studio.now().isoformat(),
                "invite_id": invite.id,
            }
        )

    def _prepare(self, username: str, password: str, display_name: str) -> tuple[str, str, str]:
        """Check a new account's fields and hash its password (slow: outside the lock)."""
        key = username_key(username or "")
        if not USERNAME.match(key):
            raise ValidationError(
                "Usernames are 3 to 32 characters: letters, numbers, dots, dashes or "
                "underscores, starting with a letter or number."
            )
        name = clean_text(
            display_name, field="display name", max_length=40, required=True, multiline=False
        )
        self.passwords.check(password, username=key)
        return key, name, self.passwords.hash(password)

    def _create_user(self, prepared: tuple[str, str, str], role: str) -> User:
        key, name, password_hash = prepared
        if self.users.by("username", key):
            raise Conflict("That username is taken. Please choose another.")
        record = self.users.insert(
            {
                "username": key,
                "username_key": key,
                "display_name": name,
                "role": role,
                "password_hash": password_hash,
                "credential_version": 1,
                "disabled": False,
                "created_at": self.studio.now().isoformat(),
            }
        )
        return User.from_record(record)

    # -- signing in --------------------------------------------------------------------------------

    def authenticate(self, username: str, password: str, *, client: str = "") -> User:
        """Return the user whose password this is, or raise AuthenticationFailed."""
        key = username_key(username or "")
        keys = [f"user:{key}"] + ([f"client:{client}"] if client else [])
        now = self.studio.now().timestamp()
        wait = self.throttle.wait_time(keys, now)
        if wait > 0:
            raise TooManyAttempts(wait)
        with self.store.reading():
            records = self.users.by("username", key)
            record = records[0] if records else None
        # Verify even for unknown names so timing does not reveal who has an account.
        ok = self.passwords.verify(record["password_hash"] if record else None, password or "")
        if not ok or record is None:
            self.throttle.failed(keys, now)
            log.info("failed sign-in")
            raise AuthenticationFailed()
        self.throttle.succeeded(keys)
        if record.get("disabled"):
            raise PermissionDenied("This account is paused. Please talk to your facilitator.")
        if self.passwords.needs_rehash(record["password_hash"]):
            with self.store.transaction():
                self.users.update(record["id"], password_hash=self.passwords.hash(password))
        return User.from_record(record)

    def sign_in(self, username: str, password: str, *, client: str = "") -> SignedIn:
        """Authenticate and start a server-side session; return the user and its token."""
        user = self.authenticate(username, password, client=client)
        return SignedIn(user, self.start_session(user))

    def start_session(self, user: User) -> str:
        """Start a session for an authenticated user; return the raw token (never stored)."""
        token = secrets.token_urlsafe(32)
        now = self.studio.now()
        with self.store.transaction():
            record = self.policy.active(user)
            self.sessions.insert(
                {
                    "token_hash": token_hash(token),
                    "user_id": user.id,
                    "created_at": now.isoformat(),
                    "last_seen": now.isoformat(),
                    "credential_version": record.get("credential_version", 1),
                }
            )
        return token

    def session_user(self, token: str | None) -> User | None:
        """Return the signed-in user for a session token, or None if it has ended."""
        if not token or not isinstance(token, str):
            return None
        now = self.studio.now()
        with self.store.reading():
            found = self.sessions.by("token", token_hash(token))
            if not found:
                return None
            session = found[0]
            user = self.users.get(session["user_id"])
            if not self._session_alive(session, user, now):
                with self.store.transaction():
                    self.sessions.remove(session["id"])
                return None
            last_seen = datetime.fromisoformat(session["last_seen"])
            if (now - last_seen).total_seconds() > SESSION_TOUCH_SECONDS:
                with self.store.transaction():
                    self.sessions.update(session["id"], last_seen=now.isoformat())
            assert user is not None
            return User.from_record(user)

    def _session_alive(self, session: dict, user: dict | None, now: datetime) -> bool:
        if user is None or user.get("disabled"):
            return False
        if session.get("credential_version") != user.get("credential_version", 1):
            return False
        config = self.studio.config
        created = datetime.fromisoformat(session["created_at"])
        last_seen = datetime.fromisoformat(session["last_seen"])
        if now - created > timedelta(days=config.session_absolute_days):
            return False
        return now - last_seen <= timedelta(minutes=config.session_idle_minutes)

    def end_session(self, token: str | None) -> None:
        """Sign out: end the session this token belongs to."""
        if not token:
            return
        with self.store.transaction():
            for session in self.sessions.by("token", token_hash(token)):
                self.sessions.remove(session["id"])

    def _end_all_sessions(self, user_id: str, keep_token: str | None = None) -> None:
        keep = token_hash(keep_token) if keep_token else None
        for session in self.sessions.by("user", user_id):
            if session["token_hash"] != keep:
                self.sessions.remove(session["id"])

    # The cookie is set by an HTTP route, not by the page: the page hands the route a
    # short-lived one-time code that it trades for the session token.
    def handoff_code(self, token: str) -> str:
        """Return a one-time code (two minutes) that the cookie route trades for the token."""
        code = secrets.token_urlsafe(24)
        expires = self.studio.now().timestamp() + HANDOFF_SECONDS
        with self._handoff_lock:
            self._handoffs = {
                k: v for k, v in self._handoffs.items() if v[1] > expires - HANDOFF_SECONDS
            }
            self._handoffs[code] = (token, expires)
        return code

    def redeem_handoff(self, code: str) -> str | None:
        """Trade a one-time handoff code for its session token (once)."""
        with self._handoff_lock:
            entry = self._handoffs.pop(code or "", None)
        if entry is None or entry[1] < self.studio.now().timestamp():
            return None
        return entry[0]

    # -- account care ------------------------------------------------------------------------

    def get(self, actor: User, user_id: str) -> User:
        """Return a person's account as the actor may see it."""
        with self.store.reading():
            self.policy.active(actor)
            record = self.users.get(user_id)
            if record is None:
                raise NotFound()
            if actor.id != user_id and not self.policy.shares_circle(actor.id, user_id):
                raise NotFound()
            if actor.id == user_id or self.policy.shares_circle(
                actor.id, user_id, facilitating=True
            ):
                return User.from_record(record)
            # Peers see the name a person shows, not their sign-in name or a pause
            # (as in Circles.members).
            return User.from_record(record, username="", disabled=False)

    def refresh(self, actor: User) -> User:
        """Return the actor's current account (after a change of name, say)."""
        with self.store.reading():
            return User.from_record(self.policy.active(actor))

    def rename(self, actor: User, display_name: str) -> User:
        """Change the actor's display name."""
        name = clean_text(
            display_name, field="display name", max_length=40, required=True, multiline=False
        )
        with self.store.transaction():
            self.policy.active(actor)
            return User.from_record(self.users.update(actor.id, display_name=name))

    def change_password(
        self, actor: User, current: str, new: str, *, keep_token: str | None = None
    ) -> None:
        """Change the actor's password; their other sessions end."""
        with self.store.reading():
            record = self.policy.active(actor)
        if not self.passwords.verify(record["password_hash"], current or ""):
            raise AuthenticationFailed("Your current password doesn't match.")
        self.passwords.check(new, username=record["username"])
        new_hash = self.passwords.hash(new)
        with self.store.transaction():
            version = record.get("credential_version", 1) + 1
            self.users.update(actor.id, password_hash=new_hash, credential_version=version)
            self._end_all_sessions(actor.id, keep_token)
            for session in self.sessions.by("user", actor.id):
                self.sessions.update(session["id"], credential_version=version)

    def issue_reset_code(self, actor: User, user_id: str) -> str:
        """Make a one-time password reset code for a participant (therapists)."""
        code = new_code(prefix="RST")
        expires = self.studio.now() + timedelta(hours=self.studio.config.reset_code_hours)
        with self.store.transaction():
            self.policy.therapist_over(actor, user_id)
            self.users.update(
                user_id, reset_hash=code_hash(code), reset_expires=expires.isoformat()
            )
            self._audit(actor, "issue-reset-code", user_id)
        return code

    def redeem_reset_code(self, username: str, code: str, new_password: str) -> User:
        """Set a new password with a reset code from a therapist; other sessions end."""
        key = username_key(username or "")
        with self.store.reading():
            records = self.users.by("username", key)
            record = records[0] if records else None
        refused = ValidationError(
            "That reset code doesn't work for this username. Codes work once and expire — "
            "please ask your facilitator for a new one."
        )
        if record is None or not record.get("reset_hash"):
            raise refused
        expires = datetime.fromisoformat(record["reset_expires"])
        if not same(record["reset_hash"], code_hash(code or "")) or self.studio.now() > expires:
            raise refused
        self.passwords.check(new_password, username=key)
        new_hash = self.passwords.hash(new_password)
        with self.store.transaction():
            self.users.update(
                record["id"],
                password_hash=new_hash,
                credential_version=record.get("credential_version", 1) + 1,
                reset_hash=None,
                reset_expires=None,
            )
            self._end_all_sessions(record["id"])
            return User.from_record(self.users.get(record["id"]))

    def set_disabled(self, actor: User, user_id: str, disabled: bool) -> User:
        """Pause or re-enable a participant's account (therapists); pausing ends sessions."""
        with self.store.transaction():
            self.policy.therapist_over(actor, user_id)
            record = self.users.update(user_id, disabled=bool(disabled))
            if disabled:
                self._end_all_sessions(user_id)
                self.studio.circles.end_invites_made_by(user_id)
            self._audit(actor, "disable" if disabled else "enable", user_id)
            return User.from_record(record)

    def _audit(self, actor: User, action: str, user_id: str) -> None:
        self.store.collection("audit").insert(
            {
                "actor_id": actor.id,
                "action": action,
                "subject_type": "user",
                "subject_id": user_id,
                "circle_id": None,
                "why": "",
                "at": self.studio.now().isoformat(),
            }
        )
