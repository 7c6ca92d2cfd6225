"""Comments and reactions: how peers witness each other's art.

Comments follow art-therapy witnessing ("I notice…", "I wonder…") rather than critique, and
``check_draft`` lets a page suggest a kinder wording before a comment is posted. Reactions are
a few supportive words instead of likes; nobody but the artist learns who reacted, and no
method hands anyone a count.
"""

from __future__ import annotations

from datetime import timedelta
from itertools import islice
from typing import TYPE_CHECKING

from .errors import NotFound, PermissionDenied, ValidationError
from .models import REACTIONS, Comment, PostedComment, User
from .moderation import HELD
from .names import with_current_names
from .policy import Policy
from .safety import GentleNudge, gentle_check
from .text import clean_text

if TYPE_CHECKING:
    from .studio import Studio

__all__ = ["COMMENT_LIMIT", "EDIT_MINUTES", "STARTERS", "Comments", "Reactions"]

# Witnessing starters offered above the comment box.
STARTERS = ("I notice…", "It reminds me of…", "I wonder…", "Thank you for sharing…")
COMMENT_LIMIT = 1000
EDIT_MINUTES = 15

COMMENT_GONE = "We couldn't find that comment. It may have been removed."
UNDER_REVIEW = "A facilitator is looking at this piece at the moment, so new responses are paused."


class Comments:
    """Post, show, edit and delete comments on artworks."""

    def __init__(self, studio: Studio) -> None:
        self.studio = studio
        self.store = studio.store
        self.comments = studio.store.collection("comments")
        self.artworks = studio.store.collection("artworks")
        self.flags = studio.store.collection("flags")
        self.users = studio.store.collection("users")
        self.policy = Policy(studio)

    def post(self, actor: User, artwork_id: str, text: str) -> PostedComment:
        """Add a comment to an artwork; return it with the support its words call for.

        Words that suggest the writer is at risk now, on someone else's art, are held from the
        circle until a therapist has read them: the artist is never the first to read them.
        """
        words = clean_text(text, field="comment", max_length=COMMENT_LIMIT, required=True)
        assessment = self.studio.moderation.decide(words)
        with self.store.transaction():
            user = self.policy.active(actor)
            artwork = self.policy.readable_artwork(actor, artwork_id)
            self.policy.writable_circle(artwork["circle_id"])
            if not artwork.get("comments_enabled", True):
                raise PermissionDenied("The artist has turned comments off for this piece.")
            if artwork.get("status", "visible") != "visible":
                raise PermissionDenied(UNDER_REVIEW)
            held = assessment.urgent and artwork["user_id"] != actor.id
            record = self.comments.insert(
                {
                    "artwork_id": artwork_id,
                    "circle_id": artwork["circle_id"],
                    "user_id": actor.id,
                    "author_name": user["display_name"],
                    "text": words,
                    "created_at": self.studio.now().isoformat(),
                    "edited_at": None,
                    "status": HELD if held else "visible",
                }
            )
            self.studio.moderation.raise_flag(
                actor, artwork["circle_id"], "comment", record["id"], words, assessment
            )
            support = self.studio.support.offer(assessment, artwork["circle_id"], held=held)
            return PostedComment.from_record(record, support=support)

    def for_artwork(
        self, actor: User, artwork_id: str, *, newest: int | None = None
    ) -> list[Comment]:
        """Return the comments on an artwork the actor may see, oldest first.

        ``newest`` keeps only that many of the latest: a long thread's page costs the same as
        a short one's.
        """
        with self.store.reading():
            artwork = self.policy.readable_artwork(actor, artwork_id)
            role = self.policy.member(actor, artwork["circle_id"])["role"]
            visible = (
                record
                for record in self.comments.newest_by("artwork", artwork_id)
                if self.policy.visible_to(record, actor.id, role)
            )
            shown = list(islice(visible, newest) if newest is not None else visible)
            shown.reverse()
            return [
                Comment.from_record(r) for r in with_current_names(self.users, shown, "author_name")
            ]

    def _own(self, actor: User, comment_id: str) -> tuple[dict, dict]:
        """Return a comment of the actor's and its artwork, or refuse."""
        self.policy.active(actor)
        record = self.comments.get(comment_id)
        if record is None or record.get("status") == "removed":
            raise NotFound(COMMENT_GONE)
        artwork = self.artworks.get(record["artwork_id"])
        if artwork is None:
            raise NotFound(COMMENT_GONE)
        membership = self.policy.member(actor, artwork["circle_id"])
        if not self.policy.visible_to(record, actor.id, membership["role"]):
            raise NotFound(COMMENT_GONE)
        if record["user_id"] != actor.id:
            raise PermissionDenied("Only the person who wrote a comment can change it.")
        return record, artwork

    def edit(self, actor: User, comment_id: str, text: str) -> PostedComment:
        """Change the words of the actor's comment, within minutes of posting it."""
        words = clean_text(text, field="comment", max_length=COMMENT_LIMIT, required=True)
        assessment = self.studio.moderation.decide(words)
        with self.store.transaction():
            record, artwork = self._own(actor, comment_id)
            self.policy.writable_circle(artwork["circle_id"])
            self.policy.unchanged_while_reviewed(record, "comment")
            now = self.studio.now()
            posted = Comment.from_record(record).created_at
            if posted is None or now - posted > timedelta(minutes=EDIT_MINUTES):
                raise ValidationError(
                    f"Comments can be edited for {EDIT_MINUTES} minutes after posting."
                )
            changes = {"text": words, "edited_at": now.isoformat()}
            held = record.get("status") == HELD
            if assessment.urgent and artwork["user_id"] != actor.id:
                held = True
                changes["status"] = HELD
            updated = self.comments.update(comment_id, **changes)
            [updated] = with_current_names(self.users, [updated], "author_name")
            self.studio.moderation.raise_flag(
                actor, artwork["circle_id"], "comment", comment_id, words, assessment
            )
            support = self.studio.support.offer(assessment, artwork["circle_id"], held=held)
            return PostedComment.from_record(updated, support=support)

    def delete(self, actor: User, comment_id: str) -> None:
        """Delete the actor's own comment (facilitators remove others' through moderation)."""
        with self.store.transaction():
            self._own(actor, comment_id)
            self.comments.remove(comment_id)
            self.studio.moderation.words_gone(comment_id)

    def check_draft(self, text: str) -> GentleNudge | None:
        """Return a gentle suggestion if a draft comment reads as judging, else None."""
        return gentle_check(text)


class Reactions:
    """Supportive reactions: each person toggles their own; only the artist sees who."""

    def __init__(self, studio: Studio) -> None:
        self.studio = studio
        self.store = studio.store
        self.reactions = studio.store.collection("reactions")
        self.users = studio.store.collection("users")
        self.policy = Policy(studio)

    def toggle(self, actor: User, artwork_id: str, kind: str) -> bool:
        """Turn one of the actor's reactions to an artwork on or off; return True if now on."""
        if kind not in REACTIONS:
            raise ValidationError("Please choose one of the reactions offered.")
        with self.store.transaction():
            artwork = self.policy.readable_artwork(actor, artwork_id)
            self.policy.writable_circle(artwork["circle_id"])
            existing = self._find(actor.id, artwork_id, kind)
            if existing is not None:
                self.reactions.remove(existing["id"])
                return False
            if artwork.get("status", "visible") != "visible":
                raise PermissionDenied(UNDER_REVIEW)
            self.reactions.insert(
                {
                    "artwork_id": artwork_id,
                    "user_id": actor.id,
                    "kind": kind,
                    "created_at": self.studio.now().isoformat(),
                }
            )
            return True

    def _find(self, user_id: str, artwork_id: str, kind: str) -> dict | None:
        for record in self.reactions.by("user", user_id):
            if record["artwork_id"] == artwork_id and record["kind"] == kind:
                return record
        return None

    def mine(self, actor: User, artwork_id: str) -> set[str]:
        """Return the kinds of reaction the actor has given an artwork."""
        with self.store.reading():
            self.policy.readable_artwork(actor, artwork_id)
            return {
                record["kind"]
                for record in self.reactions.by("user", actor.id)
                if record["artwork_id"] == artwork_id
            }

    def for_artist(self, actor: User, artwork_id: str) -> dict[str, list[str]]:
        """Return who reacted to the actor's own artwork, by kind (the artist only)."""
        with self.store.reading():
            artwork = self.policy.readable_artwork(actor, artwork_id)
            if artwork["user_id"] != actor.id:
                raise PermissionDenied("Only the artist can see who responded to their art.")
            names: dict[str, list[str]] = {}
            for record in self.reactions.by("artwork", artwork_id):
                person = self.users.get(record["user_id"])
                name = person["display_name"] if person else "Someone who has left"
                names.setdefault(record["kind"], []).append(name)
            # Keep the order the reactions are offered in, not the order they arrived.
            return {kind: names[kind] for kind in REACTIONS if kind in names}
