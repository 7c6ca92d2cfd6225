"""Your data is yours: a personal ZIP, account deletion, and exhibition exports.

Archives are written straight to disk one file at a time, so a portfolio of
hundreds of artworks never has to fit in memory.
"""

from __future__ import annotations

import contextlib
import html
import json
import logging
import secrets
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from .durable import save_failure
from .errors import AuthenticationFailed, NotFound, PermissionDenied, StudioError
from .models import ROLE_THERAPIST, User, parse_time
from .names import with_current_names
from .policy import PARTICIPANT, Policy
from .text import date_label

if TYPE_CHECKING:
    from .studio import Studio

__all__ = ["Exports"]

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None]
DOWNLOAD_SECONDS = 3600
ARCHIVE_FAILED = (
    "We couldn't prepare the download just now, and nothing of yours was changed. "
    "Please try again in a moment, or tell your facilitator if it keeps happening."
)
# Stands in for a deleted reporter on a report that stays open (never a real id).
FORMER_MEMBER = "someone-who-left"

# Records a person owns, by collection and the field that names them (artworks and drafts
# have files too: _remove_records returns those for erase_person to delete).
OWNED = (
    ("reflections", "user"),
    ("moods", "user"),
    ("reactions", "user"),
    ("comments", "user"),
    ("sessions", "user"),
    ("memberships", "user"),
    ("preferences", "user"),
    ("notices", "user"),
    ("prompt_draws", "user"),
)

# Records that keep working after their maker leaves, by collection and the field naming them.
SIGNED = (
    ("circles", "created_by"),
    ("invites", "created_by"),
    ("prompts", "updated_by"),
    ("schedules", "created_by"),
    ("flags", "resolved_by"),
)


@dataclass(frozen=True)
class Download:
    """A prepared archive waiting to be fetched once by its owner."""

    path: Path
    user_id: str
    expires: float


def _public(record: dict, *drop: str) -> dict:
    hidden = {"seq", "password_hash", "token_hash", "reset_hash", "code_hash", *drop}
    return {k: v for k, v in record.items() if k not in hidden}


class Exports:
    """Personal exports, account deletion and exhibition archives."""

    def __init__(self, studio: Studio) -> None:
        self.studio = studio
        self.store = studio.store
        self.policy = Policy(studio)
        self.folder = studio.data_dir / "exports"
        self._downloads: dict[str, Download] = {}
        self._lock = threading.Lock()
        # Links live in memory only, so archives left from before a restart can never be
        # fetched: remove them rather than keep people's data lying around.
        if self.folder.exists():
            for leftover in self.folder.glob("*.zip"):
                leftover.unlink(missing_ok=True)

    # -- download my data ------------------------------------------------------------------------

    def personal_data(self, actor: User) -> dict:
        """Return everything the studio holds about the actor, as plain data."""
        c = self.store.collection
        with self.store.reading():
            user = self.policy.active(actor)
            artworks = [
                _public(a, "digests")
                for a in with_current_names(
                    c("users"), c("artworks").by("user", actor.id), "artist_name"
                )
            ]
            mine = {a["id"] for a in artworks}
            roles = {m["circle_id"]: m["role"] for m in c("memberships").by("user", actor.id)}
            # Only the comments the artist could see in the app: never words a facilitator
            # removed, nor others' words hidden while they are reviewed.
            on_my_art = [
                _public(r)
                for r in with_current_names(
                    c("users"),
                    (
                        r
                        for aid in mine
                        for r in c("comments").by("artwork", aid)
                        if Policy.visible_to(r, actor.id, roles.get(r["circle_id"], PARTICIPANT))
                    ),
                    "author_name",
                )
            ]
            reactions_on_my_art = [
                {
                    "artwork_id": r["artwork_id"],
                    "reaction": r["kind"],
                    "from": (c("users").get(r["user_id"]) or {}).get("display_name", "someone"),
                }
                for aid in mine
                for r in c("reactions").by("artwork", aid)
            ]
            circles = [
                {
                    "name": (c("circles").get(m["circle_id"]) or {}).get("name", ""),
                    "role": m["role"],
                    "joined_at": m.get("joined_at"),
                }
                for m in c("memberships").by("user", actor.id)
            ]
            return {
                "account": _public(
                    user,
                    "credential_version",
                    "reset_expires",
                    "reset_by",
                    "username_key",
                    "seal",
                    "locked_keys",
                    "events_seen_at",
                    "pending_recovery_code",
                ),
                "circles": circles,
                "artworks": artworks,
                "my_comments": [
                    _public(r)
                    for r in with_current_names(
                        c("users"), c("comments").by("user", actor.id), "author_name"
                    )
                ],
                "comments_on_my_art": on_my_art,
                "reactions_on_my_art": reactions_on_my_art,
                "my_reactions": [_public(r) for r in c("reactions").by("user", actor.id)],
                "reflections": [_public(r) for r in self.studio.reflections.readable_own(actor)],
                "moods": [_public(r) for r in c("moods").by("user", actor.id)],
            }

    def write_personal_archive(
        self, actor: User, destination: Path, progress: Progress | None = None
    ) -> Path:
        """Write the actor's ZIP (JSON, the kept copy of each image and an offline index.html).

        The studio never keeps an upload as it came: it keeps a cleaned copy at most
        ``full_edge`` pixels on its long side (images.py), and that copy is what is exported.
        """
        data = self.personal_data(actor)
        destination.parent.mkdir(parents=True, exist_ok=True)
        artworks = data["artworks"]
        with zipfile.ZipFile(destination, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for number, artwork in enumerate(artworks, start=1):
                name = artwork.get("full_name")
                if name:
                    member = f"artworks/{artwork['id']}{PurePosixPath(name).suffix}"
                    try:
                        # Streamed from wherever images live: one image in memory at a time.
                        self.studio.media.copy_into_zip(name, archive, member)
                        artwork["file"] = member
                    except NotFound:
                        # A missing image leaves its artwork's words in the archive. Any
                        # other error (a full disk) fails the archive: never a silent gap.
                        artwork["file"] = None
                if progress:
                    progress(number / max(1, len(artworks)) * 0.9, "Gathering your art…")
            archive.writestr("data.json", json.dumps(data, indent=2, ensure_ascii=False))
            archive.writestr("index.html", _index_html(data, self.studio.config.images.full_edge))
        if progress:
            progress(1.0, "Ready.")
        return destination

    def sweep(self) -> int:
        """Delete archives whose link expired unfetched (and strays); return how many."""
        now = self.studio.now().timestamp()
        with self._lock:
            expired = [k for k, d in self._downloads.items() if d.expires < now]
            paths = [self._downloads.pop(k).path for k in expired]
            waiting = {d.path.name for d in self._downloads.values()}
        for path in paths:
            path.unlink(missing_ok=True)
        removed = len(paths)
        if self.folder.exists():
            # A ZIP no link points at (its writer failed, say) goes once it is as old as
            # any link could be; younger ones may still be being written.
            cutoff = time.time() - DOWNLOAD_SECONDS
            for stray in self.folder.glob("*.zip"):
                try:
                    if stray.name not in waiting and stray.stat().st_mtime < cutoff:
                        stray.unlink(missing_ok=True)
                        removed += 1
                except OSError:
                    continue
        return removed

    def prepare_download(self, actor: User, progress: Progress | None = None) -> str:
        """Build the actor's archive and return a one-time link to fetch it."""
        self.sweep()
        code = secrets.token_urlsafe(24)
        path = self.folder / f"{secrets.token_hex(12)}.zip"
        with _archive_written(path):
            self.write_personal_archive(actor, path, progress)
        expires = self.studio.now().timestamp() + DOWNLOAD_SECONDS
        with self._lock:
            self._downloads[code] = Download(path, actor.id, expires)
        return f"export/{code}"

    def prepare_exhibition(self, actor: User, circle_id: str) -> tuple[str, int]:
        """Build a circle's exhibition archive; return a one-time link and how many pieces."""
        self.sweep()
        code = secrets.token_urlsafe(24)
        path = self.folder / f"{secrets.token_hex(12)}.zip"
        with _archive_written(path):
            count = self.write_exhibition(actor, circle_id, path)
        expires = self.studio.now().timestamp() + DOWNLOAD_SECONDS
        with self._lock:
            self._downloads[code] = Download(path, actor.id, expires)
        return f"export/{code}", count

    def claim_download(self, actor: User | None, code: str) -> Path | None:
        """Return the prepared archive for its owner, once; None if expired or not theirs."""
        try:
            with self.store.reading():
                self.policy.active(actor)
        except PermissionDenied:
            return None
        with self._lock:
            download = self._downloads.get(code)
            if download is None or actor is None or actor.id != download.user_id:
                return None
            del self._downloads[code]
        if download.expires < self.studio.now().timestamp():
            download.path.unlink(missing_ok=True)
            return None
        return download.path

    # -- delete my account -----------------------------------------------------------------------

    def delete_account(self, actor: User, password: str) -> None:
        """Remove the actor and everything of theirs from the live data."""
        with self.store.reading():
            record = self.policy.active(actor)
        if not self.studio.accounts.passwords.verify(record["password_hash"], password or ""):
            raise AuthenticationFailed("That password doesn't match, so nothing was deleted.")
        if record["role"] == ROLE_THERAPIST:
            others = [
                u
                for u in self.store.collection("users").all()
                if u["role"] == ROLE_THERAPIST
                and u["id"] != actor.id
                and not u.get("erasing_since")
            ]
            if not others:
                raise PermissionDenied(
                    "You're the studio's only therapist. Please hand over to another therapist "
                    "before deleting your account."
                )
        self.erase_person(actor.id)

    def erase_person(self, user_id: str) -> None:
        """Delete a person's records and files (callers check permission); safe to repeat.

        Three steps, each safe to interrupt. First the account is marked as being erased,
        which shuts it at once (no sign-in, no session, no new art), and their vault secret
        is destroyed: from then on nothing sealed for them, in the store or in any backup,
        can be opened by anyone. Then one transaction removes every record of theirs, so
        the store never holds half a person. Last their files go; a file a crash leaves
        behind names no record, and the sweeper removes it. A studio that opens on an
        account still marked finishes the erasure (``resume_erasures``).
        """
        users = self.store.collection("users")
        with self.store.transaction():
            record = users.get(user_id)
            if record is not None and not record.get("erasing_since"):
                users.update(user_id, erasing_since=self.studio.now().isoformat())
        self.studio.accounts.sealer.vault.destroy(user_id)
        with self.store.transaction():
            # Their words must not linger in the commit log or an older data file either.
            self.store.forget_earlier_versions()
            images, drafts = self._remove_records(user_id)
        # The files go only once no record names them any more.
        self.studio.artworks.delete_files(images)
        self.studio.artworks.delete_draft_files(drafts)
        with self._lock:
            theirs = [k for k, d in self._downloads.items() if d.user_id == user_id]
            paths = [self._downloads.pop(k).path for k in theirs]
        for path in paths:
            path.unlink(missing_ok=True)

    def resume_erasures(self) -> int:
        """Finish every account deletion a stop interrupted; return how many were finished."""
        with self.store.reading():
            waiting = [
                u["id"] for u in self.store.collection("users").all() if u.get("erasing_since")
            ]
        finished = 0
        for user_id in waiting:
            try:
                self.erase_person(user_id)
                finished += 1
            except (OSError, StudioError):
                # The account stays shut (it is still marked); the next open tries again.
                log.exception("could not finish deleting an account; it will be tried again")
        if finished:
            log.info("finished %d interrupted account deletion(s)", finished)
        return finished

    def _remove_records(self, user_id: str) -> tuple[list[str], list[str]]:
        """Remove every record of a person (in the caller's transaction); return their files."""
        c = self.store.collection
        images: list[str] = []
        for artwork_id in list(c("artworks").ids_by("user", user_id)):
            images.extend(self.studio.artworks.remove_records(artwork_id))
        drafts = self.studio.artworks.remove_draft_records(user_id)
        for name, index in OWNED:
            for record_id in list(c(name).ids_by(index, user_id)):
                c(name).remove(record_id)
        for flag in c("flags").find(about_user_id=user_id):
            if flag["kind"] == "crisis" and flag["status"] == "open":
                # It stays until a facilitator closes it, keeping no words of theirs.
                c("flags").update(flag["id"], excerpt="", subject_gone=True)
            else:
                c("flags").remove(flag["id"])
        for flag in c("flags").all():
            # A report they made stays for the moderators, no longer naming them.
            if user_id in flag.get("reporters", []):
                reporters = [FORMER_MEMBER if r == user_id else r for r in flag["reporters"]]
                c("flags").update(flag["id"], reporters=reporters)
        for entry in c("audit").all():
            if user_id in (entry.get("actor_id"), entry.get("subject_id")):
                c("audit").remove(entry["id"])
        for read in c("reads").all():
            if read.get("author_id") == user_id:
                c("reads").remove(read["id"])
            elif read.get("reader_id") == user_id:
                # The author keeps the record that this therapist read their note.
                c("reads").update(read["id"], reader_id=FORMER_MEMBER)
        # What a therapist made for a circle (the circle, invites, prompts, plans) and
        # flags they resolved stay, so the circle keeps working, no longer naming them.
        for name, field in SIGNED:
            for record in c(name).all():
                if record.get(field) == user_id:
                    c(name).update(record["id"], **{field: FORMER_MEMBER})
        for prompt in c("prompts").all():
            history = prompt.get("history") or []
            if any(entry.get("changed_by") == user_id for entry in history):
                history = [
                    {**e, "changed_by": FORMER_MEMBER} if e.get("changed_by") == user_id else e
                    for e in history
                ]
                c("prompts").update(prompt["id"], history=history)
        self.studio.alerts.forget(user_id)
        c("users").remove(user_id)
        return images, drafts

    # -- exhibitions -------------------------------------------------------------------------------

    def write_exhibition(self, actor: User, circle_id: str, destination: Path) -> int:
        """Write a circle's opted-in artworks to a ZIP for an exhibition; return how many."""
        c = self.store.collection
        with self.store.reading():
            self.policy.facilitator(actor, circle_id, therapist_only=True)
            circle = c("circles").get(circle_id)
            chosen = [
                dict(a)
                for a in with_current_names(
                    c("users"),
                    (
                        a
                        for a in c("artworks").by("circle", circle_id)
                        if a.get("exhibit_opt_in") and a.get("status") == "visible"
                    ),
                    "artist_name",
                )
            ]
        destination.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(destination, "w") as archive:
            for artwork in chosen:
                name = artwork["full_name"]
                artwork["file"] = f"artworks/{artwork['id']}{PurePosixPath(name).suffix}"
                self.studio.media.copy_into_zip(name, archive, artwork["file"])
            catalogue = [
                {
                    "artist": a["artist_name"],
                    "caption": a["caption"],
                    "alt_text": a["alt_text"],
                    "file": a["file"],
                }
                for a in chosen
            ]
            archive.writestr("catalogue.json", json.dumps(catalogue, indent=2, ensure_ascii=False))
            archive.writestr("index.html", _exhibition_html(circle["name"], catalogue))
        return len(chosen)


@contextlib.contextmanager
def _archive_written(path: Path) -> Iterator[None]:
    """Write an archive whole or not at all: a failed one is removed, a full disk said kindly."""
    try:
        yield
    except BaseException as exc:
        path.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            log.error("an export archive could not be written: %s", exc)
            raise save_failure(exc, ARCHIVE_FAILED) from exc
        raise


_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:960px;margin:2rem auto;padding:0 1rem;"
    "color:#2f3437;background:#fbf8f3}img{max-width:100%;border-radius:8px}"
    "section{border-top:1px solid #ddd;padding:1rem 0}.muted{color:#666;font-size:.9em}"
)


def _text(value: object) -> str:
    return html.escape(str(value or "")).replace("\n", "<br>")


def _when(value: object) -> str:
    """Return a stored time as a plain date ("Thu 3 Dec 2026"); data.json keeps it exact."""
    try:
        moment = parse_time(value)
    except (TypeError, ValueError):
        return _text(value)
    return date_label(moment) if moment else ""


def _index_html(data: dict, full_edge: int) -> str:
    parts = [
        "<!doctype html><html lang='en'><meta charset='utf-8'>",
        "<title>My Kindred Canvas journal</title>",
        f"<style>{_STYLE}</style><body>",
        f"<h1>{_text(data['account'].get('display_name'))}'s Kindred Canvas</h1>",
        "<p class='muted'>Everything you made and wrote, exported from Kindred Canvas. "
        "The same data is in data.json, with exact times.</p>",
        f"<p class='muted'>Each picture is the copy Kindred Canvas keeps: at most {full_edge} "
        "pixels on its longer side, without location or camera details. The file you "
        "uploaded is still yours on your own device.</p><h2>Artworks</h2>",
    ]
    comments: dict[str, list[dict]] = {}
    for comment in data["comments_on_my_art"]:
        comments.setdefault(comment["artwork_id"], []).append(comment)
    for artwork in data["artworks"]:
        parts.append("<section>")
        if artwork.get("file"):
            parts.append(f"<img src='{_text(artwork['file'])}' alt='{_text(artwork['alt_text'])}'>")
        parts.append(f"<p>{_text(artwork.get('caption'))}</p>")
        if artwork.get("content_warning"):
            parts.append(
                f"<p class='muted'>Content warning: {_text(artwork['content_warning'])}</p>"
            )
        size = (
            f" · {int(artwork['width'])} × {int(artwork['height'])} pixels"
            if artwork.get("file") and artwork.get("width") and artwork.get("height")
            else ""
        )
        parts.append(
            f"<p class='muted'>Alt text: {_text(artwork.get('alt_text'))} · "
            f"shared {_when(artwork.get('created_at'))}{size}</p>"
        )
        for comment in comments.get(artwork["id"], []):
            parts.append(f"<p><b>{_text(comment['author_name'])}</b>: {_text(comment['text'])}</p>")
        parts.append("</section>")
    parts.append("<h2>Reflections</h2>")
    for reflection in data["reflections"]:
        parts.append(
            f"<section><p class='muted'>{_when(reflection.get('created_at'))}"
            f"{' · shared with my therapist' if reflection.get('share_with_therapist') else ''}"
            f"</p><p>{_text(reflection['text'])}</p></section>"
        )
    parts.append("<h2>Mood check-ins</h2><ul>")
    for mood in data["moods"]:
        parts.append(
            f"<li>{_when(mood.get('created_at'))}: {_text(mood.get('moment'))} "
            f"{_text(mood.get('score'))}/5</li>"
        )
    parts.append("</ul><h2>My comments</h2>")
    for comment in data["my_comments"]:
        parts.append(
            f"<p>{_text(comment['text'])} <span class='muted'>"
            f"{_when(comment.get('created_at'))}</span></p>"
        )
    parts.append("</body></html>")
    return "".join(parts)


def _exhibition_html(circle_name: str, catalogue: list[dict]) -> str:
    items = "".join(
        f"<section><img src='{_text(a['file'])}' alt='{_text(a['alt_text'])}'>"
        f"<p>{_text(a['caption'])}</p><p class='muted'>{_text(a['artist'])}</p></section>"
        for a in catalogue
    )
    return (
        "<!doctype html><html lang='en'><meta charset='utf-8'>"
        f"<title>{_text(circle_name)} — exhibition</title><style>{_STYLE}</style><body>"
        f"<h1>{_text(circle_name)}</h1>{items}</body></html>"
    )
