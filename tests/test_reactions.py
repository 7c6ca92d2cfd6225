"""Tests for supportive reactions: toggled per person, seen by name only by the artist."""

from __future__ import annotations

from dataclasses import fields

import pytest

from gallery_store.errors import NotFound, PermissionDenied, ValidationError
from gallery_store.models import REACTIONS, Artwork

from .conftest import make_image


@pytest.fixture
def artwork(studio, participant):
    return studio.artworks.share(
        participant, make_image(), caption="Rain on the bus", alt_text="Blue streaks"
    )


def test_toggle_turns_a_reaction_on_and_off(studio, artwork, peer):
    assert studio.reactions.toggle(peer, artwork.id, "relate") is True
    assert studio.reactions.mine(peer, artwork.id) == {"relate"}
    assert studio.reactions.toggle(peer, artwork.id, "relate") is False
    assert studio.reactions.mine(peer, artwork.id) == set()


def test_one_of_each_kind_per_person(studio, artwork, participant, peer):
    for kind in REACTIONS:
        assert studio.reactions.toggle(peer, artwork.id, kind) is True
    assert studio.reactions.mine(peer, artwork.id) == set(REACTIONS)
    assert studio.reactions.for_artist(participant, artwork.id) == {
        kind: ["Sam"] for kind in REACTIONS
    }


def test_reactions_are_per_person(studio, artwork, peer, therapist):
    studio.reactions.toggle(peer, artwork.id, "strength")
    assert studio.reactions.mine(therapist, artwork.id) == set()
    studio.reactions.toggle(therapist, artwork.id, "strength")
    studio.reactions.toggle(peer, artwork.id, "strength")
    assert studio.reactions.mine(therapist, artwork.id) == {"strength"}
    assert studio.reactions.mine(peer, artwork.id) == set()


@pytest.mark.parametrize("kind", ["like", "", "RELATE", "dislike"])
def test_unknown_kind_is_refused(studio, artwork, peer, kind):
    with pytest.raises(ValidationError):
        studio.reactions.toggle(peer, artwork.id, kind)


def test_artist_sees_who_reacted_by_name(studio, artwork, participant, peer, therapist):
    studio.reactions.toggle(peer, artwork.id, "moved")
    studio.reactions.toggle(therapist, artwork.id, "moved")
    studio.reactions.toggle(therapist, artwork.id, "thanks")
    assert studio.reactions.for_artist(participant, artwork.id) == {
        "thanks": ["Tess"],
        "moved": ["Sam", "Tess"],
    }


def test_nobody_but_the_artist_sees_who_reacted(studio, artwork, peer, therapist, outsider):
    studio.reactions.toggle(peer, artwork.id, "relate")
    for other in (peer, therapist):
        with pytest.raises(PermissionDenied, match="Only the artist"):
            studio.reactions.for_artist(other, artwork.id)
    with pytest.raises(PermissionDenied):
        studio.reactions.for_artist(outsider, artwork.id)


def test_no_counts_are_handed_out_with_artworks(studio, artwork, peer):
    studio.reactions.toggle(peer, artwork.id, "relate")
    names = {f.name for f in fields(Artwork)}
    assert not any("count" in n or "reaction" in n for n in names)
    assert set(vars(studio.artworks.get(peer, artwork.id))) == names


def test_reacting_in_another_circle_is_refused(studio, artwork, outsider):
    with pytest.raises(PermissionDenied):
        studio.reactions.toggle(outsider, artwork.id, "relate")
    with pytest.raises(PermissionDenied):
        studio.reactions.mine(outsider, artwork.id)


def test_unknown_artwork_is_not_found(studio, peer):
    with pytest.raises(NotFound):
        studio.reactions.toggle(peer, "nope", "relate")


def test_disabled_account_cannot_react(studio, artwork, participant, peer, therapist):
    studio.accounts.set_disabled(therapist, peer.id, True)
    with pytest.raises(PermissionDenied, match="paused"):
        studio.reactions.toggle(peer, artwork.id, "relate")
    studio.accounts.set_disabled(therapist, participant.id, True)
    with pytest.raises(PermissionDenied, match="paused"):
        studio.reactions.for_artist(participant, artwork.id)


def test_reacting_in_an_archived_circle_is_refused(studio, artwork, peer, therapist, circle):
    studio.circles.archive(therapist, circle.id)
    with pytest.raises(PermissionDenied, match="archived"):
        studio.reactions.toggle(peer, artwork.id, "relate")


def test_reactions_go_with_a_deleted_artwork(studio, artwork, participant, peer):
    studio.reactions.toggle(peer, artwork.id, "relate")
    studio.artworks.delete(participant, artwork.id)
    assert len(studio.store.collection("reactions")) == 0
