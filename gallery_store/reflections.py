"""Reflections and mood check-ins: a person's private journal, shared only when they choose.

A reflection is private to its author. When the author shares it with therapists, the
therapists who run (not co-facilitate) a circle the author belongs to may read it, and every
such read is recorded so the author can see who read their note and when. Mood check-ins are
a quick 1–5 before/after score; they count in a therapist's aggregates only with the person's
consent (``set_insights_consent``). Reflection text is never written to the log.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from types import EllipsisType
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import NotFound, PermissionDenied, ValidationError
from .models import MoodCheckin, Reflection, SavedReflection, User
from .policy import Policy
from .text import clean_text

if TYPE_CHECKING:
    from .storage import Collection
    from .studio import Studio

__all__ = [
    "FEELINGS",
    "MOMENTS",
    "MOODS",
    "REFLECTION_LIMIT",
    "Reflections",
    "consents",
    "local_date",
]

log = logging.getLogger(__name__)

MOODS: dict[int, str] = {1: "Very low", 2: "Low", 3: "Okay", 4: "Good", 5: "Very good"}
FEELINGS: tuple[str, ...] = (
    "calm",
    "tired",
    "anxious",
    "hopeful",
    "sad",
    "grateful",
    "frustrated",
    "relieved",
    "lonely",
    "connected",
)
MOMENTS: tuple[str, ...] = ("before", "after")
REFLECTION_LIMIT = 5000

NOT_FOUND = "We couldn't find that reflection. It may have been deleted."
NOT_YOURS = "Reflections are private to the person who wrote them."


def local_date(at: datetime, timezone: str | None) -> str:
    """Return the ISO calendar date of ``at`` in a circle's time zone (UTC if unknown)."""
    try:
        zone = ZoneInfo(timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return at.astimezone(zone).date().isoformat()


def _check_mood(value: int | None, label: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value not in MOODS:
        raise ValidationError(
            f"{label} is a number from 1 ({MOODS[1].lower()}) to 5 ({MOODS[5].lower()})."
        )
    return value


def _check_feelings(feelings: Iterable[str] | str | None) -> list[str]:
    if not feelings:
        return []
    if isinstance(feelings, str):
        feelings = (feelings,)
    chosen: list[str] = []
    for feeling in feelings:
        word = str(feeling).strip().lower()
        if word not in FEELINGS:
            raise ValidationError(
                f"“{feeling}” isn't one of the feelings to choose from: {', '.join(FEELINGS)}."
            )
        if word not in chosen:
            chosen.append(word)
    return chosen


def _clean_reflection(text: str) -> str:
    return clean_text(text, field="reflection", max_length=REFLECTION_LIMIT, required=True)


class Reflections:
    """Write, read, share and delete reflections; check in moods; choose insights consent."""

    def __init__(self, studio: Studio) -> None:
        self.studio = studio
        self.store = studio.store
        self.reflections = studio.store.collection("reflections")
        self.checkins = studio.store.collection("moods")
        self.reads = studio.store.collection("reads")
        self.audit = studio.store.collection("audit")
        self.flags = studio.store.collection("flags")
        self.preferences = studio.store.collection("preferences")
        self.artworks = studio.store.collection("artworks")
        self.prompts = studio.store.collection("prompts")
        self.circles = studio.store.collection("circles")
        self.users = studio.store.collection("users")
        self.policy = Policy(studio)

    # -- writing ----------------------------------------------------------------------------------

    def write(
        self,
        actor: User,
        text: str,
        artwork_id: str | None = None,
        mood_before: int | None = None,
        mood_after: int | None = None,
        share_with_therapist: bool = False,
        *,
        feelings: Iterable[str] = (),
        prompt_id: str | None = None,
        circle_id: str | None = None,
    ) -> Reflection:
        """Write a reflection, private unless shared with the circle's therapists."""
        clean = _clean_reflection(text)
        before = _check_mood(mood_before, "Your mood before")
        after = _check_mood(mood_after, "Your mood after")
        chosen = _check_feelings(feelings)
        shared = bool(share_with_therapist)
        assessment = self.studio.moderation.decide(clean)
        with self.store.transaction():
            self.policy.active(actor)
            if artwork_id is not None:
                artwork = self._own_artwork(actor, artwork_id)
                if circle_id is not None and circle_id != artwork["circle_id"]:
                    raise ValidationError("That artwork was shared in a different circle.")
                circle_id = artwork["circle_id"]
                prompt_id = prompt_id or artwork.get("prompt_id")
            circle_id = self._circle_for(actor, circle_id)
            self._check_prompt(prompt_id)
            now = self.studio.now().isoformat()
            record = self.reflections.insert(
                {
                    "user_id": actor.id,
                    "text": clean,
                    "artwork_id": artwork_id,
                    "prompt_id": prompt_id,
                    "circle_id": circle_id,
                    "mood_before": before,
                    "mood_after": after,
                    "feelings": chosen,
                    "share_with_therapist": shared,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            self._crisis_check(actor, record, assessment)
            return SavedReflection.from_record(
                record, support=self.studio.support.offer(assessment, circle_id)
            )

    def edit(
        self,
        actor: User,
        reflection_id: str,
        *,
        text: str | None = None,
        mood_before: int | EllipsisType | None = ...,
        mood_after: int | EllipsisType | None = ...,
        share_with_therapist: bool | None = None,
        feelings: Iterable[str] | None = None,
    ) -> SavedReflection:
        """Change your reflection; leave out what stays the same (None clears a mood)."""
        changes: dict = {}
        if text is not None:
            changes["text"] = _clean_reflection(text)
        if mood_before is not ...:
            changes["mood_before"] = _check_mood(mood_before, "Your mood before")
        if mood_after is not ...:
            changes["mood_after"] = _check_mood(mood_after, "Your mood after")
        if share_with_therapist is not None:
            changes["share_with_therapist"] = bool(share_with_therapist)
        if feelings is not None:
            changes["feelings"] = _check_feelings(feelings)
        assessment = self.studio.moderation.decide(changes["text"]) if "text" in changes else None
        with self.store.transaction():
            record = self._own(actor, reflection_id)
            if not changes:
                return SavedReflection.from_record(record)
            was = (record["text"], record.get("share_with_therapist", False))
            changes["updated_at"] = self.studio.now().isoformat()
            record = self.reflections.update(reflection_id, **changes)
            shared = record.get("share_with_therapist", False)
            if not shared:
                self._forget_excerpts(reflection_id)
            if assessment is None and shared != was[1]:
                assessment = self.studio.moderation.decide(record["text"])
            if assessment is None:
                return SavedReflection.from_record(record)
            self._crisis_check(actor, record, assessment)
            support = self.studio.support.offer(assessment, record.get("circle_id"))
            return SavedReflection.from_record(record, support=support)

    def delete(self, actor: User, reflection_id: str) -> None:
        """Delete your reflection for good (the record of who read it goes too)."""
        with self.store.transaction():
            self._own(actor, reflection_id)
            for read_id in list(self.reads.ids_by("subject", reflection_id)):
                self.reads.remove(read_id)
            # A crisis flag stays so the therapist still checks in, but the words go.
            self._forget_excerpts(reflection_id)
            self.reflections.remove(reflection_id)

    def _forget_excerpts(self, reflection_id: str) -> None:
        """Take the author's words out of every flag about a reflection no longer shared."""
        for flag in self.flags.by("subject", reflection_id):
            if flag.get("excerpt"):
                self.flags.update(flag["id"], excerpt="")

    def _own_artwork(self, actor: User, artwork_id: str) -> dict:
        artwork = self.artworks.get(artwork_id)
        if artwork is None or artwork.get("status") == "removed":
            raise NotFound("We couldn't find that artwork. It may have been removed.")
        if artwork["user_id"] != actor.id:
            raise PermissionDenied("You can write reflections about your own artwork.")
        return artwork

    def _circle_for(self, actor: User, circle_id: str | None) -> str | None:
        if circle_id is not None:
            self.policy.member(actor, circle_id)
            return circle_id
        circles = self.policy.circle_ids(actor)
        # Someone outside every circle can still keep a journal; no one else will see it.
        return circles[0] if circles else None

    def _check_prompt(self, prompt_id: str | None) -> None:
        if prompt_id is not None and prompt_id not in self.prompts:
            raise ValidationError("That prompt isn't in the library any more.")

    def _crisis_check(self, actor: User, record: dict, assessment) -> None:
        # A private note still alerts the therapists, but without its words.
        self.studio.moderation.raise_flag(
            actor,
            record["circle_id"],
            "reflection",
            record["id"],
            record["text"],
            assessment,
            private=not record.get("share_with_therapist", False),
        )

    # -- reading ----------------------------------------------------------------------------------

    def for_user(self, actor: User, user_id: str) -> list[Reflection]:
        """Return the reflections you may read of a person, newest first (reads are logged)."""
        with self.store.transaction():
            reader = self.policy.active(actor)
            assert actor is not None
            if user_id == actor.id:
                return [
                    Reflection.from_record(r) for r in self.reflections.newest_by("user", user_id)
                ]
            circles = self.policy.circles_run_for(reader, user_id)
            if not circles:
                raise PermissionDenied(NOT_YOURS)
            shown = [
                record
                for record in self.reflections.newest_by("user", user_id)
                if record.get("share_with_therapist") and record.get("circle_id") in circles
            ]
            for record in shown:
                self._log_read(actor, record)
            return [Reflection.from_record(r) for r in shown]

    def get(self, actor: User, reflection_id: str) -> Reflection:
        """Return one reflection: your own, or one shared with you as the circle's therapist."""
        with self.store.transaction():
            reader = self.policy.active(actor)
            assert actor is not None
            record = self.reflections.get(reflection_id)
            if record is None:
                raise NotFound(NOT_FOUND)
            if record["user_id"] == actor.id:
                return Reflection.from_record(record)
            circles = self.policy.circles_run_for(reader, record["user_id"])
            if not (record.get("share_with_therapist") and record.get("circle_id") in circles):
                raise PermissionDenied(NOT_YOURS)
            self._log_read(actor, record)
            return Reflection.from_record(record)

    def reads_of(self, actor: User, reflection_id: str) -> list[tuple[str, datetime]]:
        """Return who read your shared reflection and when, newest first."""
        with self.store.reading():
            self._own(actor, reflection_id)
            seen = []
            for read in self.reads.newest_by("subject", reflection_id):
                reader = self.users.get(read["reader_id"])
                name = reader["display_name"] if reader else "A former therapist"
                seen.append((name, datetime.fromisoformat(read["at"])))
            return seen

    def _own(self, actor: User, reflection_id: str) -> dict:
        self.policy.active(actor)
        record = self.reflections.get(reflection_id)
        if record is None:
            raise NotFound(NOT_FOUND)
        if record["user_id"] != actor.id:
            raise PermissionDenied(NOT_YOURS)
        return record

    def _log_read(self, actor: User, record: dict) -> None:
        at = self.studio.now().isoformat()
        self.reads.insert(
            {
                "reader_id": actor.id,
                "subject_type": "reflection",
                "subject_id": record["id"],
                "author_id": record["user_id"],
                "circle_id": record.get("circle_id"),
                "at": at,
            }
        )
        self.audit.insert(
            {
                "actor_id": actor.id,
                "action": "read-reflection",
                "subject_type": "reflection",
                "subject_id": record["id"],
                "circle_id": record.get("circle_id"),
                "why": "shared with the circle's therapists",
                "at": at,
                "details": {},
            }
        )

    # -- mood check-ins ---------------------------------------------------------------------------

    def check_in(
        self,
        actor: User,
        moment: str,
        score: int,
        *,
        feelings: Iterable[str] = (),
        circle_id: str | None = None,
        prompt_id: str | None = None,
    ) -> MoodCheckin:
        """Record how you feel before or after making art (1 very low to 5 very good)."""
        if moment not in MOMENTS:
            raise ValidationError("A check-in is either before or after making art.")
        if score is None:
            raise ValidationError("Please choose how you feel, from 1 to 5.")
        checked = _check_mood(score, "Your mood")
        chosen = _check_feelings(feelings)
        with self.store.transaction():
            self.policy.active(actor)
            circle_id = self._circle_for(actor, circle_id)
            self._check_prompt(prompt_id)
            record = self.checkins.insert(
                {
                    "user_id": actor.id,
                    "moment": moment,
                    "score": checked,
                    "circle_id": circle_id,
                    "prompt_id": prompt_id,
                    "feelings": chosen,
                    "created_at": self.studio.now().isoformat(),
                }
            )
            return MoodCheckin.from_record(record)

    def moods(self, actor: User) -> list[MoodCheckin]:
        """Return your mood check-ins, oldest first."""
        with self.store.reading():
            self.policy.active(actor)
            return [MoodCheckin.from_record(r) for r in self.checkins.by("user", actor.id)]

    def mood_timeline(self, actor: User) -> list[dict]:
        """Return your check-ins as chart rows: date, moment, score, prompt_id (oldest first)."""
        with self.store.reading():
            self.policy.active(actor)
            rows = []
            for record in self.checkins.by("user", actor.id):
                circle = self.circles.get(record.get("circle_id") or "")
                at = datetime.fromisoformat(record["created_at"])
                rows.append(
                    {
                        "date": local_date(at, circle.get("timezone") if circle else None),
                        "moment": record["moment"],
                        "score": record["score"],
                        "prompt_id": record.get("prompt_id"),
                    }
                )
            return rows

    # -- consent ----------------------------------------------------------------------------------

    def set_insights_consent(self, actor: User, consent: bool) -> bool:
        """Choose whether your mood check-ins count in your therapists' group trends."""
        consent = bool(consent)
        with self.store.transaction():
            self.policy.active(actor)
            records = self.preferences.by("user", actor.id)
            if records:
                self.preferences.update(records[0]["id"], insights_consent=consent)
            else:
                self.preferences.insert({"user_id": actor.id, "insights_consent": consent})
        return consent

    def insights_consent(self, actor: User) -> bool:
        """Say whether your check-ins count in group trends (off until you say yes)."""
        with self.store.reading():
            self.policy.active(actor)
            return consents(self.preferences, actor.id)


def consents(preferences: Collection, user_id: str) -> bool:
    """Say whether a person has agreed to their moods counting in group trends."""
    return any(r.get("insights_consent") is True for r in preferences.by("user", user_id))
