"""Who may do what: the single place services ask before they read or write.

Every check re-reads the acting person from the store, so a stale ``User`` held by
a page (say, of an account disabled a minute ago) grants nothing. The rules that more than
one service needs live here as public methods: who may read an artwork, who runs a person's
circle, who may report, resolve or remove, and what a co-facilitator's invite may be.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from .errors import NotFound, PermissionDenied
from .models import ROLE_THERAPIST, Invite, User

if TYPE_CHECKING:
    from .studio import Studio

__all__ = [
    "COFACILITATOR",
    "FACILITATOR",
    "INVITE_MAX_DAYS",
    "INVITE_MAX_USES",
    "MODERATORS",
    "OPEN_REPORT_LIMIT",
    "PARTICIPANT",
    "Policy",
    "audiences",
    "shown_to",
]

FACILITATOR = "facilitator"  # a therapist who runs the circle
COFACILITATOR = "cofacilitator"  # a participant trusted with moderation and invites
PARTICIPANT = "participant"
MODERATORS = (FACILITATOR, COFACILITATOR)

# A co-facilitator's invite always runs out: at most this many people, for at most this long
# (the invite form offers the same range).
INVITE_MAX_USES = 100
INVITE_MAX_DAYS = 90
# Reports hide what they are about, so one person can only have a few waiting at a time.
OPEN_REPORT_LIMIT = 5

SIGN_IN_FIRST = "Please sign in first."
ACCOUNT_DELETED = "This account has been deleted, so it can't be used any more."
ARTWORK_GONE = "We couldn't find that artwork. It may have been removed."
COMMENT_GONE = "We couldn't find that comment. It may have been removed."
NOUNS = {"artwork": "artwork", "comment": "comment"}
EVERYONE = "everyone"


def shown_to(record: dict) -> list[str]:
    """Return the audiences an artwork or comment shows to (``visible_to``, as index keys).

    Someone sees it when one of their ``audiences`` is in this list: the gallery is paged
    by the store from an index of these, so the rule here and in ``visible_to`` must agree.
    """
    status = record.get("status", "visible")
    if status == "visible":
        return [EVERYONE]
    if status == "removed":
        return []
    author = f"author {record['user_id']}"
    if status == "held":
        return [author, FACILITATOR]
    return [author, *MODERATORS]


def audiences(actor_id: str, role: str) -> list[str]:
    """Return the audiences someone with this role in a circle belongs to (see ``shown_to``)."""
    return [EVERYONE, f"author {actor_id}", role]


class Policy:
    """Authorization rules shared by every service."""

    def __init__(self, studio: Studio) -> None:
        self.studio = studio
        self.users = studio.store.collection("users")
        self.memberships = studio.store.collection("memberships")
        self.circles = studio.store.collection("circles")
        self.artworks = studio.store.collection("artworks")
        self.comments = studio.store.collection("comments")
        self.flags = studio.store.collection("flags")

    def active(self, actor: User | None) -> dict:
        """Return the actor's current record, or refuse anonymous and disabled people."""
        if actor is None:
            raise PermissionDenied(SIGN_IN_FIRST)
        record = self.users.get(actor.id)
        if record is None:
            raise PermissionDenied(SIGN_IN_FIRST)
        if record.get("erasing_since"):
            # Being deleted: shut at once, even while its records are still being removed.
            raise PermissionDenied(ACCOUNT_DELETED)
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
        return record["user_id"] == actor_id or role in MODERATORS

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

    def role_in(self, user_id: str, circle_id: str) -> str | None:
        """Return a person's role in a circle, or None if they aren't in it."""
        membership = self.membership(user_id, circle_id)
        return membership["role"] if membership else None

    # -- reading art and words -------------------------------------------------------------------

    def readable_artwork(self, actor: User | None, artwork_id: str) -> dict:
        """Return an artwork the actor may see, or refuse (NotFound if it isn't theirs to see)."""
        record = self.artworks.get(artwork_id)
        if record is None:
            self.active(actor)
            raise NotFound(ARTWORK_GONE)
        membership = self.member(actor, record["circle_id"])
        assert actor is not None
        if not self.visible_to(record, actor.id, membership["role"]):
            raise NotFound(ARTWORK_GONE)
        return record

    def readable_comment(self, actor: User | None, comment_id: str) -> tuple[dict, dict]:
        """Return a comment the actor may see and the artwork it is on, or refuse."""
        comment = self.comments.get(comment_id)
        if comment is None:
            self.active(actor)
            raise NotFound(COMMENT_GONE)
        artwork = self.readable_artwork(actor, comment["artwork_id"])
        assert actor is not None
        role = self.member(actor, artwork["circle_id"])["role"]
        if not self.visible_to(comment, actor.id, role):
            raise NotFound(COMMENT_GONE)
        return comment, artwork

    # -- people and the circles that hold them ---------------------------------------------------

    def shares_circle(self, a: str, b: str, *, facilitating: bool = False) -> bool:
        """Say whether two people share a circle (one the first facilitates, if asked)."""
        mine = {
            m["circle_id"]
            for m in self.memberships.by("user", a)
            if not facilitating or m["role"] in MODERATORS
        }
        return any(m["circle_id"] in mine for m in self.memberships.by("user", b))

    def circles_run_for(self, reader: dict, user_id: str) -> set[str]:
        """Return the circles a reader runs as therapist that the person belongs to.

        ``reader`` is the record ``active()`` returned, so the reader is known to be active.
        """
        if reader["role"] != ROLE_THERAPIST:
            return set()
        run = {
            m["circle_id"]
            for m in self.memberships.by("user", reader["id"])
            if m["role"] == FACILITATOR
        }
        return {m["circle_id"] for m in self.memberships.by("user", user_id)} & run

    def therapist_over(self, actor: User | None, user_id: str) -> dict:
        """Require a therapist who runs a circle the (participant) person belongs to."""
        reader = self.therapist(actor)
        target = self.users.get(user_id)
        if target is None:
            raise NotFound()
        if not self.circles_run_for(reader, user_id):
            raise PermissionDenied("That person isn't in a circle you run.")
        if target["role"] == ROLE_THERAPIST:
            raise PermissionDenied("Therapist accounts are looked after by the therapists.")
        return target

    # -- reports ---------------------------------------------------------------------------------

    def may_report(
        self,
        actor: User | None,
        subject_type: str,
        subject: dict,
        circle_id: str,
        *,
        adds_one: bool,
    ) -> None:
        """Refuse a report of one's own piece, in an archived circle, or beyond the limit.

        ``adds_one`` says whether the report would give the actor one more open report (not
        when they have already reported this piece).
        """
        self.active(actor)
        assert actor is not None
        if subject["user_id"] == actor.id:
            raise PermissionDenied(
                f"This is your own {NOUNS[subject_type]}, so there's nothing to report. "
                "You can change or delete it yourself."
            )
        self.writable_circle(circle_id)
        if adds_one and self.open_reports_by(actor.id) >= OPEN_REPORT_LIMIT:
            raise PermissionDenied(
                f"Thank you for looking out for the circle. You have {OPEN_REPORT_LIMIT} reports "
                "waiting for a facilitator already; once they've looked at those, you can send "
                "another. If something feels urgent, please contact your facilitator directly."
            )

    def open_reports_by(self, user_id: str) -> int:
        """Return how many open reports a person has made, across their circles."""
        return sum(
            1
            for membership in self.memberships.by("user", user_id)
            for flag in self.flags.by("circle", membership["circle_id"])
            if flag["kind"] == "report"
            and flag["status"] == "open"
            and user_id in flag.get("reporters", ())
        )

    def resolve_refusal(self, actor_id: str, role: str, flag: dict, action: str) -> str | None:
        """Say why a facilitator with this role may not take this action on a report, or None.

        Nobody settles a report they raised, a co-facilitator doesn't settle one about
        themselves, and only a therapist running the circle removes a facilitator's piece.
        """
        if actor_id in flag.get("reporters", ()):
            return "You raised this report, so another facilitator needs to look at it."
        if role == COFACILITATOR and flag["about_user_id"] == actor_id:
            return "This one is about you, so another facilitator needs to look at it."
        if action == "remove" and role != FACILITATOR:
            author_role = self.role_in(flag["about_user_id"], flag["circle_id"])
            author = self.users.get(flag["about_user_id"]) or {}
            if author_role in MODERATORS or author.get("role") == ROLE_THERAPIST:
                noun = NOUNS.get(flag["subject_type"], "piece")
                return (
                    f"This {noun} is by one of the circle's facilitators, so only a therapist "
                    "running the circle can remove it. You can keep it hidden meanwhile."
                )
        return None

    def resolver(self, actor: User | None, flag: dict, action: str) -> dict:
        """Require a facilitator who may take this action on a report; return their membership."""
        membership = self.facilitator(actor, flag["circle_id"], therapist_only=False)
        assert actor is not None
        refusal = self.resolve_refusal(actor.id, membership["role"], flag, action)
        if refusal is not None:
            raise PermissionDenied(refusal)
        return membership

    @staticmethod
    def unchanged_while_reviewed(record: dict, noun: str) -> None:
        """Refuse to change the words of an artwork or comment a facilitator is looking at."""
        if record.get("status") == "hidden":
            raise PermissionDenied(
                f"A facilitator is looking at this {noun}, so it can't be changed right now."
            )

    # -- invites ---------------------------------------------------------------------------------

    def check_invite_terms(
        self, role: str, max_uses: int | None, expires_in_days: float | None
    ) -> None:
        """Refuse a co-facilitator's invite that never runs out (therapists choose freely)."""
        if role == FACILITATOR:
            return
        if max_uses is None or max_uses > INVITE_MAX_USES:
            raise PermissionDenied(
                f"An invite you make can let in up to {INVITE_MAX_USES} people; only a therapist "
                "running the circle can make one without a limit."
            )
        if expires_in_days is None or expires_in_days > INVITE_MAX_DAYS:
            raise PermissionDenied(
                f"An invite you make can last up to {INVITE_MAX_DAYS} days; only a therapist "
                "running the circle can make one that never expires."
            )

    def invite_open(self, invite: dict, now: datetime) -> bool:
        """Say whether an invite still lets someone in.

        It must not be revoked, used up or expired, its circle must be open (not archived),
        and a co-facilitator's invite needs its maker still to be a co-facilitator there.
        """
        circle = self.circles.get(invite["circle_id"])
        if circle is None or circle.get("archived"):
            return False
        return Invite.from_record(invite).usable(now) and self.invite_maker_trusted(invite)

    def invite_maker_trusted(self, invite: dict) -> bool:
        """Say whether a co-facilitator's invite still has a co-facilitator behind it.

        Their invites end when they are made a participant again, paused, or leave the
        circle; a therapist's invites keep working (even after they hand over and leave).
        """
        made_as = invite.get("made_as")
        maker = self.users.get(invite.get("created_by") or "")
        if made_as is None:
            # Made before invites said who made them: judge by the maker's account.
            made_as = COFACILITATOR if maker and maker["role"] != ROLE_THERAPIST else FACILITATOR
        if made_as == FACILITATOR:
            return True
        if maker is None or maker.get("disabled"):
            return False
        return self.role_in(maker["id"], invite["circle_id"]) in MODERATORS
