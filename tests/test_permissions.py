"""The permission matrix: every service method that takes an actor, against every kind of actor.

One world is built once (a therapist running a circle with an artist, a peer, a co-facilitator
and a paused participant; an outsider in another circle; an artwork with comments, reactions,
a report, shared and private reflections, a plan entry, a draft...). Each case gets its own copy
of that world's data folder, so a call that changes something never affects another case.

The world also holds what the moderation rules need: a second co-facilitator, art by the
therapist and by that co-facilitator under report, reports raised by the therapist and by the
co-facilitator themselves, an artwork hidden for review, an artist with as many reports waiting
as anyone may have, an archived circle, and invite codes from co-facilitators who were since
made participants again, paused, or taken out of their circle.

Outcomes: ``ok`` allowed; ``no`` PermissionDenied; ``nf`` NotFound; ``0`` allowed but nothing
to show (None, 0 or empty); ``dup`` Conflict; ``bad`` ValidationError (the code no longer
works). A denied call must also leave the data folder exactly as it was. Run with ``-s`` to
print the matrix.
"""

from __future__ import annotations

import hashlib
import inspect
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pytest

from gallery_store import open_studio
from gallery_store.errors import Conflict, NotFound, PermissionDenied, ValidationError
from gallery_store.policy import OPEN_REPORT_LIMIT

from .conftest import FAST_CONFIG, PASSWORD, Clock, join, make_image

ACTORS = ("anonymous", "artist", "peer", "outsider", "cofacilitator", "therapist", "paused")
HEADINGS = ("anon", "artist", "peer", "outsider", "cofac", "therap.", "paused")
OUTCOMES = {"ok", "no", "nf", "0", "dup", "bad"}
ERRORS = {"no": PermissionDenied, "nf": NotFound, "dup": Conflict, "bad": ValidationError}

NEW_PASSWORD = "a slow tide over pebbles"
DECK = """
[deck]
theme = "coping"
title = "Coping with stress"
description = "A small deck for the permission tests."

[[prompts]]
slug = "coping-matrix-test"
title = "A test prompt"
instructions = "You might draw a cloud. You can stop whenever you like."
materials = ["paper", "pens"]
no_materials = "Draw it in the app."
minutes = 20
themes = ["coping", "grounding"]
intensity = "gentle"
reflection_questions = ["What did you notice?", "What helped?"]
"""
NEW_PROMPT = {
    "title": "A window of calm",
    "instructions": "You might draw the view from a window you love. Stop whenever you like.",
    "materials": ["paper", "pencils"],
    "no_materials": "Draw it in the app.",
    "minutes": 15,
    "themes": ["coping"],
    "intensity": "gentle",
    "reflection_questions": ["What did you notice?", "What helped?"],
}


# -- the world ------------------------------------------------------------------------------------


def build_world(data_dir: Path) -> SimpleNamespace:
    """Make the shared world in ``data_dir``; return the ids and codes the calls need."""
    w = SimpleNamespace()
    with open_studio(data_dir, FAST_CONFIG, Clock()) as s:
        w.therapist = s.accounts.bootstrap_therapist("tess", PASSWORD, "Tess")
        w.circle = s.circles.create(w.therapist, "Tuesday caregivers")
        w.other_circle = s.circles.create(w.therapist, "Thursday nurses")
        w.third_circle = s.circles.create(w.therapist, "Friday makers")
        w.artist = join(s, w.therapist, w.circle, "robin", "Robin")
        w.peer = join(s, w.therapist, w.circle, "sam", "Sam")
        w.cofacilitator = join(s, w.therapist, w.circle, "kit", "Kit")
        s.circles.set_role(w.therapist, w.circle.id, w.cofacilitator.id, "cofacilitator")
        w.paused = join(s, w.therapist, w.circle, "dana", "Dana")
        w.outsider = join(s, w.therapist, w.other_circle, "lee", "Lee")

        w.artwork = s.artworks.share(
            w.artist, make_image(), caption="My kitchen at dawn", alt_text="A yellow window"
        )
        w.peer_comment = s.comments.post(w.peer, w.artwork.id, "I notice the warm light.")
        w.artist_comment = s.comments.post(w.artist, w.artwork.id, "It was very early.")
        w.flag = s.moderation.report(w.peer, "comment", w.artist_comment.id, "Off topic")
        s.reactions.toggle(w.peer, w.artwork.id, "relate")
        w.draft_id = s.artworks.save_draft(w.artist, {"objects": []})

        w.shared = s.reflections.write(
            w.artist,
            "Drawing helped me slow down.",
            artwork_id=w.artwork.id,
            mood_before=2,
            mood_after=4,
            share_with_therapist=True,
        )
        w.private = s.reflections.write(w.artist, "Just for me today.")
        s.reflections.write(w.peer, "I took 30 paracetamol an hour ago and I want to die.")
        w.crisis_flag_id = s.store.collection("flags").first(kind="crisis")["id"]
        s.reflections.get(w.therapist, w.shared.id)  # a read, for reads_of
        w.checkin = s.reflections.check_in(w.artist, "before", 2)
        s.reflections.check_in(w.artist, "after", 4)
        s.reflections.set_insights_consent(w.artist, True)
        s.moderation.contact(w.therapist, w.artist.id, "Checking in", circle_id=w.circle.id)

        w.prompt_id = s.prompts.today(w.therapist, w.circle.id).prompt.id
        s.prompts.pin(w.therapist, w.circle.id, w.prompt_id, date(2026, 11, 10))
        [entry] = s.prompts.plan_entries(w.therapist, w.circle.id)
        w.plan_entry_id = entry["id"]
        s.circles.invite(w.therapist, w.circle.id, label="spare")
        w.invite_id = s.circles.invites(w.therapist, w.circle.id)[0].id
        w.third_code = s.circles.invite(w.therapist, w.third_circle.id, max_uses=None)

        add_moderation_world(s, w)
        add_ended_invites(s, w)

        s.accounts.set_disabled(w.therapist, w.paused.id, True)
    return w


def add_moderation_world(s, w: SimpleNamespace) -> None:
    """Add the pieces and reports the rules on reporting and resolving need."""

    def art(person, caption: str, circle=None):
        return s.artworks.share(
            person,
            make_image(),
            caption=caption,
            alt_text="A shape",
            circle_id=(circle or w.circle).id,
        )

    w.cofacilitator2 = join(s, w.therapist, w.circle, "joan", "Jo")
    s.circles.set_role(w.therapist, w.circle.id, w.cofacilitator2.id, "cofacilitator")
    w.therapist_art = art(w.therapist, "An example piece")
    w.therapist_art_flag = s.moderation.report(w.peer, "artwork", w.therapist_art.id, "Hmm")
    w.cofac2_art = art(w.cofacilitator2, "A sketch")
    w.cofac2_art_flag = s.moderation.report(w.peer, "artwork", w.cofac2_art.id, "Hmm")
    peer_art = art(w.peer, "A storm")
    w.therapists_report = s.moderation.report(w.therapist, "artwork", peer_art.id, "Checking")
    peer_art2 = art(w.peer, "Another storm")
    w.cofacs_report = s.moderation.report(w.cofacilitator, "artwork", peer_art2.id, "Checking")
    w.hidden_art = art(w.artist, "Under review")
    s.moderation.report(w.peer, "artwork", w.hidden_art.id, "Please look")
    # The artist has as many reports waiting as anyone may.
    for n in range(OPEN_REPORT_LIMIT):
        sketch = art(w.cofacilitator2, f"Sketch {n}")
        s.moderation.report(w.artist, "artwork", sketch.id, "Please look")

    w.archived_circle = s.circles.create(w.therapist, "Last spring")
    code = s.circles.invite(w.therapist, w.archived_circle.id, max_uses=None)
    for person in (w.artist, w.peer, w.cofacilitator):
        s.accounts.join_another_circle(person, code)
    s.circles.set_role(w.therapist, w.archived_circle.id, w.cofacilitator.id, "cofacilitator")
    w.archived_art = art(w.artist, "From the spring", w.archived_circle)
    s.circles.archive(w.therapist, w.archived_circle.id)


def add_ended_invites(s, w: SimpleNamespace) -> None:
    """Give co-facilitators of the third circle invites, then end their roles there."""
    codes = {}
    for username, name in (("mira", "Mira"), ("nour", "Nour"), ("omar", "Omar")):
        person = join(s, w.therapist, w.third_circle, username, name)
        s.circles.set_role(w.therapist, w.third_circle.id, person.id, "cofacilitator")
        codes[username] = (person, s.circles.invite(person, w.third_circle.id, max_uses=10))
    mira, w.demoted_code = codes["mira"]
    nour, w.paused_cofac_code = codes["nour"]
    omar, w.removed_code = codes["omar"]
    s.circles.set_role(w.therapist, w.third_circle.id, mira.id, "participant")
    s.accounts.set_disabled(w.therapist, nour.id, True)
    s.circles.remove_member(w.therapist, w.third_circle.id, omar.id)


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> tuple[Path, SimpleNamespace]:
    folder = tmp_path_factory.mktemp("matrix") / "data"
    return folder, build_world(folder)


@pytest.fixture
def world(template, tmp_path):
    """A private copy of the world for one case."""
    source, ids = template
    data_dir = tmp_path / "data"
    shutil.copytree(source, data_dir)
    studio = open_studio(data_dir, FAST_CONFIG, Clock())
    w = SimpleNamespace(**vars(ids), s=studio, data_dir=data_dir, tmp=tmp_path)
    yield w
    studio.close()


def actor_of(w: SimpleNamespace, kind: str):
    return None if kind == "anonymous" else getattr(w, kind)


def fingerprint(data_dir: Path) -> dict[str, str]:
    """Return a digest of every file in the data folder except lock files."""
    return {
        str(p.relative_to(data_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(data_dir.rglob("*"))
        if p.is_file() and not p.name.endswith("lock")
    }


# -- the table ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One call and what each kind of actor should get from it."""

    name: str
    call: Callable[[SimpleNamespace, object], object]
    outcomes: str  # one outcome per actor, in ACTORS order

    @property
    def expected(self) -> dict[str, str]:
        parts = self.outcomes.split()
        assert len(parts) == len(ACTORS) and set(parts) <= OUTCOMES, self.name
        return dict(zip(ACTORS, parts, strict=True))


def claim_artists_download(w, a):
    link = w.s.exports.prepare_download(w.artist)
    return w.s.exports.claim_download(a, link.removeprefix("export/"))


# Outcomes per actor: anonymous artist peer outsider cofacilitator therapist paused
GROUPS: dict[str, list[Row]] = {
    "accounts": [
        Row(
            "accounts.get(artist)",
            lambda w, a: w.s.accounts.get(a, w.artist.id),
            "no ok ok nf ok ok no",
        ),
        Row("accounts.refresh", lambda w, a: w.s.accounts.refresh(a), "no ok ok ok ok ok no"),
        Row(
            "accounts.rename",
            lambda w, a: w.s.accounts.rename(a, "New Name"),
            "no ok ok ok ok ok no",
        ),
        Row(
            "accounts.change_password",
            lambda w, a: w.s.accounts.change_password(a, PASSWORD, NEW_PASSWORD),
            "no ok ok ok ok ok no",
        ),
        Row(
            "accounts.issue_reset_code(artist)",
            lambda w, a: w.s.accounts.issue_reset_code(a, w.artist.id),
            "no no no no no ok no",
        ),
        Row(
            "accounts.set_disabled(artist)",
            lambda w, a: w.s.accounts.set_disabled(a, w.artist.id, True),
            "no no no no no ok no",
        ),
        Row(
            "accounts.account_events",
            lambda w, a: w.s.accounts.account_events(a),
            "no ok ok ok ok ok no",
        ),
        Row(
            "accounts.reset_notice",
            lambda w, a: w.s.accounts.reset_notice(a),
            "no 0 0 0 0 0 no",
        ),
        Row(
            "accounts.dismiss_reset_notice",
            lambda w, a: w.s.accounts.dismiss_reset_notice(a),
            "no ok ok ok ok ok no",
        ),
        Row(
            "accounts.recovery_code_to_show",
            lambda w, a: w.s.accounts.recovery_code_to_show(a),
            "no ok ok ok ok ok no",
        ),
        Row(
            "accounts.recovery_code_kept",
            lambda w, a: w.s.accounts.recovery_code_kept(a),
            "no ok ok ok ok ok no",
        ),
        Row(
            "accounts.locked_notes",
            lambda w, a: w.s.accounts.locked_notes(a),
            "no 0 0 0 0 0 no",
        ),
        Row(
            "accounts.unlock_notes",
            lambda w, a: w.s.accounts.unlock_notes(a, "RC-AAAAA-AAAAA-AAAAA-AAAAA-AAAAA"),
            "no 0 0 0 0 0 no",
        ),
        Row(
            "accounts.join_another_circle",
            lambda w, a: w.s.accounts.join_another_circle(a, w.third_code),
            "no ok ok ok ok dup no",
        ),
        # Codes a co-facilitator made before being demoted, paused or removed: they've ended.
        Row(
            "accounts.join_another_circle(demote)",
            lambda w, a: w.s.accounts.join_another_circle(a, w.demoted_code),
            "no bad bad bad bad bad no",
        ),
        Row(
            "accounts.join_another_circle(pause)",
            lambda w, a: w.s.accounts.join_another_circle(a, w.paused_cofac_code),
            "no bad bad bad bad bad no",
        ),
        Row(
            "accounts.join_another_circle(remove)",
            lambda w, a: w.s.accounts.join_another_circle(a, w.removed_code),
            "no bad bad bad bad bad no",
        ),
    ],
    "circles": [
        Row(
            "circles.create",
            lambda w, a: w.s.circles.create(a, "New circle"),
            "no no no no no ok no",
        ),
        Row("circles.get", lambda w, a: w.s.circles.get(a, w.circle.id), "no ok ok no ok ok no"),
        Row("circles.for_user", lambda w, a: w.s.circles.for_user(a), "no ok ok ok ok ok no"),
        Row(
            "circles.membership",
            lambda w, a: w.s.circles.membership(a, w.circle.id),
            "no ok ok no ok ok no",
        ),
        Row("circles.facilitated", lambda w, a: w.s.circles.facilitated(a), "no 0 0 0 ok ok no"),
        Row(
            "circles.update",
            lambda w, a: w.s.circles.update(a, w.circle.id, name="Renamed"),
            "no no no no no ok no",
        ),
        Row(
            "circles.archive",
            lambda w, a: w.s.circles.archive(a, w.circle.id),
            "no no no no no ok no",
        ),
        Row(
            "circles.invite",
            lambda w, a: w.s.circles.invite(a, w.circle.id),
            "no no no no ok ok no",
        ),
        Row(
            "circles.invite(unlimited uses)",
            lambda w, a: w.s.circles.invite(a, w.circle.id, max_uses=None),
            "no no no no no ok no",
        ),
        Row(
            "circles.invite(never expires)",
            lambda w, a: w.s.circles.invite(a, w.circle.id, expires_in_days=None),
            "no no no no no ok no",
        ),
        Row(
            "circles.invites",
            lambda w, a: w.s.circles.invites(a, w.circle.id),
            "no no no no ok ok no",
        ),
        Row(
            "circles.revoke_invite",
            lambda w, a: w.s.circles.revoke_invite(a, w.invite_id),
            "no no no no ok ok no",
        ),
        Row(
            "circles.members",
            lambda w, a: w.s.circles.members(a, w.circle.id),
            "no ok ok no ok ok no",
        ),
        Row(
            "circles.set_role(peer)",
            lambda w, a: w.s.circles.set_role(a, w.circle.id, w.peer.id, "cofacilitator"),
            "no no no no no ok no",
        ),
        Row(
            "circles.remove_member(peer)",
            lambda w, a: w.s.circles.remove_member(a, w.circle.id, w.peer.id),
            "no no no no no ok no",
        ),
    ],
    "prompts": [
        Row("prompts.get", lambda w, a: w.s.prompts.get(a, w.prompt_id), "no ok ok ok ok ok no"),
        Row("prompts.library", lambda w, a: w.s.prompts.library(a), "no no no no no ok no"),
        Row(
            "prompts.history",
            lambda w, a: w.s.prompts.history(a, w.prompt_id),
            "no no no no no ok no",
        ),
        Row(
            "prompts.create",
            lambda w, a: w.s.prompts.create(a, **NEW_PROMPT),
            "no no no no no ok no",
        ),
        Row(
            "prompts.edit",
            lambda w, a: w.s.prompts.edit(a, w.prompt_id, minutes=45),
            "no no no no no ok no",
        ),
        Row(
            "prompts.retire",
            lambda w, a: w.s.prompts.retire(a, w.prompt_id),
            "no no no no no ok no",
        ),
        Row(
            "prompts.import_deck",
            lambda w, a: w.s.prompts.import_deck(a, DECK),
            "no no no no no ok no",
        ),
        Row(
            "prompts.export_deck",
            lambda w, a: w.s.prompts.export_deck(a, "coping"),
            "no no no no no ok no",
        ),
        Row(
            "prompts.today", lambda w, a: w.s.prompts.today(a, w.circle.id), "no ok ok no ok ok no"
        ),
        Row("prompts.plan", lambda w, a: w.s.prompts.plan(a, w.circle.id), "no no no no ok ok no"),
        Row("prompts.past", lambda w, a: w.s.prompts.past(a, w.circle.id), "no ok ok no ok ok no"),
        Row(
            "prompts.another",
            lambda w, a: w.s.prompts.another(a, w.circle.id),
            "no ok ok no ok ok no",
        ),
        Row(
            "prompts.pin",
            lambda w, a: w.s.prompts.pin(a, w.circle.id, w.prompt_id, date(2026, 11, 20)),
            "no no no no no ok no",
        ),
        Row(
            "prompts.skip",
            lambda w, a: w.s.prompts.skip(a, w.circle.id, date(2026, 11, 21)),
            "no no no no no ok no",
        ),
        Row(
            "prompts.queue_series",
            lambda w, a: w.s.prompts.queue_series(a, w.circle.id, [w.prompt_id], date(2026, 12, 1)),
            "no no no no no ok no",
        ),
        Row(
            "prompts.plan_entries",
            lambda w, a: w.s.prompts.plan_entries(a, w.circle.id),
            "no no no no ok ok no",
        ),
        Row(
            "prompts.remove_plan_entry",
            lambda w, a: w.s.prompts.remove_plan_entry(a, w.plan_entry_id),
            "no no no no no ok no",
        ),
        Row("prompts.usage", lambda w, a: w.s.prompts.usage(a), "no no no no no ok no"),
    ],
    "artworks": [
        Row(
            "artworks.share",
            lambda w, a: w.s.artworks.share(
                a, make_image(), alt_text="A cup", circle_id=w.circle.id
            ),
            "no ok ok no ok ok no",
        ),
        Row(
            "artworks.gallery",
            lambda w, a: w.s.artworks.gallery(a, circle_id=w.circle.id),
            "no ok ok no ok ok no",
        ),
        Row("artworks.get", lambda w, a: w.s.artworks.get(a, w.artwork.id), "no ok ok no ok ok no"),
        Row(
            "artworks.image",
            lambda w, a: w.s.artworks.image(a, w.artwork.id, "full"),
            "no ok ok no ok ok no",
        ),
        Row(
            "artworks.by_artist(artist)",
            lambda w, a: w.s.artworks.by_artist(a, w.artist.id),
            "no ok no no no no no",
        ),
        Row(
            "artworks.count_in_circle",
            lambda w, a: w.s.artworks.count_in_circle(a, w.circle.id),
            "no no no no ok ok no",
        ),
        Row(
            "artworks.edit",
            lambda w, a: w.s.artworks.edit(a, w.artwork.id, caption="Dawn"),
            "no ok no no no no no",
        ),
        Row(
            "artworks.edit(hidden: caption)",
            lambda w, a: w.s.artworks.edit(a, w.hidden_art.id, caption="Nothing to see"),
            "no no no no no no no",
        ),
        Row(
            "artworks.edit(hidden: alt text)",
            lambda w, a: w.s.artworks.edit(a, w.hidden_art.id, alt_text="A blank square"),
            "no no no no no no no",
        ),
        Row(
            "artworks.edit(hidden: warning)",
            lambda w, a: w.s.artworks.edit(a, w.hidden_art.id, content_warning="None"),
            "no no no no no no no",
        ),
        Row(
            "artworks.edit(hidden: comments off)",
            lambda w, a: w.s.artworks.edit(a, w.hidden_art.id, comments_enabled=False),
            "no ok no no no no no",
        ),
        Row(
            "artworks.delete",
            lambda w, a: w.s.artworks.delete(a, w.artwork.id),
            "no ok no no no no no",
        ),
        Row(
            "artworks.sensitive_choice",
            lambda w, a: w.s.artworks.sensitive_choice(a),
            "no ok ok ok ok ok no",
        ),
        Row(
            "artworks.set_sensitive_choice",
            lambda w, a: w.s.artworks.set_sensitive_choice(a, "hide"),
            "no ok ok ok ok ok no",
        ),
        Row(
            "artworks.save_draft",
            lambda w, a: w.s.artworks.save_draft(a, {"objects": [1]}),
            "no ok ok ok ok ok no",
        ),
        Row("artworks.drafts_of", lambda w, a: w.s.artworks.drafts_of(a), "no ok 0 0 0 0 no"),
        Row(
            "artworks.delete_draft(artist's)",
            lambda w, a: w.s.artworks.delete_draft(a, w.draft_id),
            "no ok nf nf nf nf no",
        ),
    ],
    "comments": [
        Row(
            "comments.post",
            lambda w, a: w.s.comments.post(a, w.artwork.id, "I notice the sky."),
            "no ok ok no ok ok no",
        ),
        Row(
            "comments.for_artwork",
            lambda w, a: w.s.comments.for_artwork(a, w.artwork.id),
            "no ok ok no ok ok no",
        ),
        Row(
            "comments.edit(peer's)",
            lambda w, a: w.s.comments.edit(a, w.peer_comment.id, "I notice the light."),
            "no no ok no no no no",
        ),
        Row(
            "comments.delete(peer's)",
            lambda w, a: w.s.comments.delete(a, w.peer_comment.id),
            "no no ok no no no no",
        ),
        Row(
            "reactions.toggle",
            lambda w, a: w.s.reactions.toggle(a, w.artwork.id, "moved"),
            "no ok ok no ok ok no",
        ),
        Row(
            "reactions.mine",
            lambda w, a: w.s.reactions.mine(a, w.artwork.id),
            "no ok ok no ok ok no",
        ),
        Row(
            "reactions.for_artist",
            lambda w, a: w.s.reactions.for_artist(a, w.artwork.id),
            "no ok no no no no no",
        ),
    ],
    "reflections": [
        Row(
            "reflections.write",
            lambda w, a: w.s.reflections.write(a, "A quiet note."),
            "no ok ok ok ok ok no",
        ),
        Row(
            "reflections.for_user(artist)",
            lambda w, a: w.s.reflections.for_user(a, w.artist.id),
            "no ok no no no ok no",
        ),
        Row(
            "reflections.get(shared)",
            lambda w, a: w.s.reflections.get(a, w.shared.id),
            "no ok no no no ok no",
        ),
        Row(
            "reflections.get(private)",
            lambda w, a: w.s.reflections.get(a, w.private.id),
            "no ok no no no no no",
        ),
        Row(
            "reflections.edit(shared)",
            lambda w, a: w.s.reflections.edit(a, w.shared.id, text="Changed."),
            "no ok no no no no no",
        ),
        Row(
            "reflections.delete(shared)",
            lambda w, a: w.s.reflections.delete(a, w.shared.id),
            "no ok no no no no no",
        ),
        Row(
            "reflections.reads_of(shared)",
            lambda w, a: w.s.reflections.reads_of(a, w.shared.id),
            "no ok no no no no no",
        ),
        Row(
            "reflections.check_in",
            lambda w, a: w.s.reflections.check_in(a, "before", 3),
            "no ok ok ok ok ok no",
        ),
        Row(
            "reflections.edit_check_in(artist's)",
            lambda w, a: w.s.reflections.edit_check_in(a, w.checkin.id, score=4),
            "no ok nf nf nf nf no",
        ),
        Row("reflections.moods", lambda w, a: w.s.reflections.moods(a), "no ok ok ok ok ok no"),
        Row(
            "reflections.reads_of_mine",
            lambda w, a: w.s.reflections.reads_of_mine(a),
            "no ok 0 0 0 0 no",
        ),
        Row(
            "reflections.readable_own",
            lambda w, a: w.s.reflections.readable_own(a),
            "no ok ok ok ok ok no",
        ),
        Row(
            "reflections.mood_timeline",
            lambda w, a: w.s.reflections.mood_timeline(a),
            "no ok ok ok ok ok no",
        ),
        Row(
            "reflections.set_insights_consent",
            lambda w, a: w.s.reflections.set_insights_consent(a, True),
            "no ok ok ok ok ok no",
        ),
        Row(
            "reflections.insights_consent",
            lambda w, a: w.s.reflections.insights_consent(a),
            "no ok ok ok ok ok no",
        ),
    ],
    "moderation": [
        Row(
            "moderation.report(artwork)",
            lambda w, a: w.s.moderation.report(a, "artwork", w.artwork.id, "Please look"),
            "no no ok no ok ok no",
        ),
        Row(
            "moderation.report(archived circle)",
            lambda w, a: w.s.moderation.report(a, "artwork", w.archived_art.id, "Please look"),
            "no no no no no no no",
        ),
        Row(
            "moderation.report(beyond the limit)",
            lambda w, a: w.s.moderation.report(a, "comment", w.peer_comment.id, "Please look"),
            "no no no no ok ok no",
        ),
        Row(
            "moderation.queue(circle)",
            lambda w, a: w.s.moderation.queue(a, w.circle.id),
            "no no no no ok ok no",
        ),
        Row("moderation.queue(all)", lambda w, a: w.s.moderation.queue(a), "no no no no ok ok no"),
        Row(
            "moderation.resolve(report)",
            lambda w, a: w.s.moderation.resolve(a, w.flag.id, "restore", "It's kind"),
            "no no no no ok ok no",
        ),
        # Nobody settles a report they raised; only a therapist removes a facilitator's art
        # (the co-facilitator's is the second one's, Jo's, so not a report about themselves).
        Row(
            "moderation.resolve(own, cofac)",
            lambda w, a: w.s.moderation.resolve(a, w.cofacs_report.id, "remove", "Mine"),
            "no no no no no ok no",
        ),
        Row(
            "moderation.resolve(own, therap.)",
            lambda w, a: w.s.moderation.resolve(a, w.therapists_report.id, "restore", "Mine"),
            "no no no no ok no no",
        ),
        Row(
            "moderation.resolve(remove therap.)",
            lambda w, a: w.s.moderation.resolve(a, w.therapist_art_flag.id, "remove", "Graphic"),
            "no no no no no ok no",
        ),
        Row(
            "moderation.resolve(hide therap.)",
            lambda w, a: w.s.moderation.resolve(a, w.therapist_art_flag.id, "hide", "For now"),
            "no no no no ok ok no",
        ),
        Row(
            "moderation.resolve(remove cofac)",
            lambda w, a: w.s.moderation.resolve(a, w.cofac2_art_flag.id, "remove", "Graphic"),
            "no no no no no ok no",
        ),
        Row(
            "moderation.close_crisis",
            lambda w, a: w.s.moderation.close_crisis(a, w.crisis_flag_id, "safe_now"),
            "no no no no no ok no",
        ),
        Row(
            "moderation.contact(artist)",
            lambda w, a: w.s.moderation.contact(a, w.artist.id, "Hello", circle_id=w.circle.id),
            "no no no no no ok no",
        ),
        Row("moderation.notices", lambda w, a: w.s.moderation.notices(a), "no ok ok ok ok ok no"),
        Row(
            "moderation.mark_notices_read",
            lambda w, a: w.s.moderation.mark_notices_read(a),
            "no ok ok ok ok ok no",
        ),
        Row(
            "moderation.audit_log",
            lambda w, a: w.s.moderation.audit_log(a, w.circle.id),
            "no no no no no ok no",
        ),
        Row(
            "moderation.unanswered",
            lambda w, a: w.s.moderation.unanswered(a, w.circle.id),
            "no no no no no ok no",
        ),
        Row("moderation.open_count", lambda w, a: w.s.moderation.open_count(a), "0 0 0 0 ok ok 0"),
    ],
    "insights": [
        Row(
            "insights.participation",
            lambda w, a: w.s.insights.participation(a, w.circle.id),
            "no no no no no ok no",
        ),
        Row(
            "insights.mood_change",
            lambda w, a: w.s.insights.mood_change(a, w.circle.id),
            "no no no no no ok no",
        ),
        Row(
            "insights.prompt_effects",
            lambda w, a: w.s.insights.prompt_effects(a, w.circle.id),
            "no no no no no ok no",
        ),
        Row(
            "insights.prompt_usage",
            lambda w, a: w.s.insights.prompt_usage(a),
            "no no no no no ok no",
        ),
    ],
    # Everything in the world happened as the accounts were made, so nothing is new yet;
    # tests/test_notices.py shows what each person is told.
    "notices": [
        Row(
            "notices.new_since_last_look",
            lambda w, a: w.s.notices.new_since_last_look(a),
            "no 0 0 0 0 0 no",
        ),
        Row("notices.count", lambda w, a: w.s.notices.count(a), "no 0 0 0 0 0 no"),
        Row("notices.mark_seen", lambda w, a: w.s.notices.mark_seen(a), "no ok ok ok ok ok no"),
    ],
    "exports": [
        Row(
            "exports.personal_data",
            lambda w, a: w.s.exports.personal_data(a),
            "no ok ok ok ok ok no",
        ),
        Row(
            "exports.write_personal_archive",
            lambda w, a: w.s.exports.write_personal_archive(a, w.tmp / "mine.zip"),
            "no ok ok ok ok ok no",
        ),
        Row(
            "exports.prepare_download",
            lambda w, a: w.s.exports.prepare_download(a),
            "no ok ok ok ok ok no",
        ),
        Row("exports.claim_download(artist's)", claim_artists_download, "0 ok 0 0 0 0 0"),
        Row(
            "exports.delete_account",
            lambda w, a: w.s.exports.delete_account(a, PASSWORD),
            "no ok ok ok ok no no",
        ),
        Row(
            "exports.write_exhibition",
            lambda w, a: w.s.exports.write_exhibition(a, w.circle.id, w.tmp / "show.zip"),
            "no no no no no ok no",
        ),
        Row(
            "exports.prepare_exhibition",
            lambda w, a: w.s.exports.prepare_exhibition(a, w.circle.id),
            "no no no no no ok no",
        ),
    ],
}
ROWS = [row for rows in GROUPS.values() for row in rows]


def render_matrix() -> str:
    """Return the matrix as a compact text table, one block per service."""
    width = max(len(row.name) for row in ROWS)
    header = "call".ljust(width) + "  " + " ".join(h.rjust(8) for h in HEADINGS)
    lines = [header, "-" * len(header)]
    for group, rows in GROUPS.items():
        if group != "accounts":
            lines.append("")
        for row in rows:
            cells = " ".join(row.expected[a].rjust(8) for a in ACTORS)
            lines.append(row.name.ljust(width) + "  " + cells)
    return "\n".join(lines)


# -- the test -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "actor"),
    [pytest.param(row, actor, id=f"{row.name}-{actor}") for row in ROWS for actor in ACTORS],
)
def test_permission_matrix(world, row, actor):
    expected = row.expected[actor]
    who = actor_of(world, actor)
    if expected in ERRORS:
        before = fingerprint(world.data_dir)
        with pytest.raises(ERRORS[expected]) as refused:
            row.call(world, who)
        assert fingerprint(world.data_dir) == before, "a refused call changed stored data"
        if expected == "no" and actor == "anonymous":
            assert "sign in" in refused.value.message
        elif expected == "no" and actor == "paused":
            assert "paused" in refused.value.message
        return
    result = row.call(world, who)
    if expected == "0":
        assert not result
    elif "0" in row.expected.values():
        assert result  # the row says some get nothing; those allowed must get something


def test_every_public_method_that_takes_an_actor_is_in_the_matrix(world):
    """A new service method must be added to the matrix (or listed here as covered elsewhere)."""
    # A hook other services call inside their own checked transactions, not an action.
    hooks = {"moderation.flag_if_crisis", "moderation.raise_flag"}
    services = ["accounts", "circles", "prompts", "artworks", "comments", "reactions"]
    services += ["reflections", "moderation", "insights", "exports", "notices"]
    in_matrix = {row.name.split("(")[0] for row in ROWS}
    missing = []
    for service in services:
        for name in dir(getattr(world.s, service)):
            method = getattr(getattr(world.s, service), name)
            if name.startswith("_") or not callable(method):
                continue
            params = list(inspect.signature(method).parameters)
            if params[:1] != ["actor"]:
                continue
            if f"{service}.{name}" not in in_matrix | hooks:
                missing.append(f"{service}.{name}")
    assert missing == []


def test_a_paused_persons_old_download_link_gives_nothing(world):
    """Regression: claim_download handed a paused person's stale User their archive."""
    s = world.s
    s.accounts.set_disabled(world.therapist, world.paused.id, False)
    link = s.exports.prepare_download(world.paused)
    s.accounts.set_disabled(world.therapist, world.paused.id, True)
    assert s.exports.claim_download(world.paused, link.removeprefix("export/")) is None


def test_the_matrix_note_at_the_end_of_this_file_is_current():
    table = render_matrix()
    print("\n" + table)  # shown with -s
    note = re.search(r'MATRIX = """\n(.*?)"""', Path(__file__).read_text(), re.S)
    assert note is not None
    assert note.group(1).rstrip("\n") == table


# The matrix as a table (kept current by the test above; -s prints it too).
# ok allowed · no PermissionDenied · nf NotFound · 0 allowed, nothing to show · dup Conflict
# bad ValidationError
MATRIX = """
call                                      anon   artist     peer outsider    cofac  therap.   paused
----------------------------------------------------------------------------------------------------
accounts.get(artist)                        no       ok       ok       nf       ok       ok       no
accounts.refresh                            no       ok       ok       ok       ok       ok       no
accounts.rename                             no       ok       ok       ok       ok       ok       no
accounts.change_password                    no       ok       ok       ok       ok       ok       no
accounts.issue_reset_code(artist)           no       no       no       no       no       ok       no
accounts.set_disabled(artist)               no       no       no       no       no       ok       no
accounts.account_events                     no       ok       ok       ok       ok       ok       no
accounts.reset_notice                       no        0        0        0        0        0       no
accounts.dismiss_reset_notice               no       ok       ok       ok       ok       ok       no
accounts.recovery_code_to_show              no       ok       ok       ok       ok       ok       no
accounts.recovery_code_kept                 no       ok       ok       ok       ok       ok       no
accounts.locked_notes                       no        0        0        0        0        0       no
accounts.unlock_notes                       no        0        0        0        0        0       no
accounts.join_another_circle                no       ok       ok       ok       ok      dup       no
accounts.join_another_circle(demote)        no      bad      bad      bad      bad      bad       no
accounts.join_another_circle(pause)         no      bad      bad      bad      bad      bad       no
accounts.join_another_circle(remove)        no      bad      bad      bad      bad      bad       no

circles.create                              no       no       no       no       no       ok       no
circles.get                                 no       ok       ok       no       ok       ok       no
circles.for_user                            no       ok       ok       ok       ok       ok       no
circles.membership                          no       ok       ok       no       ok       ok       no
circles.facilitated                         no        0        0        0       ok       ok       no
circles.update                              no       no       no       no       no       ok       no
circles.archive                             no       no       no       no       no       ok       no
circles.invite                              no       no       no       no       ok       ok       no
circles.invite(unlimited uses)              no       no       no       no       no       ok       no
circles.invite(never expires)               no       no       no       no       no       ok       no
circles.invites                             no       no       no       no       ok       ok       no
circles.revoke_invite                       no       no       no       no       ok       ok       no
circles.members                             no       ok       ok       no       ok       ok       no
circles.set_role(peer)                      no       no       no       no       no       ok       no
circles.remove_member(peer)                 no       no       no       no       no       ok       no

prompts.get                                 no       ok       ok       ok       ok       ok       no
prompts.library                             no       no       no       no       no       ok       no
prompts.history                             no       no       no       no       no       ok       no
prompts.create                              no       no       no       no       no       ok       no
prompts.edit                                no       no       no       no       no       ok       no
prompts.retire                              no       no       no       no       no       ok       no
prompts.import_deck                         no       no       no       no       no       ok       no
prompts.export_deck                         no       no       no       no       no       ok       no
prompts.today                               no       ok       ok       no       ok       ok       no
prompts.plan                                no       no       no       no       ok       ok       no
prompts.past                                no       ok       ok       no       ok       ok       no
prompts.another                             no       ok       ok       no       ok       ok       no
prompts.pin                                 no       no       no       no       no       ok       no
prompts.skip                                no       no       no       no       no       ok       no
prompts.queue_series                        no       no       no       no       no       ok       no
prompts.plan_entries                        no       no       no       no       ok       ok       no
prompts.remove_plan_entry                   no       no       no       no       no       ok       no
prompts.usage                               no       no       no       no       no       ok       no

artworks.share                              no       ok       ok       no       ok       ok       no
artworks.gallery                            no       ok       ok       no       ok       ok       no
artworks.get                                no       ok       ok       no       ok       ok       no
artworks.image                              no       ok       ok       no       ok       ok       no
artworks.by_artist(artist)                  no       ok       no       no       no       no       no
artworks.count_in_circle                    no       no       no       no       ok       ok       no
artworks.edit                               no       ok       no       no       no       no       no
artworks.edit(hidden: caption)              no       no       no       no       no       no       no
artworks.edit(hidden: alt text)             no       no       no       no       no       no       no
artworks.edit(hidden: warning)              no       no       no       no       no       no       no
artworks.edit(hidden: comments off)         no       ok       no       no       no       no       no
artworks.delete                             no       ok       no       no       no       no       no
artworks.sensitive_choice                   no       ok       ok       ok       ok       ok       no
artworks.set_sensitive_choice               no       ok       ok       ok       ok       ok       no
artworks.save_draft                         no       ok       ok       ok       ok       ok       no
artworks.drafts_of                          no       ok        0        0        0        0       no
artworks.delete_draft(artist's)             no       ok       nf       nf       nf       nf       no

comments.post                               no       ok       ok       no       ok       ok       no
comments.for_artwork                        no       ok       ok       no       ok       ok       no
comments.edit(peer's)                       no       no       ok       no       no       no       no
comments.delete(peer's)                     no       no       ok       no       no       no       no
reactions.toggle                            no       ok       ok       no       ok       ok       no
reactions.mine                              no       ok       ok       no       ok       ok       no
reactions.for_artist                        no       ok       no       no       no       no       no

reflections.write                           no       ok       ok       ok       ok       ok       no
reflections.for_user(artist)                no       ok       no       no       no       ok       no
reflections.get(shared)                     no       ok       no       no       no       ok       no
reflections.get(private)                    no       ok       no       no       no       no       no
reflections.edit(shared)                    no       ok       no       no       no       no       no
reflections.delete(shared)                  no       ok       no       no       no       no       no
reflections.reads_of(shared)                no       ok       no       no       no       no       no
reflections.check_in                        no       ok       ok       ok       ok       ok       no
reflections.edit_check_in(artist's)         no       ok       nf       nf       nf       nf       no
reflections.moods                           no       ok       ok       ok       ok       ok       no
reflections.reads_of_mine                   no       ok        0        0        0        0       no
reflections.readable_own                    no       ok       ok       ok       ok       ok       no
reflections.mood_timeline                   no       ok       ok       ok       ok       ok       no
reflections.set_insights_consent            no       ok       ok       ok       ok       ok       no
reflections.insights_consent                no       ok       ok       ok       ok       ok       no

moderation.report(artwork)                  no       no       ok       no       ok       ok       no
moderation.report(archived circle)          no       no       no       no       no       no       no
moderation.report(beyond the limit)         no       no       no       no       ok       ok       no
moderation.queue(circle)                    no       no       no       no       ok       ok       no
moderation.queue(all)                       no       no       no       no       ok       ok       no
moderation.resolve(report)                  no       no       no       no       ok       ok       no
moderation.resolve(own, cofac)              no       no       no       no       no       ok       no
moderation.resolve(own, therap.)            no       no       no       no       ok       no       no
moderation.resolve(remove therap.)          no       no       no       no       no       ok       no
moderation.resolve(hide therap.)            no       no       no       no       ok       ok       no
moderation.resolve(remove cofac)            no       no       no       no       no       ok       no
moderation.close_crisis                     no       no       no       no       no       ok       no
moderation.contact(artist)                  no       no       no       no       no       ok       no
moderation.notices                          no       ok       ok       ok       ok       ok       no
moderation.mark_notices_read                no       ok       ok       ok       ok       ok       no
moderation.audit_log                        no       no       no       no       no       ok       no
moderation.unanswered                       no       no       no       no       no       ok       no
moderation.open_count                        0        0        0        0       ok       ok        0

insights.participation                      no       no       no       no       no       ok       no
insights.mood_change                        no       no       no       no       no       ok       no
insights.prompt_effects                     no       no       no       no       no       ok       no
insights.prompt_usage                       no       no       no       no       no       ok       no

notices.new_since_last_look                 no        0        0        0        0        0       no
notices.count                               no        0        0        0        0        0       no
notices.mark_seen                           no       ok       ok       ok       ok       ok       no

exports.personal_data                       no       ok       ok       ok       ok       ok       no
exports.write_personal_archive              no       ok       ok       ok       ok       ok       no
exports.prepare_download                    no       ok       ok       ok       ok       ok       no
exports.claim_download(artist's)             0       ok        0        0        0        0        0
exports.delete_account                      no       ok       ok       ok       ok       no       no
exports.write_exhibition                    no       no       no       no       no       ok       no
exports.prepare_exhibition                  no       no       no       no       no       ok       no
"""
