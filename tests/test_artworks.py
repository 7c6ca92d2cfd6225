"""Artworks: sharing all or nothing, the gallery, edits, deletion, drafts and preferences."""

from __future__ import annotations

import errno
import io
import os
import re
from pathlib import Path

import pytest
from PIL import Image

from gallery_store import open_studio
from gallery_store.artworks import CAPTION_LIMIT
from gallery_store.durable import DISK_FULL_MESSAGE
from gallery_store.errors import (
    NotFound,
    PermissionDenied,
    SaveFailed,
    UploadRejected,
    ValidationError,
)

from .conftest import FAST_CONFIG, join, make_image

STORED_NAME = re.compile(r"^([0-9a-f]{2})/([0-9a-f]{24})-(full|thumb|blur)\.jpg$")


def image_files(data_dir: Path) -> list[Path]:
    folder = data_dir / "images"
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def share(studio, user, **fields):
    fields.setdefault("alt_text", "A warm orange square")
    return studio.artworks.share(user, fields.pop("image", make_image()), **fields)


# -- what a share accepts --------------------------------------------------------------------------


@pytest.mark.parametrize("alt_text", ["", "   ", "\u200b\u202e", "\n\t"])
def test_alt_text_is_required_and_asked_for_kindly(studio, participant, data_dir, alt_text):
    with pytest.raises(ValidationError) as refused:
        share(studio, participant, alt_text=alt_text)
    assert "alt text" in refused.value.message
    assert "screen readers" in refused.value.message and "Please" in refused.value.message
    assert image_files(data_dir) == []
    assert len(studio.store.collection("artworks")) == 0


def test_caption_over_the_limit_is_refused_naming_the_limit(studio, participant, data_dir):
    assert share(studio, participant, caption="x" * CAPTION_LIMIT).caption == "x" * 500
    with pytest.raises(ValidationError, match="at most 500 characters") as refused:
        share(studio, participant, caption="x" * (CAPTION_LIMIT + 1))
    assert "501" in refused.value.message
    assert len(studio.store.collection("artworks")) == 1
    assert len(image_files(data_dir)) == 3


def test_content_warning_is_cleaned_to_one_line(studio, participant):
    artwork = share(studio, participant, content_warning="  grief\n\tand   loss \u202e ")
    assert artwork.content_warning == "grief and loss"
    assert share(studio, participant, content_warning="   ").content_warning is None


def test_caption_and_alt_text_lose_control_and_bidi_characters_and_are_nfc(studio, participant):
    artwork = share(
        studio,
        participant,
        caption="Cafe\u0301\x07 at \u202enight\u202c\u200b",
        alt_text="\ufeffA cafe\u0301 sign\x00",
    )
    assert artwork.caption == "Caf\u00e9 at night"
    assert artwork.alt_text == "A caf\u00e9 sign"
    stored = studio.store.collection("artworks").get(artwork.id)
    assert stored["caption"] == "Caf\u00e9 at night"


# -- all or nothing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "upload",
    [os.urandom(4096), b"", b"GIF89a" + os.urandom(64), make_image()[:60]],
    ids=["random bytes", "empty", "fake gif", "truncated png"],
)
def test_a_rejected_upload_leaves_no_file_and_no_record(studio, participant, data_dir, upload):
    with pytest.raises(UploadRejected):
        share(studio, participant, image=upload)
    assert image_files(data_dir) == []
    assert len(studio.store.collection("artworks")) == 0


@pytest.mark.parametrize(
    "failure",
    [SaveFailed(DISK_FULL_MESSAGE), OSError(errno.ENOSPC, "No space left on device")],
    ids=["SaveFailed", "ENOSPC"],
)
def test_a_failed_record_write_leaves_no_image_files(
    studio, participant, peer, data_dir, monkeypatch, failure
):
    kept = share(studio, peer)
    before_files = image_files(data_dir)

    def full_disk(line):
        raise failure

    # The commit (its line in the commit log) is what fails; the image files were written.
    monkeypatch.setattr(studio.store.log, "append", full_disk)
    with pytest.raises(type(failure)):
        share(studio, participant, caption="This one cannot be saved")
    monkeypatch.undo()

    assert image_files(data_dir) == before_files
    assert [a.id for a in studio.artworks.gallery(participant)] == [kept.id]
    # Memory was rolled back with the files, and the studio carries on.
    again = share(studio, participant, caption="Now it works")
    assert [a.id for a in studio.artworks.gallery(participant)] == [again.id, kept.id]
    assert len(image_files(data_dir)) == 6


def test_a_failed_image_write_leaves_no_partial_files(studio, participant, data_dir, monkeypatch):
    from gallery_store import media

    real = media.atomic_write_bytes
    calls = []

    def fail_third(path, data):
        calls.append(path)
        if len(calls) == 3:
            raise SaveFailed(DISK_FULL_MESSAGE)
        real(path, data)

    monkeypatch.setattr(media, "atomic_write_bytes", fail_third)
    with pytest.raises(SaveFailed):
        share(studio, participant)
    assert len(calls) == 3
    assert image_files(data_dir) == []
    assert len(studio.store.collection("artworks")) == 0


def test_stored_names_are_generated_never_the_upload_name(studio, participant, data_dir):
    artwork = share(studio, participant, caption="holiday.jpg")
    names = artwork.media_names
    assert len(names) == 3
    stems = set()
    for name, kind in zip(names, ("full", "thumb", "blur"), strict=True):
        match = STORED_NAME.match(name)
        assert match, name
        assert match.group(2).startswith(match.group(1)) and match.group(3) == kind
        stems.add(match.group(2))
    assert len(stems) == 1
    assert sorted(p.relative_to(data_dir / "images").as_posix() for p in image_files(data_dir)) == (
        sorted(names)
    )
    assert share(studio, participant).full_name != artwork.full_name


def test_gps_and_exif_never_survive(studio, participant, data_dir):
    exif = Image.Exif()
    exif[0x010F] = "SECRET-CAMERA"
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (51.0, 30.0, 12.5)
    gps[3] = "W"
    gps[4] = (0.0, 7.0, 39.0)
    buffer = io.BytesIO()
    Image.new("RGB", (120, 90), (90, 140, 200)).save(buffer, format="JPEG", exif=exif)
    upload = buffer.getvalue()
    assert Image.open(io.BytesIO(upload)).getexif().get_ifd(0x8825)  # really there

    share(studio, participant, image=upload)

    files = image_files(data_dir)
    assert len(files) == 3
    for path in files:
        data = path.read_bytes()
        assert b"SECRET-CAMERA" not in data and b"Exif" not in data
        with Image.open(path) as stored:
            assert len(stored.getexif()) == 0
            assert "exif" not in stored.info


# -- the gallery -----------------------------------------------------------------------------------


def test_gallery_is_newest_first_in_pages_of_24(studio, participant, peer, clock):
    shared = []
    for number in range(30):
        shared.append(share(studio, peer if number % 2 else participant, caption=f"#{number}"))
        clock.advance(minutes=1)
    newest_first = [a.id for a in reversed(shared)]

    first = studio.artworks.gallery(participant, page=1, per_page=24)
    second = studio.artworks.gallery(participant, page=2, per_page=24)
    assert len(first) == 24 and first.has_next and first.page == 1
    assert len(second) == 6 and not second.has_next
    assert [a.id for a in first] + [a.id for a in second] == newest_first
    assert list(studio.artworks.gallery(participant, page=3)) == []


def test_gallery_filters_mine_prompt_and_theme(studio, therapist, participant, peer, circle):
    library = studio.prompts.library(therapist)
    coping = next(p for p in library if p.themes[0] == "coping")
    other = next(p for p in library if set(p.themes).isdisjoint(coping.themes))
    a = share(studio, participant, prompt_id=coping.id)
    b = share(studio, peer, prompt_id=coping.id)
    c = share(studio, peer, prompt_id=other.id)
    d = share(studio, participant)

    def ids(**filters):
        return [x.id for x in studio.artworks.gallery(participant, circle.id, **filters)]

    assert ids() == [d.id, c.id, b.id, a.id]
    assert ids(mine=True) == [d.id, a.id]
    assert ids(prompt_id=coping.id) == [b.id, a.id]
    assert ids(theme="coping") == [b.id, a.id]
    assert ids(theme=other.themes[0]) == [c.id]
    assert ids(mine=True, theme="coping") == [a.id]


STATUSES = ("visible", "hidden", "held", "removed", "pending")


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("role", ["participant", "cofacilitator", "facilitator"])
@pytest.mark.parametrize("author", [True, False])
def test_the_gallery_index_shows_an_artwork_to_exactly_whom_visible_to_allows(status, role, author):
    from gallery_store.policy import Policy, audiences, shown_to

    record = {"status": status, "user_id": "artist", "circle_id": "c1"}
    actor = "artist" if author else "someone"
    assert bool(set(shown_to(record)) & set(audiences(actor, role))) == Policy.visible_to(
        record, actor, role
    )


def test_gallery_pages_hold_what_each_person_may_see_in_order(studio, therapist, circle, clock):
    from gallery_store.policy import Policy

    robin, sam = join(studio, therapist, circle, "robin"), join(studio, therapist, circle, "sam")
    kit = join(studio, therapist, circle, "kit")
    studio.circles.set_role(therapist, circle.id, kit.id, "cofacilitator")
    artworks = studio.store.collection("artworks")
    made = []
    for number, status in enumerate(["visible", "hidden", "held", "removed"] * 3):
        piece = share(studio, robin if number % 3 else sam, caption=f"#{number}")
        if status != "visible":
            artworks.update(piece.id, status=status)
        made.append(artworks.get(piece.id))
        clock.advance(minutes=1)
    roles = {robin.id: "participant", sam.id: "participant", kit.id: "cofacilitator"}
    roles[therapist.id] = "facilitator"
    for viewer in (robin, sam, kit, therapist):
        expected = [
            r["id"] for r in reversed(made) if Policy.visible_to(r, viewer.id, roles[viewer.id])
        ]
        pages = [studio.artworks.gallery(viewer, circle.id, page=n, per_page=2) for n in (1, 2)]
        pages += [studio.artworks.gallery(viewer, circle.id, page=n, per_page=2) for n in (3, 4, 5)]
        shown = [a.id for page in pages for a in page]
        assert shown == expected, viewer.username
        assert [page.has_next for page in pages] == [len(expected) > 2 * n for n in range(1, 6)], (
            viewer.username
        )
    mine = [a.id for a in studio.artworks.gallery(robin, circle.id, mine=True, per_page=50)]
    assert mine == [
        r["id"] for r in reversed(made) if r["user_id"] == robin.id and r["status"] != "removed"
    ]


def test_reported_artwork_is_hidden_from_peers_only(studio, therapist, circle, participant, peer):
    artwork = share(studio, participant, caption="Under review soon")
    ash = join(studio, therapist, circle, "ash", "Ash")
    studio.moderation.report(peer, "artwork", artwork.id, "Please check this")

    assert artwork.id not in [a.id for a in studio.artworks.gallery(ash, circle.id)]
    with pytest.raises(NotFound):
        studio.artworks.get(ash, artwork.id)
    with pytest.raises(NotFound):
        studio.artworks.image(ash, artwork.id, "thumb")
    assert studio.artworks.get(participant, artwork.id).status == "hidden"
    assert artwork.id in [a.id for a in studio.artworks.gallery(participant, circle.id)]
    assert artwork.id in [a.id for a in studio.artworks.gallery(therapist, circle.id)]
    assert studio.artworks.image(therapist, artwork.id, "full")


def test_other_circles_are_invisible(studio, circle, participant, outsider, other_circle):
    artwork = share(studio, participant)
    with pytest.raises(PermissionDenied):
        studio.artworks.gallery(outsider, circle.id)
    with pytest.raises(PermissionDenied):
        studio.artworks.get(outsider, artwork.id)
    with pytest.raises(PermissionDenied):
        studio.artworks.image(outsider, artwork.id, "full")
    assert list(studio.artworks.gallery(outsider, other_circle.id)) == []
    assert list(studio.artworks.gallery(outsider)) == []  # defaults to their own circle
    with pytest.raises(PermissionDenied):
        studio.artworks.share(outsider, make_image(), alt_text="x", circle_id=circle.id)


def test_by_artist_lists_only_your_own(studio, participant, peer):
    mine = share(studio, participant)
    share(studio, peer)
    assert [a.id for a in studio.artworks.by_artist(participant)] == [mine.id]
    with pytest.raises(PermissionDenied):
        studio.artworks.by_artist(participant, peer.id)


# -- changing and removing -------------------------------------------------------------------------


def test_only_the_artist_can_edit(studio, therapist, participant, peer):
    artwork = share(studio, participant, caption="Before")
    edited = studio.artworks.edit(
        participant, artwork.id, caption="After", alt_text="Now blue", comments_enabled=False
    )
    assert (edited.caption, edited.alt_text, edited.comments_enabled) == (
        "After",
        "Now blue",
        False,
    )
    for someone in (peer, therapist):
        with pytest.raises(PermissionDenied):
            studio.artworks.edit(someone, artwork.id, caption="Not mine")
    with pytest.raises(ValidationError):
        studio.artworks.edit(participant, artwork.id, alt_text="  ")
    with pytest.raises(ValidationError, match="500"):
        studio.artworks.edit(participant, artwork.id, caption="y" * 501)
    assert studio.artworks.get(peer, artwork.id).caption == "After"


@pytest.mark.parametrize(
    "words",
    [{"caption": "Nothing to see"}, {"alt_text": "A blank square"}, {"content_warning": "None"}],
)
def test_art_hidden_for_review_keeps_its_words(studio, therapist, participant, peer, words):
    """Regression: an artist could rewrite a reported caption before a facilitator read it."""
    artwork = share(studio, participant, caption="Before", content_warning="Dark themes")
    studio.moderation.report(peer, "artwork", artwork.id, "Please check this")
    with pytest.raises(PermissionDenied, match="A facilitator is looking at this artwork"):
        studio.artworks.edit(participant, artwork.id, **words)
    kept = studio.artworks.get(therapist, artwork.id)
    assert (kept.caption, kept.alt_text, kept.content_warning) == (
        "Before",
        "A warm orange square",
        "Dark themes",
    )
    # Settings still change, even with the words sent again unchanged (as the edit form does).
    edited = studio.artworks.edit(
        participant,
        artwork.id,
        caption="Before",
        alt_text="A warm orange square",
        content_warning="Dark themes",
        comments_enabled=False,
    )
    assert not edited.comments_enabled
    # Once a facilitator has restored it, the artist can change it again.
    [item] = studio.moderation.queue(therapist)
    studio.moderation.resolve(therapist, item.flag.id, "restore", "It's fine")
    studio.artworks.edit(participant, artwork.id, **words)


def test_regression_an_edited_artwork_keeps_its_place_in_the_gallery(
    studio, participant, peer, clock
):
    oldest = share(studio, participant, caption="oldest")
    clock.advance(minutes=1)
    middle = share(studio, peer, caption="middle")
    clock.advance(minutes=1)
    newest = share(studio, participant, caption="newest")
    clock.advance(minutes=1)

    studio.artworks.edit(participant, oldest.id, caption="oldest, edited", exhibit_opt_in=True)

    order = [a.id for a in studio.artworks.gallery(peer)]
    assert order == [newest.id, middle.id, oldest.id]
    assert [a.id for a in studio.artworks.gallery(participant, mine=True)] == [
        newest.id,
        oldest.id,
    ]
    assert [a.id for a in studio.artworks.by_artist(participant)] == [newest.id, oldest.id]


def test_delete_removes_record_files_comments_and_reactions(
    studio, participant, peer, therapist, data_dir
):
    artwork = share(studio, participant)
    kept = share(studio, peer)
    comment = studio.comments.post(peer, artwork.id, "I relate to this.")
    studio.reactions.toggle(peer, artwork.id, "relate")
    studio.reactions.toggle(therapist, artwork.id, "thanks")
    with pytest.raises(PermissionDenied):
        studio.artworks.delete(peer, artwork.id)
    with pytest.raises(PermissionDenied):
        studio.artworks.delete(therapist, artwork.id)

    studio.artworks.delete(participant, artwork.id)

    with pytest.raises(NotFound):
        studio.artworks.get(participant, artwork.id)
    assert studio.store.collection("artworks").get(artwork.id) is None
    assert studio.store.collection("comments").get(comment.id) is None
    assert not studio.store.collection("reactions").find(artwork_id=artwork.id)
    remaining = {p.relative_to(data_dir / "images").as_posix() for p in image_files(data_dir)}
    assert remaining == set(kept.media_names)
    with pytest.raises(NotFound):
        studio.artworks.delete(participant, artwork.id)


# -- drafts ----------------------------------------------------------------------------------------

DRAWING = {"version": "4.4.0", "objects": [{"type": "path", "path": [["M", 1, 2], ["L", 3, 4]]}]}


def test_drafts_are_private_to_their_maker(studio, participant, peer, therapist, data_dir):
    draft_id = studio.artworks.save_draft(participant, DRAWING, background="#fbf8f3")
    (file,) = list((data_dir / "drafts").glob("*.json"))
    assert re.fullmatch(r"[0-9a-f]{24}\.json", file.name)

    (mine,) = studio.artworks.drafts_of(participant)
    assert mine["id"] == draft_id and mine["drawing"] == DRAWING
    assert mine["background"] == "#fbf8f3"
    assert studio.artworks.drafts_of(peer) == []
    assert studio.artworks.drafts_of(therapist) == []
    for someone in (peer, therapist):
        with pytest.raises(NotFound):
            studio.artworks.delete_draft(someone, draft_id)
        with pytest.raises(NotFound):
            studio.artworks.save_draft(someone, {"objects": []}, draft_id=draft_id)
    assert studio.artworks.drafts_of(participant)[0]["drawing"] == DRAWING


def test_saving_a_draft_again_updates_it(studio, participant, data_dir):
    draft_id = studio.artworks.save_draft(participant, DRAWING)
    changed = {"objects": [*DRAWING["objects"], {"type": "rect"}]}
    assert studio.artworks.save_draft(participant, changed, draft_id=draft_id) == draft_id
    (draft,) = studio.artworks.drafts_of(participant)
    assert draft["drawing"] == changed
    assert len(list((data_dir / "drafts").glob("*.json"))) == 1


def test_deleting_a_draft_removes_its_file(studio, participant, data_dir):
    keep = studio.artworks.save_draft(participant, DRAWING)
    gone = studio.artworks.save_draft(participant, {"objects": []})
    assert len(list((data_dir / "drafts").glob("*.json"))) == 2

    studio.artworks.delete_draft(participant, gone)

    assert [d["id"] for d in studio.artworks.drafts_of(participant)] == [keep]
    assert len(list((data_dir / "drafts").glob("*.json"))) == 1
    with pytest.raises(NotFound):
        studio.artworks.delete_draft(participant, gone)


def test_a_too_large_draft_is_refused(studio, participant, data_dir):
    with pytest.raises(ValidationError, match="too detailed"):
        studio.artworks.save_draft(participant, {"objects": ["x" * 2_000_001]})
    assert not list((data_dir / "drafts").glob("*.json"))


def test_erase_drafts_removes_records_and_files(studio, participant, peer, data_dir):
    studio.artworks.save_draft(participant, DRAWING)
    studio.artworks.save_draft(participant, DRAWING)
    theirs = studio.artworks.save_draft(peer, DRAWING)

    studio.artworks.erase_drafts(participant.id)

    assert studio.artworks.drafts_of(participant) == []
    assert [d["id"] for d in studio.artworks.drafts_of(peer)] == [theirs]
    assert len(list((data_dir / "drafts").glob("*.json"))) == 1


# -- how content-warned art is shown ---------------------------------------------------------------


def test_sensitive_choice_is_ask_by_default_and_persisted(
    studio, participant, peer, data_dir, clock
):
    assert studio.artworks.sensitive_choice(participant) == "ask"
    assert studio.artworks.set_sensitive_choice(participant, "hide") == "hide"
    assert studio.artworks.set_sensitive_choice(participant, "show") == "show"
    with pytest.raises(ValidationError):
        studio.artworks.set_sensitive_choice(participant, "blur")
    assert studio.artworks.sensitive_choice(participant) == "show"
    assert studio.artworks.sensitive_choice(peer) == "ask"
    assert len(studio.store.collection("preferences").find(user_id=participant.id)) == 1

    studio.close()
    reopened = open_studio(data_dir, FAST_CONFIG, clock)
    try:
        assert reopened.artworks.sensitive_choice(participant) == "show"
        assert reopened.artworks.sensitive_choice(peer) == "ask"
    finally:
        reopened.close()


# -- a second press of Share -----------------------------------------------------------------------


def test_a_second_share_of_the_same_piece_within_a_minute_returns_the_first(
    studio, participant, data_dir, clock
):
    """Regression: pressing Share twice posted two identical artworks."""
    first = share(studio, participant, caption="River", image=make_image(color=(10, 120, 90)))
    files = image_files(data_dir)
    clock.advance(seconds=50)
    again = share(studio, participant, caption="River", image=make_image(color=(10, 120, 90)))

    assert again.id == first.id
    assert [a.id for a in studio.artworks.by_artist(participant)] == [first.id]
    assert image_files(data_dir) == files  # no second set of files left behind


@pytest.mark.parametrize(
    "change",
    [
        {"seconds": 61},
        {"caption": "River, again"},
        {"alt_text": "A green river, second version"},
        {"color": (200, 40, 40)},
    ],
)
def test_the_same_picture_later_or_with_other_words_is_a_new_artwork(
    studio, participant, clock, change
):
    first = share(studio, participant, caption="River", image=make_image(color=(10, 120, 90)))
    clock.advance(seconds=change.get("seconds", 5))
    fields = {"caption": change.get("caption", "River")}
    if "alt_text" in change:
        fields["alt_text"] = change["alt_text"]
    second = share(
        studio, participant, image=make_image(color=change.get("color", (10, 120, 90))), **fields
    )

    assert second.id != first.id
    assert len(studio.artworks.by_artist(participant)) == 2


def test_someone_elses_same_picture_is_their_own_artwork(studio, participant, peer):
    mine = share(studio, participant, caption="River")
    theirs = share(studio, peer, caption="River")
    assert theirs.id != mine.id and theirs.user_id == peer.id
