"""Insights: therapists only, consenting people only, weekly, floored at 3 and noised once."""

from __future__ import annotations

import csv
import io
import json
import math
import random
import secrets

import pytest

from gallery_store.errors import PermissionDenied, ValidationError
from gallery_store.insights import (
    EPSILON,
    MIN_GROUP,
    DiscreteLaplace,
    noise_variance,
    to_csv,
)
from tests.conftest import PASSWORD, join, make_image
from tests.test_reflections import second_therapist

EMPTY_MOODS = {
    "n": None,
    "weeks": 0,
    "mean_before": None,
    "mean_after": None,
    "mean_change": None,
    "margin": None,
}
WEEK = {"days": 7}


class NoNoise:
    """Noise that is always zero, to test which people and records count."""

    def draw(self, sensitivity: int, epsilon: float) -> int:
        return 0


@pytest.fixture
def exact(studio):
    """Switch the noise off, so a test sees the exact (floored, consented) counts."""
    studio.insights.noise = NoNoise()
    return studio


def add_prompt(studio, title):
    """Put a prompt straight in the library (the library's own service is tested elsewhere)."""
    with studio.store.transaction():
        record = studio.store.collection("prompts").insert(
            {"slug": title.lower().replace(" ", "-"), "title": title, "instructions": "Draw."}
        )
    return record["id"]


def people(studio, therapist, circle, count, *, consent=True, prefix="p"):
    made = []
    for n in range(count):
        person = join(studio, therapist, circle, f"{prefix}{n}-{circle.id[:6]}")
        if consent:
            studio.reflections.set_insights_consent(person, True)
        made.append(person)
    return made


def session(studio, person, before, after, prompt_id=None, circle_id=None):
    studio.reflections.check_in(person, "before", before, prompt_id=prompt_id, circle_id=circle_id)
    studio.reflections.check_in(person, "after", after, prompt_id=prompt_id, circle_id=circle_id)


def last_week(studio, therapist, circle):
    """Return the participation row of the week that has just ended."""
    return studio.insights.participation(therapist, circle.id, weeks=2)[0]


# -- who may look ---------------------------------------------------------------------------------


def test_only_the_therapist_running_the_circle_sees_insights(
    studio, therapist, circle, participant, outsider
):
    casey = join(studio, therapist, circle, "casey", "Casey")
    studio.circles.set_role(therapist, circle.id, casey.id, "cofacilitator")
    quinn = second_therapist(studio)
    for actor in (participant, casey, outsider, quinn, None):
        with pytest.raises(PermissionDenied):
            studio.insights.participation(actor, circle.id)
        with pytest.raises(PermissionDenied):
            studio.insights.mood_change(actor, circle.id)
        with pytest.raises(PermissionDenied):
            studio.insights.prompt_effects(actor, circle.id)
    for actor in (participant, casey, outsider, None):
        with pytest.raises(PermissionDenied):
            studio.insights.prompt_usage(actor)
    assert studio.insights.prompt_usage(quinn) == {}


# -- moods ----------------------------------------------------------------------------------------


def test_two_consenting_people_give_no_mood_aggregate(exact, therapist, circle, clock):
    a, b = people(exact, therapist, circle, 2)
    session(exact, a, 2, 4)
    session(exact, b, 3, 4)
    clock.advance(**WEEK)
    assert exact.insights.mood_change(therapist, circle.id) == EMPTY_MOODS


def test_three_consenting_people_give_the_means(exact, therapist, circle, clock):
    a, b, c = people(exact, therapist, circle, 3)
    session(exact, a, 2, 4)
    session(exact, b, 3, 4)
    session(exact, c, 1, 4)
    assert exact.insights.mood_change(therapist, circle.id) == EMPTY_MOODS  # week not over
    clock.advance(**WEEK)
    result = exact.insights.mood_change(therapist, circle.id)
    assert result | {"margin": None} == {
        "n": 3,
        "weeks": 1,
        "mean_before": 2.0,
        "mean_after": 4.0,
        "mean_change": 2.0,
        "margin": None,
    }
    assert 0 < result["margin"] < 3


def test_each_person_counts_once_a_week_however_often_they_check_in(
    exact, therapist, circle, clock
):
    a, b, c = people(exact, therapist, circle, 3)
    for _ in range(5):  # five sessions of a very low "before" weigh as one
        session(exact, a, 1, 1)
        clock.advance(hours=1)
    session(exact, b, 3, 3)
    session(exact, c, 5, 5)
    clock.advance(**WEEK)
    assert exact.insights.mood_change(therapist, circle.id)["mean_before"] == 3.0


def test_people_who_did_not_consent_are_left_out(exact, therapist, circle, clock):
    consenting = people(exact, therapist, circle, 2)
    (holdout,) = people(exact, therapist, circle, 1, consent=False, prefix="q")
    for person in consenting:
        session(exact, person, 2, 4)
    session(exact, holdout, 1, 5)
    clock.advance(**WEEK)
    assert exact.insights.mood_change(therapist, circle.id) == EMPTY_MOODS

    exact.reflections.set_insights_consent(holdout, True)
    assert exact.insights.mood_change(therapist, circle.id)["n"] == 3
    # Withdrawing consent takes the figures they were counted in away at once...
    exact.reflections.set_insights_consent(consenting[0], False)
    assert exact.insights.mood_change(therapist, circle.id) == EMPTY_MOODS
    # ...and saying yes again brings back the very same figures, not a new draw.
    exact.reflections.set_insights_consent(consenting[0], True)
    assert exact.insights.mood_change(therapist, circle.id)["mean_before"] == 1.7


def test_the_therapists_own_moods_never_count(exact, therapist, circle, clock):
    group = people(exact, therapist, circle, 2)
    exact.reflections.set_insights_consent(therapist, True)
    for person in [*group, therapist]:
        session(exact, person, 2, 4, circle_id=circle.id)
    clock.advance(**WEEK)
    assert exact.insights.mood_change(therapist, circle.id) == EMPTY_MOODS


def test_befores_and_afters_pair_by_person_and_day(exact, therapist, circle, clock):
    a, b, c = people(exact, therapist, circle, 3)
    for person in (a, b, c):
        session(exact, person, 3, 4)
    # A lone "before" on another day, and an "after" with no "before", pair with nothing.
    clock.advance(days=1)
    exact.reflections.check_in(a, "before", 1)
    clock.advance(days=1)
    exact.reflections.check_in(b, "after", 5)
    clock.advance(**WEEK)
    result = exact.insights.mood_change(therapist, circle.id)
    assert (result["mean_before"], result["mean_after"]) == (3.0, 4.0)


def test_weeks_add_up_and_each_week_is_fixed_once_shown(exact, therapist, circle, clock):
    group = people(exact, therapist, circle, 3)
    for person in group:
        session(exact, person, 2, 3)
    clock.advance(**WEEK)
    assert exact.insights.mood_change(therapist, circle.id)["mean_change"] == 1.0
    for person in group:
        session(exact, person, 2, 5)
    # This week's check-ins wait for the week to end.
    assert exact.insights.mood_change(therapist, circle.id)["mean_change"] == 1.0
    clock.advance(**WEEK)
    result = exact.insights.mood_change(therapist, circle.id)
    assert (result["n"], result["weeks"], result["mean_change"]) == (6, 2, 2.0)


def test_moods_from_another_circle_do_not_count(exact, therapist, circle, other_circle, clock):
    here = people(exact, therapist, circle, 3)
    there = people(exact, therapist, other_circle, 3, prefix="t")
    for person in here:
        session(exact, person, 2, 3)
    for person in there:
        session(exact, person, 1, 5)
    clock.advance(**WEEK)
    assert exact.insights.mood_change(therapist, circle.id)["mean_change"] == 1.0
    assert exact.insights.mood_change(therapist, other_circle.id)["mean_change"] == 4.0


def test_prompt_effects_show_only_prompts_with_enough_people(exact, therapist, circle, clock):
    sea = add_prompt(exact, "Draw the sea")
    door = add_prompt(exact, "A door")
    a, b, c = people(exact, therapist, circle, 3)
    for person, (before, after) in zip((a, b, c), ((1, 3), (2, 3), (3, 3)), strict=True):
        session(exact, person, before, after, prompt_id=sea)
    clock.advance(days=1)
    session(exact, a, 2, 5, prompt_id=door)
    session(exact, b, 2, 5, prompt_id=door)
    (holdout,) = people(exact, therapist, circle, 1, consent=False, prefix="q")
    session(exact, holdout, 1, 5, prompt_id=door)  # would make three, but said no
    clock.advance(**WEEK)
    (row,) = exact.insights.prompt_effects(therapist, circle.id)
    assert row | {"margin": None} == {
        "prompt_id": sea,
        "prompt_title": "Draw the sea",
        "n": 3,
        "mean_change": 1.0,
        "margin": None,
    }
    assert row["margin"] > 0


def test_a_prompt_that_left_the_library_is_called_prompt(exact, therapist, circle, clock):
    sea = add_prompt(exact, "Draw the sea")
    for person in people(exact, therapist, circle, 3):
        session(exact, person, 2, 3, prompt_id=sea)
    with exact.store.transaction():
        exact.store.collection("prompts").remove(sea)
    clock.advance(**WEEK)
    (row,) = exact.insights.prompt_effects(therapist, circle.id)
    assert row["prompt_title"] == "Prompt"


def test_a_prompt_pairs_across_midnight(exact, therapist, circle, clock):
    sea = add_prompt(exact, "Draw the sea")
    clock.advance(hours=14, minutes=50)  # 23:50 UTC
    group = people(exact, therapist, circle, 3)
    for person in group:
        exact.reflections.check_in(person, "before", 2, prompt_id=sea)
    clock.advance(minutes=20)
    for person in group:
        exact.reflections.check_in(person, "after", 4, prompt_id=sea)
    clock.advance(**WEEK)
    assert exact.insights.mood_change(therapist, circle.id)["mean_change"] == 2.0


# -- the sock-puppet attack -----------------------------------------------------------------------


def test_two_sock_puppets_cannot_recover_one_persons_exact_moods(studio, therapist, clock):
    # Bug: the three-person floor counted accounts the therapist made. Inviting two puppets
    # who consent and check in 3 -> 3 turned "the mean of three" into one real person's
    # exact moods: real = 3 * mean - 3 - 3.
    trials = 20
    first_circle = studio.circles.create(therapist, "Circle 0")
    puppets = people(studio, therapist, first_circle, 2, prefix="puppet")
    (real,) = people(studio, therapist, first_circle, 1, prefix="real")
    circles = []
    for n in range(trials):
        # A fresh circle (so a fresh draw) per trial; the same three accounts join each.
        circle = studio.circles.create(therapist, f"Circle {n + 1}") if n else first_circle
        for person in [*puppets, real] if n else ():
            studio.accounts.join_another_circle(person, studio.circles.invite(therapist, circle.id))
        for puppet in puppets:
            session(studio, puppet, 3, 3, circle_id=circle.id)
        session(studio, real, 1, 5, circle_id=circle.id)
        circles.append((circle, puppets))
    clock.advance(**WEEK)

    recovered = 0
    for circle, puppets in circles:
        first = studio.insights.mood_change(therapist, circle.id)
        # Asking again, or the puppets checking in more, toggling consent, or a third
        # puppet joining, never draws fresh noise to average away.
        for puppet in puppets:
            session(studio, puppet, 5, 5, circle_id=circle.id)
        studio.reflections.set_insights_consent(puppets[0], False)
        assert studio.insights.mood_change(therapist, circle.id) == EMPTY_MOODS
        studio.reflections.set_insights_consent(puppets[0], True)
        late = join(studio, therapist, circle, f"late-{circle.id[:6]}")
        studio.reflections.set_insights_consent(late, True)
        session(studio, late, 3, 3, circle_id=circle.id)
        for _ in range(3):
            assert studio.insights.mood_change(therapist, circle.id) == first
        before = round(3 * first["mean_before"] - 6)
        after = round(3 * first["mean_after"] - 6)
        recovered += (before, after) == (1, 5)
    # With exact figures the attack worked every time; with the noise it lands by luck
    # about 2-4% of the time (and the therapist can't tell when it did).
    assert recovered <= 6


def test_the_floor_does_not_show_two_people_with_a_third_who_said_no(
    exact, therapist, circle, clock
):
    # Consent is the floor's first test: a non-consenting third person does not lift it.
    a, b = people(exact, therapist, circle, 2)
    (holdout,) = people(exact, therapist, circle, 1, consent=False, prefix="q")
    for person in (a, b, holdout):
        exact.artworks.share(person, make_image(), alt_text="A boat")
    clock.advance(**WEEK)
    row = last_week(exact, therapist, circle)
    assert row["shown"] is False and row["note"] == "too few people"


# -- participation --------------------------------------------------------------------------------


def test_this_week_waits_and_a_week_with_two_people_shows_too_few(exact, therapist, circle, clock):
    a, b = people(exact, therapist, circle, 2)
    exact.artworks.share(a, make_image(), alt_text="A boat")
    exact.reflections.write(b, "Thinking of the boat")
    rows = exact.insights.participation(therapist, circle.id, weeks=2)
    assert [r["week_start"] for r in rows] == ["2026-10-26", "2026-11-02"]
    assert rows[-1]["note"] == "this week isn't over yet"
    clock.advance(**WEEK)
    row = last_week(exact, therapist, circle)
    assert row == {
        "week_start": "2026-11-02",
        "people": None,
        "made_art": None,
        "commented": None,
        "reflected": None,
        "shown": False,
        "note": "too few people",
    }


def test_a_week_with_three_consenting_people_shows_head_counts(exact, therapist, circle, clock):
    a, b, c = people(exact, therapist, circle, 3)
    artwork = exact.artworks.share(a, make_image(), alt_text="A boat")
    exact.artworks.share(a, make_image(), alt_text="Another boat")  # a counts once
    exact.comments.post(b, artwork.id, "I see calm water.")
    exact.comments.post(therapist, artwork.id, "Thank you for sharing.")  # not counted
    exact.reflections.write(c, "Thinking of the boat")
    exact.reflections.write(a, "My boat")
    clock.advance(**WEEK)
    rows = exact.insights.participation(therapist, circle.id, weeks=3)
    assert rows[1] == {
        "week_start": "2026-11-02",
        "people": 3,
        "made_art": 1,
        "commented": 1,
        "reflected": 2,
        "shown": True,
        "note": "",
    }
    assert rows[2]["week_start"] == "2026-11-09" and rows[2]["people"] is None


def test_people_who_did_not_consent_do_not_change_participation(exact, therapist, circle, clock):
    # Bug: participation() counted everyone's art, comments and private reflections,
    # consent or not.
    a, b, c = people(exact, therapist, circle, 3)
    for person in (a, b, c):
        exact.artworks.share(person, make_image(), alt_text="A boat")
    holdouts = people(exact, therapist, circle, 2, consent=False, prefix="q")
    for holdout in holdouts:
        art = exact.artworks.share(holdout, make_image(), alt_text="A kite")
        exact.comments.post(holdout, art.id, "Windy today.")
        exact.reflections.write(holdout, "A private thought", circle_id=circle.id)
        exact.reflections.write(holdout, "Shared", circle_id=circle.id, share_with_therapist=True)
    clock.advance(**WEEK)
    row = last_week(exact, therapist, circle)
    assert (row["people"], row["made_art"], row["commented"], row["reflected"]) == (3, 3, 0, 0)


def test_people_who_did_not_consent_are_not_counted_at_all(exact, therapist, circle, clock):
    # Bug: three active people who never said yes filled a participation row.
    a, b, c = people(exact, therapist, circle, 3, consent=False)
    artwork = exact.artworks.share(a, make_image(), alt_text="A boat")
    exact.comments.post(b, artwork.id, "I see calm water.")
    exact.reflections.write(c, "Thinking of the boat")
    clock.advance(**WEEK)
    assert last_week(exact, therapist, circle)["shown"] is False
    assert exact.insights.prompt_effects(therapist, circle.id) == []


def test_participation_weeks_are_checked(studio, therapist, circle):
    with pytest.raises(ValidationError):
        studio.insights.participation(therapist, circle.id, weeks=0)


def test_prompt_usage_counts_consenting_peoples_artworks_in_circles_the_therapist_runs(
    studio, therapist, circle, participant, peer, outsider
):
    sea = add_prompt(studio, "Draw the sea")
    for person in (participant, outsider):
        studio.reflections.set_insights_consent(person, True)
    studio.artworks.share(participant, make_image(), alt_text="Waves", prompt_id=sea)
    studio.artworks.share(peer, make_image(), alt_text="Foam", prompt_id=sea)  # said no
    studio.artworks.share(outsider, make_image(), alt_text="Tide", prompt_id=sea)
    studio.artworks.share(participant, make_image(), alt_text="Free drawing")
    assert studio.insights.prompt_usage(therapist) == {sea: {"artworks": 2}}
    assert studio.insights.prompt_usage(second_therapist(studio)) == {}


# -- what is stored -------------------------------------------------------------------------------


def test_stored_figures_name_no_one_and_erasing_someone_withholds_theirs(
    studio, therapist, circle, clock
):
    group = people(studio, therapist, circle, 3)
    for person in group:
        session(studio, person, 2, 4)
    clock.advance(**WEEK)
    assert studio.insights.mood_change(therapist, circle.id)["n"] is not None
    stored = json.dumps(list(studio.store.collection("insight_releases").all()))
    assert not any(person.id in stored for person in group)

    studio.exports.delete_account(group[0], PASSWORD)
    assert studio.insights.mood_change(therapist, circle.id) == EMPTY_MOODS
    row = last_week(studio, therapist, circle)
    assert row["note"] == "too few people"  # nothing was done that week but check in


# -- the noise ------------------------------------------------------------------------------------


def test_discrete_laplace_has_the_promised_spread():
    noise = DiscreteLaplace(random.Random(7))
    for sensitivity, epsilon in ((1, 1.0), (20, 1.0)):
        draws = [noise.draw(sensitivity, epsilon) for _ in range(40_000)]
        mean = sum(draws) / len(draws)
        variance = sum((d - mean) ** 2 for d in draws) / len(draws)
        expected = noise_variance(sensitivity, epsilon)
        assert abs(mean) < 4 * math.sqrt(expected / len(draws))
        assert variance == pytest.approx(expected, rel=0.05)
        assert all(isinstance(d, int) for d in draws)
    alpha = math.exp(-1.0)
    zeros = sum(noise.draw(1, 1.0) == 0 for _ in range(40_000)) / 40_000
    assert zeros == pytest.approx((1 - alpha) / (1 + alpha), abs=0.01)


def test_noise_comes_from_the_operating_systems_cryptographic_source(studio):
    assert isinstance(studio.insights.noise.source, secrets.SystemRandom)
    with pytest.raises(ValueError):
        DiscreteLaplace().draw(0, 1.0)
    assert set(EPSILON.values()) == {1.0}


# -- downloads ------------------------------------------------------------------------------------


def test_csv_has_a_header_and_rows(studio, therapist, circle):
    rows = studio.insights.participation(therapist, circle.id, weeks=2)
    text = studio.insights.to_csv(rows)
    parsed = list(csv.reader(io.StringIO(text)))
    assert parsed[0] == [
        "week_start",
        "people",
        "made_art",
        "commented",
        "reflected",
        "shown",
        "note",
    ]
    assert len(parsed) == 3
    assert parsed[1][:2] == ["2026-10-26", ""]


def test_csv_keeps_spreadsheet_formulas_as_text():
    text = to_csv([{"prompt_title": "=HYPERLINK(1)", "mean_change": -0.5}])
    assert list(csv.reader(io.StringIO(text)))[1] == ["'=HYPERLINK(1)", "-0.5"]
    assert to_csv([]) == ""
    assert MIN_GROUP == 3
