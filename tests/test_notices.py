"""What's new for a person: worked out from the records since their own "last looked" mark."""

from __future__ import annotations

import pytest

from gallery_store.errors import PermissionDenied

from .conftest import make_image


def share(studio, person, circle, caption="My piece"):
    return studio.artworks.share(
        person, make_image(), caption=caption, alt_text="A shape", circle_id=circle.id
    )


def kinds(items) -> list[tuple[str, str]]:
    return [(item.kind, item.who) for item in items]


def test_comments_and_reactions_on_my_art_are_new_for_me_only(
    studio, clock, therapist, circle, participant, peer
):
    art = share(studio, participant, circle, caption="Dawn")
    clock.advance(minutes=1)
    studio.comments.post(participant, art.id, "It was early.")  # my own words: not news
    clock.advance(minutes=1)
    studio.reactions.toggle(peer, art.id, "relate")
    clock.advance(minutes=1)
    studio.comments.post(peer, art.id, "I notice the warm light.")

    new = studio.notices.new_since_last_look(participant)
    assert kinds(new) == [("comment", "Sam"), ("reaction", "Sam")]  # newest first
    assert new[0].words == "I notice the warm light."
    assert (new[0].artwork_id, new[0].artwork_caption) == (art.id, "Dawn")
    assert new[1].reaction == "relate"
    assert studio.notices.count(participant) == 2
    # Only their own: the peer who commented has nothing new about it.
    assert studio.notices.new_since_last_look(peer) == []


def test_words_held_or_hidden_from_the_artist_are_not_news(
    studio, clock, therapist, circle, participant, peer
):
    art = share(studio, participant, circle)
    clock.advance(minutes=1)
    studio.comments.post(peer, art.id, "I took all my pills an hour ago. Goodbye.")  # held
    assert studio.notices.new_since_last_look(participant) == []


def test_a_note_from_the_therapist_is_new_until_marked_seen(
    studio, clock, therapist, circle, participant
):
    clock.advance(minutes=5)
    studio.moderation.contact(therapist, participant.id, "Thinking of you.", circle_id=circle.id)

    [note] = studio.notices.new_since_last_look(participant)
    assert (note.kind, note.who, note.words) == ("note", "Tess", "Thinking of you.")

    studio.notices.mark_seen(participant)
    assert studio.notices.count(participant) == 0
    # The note itself stays where it always was.
    assert [n.text for n in studio.moderation.notices(participant)] == ["Thinking of you."]


def test_nothing_is_lost_by_never_looking(studio, clock, therapist, circle, participant, peer):
    art = share(studio, participant, circle)
    for n in range(3):
        clock.advance(days=1)
        studio.comments.post(peer, art.id, f"Day {n}: I notice the blue.")
    studio.notices.mark_seen(participant)
    clock.advance(minutes=1)
    studio.comments.post(peer, art.id, "And today, the green.")
    clock.advance(days=3)

    new = studio.notices.new_since_last_look(participant)
    assert [i.words for i in new if i.kind == "comment"] == ["And today, the green."]


def test_a_new_days_prompt_is_news_but_not_on_the_day_they_joined(
    studio, clock, therapist, circle, participant
):
    assert studio.notices.new_since_last_look(participant) == []
    clock.advance(days=1)

    [prompt] = studio.notices.new_since_last_look(participant)
    todays = studio.prompts.today(participant, circle.id)
    assert (prompt.kind, prompt.words, prompt.circle_name) == (
        "prompt",
        todays.prompt.title,
        "Tuesday caregivers",
    )
    studio.notices.mark_seen(participant)
    clock.advance(hours=1)
    assert studio.notices.new_since_last_look(participant) == []


def test_the_author_hears_who_read_a_shared_note_and_the_therapist_that_one_was_shared(
    studio, clock, therapist, circle, participant
):
    studio.notices.mark_seen(therapist)
    clock.advance(minutes=1)
    shared = studio.reflections.write(participant, "For Tess", share_with_therapist=True)
    studio.reflections.write(participant, "Only for me")

    [waiting] = studio.notices.new_since_last_look(therapist)
    assert (waiting.kind, waiting.who, waiting.person_id) == (
        "shared_note",
        "Robin",
        participant.id,
    )
    assert waiting.words == ""  # the words are read (and the read recorded) on Insights

    clock.advance(minutes=1)
    studio.reflections.get(therapist, shared.id)
    [read] = studio.notices.new_since_last_look(participant)
    assert (read.kind, read.who) == ("read", "Tess")


def test_a_signed_out_or_paused_person_gets_nothing(studio, therapist, circle, participant):
    with pytest.raises(PermissionDenied):
        studio.notices.new_since_last_look(None)
    studio.accounts.set_disabled(therapist, participant.id, True)
    with pytest.raises(PermissionDenied):
        studio.notices.count(participant)
    with pytest.raises(PermissionDenied):
        studio.notices.mark_seen(participant)
