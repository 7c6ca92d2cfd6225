"""Tests for circles: creating them, invites, members and roles, settings and archiving."""

from __future__ import annotations

import pytest

from gallery_store.errors import Conflict, NotFound, PermissionDenied, ValidationError
from gallery_store.policy import INVITE_MAX_DAYS, INVITE_MAX_USES

from .conftest import PASSWORD, join, make_image


@pytest.fixture
def cofacilitator(studio, therapist, circle):
    kit = join(studio, therapist, circle, "kit", "Kit")
    studio.circles.set_role(therapist, circle.id, kit.id, "cofacilitator")
    return kit


@pytest.fixture
def artwork(studio, participant):
    return studio.artworks.share(
        participant, make_image(), caption="My kitchen at dawn", alt_text="A yellow window"
    )


# -- creating -------------------------------------------------------------------------------------


def test_a_therapist_creates_a_circle_and_runs_it(studio, therapist, clock):
    circle = studio.circles.create(
        therapist, "  Tuesday\u200b   caregivers ", timezone="Europe/London", themes=("coping",)
    )
    assert circle.name == "Tuesday caregivers"
    assert circle.timezone == "Europe/London"
    assert circle.themes == ("coping",)
    assert not circle.archived and not circle.allow_deep
    assert circle.created_at == clock.now
    assert studio.circles.membership(therapist, circle.id).role == "facilitator"
    assert [c.id for c in studio.circles.facilitated(therapist, therapist_only=True)] == [circle.id]


def test_only_a_therapist_creates_circles(studio, participant, cofacilitator):
    for person in (participant, cofacilitator, None):
        with pytest.raises(PermissionDenied):
            studio.circles.create(person, "My own circle")


@pytest.mark.parametrize(
    ("name", "timezone"), [("", "UTC"), ("x" * 61, "UTC"), ("Fine", "Mars/Olympus")]
)
def test_a_circle_needs_a_name_and_a_real_time_zone(studio, therapist, name, timezone):
    with pytest.raises(ValidationError):
        studio.circles.create(therapist, name, timezone=timezone)
    assert studio.circles.for_user(therapist) == []


# -- invites --------------------------------------------------------------------------------------


def test_invites_are_listed_newest_first_with_their_settings(studio, therapist, circle, clock):
    robins = studio.circles.invite(therapist, circle.id, label="For Robin")
    clock.advance(minutes=1)
    studio.circles.invite(therapist, circle.id, max_uses=None, expires_in_days=None, label="Open")
    newest, oldest = studio.circles.invites(therapist, circle.id)
    assert (newest.label, newest.max_uses, newest.expires_at) == ("Open", None, None)
    assert (oldest.label, oldest.max_uses, oldest.uses) == ("For Robin", 1, 0)
    assert oldest.expires_at is not None
    assert oldest.code == robins  # to its maker (the store keeps it only sealed, see below)


def test_revoking_an_invite_stops_it(studio, therapist, circle):
    code = studio.circles.invite(therapist, circle.id, max_uses=None)
    studio.accounts.join(code, "robin", PASSWORD, "Robin")
    [invite] = studio.circles.invites(therapist, circle.id)
    revoked = studio.circles.revoke_invite(therapist, invite.id)
    assert revoked.revoked
    assert studio.circles.invites(therapist, circle.id)[0].revoked
    with pytest.raises(ValidationError):
        studio.accounts.join(code, "sam", PASSWORD, "Sam")


def test_revoking_an_unknown_invite_is_not_found(studio, therapist, circle):
    with pytest.raises(NotFound):
        studio.circles.revoke_invite(therapist, "no-such-invite")


@pytest.mark.parametrize(
    "settings", [{"max_uses": 0}, {"max_uses": -1}, {"expires_in_days": 0}, {"label": "x" * 61}]
)
def test_invite_settings_are_checked(studio, therapist, circle, settings):
    with pytest.raises(ValidationError):
        studio.circles.invite(therapist, circle.id, **settings)


def test_participants_and_outsiders_cannot_invite_or_see_invites(
    studio, therapist, circle, participant, outsider
):
    studio.circles.invite(therapist, circle.id, label="spare")
    invite = studio.circles.invites(therapist, circle.id)[0]
    assert invite.label == "spare"
    for person in (participant, outsider, None):
        with pytest.raises(PermissionDenied):
            studio.circles.invite(person, circle.id)
        with pytest.raises(PermissionDenied):
            studio.circles.invites(person, circle.id)
        with pytest.raises(PermissionDenied):
            studio.circles.revoke_invite(person, invite.id)
    assert not studio.circles.invites(therapist, circle.id)[0].revoked


def test_a_cofacilitator_can_invite_list_and_revoke(studio, therapist, circle, cofacilitator):
    code = studio.circles.invite(cofacilitator, circle.id)
    invites = studio.circles.invites(cofacilitator, circle.id)
    assert invites[0].label == ""
    studio.accounts.join(code, "robin", PASSWORD, "Robin")
    spare = studio.circles.invite(cofacilitator, circle.id)
    studio.circles.revoke_invite(
        cofacilitator, studio.circles.invites(cofacilitator, circle.id)[0].id
    )
    with pytest.raises(ValidationError):
        studio.accounts.join(spare, "sam", PASSWORD, "Sam")


def test_the_maker_sees_their_active_codes_again(studio, therapist, circle):
    """Regression: a code was shown once, so a second code made in a row lost the first."""
    first = studio.circles.invite(therapist, circle.id, label="For Maria")
    second = studio.circles.invite(therapist, circle.id, label="For Jo", max_uses=3)

    listed = studio.circles.invites(therapist, circle.id)
    assert [(i.label, i.code) for i in listed] == [("For Jo", second), ("For Maria", first)]
    studio.accounts.join(first, "maria", PASSWORD, "Maria")
    studio.circles.revoke_invite(therapist, listed[0].id)
    # Used up or revoked: the code has no use any more, and is not shown.
    assert [i.code for i in studio.circles.invites(therapist, circle.id)] == [None, None]


def test_only_the_maker_sees_an_invite_code(studio, therapist, circle, cofacilitator):
    theirs = studio.circles.invite(therapist, circle.id, label="Therapist's")
    mine = studio.circles.invite(cofacilitator, circle.id, label="Kit's")

    by_kit = {i.label: i.code for i in studio.circles.invites(cofacilitator, circle.id) if i.label}
    by_tess = {i.label: i.code for i in studio.circles.invites(therapist, circle.id) if i.label}
    assert by_kit == {"Kit's": mine, "Therapist's": None}
    assert by_tess == {"Kit's": None, "Therapist's": theirs}
    # Signed in again (a session opens the person's keys), the maker still sees it.
    tess = studio.accounts.sign_in("tess", PASSWORD).user
    assert [
        i.code for i in studio.circles.invites(tess, circle.id) if i.label == "Therapist's"
    ] == [theirs]


def test_an_invite_code_is_kept_only_sealed(studio, therapist, circle, data_dir):
    code = studio.circles.invite(therapist, circle.id)
    studio.backup_now()
    [record] = studio.store.collection("invites").all()
    assert code not in str(record) and record["code_sealed"]
    blob = b"".join(p.read_bytes() for p in data_dir.rglob("*") if p.is_file())
    assert code.encode() not in blob


@pytest.mark.parametrize(
    "settings",
    [
        {"max_uses": None},
        {"expires_in_days": None},
        {"max_uses": None, "expires_in_days": None},
        {"max_uses": INVITE_MAX_USES + 1},
        {"expires_in_days": INVITE_MAX_DAYS + 1},
    ],
)
def test_a_cofacilitator_cannot_make_an_invite_that_never_runs_out(
    studio, therapist, circle, cofacilitator, settings
):
    """Regression: the invite form capped uses and days, but the service let anything through."""
    before = studio.circles.invites(therapist, circle.id)
    with pytest.raises(PermissionDenied, match="only a therapist"):
        studio.circles.invite(cofacilitator, circle.id, **settings)
    assert studio.circles.invites(therapist, circle.id) == before
    # The form's own limits are fine, and a therapist may still make an open invite.
    studio.circles.invite(
        cofacilitator, circle.id, max_uses=INVITE_MAX_USES, expires_in_days=INVITE_MAX_DAYS
    )
    studio.circles.invite(therapist, circle.id, **settings)


def _cofacilitators_code(studio, therapist, circle, cofacilitator) -> str:
    code = studio.circles.invite(cofacilitator, circle.id, max_uses=5, label="Kit's")
    studio.accounts.join(code, "robin", PASSWORD, "Robin")
    return code


def _assert_ended(studio, therapist, circle, code) -> None:
    with pytest.raises(ValidationError, match="expired or been used up"):
        studio.accounts.join(code, "sam", PASSWORD, "Sam")
    [kits] = [i for i in studio.circles.invites(therapist, circle.id) if i.label == "Kit's"]
    assert kits.revoked and not kits.usable(studio.now())


def test_a_cofacilitators_invites_end_when_they_are_made_a_participant(
    studio, therapist, circle, cofacilitator
):
    """Regression: a demoted co-facilitator's invite codes kept letting people in."""
    code = _cofacilitators_code(studio, therapist, circle, cofacilitator)
    theirs = studio.circles.invite(therapist, circle.id, max_uses=None)
    studio.circles.set_role(therapist, circle.id, cofacilitator.id, "participant")
    _assert_ended(studio, therapist, circle, code)
    # Promoting them again doesn't bring old codes back; the therapist's still work.
    studio.circles.set_role(therapist, circle.id, cofacilitator.id, "cofacilitator")
    _assert_ended(studio, therapist, circle, code)
    studio.accounts.join(theirs, "ash", PASSWORD, "Ash")


def test_a_cofacilitators_invites_end_when_their_account_is_paused(
    studio, therapist, circle, cofacilitator
):
    """Regression: a paused co-facilitator's invite codes kept letting people in."""
    code = _cofacilitators_code(studio, therapist, circle, cofacilitator)
    studio.accounts.set_disabled(therapist, cofacilitator.id, True)
    _assert_ended(studio, therapist, circle, code)
    studio.accounts.set_disabled(therapist, cofacilitator.id, False)
    _assert_ended(studio, therapist, circle, code)


def test_a_cofacilitators_invites_end_when_they_leave_the_circle(
    studio, therapist, circle, cofacilitator
):
    """Regression: a removed co-facilitator's invite codes kept letting people in."""
    code = _cofacilitators_code(studio, therapist, circle, cofacilitator)
    studio.circles.remove_member(therapist, circle.id, cofacilitator.id)
    _assert_ended(studio, therapist, circle, code)


def test_a_deleted_cofacilitators_invites_end_but_a_therapists_keep_working(
    studio, therapist, circle, cofacilitator
):
    code = _cofacilitators_code(studio, therapist, circle, cofacilitator)
    second = studio.accounts.join(
        studio.circles.invite(therapist, circle.id, for_therapist=True), "ruth", PASSWORD, "Ruth"
    )
    seconds = studio.circles.invite(second, circle.id, max_uses=None)
    studio.exports.delete_account(cofacilitator, PASSWORD)
    studio.exports.delete_account(second, PASSWORD)
    _assert_ended(studio, therapist, circle, code)
    studio.accounts.join(seconds, "ash", PASSWORD, "Ash")


def test_an_invite_from_before_makers_were_recorded_ends_with_its_cofacilitator(
    studio, therapist, circle, cofacilitator
):
    """Invites made before this rule don't say who made them as what; the maker's account does."""
    code = _cofacilitators_code(studio, therapist, circle, cofacilitator)
    invites = studio.store.collection("invites")
    with studio.store.transaction():
        for record in invites.all():
            invites.update(record["id"], made_as=None)
        # As an older version would have left it: demoted, the invite not revoked.
        membership = studio.store.collection("memberships").find(user_id=cofacilitator.id)[0]
        studio.store.collection("memberships").update(membership["id"], role="participant")
    _assert_ended(studio, therapist, circle, code)


# -- members and roles ----------------------------------------------------------------------------


def test_facilitators_see_usernames_and_participants_do_not(
    studio, therapist, circle, participant, peer, cofacilitator
):
    by_therapist = {m.display_name: m for m in studio.circles.members(therapist, circle.id)}
    assert set(by_therapist) == {"Tess", "Robin", "Sam", "Kit"}
    assert by_therapist["Robin"].username == "robin"
    assert by_therapist["Tess"].role == "facilitator"
    assert by_therapist["Kit"].role == "cofacilitator"
    assert {m.username for m in studio.circles.members(cofacilitator, circle.id)} == {
        "tess",
        "robin",
        "sam",
        "kit",
    }
    seen_by_peer = studio.circles.members(peer, circle.id)
    assert {m.display_name for m in seen_by_peer} == {"Tess", "Robin", "Sam", "Kit"}
    assert all(m.username is None for m in seen_by_peer)


def test_only_facilitators_learn_that_an_account_is_paused(
    studio, therapist, circle, participant, peer
):
    studio.accounts.set_disabled(therapist, participant.id, True)
    [robin] = [
        m for m in studio.circles.members(therapist, circle.id) if m.user_id == participant.id
    ]
    assert robin.disabled
    assert not any(m.disabled for m in studio.circles.members(peer, circle.id))


def test_outsiders_cannot_list_members(studio, circle, outsider):
    with pytest.raises(PermissionDenied):
        studio.circles.members(outsider, circle.id)
    with pytest.raises(PermissionDenied):
        studio.circles.get(outsider, circle.id)


def test_set_role_to_cofacilitator_and_back(studio, therapist, circle, participant):
    with pytest.raises(PermissionDenied):
        studio.circles.invite(participant, circle.id)
    promoted = studio.circles.set_role(therapist, circle.id, participant.id, "cofacilitator")
    assert promoted.role == "cofacilitator" and promoted.facilitates
    assert studio.circles.membership(participant, circle.id).role == "cofacilitator"
    studio.circles.invite(participant, circle.id)
    assert [c.id for c in studio.circles.facilitated(participant)] == [circle.id]
    assert studio.circles.facilitated(participant, therapist_only=True) == []
    back = studio.circles.set_role(therapist, circle.id, participant.id, "participant")
    assert back.role == "participant"
    with pytest.raises(PermissionDenied):
        studio.circles.invite(participant, circle.id)
    assert studio.circles.facilitated(participant) == []


def test_set_role_rules(studio, therapist, circle, participant, peer, outsider, cofacilitator):
    with pytest.raises(ValidationError):
        studio.circles.set_role(therapist, circle.id, participant.id, "facilitator")
    with pytest.raises(PermissionDenied, match="can't be changed"):
        studio.circles.set_role(therapist, circle.id, therapist.id, "participant")
    with pytest.raises(NotFound):
        studio.circles.set_role(therapist, circle.id, outsider.id, "cofacilitator")
    # Promoting people is the therapist's call, not a co-facilitator's.
    with pytest.raises(PermissionDenied):
        studio.circles.set_role(cofacilitator, circle.id, peer.id, "cofacilitator")
    with pytest.raises(PermissionDenied):
        studio.circles.set_role(participant, circle.id, participant.id, "cofacilitator")


def test_remove_member_takes_them_out_but_leaves_their_art_theirs(
    studio, therapist, circle, participant, artwork
):
    studio.circles.remove_member(therapist, circle.id, participant.id)
    assert participant.id not in {m.user_id for m in studio.circles.members(therapist, circle.id)}
    assert studio.circles.for_user(participant) == []
    with pytest.raises(PermissionDenied):
        studio.artworks.gallery(participant, circle_id=circle.id)
    with pytest.raises(PermissionDenied):
        studio.circles.get(participant, circle.id)
    assert [a.id for a in studio.artworks.by_artist(participant)] == [artwork.id]


def test_remove_member_rules(studio, therapist, circle, participant, outsider, cofacilitator):
    with pytest.raises(NotFound):
        studio.circles.remove_member(therapist, circle.id, therapist.id)
    with pytest.raises(NotFound):
        studio.circles.remove_member(therapist, circle.id, outsider.id)
    with pytest.raises(PermissionDenied):
        studio.circles.remove_member(cofacilitator, circle.id, participant.id)
    with pytest.raises(PermissionDenied):
        studio.circles.remove_member(participant, circle.id, participant.id)


# -- settings -------------------------------------------------------------------------------------


def test_update_changes_settings(studio, therapist, circle, participant):
    updated = studio.circles.update(
        therapist,
        circle.id,
        name=" Tuesday evening ",
        timezone="America/New_York",
        themes=("coping", "belonging"),
        allow_deep=True,
    )
    assert updated.name == "Tuesday evening"
    assert updated.timezone == "America/New_York"
    assert updated.themes == ("coping", "belonging")
    assert updated.allow_deep
    assert studio.circles.get(participant, circle.id) == updated


@pytest.mark.parametrize(
    "changes", [{"timezone": "Mars/Olympus"}, {"timezone": ""}, {"name": ""}, {"name": "x" * 61}]
)
def test_update_refuses_bad_settings(studio, therapist, circle, changes):
    with pytest.raises(ValidationError):
        studio.circles.update(therapist, circle.id, **changes)
    assert studio.circles.get(therapist, circle.id) == circle


def test_only_the_therapist_changes_settings(
    studio, therapist, circle, participant, cofacilitator, outsider
):
    for person in (participant, cofacilitator, outsider, None):
        with pytest.raises(PermissionDenied):
            studio.circles.update(person, circle.id, allow_deep=True)
        with pytest.raises(PermissionDenied):
            studio.circles.archive(person, circle.id)
    assert studio.circles.get(therapist, circle.id) == circle


# -- archiving ------------------------------------------------------------------------------------


def test_an_archived_circle_is_read_only(studio, therapist, circle, participant, peer, artwork):
    comment = studio.comments.post(peer, artwork.id, "I notice the light.")
    archived = studio.circles.archive(therapist, circle.id)
    assert archived.archived
    with pytest.raises(PermissionDenied, match="archived"):
        studio.artworks.share(participant, make_image(), caption="More", alt_text="A cup")
    with pytest.raises(PermissionDenied, match="archived"):
        studio.comments.post(peer, artwork.id, "I wonder about the window.")
    with pytest.raises(PermissionDenied, match="archived"):
        studio.circles.invite(therapist, circle.id)
    with pytest.raises(PermissionDenied, match="archived"):
        studio.reactions.toggle(peer, artwork.id, "relate")
    with pytest.raises(PermissionDenied, match="archived"):
        studio.artworks.edit(participant, artwork.id, caption="Changed")
    with pytest.raises(PermissionDenied, match="archived"):
        studio.circles.update(therapist, circle.id, name="Renamed")
    # Reading still works for everyone in it.
    for person in (participant, peer, therapist):
        assert studio.circles.get(person, circle.id).archived
        assert [a.id for a in studio.artworks.gallery(person, circle_id=circle.id)] == [artwork.id]
        assert studio.artworks.get(person, artwork.id).caption == "My kitchen at dawn"
        assert [c.id for c in studio.comments.for_artwork(person, artwork.id)] == [comment.id]
        assert len(studio.circles.members(person, circle.id)) == 3


def test_reopening_an_archived_circle_allows_writes_again(studio, therapist, circle, participant):
    studio.circles.archive(therapist, circle.id)
    reopened = studio.circles.archive(therapist, circle.id, archived=False)
    assert not reopened.archived
    studio.artworks.share(participant, make_image(), caption="Back", alt_text="A cup")
    studio.circles.invite(therapist, circle.id)


# -- more than one circle -------------------------------------------------------------------------


def test_a_person_in_two_circles_sees_both_and_each_gallery(
    studio, therapist, circle, other_circle, participant, peer, outsider, clock
):
    code = studio.circles.invite(therapist, other_circle.id)
    assert studio.accounts.join_another_circle(participant, code) == other_circle.id
    assert [c.id for c in studio.circles.for_user(participant)] == [circle.id, other_circle.id]

    here = studio.artworks.share(
        participant, make_image(), caption="Tuesday piece", alt_text="A red square"
    )
    clock.advance(minutes=1)
    there = studio.artworks.share(
        participant,
        make_image(color=(20, 90, 200)),
        caption="Thursday piece",
        alt_text="A blue square",
        circle_id=other_circle.id,
    )
    assert here.circle_id == circle.id  # the first circle is the default
    assert there.circle_id == other_circle.id

    def gallery(person, circle_id):
        return [a.id for a in studio.artworks.gallery(person, circle_id=circle_id)]

    assert gallery(participant, circle.id) == [here.id]
    assert gallery(participant, other_circle.id) == [there.id]
    assert gallery(peer, circle.id) == [here.id]
    assert gallery(outsider, other_circle.id) == [there.id]
    with pytest.raises(PermissionDenied):
        gallery(peer, other_circle.id)
    with pytest.raises(PermissionDenied):
        studio.artworks.get(outsider, here.id)
    # Each circle's members see the other circle's members only where they share one.
    assert participant.id in {m.user_id for m in studio.circles.members(outsider, other_circle.id)}


def test_joining_a_circle_twice_is_a_conflict(studio, therapist, circle, participant):
    code = studio.circles.invite(therapist, circle.id)
    with pytest.raises(Conflict):
        studio.accounts.join_another_circle(participant, code)
    # The refused attempt left the invite unused.
    assert studio.circles.invites(therapist, circle.id)[0].uses == 0


def test_joining_another_circle_needs_a_working_code(studio, therapist, other_circle, participant):
    code = studio.circles.invite(therapist, other_circle.id)
    studio.circles.archive(therapist, other_circle.id)
    with pytest.raises(ValidationError):
        studio.accounts.join_another_circle(participant, code)
    with pytest.raises(ValidationError):
        studio.accounts.join_another_circle(participant, "KC-AAAA-BBBB-CCCC")
    with pytest.raises(PermissionDenied):
        studio.accounts.join_another_circle(None, code)


# -- inviting a fellow therapist ------------------------------------------------------------------


def test_a_therapist_invite_makes_a_therapist_who_co_runs_the_circle(studio, therapist, circle):
    code = studio.circles.invite(therapist, circle.id, for_therapist=True, max_uses=5)
    colleague = studio.accounts.join(code, "morgan", PASSWORD, "Morgan")

    assert colleague.is_therapist
    assert studio.circles.membership(colleague, circle.id).role == "facilitator"
    assert [c.id for c in studio.circles.facilitated(colleague, therapist_only=True)] == [circle.id]
    # A therapist code works once, whatever was asked for.
    with pytest.raises(ValidationError):
        studio.accounts.join(code, "another", PASSWORD, "Another")


def test_only_a_therapist_running_the_circle_can_invite_a_therapist(
    studio, therapist, circle, participant
):
    studio.circles.set_role(therapist, circle.id, participant.id, "cofacilitator")
    with pytest.raises(PermissionDenied):
        studio.circles.invite(participant, circle.id, for_therapist=True)
    # Ordinary invites stay open to co-facilitators.
    assert studio.circles.invite(participant, circle.id)


def test_a_participant_cannot_use_a_therapist_code_to_join_another_circle(
    studio, therapist, circle, outsider
):
    code = studio.circles.invite(therapist, circle.id, for_therapist=True)
    with pytest.raises(PermissionDenied):
        studio.accounts.join_another_circle(outsider, code)
    assert studio.circles.invites(therapist, circle.id)[0].uses == 0
