"""Moderation: crisis flags, reports, the facilitators' queue, notices and the audit log.

Two kinds of flag reach the queue. A *crisis* flag is raised by ``flag_if_crisis`` when
someone's own words suggest they may be in danger; only the therapists who run the circle see
it. A *report* is raised by a member who asks a facilitator to look at an artwork or comment;
the piece is hidden from the rest of the circle until a facilitator restores or removes it, and
co-facilitators may help with those. Nobody settles a report they raised, and only a therapist
running the circle removes a facilitator's piece; reports can't be raised in an archived circle,
and one person has only a few waiting at a time (the rules live in ``policy.py``). Every
facilitator action is written to the audit log with who, when and why.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from .crisis import AT_RISK, Assessment, assess
from .crisis.detector import NOTHING
from .errors import NotFound, PermissionDenied, ValidationError
from .models import ROLE_THERAPIST, Artwork, AuditEntry, Flag, Notice, User, parse_time
from .names import with_current_names
from .policy import FACILITATOR, MODERATORS, Policy
from .text import clean_text

if TYPE_CHECKING:
    from .studio import Studio

__all__ = [
    "ACTIONS",
    "CRISIS_OUTCOMES",
    "EXCERPT_LIMIT",
    "HELD",
    "NOTE_LIMIT",
    "REASON_LIMIT",
    "Moderation",
    "Notice",
    "QueueItem",
]

log = logging.getLogger(__name__)

ACTIONS = ("restore", "hide", "remove", "dismiss")
# How a facilitator closes a crisis flag: what they did for the person, never a moderation verb
# (nothing is restored or removed: the person is looked after).
CRISIS_OUTCOMES = {
    "reached_out": "I've reached out",
    "handled": "Mark as handled",
    "emergency": "Passed on to emergency services",
}
# Older names of those outcomes, still accepted (the audit log keeps what was chosen then).
CRISIS_OUTCOME_ALIASES = {"safe_now": "handled"}
HELD = "held"  # a comment kept from the circle until a facilitator has read it
SUBJECTS = ("artwork", "comment")
EXCERPT_LIMIT = 280
REASON_LIMIT = 500
NOTE_LIMIT = 1000
PRIVATE_REASON = "A private reflection raised concern"

NOUNS = {"artwork": "artwork", "comment": "comment"}
REPORTED_NOTICE = (
    "Someone asked a facilitator to look at your {noun}. It's hidden from the circle for now "
    "while they do — this isn't a judgement of you. A facilitator will be in touch."
)
OUTCOME_NOTICES = {
    "restore": "A facilitator looked at your {noun} and it's back in the circle. Thank you for "
    "your patience.",
    "hide": "A facilitator has hidden your {noun} from the circle for now. You can still see it, "
    "and they'll be in touch to talk it through.",
    "remove": "A facilitator has taken your {noun} down from the circle. This isn't a judgement "
    "of you — they'll be in touch to talk it through.",
}


def _urgency(record: dict) -> int:
    """Return a flag's place in the queue: 0 someone at risk now, 1 a worry, 2 a report."""
    if record["kind"] != "crisis":
        return 2
    return 0 if record.get("tier", 1) == 1 else 1


@dataclass(frozen=True)
class QueueItem:
    """A flag in the facilitators' queue, with what they need to look at it."""

    flag: Flag
    circle_id: str
    subject_type: str
    subject_id: str
    artwork_id: str | None  # the piece to show: the artwork, or the one a comment is on
    has_thumb: bool  # whether studio.artworks.image(actor, artwork_id) can show it
    text: str  # the words as they are now ("" for a private reflection)
    author_name: str
    subject_status: str  # visible | hidden | removed | gone
    reporter_count: int
    reasons: tuple[str, ...] = ()
    reporter_names: tuple[str, ...] = ()  # only therapists running the circle see who reported
    tier: int = 0  # a crisis flag's tier: 1 at risk now, 2 worried about someone
    # What the viewer may do with an open report (a subset of ACTIONS), and if nothing, why.
    actions: tuple[str, ...] = ()
    waiting_for: str = ""
    # A report about words that also raised a crisis flag (shown to the circle's therapists):
    # the person comes before the piece.
    crisis_open: bool = False


class Moderation:
    """Look after the circle: flags, reports, the queue, notices and the audit log."""

    def __init__(self, studio: Studio) -> None:
        self.studio = studio
        self.store = studio.store
        self.flags = studio.store.collection("flags")
        self.audit = studio.store.collection("audit")
        self.notices_ = studio.store.collection("notices")
        self.artworks = studio.store.collection("artworks")
        self.comments = studio.store.collection("comments")
        self.reactions = studio.store.collection("reactions")
        self.users = studio.store.collection("users")
        self.policy = Policy(studio)

    # -- crisis signals --------------------------------------------------------------------------

    def flag_if_crisis(
        self,
        actor: User,
        circle_id: str | None,
        subject_type: str,
        subject_id: str,
        text: str,
        *,
        private: bool = False,
    ) -> Assessment:
        """Decide what someone's own words call for; raise (or raise the tier of) a flag."""
        assessment = self.decide(text)
        self.raise_flag(
            actor, circle_id, subject_type, subject_id, text, assessment, private=private
        )
        return assessment

    def decide(self, text: str) -> Assessment:
        """Return what someone's words call for (call it before taking the store's lock)."""
        try:
            return assess(text)
        except Exception:  # a fault in the detector must never stop someone sharing
            log.exception("the crisis check failed")
            return NOTHING

    def raise_flag(
        self,
        actor: User,
        circle_id: str | None,
        subject_type: str,
        subject_id: str,
        text: str,
        assessment: Assessment,
        *,
        private: bool = False,
    ) -> None:
        """Raise (or raise the tier of) a crisis flag for a decision already made."""
        if not assessment.supportive:
            # A mention raises nothing; an open flag stays until a facilitator closes it.
            return
        if private:
            reason, excerpt = PRIVATE_REASON, ""
        else:
            reason, excerpt = f"Their words suggest {assessment.kind}", text[:EXCERPT_LIMIT]
        now = self.studio.now().isoformat()
        # Joins the caller's transaction, so the flag exists exactly when the words do.
        with self.store.transaction():
            circle_id = circle_id or self._home_circle(actor.id)
            person = self.users.get(actor.id) or {}
            existing = self._open_flag(subject_id, "crisis")
            if existing is not None:
                tier = min(existing.get("tier", AT_RISK), assessment.tier)
                self.flags.update(
                    existing["id"], reason=reason, excerpt=excerpt, updated_at=now, tier=tier
                )
                raised = tier == AT_RISK and existing.get("tier", AT_RISK) != AT_RISK
                flag_id = existing["id"]
            else:
                flag_id = self.flags.insert(
                    {
                        "circle_id": circle_id,
                        "kind": "crisis",
                        "tier": assessment.tier,
                        "subject_type": subject_type,
                        "subject_id": subject_id,
                        "about_user_id": actor.id,
                        # Kept so a facilitator can still reach out if the account goes.
                        "about_name": person.get("display_name", ""),
                        "reason": reason,
                        "excerpt": excerpt,
                        "status": "open",
                        "created_at": now,
                        "updated_at": now,
                        "resolved_at": None,
                        "resolution": "",
                        "reporters": [],
                        "reasons": [],
                    }
                )["id"]
                raised = assessment.urgent
            alerts = getattr(self.studio, "alerts", None)
            if raised and circle_id and alerts is not None:
                alerts.urgent(circle_id, flag_id, tier=AT_RISK)

    def words_gone(self, subject_id: str) -> None:
        """Forget a deleted piece's words: its reports go; a crisis flag stays, wordless.

        The person who wrote those words may still need someone, so a crisis flag stays open
        until a facilitator closes it, but it keeps nothing of what was written.
        """
        for flag in self.flags.by("subject", subject_id):
            if flag["kind"] == "report":
                self.flags.remove(flag["id"])
            elif flag.get("excerpt") or not flag.get("subject_gone"):
                self.flags.update(flag["id"], excerpt="", subject_gone=True)

    def _home_circle(self, user_id: str) -> str | None:
        """Return a circle whose therapists should hear about a person, if any."""
        for membership in self.policy.memberships.by("user", user_id):
            return membership["circle_id"]
        return None

    def _open_flag(self, subject_id: str, kind: str) -> dict | None:
        for record in self.flags.by("subject", subject_id):
            if record["kind"] == kind and record["status"] == "open":
                return record
        return None

    # -- reports ---------------------------------------------------------------------------------

    def report(self, actor: User, subject_type: str, subject_id: str, reason: str) -> Flag:
        """Ask a facilitator to look at an artwork or comment; it is hidden until they do."""
        if subject_type not in SUBJECTS:
            raise ValidationError("Only artworks and comments can be reported.")
        why = clean_text(reason, field="reason", max_length=REASON_LIMIT, required=True)
        with self.store.transaction():
            subject, circle_id, words = self._reportable(actor, subject_type, subject_id)
            flag = self._open_flag(subject_id, "report")
            already = flag is not None and actor.id in flag.get("reporters", [])
            self.policy.may_report(actor, subject_type, subject, circle_id, adds_one=not already)
            now = self.studio.now().isoformat()
            if flag is None:
                flag = self.flags.insert(
                    {
                        "circle_id": circle_id,
                        "kind": "report",
                        "subject_type": subject_type,
                        "subject_id": subject_id,
                        "about_user_id": subject["user_id"],
                        "reason": why,
                        "excerpt": words[:EXCERPT_LIMIT],
                        "status": "open",
                        "created_at": now,
                        "updated_at": now,
                        "resolved_at": None,
                        "resolution": "",
                        "reporters": [actor.id],
                        "reasons": [why],
                    }
                )
            elif not already:
                flag = self.flags.update(
                    flag["id"],
                    reporters=[*flag.get("reporters", []), actor.id],
                    reasons=[*flag.get("reasons", []), why],
                    updated_at=now,
                )
            if subject.get("status", "visible") == "visible":
                self._collection(subject_type).update(subject_id, status="hidden")
                self._notify(subject["user_id"], REPORTED_NOTICE.format(noun=NOUNS[subject_type]))
            self._audit(actor, "report", subject_type, subject_id, circle_id, why)
            return Flag.from_record(flag)

    def _reportable(self, actor: User, subject_type: str, subject_id: str) -> tuple[dict, str, str]:
        """Return a subject the actor can see, its circle and its words."""
        if subject_type == "artwork":
            artwork = self.policy.readable_artwork(actor, subject_id)
            return artwork, artwork["circle_id"], artwork.get("caption", "")
        comment, artwork = self.policy.readable_comment(actor, subject_id)
        return comment, artwork["circle_id"], comment.get("text", "")

    def _collection(self, subject_type: str):
        return self.artworks if subject_type == "artwork" else self.comments

    # -- the queue -------------------------------------------------------------------------------

    def _roles(self, actor: User, circle_id: str | None) -> dict[str, str]:
        """Return ``circle_id -> role`` for the circles whose queue the actor may see."""
        if circle_id is not None:
            return {
                circle_id: self.policy.facilitator(actor, circle_id, therapist_only=False)["role"]
            }
        record = self.policy.active(actor)
        roles = {
            m["circle_id"]: m["role"]
            for m in self.policy.memberships.by("user", actor.id)
            if m["role"] in MODERATORS
        }
        if not roles and record["role"] != ROLE_THERAPIST:
            raise PermissionDenied("Only the circle's facilitators can do that.")
        return roles

    def _flags_for(self, roles: dict[str, str], include_resolved: bool) -> list[tuple[dict, str]]:
        found = []
        for circle_id, role in roles.items():
            for record in self.flags.by("circle", circle_id):
                if not include_resolved and record["status"] != "open":
                    continue
                # Crisis signals are clinical: they go to the therapists who run the circle.
                if record["kind"] == "crisis" and role != FACILITATOR:
                    continue
                found.append((record, role))
        return found

    def queue(
        self, actor: User, circle_id: str | None = None, *, include_resolved: bool = False
    ) -> list[QueueItem]:
        """Return the flags the actor may look at, newest first (open ones unless asked)."""
        with self.store.reading():
            roles = self._roles(actor, circle_id)
            found = self._flags_for(roles, include_resolved)
            # Newest first within each band; someone at risk now comes before everything else.
            found.sort(
                key=lambda pair: (
                    pair[0].get("updated_at") or pair[0]["created_at"],
                    pair[0]["seq"],
                ),
                reverse=True,
            )
            found.sort(key=lambda pair: _urgency(pair[0]))
            return [self._item(record, role, actor.id) for record, role in found]

    def _item(self, record: dict, role: str, viewer_id: str) -> QueueItem:
        subject_type = record["subject_type"]
        artwork_id: str | None = None
        text = ""
        status = "gone"
        if record.get("subject_gone"):
            pass  # deleted by its writer: nothing of it is left to show
        elif subject_type == "artwork":
            artwork = self.artworks.get(record["subject_id"])
            artwork_id = record["subject_id"] if artwork else None
            if artwork is not None:
                text, status = artwork.get("caption", ""), artwork.get("status", "visible")
        elif subject_type == "comment":
            comment = self.comments.get(record["subject_id"])
            if comment is not None:
                text, status = comment.get("text", ""), comment.get("status", "visible")
                artwork_id = comment["artwork_id"]
        else:
            # A private reflection: the words stay private; the flag says only that it raised
            # concern.
            status = "private"
        artwork = self.artworks.get(artwork_id) if artwork_id else None
        has_thumb = bool(artwork and artwork.get("thumb_name") and artwork["status"] != "removed")
        reporters = record.get("reporters", [])
        names: tuple[str, ...] = ()
        if role == FACILITATOR:
            names = tuple(self._name(user_id) for user_id in reporters)
        actions: tuple[str, ...] = ()
        waiting_for = ""
        if record["kind"] == "report" and record["status"] == "open":
            refusals = {a: self.policy.resolve_refusal(viewer_id, role, record, a) for a in ACTIONS}
            actions = tuple(a for a, refusal in refusals.items() if refusal is None)
            waiting_for = "" if actions else (refusals["restore"] or "")
        crisis_open = (
            record["kind"] == "report"
            and role == FACILITATOR
            and self._open_flag(record["subject_id"], "crisis") is not None
        )
        return QueueItem(
            flag=Flag.from_record(record),
            circle_id=record["circle_id"],
            subject_type=subject_type,
            subject_id=record["subject_id"],
            artwork_id=artwork_id,
            has_thumb=has_thumb,
            text=text,
            author_name=self._name(record["about_user_id"], record.get("about_name", "")),
            subject_status=status,
            reporter_count=len(reporters),
            reasons=tuple(record.get("reasons", [])),
            reporter_names=names,
            tier=record.get("tier", AT_RISK) if record["kind"] == "crisis" else 0,
            actions=actions,
            waiting_for=waiting_for,
            crisis_open=crisis_open,
        )

    def _name(self, user_id: str, kept: str = "") -> str:
        person = self.users.get(user_id)
        if person:
            return person["display_name"]
        return f"{kept} (has left)" if kept else "Someone who has left"

    def open_count(self, actor: User) -> int:
        """Return how many open flags await the actor (0 for people who don't moderate)."""
        with self.store.reading():
            try:
                roles = self._roles(actor, None)
            except PermissionDenied:
                return 0
            return len(self._flags_for(roles, include_resolved=False))

    # -- resolving -------------------------------------------------------------------------------

    def close_crisis(
        self, actor: User, flag_id: str, outcome: str, note: str = "", *, release: bool = False
    ) -> Flag:
        """Close a crisis flag with what happened; a held comment may then join the circle."""
        outcome = CRISIS_OUTCOME_ALIASES.get(outcome, outcome)
        if outcome not in CRISIS_OUTCOMES:
            raise ValidationError(
                "Choose what happened: " + ", ".join(f"“{o}”" for o in CRISIS_OUTCOMES.values())
            )
        words = clean_text(note, field="note", max_length=REASON_LIMIT)
        with self.store.transaction():
            record = self.flags.get(flag_id)
            if record is None or record["kind"] != "crisis":
                self.policy.active(actor)
                raise NotFound("We couldn't find that flag. It may already have been closed.")
            self.policy.facilitator(actor, record["circle_id"], therapist_only=True)
            if record["status"] != "open":
                raise ValidationError("This flag is already closed.")
            released = False
            if release and record["subject_type"] == "comment":
                comment = self.comments.get(record["subject_id"])
                if comment is not None and comment.get("status") == HELD:
                    self.comments.update(comment["id"], status="visible")
                    released = True
            now = self.studio.now().isoformat()
            updated = self.flags.update(
                flag_id,
                status="resolved",
                resolved_at=now,
                resolution=outcome,
                resolved_by=actor.id,
                updated_at=now,
            )
            self._audit(
                actor,
                outcome,
                record["subject_type"],
                record["subject_id"],
                record["circle_id"],
                words or CRISIS_OUTCOMES[outcome],
                details={
                    "flag_id": flag_id,
                    "kind": "crisis",
                    "tier": record.get("tier", 1),
                    "released": released,
                },
            )
            return Flag.from_record(updated)

    def resolve(self, actor: User, flag_id: str, action: str, why: str) -> Flag:
        """Restore, hide, remove or dismiss what a report is about, saying why."""
        if action not in ACTIONS:
            raise ValidationError("Choose restore, hide, remove or dismiss.")
        note = clean_text(why, field="reason", max_length=REASON_LIMIT, required=True)
        purge_artwork: str | None = None
        with self.store.transaction():
            record = self.flags.get(flag_id)
            if record is None:
                self.policy.active(actor)
                raise NotFound("We couldn't find that flag. It may already have been dealt with.")
            if record["kind"] == "crisis":
                self.policy.facilitator(actor, record["circle_id"], therapist_only=True)
                raise ValidationError(
                    "A crisis flag closes with what happened: "
                    + ", ".join(f"“{o}”" for o in CRISIS_OUTCOMES.values())
                )
            self.policy.resolver(actor, record, action)
            subject_type = record["subject_type"]
            if action != "dismiss":
                purge_artwork = self._apply(record, action)
            now = self.studio.now().isoformat()
            updated = self.flags.update(
                flag_id,
                status="resolved",
                resolved_at=now,
                resolution=action,
                resolved_by=actor.id,
                updated_at=now,
            )
            self._audit(
                actor,
                action,
                subject_type,
                record["subject_id"],
                record["circle_id"],
                note,
                details={"flag_id": flag_id, "kind": record["kind"]},
            )
            flag = Flag.from_record(updated)
        if purge_artwork is not None:
            # Purge commits on its own, after the decision above is durable: the artwork is
            # already marked removed, so nobody sees it even if deleting the files fails.
            self.studio.artworks.purge(purge_artwork)
        return flag

    def _apply(self, record: dict, action: str) -> str | None:
        """Change the subject's status; return an artwork id to purge after commit."""
        subject_type = record["subject_type"]
        if subject_type not in SUBJECTS:
            raise ValidationError(
                "A private reflection stays private — dismiss this flag once you've checked in."
            )
        collection = self._collection(subject_type)
        subject = collection.get(record["subject_id"])
        if subject is None or subject.get("status") == "removed":
            raise NotFound(
                f"That {NOUNS[subject_type]} has already been deleted, so there's nothing to "
                "change. You can dismiss this flag."
            )
        status = {"restore": "visible", "hide": "hidden", "remove": "removed"}[action]
        before = subject.get("status", "visible")
        collection.update(record["subject_id"], status=status)
        if before != status:
            self._notify(
                subject["user_id"], OUTCOME_NOTICES[action].format(noun=NOUNS[subject_type])
            )
        if action == "remove" and subject_type == "artwork":
            return record["subject_id"]
        return None

    # -- notices ---------------------------------------------------------------------------------

    def _notify(self, user_id: str, text: str, *, from_name: str = "") -> None:
        self.notices_.insert(
            {
                "user_id": user_id,
                "text": text,
                "from_name": from_name,
                "created_at": self.studio.now().isoformat(),
                "read": False,
            }
        )

    def contact(self, actor: User, user_id: str, note: str, *, circle_id: str) -> None:
        """Send a private note to a member of a circle the actor runs."""
        words = clean_text(note, field="note", max_length=NOTE_LIMIT, required=True)
        with self.store.transaction():
            me = self.policy.active(actor)
            self.policy.facilitator(actor, circle_id, therapist_only=True)
            if self.policy.membership(user_id, circle_id) is None:
                raise NotFound("That person isn't in this circle.")
            self._notify(user_id, words, from_name=me["display_name"])
            # The note itself stays between the two of them; the log says only that it was sent.
            self._audit(actor, "contact", "user", user_id, circle_id, "Sent a private note")

    def notices(self, actor: User) -> list[Notice]:
        """Return the actor's notices, newest first."""
        with self.store.reading():
            self.policy.active(actor)
            return [Notice.from_record(r) for r in self.notices_.newest_by("user", actor.id)]

    def mark_notices_read(self, actor: User) -> None:
        """Mark all of the actor's notices as read."""
        with self.store.transaction():
            self.policy.active(actor)
            for record in self.notices_.by("user", actor.id):
                if not record.get("read"):
                    self.notices_.update(record["id"], read=True)

    # -- the record ------------------------------------------------------------------------------

    def _audit(
        self,
        actor: User,
        action: str,
        subject_type: str,
        subject_id: str,
        circle_id: str | None,
        why: str,
        *,
        details: dict | None = None,
    ) -> None:
        self.audit.insert(
            {
                "actor_id": actor.id,
                "action": action,
                "subject_type": subject_type,
                "subject_id": subject_id,
                "circle_id": circle_id,
                "why": why,
                "at": self.studio.now().isoformat(),
                "details": details or {},
            }
        )

    def audit_log(self, actor: User, circle_id: str) -> list[AuditEntry]:
        """Return who did what, when and why in a circle, newest first (its therapists)."""
        with self.store.reading():
            self.policy.facilitator(actor, circle_id, therapist_only=True)
            return [AuditEntry.from_record(r) for r in self.audit.newest_by("circle", circle_id)]

    def unanswered(self, actor: User, circle_id: str, hours: float = 48) -> list[Artwork]:
        """Return visible artworks no one else has responded to in ``hours``, oldest first."""
        with self.store.reading():
            self.policy.facilitator(actor, circle_id, therapist_only=True)
            cutoff = self.studio.now() - timedelta(hours=hours)
            waiting: list[dict] = []
            for record in self.artworks.by("circle", circle_id):
                if record.get("status", "visible") != "visible":
                    continue
                created = parse_time(record.get("created_at"))
                if created is None or created > cutoff:
                    continue
                if self._answered(record):
                    continue
                waiting.append(record)
            return [
                Artwork.from_record(r)
                for r in with_current_names(self.users, waiting, "artist_name")
            ]

    def _answered(self, artwork: dict) -> bool:
        """Say whether anyone besides the artist has commented on or reacted to an artwork."""
        artist = artwork["user_id"]
        for comment in self.comments.by("artwork", artwork["id"]):
            if comment["user_id"] != artist and comment.get("status", "visible") == "visible":
                return True
        return any(r["user_id"] != artist for r in self.reactions.by("artwork", artwork["id"]))
