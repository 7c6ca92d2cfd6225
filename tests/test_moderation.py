"""Tests for moderation: crisis flags, reports, the queue, resolving, notices and the audit log."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from gallery_store import moderation as moderation_module
from gallery_store.errors import NotFound, PermissionDenied, ValidationError
from gallery_store.moderation import ACTIONS, Notice, QueueItem
from gallery_store.policy import OPEN_REPORT_LIMIT

from .conftest import join, make_image

CRISIS = "I don't want to be here anymore"
REPORTED = "Someone asked a facilitator to look at your"


@pytest.fixture
def artwork(studio, participant):
    return studio.artworks.share(
        participant, make_image(), caption="Night shift", alt_text="A dark corridor"
    )


@pytest.fixture
def cofacilitator(studio, therapist, circle):
    kit = join(studio, therapist, circle, "kit", "Kit")
    studio.circles.set_role(therapist, circle.id, kit.id, "cofacilitator")
    return kit


def gallery_ids(studio, viewer, circle):
    return [a.id for a in studio.artworks.gallery(viewer, circle_id=circle.id)]


# -- crisis flags ----------------------------------------------------------------------------------


def test_crisis_words_in_a_comment_raise_a_flag_with_an_excerpt(
    studio, artwork, peer, therapist, circle
):
    comment = studio.comments.post(peer, artwork.id, CRISIS)
    [item] = studio.moderation.queue(therapist)
    flag = item.flag
    assert flag.kind == "crisis"
    assert (flag.subject_type, flag.subject_id) == ("comment", comment.id)
    assert flag.circle_id == circle.id
    assert flag.about_user_id == peer.id
    assert flag.status == "open"
    assert flag.reason.startswith("Their words suggest ")
    assert flag.excerpt == CRISIS and flag.urgent
    assert item.artwork_id == artwork.id and item.author_name == "Sam"
    # The writer still sees their words; the artist is not the first to read them.
    assert [c.id for c in studio.comments.for_artwork(peer, artwork.id)] == [comment.id]
    assert comment.status == "held"


def test_ordinary_words_raise_no_flag(studio, artwork, peer, therapist):
    studio.comments.post(peer, artwork.id, "This deadline is killing me, but I love the blue")
    assert studio.moderation.queue(therapist) == []


def test_crisis_words_in_a_caption_raise_a_flag(studio, participant, therapist):
    artwork = studio.artworks.share(
        participant, make_image(), caption="I feel like a burden to everyone", alt_text="Grey"
    )
    [item] = studio.moderation.queue(therapist)
    assert item.flag.subject_type == "artwork" and item.flag.subject_id == artwork.id
    assert item.has_thumb and item.artwork_id == artwork.id


def test_excerpt_is_at_most_280_characters(studio, artwork, peer, therapist):
    studio.comments.post(peer, artwork.id, CRISIS + " " + "x" * 600)
    [item] = studio.moderation.queue(therapist)
    assert item.flag.excerpt == (CRISIS + " " + "x" * 600)[:280]


def test_private_crisis_flag_copies_no_words(studio, participant, therapist, circle):
    secret = "I wish I could disappear forever, nobody knows this"
    decided = studio.moderation.flag_if_crisis(
        participant, circle.id, "reflection", "reflection-1", secret, private=True
    )
    assert decided.urgent
    [item] = studio.moderation.queue(therapist)
    assert item.flag.excerpt == ""
    assert item.flag.reason == "A private reflection raised concern"
    assert item.text == "" and item.artwork_id is None
    store_text = "".join(
        str(record)
        for name in ("flags", "audit", "notices")
        for record in studio.store.collection(name).all()
    )
    assert "disappear" not in store_text


def test_private_flag_closes_with_what_happened(studio, participant, therapist, circle):
    studio.moderation.flag_if_crisis(
        participant, circle.id, "reflection", "reflection-1", CRISIS, private=True
    )
    [item] = studio.moderation.queue(therapist)
    with pytest.raises(ValidationError, match="what happened"):
        studio.moderation.resolve(therapist, item.flag.id, "hide", "Checking")
    closed = studio.moderation.close_crisis(therapist, item.flag.id, "reached_out", "Spoke")
    assert closed.status == "resolved"


def test_one_open_crisis_flag_per_subject_is_refreshed(studio, artwork, peer, therapist, clock):
    comment = studio.comments.post(peer, artwork.id, CRISIS)
    clock.advance(minutes=2)
    studio.comments.edit(peer, comment.id, "I feel like a burden to everyone")
    [item] = studio.moderation.queue(therapist)
    assert item.flag.excerpt == "I feel like a burden to everyone"


def test_crisis_check_failure_never_stops_sharing(
    studio, artwork, peer, therapist, monkeypatch, caplog
):
    def broken(text):
        raise RuntimeError("phrase list failed to load")

    monkeypatch.setattr(moderation_module, "assess", broken)
    with caplog.at_level(logging.ERROR, logger="gallery_store.moderation"):
        comment = studio.comments.post(peer, artwork.id, CRISIS)
    assert comment.text == CRISIS
    assert studio.moderation.queue(therapist) == []
    # The log says something went wrong, never what the person wrote.
    assert "want to be here" not in caplog.text


def test_flag_rolls_back_with_the_comment(studio, artwork, peer, therapist, monkeypatch):
    def failing_flag(*args, **kwargs):
        studio.store.collection("flags").insert({"circle_id": "x", "subject_id": "y"})
        raise RuntimeError("disk trouble")

    monkeypatch.setattr(studio.moderation, "raise_flag", failing_flag)
    with pytest.raises(RuntimeError):
        studio.comments.post(peer, artwork.id, CRISIS)
    assert len(studio.store.collection("comments")) == 0
    assert len(studio.store.collection("flags")) == 0


# -- reports ---------------------------------------------------------------------------------------


def test_report_hides_an_artwork_from_peers_but_not_its_artist_or_the_therapist(
    studio, artwork, participant, peer, therapist, circle
):
    third = join(studio, therapist, circle, "ash", "Ash")
    flag = studio.moderation.report(peer, "artwork", artwork.id, "This upset me")
    assert flag.kind == "report" and flag.status == "open"
    assert flag.about_user_id == participant.id
    assert artwork.id not in gallery_ids(studio, peer, circle)
    assert artwork.id not in gallery_ids(studio, third, circle)
    with pytest.raises(NotFound):
        studio.artworks.get(third, artwork.id)
    assert artwork.id in gallery_ids(studio, participant, circle)
    assert artwork.id in gallery_ids(studio, therapist, circle)


def test_report_sends_the_author_a_kind_notice_without_naming_anyone(
    studio, artwork, participant, peer
):
    studio.moderation.report(peer, "artwork", artwork.id, "This upset me")
    [notice] = studio.moderation.notices(participant)
    assert isinstance(notice, Notice)
    assert notice.text.startswith(REPORTED + " artwork.")
    assert "isn't a judgement of you" in notice.text
    assert "Sam" not in notice.text and "upset" not in notice.text
    assert notice.read is False
    assert studio.moderation.notices(peer) == []


def test_reporting_a_comment_hides_it_and_tells_its_author(studio, artwork, participant, peer):
    comment = studio.comments.post(peer, artwork.id, "Something sharp")
    studio.moderation.report(participant, "comment", comment.id, "Unkind")
    assert studio.comments.for_artwork(participant, artwork.id) == []
    [notice] = studio.moderation.notices(peer)
    assert notice.text.startswith(REPORTED + " comment.")


def test_reporting_your_own_work_is_refused(studio, artwork, participant, peer):
    with pytest.raises(PermissionDenied, match="your own"):
        studio.moderation.report(participant, "artwork", artwork.id, "Regret")
    comment = studio.comments.post(peer, artwork.id, "I notice")
    with pytest.raises(PermissionDenied, match="your own"):
        studio.moderation.report(peer, "comment", comment.id, "Regret")


def test_reporting_needs_a_reason_and_a_known_kind(studio, artwork, peer):
    with pytest.raises(ValidationError, match="reason"):
        studio.moderation.report(peer, "artwork", artwork.id, "   ")
    with pytest.raises(ValidationError, match="500"):
        studio.moderation.report(peer, "artwork", artwork.id, "x" * 501)
    with pytest.raises(ValidationError):
        studio.moderation.report(peer, "user", artwork.id, "Rude")


def test_reporting_from_another_circle_is_refused(studio, artwork, outsider):
    with pytest.raises(PermissionDenied):
        studio.moderation.report(outsider, "artwork", artwork.id, "Spam")


def test_reporting_what_you_cannot_see_is_not_found(studio, artwork, peer, therapist, circle):
    third = join(studio, therapist, circle, "ash", "Ash")
    studio.moderation.report(peer, "artwork", artwork.id, "Upsetting")
    with pytest.raises(NotFound):
        studio.moderation.report(third, "artwork", artwork.id, "Me too")
    with pytest.raises(NotFound):
        studio.moderation.report(peer, "comment", "no-such-comment", "Rude")


def test_reporting_in_an_archived_circle_is_refused(studio, artwork, peer, therapist, circle):
    """Regression: a report still hid art in a circle archived as read-only."""
    studio.circles.archive(therapist, circle.id)
    for person in (peer, therapist):
        with pytest.raises(PermissionDenied, match="archived"):
            studio.moderation.report(person, "artwork", artwork.id, "Upsetting")
    assert artwork.id in gallery_ids(studio, peer, circle)
    assert studio.moderation.queue(therapist) == []


def test_one_person_has_only_a_few_reports_waiting_at_a_time(
    studio, participant, peer, therapist, circle
):
    """Regression: one person could report every piece in a circle and so hide the gallery."""
    pieces = [
        studio.artworks.share(participant, make_image(), alt_text=f"Piece {n}")
        for n in range(OPEN_REPORT_LIMIT + 1)
    ]
    flags = [
        studio.moderation.report(peer, "artwork", piece.id, "Please look")
        for piece in pieces[:OPEN_REPORT_LIMIT]
    ]
    with pytest.raises(PermissionDenied, match="Thank you for looking out") as refused:
        studio.moderation.report(peer, "artwork", pieces[-1].id, "And this")
    assert f"{OPEN_REPORT_LIMIT} reports waiting" in refused.value.message
    assert pieces[-1].id in gallery_ids(studio, peer, circle)
    # Once a facilitator has looked at one, there is room for another.
    studio.moderation.resolve(therapist, flags[0].id, "restore", "It's fine")
    studio.moderation.report(peer, "artwork", pieces[-1].id, "And this")
    # The limit is each person's own: others can still ask for help.
    third = join(studio, therapist, circle, "ash", "Ash")
    studio.moderation.report(third, "artwork", pieces[0].id, "Me too")


def test_second_report_joins_the_open_flag(studio, artwork, participant, peer, therapist, circle):
    comment = studio.comments.post(participant, artwork.id, "A comment by the artist")
    third = join(studio, therapist, circle, "ash", "Ash")
    first = studio.moderation.report(peer, "comment", comment.id, "Unkind")
    # Hidden now, but the reporter still can't see it; a facilitator still can.
    second = studio.moderation.report(therapist, "comment", comment.id, "Agreed, harsh")
    assert second.id == first.id
    with pytest.raises(NotFound):
        studio.moderation.report(third, "comment", comment.id, "Me too")
    [item] = studio.moderation.queue(therapist)
    assert item.reporter_count == 2
    assert item.reasons == ("Unkind", "Agreed, harsh")
    assert item.reporter_names == ("Sam", "Tess")
    # The author is told once, not once per report.
    assert len(studio.moderation.notices(participant)) == 1


def test_disabled_account_cannot_report(studio, artwork, peer, therapist):
    studio.accounts.set_disabled(therapist, peer.id, True)
    with pytest.raises(PermissionDenied, match="paused"):
        studio.moderation.report(peer, "artwork", artwork.id, "Spam")


# -- the queue -------------------------------------------------------------------------------------


def test_queue_is_newest_first_and_open_only_by_default(
    studio, artwork, participant, peer, therapist, clock
):
    comment = studio.comments.post(participant, artwork.id, "Lovely colours, thank you.")
    clock.advance(minutes=1)
    older = studio.moderation.report(peer, "comment", comment.id, "Odd")
    clock.advance(minutes=1)
    newer = studio.moderation.report(peer, "artwork", artwork.id, "Upsetting")
    items = studio.moderation.queue(therapist)
    assert all(isinstance(item, QueueItem) for item in items)
    assert [i.flag.id for i in items] == [newer.id, older.id]
    studio.moderation.resolve(therapist, older.id, "restore", "It's fine")
    assert [i.flag.id for i in studio.moderation.queue(therapist)] == [newer.id]
    everything = studio.moderation.queue(therapist, include_resolved=True)
    assert {i.flag.id for i in everything} == {newer.id, older.id}


def test_queue_item_describes_the_subject(studio, artwork, participant, peer, therapist, circle):
    studio.moderation.report(peer, "artwork", artwork.id, "Upsetting")
    [item] = studio.moderation.queue(therapist, circle.id)
    assert item.circle_id == circle.id
    assert item.artwork_id == artwork.id and item.has_thumb
    assert item.text == "Night shift"
    assert item.author_name == "Robin"
    assert item.subject_status == "hidden"
    assert studio.artworks.image(therapist, item.artwork_id, "thumb")


def test_cofacilitator_sees_reports_but_not_crisis_flags(
    studio, artwork, participant, peer, therapist, cofacilitator
):
    studio.comments.post(peer, artwork.id, CRISIS)
    report = studio.moderation.report(peer, "artwork", artwork.id, "Upsetting")
    # Someone who may be at risk now comes first.
    assert [i.flag.kind for i in studio.moderation.queue(therapist)] == ["crisis", "report"]
    [item] = studio.moderation.queue(cofacilitator)
    assert item.flag.id == report.id
    assert item.reporter_count == 1
    assert item.reporter_names == ()  # no reporter identities for co-facilitators
    assert studio.moderation.open_count(cofacilitator) == 1
    assert studio.moderation.open_count(therapist) == 2


def test_participants_cannot_see_the_queue(studio, artwork, participant, peer, circle):
    studio.moderation.report(peer, "artwork", artwork.id, "Upsetting")
    with pytest.raises(PermissionDenied):
        studio.moderation.queue(peer)
    with pytest.raises(PermissionDenied):
        studio.moderation.queue(peer, circle.id)
    assert studio.moderation.open_count(peer) == 0
    assert studio.moderation.open_count(participant) == 0


def test_therapist_sees_only_circles_they_run(
    studio, artwork, peer, therapist, other_circle, outsider
):
    theirs = studio.artworks.share(outsider, make_image(), caption="Hi", alt_text="Green")
    studio.moderation.flag_if_crisis(outsider, other_circle.id, "artwork", theirs.id, CRISIS)
    studio.moderation.report(peer, "artwork", artwork.id, "Upsetting")
    assert len(studio.moderation.queue(therapist)) == 2
    assert len(studio.moderation.queue(therapist, other_circle.id)) == 1


def test_therapist_of_another_circle_cannot_see_this_queue(studio, therapist, circle, outsider):
    with pytest.raises(PermissionDenied):
        studio.moderation.queue(outsider, circle.id)


def test_disabled_cofacilitator_is_refused(studio, therapist, circle, cofacilitator):
    studio.accounts.set_disabled(therapist, cofacilitator.id, True)
    with pytest.raises(PermissionDenied, match="paused"):
        studio.moderation.queue(cofacilitator, circle.id)
    assert studio.moderation.open_count(cofacilitator) == 0


# -- resolving -------------------------------------------------------------------------------------


def test_restore_makes_the_artwork_visible_again_and_tells_the_artist(
    studio, artwork, participant, peer, therapist, circle
):
    flag = studio.moderation.report(peer, "artwork", artwork.id, "Upsetting")
    resolved = studio.moderation.resolve(therapist, flag.id, "restore", "A valid expression")
    assert resolved.status == "resolved" and resolved.resolution == "restore"
    assert resolved.resolved_at is not None
    assert artwork.id in gallery_ids(studio, peer, circle)
    assert "back in the circle" in studio.moderation.notices(participant)[0].text


def test_hide_keeps_it_hidden_and_closes_the_flag(
    studio, artwork, participant, peer, therapist, circle
):
    flag = studio.moderation.report(peer, "artwork", artwork.id, "Upsetting")
    studio.moderation.resolve(therapist, flag.id, "hide", "Talking with Robin first")
    assert artwork.id not in gallery_ids(studio, peer, circle)
    assert artwork.id in gallery_ids(studio, participant, circle)
    assert studio.moderation.queue(therapist) == []


def test_remove_purges_an_artwork_with_its_files(
    studio, artwork, participant, peer, therapist, circle
):
    studio.comments.post(therapist, artwork.id, "Thank you for sharing")
    flag = studio.moderation.report(peer, "artwork", artwork.id, "Upsetting")
    resolved = studio.moderation.resolve(therapist, flag.id, "remove", "Graphic content")
    assert resolved.resolution == "remove"
    for viewer in (participant, peer, therapist):
        assert artwork.id not in gallery_ids(studio, viewer, circle)
        with pytest.raises(NotFound):
            studio.artworks.get(viewer, artwork.id)
    assert studio.store.collection("artworks").get(artwork.id) is None
    assert len(studio.store.collection("comments")) == 0
    assert not set(artwork.media_names) & studio.media.all_names()
    # The record of the decision outlives the artwork.
    assert studio.moderation.audit_log(therapist, circle.id)[0].action == "remove"
    assert "taken your artwork down" in studio.moderation.notices(participant)[0].text


def test_remove_marks_a_comment_removed(studio, artwork, participant, peer, therapist):
    comment = studio.comments.post(peer, artwork.id, "Something sharp")
    flag = studio.moderation.report(participant, "comment", comment.id, "Unkind")
    studio.moderation.resolve(therapist, flag.id, "remove", "Unkind to Robin")
    assert studio.store.collection("comments").get(comment.id)["status"] == "removed"
    assert studio.comments.for_artwork(peer, artwork.id) == []
    with pytest.raises(NotFound):
        studio.comments.edit(peer, comment.id, "Sorry")


def test_dismiss_only_closes_the_flag(studio, artwork, participant, peer, therapist):
    flag = studio.moderation.report(peer, "artwork", artwork.id, "Upsetting")
    studio.moderation.resolve(therapist, flag.id, "dismiss", "Talked with Sam, it's fine")
    assert studio.moderation.queue(therapist) == []
    assert studio.artworks.get(participant, artwork.id).status == "hidden"


def test_resolve_needs_a_known_action_and_a_reason(studio, artwork, peer, therapist):
    flag = studio.moderation.report(peer, "artwork", artwork.id, "Upsetting")
    with pytest.raises(ValidationError):
        studio.moderation.resolve(therapist, flag.id, "delete", "Because")
    with pytest.raises(ValidationError, match="reason"):
        studio.moderation.resolve(therapist, flag.id, "restore", "  ")
    with pytest.raises(NotFound):
        studio.moderation.resolve(therapist, "no-such-flag", "restore", "Because")


def test_cofacilitator_resolves_reports_but_not_crisis_flags(
    studio, artwork, peer, therapist, cofacilitator, circle
):
    studio.comments.post(peer, artwork.id, CRISIS)
    [crisis] = studio.moderation.queue(therapist)
    report = studio.moderation.report(peer, "artwork", artwork.id, "Upsetting")
    studio.moderation.resolve(cofacilitator, report.id, "restore", "It's fine")
    assert artwork.id in gallery_ids(studio, peer, circle)
    with pytest.raises(PermissionDenied):
        studio.moderation.resolve(cofacilitator, crisis.flag.id, "dismiss", "Seems fine")
    with pytest.raises(PermissionDenied):
        studio.moderation.close_crisis(cofacilitator, crisis.flag.id, "safe_now")


def test_cofacilitator_cannot_resolve_a_report_about_themselves(
    studio, artwork, participant, therapist, cofacilitator
):
    comment = studio.comments.post(cofacilitator, artwork.id, "Something sharp")
    flag = studio.moderation.report(participant, "comment", comment.id, "Unkind")
    with pytest.raises(PermissionDenied, match="about you"):
        studio.moderation.resolve(cofacilitator, flag.id, "restore", "Fine")
    studio.moderation.resolve(therapist, flag.id, "restore", "Fine")


def test_a_cofacilitator_cannot_delete_art_by_reporting_it_and_resolving_their_report(
    studio, artwork, participant, therapist, cofacilitator, circle
):
    """Regression: a co-facilitator could delete anyone's art by reporting it, then removing it."""
    flag = studio.moderation.report(cofacilitator, "artwork", artwork.id, "I don't like it")
    for action in ACTIONS:
        with pytest.raises(PermissionDenied, match="You raised this report"):
            studio.moderation.resolve(cofacilitator, flag.id, action, "Because")
    assert studio.artworks.get(participant, artwork.id).status == "hidden"
    assert set(artwork.media_names) <= studio.media.all_names()
    [item] = studio.moderation.queue(cofacilitator)
    assert item.actions == () and "You raised this report" in item.waiting_for
    # Someone else looks at it.
    studio.moderation.resolve(therapist, flag.id, "restore", "It's fine")
    assert artwork.id in gallery_ids(studio, participant, circle)


def test_a_therapist_does_not_resolve_their_own_report_either(
    studio, artwork, participant, therapist, cofacilitator
):
    flag = studio.moderation.report(therapist, "artwork", artwork.id, "Worrying")
    with pytest.raises(PermissionDenied, match="You raised this report"):
        studio.moderation.resolve(therapist, flag.id, "remove", "Because")
    [item] = studio.moderation.queue(therapist)
    assert item.actions == ()
    studio.moderation.resolve(cofacilitator, flag.id, "remove", "Not for this circle")
    assert studio.store.collection("artworks").get(artwork.id) is None


def test_removing_a_facilitators_art_or_words_needs_a_therapist(
    studio, artwork, participant, peer, therapist, cofacilitator, circle
):
    """Regression: a co-facilitator could remove the therapist's or a co-facilitator's art."""
    jo = join(studio, therapist, circle, "joan", "Jo")
    studio.circles.set_role(therapist, circle.id, jo.id, "cofacilitator")
    therapists_art = studio.artworks.share(therapist, make_image(), alt_text="A demo")
    jos_art = studio.artworks.share(jo, make_image(), alt_text="A sketch")
    jos_words = studio.comments.post(jo, artwork.id, "I notice the corridor")
    flags = [
        studio.moderation.report(peer, "artwork", therapists_art.id, "Upsetting"),
        studio.moderation.report(peer, "artwork", jos_art.id, "Upsetting"),
        studio.moderation.report(peer, "comment", jos_words.id, "Unkind"),
    ]
    for flag in flags:
        with pytest.raises(PermissionDenied, match="only a therapist running the circle"):
            studio.moderation.resolve(cofacilitator, flag.id, "remove", "Not kind")
    queue = {item.flag.id: item for item in studio.moderation.queue(cofacilitator)}
    for flag in flags:
        assert queue[flag.id].actions == ("restore", "hide", "dismiss")
    assert studio.store.collection("artworks").get(jos_art.id) is not None
    assert studio.store.collection("comments").get(jos_words.id)["status"] == "hidden"
    # They can still keep it hidden, and the therapist can remove it.
    studio.moderation.resolve(cofacilitator, flags[0].id, "hide", "Until Tess is back")
    studio.moderation.resolve(therapist, flags[1].id, "remove", "Not for this circle")
    studio.moderation.resolve(therapist, flags[2].id, "remove", "Unkind")
    assert studio.store.collection("artworks").get(jos_art.id) is None
    assert studio.store.collection("comments").get(jos_words.id)["status"] == "removed"
    # A participant's piece is still theirs to remove.
    flag = studio.moderation.report(peer, "artwork", artwork.id, "Upsetting")
    assert studio.moderation.queue(cofacilitator)[0].actions == ACTIONS
    studio.moderation.resolve(cofacilitator, flag.id, "remove", "Graphic")


def test_participants_and_outsiders_cannot_resolve(studio, artwork, participant, peer, outsider):
    flag = studio.moderation.report(peer, "artwork", artwork.id, "Upsetting")
    for person in (participant, peer, outsider):
        with pytest.raises(PermissionDenied):
            studio.moderation.resolve(person, flag.id, "restore", "Mine")


def test_resolving_something_already_deleted_asks_to_dismiss(
    studio, artwork, participant, peer, therapist
):
    comment = studio.comments.post(peer, artwork.id, CRISIS)
    [item] = studio.moderation.queue(therapist)
    studio.comments.delete(peer, comment.id)
    # The crisis flag stays: the person who wrote it may still need someone. Their words go.
    [still] = studio.moderation.queue(therapist)
    assert still.flag.id == item.flag.id and still.subject_status == "gone"
    assert still.flag.excerpt == ""
    with pytest.raises(ValidationError, match="what happened"):
        studio.moderation.resolve(therapist, item.flag.id, "hide", "Too late")
    studio.moderation.close_crisis(therapist, item.flag.id, "reached_out", "Called Sam")


# -- the audit log ---------------------------------------------------------------------------------


def test_every_action_is_in_the_audit_log_with_who_when_and_why(
    studio, artwork, participant, peer, therapist, circle, clock
):
    flag = studio.moderation.report(peer, "artwork", artwork.id, "Upsetting")
    clock.advance(minutes=5)
    studio.moderation.resolve(therapist, flag.id, "restore", "A valid expression")
    clock.advance(minutes=5)
    studio.moderation.contact(therapist, participant.id, "How are you doing?", circle_id=circle.id)
    log = studio.moderation.audit_log(therapist, circle.id)
    assert [e.action for e in log] == ["contact", "restore", "report"]
    contact, restore, report = log
    assert (restore.actor_id, restore.why, restore.at) == (
        therapist.id,
        "A valid expression",
        clock.now - timedelta(minutes=5),
    )
    assert (restore.subject_type, restore.subject_id, restore.circle_id) == (
        "artwork",
        artwork.id,
        circle.id,
    )
    assert restore.details["flag_id"] == flag.id
    assert (report.actor_id, report.why) == (peer.id, "Upsetting")
    assert (contact.actor_id, contact.subject_id, contact.at) == (
        therapist.id,
        participant.id,
        clock.now,
    )
    assert "How are you" not in contact.why


def test_audit_log_is_for_the_therapists_who_run_the_circle(
    studio, peer, cofacilitator, outsider, circle
):
    for person in (peer, cofacilitator, outsider):
        with pytest.raises(PermissionDenied):
            studio.moderation.audit_log(person, circle.id)


# -- notices and contact ---------------------------------------------------------------------------


def test_contact_sends_a_note_to_a_member(studio, participant, therapist, circle, clock):
    studio.moderation.contact(
        therapist, participant.id, "Thinking of you this week.", circle_id=circle.id
    )
    clock.advance(minutes=1)
    studio.moderation.contact(
        therapist, participant.id, "Here if you want to talk.", circle_id=circle.id
    )
    notes = studio.moderation.notices(participant)
    assert [n.text for n in notes] == ["Here if you want to talk.", "Thinking of you this week."]
    assert notes[0].from_name == "Tess"
    assert not any(n.read for n in notes)
    studio.moderation.mark_notices_read(participant)
    assert all(n.read for n in studio.moderation.notices(participant))


def test_contact_is_refused_for_non_facilitators_and_non_members(
    studio, participant, peer, therapist, circle, cofacilitator, outsider
):
    with pytest.raises(PermissionDenied):
        studio.moderation.contact(peer, participant.id, "Hi", circle_id=circle.id)
    with pytest.raises(PermissionDenied):
        studio.moderation.contact(cofacilitator, participant.id, "Hi", circle_id=circle.id)
    with pytest.raises(NotFound):
        studio.moderation.contact(therapist, outsider.id, "Hi", circle_id=circle.id)
    with pytest.raises(ValidationError):
        studio.moderation.contact(therapist, participant.id, " ", circle_id=circle.id)


def test_notices_are_private_to_each_person(studio, participant, peer, therapist, circle):
    studio.moderation.contact(therapist, participant.id, "Just for Robin", circle_id=circle.id)
    assert studio.moderation.notices(peer) == []
    studio.moderation.mark_notices_read(peer)
    assert studio.moderation.notices(participant)[0].read is False


def test_disabled_account_cannot_read_notices(studio, participant, therapist):
    studio.accounts.set_disabled(therapist, participant.id, True)
    with pytest.raises(PermissionDenied, match="paused"):
        studio.moderation.notices(participant)


# -- no one left behind ----------------------------------------------------------------------------


def test_unanswered_lists_art_nobody_has_responded_to_after_48_hours(
    studio, artwork, participant, peer, therapist, circle, clock
):
    studio.comments.post(participant, artwork.id, "Adding a note to my own piece")
    studio.reactions.toggle(participant, artwork.id, "thanks")
    assert studio.moderation.unanswered(therapist, circle.id) == []
    clock.advance(hours=49)
    assert [a.id for a in studio.moderation.unanswered(therapist, circle.id)] == [artwork.id]
    studio.comments.post(peer, artwork.id, "I notice the long corridor")
    assert studio.moderation.unanswered(therapist, circle.id) == []


def test_a_reaction_from_someone_else_counts_as_an_answer(
    studio, artwork, peer, therapist, circle, clock
):
    clock.advance(hours=49)
    studio.reactions.toggle(peer, artwork.id, "strength")
    assert studio.moderation.unanswered(therapist, circle.id) == []


def test_unanswered_honours_the_hours_and_skips_hidden_art(
    studio, artwork, peer, therapist, circle, clock
):
    clock.advance(hours=13)
    assert [a.id for a in studio.moderation.unanswered(therapist, circle.id, hours=12)] == [
        artwork.id
    ]
    studio.moderation.report(peer, "artwork", artwork.id, "Upsetting")
    assert studio.moderation.unanswered(therapist, circle.id, hours=12) == []


def test_unanswered_is_for_the_therapists_who_run_the_circle(
    studio, peer, cofacilitator, outsider, circle
):
    for person in (peer, cofacilitator, outsider):
        with pytest.raises(PermissionDenied):
            studio.moderation.unanswered(person, circle.id)
