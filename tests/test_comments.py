"""Tests for comments: who may post, see, edit and delete them, and what is stored."""

from __future__ import annotations

from dataclasses import asdict

import pytest

from gallery_store.comments import COMMENT_LIMIT, EDIT_MINUTES, STARTERS
from gallery_store.errors import NotFound, PermissionDenied, ValidationError
from gallery_store.models import Comment
from gallery_store.safety import GentleNudge

from .conftest import join, make_image


@pytest.fixture
def artwork(studio, participant):
    return studio.artworks.share(
        participant, make_image(), caption="My kitchen at dawn", alt_text="A yellow window"
    )


def test_constants_match_the_witnessing_guide():
    assert STARTERS == ("I notice…", "It reminds me of…", "I wonder…", "Thank you for sharing…")
    assert COMMENT_LIMIT == 1000
    assert EDIT_MINUTES == 15


def test_post_stores_who_what_and_when(studio, artwork, peer, clock):
    comment = studio.comments.post(peer, artwork.id, "  I notice the warm light.  ")
    assert comment.artwork_id == artwork.id
    assert comment.user_id == peer.id
    assert comment.author_name == "Sam"
    assert comment.text == "I notice the warm light."
    assert comment.created_at == clock.now
    assert comment.edited_at is None
    assert comment.status == "visible"


def test_comments_are_listed_oldest_first_to_everyone_in_the_circle(
    studio, artwork, participant, peer, therapist, clock
):
    first = studio.comments.post(peer, artwork.id, "I wonder what the window looks onto.")
    clock.advance(minutes=1)
    second = studio.comments.post(therapist, artwork.id, "Thank you for sharing this.")
    clock.advance(minutes=1)
    third = studio.comments.post(participant, artwork.id, "It's the garden.")
    for viewer in (participant, peer, therapist):
        assert [c.id for c in studio.comments.for_artwork(viewer, artwork.id)] == [
            first.id,
            second.id,
            third.id,
        ]


def test_the_newest_comments_can_be_asked_for_alone_still_oldest_first(
    studio, artwork, participant, peer, clock
):
    posted = []
    for number in range(5):
        clock.advance(minutes=1)
        posted.append(studio.comments.post(peer, artwork.id, f"Comment {number}").id)
    artists = studio.comments.post(participant, artwork.id, "Thank you all.")
    assert [c.id for c in studio.comments.for_artwork(peer, artwork.id, newest=2)] == [
        posted[4],
        artists.id,
    ]
    assert [c.id for c in studio.comments.for_artwork(peer, artwork.id, newest=10)] == [
        *posted,
        artists.id,
    ]
    assert studio.comments.for_artwork(peer, artwork.id, newest=0) == []


def test_author_name_follows_a_rename(studio, artwork, peer):
    studio.comments.post(peer, artwork.id, "I notice the light.")
    studio.accounts.rename(peer, "Samira")
    assert studio.comments.for_artwork(peer, artwork.id)[0].author_name == "Samira"


def test_posting_in_another_circle_is_refused(studio, artwork, outsider):
    with pytest.raises(PermissionDenied):
        studio.comments.post(outsider, artwork.id, "Hello from Thursday")


def test_reading_comments_in_another_circle_is_refused(studio, artwork, peer, outsider):
    studio.comments.post(peer, artwork.id, "I notice the light.")
    with pytest.raises(PermissionDenied):
        studio.comments.for_artwork(outsider, artwork.id)


def test_unknown_artwork_is_not_found(studio, peer):
    with pytest.raises(NotFound):
        studio.comments.post(peer, "no-such-artwork", "Hello")
    with pytest.raises(NotFound):
        studio.comments.for_artwork(peer, "no-such-artwork")


def test_comments_off_is_refused_kindly(studio, artwork, participant, peer):
    studio.artworks.edit(participant, artwork.id, comments_enabled=False)
    with pytest.raises(PermissionDenied, match="turned comments off for this piece"):
        studio.comments.post(peer, artwork.id, "I notice the light.")
    assert studio.comments.for_artwork(peer, artwork.id) == []


def test_comments_on_again_are_allowed(studio, artwork, participant, peer):
    studio.artworks.edit(participant, artwork.id, comments_enabled=False)
    studio.artworks.edit(participant, artwork.id, comments_enabled=True)
    assert studio.comments.post(peer, artwork.id, "I notice the light.").text


def test_comment_limit_is_1000_characters_and_the_message_says_so(studio, artwork, peer):
    assert len(studio.comments.post(peer, artwork.id, "a" * 1000).text) == 1000
    with pytest.raises(ValidationError, match="1000") as refused:
        studio.comments.post(peer, artwork.id, "a" * 1001)
    assert "1001" in refused.value.message


@pytest.mark.parametrize("text", ["", "   ", "\n\n", "\u200b"])
def test_empty_comment_is_refused(studio, artwork, peer, text):
    with pytest.raises(ValidationError, match="comment"):
        studio.comments.post(peer, artwork.id, text)


def test_hostile_text_is_stored_as_written_not_escaped(studio, artwork, peer):
    hostile = '<script>alert("hi")</script> [click](javascript:alert(1)) & ![x](data:x) $x$'
    comment = studio.comments.post(peer, artwork.id, hostile)
    assert comment.text == hostile
    assert studio.comments.for_artwork(peer, artwork.id)[0].text == hostile


def test_invisible_tricks_are_cleaned_from_comments(studio, artwork, peer):
    comment = studio.comments.post(peer, artwork.id, "kind\u200b words\u202e here\x00")
    assert comment.text == "kind words here"


def test_posting_in_an_archived_circle_is_refused(studio, artwork, peer, therapist, circle):
    studio.circles.archive(therapist, circle.id)
    with pytest.raises(PermissionDenied, match="archived"):
        studio.comments.post(peer, artwork.id, "I notice the light.")


def test_disabled_account_cannot_post_or_read(studio, artwork, peer, therapist):
    studio.accounts.set_disabled(therapist, peer.id, True)
    with pytest.raises(PermissionDenied, match="paused"):
        studio.comments.post(peer, artwork.id, "I notice the light.")
    with pytest.raises(PermissionDenied, match="paused"):
        studio.comments.for_artwork(peer, artwork.id)


def test_signed_out_person_is_refused(studio, artwork):
    with pytest.raises(PermissionDenied):
        studio.comments.post(None, artwork.id, "Hello")


def test_commenting_on_a_hidden_artwork_is_paused(studio, artwork, peer, therapist):
    studio.moderation.report(peer, "artwork", artwork.id, "This worries me")
    with pytest.raises(PermissionDenied, match="paused"):
        studio.comments.post(therapist, artwork.id, "Checking in")


def test_hidden_comment_is_shown_only_to_its_author_and_facilitators(
    studio, artwork, participant, peer, therapist, circle
):
    cofacilitator = join(studio, therapist, circle, "kit", "Kit")
    studio.circles.set_role(therapist, circle.id, cofacilitator.id, "cofacilitator")
    comment = studio.comments.post(peer, artwork.id, "Something sharp")
    studio.moderation.report(participant, "comment", comment.id, "This felt unkind")
    assert studio.comments.for_artwork(participant, artwork.id) == []
    for viewer in (peer, therapist, cofacilitator):
        [shown] = studio.comments.for_artwork(viewer, artwork.id)
        assert shown.id == comment.id and shown.status == "hidden"


def test_removed_comment_is_shown_to_nobody(studio, artwork, participant, peer, therapist):
    comment = studio.comments.post(peer, artwork.id, "Something sharp")
    flag = studio.moderation.report(participant, "comment", comment.id, "This felt unkind")
    studio.moderation.resolve(therapist, flag.id, "remove", "Not in the spirit of the circle")
    for viewer in (participant, peer, therapist):
        assert studio.comments.for_artwork(viewer, artwork.id) == []


def test_author_can_edit_within_fifteen_minutes(studio, artwork, peer, clock):
    comment = studio.comments.post(peer, artwork.id, "I notice the light")
    clock.advance(minutes=14)
    edited = studio.comments.edit(peer, comment.id, "I notice the warm light")
    assert edited.text == "I notice the warm light"
    assert edited.edited_at == clock.now
    assert edited.created_at == comment.created_at
    assert studio.comments.for_artwork(peer, artwork.id)[0].text == "I notice the warm light"


def test_an_edited_comment_keeps_its_place_in_the_thread(studio, artwork, participant, peer):
    # Regression: the store re-indexed every updated record, which moved an edited comment
    # to the end of its thread.
    first = studio.comments.post(peer, artwork.id, "I notice the light")
    second = studio.comments.post(participant, artwork.id, "Thank you")
    studio.comments.edit(peer, first.id, "I notice the warm light")
    assert [c.id for c in studio.comments.for_artwork(peer, artwork.id)] == [first.id, second.id]


def test_edit_after_sixteen_minutes_is_refused(studio, artwork, peer, clock):
    comment = studio.comments.post(peer, artwork.id, "I notice the light")
    clock.advance(minutes=16)
    with pytest.raises(ValidationError, match="15 minutes after posting"):
        studio.comments.edit(peer, comment.id, "Changed my mind")
    assert studio.comments.for_artwork(peer, artwork.id)[0].text == "I notice the light"


def test_editing_someone_elses_comment_is_refused(studio, artwork, participant, peer, therapist):
    comment = studio.comments.post(peer, artwork.id, "I notice the light")
    for other in (participant, therapist):
        with pytest.raises(PermissionDenied):
            studio.comments.edit(other, comment.id, "Words put in Sam's mouth")


def test_edit_checks_the_length_again(studio, artwork, peer):
    comment = studio.comments.post(peer, artwork.id, "I notice the light")
    with pytest.raises(ValidationError, match="1000"):
        studio.comments.edit(peer, comment.id, "a" * 1001)


def test_author_can_delete_their_comment(studio, artwork, peer):
    comment = studio.comments.post(peer, artwork.id, "I notice the light")
    studio.comments.delete(peer, comment.id)
    assert studio.comments.for_artwork(peer, artwork.id) == []
    with pytest.raises(NotFound):
        studio.comments.delete(peer, comment.id)


def test_deleting_someone_elses_comment_is_refused(studio, artwork, participant, peer, therapist):
    comment = studio.comments.post(peer, artwork.id, "I notice the light")
    # Even the artwork's artist and the therapist: therapists remove through moderation.
    for other in (participant, therapist):
        with pytest.raises(PermissionDenied):
            studio.comments.delete(other, comment.id)
    assert len(studio.comments.for_artwork(peer, artwork.id)) == 1


def test_outsider_cannot_learn_a_comment_exists(studio, artwork, peer, outsider):
    comment = studio.comments.post(peer, artwork.id, "I notice the light")
    with pytest.raises(PermissionDenied):
        studio.comments.delete(outsider, comment.id)


def test_deleting_a_reported_comment_drops_the_report(
    studio, artwork, participant, peer, therapist
):
    comment = studio.comments.post(peer, artwork.id, "Something sharp")
    studio.moderation.report(participant, "comment", comment.id, "Unkind")
    studio.comments.delete(peer, comment.id)
    assert studio.moderation.queue(therapist) == []


def test_check_draft_nudges_judging_words_but_never_blocks(studio, artwork, peer):
    nudge = studio.comments.check_draft("This looks like a child did it")
    assert isinstance(nudge, GentleNudge)
    assert studio.comments.check_draft("I notice the light on the table") is None
    # The writer may still post: the nudge is a suggestion.
    assert studio.comments.post(peer, artwork.id, "This looks like a child did it").text


def test_comments_survive_reopening_the_studio(data_dir, config, clock, studio, artwork, peer):
    from gallery_store import open_studio

    comment = studio.comments.post(peer, artwork.id, "I notice the light")
    studio.close()
    with open_studio(data_dir, config, clock) as reopened:
        [again] = reopened.comments.for_artwork(peer, artwork.id)
        assert again == Comment.from_record(asdict(comment) | {"support": None})
