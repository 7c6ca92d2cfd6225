"""Accounts: first-run setup, joining, signing in, sessions, and account care."""

from __future__ import annotations

import logging
import re
import secrets
import threading
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
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
from .names import ensure_name_free
from .passwords import PasswordPolicy, code_hash, new_code, same, token_hash
from .policy import FACILITATOR, PARTICIPANT, Policy
from .records import new_id
from .sealing import Keyring, KeyVault, Sealer, Unlocked, require
from .text import clean_text

if TYPE_CHECKING:
    from .config import StudioConfig
    from .studio import Studio

__all__ = ["AccountEvent", "Accounts", "Throttle", "session_alive"]

log = logging.getLogger(__name__)

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,31}$")
SESSION_TOUCH_SECONDS = 60  # write last-seen at most once a minute per session
HANDOFF_SECONDS = 120
EVENTS_KEPT = 30  # sign-ins and resets a person can look back on

RECOVERY_REFUSED = (
    "That recovery code doesn't open this account's notes. Please check it (it starts with "
    "RC-), or leave it empty to start with a fresh notebook."
)
# Failed attempts a whole client address gets before it is slowed down (a clinic's
# shared Wi-Fi has several people typing); one account from one client gets none.
CLIENT_FREE_FAILURES = 10
JOIN_FREE_FAILURES = 3


def session_alive(session: dict, user: dict | None, now: datetime, config: StudioConfig) -> bool:
    """Say whether a session may still be used: its account is open, it is not too old."""
    if user is None or user.get("disabled") or user.get("erasing_since"):
        return False
    if session.get("credential_version") != user.get("credential_version", 1):
        return False
    created = datetime.fromisoformat(session["created_at"])
    last_seen = datetime.fromisoformat(session["last_seen"])
    if now - created > timedelta(days=config.session_absolute_days):
        return False
    return now - last_seen <= timedelta(minutes=config.session_idle_minutes)


def username_key(username: str) -> str:
    """Return the case-insensitive form a username is looked up by."""
    return unicodedata.normalize("NFKC", username).strip().casefold()


class Throttle:
    """Exponential slow-down of failed attempts, per key ("kind:value").

    An attempt is counted as a failure *before* its password is checked
    (:meth:`attempt`), so guesses sent in parallel cannot all slip through while the
    first is still being verified; a success then forgets or refunds it. Some kinds
    (a whole client address) get a few failures free, so one typo at a clinic's shared
    address slows nobody else down. Counts are forgotten after a quiet spell.
    """

    def __init__(
        self,
        base: float,
        ceiling: float,
        *,
        free: dict[str, int] | None = None,
        forget_after: float = 900.0,
    ) -> None:
        self.base = base
        self.ceiling = ceiling
        self.free = dict(free or {})
        self.forget_after = forget_after
        self._lock = threading.Lock()
        # key -> (failures, locked until, locked until before the latest attempt, last seen)
        self._failures: dict[str, tuple[int, float, float, float]] = {}
        self._last_prune = 0.0

    def _delay(self, key: str, count: int) -> float:
        over = count - self.free.get(key.split(":", 1)[0], 0)
        return 0.0 if over <= 0 else min(self.ceiling, self.base * (2 ** (over - 1)))

    def _entry(self, key: str, now: float) -> tuple[int, float, float, float]:
        entry = self._failures.get(key, (0, 0.0, 0.0, 0.0))
        if entry[1] <= now and now - entry[3] > self.forget_after:
            return (0, 0.0, 0.0, 0.0)
        return entry

    def wait_time(self, keys: list[str], now: float) -> float:
        """Return how long until these keys may try again (0 when they may)."""
        with self._lock:
            waits = [self._entry(k, now)[1] - now for k in keys]
        return max([0.0, *waits])

    def attempt(self, keys: list[str], now: float) -> float:
        """Count an attempt as failed unless it must wait; return the wait (0: go ahead)."""
        with self._lock:
            wait = max([0.0, *(self._entry(k, now)[1] - now for k in keys)])
            if wait > 0:
                return wait
            self._record(keys, now)
            return 0.0

    def failed(self, keys: list[str], now: float) -> None:
        """Record a failure: each one past the free ones doubles the wait."""
        with self._lock:
            self._record(keys, now)

    def _record(self, keys: list[str], now: float) -> None:
        for key in keys:
            count, until, _, _ = self._entry(key, now)
            count += 1
            self._failures[key] = (count, max(until, now + self._delay(key, count)), until, now)
        if now - self._last_prune > 60:
            self._prune(now)

    def prune(self, now: float) -> int:
        """Drop keys whose wait is over and that have been quiet a while; return how many."""
        with self._lock:
            return self._prune(now)

    def _prune(self, now: float) -> int:
        self._last_prune = now
        before = len(self._failures)
        # The same rule as _entry: such a key would start from nothing anyway.
        self._failures = {
            k: v for k, v in self._failures.items() if v[1] > now or now - v[3] <= self.forget_after
        }
        return before - len(self._failures)

    def entries(self) -> int:
        """Return how many keys the table holds."""
        with self._lock:
            return len(self._failures)

    def succeeded(self, keys: list[str]) -> None:
        """Forget these keys' failures after a success."""
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)

    def refund(self, keys: list[str]) -> None:
        """Take back the attempt counted for these keys (it succeeded), keeping older ones."""
        with self._lock:
            for key in keys:
                entry = self._failures.get(key)
                if entry is None:
                    continue
                count, _, before, last = entry
                if count <= 1:
                    self._failures.pop(key, None)
                else:
                    self._failures[key] = (count - 1, before, before, last)


@dataclass(frozen=True)
class AccountEvent:
    """Something that happened to an account: a sign-in, a reset code, a password reset."""

    kind: str  # sign-in | reset-code | password-reset
    at: datetime
    by: str = ""  # who made the reset code
    notes_kept: bool = True  # a reset with the recovery code keeps the private notes open

    @property
    def describe(self) -> str:
        """Say what happened, in plain words."""
        if self.kind == "reset-code":
            return f"{self.by or 'A therapist'} made a password reset code for this account"
        if self.kind == "password-reset":
            if self.notes_kept:
                return "The password was reset with a reset code and the recovery code"
            return (
                "The password was reset with a reset code, without the recovery code, so "
                "earlier private notes stay locked"
            )
        return "Signed in"


@dataclass(frozen=True)
class _NewAccount:
    """A new account's checked fields, password hash and keys, made outside the lock."""

    user_id: str
    username: str
    display_name: str
    password_hash: str
    keys: Unlocked


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
        self.throttle = Throttle(
            config.login_base_delay,
            config.login_max_delay,
            free={"client": CLIENT_FREE_FAILURES, "join": JOIN_FREE_FAILURES},
        )
        self.sealer = Sealer(
            KeyVault(studio.data_dir / "keys"),
            config.argon2_time_cost,
            config.argon2_memory_kib,
            config.argon2_parallelism,
        )
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
        with self._undo_keys_on_failure(prepared), self.store.transaction():
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
            user = self._create_user(prepared, ROLE_THERAPIST, first_therapist=True)
            for record in self.setup.find(kind="setup-code"):
                self.setup.remove(record["id"])
            log.info("first therapist account created")
            return user

    # -- joining -----------------------------------------------------------------------------------

    def join(
        self, code: str, username: str, password: str, display_name: str, *, client: str = ""
    ) -> User:
        """Create an account with an invite code; they join its circle.

        Most codes make a participant; a therapist invite makes a therapist who co-runs it.
        """
        # Counted before anything is checked, like a sign-in; refunded once it succeeds.
        keys = [f"join:{client}"] if client else []
        wait = self.throttle.attempt(keys, self.studio.now().timestamp())
        if wait > 0:
            raise TooManyAttempts(wait)
        with self.store.reading():
            self._usable_invite(code)  # cheap; hashing a password is not
        prepared = self._prepare(username, password, display_name)
        with self._undo_keys_on_failure(prepared), self.store.transaction():
            invite = self._usable_invite(code)
            role = ROLE_THERAPIST if invite.for_therapist else ROLE_PARTICIPANT
            user = self._create_user(prepared, role)
            self._consume_invite(invite, user.id)
        self.throttle.refund(keys)
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
        ensure_name_free(self.store, user_id, circle_id=invite.circle_id)
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

    def _prepare(self, username: str, password: str, display_name: str) -> _NewAccount:
        """Check a new account's fields, hash its password and make its keys (slow: no lock)."""
        key = username_key(username or "")
        if not USERNAME.match(key):
            raise ValidationError(
                "Usernames are 3 to 32 characters: letters, numbers, dots, dashes or "
                "underscores, starting with a letter or number."
            )
        name = clean_text(
            display_name, field="display name", max_length=40, required=True, multiline=False
        )
        self.passwords.check(password, username=key, display_name=name)
        user_id = new_id()
        return _NewAccount(
            user_id,
            key,
            name,
            self.passwords.hash(password),
            self.sealer.new_key(user_id, password),
        )

    @contextmanager
    def _undo_keys_on_failure(self, prepared: _NewAccount) -> Iterator[None]:
        """Destroy a new account's vault secret if the account is not created after all."""
        try:
            yield
        except BaseException:
            self.sealer.vault.destroy(prepared.user_id)
            raise

    def _create_user(
        self, prepared: _NewAccount, role: str, *, first_therapist: bool = False
    ) -> User:
        if self.users.by("username", prepared.username):
            raise Conflict("That username is taken. Please choose another.")
        # The store also refuses a second account with this username (and a second first
        # therapist): its unique indexes hold even when two servers check at once.
        record = self.users.insert(
            {
                **({"first_therapist": True} if first_therapist else {}),
                "id": prepared.user_id,
                "username": prepared.username,
                "username_key": prepared.username,
                "display_name": prepared.display_name,
                "role": role,
                "password_hash": prepared.password_hash,
                "credential_version": 1,
                "disabled": False,
                "created_at": self.studio.now().isoformat(),
                **prepared.keys.fields,
                **_code_to_show(prepared.keys.keyring),
            }
        )
        return User.from_record(record, keyring=prepared.keys.keyring)

    # -- signing in --------------------------------------------------------------------------------

    def authenticate(self, username: str, password: str, *, client: str = "") -> User:
        """Return the user whose password this is, or raise AuthenticationFailed."""
        key = username_key(username or "")
        # The account *from this client*: a stranger elsewhere cannot lock someone out.
        # The client as a whole is slowed too, after a few free failures, when it guesses
        # across accounts. The attempt counts before the password is checked, so parallel
        # guesses wait their turn.
        keys = [f"account:{key}|{client}"] + ([f"client:{client}"] if client else [])
        wait = self.throttle.attempt(keys, self.studio.now().timestamp())
        if wait > 0:
            raise TooManyAttempts(wait)
        with self.store.reading():
            records = self.users.by("username", key)
            # An account being deleted is as good as gone: it signs in as no one.
            record = records[0] if records and not records[0].get("erasing_since") else None
        # Verify even for unknown names so timing does not reveal who has an account.
        ok = self.passwords.verify(record["password_hash"] if record else None, password or "")
        if not ok or record is None:
            log.info("failed sign-in")
            raise AuthenticationFailed()
        # Success forgets this account's failures from here; the client's own count keeps
        # its older failures (signing into one's own account must not reset guessing).
        self.throttle.succeeded(keys[:1])
        self.throttle.refund(keys[1:])
        if record.get("disabled"):
            raise PermissionDenied("This account is paused. Please talk to your facilitator.")
        if self.passwords.needs_rehash(record["password_hash"]):
            with self.store.transaction():
                self.users.update(record["id"], password_hash=self.passwords.hash(password))
        keyring = self.sealer.with_password(record, password)
        if keyring is None:
            keyring = self._new_keys(record, password)
        return User.from_record(record, keyring=keyring)

    def _new_keys(self, record: dict, password: str) -> Keyring:
        """Give an account its first data key (or a new one when the old can't be opened).

        An account made before notes were sealed gets its key here, at its first sign-in
        with a password, and its private notes are sealed with it.
        """
        locked = list(record.get("locked_keys") or [])
        old = record.get("seal")
        if old:
            log.warning("an account's data key could not be opened; its notes stay locked")
            locked.append({"key_id": old["key_id"], "by_recovery": old.get("by_recovery")})
        unlocked = self.sealer.new_key(record["id"], password, locked=locked)
        with self.store.transaction():
            self.users.update(record["id"], **unlocked.fields, **_code_to_show(unlocked.keyring))
            self.studio.reflections.seal_unsealed(record["id"], unlocked.keyring)
        return unlocked.keyring

    def sign_in(self, username: str, password: str, *, client: str = "") -> SignedIn:
        """Authenticate and start a server-side session; return the user and its token."""
        user = self.authenticate(username, password, client=client)
        token = self.start_session(user)
        with self.store.transaction():
            self._record_event(user.id, "sign-in")
        return SignedIn(user, token)

    def start_session(self, user: User) -> str:
        """Start a session for an authenticated user; return the raw token (never stored).

        The session keeps the person's data keys wrapped by its token, so their private
        notes open only while their browser presents it.
        """
        token = secrets.token_urlsafe(32)
        now = self.studio.now()
        keyring = user.keyring if user.keyring and user.keyring.user_id == user.id else None
        seal = self.sealer.for_session(keyring, token) if keyring else {}
        with self.store.transaction():
            record = self.policy.active(user)
            self.sessions.insert(
                {
                    "token_hash": token_hash(token),
                    "user_id": user.id,
                    "created_at": now.isoformat(),
                    "last_seen": now.isoformat(),
                    "credential_version": record.get("credential_version", 1),
                    "seal": seal,
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
            keyring = self.sealer.from_session(user["id"], session.get("seal"), token)
            return User.from_record(user, keyring=keyring)

    def _session_alive(self, session: dict, user: dict | None, now: datetime) -> bool:
        return session_alive(session, user, now, self.studio.config)

    def end_expired_sessions(self, now: datetime) -> int:
        """Remove every session that can no longer be used; return how many went."""
        with self.store.transaction():
            ended = [
                s["id"]
                for s in self.sessions.all()
                if not self._session_alive(s, self.users.get(s["user_id"]), now)
            ]
            for session_id in ended:
                self.sessions.remove(session_id)
        return len(ended)

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
    #
    # The code is bound to a secret the signing-in browser holds (``binding``: its
    # HttpOnly bind cookie), so a code taken from one browser cannot sign another one in
    # (login CSRF), whatever headers that browser does or doesn't send.
    def handoff_code(self, token: str, binding: str = "") -> str:
        """Return a one-time code (two minutes) that only ``binding``'s holder may trade."""
        code = secrets.token_urlsafe(24)
        expires = self.studio.now().timestamp() + HANDOFF_SECONDS
        bound = token_hash(binding) if binding else ""
        with self._handoff_lock:
            self._handoffs = {
                k: v for k, v in self._handoffs.items() if v[1] > expires - HANDOFF_SECONDS
            }
            self._handoffs[code] = (token, expires, bound)
        return code

    def redeem_handoff(self, code: str, binding: str = "") -> str | None:
        """Trade a one-time handoff code for its session token (once, by its binding)."""
        with self._handoff_lock:
            entry = self._handoffs.pop(code or "", None)
        if entry is None or entry[1] < self.studio.now().timestamp():
            return None
        if not same(entry[2], token_hash(binding) if binding else ""):
            log.warning("a sign-in hand-off was refused: it came from another browser")
            return None
        return entry[0]

    # Right after sign-in the tab reloads to pick up its cookie, and a reload starts a new
    # Streamlit session with nothing in it. Where the person was headed (a link they opened
    # while signed out) and the words meant for them ("Welcome to your circle") wait on the
    # session's record meanwhile, so the reloaded tab can take them up.
    def hold_arrival(self, token: str | None, arrival: dict) -> None:
        """Keep where a just-signed-in session goes next and what it is told there."""
        kept = _clean_arrival(arrival)
        if not token or not kept:
            return
        with self.store.transaction():
            for session in self.sessions.by("token", token_hash(token)):
                self.sessions.update(session["id"], arrival=kept)

    def take_arrival(self, token: str | None) -> dict | None:
        """Return (once) what ``hold_arrival`` kept for this session, or None."""
        if not token or not isinstance(token, str):
            return None
        with self.store.reading():
            found = [s for s in self.sessions.by("token", token_hash(token)) if s.get("arrival")]
            if not found:
                return None
            arrival = dict(found[0]["arrival"])  # the stored record changes in place below
            with self.store.transaction():
                for session in found:
                    self.sessions.update(session["id"], arrival=None)
            return arrival

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
            return User.from_record(self.policy.active(actor), keyring=actor.keyring)

    def rename(self, actor: User, display_name: str) -> User:
        """Change the actor's display name."""
        name = clean_text(
            display_name, field="display name", max_length=40, required=True, multiline=False
        )
        with self.store.transaction():
            self.policy.active(actor)
            ensure_name_free(self.store, actor.id, name)
            record = self.users.update(actor.id, display_name=name)
            return User.from_record(record, keyring=actor.keyring)

    def change_password(
        self, actor: User, current: str, new: str, *, keep_token: str | None = None
    ) -> None:
        """Change the actor's password; their other sessions end."""
        with self.store.reading():
            record = self.policy.active(actor)
        if not self.passwords.verify(record["password_hash"], current or ""):
            raise AuthenticationFailed("Your current password doesn't match.")
        self.passwords.check(new, username=record["username"], display_name=record["display_name"])
        new_hash = self.passwords.hash(new)
        keyring = self.sealer.with_password(record, current)
        if keyring is None:
            keyring = self._new_keys(record, current)
            record = self.users.get(actor.id) or record
        seal = self.sealer.rewrap_password(record, keyring, new)
        with self.store.transaction():
            version = record.get("credential_version", 1) + 1
            self.users.update(
                actor.id, password_hash=new_hash, credential_version=version, seal=seal
            )
            self._end_all_sessions(actor.id, keep_token)
            for session in self.sessions.by("user", actor.id):
                self.sessions.update(session["id"], credential_version=version)

    def _therapist_over(self, actor: User, user_id: str) -> tuple[dict, list[str]]:
        """Require a therapist who runs a circle the person belongs to; return those circles."""
        target = self.policy.therapist_over(actor, user_id)
        reader = self.policy.active(actor)
        return target, sorted(self.policy.circles_run_for(reader, user_id))

    def issue_reset_code(self, actor: User, user_id: str) -> str:
        """Make a one-time password reset code for a participant (therapists).

        The code changes the password but opens none of the person's private notes; the
        person is told, at their next sign-in, who made it and when.
        """
        code = new_code(prefix="RST")
        expires = self.studio.now() + timedelta(hours=self.studio.config.reset_code_hours)
        with self.store.transaction():
            issuer = self.policy.active(actor)
            _, circles = self._therapist_over(actor, user_id)
            self.users.update(
                user_id,
                reset_hash=code_hash(code),
                reset_expires=expires.isoformat(),
                reset_by=issuer["display_name"],
            )
            self._record_event(user_id, "reset-code", by=issuer["display_name"])
            for circle_id in circles:
                self._audit(actor, "issue-reset-code", user_id, circle_id)
        return code

    def redeem_reset_code(
        self, username: str, code: str, new_password: str, recovery_code: str | None = None
    ) -> User:
        """Set a new password with a reset code from a therapist; other sessions end.

        With the person's recovery code their private notes stay open; without it they stay
        locked (the recovery code can still open them later) and new notes get a new key,
        whose recovery code comes back on the returned user's keyring, to show once.
        """
        key = username_key(username or "")
        with self.store.reading():
            records = self.users.by("username", key)
            record = records[0] if records and not records[0].get("erasing_since") else None
        refused = ValidationError(
            "That reset code doesn't work for this username. Codes work once and expire — "
            "please ask your facilitator for a new one."
        )
        if record is None or not record.get("reset_hash"):
            raise refused
        expires = datetime.fromisoformat(record["reset_expires"])
        if not same(record["reset_hash"], code_hash(code or "")) or self.studio.now() > expires:
            raise refused
        self.passwords.check(new_password, username=key, display_name=record["display_name"])
        new_hash = self.passwords.hash(new_password)
        opened = self.sealer.with_recovery(record, recovery_code) if recovery_code else {}
        if recovery_code and not opened:
            raise ValidationError(RECOVERY_REFUSED)
        if opened:
            unlocked = self.sealer.recover(record, opened, recovery_code or "", new_password)
        else:
            locked = list(record.get("locked_keys") or [])
            old = record.get("seal")
            if old:
                locked.append(
                    {
                        "key_id": old["key_id"],
                        "by_recovery": old.get("by_recovery"),
                        "locked_at": self.studio.now().isoformat(),
                    }
                )
            unlocked = self.sealer.new_key(record["id"], new_password, locked=locked)
        with self.store.transaction():
            current = self.users.get(record["id"])
            if current is None or current.get("reset_hash") != record["reset_hash"]:
                raise refused  # used meanwhile, from another tab
            self.users.update(
                record["id"],
                password_hash=new_hash,
                credential_version=record.get("credential_version", 1) + 1,
                reset_hash=None,
                reset_expires=None,
                **unlocked.fields,
                **({} if opened else _code_to_show(unlocked.keyring)),
            )
            if opened:
                self.studio.reflections.reseal(record["id"], unlocked.keyring)
            self._record_event(
                record["id"],
                "password-reset",
                by=record.get("reset_by") or "",
                notes_kept=bool(opened),
            )
            self._end_all_sessions(record["id"])
            keyring = unlocked.keyring
            return User.from_record(self.users.get(record["id"]), keyring=keyring)

    def unlock_notes(self, actor: User, recovery_code: str) -> int:
        """Open notes locked by a reset with your recovery code; return how many opened."""
        with self.store.reading():
            record = self.policy.active(actor)
        keyring = require(actor.keyring, actor.id)
        if not record.get("locked_keys"):
            return 0
        # Only the locked keys: the current one is open already.
        opened = self.sealer.with_recovery({**record, "seal": None}, recovery_code)
        if not opened:
            raise ValidationError(
                "That recovery code doesn't open any of your locked notes. Please check it "
                "(it starts with RC-)."
            )
        with self.store.transaction():
            record = self.policy.active(actor)
            combined = Keyring(actor.id, {**keyring.keys, **opened}, keyring.current)
            count = self.studio.reflections.reseal(actor.id, combined)
            still = [e for e in record.get("locked_keys") or [] if e.get("key_id") not in opened]
            self.users.update(actor.id, locked_keys=still)
        return count

    # -- what happened to my account ------------------------------------------------------------

    def _record_event(self, user_id: str, kind: str, **details: object) -> None:
        """Note a sign-in or a reset on the person's account (callers hold the lock)."""
        record = self.users.get(user_id)
        if record is None:
            return
        events = list(record.get("account_events") or [])
        events.append({"kind": kind, "at": self.studio.now().isoformat(), **details})
        self.users.update(user_id, account_events=events[-EVENTS_KEPT:])

    def account_events(self, actor: User) -> list[AccountEvent]:
        """Return your account's recent sign-ins and resets, newest first."""
        with self.store.reading():
            record = self.policy.active(actor)
            return [_event(e) for e in reversed(record.get("account_events") or [])]

    def reset_notice(self, actor: User) -> list[AccountEvent]:
        """Return what happened since a reset you have not yet seen (empty when nothing did).

        After a reset the person sees who made the code and when, and every sign-in since,
        so a sign-in as them by someone else does not go unnoticed.
        """
        with self.store.reading():
            record = self.policy.active(actor)
            seen = record.get("events_seen_at") or ""
            fresh = [e for e in record.get("account_events") or [] if e["at"] > seen]
        if not any(e["kind"] in ("reset-code", "password-reset") for e in fresh):
            return []
        return [_event(e) for e in fresh]

    def dismiss_reset_notice(self, actor: User) -> None:
        """Say you have seen what happened to your account since the reset."""
        with self.store.transaction():
            self.policy.active(actor)
            self.users.update(actor.id, events_seen_at=self.studio.now().isoformat())

    def recovery_code_to_show(self, actor: User) -> str | None:
        """Return your new recovery code until you say you have kept it (else None)."""
        with self.store.reading():
            record = self.policy.active(actor)
        sealed = record.get("pending_recovery_code")
        if not sealed or actor.keyring is None:
            return None
        opened = actor.keyring.open(sealed, "recovery-code")
        return opened.get("code") if opened else None

    def recovery_code_kept(self, actor: User) -> None:
        """Say you have kept your recovery code somewhere safe: it is not shown again."""
        with self.store.transaction():
            self.policy.active(actor)
            self.users.update(actor.id, pending_recovery_code=None)

    def locked_notes(self, actor: User) -> int:
        """Return how many keys of yours are locked since a reset (0 when none)."""
        with self.store.reading():
            record = self.policy.active(actor)
            return len(record.get("locked_keys") or [])

    def set_disabled(self, actor: User, user_id: str, disabled: bool) -> User:
        """Pause or re-enable a participant's account (therapists); pausing ends sessions."""
        with self.store.transaction():
            _, circles = self._therapist_over(actor, user_id)
            record = self.users.update(user_id, disabled=bool(disabled))
            if disabled:
                self._end_all_sessions(user_id)
                self.studio.circles.end_invites_made_by(user_id)
            for circle_id in circles:
                self._audit(actor, "disable" if disabled else "enable", user_id, circle_id)
            return User.from_record(record)

    def _audit(self, actor: User, action: str, user_id: str, circle_id: str | None) -> None:
        self.store.collection("audit").insert(
            {
                "actor_id": actor.id,
                "action": action,
                "subject_type": "user",
                "subject_id": user_id,
                "circle_id": circle_id,
                "why": "",
                "at": self.studio.now().isoformat(),
            }
        )


def _code_to_show(keyring: Keyring) -> dict:
    """Keep a new recovery code, sealed with the person's key, until they say they kept it."""
    if not keyring.recovery_code:
        return {}
    return {"pending_recovery_code": keyring.seal({"code": keyring.recovery_code}, "recovery-code")}


def _event(entry: dict) -> AccountEvent:
    return AccountEvent(
        kind=entry["kind"],
        at=datetime.fromisoformat(entry["at"]),
        by=str(entry.get("by") or ""),
        notes_kept=bool(entry.get("notes_kept", True)),
    )


ARRIVAL_PAGE = re.compile(r"^[a-z][a-z-]{0,39}$")
ARRIVAL_LIMITS = {"query": 8, "flashes": 6, "text": 500}


def _clean_arrival(arrival: dict) -> dict:
    """Return the parts of an arrival worth keeping: a page name, its query, a few messages."""
    kept: dict = {}
    page = arrival.get("page")
    if isinstance(page, str) and ARRIVAL_PAGE.match(page):
        kept["page"] = page
        query = arrival.get("query") or {}
        kept["query"] = {
            str(k)[:40]: str(v)[: ARRIVAL_LIMITS["text"]]
            for k, v in list(query.items())[: ARRIVAL_LIMITS["query"]]
            if isinstance(v, str)
        }
    flashes = [
        str(text)[: ARRIVAL_LIMITS["text"]]
        for text in (arrival.get("flashes") or ())[: ARRIVAL_LIMITS["flashes"]]
        if isinstance(text, str) and text
    ]
    if flashes:
        kept["flashes"] = flashes
    return kept
