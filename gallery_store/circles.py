"""Circles: peer groups, their invites, members and settings.

A co-facilitator's invites always run out (policy.py has the limits), and they end for good
when that person is made a participant again, paused, or taken out of the circle.

An invite code is looked up by its hash. The code itself is kept only sealed with the data
key of the person who made it (sealing.py), so they, and nobody else, can see their active
codes again while they are signed in; the store never holds a code in the clear.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import NotFound, PermissionDenied, ValidationError
from .models import ROLE_THERAPIST, Circle, Invite, Membership, User
from .passwords import code_hash, new_code
from .policy import COFACILITATOR, FACILITATOR, MODERATORS, PARTICIPANT, Policy
from .support import check_region, region_for_timezone
from .text import clean_text

if TYPE_CHECKING:
    from .studio import Studio

__all__ = ["Circles", "Member"]


@dataclass(frozen=True)
class Member:
    """A person as seen in a circle's member list."""

    user_id: str
    display_name: str
    role: str
    username: str | None = None  # only facilitators see usernames
    disabled: bool = False


def check_timezone(name: str) -> str:
    """Return a valid IANA time zone name or raise ValidationError."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(
            f"“{name}” isn't a time zone we know. Try a name like Europe/London."
        ) from exc
    return name


class Circles:
    """Create and run circles."""

    def __init__(self, studio: Studio) -> None:
        self.studio = studio
        self.store = studio.store
        self.circles = studio.store.collection("circles")
        self.memberships = studio.store.collection("memberships")
        self.invites_ = studio.store.collection("invites")
        self.users = studio.store.collection("users")
        self.policy = Policy(studio)

    def create(
        self,
        actor: User,
        name: str,
        *,
        timezone: str = "UTC",
        themes: tuple[str, ...] = (),
        allow_deep: bool = False,
        region: str | None = None,
    ) -> Circle:
        """Create a circle run by the acting therapist (crisis lines follow its time zone)."""
        clean_name = clean_text(
            name, field="circle name", max_length=60, required=True, multiline=False
        )
        check_timezone(timezone)
        country = check_region(region) if region is not None else region_for_timezone(timezone)
        with self.store.transaction():
            self.policy.therapist(actor)
            record = self.circles.insert(
                {
                    "name": clean_name,
                    "timezone": timezone,
                    "region": country,
                    "themes": list(themes),
                    "allow_deep": bool(allow_deep),
                    "archived": False,
                    "created_by": actor.id,
                    "created_at": self.studio.now().isoformat(),
                }
            )
            self.memberships.insert(
                {
                    "user_id": actor.id,
                    "circle_id": record["id"],
                    "role": FACILITATOR,
                    "joined_at": self.studio.now().isoformat(),
                }
            )
            return Circle.from_record(record)

    def get(self, actor: User, circle_id: str) -> Circle:
        """Return a circle the actor belongs to."""
        with self.store.reading():
            self.policy.member(actor, circle_id)
            return Circle.from_record(self.circles.get(circle_id))

    def for_user(self, actor: User) -> list[Circle]:
        """Return the actor's circles, in the order they joined."""
        with self.store.reading():
            return [
                Circle.from_record(self.circles.get(cid))
                for cid in self.policy.circle_ids(actor)
                if cid in self.circles
            ]

    def membership(self, actor: User, circle_id: str) -> Membership:
        """Return the actor's membership of a circle."""
        with self.store.reading():
            return Membership.from_record(self.policy.member(actor, circle_id))

    def facilitated(self, actor: User, *, therapist_only: bool = False) -> list[Circle]:
        """Return circles the actor runs (or co-facilitates)."""
        with self.store.reading():
            ids = self.policy.facilitated_circle_ids(actor, therapist_only=therapist_only)
            return [Circle.from_record(self.circles.get(c)) for c in ids if c in self.circles]

    def update(
        self,
        actor: User,
        circle_id: str,
        *,
        name: str | None = None,
        timezone: str | None = None,
        themes: tuple[str, ...] | None = None,
        allow_deep: bool | None = None,
        region: str | None = None,
    ) -> Circle:
        """Change a circle's name, time zone, themes, deep prompts or crisis-line country."""
        changes: dict = {}
        if region is not None:
            changes["region"] = check_region(region)
        if name is not None:
            changes["name"] = clean_text(
                name, field="circle name", max_length=60, required=True, multiline=False
            )
        if timezone is not None:
            changes["timezone"] = check_timezone(timezone)
        if themes is not None:
            changes["themes"] = list(themes)
        if allow_deep is not None:
            changes["allow_deep"] = bool(allow_deep)
        with self.store.transaction():
            self.policy.facilitator(actor, circle_id, therapist_only=True)
            self.policy.writable_circle(circle_id)
            return Circle.from_record(self.circles.update(circle_id, **changes))

    def archive(self, actor: User, circle_id: str, archived: bool = True) -> Circle:
        """Make a circle read-only (or open it again); its invites stop working."""
        with self.store.transaction():
            self.policy.facilitator(actor, circle_id, therapist_only=True)
            record = self.circles.update(circle_id, archived=bool(archived))
            return Circle.from_record(record)

    # -- invites -------------------------------------------------------------------------------

    def invite(
        self,
        actor: User,
        circle_id: str,
        *,
        max_uses: int | None = 1,
        expires_in_days: float | None = 14,
        label: str = "",
        for_therapist: bool = False,
    ) -> str:
        """Make an invite code for a circle and return it (it is stored only hashed).

        ``for_therapist`` makes a code for a fellow therapist, who then co-runs the circle;
        only a therapist running the circle can make one, and it works once.
        """
        if for_therapist:
            max_uses = 1
        if max_uses is not None and max_uses < 1:
            raise ValidationError("An invite needs at least one use.")
        if expires_in_days is not None and expires_in_days <= 0:
            raise ValidationError("An invite needs to last a little while.")
        clean_label = clean_text(label, field="label", max_length=60, multiline=False)
        code = new_code(prefix="KC")
        now = self.studio.now()
        with self.store.transaction():
            membership = self.policy.facilitator(
                actor, circle_id, therapist_only=bool(for_therapist)
            )
            self.policy.writable_circle(circle_id)
            self.policy.check_invite_terms(membership["role"], max_uses, expires_in_days)
            self.invites_.insert(
                {
                    "circle_id": circle_id,
                    "code_hash": code_hash(code),
                    "max_uses": max_uses,
                    "uses": 0,
                    "expires_at": (now + timedelta(days=expires_in_days)).isoformat()
                    if expires_in_days is not None
                    else None,
                    "revoked": False,
                    "label": clean_label,
                    "for_therapist": bool(for_therapist),
                    "created_by": actor.id,
                    # A co-facilitator's invites end with their role; a therapist's don't.
                    "made_as": membership["role"],
                    "created_at": now.isoformat(),
                    **_sealed_code(actor, code),
                }
            )
        return code

    def invites(self, actor: User, circle_id: str) -> list[Invite]:
        """Return a circle's invites, newest first; the actor's own active ones with their code."""
        now = self.studio.now()
        with self.store.reading():
            self.policy.facilitator(actor, circle_id, therapist_only=False)
            found = []
            for record in reversed(self.invites_.by("circle", circle_id)):
                invite = Invite.from_record(
                    record,
                    revoked=record.get("revoked", False)
                    or not self.policy.invite_maker_trusted(record),
                )
                if invite.usable(now) and record.get("created_by") == actor.id:
                    invite = replace(invite, code=_opened_code(actor, record))
                found.append(invite)
            return found

    def revoke_invite(self, actor: User, invite_id: str) -> Invite:
        """Stop an invite code from working."""
        with self.store.transaction():
            record = self.invites_.get(invite_id)
            if record is None:
                raise NotFound()
            self.policy.facilitator(actor, record["circle_id"], therapist_only=False)
            return Invite.from_record(self.invites_.update(invite_id, revoked=True))

    def end_invites_made_by(self, user_id: str, circle_id: str | None = None) -> None:
        """Revoke the open invites a co-facilitator made (in one circle, or all).

        Callers check permission; a therapist's invites are left alone.
        """
        with self.store.transaction():
            person = self.users.get(user_id)
            if person is not None and person["role"] == ROLE_THERAPIST:
                return
            circle_ids = (
                [circle_id]
                if circle_id is not None
                else [m["circle_id"] for m in self.memberships.by("user", user_id)]
            )
            for cid in circle_ids:
                for invite in self.invites_.by("circle", cid):
                    if (
                        invite.get("created_by") == user_id
                        and invite.get("made_as") != FACILITATOR
                        and not invite.get("revoked")
                    ):
                        self.invites_.update(invite["id"], revoked=True)

    # -- members -------------------------------------------------------------------------------

    def members(self, actor: User, circle_id: str) -> list[Member]:
        """Return who is in a circle; facilitators also see usernames."""
        with self.store.reading():
            mine = self.policy.member(actor, circle_id)
            sees_usernames = mine["role"] in MODERATORS
            result = []
            for membership in self.memberships.by("circle", circle_id):
                user = self.users.get(membership["user_id"])
                if user is None:
                    continue
                result.append(
                    Member(
                        user_id=user["id"],
                        display_name=user["display_name"],
                        role=membership["role"],
                        username=user["username"] if sees_usernames else None,
                        # Pausing is a facilitator's decision about a person; peers
                        # don't learn of it, as they don't learn sign-in names.
                        disabled=bool(user.get("disabled")) and sees_usernames,
                    )
                )
            return result

    def set_role(self, actor: User, circle_id: str, user_id: str, role: str) -> Membership:
        """Promote a participant to co-facilitator of a circle, or back (therapists)."""
        if role not in (PARTICIPANT, COFACILITATOR):
            raise ValidationError("A member can be a participant or a co-facilitator.")
        with self.store.transaction():
            self.policy.facilitator(actor, circle_id, therapist_only=True)
            membership = self.policy.membership(user_id, circle_id)
            if membership is None:
                raise NotFound("That person isn't in this circle.")
            if membership["role"] == FACILITATOR:
                raise PermissionDenied("A therapist's place in a circle can't be changed here.")
            if role == PARTICIPANT:
                self.end_invites_made_by(user_id, circle_id)
            return Membership.from_record(self.memberships.update(membership["id"], role=role))

    def remove_member(self, actor: User, circle_id: str, user_id: str) -> None:
        """Take a participant out of a circle (their art stays theirs)."""
        with self.store.transaction():
            self.policy.facilitator(actor, circle_id, therapist_only=True)
            membership = self.policy.membership(user_id, circle_id)
            if membership is None or membership["role"] == FACILITATOR:
                raise NotFound("That person isn't a participant in this circle.")
            self.end_invites_made_by(user_id, circle_id)
            self.memberships.remove(membership["id"])


def _sealed_code(actor: User, code: str) -> dict:
    """Return the invite record's field holding its code, sealed for its maker (or nothing)."""
    keyring = actor.keyring
    if keyring is None or keyring.user_id != actor.id:
        return {}
    return {"code_sealed": keyring.seal({"code": code}, f"invite:{code_hash(code)}")}


def _opened_code(actor: User, record: dict) -> str | None:
    """Return an invite's code for the person who made it, if their keys are open."""
    sealed = record.get("code_sealed")
    keyring = actor.keyring
    if not sealed or keyring is None or keyring.user_id != actor.id:
        return None
    opened = keyring.open(sealed, f"invite:{record['code_hash']}")
    return opened.get("code") if opened else None
