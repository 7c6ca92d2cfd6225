"""Who may do what: the single place services ask before they read or write.

Every check re-reads the acting person from the store, so a stale ``User`` held by
a page (say, of an account disabled a minute ago) grants nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import PermissionDenied
from .models import ROLE_THERAPIST, User

if TYPE_CHECKING:
    from .studio import Studio

__all__ = ["COFACILITATOR", "FACILITATOR", "PARTICIPANT", "Policy"]

FACILITATOR = "facilitator"  # a therapist who runs the circle
COFACILITATOR = "cofacilitator"  # a participant trusted with moderation and invites
PARTICIPANT = "participant"

SIGN_IN_FIRST = "Please sign in first."


class Policy:
    """Authorization rules shared by every service."""

    def __init__(self, studio: Studio) -> None:
        self.studio = studio
        self.users = studio.store.collection("users")
        self.memberships = studio.store.collection("memberships")
        self.circles = studio.store.collection("circles")

    def active(self, actor: User | None) -> dict:
        """Return the actor's current record, or refuse anonymous and disabled people."""
        if actor is None:
            raise PermissionDenied(SIGN_IN_FIRST)
        record = self.users.get(actor.id)
        if record is None:
            raise PermissionDenied(SIGN_IN_FIRST)
        if record.get("disabled"):
            raise PermissionDenied("This account is paused. Please talk to your facilitator.")
        return record

    def therapist(self, actor: User | None) -> dict:
        """Require an active therapist."""
        record = self.active(actor)
        if record["role"] != ROLE_THERAPIST:
            raise PermissionDenied("Only a therapist can do that.")
        return record

    def membership(self, user_id: str, circle_id: str) -> dict | None:
        """Return a person's membership of a circle, or None."""
        for record in self.memberships.by("user", user_id):
            if record["circle_id"] == circle_id:
                return record
        return None

    def member(self, actor: User | None, circle_id: str) -> dict:
        """Require that the actor belongs to (or runs) the circle; return the membership."""
        self.active(actor)
        assert actor is not None
        membership = self.membership(actor.id, circle_id)
        if membership is None or circle_id not in self.circles:
            raise PermissionDenied("You're not a member of that circle.")
        return membership

    def facilitator(self, actor: User | None, circle_id: str, *, therapist_only: bool) -> dict:
        """Require a therapist running the circle (or, if allowed, a co-facilitator)."""
        membership = self.member(actor, circle_id)
        allowed = {FACILITATOR} if therapist_only else {FACILITATOR, COFACILITATOR}
        if membership["role"] not in allowed:
            raise PermissionDenied("Only the circle's facilitators can do that.")
        return membership

    @staticmethod
    def visible_to(record: dict, actor_id: str, role: str) -> bool:
        """Say whether an artwork or comment shows to someone with this role in its circle.

        Hidden things (a report is being reviewed) still show to their author and the
        circle's facilitators; held comments (words of someone at risk) to their author and the
        circle's therapists; removed ones to no one.
        """
        status = record.get("status", "visible")
        if status == "visible":
            return True
        if status == "removed":
            return False
        if status == "held":
            # Words of someone at risk: a therapist running the circle reads them first.
            return record["user_id"] == actor_id or role == FACILITATOR
        return record["user_id"] == actor_id or role in (FACILITATOR, COFACILITATOR)

    def writable_circle(self, circle_id: str) -> dict:
        """Refuse changes to an archived (read-only) circle."""
        circle = self.circles.get(circle_id)
        if circle is None:
            raise PermissionDenied("You're not a member of that circle.")
        if circle.get("archived"):
            raise PermissionDenied("This circle has been archived, so it's read-only now.")
        return circle

    def circle_ids(self, actor: User | None) -> list[str]:
        """Return the circles an active actor belongs to, oldest membership first."""
        self.active(actor)
        assert actor is not None
        return [m["circle_id"] for m in self.memberships.by("user", actor.id)]

    def facilitated_circle_ids(self, actor: User | None, *, therapist_only: bool) -> list[str]:
        """Return the circles the actor runs (or co-facilitates, if allowed)."""
        self.active(actor)
        assert actor is not None
        allowed = {FACILITATOR} if therapist_only else {FACILITATOR, COFACILITATOR}
        return [
            m["circle_id"] for m in self.memberships.by("user", actor.id) if m["role"] in allowed
        ]
