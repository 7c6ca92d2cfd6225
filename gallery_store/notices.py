"""What's new for a person since they last looked.

New comments and reactions on their art, notes a facilitator sent them, who read a note they
shared, notes shared with them (for a circle's therapist), and each circle's prompt on a new
day. Nothing here is a queue that could drop something: every item is worked out from the
records themselves, newer than the person's own "last looked" mark (kept with their
preferences). Someone who never opens the list loses nothing; marking it seen only moves the
mark, and the records stay where they always were (the artwork, the Account page, the Journal).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from prompts import local_day

from .models import User, parse_time
from .policy import FACILITATOR, Policy

if TYPE_CHECKING:
    from .studio import Studio

__all__ = ["KINDS", "NewActivity", "Notices"]

# What a notice can be about.
KINDS = ("comment", "reaction", "note", "read", "shared_note", "prompt")
SHOWN_LIMIT = 50  # the list shows this many, newest first; the count counts them all
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class NewActivity:
    """One thing that happened for a person since they last looked."""

    kind: str  # one of KINDS
    at: datetime
    who: str = ""  # the display name of whoever did it ("" for the circle's facilitators)
    words: str = ""  # a comment's or a note's words, or a prompt's title
    artwork_id: str | None = None
    artwork_caption: str = ""
    reaction: str = ""  # the kind of reaction
    circle_id: str | None = None
    circle_name: str = ""
    person_id: str | None = None  # whose note was shared (for their therapist)


class Notices:
    """Tell a person what is new for them, and remember when they last looked."""

    def __init__(self, studio: Studio) -> None:
        self.studio = studio
        self.store = studio.store
        self.users = studio.store.collection("users")
        self.preferences = studio.store.collection("preferences")
        self.artworks = studio.store.collection("artworks")
        self.comments = studio.store.collection("comments")
        self.reactions = studio.store.collection("reactions")
        self.notes = studio.store.collection("notices")
        self.reflections = studio.store.collection("reflections")
        self.reads = studio.store.collection("reads")
        self.memberships = studio.store.collection("memberships")
        self.circles = studio.store.collection("circles")
        self.policy = Policy(studio)

    def new_since_last_look(self, actor: User) -> list[NewActivity]:
        """Return what is new for you since you last marked it seen, newest first."""
        with self.store.reading():
            return self._new(actor)[:SHOWN_LIMIT]

    def count(self, actor: User) -> int:
        """Return how many things are new for you."""
        with self.store.reading():
            return len(self._new(actor))

    def mark_seen(self, actor: User) -> None:
        """Mark everything up to now as seen."""
        with self.store.transaction():
            self.policy.active(actor)
            now = self.studio.now().isoformat()
            records = self.preferences.by("user", actor.id)
            if records:
                self.preferences.update(records[0]["id"], notices_seen_at=now)
            else:
                self.preferences.insert({"user_id": actor.id, "notices_seen_at": now})

    # -- working it out ---------------------------------------------------------------------

    def _new(self, actor: User) -> list[NewActivity]:
        me = self.policy.active(actor)
        since = self._last_look(me)
        found = [
            *self._on_my_art(me["id"], since),
            *self._notes_to_me(me["id"], since),
            *self._reads_of_mine(me["id"], since),
            *self._shared_with_me(me, since),
            *self._new_prompts(actor, since),
        ]
        found.sort(key=lambda item: item.at, reverse=True)
        return found

    def _last_look(self, me: dict) -> datetime:
        for record in self.preferences.by("user", me["id"]):
            seen = parse_time(record.get("notices_seen_at"))
            if seen is not None:
                return seen
        # Never looked: everything since the account was made is new.
        return parse_time(me.get("created_at")) or EPOCH

    def _name(self, user_id: str, kept: str = "") -> str:
        person = self.users.get(user_id)
        return person["display_name"] if person else (kept or "Someone who has left")

    def _on_my_art(self, user_id: str, since: datetime) -> list[NewActivity]:
        found = []
        for artwork in self.artworks.by("user", user_id):
            if artwork.get("status") == "removed":
                continue
            about = {
                "artwork_id": artwork["id"],
                "artwork_caption": artwork.get("caption") or "",
                "circle_id": artwork.get("circle_id"),
            }
            for comment in self.comments.by("artwork", artwork["id"]):
                at = parse_time(comment.get("created_at"))
                if (
                    comment["user_id"] == user_id
                    or comment.get("status", "visible") != "visible"
                    or at is None
                    or at <= since
                ):
                    continue
                who = self._name(comment["user_id"], comment.get("author_name", ""))
                found.append(NewActivity("comment", at, who, comment.get("text", ""), **about))
            for reaction in self.reactions.by("artwork", artwork["id"]):
                at = parse_time(reaction.get("created_at"))
                if reaction["user_id"] == user_id or at is None or at <= since:
                    continue
                who = self._name(reaction["user_id"])
                found.append(NewActivity("reaction", at, who, reaction=reaction["kind"], **about))
        return found

    def _notes_to_me(self, user_id: str, since: datetime) -> list[NewActivity]:
        found = []
        for note in self.notes.by("user", user_id):
            at = parse_time(note.get("created_at"))
            if at is not None and at > since:
                found.append(NewActivity("note", at, note.get("from_name", ""), note["text"]))
        return found

    def _reads_of_mine(self, user_id: str, since: datetime) -> list[NewActivity]:
        found = []
        # Ids only: every page asks for this count, and most notes were never read.
        for reflection_id in self.reflections.ids_by("user", user_id):
            if not self.reads.ids_by("subject", reflection_id):
                continue
            for read in self.reads.by("subject", reflection_id):
                at = parse_time(read.get("at"))
                if at is not None and at > since:
                    who = self._name(read["reader_id"], read.get("reader_name", ""))
                    found.append(NewActivity("read", at, who, circle_id=read.get("circle_id")))
        return found

    def _shared_with_me(self, me: dict, since: datetime) -> list[NewActivity]:
        """Notes shared with the circles' therapist: that one is waiting, never its words."""
        if me["role"] != "therapist":
            return []
        run = [
            m["circle_id"]
            for m in self.memberships.by("user", me["id"])
            if m["role"] == FACILITATOR
        ]
        found = []
        for circle_id in run:
            for member in self.memberships.by("circle", circle_id):
                if member["user_id"] == me["id"]:
                    continue
                for reflection in self.reflections.by("user", member["user_id"]):
                    at = parse_time(reflection.get("updated_at"))
                    if (
                        reflection.get("share_with_therapist")
                        and reflection.get("circle_id") == circle_id
                        and at is not None
                        and at > since
                    ):
                        found.append(
                            NewActivity(
                                "shared_note",
                                at,
                                self._name(member["user_id"]),
                                circle_id=circle_id,
                                person_id=member["user_id"],
                            )
                        )
        return found

    def _new_prompts(self, actor: User, since: datetime) -> list[NewActivity]:
        """Each circle's prompt, when its day began after the person last looked."""
        found = []
        for membership in self.memberships.by("user", actor.id):
            circle = self.circles.get(membership["circle_id"])
            if circle is None or circle.get("archived"):
                continue
            zone = _zone(circle.get("timezone"))
            today = local_day(self.studio.now(), circle.get("timezone") or "UTC")
            began = datetime.combine(today, time(), tzinfo=zone).astimezone(UTC)
            if began <= since:
                continue
            todays = self.studio.prompts.today(actor, circle["id"])
            if todays is not None:
                found.append(
                    NewActivity(
                        "prompt",
                        began,
                        words=todays.prompt.title,
                        circle_id=circle["id"],
                        circle_name=circle.get("name", ""),
                    )
                )
        return found


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")
