"""Artworks: sharing through the image pipeline, the circle's gallery, edits and deletion."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import secrets
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .durable import atomic_write_bytes
from .errors import NotFound, PermissionDenied, SaveFailed, StudioError, ValidationError
from .images import ProcessedImage, process_upload
from .media import digest_of
from .models import Artwork, SharedArtwork, User, parse_time
from .names import with_current_names
from .policy import Policy, audiences
from .records import page_of
from .text import clean_text

if TYPE_CHECKING:
    from .studio import Studio

__all__ = [
    "ALT_TEXT_LIMIT",
    "CAPTION_LIMIT",
    "DRAFT_FILE",
    "WARNING_LIMIT",
    "Artworks",
    "GalleryPage",
]

log = logging.getLogger(__name__)

CAPTION_LIMIT = 500
ALT_TEXT_LIMIT = 1000
WARNING_LIMIT = 120
SENSITIVE_CHOICES = ("ask", "show", "hide")
VARIANTS = ("thumb", "full", "blur")
DRAFT_LIMIT = 2_000_000  # characters of canvas JSON
WORDS = ("caption", "alt_text", "content_warning")  # kept as they are while under review
# Sharing the same picture with the same words again this soon is a second press of Share.
TWIN_SECONDS = 60
DRAFT_FILE = re.compile(r"[0-9a-f]{24}\.json")  # the name of a drawing draft in drafts/


class GalleryPage(list):
    """One page of a gallery: artworks newest first, and whether more pages follow."""

    def __init__(self, items: Sequence[Artwork], page: int, per_page: int, has_next: bool):
        super().__init__(items)
        self.page = page
        self.per_page = per_page
        self.has_next = has_next


class Artworks:
    """Share, show, change and remove artworks."""

    def __init__(self, studio: Studio) -> None:
        self.studio = studio
        self.store = studio.store
        self.artworks = studio.store.collection("artworks")
        self.prompts = studio.store.collection("prompts")
        self.comments = studio.store.collection("comments")
        self.reactions = studio.store.collection("reactions")
        self.preferences = studio.store.collection("preferences")
        self.flags = studio.store.collection("flags")
        self.drafts = studio.store.collection("drafts")
        self.users = studio.store.collection("users")
        self.policy = Policy(studio)

    # -- sharing ---------------------------------------------------------------------------------

    def share(
        self,
        actor: User,
        image_bytes: bytes,
        *,
        caption: str = "",
        alt_text: str = "",
        prompt_id: str | None = None,
        content_warning: str | None = None,
        circle_id: str | None = None,
        exhibit_opt_in: bool = False,
    ) -> Artwork:
        """Share an image with a circle; all or nothing."""
        fields = self._clean_fields(caption, alt_text, content_warning)
        assessment = self.studio.moderation.decide(fields["caption"])
        with self.store.reading():
            circle_id = self._target_circle(actor, circle_id)
            self.policy.writable_circle(circle_id)
            self._check_prompt(prompt_id)
        # Decoding is slow: do it outside the lock so others are not kept waiting.
        processed = process_upload(image_bytes, self.studio.config.images)
        twin = {
            **fields,
            "circle_id": circle_id,
            "prompt_id": prompt_id,
            "digest": digest_of(processed.full),
        }
        with self.store.reading():
            earlier = self._recent_twin(actor, twin)
        if earlier is not None:
            return self._shared_again(earlier, assessment, circle_id)
        names, digests = self._write_files(processed)
        try:
            with self.store.transaction():
                user = self.policy.active(actor)
                self.policy.member(actor, circle_id)
                # Two presses at once both got this far: the first one's artwork stands.
                earlier = self._recent_twin(actor, twin)
                if earlier is not None:
                    self.studio.media.delete(list(names.values()))
                    return self._shared_again(earlier, assessment, circle_id)
                now = self.studio.now().isoformat()
                record = self.artworks.insert(
                    {
                        "circle_id": circle_id,
                        "user_id": actor.id,
                        "artist_name": user["display_name"],
                        **fields,
                        "prompt_id": prompt_id,
                        "width": processed.width,
                        "height": processed.height,
                        "thumb_width": processed.thumb_width,
                        "thumb_height": processed.thumb_height,
                        "media_type": processed.media_type,
                        **names,
                        "digests": digests,
                        "comments_enabled": True,
                        "status": "visible",
                        "exhibit_opt_in": bool(exhibit_opt_in),
                        "created_at": now,
                        "updated_at": now,
                    }
                )
                self.studio.moderation.raise_flag(
                    actor, circle_id, "artwork", record["id"], fields["caption"], assessment
                )
        except BaseException:
            self._discard(list(names.values()))
            raise
        # A caption that worries us still saves: the art is theirs to share.
        support = self.studio.support.offer(assessment, circle_id)
        return SharedArtwork.from_record(record, support=support)

    def _recent_twin(self, actor: User, twin: dict) -> dict | None:
        """Return the actor's artwork of the last minute with this picture and these words."""
        since = self.studio.now().timestamp() - TWIN_SECONDS
        for record in self.artworks.newest_by("user", actor.id):
            if parse_time(record["created_at"]).timestamp() < since:
                return None
            if (
                all(record.get(name) == twin[name] for name in (*WORDS, "circle_id", "prompt_id"))
                and (record.get("digests") or {}).get(record.get("full_name")) == twin["digest"]
            ):
                return record
        return None

    def _shared_again(self, record: dict, assessment, circle_id: str) -> SharedArtwork:
        """Answer a second press of Share with the artwork the first one made."""
        log.info("a second share of the same artwork within a minute returned the first")
        support = self.studio.support.offer(assessment, circle_id)
        return SharedArtwork.from_record(record, support=support)

    def _clean_fields(self, caption: str, alt_text: str, warning: str | None) -> dict:
        return {
            "caption": clean_text(caption, field="caption", max_length=CAPTION_LIMIT),
            "alt_text": self._clean_alt(alt_text),
            "content_warning": clean_text(
                warning, field="content warning", max_length=WARNING_LIMIT, multiline=False
            )
            or None,
        }

    def _clean_alt(self, alt_text: str) -> str:
        alt = clean_text(alt_text, field="alt text", max_length=ALT_TEXT_LIMIT)
        if not alt:
            raise ValidationError(
                "Please add a short description of your artwork (alt text), so people who "
                "use screen readers can share in it too."
            )
        return alt

    def _target_circle(self, actor: User, circle_id: str | None) -> str:
        if circle_id is not None:
            self.policy.member(actor, circle_id)
            return circle_id
        circles = self.policy.circle_ids(actor)
        if not circles:
            raise PermissionDenied("Join a circle first, then you can share your art there.")
        return circles[0]

    def _check_prompt(self, prompt_id: str | None) -> None:
        if prompt_id is not None and prompt_id not in self.prompts:
            raise ValidationError("That prompt isn't in the library any more.")

    def _write_files(self, processed: ProcessedImage) -> tuple[dict[str, str], dict[str, str]]:
        stem = self.studio.media.new_stem()
        ext = processed.extension
        names = {
            "full_name": f"{stem}-full{ext}",
            "thumb_name": f"{stem}-thumb{ext}",
            "blur_name": f"{stem}-blur{ext}",
        }
        # Each file's digest goes on the record, so `check` notices a damaged file.
        digests: dict[str, str] = {}
        try:
            for key, data in (
                ("full_name", processed.full),
                ("thumb_name", processed.thumbnail),
                ("blur_name", processed.blurred),
            ):
                digests[names[key]] = self.studio.media.write(names[key], data)
        except (OSError, SaveFailed):
            self._discard(list(digests))
            raise
        return names, digests

    def _discard(self, names: list[str]) -> None:
        """Remove the files of a share that failed; what can't go now, the sweeper clears."""
        try:
            self.studio.media.delete(names)
        except (OSError, StudioError):
            log.warning("could not remove the files of an artwork that was not shared")

    # -- seeing ------------------------------------------------------------------------------------

    def gallery(
        self,
        actor: User,
        circle_id: str | None = None,
        page: int = 1,
        per_page: int = 24,
        *,
        prompt_id: str | None = None,
        theme: str | None = None,
        mine: bool = False,
    ) -> GalleryPage:
        """Return one page of a circle's artworks, newest first."""
        page = max(1, int(page))
        per_page = max(1, min(100, int(per_page)))
        with self.store.reading():
            circle_id = self._target_circle(actor, circle_id)
            role = self.policy.member(actor, circle_id)["role"]
            # Each index holds artworks under who they show to (policy.shown_to), so the
            # store pages exactly what this person may see.
            if mine:
                index, keys = "mine", [f"{circle_id} {actor.id}"]
            elif prompt_id is not None:
                index = "shown_prompt"
                keys = [f"{circle_id} {prompt_id} {a}" for a in audiences(actor.id, role)]
            else:
                index, keys = "shown", [f"{circle_id} {a}" for a in audiences(actor.id, role)]
            skip = (page - 1) * per_page
            if theme is None and not (mine and prompt_id is not None):
                records = self.artworks.page(index, keys, offset=skip, limit=per_page + 1)
            else:
                # Themes belong to prompts (and change with them): those are filtered here.
                records = page_of(
                    (
                        r
                        for r in self._walk(index, keys)
                        if (prompt_id is None or r.get("prompt_id") == prompt_id)
                        and (theme is None or self._has_theme(r, theme))
                    ),
                    skip,
                    per_page + 1,
                )
            has_next = len(records) > per_page
            return GalleryPage(self._shown(records[:per_page]), page, per_page, has_next)

    def _walk(self, index: str, keys: list[str], chunk: int = 100) -> Iterator[dict]:
        """Yield every artwork under ``keys``, newest first, a page from the store at a time."""
        offset = 0
        while True:
            records = self.artworks.page(index, keys, offset=offset, limit=chunk)
            yield from records
            if len(records) < chunk:
                return
            offset += chunk

    def _shown(self, records: list[dict], model: type[Artwork] = Artwork, **extra) -> list:
        """Build artworks that show each artist's current name (one lookup per artist)."""
        return [
            model.from_record(r, **extra)
            for r in with_current_names(self.users, records, "artist_name")
        ]

    def _has_theme(self, record: dict, theme: str) -> bool:
        prompt = self.prompts.get(record.get("prompt_id") or "")
        return bool(prompt) and theme in prompt.get("themes", ())

    def get(self, actor: User, artwork_id: str) -> Artwork:
        """Return one artwork the actor may see."""
        with self.store.reading():
            return self._shown([self.policy.readable_artwork(actor, artwork_id)])[0]

    def image(self, actor: User, artwork_id: str, variant: str = "thumb") -> bytes:
        """Return the bytes of one stored copy (thumb, full or blur) of an artwork."""
        if variant not in VARIANTS:
            raise ValidationError("Unknown image size.")
        with self.store.reading():
            record = self.policy.readable_artwork(actor, artwork_id)
            name = record[f"{variant}_name"]
        return self.studio.media.read(name)

    def by_artist(self, actor: User, user_id: str | None = None) -> list[Artwork]:
        """Return an artist's own artworks, newest first (only their own)."""
        user_id = user_id or actor.id
        with self.store.reading():
            self.policy.active(actor)
            if user_id != actor.id:
                raise PermissionDenied("You can only list your own artworks here.")
            return self._shown(
                [
                    r
                    for r in self.artworks.newest_by("user", user_id)
                    if r.get("status") != "removed"
                ]
            )

    def count_in_circle(self, actor: User, circle_id: str) -> int:
        """Return how many artworks a circle's gallery holds (for facilitators' summaries)."""
        with self.store.reading():
            # It counts hidden pieces too, so it is for facilitators, not the whole circle.
            self.policy.facilitator(actor, circle_id, therapist_only=False)
            return self.artworks.count_by("circle", circle_id)

    # -- changing ----------------------------------------------------------------------------------

    def _own(self, actor: User, artwork_id: str) -> dict:
        record = self.artworks.get(artwork_id)
        if record is None or record.get("status") == "removed":
            self.policy.active(actor)
            raise NotFound("We couldn't find that artwork. It may have been removed.")
        self.policy.active(actor)
        if record["user_id"] != actor.id:
            raise PermissionDenied("Only the artist can change this artwork.")
        return record

    def edit(
        self,
        actor: User,
        artwork_id: str,
        *,
        caption: str | None = None,
        alt_text: str | None = None,
        content_warning: str | None = None,
        comments_enabled: bool | None = None,
        exhibit_opt_in: bool | None = None,
    ) -> SharedArtwork:
        """Change an artwork's words or settings (its artist only)."""
        changes: dict = {}
        if caption is not None:
            changes["caption"] = clean_text(caption, field="caption", max_length=CAPTION_LIMIT)
        if alt_text is not None:
            changes["alt_text"] = self._clean_alt(alt_text)
        if content_warning is not None:
            changes["content_warning"] = (
                clean_text(
                    content_warning,
                    field="content warning",
                    max_length=WARNING_LIMIT,
                    multiline=False,
                )
                or None
            )
        if comments_enabled is not None:
            changes["comments_enabled"] = bool(comments_enabled)
        if exhibit_opt_in is not None:
            changes["exhibit_opt_in"] = bool(exhibit_opt_in)
        assessment = self.studio.moderation.decide(changes.get("caption", ""))
        with self.store.transaction():
            record = self._own(actor, artwork_id)
            self.policy.writable_circle(record["circle_id"])
            if any(changes[k] != record.get(k) for k in WORDS if k in changes):
                self.policy.unchanged_while_reviewed(record, "artwork")
            changes["updated_at"] = self.studio.now().isoformat()
            updated = self.artworks.update(artwork_id, **changes)
            if "caption" in changes:
                self.studio.moderation.raise_flag(
                    actor, record["circle_id"], "artwork", artwork_id, changes["caption"],
                    assessment,
                )  # fmt: skip
            support = self.studio.support.offer(assessment, record["circle_id"])
            return self._shown([updated], SharedArtwork, support=support)[0]

    def delete(self, actor: User, artwork_id: str) -> None:
        """Delete an artwork with its files, comments and reactions (its artist only)."""
        # The lock, not a transaction: purge must commit before it deletes the files.
        with self.store.reading():
            self._own(actor, artwork_id)
            self.purge(artwork_id)

    def purge(self, artwork_id: str) -> None:
        """Remove an artwork and everything attached to it (callers check permission)."""
        if self.store.in_transaction():
            raise RuntimeError("purge commits on its own; call it outside a transaction")
        with self.store.transaction():
            names = self.remove_records(artwork_id)
        # Files go after the records are durably gone: a crash in between leaves an
        # orphan file that the sweeper removes, never a record pointing at nothing.
        self.delete_files(names)

    def remove_records(self, artwork_id: str) -> list[str]:
        """Remove an artwork's records in the caller's transaction; return its file names.

        The caller deletes the files (``delete_files``) once its transaction has committed.
        """
        with self.store.transaction():
            record = self.artworks.get(artwork_id)
            if record is None:
                return []
            for comment_id in list(self.comments.ids_by("artwork", artwork_id)):
                self.comments.remove(comment_id)
                self.studio.moderation.words_gone(comment_id)
            for reaction_id in list(self.reactions.ids_by("artwork", artwork_id)):
                self.reactions.remove(reaction_id)
            # Crisis flags outlive the art that raised them; reports go with it.
            self.studio.moderation.words_gone(artwork_id)
            self.artworks.remove(artwork_id)
            return Artwork.from_record(record).media_names

    def delete_files(self, names: list[str]) -> None:
        """Delete image files whose records are gone (a missing one is fine)."""
        try:
            self.studio.media.delete(names)
        except (OSError, StudioError):
            # No record names them any more: the sweeper removes them later.
            log.warning("could not delete the files of a removed artwork")

    # -- drawing drafts --------------------------------------------------------------------------

    def _draft_path(self, name: str) -> Path:
        if not DRAFT_FILE.fullmatch(name):
            raise NotFound("We couldn't find that draft.")
        return self.studio.data_dir / "drafts" / name

    def save_draft(
        self,
        actor: User,
        drawing: dict,
        *,
        background: str = "#ffffff",
        draft_id: str | None = None,
    ) -> str:
        """Keep an unfinished drawing private to its maker; return the draft's id."""
        body = json.dumps(drawing).encode()
        if len(body) > DRAFT_LIMIT:
            raise ValidationError("That drawing is too detailed to save as a draft.")
        now = self.studio.now().isoformat()
        if draft_id is not None:
            with self.store.transaction():
                self.policy.active(actor)
                record = self.drafts.get(draft_id)
                if record is None or record["user_id"] != actor.id:
                    raise NotFound("We couldn't find that draft.")
                # Drawings can be large: they live in their own files, not in a shard.
                atomic_write_bytes(self._draft_path(record["file"]), body)
                self.drafts.update(draft_id, background=background, updated_at=now)
                return draft_id
        name = f"{secrets.token_hex(12)}.json"
        try:
            with self.store.transaction():
                self.policy.active(actor)
                atomic_write_bytes(self._draft_path(name), body)
                return self.drafts.insert(
                    {
                        "user_id": actor.id,
                        "file": name,
                        "background": background,
                        "created_at": now,
                        "updated_at": now,
                    }
                )["id"]
        except BaseException:
            # No record was kept, so nothing could ever find (or erase) this drawing.
            if self.drafts.first(file=name) is None:
                self._draft_path(name).unlink(missing_ok=True)
            raise

    def drafts_of(self, actor: User) -> list[dict]:
        """Return the actor's own drawing drafts (with their drawings), newest first."""
        with self.store.reading():
            self.policy.active(actor)
            records = [dict(r) for r in self.drafts.newest_by("user", actor.id)]
        for record in records:
            try:
                record["drawing"] = json.loads(self._draft_path(record["file"]).read_bytes())
            except (OSError, ValueError, NotFound):
                record["drawing"] = None
        return records

    def delete_draft(self, actor: User, draft_id: str) -> None:
        """Throw away one of the actor's drafts."""
        with self.store.transaction():
            self.policy.active(actor)
            record = self.drafts.get(draft_id)
            if record is None or record["user_id"] != actor.id:
                raise NotFound("We couldn't find that draft.")
            self.drafts.remove(draft_id)
        self._draft_path(record["file"]).unlink(missing_ok=True)

    def erase_drafts(self, user_id: str) -> None:
        """Remove every draft of a person, files too (callers check permission)."""
        with self.store.transaction():
            files = self.remove_draft_records(user_id)
        self.delete_draft_files(files)

    def remove_draft_records(self, user_id: str) -> list[str]:
        """Remove a person's draft records in the caller's transaction; return their files."""
        with self.store.transaction():
            records = [dict(r) for r in self.drafts.by("user", user_id)]
            for record in records:
                self.drafts.remove(record["id"])
        return [record["file"] for record in records]

    def delete_draft_files(self, files: list[str]) -> None:
        """Delete draft files whose records are gone (a missing one is fine)."""
        for name in files:
            with contextlib.suppress(NotFound, OSError):
                self._draft_path(name).unlink(missing_ok=True)

    # -- viewer preferences ------------------------------------------------------------------------

    def sensitive_choice(self, actor: User) -> str:
        """Return how the actor wants content-warned art shown: ask, show or hide."""
        with self.store.reading():
            self.policy.active(actor)
            records = self.preferences.by("user", actor.id)
            return records[0].get("sensitive", "ask") if records else "ask"

    def set_sensitive_choice(self, actor: User, choice: str) -> str:
        """Choose to always show, always hide, or be asked about content-warned art."""
        if choice not in SENSITIVE_CHOICES:
            raise ValidationError("Choose ask, show or hide.")
        with self.store.transaction():
            self.policy.active(actor)
            records = self.preferences.by("user", actor.id)
            if records:
                self.preferences.update(records[0]["id"], sensitive=choice)
            else:
                self.preferences.insert({"user_id": actor.id, "sensitive": choice})
        return choice
