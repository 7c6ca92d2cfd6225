"""Reflections and mood check-ins: a person's private journal, shared only when they choose.

A reflection is private to its author, and sealed: its words and feelings are encrypted
with the author's data key (see sealing.py), which the server can open only while the
author's browser presents its session cookie. When the author shares it with therapists, a
readable copy of the words is kept beside the sealed one for the therapists who run (not
co-facilitate) a circle the author belongs to; un-sharing removes the copy. Every read by a
therapist is recorded so the author can see who read their note and when. Mood check-ins are
a quick 1–5 before/after score; they count in a therapist's aggregates only with the person's
consent (``set_insights_consent``). Reflection text is never written to the log.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from itertools import islice
from types import EllipsisType
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import NotFound, PermissionDenied, ValidationError
from .models import MoodCheckin, Reflection, SavedReflection, User
from .policy import Policy
from .records import new_id
from .sealing import Keyring, require
from .text import clean_text

if TYPE_CHECKING:
    from .records import RecordCollection
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
LOCKED_NOTE = (
    "This note is locked since your password was reset. Your recovery code can open it "
    "(Account → Open locked notes)."
)


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
        keyring = require(actor.keyring if actor else None, actor.id if actor else "")
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
            record_id = new_id()
            record = self.reflections.insert(
                {
                    "id": record_id,
                    "user_id": actor.id,
                    "sealed": keyring.seal({"text": clean, "feelings": chosen}, record_id),
                    **_shared_copy(shared, clean, chosen),
                    "artwork_id": artwork_id,
                    "prompt_id": prompt_id,
                    "circle_id": circle_id,
                    "mood_before": before,
                    "mood_after": after,
                    "share_with_therapist": shared,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            self._crisis_check(actor, record, clean, assessment)
            return SavedReflection.from_record(
                record,
                text=clean,
                feelings=tuple(chosen),
                support=self.studio.support.offer(assessment, circle_id),
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
        keyring = require(actor.keyring if actor else None, actor.id if actor else "")
        with self.store.transaction():
            record = self._own(actor, reflection_id)
            if not changes:
                return SavedReflection.from_record(record, **self._private(record, keyring))
            words = self._private(record, keyring)
            if words["locked"]:
                raise PermissionDenied(LOCKED_NOTE)
            was_shared = record.get("share_with_therapist", False)
            text = changes.pop("text", words["text"])
            feelings = changes.pop("feelings", list(words["feelings"]))
            shared = changes.get("share_with_therapist", was_shared)
            changes["updated_at"] = self.studio.now().isoformat()
            changes["sealed"] = keyring.seal({"text": text, "feelings": feelings}, reflection_id)
            changes.update(_shared_copy(shared, text, feelings, clear=True))
            record = self.reflections.update(reflection_id, **changes)
            plain = {"text": text, "feelings": tuple(feelings)}
            if not shared:
                self._forget_excerpts(reflection_id)
            if assessment is None and shared != was_shared:
                assessment = self.studio.moderation.decide(text)
            if assessment is None:
                return SavedReflection.from_record(record, **plain)
            self._crisis_check(actor, record, text, assessment)
            support = self.studio.support.offer(assessment, record.get("circle_id"))
            return SavedReflection.from_record(record, support=support, **plain)

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

    def _crisis_check(self, actor: User, record: dict, text: str, assessment) -> None:
        # A private note still alerts the therapists, but without its words.
        self.studio.moderation.raise_flag(
            actor,
            record["circle_id"],
            "reflection",
            record["id"],
            text,
            assessment,
            private=not record.get("share_with_therapist", False),
        )

    # -- reading ----------------------------------------------------------------------------------

    def for_user(self, actor: User, user_id: str, *, limit: int | None = None) -> list[Reflection]:
        """Return the reflections you may read of a person, newest first (reads are logged).

        ``limit`` keeps only that many of the newest: only those are opened (and logged).
        """
        with self.store.transaction():
            reader = self.policy.active(actor)
            assert actor is not None
            if user_id == actor.id:
                return [
                    Reflection.from_record(r, **self._private(r, actor.keyring))
                    for r in islice(self.reflections.newest_by("user", user_id), limit)
                ]
            circles = self.policy.circles_run_for(reader, user_id)
            if not circles:
                raise PermissionDenied(NOT_YOURS)
            shared = (
                record
                for record in self.reflections.newest_by("user", user_id)
                if record.get("share_with_therapist") and record.get("circle_id") in circles
            )
            shown = list(islice(shared, limit))
            for record in shown:
                self._log_read(reader, record)
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
                return Reflection.from_record(record, **self._private(record, actor.keyring))
            circles = self.policy.circles_run_for(reader, record["user_id"])
            if not (record.get("share_with_therapist") and record.get("circle_id") in circles):
                raise PermissionDenied(NOT_YOURS)
            self._log_read(reader, record)
            return Reflection.from_record(record)

    def reads_of(self, actor: User, reflection_id: str) -> list[tuple[str, datetime]]:
        """Return who read your shared reflection and when, newest first."""
        with self.store.reading():
            self._own(actor, reflection_id)
            return [
                self._read_entry(read) for read in self.reads.newest_by("subject", reflection_id)
            ]

    def _read_entry(self, read: dict) -> tuple[str, datetime]:
        reader = self.users.get(read["reader_id"])
        # The name as it was when they read it outlives their account: who read your note
        # is your record, not theirs.
        name = (reader or {}).get("display_name") or read.get("reader_name")
        return name or "A former therapist", datetime.fromisoformat(read["at"])

    def _private(self, record: dict, keyring: Keyring | None) -> dict:
        """Return a note's words and feelings for its author, opened with their keys."""
        sealed = record.get("sealed")
        if not sealed:
            # Written before notes were sealed; sealed at the author's next sign-in.
            return {
                "text": record.get("text") or "",
                "feelings": tuple(record.get("feelings") or ()),
                "locked": False,
            }
        opened = keyring.open(sealed, record["id"]) if keyring else None
        if opened is None:
            return {"text": "", "feelings": (), "locked": True}
        return {
            "text": opened.get("text", ""),
            "feelings": tuple(opened.get("feelings") or ()),
            "locked": False,
        }

    def seal_unsealed(self, user_id: str, keyring: Keyring) -> int:
        """Seal a person's notes written before sealing existed (callers hold the lock)."""
        count = 0
        # The plain words must not stay behind in the commit log or an older shard file.
        self.store.forget_earlier_versions()
        for record in list(self.reflections.by("user", user_id)):
            if record.get("sealed"):
                continue
            text, feelings = record.get("text") or "", list(record.get("feelings") or [])
            shared = bool(record.get("share_with_therapist"))
            self.reflections.update(
                record["id"],
                sealed=keyring.seal({"text": text, "feelings": feelings}, record["id"]),
                **_shared_copy(shared, text, feelings, clear=True),
            )
            count += 1
        return count

    def reseal(self, user_id: str, keyring: Keyring) -> int:
        """Re-seal notes under older open keys with the current one (callers hold the lock)."""
        count = 0
        for record in list(self.reflections.by("user", user_id)):
            sealed = record.get("sealed") or {}
            if not sealed or sealed.get("key") == keyring.current:
                continue
            opened = keyring.open(sealed, record["id"])
            if opened is None:
                continue
            self.reflections.update(record["id"], sealed=keyring.seal(opened, record["id"]))
            count += 1
        return count

    def readable_own(self, actor: User) -> list[dict]:
        """Return your reflections as plain records (for your own download), oldest first."""
        with self.store.reading():
            self.policy.active(actor)
            rows = []
            for record in self.reflections.by("user", actor.id):
                words = self._private(record, actor.keyring)
                row = {k: v for k, v in record.items() if k not in ("sealed", "seq")}
                row.update(words, feelings=list(words["feelings"]))
                rows.append(row)
            return rows

    def reads_of_mine(
        self, actor: User, among: Iterable[str] | None = None
    ) -> dict[str, list[tuple[str, datetime]]]:
        """Return who read each of your shared reflections and when, newest first.

        ``among`` (reflection ids) asks only about those, say the ones a page shows.
        """
        with self.store.reading():
            self.policy.active(actor)
            assert actor is not None
            seen: dict[str, list[tuple[str, datetime]]] = {}
            if among is None:
                records = self.reflections.by("user", actor.id)
            else:
                found = (self.reflections.get(i) for i in among)
                records = [r for r in found if r is not None and r["user_id"] == actor.id]
            for record in records:
                entries = [
                    self._read_entry(r) for r in self.reads.newest_by("subject", record["id"])
                ]
                if entries:
                    seen[record["id"]] = entries
            return seen

    def _own(self, actor: User, reflection_id: str) -> dict:
        self.policy.active(actor)
        record = self.reflections.get(reflection_id)
        if record is None:
            raise NotFound(NOT_FOUND)
        if record["user_id"] != actor.id:
            raise PermissionDenied(NOT_YOURS)
        return record

    def _log_read(self, reader: dict, record: dict) -> None:
        at = self.studio.now().isoformat()
        self.reads.insert(
            {
                "reader_id": reader["id"],
                "reader_name": reader.get("display_name", ""),
                "subject_type": "reflection",
                "subject_id": record["id"],
                "author_id": record["user_id"],
                "circle_id": record.get("circle_id"),
                "at": at,
            }
        )
        self.audit.insert(
            {
                "actor_id": reader["id"],
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

    def edit_check_in(
        self,
        actor: User,
        checkin_id: str,
        *,
        score: int | None = None,
        feelings: Iterable[str] | None = None,
    ) -> MoodCheckin:
        """Change your check-in's score or feelings (a second tap), keeping when it was made."""
        changes: dict = {}
        if score is not None:
            changes["score"] = _check_mood(score, "Your mood")
        if feelings is not None:
            changes["feelings"] = _check_feelings(feelings)
        with self.store.transaction():
            self.policy.active(actor)
            record = self.checkins.get(checkin_id)
            if record is None or record["user_id"] != actor.id:
                # Someone else's check-in is as unknown to you as one that doesn't exist.
                raise NotFound("We couldn't find that check-in.")
            if changes:
                record = self.checkins.update(checkin_id, **changes)
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


def consents(preferences: RecordCollection, user_id: str) -> bool:
    """Say whether a person has agreed to their moods counting in group trends."""
    return any(r.get("insights_consent") is True for r in preferences.by("user", user_id))


def _shared_copy(shared: bool, text: str, feelings: list[str], *, clear: bool = False) -> dict:
    """Return the readable copy kept for therapists while a note is shared (else none)."""
    if shared:
        return {"text": text, "feelings": list(feelings)}
    return {"text": None, "feelings": None} if clear else {}
