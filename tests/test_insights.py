"""Insights: therapists only, consented moods only, and nothing shown for fewer than 3 people."""

from __future__ import annotations

import csv
import io

import pytest

from gallery_store.errors import PermissionDenied, ValidationError
from gallery_store.insights import MIN_GROUP, to_csv
from tests.conftest import join, make_image
from tests.test_reflections import second_therapist

EMPTY_MOODS = {"n_people": None, "mean_before": None, "mean_after": None, "mean_change": None}


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


def session(studio, person, before, after, prompt_id=None):
    studio.reflections.check_in(person, "before", before, prompt_id=prompt_id)
    studio.reflections.check_in(person, "after", after, prompt_id=prompt_id)


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


def test_two_consenting_people_give_no_mood_aggregate(studio, therapist, circle):
    a, b = people(studio, therapist, circle, 2)
    session(studio, a, 2, 4)
    session(studio, b, 3, 4)
    assert studio.insights.mood_change(therapist, circle.id) == EMPTY_MOODS


def test_three_consenting_people_give_the_means(studio, therapist, circle):
    a, b, c = people(studio, therapist, circle, 3)
    session(studio, a, 2, 4)
    session(studio, b, 3, 4)
    session(studio, c, 1, 4)
    result = studio.insights.mood_change(therapist, circle.id)
    assert result == {
        "n_people": 3,
        "mean_before": pytest.approx(2.0),
        "mean_after": pytest.approx(4.0),
        "mean_change": pytest.approx(2.0),
    }


def test_people_who_did_not_consent_are_left_out(studio, therapist, circle):
    consenting = people(studio, therapist, circle, 2)
    (holdout,) = people(studio, therapist, circle, 1, consent=False, prefix="q")
    for person in consenting:
        session(studio, person, 2, 4)
    session(studio, holdout, 1, 5)
    assert studio.insights.mood_change(therapist, circle.id) == EMPTY_MOODS

    # Withdrawing consent takes someone out again at once.
    studio.reflections.set_insights_consent(holdout, True)
    assert studio.insights.mood_change(therapist, circle.id)["n_people"] == 3
    studio.reflections.set_insights_consent(consenting[0], False)
    assert studio.insights.mood_change(therapist, circle.id) == EMPTY_MOODS


def test_befores_and_afters_pair_by_person_and_day(studio, therapist, circle, clock):
    a, b, c = people(studio, therapist, circle, 3)
    for person in (a, b, c):
        session(studio, person, 3, 4)
    # A lone "before" on another day, and an "after" with no "before", pair with nothing.
    clock.advance(days=1)
    studio.reflections.check_in(a, "before", 1)
    clock.advance(days=1)
    studio.reflections.check_in(b, "after", 5)
    result = studio.insights.mood_change(therapist, circle.id)
    assert (result["mean_before"], result["mean_after"]) == (pytest.approx(3), pytest.approx(4))


def test_moods_from_another_circle_do_not_count(studio, therapist, circle, other_circle):
    here = people(studio, therapist, circle, 3)
    there = people(studio, therapist, other_circle, 3, prefix="t")
    for person in here:
        session(studio, person, 2, 3)
    for person in there:
        session(studio, person, 1, 5)
    assert studio.insights.mood_change(therapist, circle.id)["mean_change"] == pytest.approx(1)
    assert studio.insights.mood_change(therapist, other_circle.id)["mean_change"] == (
        pytest.approx(4)
    )


def test_prompt_effects_show_only_prompts_with_enough_people(studio, therapist, circle, clock):
    sea = add_prompt(studio, "Draw the sea")
    door = add_prompt(studio, "A door")
    a, b, c = people(studio, therapist, circle, 3)
    for person, (before, after) in zip((a, b, c), ((1, 3), (2, 3), (3, 3)), strict=True):
        session(studio, person, before, after, prompt_id=sea)
    clock.advance(days=1)
    session(studio, a, 2, 5, prompt_id=door)
    session(studio, b, 2, 5, prompt_id=door)
    assert studio.insights.prompt_effects(therapist, circle.id) == [
        {"prompt_id": sea, "prompt_title": "Draw the sea", "n": 3, "mean_change": pytest.approx(1)}
    ]


def test_a_prompt_that_left_the_library_is_called_prompt(studio, therapist, circle):
    sea = add_prompt(studio, "Draw the sea")
    for person in people(studio, therapist, circle, 3):
        session(studio, person, 2, 3, prompt_id=sea)
    with studio.store.transaction():
        studio.store.collection("prompts").remove(sea)
    (row,) = studio.insights.prompt_effects(therapist, circle.id)
    assert row["prompt_title"] == "Prompt"


def test_a_prompt_pairs_across_midnight(studio, therapist, circle, clock):
    sea = add_prompt(studio, "Draw the sea")
    clock.advance(hours=14, minutes=50)  # 23:50 UTC
    group = people(studio, therapist, circle, 3)
    for person in group:
        studio.reflections.check_in(person, "before", 2, prompt_id=sea)
    clock.advance(minutes=20)
    for person in group:
        studio.reflections.check_in(person, "after", 4, prompt_id=sea)
    assert studio.insights.mood_change(therapist, circle.id)["mean_change"] == pytest.approx(2)


# -- participation --------------------------------------------------------------------------------


def test_a_week_with_two_people_shows_too_few(studio, therapist, circle, participant, peer):
    studio.artworks.share(participant, make_image(), alt_text="A boat")
    studio.reflections.write(peer, "Thinking of the boat")
    rows = studio.insights.participation(therapist, circle.id, weeks=2)
    assert [r["week_start"] for r in rows] == ["2026-10-26", "2026-11-02"]
    this_week = rows[-1]
    assert this_week["artworks"] is None
    assert this_week["comments"] is None
    assert this_week["reflections"] is None
    assert this_week["people"] is None
    assert this_week["too_few"] is True


def test_a_week_with_three_people_shows_counts(studio, therapist, circle, clock):
    a, b, c = people(studio, therapist, circle, 3, consent=False)
    artwork = studio.artworks.share(a, make_image(), alt_text="A boat")
    studio.comments.post(b, artwork.id, "I see calm water.")
    studio.comments.post(therapist, artwork.id, "Thank you for sharing.")  # not counted
    studio.reflections.write(c, "Thinking of the boat")
    studio.reflections.write(a, "My boat")
    clock.advance(days=7)
    rows = studio.insights.participation(therapist, circle.id, weeks=3)
    assert rows[1] == {
        "week_start": "2026-11-02",
        "artworks": 1,
        "comments": 1,
        "reflections": 2,
        "people": 3,
        "too_few": False,
    }
    assert rows[2]["week_start"] == "2026-11-09" and rows[2]["people"] is None


def test_participation_weeks_are_checked(studio, therapist, circle):
    with pytest.raises(ValidationError):
        studio.insights.participation(therapist, circle.id, weeks=0)


def test_prompt_usage_counts_artworks_in_circles_the_therapist_runs(
    studio, therapist, circle, participant, outsider
):
    sea = add_prompt(studio, "Draw the sea")
    studio.artworks.share(participant, make_image(), alt_text="Waves", prompt_id=sea)
    studio.artworks.share(outsider, make_image(), alt_text="Tide", prompt_id=sea)
    studio.artworks.share(participant, make_image(), alt_text="Free drawing")
    assert studio.insights.prompt_usage(therapist) == {sea: {"artworks": 2}}
    assert studio.insights.prompt_usage(second_therapist(studio)) == {}


# -- downloads ------------------------------------------------------------------------------------


def test_csv_has_a_header_and_rows(studio, therapist, circle):
    rows = studio.insights.participation(therapist, circle.id, weeks=2)
    text = studio.insights.to_csv(rows)
    parsed = list(csv.reader(io.StringIO(text)))
    assert parsed[0] == ["week_start", "artworks", "comments", "reflections", "people", "too_few"]
    assert len(parsed) == 3
    assert parsed[1][0] == "2026-10-26" and parsed[1][1] == ""


def test_csv_keeps_spreadsheet_formulas_as_text():
    text = to_csv([{"prompt_title": "=HYPERLINK(1)", "mean_change": -0.5}])
    assert list(csv.reader(io.StringIO(text)))[1] == ["'=HYPERLINK(1)", "-0.5"]
    assert to_csv([]) == ""
    assert MIN_GROUP == 3
