"""Reflections: private by default, shared reads logged, crisis flags, moods and consent."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from gallery_store.errors import NotFound, PermissionDenied, ValidationError
from gallery_store.models import ROLE_THERAPIST, User
from gallery_store.reflections import FEELINGS, MOODS, REFLECTION_LIMIT
from tests.conftest import join, make_image

CRISIS = "I don't want to be here anymore"


def flags_about(studio, reflection_id):
    return studio.store.collection("flags").by("subject", reflection_id)


def second_therapist(studio):
    """Make another therapist directly in the store (there is no API for a second one yet)."""
    with studio.store.transaction():
        record = studio.store.collection("users").insert(
            {
                "username": "quinn",
                "username_key": "quinn",
                "display_name": "Quinn",
                "role": ROLE_THERAPIST,
                "disabled": False,
            }
        )
    return User.from_record(record)


@pytest.fixture
def cofacilitator(studio, therapist, circle):
    person = join(studio, therapist, circle, "casey", "Casey")
    studio.circles.set_role(therapist, circle.id, person.id, "cofacilitator")
    return person


# -- writing --------------------------------------------------------------------------------------


def test_a_reflection_is_private_by_default(studio, therapist, circle, participant):
    reflection = studio.reflections.write(participant, "Painted the sea today.")
    assert reflection.share_with_therapist is False
    assert reflection.circle_id == circle.id
    assert reflection.user_id == participant.id
    assert studio.reflections.for_user(therapist, participant.id) == []
    assert studio.store.collection("reads").by("subject", reflection.id) == []


def test_the_acceptance_call_shape_works(studio, participant):
    reflection = studio.reflections.write(
        participant,
        "Quiet evening.",
        artwork_id=None,
        mood_before=None,
        mood_after=None,
        share_with_therapist=False,
    )
    assert reflection.text == "Quiet evening."


def test_the_author_reads_all_of_theirs_newest_first(studio, participant, clock):
    first = studio.reflections.write(participant, "First")
    clock.advance(hours=1)
    second = studio.reflections.write(participant, "Second", share_with_therapist=True)
    ids = [r.id for r in studio.reflections.for_user(participant, participant.id)]
    assert ids == [second.id, first.id]


def test_only_the_newest_reflections_can_be_asked_for(studio, participant, clock):
    written = []
    for number in range(4):
        clock.advance(hours=1)
        written.append(studio.reflections.write(participant, f"Note {number}").id)
    newest = studio.reflections.for_user(participant, participant.id, limit=2)
    assert [r.id for r in newest] == [written[3], written[2]]
    assert [r.text for r in newest] == ["Note 3", "Note 2"]


def test_a_therapist_asking_for_the_newest_reads_only_those(
    studio, therapist, circle, participant, clock
):
    older = studio.reflections.write(participant, "Older", share_with_therapist=True)
    clock.advance(hours=1)
    newer = studio.reflections.write(participant, "Newer", share_with_therapist=True)
    assert [r.id for r in studio.reflections.for_user(therapist, participant.id, limit=1)] == [
        newer.id
    ]
    assert studio.reflections.reads_of(participant, older.id) == []
    assert studio.reflections.reads_of_mine(participant, among=[older.id]) == {}
    assert list(studio.reflections.reads_of_mine(participant, among=[older.id, newer.id])) == [
        newer.id
    ]


def test_text_is_cleaned_and_required(studio, participant):
    reflection = studio.reflections.write(participant, "  Calmer now.\u200b  ")
    assert reflection.text == "Calmer now."
    with pytest.raises(ValidationError, match="reflection"):
        studio.reflections.write(participant, "   ")


def test_a_reflection_over_the_limit_is_refused_naming_the_limit(studio, participant):
    with pytest.raises(ValidationError, match=str(REFLECTION_LIMIT)):
        studio.reflections.write(participant, "a" * (REFLECTION_LIMIT + 1))
    assert studio.reflections.write(participant, "a" * REFLECTION_LIMIT).text.startswith("a")
    assert REFLECTION_LIMIT == 5000


def test_moods_and_feelings_are_checked(studio, participant):
    reflection = studio.reflections.write(
        participant, "Better", mood_before=2, mood_after=4, feelings=["Hopeful", "calm", "calm"]
    )
    assert (reflection.mood_before, reflection.mood_after) == (2, 4)
    assert reflection.feelings == ("hopeful", "calm")
    for bad in (0, 6, True, "3", 2.5):
        with pytest.raises(ValidationError, match="1"):
            studio.reflections.write(participant, "x", mood_before=bad)
    with pytest.raises(ValidationError, match="feelings"):
        studio.reflections.write(participant, "x", feelings=["furious"])
    assert MOODS[1] == "Very low" and MOODS[5] == "Very good"
    assert "connected" in FEELINGS


def test_a_reflection_on_your_own_artwork_takes_its_circle(studio, participant, peer, circle):
    artwork = studio.artworks.share(participant, make_image(), alt_text="Blue waves")
    reflection = studio.reflections.write(participant, "About my waves", artwork_id=artwork.id)
    assert reflection.artwork_id == artwork.id
    assert reflection.circle_id == circle.id
    with pytest.raises(PermissionDenied):
        studio.reflections.write(peer, "About their waves", artwork_id=artwork.id)
    with pytest.raises(NotFound):
        studio.reflections.write(participant, "Nothing", artwork_id="missing")


def test_a_circle_you_are_not_in_is_refused(studio, participant, other_circle):
    with pytest.raises(PermissionDenied):
        studio.reflections.write(participant, "Elsewhere", circle_id=other_circle.id)


# -- who may read ---------------------------------------------------------------------------------


def test_peers_outsiders_cofacilitators_and_anonymous_cannot_read(
    studio, participant, peer, outsider, cofacilitator
):
    studio.reflections.write(participant, "Shared with my therapist", share_with_therapist=True)
    for reader in (peer, outsider, cofacilitator, None):
        with pytest.raises(PermissionDenied):
            studio.reflections.for_user(reader, participant.id)
    assert len(studio.store.collection("reads")) == 0


def test_a_paused_account_reads_nothing(studio, therapist, participant):
    studio.reflections.write(participant, "Mine")
    studio.accounts.set_disabled(therapist, participant.id, True)
    with pytest.raises(PermissionDenied):
        studio.reflections.for_user(participant, participant.id)


def test_the_therapist_sees_only_shared_reflections_and_each_read_is_logged(
    studio, therapist, circle, participant, clock
):
    private = studio.reflections.write(participant, "Just for me")
    shared = studio.reflections.write(participant, "For Tess too", share_with_therapist=True)
    seen = studio.reflections.for_user(therapist, participant.id)
    assert [r.id for r in seen] == [shared.id]
    assert studio.reflections.reads_of(participant, shared.id) == [("Tess", clock.now)]
    assert studio.reflections.reads_of(participant, private.id) == []
    read = studio.store.collection("reads").by("subject", shared.id)[0]
    assert read["reader_id"] == therapist.id
    audit = studio.moderation.audit_log(therapist, circle.id)
    assert [(e.action, e.subject_id, e.actor_id) for e in audit] == [
        ("read-reflection", shared.id, therapist.id)
    ]

    clock.advance(days=1)
    studio.reflections.get(therapist, shared.id)
    reads = studio.reflections.reads_of(participant, shared.id)
    assert [at for _name, at in reads] == [clock.now, clock.now - timedelta(days=1)]


def test_a_therapist_cannot_get_a_private_reflection(studio, therapist, participant):
    private = studio.reflections.write(participant, "Just for me")
    with pytest.raises(PermissionDenied):
        studio.reflections.get(therapist, private.id)
    with pytest.raises(NotFound):
        studio.reflections.get(participant, "missing")


def test_a_therapist_who_does_not_run_the_circle_cannot_read(studio, participant, therapist):
    quinn = second_therapist(studio)
    studio.reflections.write(participant, "For Tess", share_with_therapist=True)
    with pytest.raises(PermissionDenied):
        studio.reflections.for_user(quinn, participant.id)

    # Once the person joins Quinn's circle, Quinn still sees only what was shared there.
    quinns = studio.circles.create(quinn, "Friday recovery")
    studio.accounts.join_another_circle(participant, studio.circles.invite(quinn, quinns.id))
    assert studio.reflections.for_user(quinn, participant.id) == []
    there = studio.reflections.write(
        participant, "For Quinn", share_with_therapist=True, circle_id=quinns.id
    )
    assert [r.id for r in studio.reflections.for_user(quinn, participant.id)] == [there.id]
    assert len(studio.reflections.for_user(therapist, participant.id)) == 1


def test_sharing_can_be_turned_on_and_off(studio, therapist, participant):
    reflection = studio.reflections.write(participant, "Not sure yet")
    studio.reflections.edit(participant, reflection.id, share_with_therapist=True)
    assert [r.id for r in studio.reflections.for_user(therapist, participant.id)] == [reflection.id]
    studio.reflections.edit(participant, reflection.id, share_with_therapist=False)
    assert studio.reflections.for_user(therapist, participant.id) == []


def test_only_the_author_sees_who_read(studio, therapist, participant, peer):
    shared = studio.reflections.write(participant, "Shared", share_with_therapist=True)
    for reader in (therapist, peer, None):
        with pytest.raises(PermissionDenied):
            studio.reflections.reads_of(reader, shared.id)


# -- changing and deleting ------------------------------------------------------------------------


def test_edit_changes_only_what_is_given(studio, participant, peer, clock):
    reflection = studio.reflections.write(participant, "Before", mood_before=2, mood_after=3)
    clock.advance(minutes=5)
    edited = studio.reflections.edit(participant, reflection.id, text="After", mood_after=None)
    assert (edited.text, edited.mood_before, edited.mood_after) == ("After", 2, None)
    assert edited.updated_at == clock.now
    edited = studio.reflections.edit(participant, reflection.id, feelings=["relieved"])
    assert edited.feelings == ("relieved",)
    with pytest.raises(PermissionDenied):
        studio.reflections.edit(peer, reflection.id, text="Mine now")
    with pytest.raises(ValidationError):
        studio.reflections.edit(participant, reflection.id, text="a" * (REFLECTION_LIMIT + 1))


def test_only_the_author_deletes_and_the_record_of_reads_goes_too(studio, therapist, participant):
    shared = studio.reflections.write(participant, "Shared", share_with_therapist=True)
    studio.reflections.for_user(therapist, participant.id)
    with pytest.raises(PermissionDenied):
        studio.reflections.delete(therapist, shared.id)
    studio.reflections.delete(participant, shared.id)
    assert studio.reflections.for_user(participant, participant.id) == []
    assert studio.store.collection("reads").by("subject", shared.id) == []
    with pytest.raises(NotFound):
        studio.reflections.delete(participant, shared.id)


# -- crisis language ------------------------------------------------------------------------------


def test_a_private_crisis_reflection_alerts_the_therapist_without_its_words(
    studio, circle, participant
):
    reflection = studio.reflections.write(participant, CRISIS)
    (flag,) = flags_about(studio, reflection.id)
    assert flag["kind"] == "crisis"
    assert flag["circle_id"] == circle.id
    assert flag["subject_type"] == "reflection"
    assert flag["excerpt"] == ""
    assert CRISIS not in str(flag)


def test_a_shared_crisis_reflection_carries_an_excerpt(studio, participant):
    reflection = studio.reflections.write(participant, CRISIS, share_with_therapist=True)
    (flag,) = flags_about(studio, reflection.id)
    assert flag["excerpt"] == CRISIS


def test_editing_reruns_the_crisis_check(studio, participant):
    reflection = studio.reflections.write(participant, "A heavy day.")
    assert flags_about(studio, reflection.id) == []
    studio.reflections.edit(participant, reflection.id, text=CRISIS)
    assert [f["excerpt"] for f in flags_about(studio, reflection.id)] == [""]
    studio.reflections.edit(participant, reflection.id, share_with_therapist=True)
    assert [f["excerpt"] for f in flags_about(studio, reflection.id)] == [CRISIS]
    studio.reflections.edit(participant, reflection.id, share_with_therapist=False)
    assert [f["excerpt"] for f in flags_about(studio, reflection.id)] == [""]


def test_deleting_a_shared_crisis_reflection_keeps_the_flag_but_not_the_words(studio, participant):
    reflection = studio.reflections.write(participant, CRISIS, share_with_therapist=True)
    studio.reflections.delete(participant, reflection.id)
    assert [f["excerpt"] for f in flags_about(studio, reflection.id)] == [""]


def test_unsharing_takes_the_words_out_of_a_resolved_flag_too(studio, therapist, participant):
    reflection = studio.reflections.write(participant, CRISIS, share_with_therapist=True)
    (flag,) = flags_about(studio, reflection.id)
    studio.moderation.close_crisis(therapist, flag["id"], "safe_now", "We talked after it.")
    studio.reflections.edit(participant, reflection.id, share_with_therapist=False)
    assert [f["excerpt"] for f in flags_about(studio, reflection.id)] == ["", ""]


def test_reflection_text_is_never_logged(studio, therapist, participant, caplog):
    caplog.set_level(logging.DEBUG)
    reflection = studio.reflections.write(participant, CRISIS, share_with_therapist=True)
    studio.reflections.for_user(therapist, participant.id)
    studio.reflections.edit(participant, reflection.id, text=CRISIS + " today")
    assert "want to be here" not in caplog.text


# -- moods and consent ----------------------------------------------------------------------------


def test_check_ins_are_own_and_oldest_first(studio, participant, peer, circle, clock):
    before = studio.reflections.check_in(participant, "before", 2, feelings=["tired"])
    clock.advance(minutes=30)
    after = studio.reflections.check_in(participant, "after", 4)
    assert before.circle_id == circle.id and before.feelings == ("tired",)
    assert [m.id for m in studio.reflections.moods(participant)] == [before.id, after.id]
    assert studio.reflections.moods(peer) == []
    with pytest.raises(PermissionDenied):
        studio.reflections.moods(None)


def test_a_second_tap_changes_the_same_check_in(studio, participant, peer, circle, clock):
    checkin = studio.reflections.check_in(participant, "before", 2)
    clock.advance(minutes=1)
    changed = studio.reflections.edit_check_in(
        participant, checkin.id, score=3, feelings=["tired", "hopeful"]
    )
    assert (changed.id, changed.moment, changed.score) == (checkin.id, "before", 3)
    assert changed.feelings == ("tired", "hopeful")
    assert changed.created_at == checkin.created_at  # still the moment they checked in
    assert [m.score for m in studio.reflections.moods(participant)] == [3]
    with pytest.raises(ValidationError):
        studio.reflections.edit_check_in(participant, checkin.id, score=9)
    with pytest.raises(ValidationError):
        studio.reflections.edit_check_in(participant, checkin.id, feelings=["elated"])
    with pytest.raises(NotFound):
        studio.reflections.edit_check_in(peer, checkin.id, score=5)
    with pytest.raises(PermissionDenied):
        studio.reflections.edit_check_in(None, checkin.id, score=5)
    assert studio.reflections.moods(participant)[0].score == 3


def test_check_ins_are_validated(studio, participant, other_circle):
    with pytest.raises(ValidationError):
        studio.reflections.check_in(participant, "during", 3)
    with pytest.raises(ValidationError):
        studio.reflections.check_in(participant, "before", 7)
    with pytest.raises(ValidationError):
        studio.reflections.check_in(participant, "before", None)
    with pytest.raises(PermissionDenied):
        studio.reflections.check_in(participant, "before", 3, circle_id=other_circle.id)
    with pytest.raises(ValidationError, match="prompt"):
        studio.reflections.check_in(participant, "before", 3, prompt_id="missing")


def test_the_mood_timeline_has_chart_rows(studio, participant, clock):
    studio.reflections.check_in(participant, "before", 2)
    clock.advance(hours=1)
    studio.reflections.check_in(participant, "after", 4)
    clock.advance(days=7)
    studio.reflections.check_in(participant, "before", 3)
    assert studio.reflections.mood_timeline(participant) == [
        {"date": "2026-11-02", "moment": "before", "score": 2, "prompt_id": None},
        {"date": "2026-11-02", "moment": "after", "score": 4, "prompt_id": None},
        {"date": "2026-11-09", "moment": "before", "score": 3, "prompt_id": None},
    ]


def test_insights_consent_is_off_until_given(studio, participant):
    assert studio.reflections.insights_consent(participant) is False
    assert studio.reflections.set_insights_consent(participant, True) is True
    assert studio.reflections.insights_consent(participant) is True
    studio.reflections.set_insights_consent(participant, False)
    assert studio.reflections.insights_consent(participant) is False
    assert len(studio.store.collection("preferences").by("user", participant.id)) == 1
    with pytest.raises(PermissionDenied):
        studio.reflections.set_insights_consent(None, True)
