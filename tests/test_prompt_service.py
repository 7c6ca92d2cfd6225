"""The prompt library service: curating, importing, scheduling and today's prompt."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from gallery_store import open_studio
from gallery_store.errors import NotFound, PermissionDenied, ValidationError
from prompts import dump_deck, parse_deck, starter_prompts

from .conftest import FAST_CONFIG, join, make_image

NEW_PROMPT = {
    "title": "Drawing the weather",
    "instructions": "You might draw the weather inside you today. You can stop at any time.",
    "materials": ["paper", "pencils"],
    "minutes": 15,
    "themes": ["coping", "grounding"],
    "intensity": "gentle",
    "reflection_questions": ["What did you notice?", "What helped?"],
}


def prompt_ids(studio) -> list[str]:
    return [r["id"] for r in studio.store.collection("prompts").all()]


def keep_only(studio, therapist, keep) -> None:
    """Retire every prompt except ``keep``."""
    keep = set(keep)
    for prompt_id in prompt_ids(studio):
        studio.prompts.retire(therapist, prompt_id, prompt_id not in keep)


def local_today(studio, circle_id, actor) -> date:
    return studio.prompts.plan(actor, circle_id, days=1)[0].day


def ids_of(days) -> list[str | None]:
    return [d.prompt.id if d.prompt else None for d in days]


# -- the starter library ---------------------------------------------------------------------------


def test_starter_library_is_seeded_once(studio, therapist, data_dir, clock):
    starters = starter_prompts()
    assert len(starters) >= 48
    library = studio.prompts.library(therapist)
    assert len(library) == len(starters)
    assert {p.slug for p in library} == {s.slug for s in starters}
    ids = sorted(prompt_ids(studio))

    studio.close()
    reopened = open_studio(data_dir, FAST_CONFIG, clock)
    try:
        assert sorted(prompt_ids(reopened)) == ids
        slugs = [r["slug"] for r in reopened.store.collection("prompts").all()]
        assert len(slugs) == len(set(slugs)) == len(starters)
    finally:
        reopened.close()


def test_library_filters_by_theme_intensity_and_words(studio, therapist):
    deep = studio.prompts.library(therapist, intensity="deep")
    assert deep and all(p.intensity == "deep" for p in deep)
    coping = studio.prompts.library(therapist, theme="coping")
    assert coping and all("coping" in p.themes for p in coping)
    word = coping[0].title.split()[-1]
    assert coping[0] in studio.prompts.library(therapist, search=word.upper())
    assert studio.prompts.library(therapist, search="zzqx-nothing-matches") == []


def test_participants_may_read_prompts_but_not_curate(studio, therapist, circle, participant):
    prompt = studio.prompts.library(therapist)[0]
    assert studio.prompts.get(participant, prompt.id) == prompt
    with pytest.raises(PermissionDenied):
        studio.prompts.library(participant)
    with pytest.raises(PermissionDenied):
        studio.prompts.create(participant, **NEW_PROMPT)
    with pytest.raises(PermissionDenied):
        studio.prompts.edit(participant, prompt.id, title="Mine now")
    with pytest.raises(PermissionDenied):
        studio.prompts.retire(participant, prompt.id)
    with pytest.raises(PermissionDenied):
        studio.prompts.history(participant, prompt.id)
    with pytest.raises(PermissionDenied):
        studio.prompts.import_deck(participant, dump_deck("coping", "t", "d", coping_specs()[:1]))
    with pytest.raises(PermissionDenied):
        studio.prompts.pin(participant, circle.id, prompt.id, date(2026, 11, 3))
    with pytest.raises(PermissionDenied):
        studio.prompts.plan(participant, circle.id)
    with pytest.raises(NotFound):
        studio.prompts.get(participant, "no-such-prompt")


# -- curating --------------------------------------------------------------------------------------


def test_create_then_edit_keeps_history_newest_first(studio, therapist, clock):
    created = studio.prompts.create(therapist, **NEW_PROMPT)
    assert created.slug.startswith("drawing-the-weather-")
    assert created.themes == ("coping", "grounding") and not created.retired

    clock.advance(minutes=5)
    studio.prompts.edit(therapist, created.id, title="Weather, drawn")
    clock.advance(minutes=5)
    latest = studio.prompts.edit(therapist, created.id, minutes=25)

    assert (latest.title, latest.minutes, latest.slug) == ("Weather, drawn", 25, created.slug)
    history = studio.prompts.history(therapist, created.id)
    assert [(h["title"], h["minutes"]) for h in history] == [
        ("Weather, drawn", 15),
        ("Drawing the weather", 15),
    ]
    assert history[0]["changed_at"] > history[1]["changed_at"]
    assert all(h["changed_by"] == therapist.id for h in history)

    # Saving without a change adds no history.
    studio.prompts.edit(therapist, created.id, minutes=25)
    assert len(studio.prompts.history(therapist, created.id)) == 2


def test_invalid_edits_and_duplicates_change_nothing(studio, therapist):
    created = studio.prompts.create(therapist, **NEW_PROMPT)
    with pytest.raises(ValidationError, match="minutes"):
        studio.prompts.edit(therapist, created.id, minutes=500)
    with pytest.raises(ValidationError, match="intensity"):
        studio.prompts.edit(therapist, created.id, intensity="extreme")
    assert studio.prompts.get(therapist, created.id) == created
    assert studio.prompts.history(therapist, created.id) == []
    with pytest.raises(ValidationError, match="already exists"):
        studio.prompts.create(therapist, **NEW_PROMPT, slug=created.slug)
    with pytest.raises(ValidationError):
        studio.prompts.create(therapist, **{**NEW_PROMPT, "reflection_questions": ["Only one?"]})


def test_retired_prompts_leave_the_rotation_and_come_back_when_restored(
    studio, therapist, circle, participant
):
    todays = studio.prompts.today(participant, circle.id).prompt
    retired = studio.prompts.retire(therapist, todays.id)
    assert retired.retired

    assert studio.prompts.today(participant, circle.id).prompt.id != todays.id
    assert todays.id not in ids_of(studio.prompts.plan(therapist, circle.id, days=120))
    assert todays.id not in [p.id for p in studio.prompts.library(therapist)]
    assert todays.id in [p.id for p in studio.prompts.library(therapist, include_retired=True)]
    assert studio.prompts.get(participant, todays.id).retired  # still readable

    studio.prompts.retire(therapist, todays.id, retired=False)
    assert todays.id in ids_of(studio.prompts.plan(therapist, circle.id, days=120))
    with pytest.raises(NotFound):
        studio.prompts.retire(therapist, "no-such-prompt")


# -- importing and exporting decks -----------------------------------------------------------------


def coping_specs():
    return [s for s in starter_prompts() if s.themes[0] == "coping"]


def test_import_with_one_broken_prompt_changes_nothing(studio, therapist):
    specs = coping_specs()
    good = replace(specs[2], slug="coping-brand-new", title="Brand new")
    changed = replace(specs[0], title="A changed title")
    text = dump_deck("coping", "Team deck", "Ours.", [good, changed])
    broken = text + (
        '\n[[prompts]]\nslug = "coping-broken"\ntitle = "Broken"\n'
        'instructions = "You might draw."\nmaterials = ["paper"]\nminutes = 20\n'
        'themes = ["coping"]\nintensity = "extreme"\n'
        'reflection_questions = ["One?", "Two?"]\n'
    )
    before = [dict(r) for r in studio.store.collection("prompts").all()]

    with pytest.raises(ValidationError) as refused:
        studio.prompts.import_deck(therapist, broken, "team.toml")

    message = refused.value.message
    assert message.startswith("Nothing was imported.")
    assert "team.toml" in message and '"coping-broken"' in message and '"intensity"' in message
    assert [dict(r) for r in studio.store.collection("prompts").all()] == before


def test_import_with_bad_toml_names_the_file(studio, therapist):
    with pytest.raises(ValidationError, match=r"mine\.toml") as refused:
        studio.prompts.import_deck(therapist, "[deck\ntheme = ", "mine.toml")
    assert "TOML" in refused.value.message


def test_good_import_reports_added_changed_and_unchanged(studio, therapist):
    specs = coping_specs()
    new = replace(specs[2], slug="coping-brand-new", title="Brand new")
    changed = replace(specs[0], title="A changed title")
    same = specs[1]
    text = dump_deck("coping", "Team deck", "Ours.", [new, changed, same])

    report = studio.prompts.import_deck(therapist, text, "team.toml")

    assert report.added == ("coping-brand-new",)
    assert report.changed == (specs[0].slug,)
    assert report.unchanged == (specs[1].slug,)
    by_slug = {p.slug: p for p in studio.prompts.library(therapist)}
    assert by_slug[specs[0].slug].title == "A changed title"
    assert by_slug["coping-brand-new"].title == "Brand new"
    history = studio.prompts.history(therapist, by_slug[specs[0].slug].id)
    assert [h["title"] for h in history] == [specs[0].title]

    again = studio.prompts.import_deck(therapist, text, "team.toml")
    assert again.added == () and again.changed == ()
    assert len(again.unchanged) == 3


# Right-to-left override, zero-width space, left-to-right isolate (and its closing pop).
TRICKS = "\u202e\u200b\u2066\u2069"


def tricked(text: str) -> str:
    """Return ``text`` with invisible bidi and zero-width characters scattered through it."""
    return TRICKS[0] + text[:3] + TRICKS[1] + text[3:] + TRICKS[2] + TRICKS[3]


def assert_clean(prompt) -> None:
    words = [
        prompt.title,
        prompt.instructions,
        prompt.no_materials or "",
        *prompt.materials,
        *prompt.reflection_questions,
    ]
    assert not [w for w in words if any(ch in w for ch in TRICKS)]


TRICKED_PROMPT = {
    **NEW_PROMPT,
    "title": tricked("Drawing the weather"),
    "instructions": tricked("You might draw the weather.") + "\n\n" + tricked("Stop any time."),
    "materials": [tricked("paper"), tricked("pencils")],
    "no_materials": tricked("A finger on a steamy window works too."),
    "reflection_questions": [tricked("What did you notice?"), tricked("What helped?")],
}


def test_prompt_words_lose_bidi_and_zero_width_characters_when_created(studio, therapist):
    created = studio.prompts.create(therapist, **TRICKED_PROMPT)
    assert_clean(created)
    assert created.title == "Drawing the weather"
    assert created.instructions == "You might draw the weather.\n\nStop any time."
    assert created.materials == ("paper", "pencils")
    assert created.slug.startswith("drawing-the-weather-")


def test_prompt_words_lose_bidi_and_zero_width_characters_when_edited(studio, therapist):
    created = studio.prompts.create(therapist, **NEW_PROMPT)
    edited = studio.prompts.edit(
        therapist, created.id, **{k: v for k, v in TRICKED_PROMPT.items() if k != "themes"}
    )
    assert_clean(edited)
    assert edited.reflection_questions == ("What did you notice?", "What helped?")
    # Words that differ only by invisible characters are no change at all.
    studio.prompts.edit(therapist, created.id, title=tricked(edited.title))
    assert len(studio.prompts.history(therapist, created.id)) == 1


def test_imported_prompts_lose_bidi_and_zero_width_characters(studio, therapist):
    spec = coping_specs()[0]
    sneaky = replace(
        spec,
        slug="coping-sneaky",
        title=tricked(spec.title),
        instructions=tricked(spec.instructions),
        materials=tuple(tricked(m) for m in spec.materials),
        reflection_questions=tuple(tricked(q) for q in spec.reflection_questions),
    )
    text = dump_deck("coping", "Team deck", "Ours.", [sneaky])
    assert parse_deck(text, "team.toml").prompts[0].title == sneaky.title  # it survives TOML

    report = studio.prompts.import_deck(therapist, text, "team.toml")

    assert report.added == ("coping-sneaky",)
    imported = next(p for p in studio.prompts.library(therapist) if p.slug == "coping-sneaky")
    assert_clean(imported)
    assert imported.title == spec.title


def test_a_prompt_title_of_only_invisible_characters_is_refused(studio, therapist):
    before = prompt_ids(studio)
    with pytest.raises(ValidationError, match="title"):
        studio.prompts.create(therapist, **{**NEW_PROMPT, "title": TRICKS})
    assert prompt_ids(studio) == before


def test_export_deck_round_trips(studio, therapist):
    edited = next(p for p in studio.prompts.library(therapist) if p.themes[0] == "coping")
    studio.prompts.edit(therapist, edited.id, title="Renamed for our circle")
    text = studio.prompts.export_deck(therapist, "coping")

    deck = parse_deck(text, "export.toml")
    first_theme_coping = [
        p for p in studio.prompts.library(therapist, theme="coping") if p.themes[0] == "coping"
    ]
    assert deck.theme == "coping"
    assert sorted(s.slug for s in deck.prompts) == sorted(p.slug for p in first_theme_coping)
    assert "Renamed for our circle" in {s.title for s in deck.prompts}

    report = studio.prompts.import_deck(therapist, text, "export.toml")
    assert report.added == () and report.changed == ()
    assert len(report.unchanged) == len(deck.prompts)
    with pytest.raises(ValidationError):
        studio.prompts.export_deck(therapist, "not-a-theme")


# -- today's prompt --------------------------------------------------------------------------------


def test_todays_prompt_is_the_same_for_every_member(studio, therapist, circle, participant, peer):
    mine = studio.prompts.today(participant, circle.id)
    theirs = studio.prompts.today(peer, circle.id)
    facilitator = studio.prompts.today(therapist, circle.id)
    assert mine == theirs == facilitator
    assert mine.reason == "rotation" and mine.day == date(2026, 11, 2)


def test_outsiders_do_not_get_another_circles_prompt(studio, circle, outsider):
    with pytest.raises(PermissionDenied):
        studio.prompts.today(outsider, circle.id)
    with pytest.raises(PermissionDenied):
        studio.prompts.another(outsider, circle.id)


def test_todays_prompt_follows_the_circles_local_date(
    studio, therapist, circle, participant, clock
):
    clock.now = datetime(2026, 3, 1, 11, 30, tzinfo=UTC)
    studio.circles.update(therapist, circle.id, timezone="America/Los_Angeles")
    in_la = studio.prompts.today(participant, circle.id)
    plan = studio.prompts.plan(therapist, circle.id)
    assert in_la.day == date(2026, 3, 1)  # 03:30 in Los Angeles
    assert plan[0].day == date(2026, 3, 1) and plan[0].prompt == in_la.prompt
    assert plan[1].day == date(2026, 3, 2)

    studio.circles.update(therapist, circle.id, timezone="Pacific/Auckland")
    in_auckland = studio.prompts.today(participant, circle.id)
    assert in_auckland.day == date(2026, 3, 2)  # 00:30 the next day in Auckland
    assert in_auckland.prompt == plan[1].prompt
    assert in_auckland.prompt != in_la.prompt


def test_a_new_prompt_arrives_at_local_midnight(studio, therapist, participant, clock):
    auckland = studio.circles.create(therapist, "Auckland circle", timezone="Pacific/Auckland")
    code = studio.circles.invite(therapist, auckland.id)
    studio.accounts.join_another_circle(participant, code)
    clock.now = datetime(2026, 3, 1, 10, 59, tzinfo=UTC)  # 23:59 in Auckland (NZDT, UTC+13)
    before = studio.prompts.today(participant, auckland.id)
    clock.advance(minutes=2)
    after = studio.prompts.today(participant, auckland.id)
    assert (before.day, after.day) == (date(2026, 3, 1), date(2026, 3, 2))
    assert before.prompt != after.prompt


def test_a_pin_shows_its_prompt_on_that_day_only(studio, therapist, circle, participant):
    today = local_today(studio, circle.id, therapist)
    baseline = ids_of(studio.prompts.plan(therapist, circle.id))
    pinned = next(p for p in studio.prompts.library(therapist) if p.id not in baseline[:3])

    studio.prompts.pin(therapist, circle.id, pinned.id, today)

    todays = studio.prompts.today(participant, circle.id)
    assert (todays.prompt.id, todays.reason) == (pinned.id, "pinned")
    plan = studio.prompts.plan(therapist, circle.id)
    assert [d.reason for d in plan[:2]] == ["pinned", "rotation"]
    assert ids_of(plan)[1:] == baseline[1:]  # a pin covers its day without reshuffling others


def test_a_pinned_range_and_a_day_inside_it(studio, therapist, circle):
    today = local_today(studio, circle.id, therapist)
    library = studio.prompts.library(therapist)
    week, day = library[0], library[1]
    studio.prompts.pin(
        therapist, circle.id, week.id, today + timedelta(days=2), today + timedelta(4)
    )
    studio.prompts.pin(therapist, circle.id, day.id, today + timedelta(days=3))

    plan = studio.prompts.plan(therapist, circle.id)
    assert [(d.prompt.id, d.reason) for d in plan[2:5]] == [
        (week.id, "pinned"),
        (day.id, "pinned"),
        (week.id, "pinned"),
    ]
    assert plan[1].reason == plan[5].reason == "rotation"
    with pytest.raises(ValidationError):
        studio.prompts.pin(therapist, circle.id, week.id, today, today - timedelta(days=1))
    with pytest.raises(NotFound):
        studio.prompts.pin(therapist, circle.id, "no-such-prompt", today)


def test_a_series_runs_each_prompt_for_its_days_and_a_pin_overrides_it(studio, therapist, circle):
    today = local_today(studio, circle.id, therapist)
    library = studio.prompts.library(therapist)
    first, second, pinned = library[3], library[4], library[5]
    studio.prompts.queue_series(
        therapist,
        circle.id,
        [first.id, second.id],
        today + timedelta(days=1),
        every_days=2,
        title="An arc",
    )
    plan = studio.prompts.plan(therapist, circle.id)
    assert [(d.prompt.id, d.reason) for d in plan[1:5]] == [
        (first.id, "series"),
        (first.id, "series"),
        (second.id, "series"),
        (second.id, "series"),
    ]
    assert plan[0].reason == plan[5].reason == "rotation"

    studio.prompts.pin(therapist, circle.id, pinned.id, today + timedelta(days=2))
    assert studio.prompts.plan(therapist, circle.id)[2].prompt.id == pinned.id
    with pytest.raises(ValidationError):
        studio.prompts.queue_series(therapist, circle.id, [], today)
    with pytest.raises(ValidationError):
        studio.prompts.queue_series(therapist, circle.id, [first.id], today, every_days=29)


def test_skipping_a_day_shows_the_next_prompt_and_defers_the_skipped_one(
    studio, therapist, circle, participant
):
    today = local_today(studio, circle.id, therapist)
    baseline = ids_of(studio.prompts.plan(therapist, circle.id))

    studio.prompts.skip(therapist, circle.id, today)

    plan = studio.prompts.plan(therapist, circle.id)
    assert plan[0].skipped and not any(d.skipped for d in plan[1:])
    assert ids_of(plan)[:3] == [baseline[1], baseline[0], baseline[2]]
    assert ids_of(plan)[3:] == baseline[3:]
    assert studio.prompts.today(participant, circle.id).prompt.id == baseline[1]

    (entry,) = studio.prompts.plan_entries(therapist, circle.id)
    assert entry["kind"] == "skip" and entry["day"] == today.isoformat()
    studio.prompts.remove_plan_entry(therapist, entry["id"])
    assert ids_of(studio.prompts.plan(therapist, circle.id)) == baseline
    with pytest.raises(NotFound):
        studio.prompts.remove_plan_entry(therapist, entry["id"])


def test_plan_shows_fourteen_days_with_reasons(studio, therapist, circle, participant, peer):
    today = local_today(studio, circle.id, therapist)
    plan = studio.prompts.plan(therapist, circle.id)
    assert len(plan) == 14
    assert [d.day for d in plan] == [today + timedelta(days=n) for n in range(14)]
    assert {d.reason for d in plan} == {"rotation"}
    assert len(set(ids_of(plan))) == 14  # no repeats inside one cycle of the pool
    with pytest.raises(PermissionDenied):
        studio.prompts.plan(participant, circle.id)
    studio.circles.set_role(therapist, circle.id, peer.id, "cofacilitator")
    assert ids_of(studio.prompts.plan(peer, circle.id)) == ids_of(plan)


def test_past_lists_the_last_days_newest_first(studio, therapist, circle, participant, clock):
    today = local_today(studio, circle.id, therapist)
    expected = ids_of(studio.prompts.plan(therapist, circle.id, days=3))
    clock.advance(days=3)
    past = studio.prompts.past(participant, circle.id, days=3)
    assert [p.day for p in past] == [today + timedelta(days=n) for n in (2, 1, 0)]
    assert [p.prompt.id for p in past] == expected[::-1]


def test_past_starts_with_yesterday_and_never_before_the_circle_existed(
    studio, therapist, circle, participant, clock
):
    first_day = local_today(studio, circle.id, therapist)
    # Regression: a circle made today listed two weeks of prompts from before it existed.
    assert studio.prompts.past(participant, circle.id, days=14) == []
    clock.advance(days=2)
    past = studio.prompts.past(participant, circle.id, days=14)
    assert [p.day for p in past] == [first_day + timedelta(days=1), first_day]


# -- another prompt --------------------------------------------------------------------------------


def test_another_avoids_recent_prompts_and_never_returns_the_excluded_one(
    studio, therapist, circle, participant
):
    pool = [p.id for p in studio.prompts.library(therapist, intensity="gentle")[:5]]
    keep_only(studio, therapist, pool)
    answered, on_screen = pool[0], pool[1]
    studio.artworks.share(participant, make_image(), alt_text="Answer", prompt_id=answered)

    drawn = [studio.prompts.another(participant, circle.id, exclude=on_screen).id for _ in range(3)]

    assert sorted(drawn) == sorted(set(pool) - {answered, on_screen})
    # Once everything was recent, any prompt of the pool may come, but never the one on screen.
    for _ in range(10):
        again = studio.prompts.another(participant, circle.id, exclude=on_screen)
        assert again.id in pool and again.id != on_screen


def test_another_with_only_the_excluded_prompt_left_is_none(studio, therapist, circle, participant):
    only = studio.prompts.library(therapist, intensity="gentle")[0]
    keep_only(studio, therapist, [only.id])
    assert studio.prompts.another(participant, circle.id, exclude=only.id) is None
    assert studio.prompts.another(participant, circle.id).id == only.id


# -- an empty pool ---------------------------------------------------------------------------------


def test_no_prompt_when_every_prompt_is_retired(studio, therapist, circle, participant):
    keep_only(studio, therapist, [])
    assert studio.prompts.today(participant, circle.id) is None
    plan = studio.prompts.plan(therapist, circle.id)
    assert ids_of(plan) == [None] * 14 and {d.reason for d in plan} == {"none"}
    assert studio.prompts.another(participant, circle.id) is None
    assert studio.prompts.past(participant, circle.id) == []


def test_no_prompt_when_the_circles_themes_match_nothing_left(
    studio, therapist, circle, participant
):
    studio.circles.update(therapist, circle.id, themes=("burnout",))
    assert "burnout" in studio.prompts.today(participant, circle.id).prompt.themes
    for prompt in studio.prompts.library(therapist, theme="burnout"):
        studio.prompts.retire(therapist, prompt.id)
    assert studio.prompts.today(participant, circle.id) is None
    assert studio.prompts.library(therapist)  # other themes still hold prompts


def test_a_pin_still_shows_when_the_pool_is_empty(studio, therapist, circle, participant):
    pinned = studio.prompts.library(therapist)[0]
    keep_only(studio, therapist, [])
    studio.prompts.pin(therapist, circle.id, pinned.id, local_today(studio, circle.id, therapist))
    assert studio.prompts.today(participant, circle.id).reason == "pinned"


def test_the_today_page_says_there_is_no_prompt(studio, data_dir, monkeypatch, therapist, circle):
    from tests.apptest import all_text, app_for

    participant = join(studio, therapist, circle, "robin", "Robin")
    keep_only(studio, therapist, [])
    at = app_for(studio, data_dir, monkeypatch, user=participant)
    assert not at.exception
    assert "There's no prompt for today" in all_text(at)


# -- deep prompts ----------------------------------------------------------------------------------


def test_deep_prompts_only_when_the_circle_allows_them(studio, therapist, circle, participant):
    deep = {p.id for p in studio.prompts.library(therapist, intensity="deep")}
    assert deep
    assert not deep & set(ids_of(studio.prompts.plan(therapist, circle.id, days=120)))

    keep_only(studio, therapist, deep)
    assert studio.prompts.today(participant, circle.id) is None

    studio.circles.update(therapist, circle.id, allow_deep=True)
    assert studio.prompts.today(participant, circle.id).prompt.id in deep
    assert set(ids_of(studio.prompts.plan(therapist, circle.id, days=2 * len(deep)))) == deep


# -- usage -----------------------------------------------------------------------------------------


def test_usage_counts_days_shown_draws_and_artworks(studio, therapist, circle, participant, clock):
    clock.advance(days=40)  # the circle has met for a while
    today = local_today(studio, circle.id, therapist)
    pinned = studio.prompts.library(therapist)[0]
    studio.prompts.pin(
        therapist, circle.id, pinned.id, today - timedelta(days=3), today - timedelta(days=1)
    )
    studio.reflections.set_insights_consent(participant, True)  # only yeses count as answers
    for n in range(2):  # two different pieces (the same one twice in a minute is one share)
        studio.artworks.share(
            participant, make_image(color=(n * 90, 120, 80)), alt_text="Answer", prompt_id=pinned.id
        )
    drawn = studio.prompts.another(participant, circle.id)

    usage = studio.prompts.usage(therapist, days=30)

    # The last 30 days are the 29 before today, and today.
    shown = Counter(t.prompt.id for t in studio.prompts.past(therapist, circle.id, days=29))
    shown[studio.prompts.today(therapist, circle.id).prompt.id] += 1
    assert sum(shown.values()) == 30
    assert {pid: u["shown_days"] for pid, u in usage.items() if u["shown_days"]} == dict(shown)
    assert usage[pinned.id]["shown_days"] >= 3
    assert usage[pinned.id]["artworks"] == 2
    assert usage[drawn.id]["draws"] == 1
    with pytest.raises(PermissionDenied):
        studio.prompts.usage(participant)


def test_a_new_circle_has_shown_only_todays_prompt(studio, therapist, circle):
    # Regression: a circle made today read "Shown 2 days in the last 90" for every prompt.
    usage = studio.prompts.usage(therapist)
    todays = studio.prompts.today(therapist, circle.id).prompt.id
    assert {pid: u["shown_days"] for pid, u in usage.items() if u["shown_days"]} == {todays: 1}


def test_the_prompt_history_follows_every_change_it_depends_on(
    studio, therapist, circle, participant, outsider, clock
):
    """The history is cached per day; a library edit, a plan change or new themes show at once."""
    clock.advance(days=10)
    first = studio.prompts.past(participant, circle.id, days=7)
    assert studio.prompts.past(participant, circle.id, days=7) == first

    yesterday = first[0]
    studio.prompts.edit(therapist, yesterday.prompt.id, title="A walk by the water")
    assert studio.prompts.past(participant, circle.id, days=7)[0].prompt.title == (
        "A walk by the water"
    )

    studio.circles.update(therapist, circle.id, themes=("grounding",))
    themed = studio.prompts.past(participant, circle.id, days=7)
    pool = {p.id for p in studio.prompts.library(therapist) if "grounding" in p.themes}
    assert themed and {t.prompt.id for t in themed} <= pool

    clock.advance(days=1)  # a new day: yesterday's prompt moves down the list
    moved = studio.prompts.past(participant, circle.id, days=7)
    assert moved[1].day == themed[0].day and moved[0].day == themed[0].day + timedelta(days=1)

    # The cache never stands in for the permission check.
    with pytest.raises(PermissionDenied):
        studio.prompts.past(outsider, circle.id)
