"""Crisis support through the services: one decision, held comments, outcomes, lasting flags."""

from __future__ import annotations

import pytest

from gallery_store.crisis import AT_RISK, MENTION, NONE, WORRIED
from gallery_store.errors import NotFound, PermissionDenied, ValidationError
from gallery_store.moderation import CRISIS_OUTCOMES
from gallery_store.support import NOT_MONITORED, order_resources, region_for_timezone
from tests.conftest import PASSWORD, join, make_image

# Wording chosen to be unmistakable, so these tests are about the services, not the detector.
AT_RISK_WORDS = "I took 30 paracetamol an hour ago and I want to die."
WORRIED_WORDS = "My son texted me that he wants to kill himself tonight and now he won't answer."
MENTION_WORDS = "I'm not suicidal, just very tired after the night shift."
EVERYDAY_WORDS = "Lovely colours, thank you for sharing."


@pytest.fixture
def artwork(studio, participant):
    return studio.artworks.share(participant, make_image(), caption="Dawn", alt_text="A window")


def test_a_comment_returns_the_support_its_words_call_for(studio, artwork, peer):
    assert studio.comments.post(peer, artwork.id, EVERYDAY_WORDS).support.tier == NONE
    worried = studio.comments.post(peer, artwork.id, WORRIED_WORDS).support
    assert worried.tier == WORRIED and worried.shown and worried.resources
    mention = studio.comments.post(peer, artwork.id, MENTION_WORDS).support
    assert mention.tier == NONE and not mention.shown  # a mention shows nothing to the writer


def test_an_at_risk_comment_on_someone_elses_art_is_held_until_a_therapist_reads_it(
    studio, therapist, circle, artwork, participant, peer
):
    posted = studio.comments.post(peer, artwork.id, AT_RISK_WORDS)
    assert posted.status == "held"
    assert posted.support.tier == AT_RISK and posted.support.held and posted.support.resources
    # The artist is never the first to read it; the writer and the therapist see it.
    assert posted.id not in {c.id for c in studio.comments.for_artwork(participant, artwork.id)}
    assert posted.id in {c.id for c in studio.comments.for_artwork(peer, artwork.id)}
    assert posted.id in {c.id for c in studio.comments.for_artwork(therapist, artwork.id)}
    kit = join(studio, therapist, circle, "kit", "Kit")
    studio.circles.set_role(therapist, circle.id, kit.id, "cofacilitator")
    assert posted.id not in {c.id for c in studio.comments.for_artwork(kit, artwork.id)}
    [item] = studio.moderation.queue(therapist)
    assert item.flag.urgent and item.subject_status == "held"
    studio.moderation.close_crisis(therapist, item.flag.id, "reached_out", release=True)
    assert posted.id in {c.id for c in studio.comments.for_artwork(participant, artwork.id)}


def test_an_at_risk_comment_on_your_own_art_is_not_held(studio, artwork, participant):
    posted = studio.comments.post(participant, artwork.id, AT_RISK_WORDS)
    assert posted.status == "visible" and posted.support.tier == AT_RISK


def test_closing_without_release_keeps_the_comment_out_of_the_circle(
    studio, therapist, artwork, participant, peer
):
    posted = studio.comments.post(peer, artwork.id, AT_RISK_WORDS)
    [item] = studio.moderation.queue(therapist)
    studio.moderation.close_crisis(therapist, item.flag.id, "safe_now", "Talked by phone")
    assert posted.id not in {c.id for c in studio.comments.for_artwork(participant, artwork.id)}


def test_an_at_risk_caption_and_reflection_still_save(studio, participant, therapist):
    shared = studio.artworks.share(
        participant, make_image(), caption=AT_RISK_WORDS, alt_text="Pills on a table"
    )
    assert shared.status == "visible" and shared.support.tier == AT_RISK
    written = studio.reflections.write(participant, AT_RISK_WORDS)
    assert written.support.tier == AT_RISK
    assert studio.reflections.for_user(participant, participant.id)[0].text == AT_RISK_WORDS
    tiers = [item.flag.tier for item in studio.moderation.queue(therapist)]
    assert tiers == [AT_RISK, AT_RISK]


def test_a_mention_raises_no_flag(studio, participant, therapist):
    studio.reflections.write(participant, MENTION_WORDS)
    assert studio.moderation.queue(therapist) == []


def test_urgent_flags_come_first_in_the_queue(studio, therapist, artwork, participant, peer):
    studio.comments.post(peer, artwork.id, WORRIED_WORDS)
    report_on = studio.comments.post(participant, artwork.id, "It was very early.")
    studio.moderation.report(peer, "comment", report_on.id, "Off topic")
    studio.reflections.write(participant, AT_RISK_WORDS)
    kinds = [(item.flag.kind, item.tier) for item in studio.moderation.queue(therapist)]
    assert kinds == [("crisis", AT_RISK), ("crisis", WORRIED), ("report", 0)]


def test_a_crisis_flag_closes_with_an_outcome_kept_in_the_audit_log(
    studio, therapist, circle, participant
):
    studio.reflections.write(participant, AT_RISK_WORDS)
    [item] = studio.moderation.queue(therapist)
    with pytest.raises(ValidationError):
        studio.moderation.resolve(therapist, item.flag.id, "dismiss", "Done")
    with pytest.raises(ValidationError):
        studio.moderation.close_crisis(therapist, item.flag.id, "dismiss")
    closed = studio.moderation.close_crisis(therapist, item.flag.id, "emergency", "Called 999")
    assert closed.status == "resolved" and closed.resolution == "emergency"
    [entry] = [e for e in studio.moderation.audit_log(therapist, circle.id) if e.action]
    assert entry.action == "emergency" and entry.why == "Called 999"
    assert set(CRISIS_OUTCOMES.values()) == {
        "I've reached out",
        "Mark as handled",
        "Passed on to emergency services",
    }
    with pytest.raises(ValidationError):
        studio.moderation.close_crisis(therapist, item.flag.id, "safe_now")


def test_only_the_circles_therapist_closes_a_crisis_flag(
    studio, therapist, circle, participant, peer
):
    studio.reflections.write(participant, AT_RISK_WORDS)
    [item] = studio.moderation.queue(therapist)
    studio.circles.set_role(therapist, circle.id, peer.id, "cofacilitator")
    with pytest.raises(PermissionDenied):
        studio.moderation.close_crisis(peer, item.flag.id, "safe_now")
    with pytest.raises(PermissionDenied):
        studio.moderation.close_crisis(participant, item.flag.id, "safe_now")


def test_a_flag_outlives_a_deleted_comment_and_keeps_none_of_its_words(
    studio, therapist, artwork, peer
):
    posted = studio.comments.post(peer, artwork.id, WORRIED_WORDS)
    [item] = studio.moderation.queue(therapist)
    assert "kill himself" in item.flag.excerpt
    studio.comments.delete(peer, posted.id)
    [item] = studio.moderation.queue(therapist)
    assert item.flag.status == "open" and item.flag.excerpt == "" and item.text == ""
    assert item.subject_status == "gone"
    assert "kill himself" not in str(studio.store.collection("flags").all().__next__())


def test_a_flag_outlives_the_art_it_was_raised_on(studio, therapist, participant, peer):
    shared = studio.artworks.share(
        participant, make_image(), caption=AT_RISK_WORDS, alt_text="Pills on a table"
    )
    studio.comments.post(peer, shared.id, WORRIED_WORDS)
    studio.artworks.delete(participant, shared.id)
    items = studio.moderation.queue(therapist)
    assert len(items) == 2 and all(i.flag.excerpt == "" for i in items)


def test_a_flag_outlives_a_deleted_account_with_the_name_but_no_words(
    studio, therapist, participant
):
    studio.reflections.write(participant, AT_RISK_WORDS, share_with_therapist=True)
    studio.exports.delete_account(participant, PASSWORD)
    [item] = studio.moderation.queue(therapist)
    assert item.flag.status == "open" and item.flag.excerpt == ""
    assert item.author_name == "Robin (has left)"
    closed = studio.moderation.close_crisis(therapist, item.flag.id, "reached_out")
    assert closed.status == "resolved"


def test_a_closed_flag_of_a_deleted_account_goes_with_it(studio, therapist, participant):
    studio.reflections.write(participant, AT_RISK_WORDS)
    [item] = studio.moderation.queue(therapist)
    studio.moderation.close_crisis(therapist, item.flag.id, "safe_now")
    studio.exports.delete_account(participant, PASSWORD)
    assert studio.moderation.queue(therapist, include_resolved=True) == []


def test_closing_an_unknown_flag_is_not_found(studio, therapist):
    with pytest.raises(NotFound):
        studio.moderation.close_crisis(therapist, "nope", "safe_now")


# -- crisis lines by region ----------------------------------------------------------------------


def test_a_london_circle_shows_samaritans_and_999_before_any_us_line(studio, therapist):
    london = studio.circles.create(therapist, "Hackney carers", timezone="Europe/London")
    lines = studio.support.resources(london.id)
    names = [r.name for r in lines]
    assert names.index("Samaritans") < len(names)
    assert "999" in lines[0].contact
    assert "988 Suicide & Crisis Lifeline" not in names


def test_a_circle_can_choose_its_country(studio, therapist, circle, participant):
    studio.circles.update(therapist, circle.id, region="AU")
    written = studio.reflections.write(participant, AT_RISK_WORDS)
    assert written.support.country == "AU"
    assert written.support.resources[0].contact == "Call 000"
    with pytest.raises(ValidationError):
        studio.circles.update(therapist, circle.id, region="Atlantis")


def test_an_international_circle_shows_the_worldwide_lines_first(studio, therapist):
    circle = studio.circles.create(therapist, "Online makers", timezone="UTC")
    lines = studio.support.resources(circle.id)
    assert lines[0].countries == ("*",)


def test_time_zones_imply_a_country():
    assert region_for_timezone("Europe/London") == "GB"
    assert region_for_timezone("America/Toronto") == "CA"
    assert region_for_timezone("Australia/Perth") == "AU"
    assert region_for_timezone("Asia/Tokyo") == ""
    assert region_for_timezone(None) == ""


def test_order_resources_leaves_other_countries_out():
    from gallery_store.safety import load_crisis_resources

    lines = order_resources(load_crisis_resources(), "NZ")
    assert {c for r in lines for c in r.countries} <= {"NZ", "*"}


def test_the_app_says_it_is_not_watched_around_the_clock():
    assert "around the clock" in NOT_MONITORED


def test_a_mention_is_still_a_decision_the_service_returns(studio, participant):
    written = studio.reflections.write(participant, MENTION_WORDS)
    assert written.support.tier in (NONE, MENTION) and not written.support.shown
