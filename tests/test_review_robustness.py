"""Review: data robustness — erasure completeness, transactions, files vs records."""

from __future__ import annotations

import errno
import json
from datetime import date

import pytest

from gallery_store.errors import SaveFailed

from .conftest import PASSWORD, join, make_image

NEW_PROMPT = {
    "title": "Drawing the weather",
    "instructions": "You might draw the weather inside you today. You can stop at any time.",
    "materials": ["paper", "pencils"],
    "minutes": 15,
    "themes": ["coping", "grounding"],
    "intensity": "gentle",
    "reflection_questions": ["What did you notice?", "What helped?"],
}


def _mentions(value, needle: str) -> bool:
    return needle in json.dumps(value, ensure_ascii=False)


def test_deleting_a_therapist_leaves_no_id_and_their_circle_keeps_working(
    studio, therapist, circle, participant, peer, data_dir
):
    # Bug: erase_person cleared only user-keyed collections; a therapist's id stayed in
    # circles.created_by, invites.created_by, prompts.updated_by/history, schedules and flags.
    code = studio.circles.invite(therapist, circle.id, for_therapist=True)
    second = studio.accounts.join(code, "ash", PASSWORD, "Ash")
    mine = studio.circles.create(second, "Ash's Friday circle")
    studio.circles.invite(second, circle.id)
    studio.circles.invite(second, mine.id)
    prompt = studio.prompts.create(second, **NEW_PROMPT)
    studio.prompts.edit(second, prompt.id, minutes=20)
    studio.prompts.pin(second, circle.id, prompt.id, date(2026, 11, 3))
    art = studio.artworks.share(participant, make_image(), caption="hi", alt_text="Orange")
    flag = studio.moderation.report(peer, "artwork", art.id, "Please look")
    studio.moderation.resolve(second, flag.id, "restore", "It's fine")
    assert any(
        _mentions(r, second.id) for c in studio.store.collections().values() for r in c.all()
    )

    studio.exports.delete_account(second, PASSWORD)

    left = {
        name: [r for r in c.all() if _mentions(r, second.id)]
        for name, c in studio.store.collections().items()
    }
    assert {k: v for k, v in left.items() if v} == {}
    for path in (data_dir / "store").rglob("*.json"):
        assert second.id not in path.read_text(encoding="utf-8"), path
    # The circles they made, and the invites, prompts and schedules in them, keep working.
    assert studio.circles.get(therapist, circle.id).id == circle.id
    assert studio.prompts.get(therapist, prompt.id).id == prompt.id
    newcomer = join(studio, therapist, circle, "kai")
    assert studio.circles.get(newcomer, circle.id).id == circle.id


def test_a_failing_rolling_backup_does_not_undo_a_committed_share(
    studio, participant, clock, monkeypatch
):
    # Bug: the rolling backup runs as the transaction closes, after the commit; when it
    # failed (disk full), share() saw the error, deleted the image files and re-raised,
    # leaving a durable artwork record whose files were gone.
    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(studio.backups, "take", disk_full)
    clock.advance(days=1)

    try:
        art = studio.artworks.share(participant, make_image(), caption="hi", alt_text="Orange")
    except OSError:
        art = None
    records = list(studio.store.collection("artworks").all())
    for record in records:
        for key in ("full_name", "thumb_name", "blur_name"):
            assert studio.media.path(record[key]).exists(), key
    assert art is not None and [r["id"] for r in records] == [art.id]


def test_art_and_drafts_saved_while_an_account_is_being_erased_go_too(
    studio, participant, data_dir, monkeypatch
):
    # Bug: erase_person listed the person's artworks, purged them one transaction at a
    # time, and only then removed the account. A share or draft from another tab landing
    # in that window committed (the account was still active) and outlived the person:
    # an artwork record naming a deleted id, its image files, and a draft file.
    artworks = studio.artworks
    real_erase_drafts = artworks.erase_drafts
    raced = []

    def another_tab_saves_meanwhile(user_id):
        real_erase_drafts(user_id)
        if not raced:
            raced.append(True)
            artworks.share(participant, make_image(), caption="late", alt_text="Orange")
            artworks.save_draft(participant, {"objects": [{"type": "path"}]})

    monkeypatch.setattr(artworks, "erase_drafts", another_tab_saves_meanwhile)
    studio.exports.delete_account(participant, PASSWORD)

    left = [
        name
        for name, c in studio.store.collections().items()
        for r in c.all()
        if _mentions(r, participant.id)
    ]
    assert left == []
    assert studio.media.all_names() == set()
    assert not list((data_dir / "drafts").glob("*.json"))


def test_a_write_that_fails_halfway_leaves_no_ghost_record_in_memory(studio):
    # Bug: Collection.insert told the transaction which collection it touched only at the
    # end, so when an index key failed after the shard write, rollback reloaded the shard
    # but not the collection: memory kept a record that was never saved.
    drafts = studio.store.collection("drafts")
    with pytest.raises(KeyError):
        drafts.insert({"file": "no-user-field"})  # the "user" index needs user_id
    assert len(drafts) == 0 and list(drafts.all()) == []


def test_a_draft_whose_record_fails_to_save_leaves_no_drawing_file(
    studio, participant, data_dir, monkeypatch
):
    # Bug: save_draft wrote the drawing's file inside the transaction and never removed it
    # when the commit then failed (disk full): a private drawing no record points to, which
    # account deletion can never find.
    def disk_full(line):
        raise SaveFailed()

    monkeypatch.setattr(studio.store.log, "append", disk_full)
    with pytest.raises(SaveFailed):
        studio.artworks.save_draft(participant, {"objects": [{"type": "path"}]})

    assert len(studio.store.collection("drafts")) == 0
    assert not list((data_dir / "drafts").glob("*.json"))
