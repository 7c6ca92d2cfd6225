"""Tests for choosing a circle's prompt of the day: rotation, schedule, time zones."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta, timezone
from itertools import pairwise
from pathlib import Path

import pytest

from prompts import (
    ROTATION_EPOCH,
    Choice,
    Pin,
    PoolEntry,
    Schedule,
    Series,
    another_prompt,
    eligible_pool,
    local_day,
    rotation_prompt,
    starter_prompts,
    todays_prompt,
    upcoming,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
DAY = date(2026, 3, 2)
SEED = "circle-7f3a"


def make_pool(size: int) -> list[str]:
    return [f"prompt-{number:02d}" for number in range(size)]


def days_from(start: date, count: int) -> list[date]:
    return [start + timedelta(days=offset) for offset in range(count)]


# --- the rotation -------------------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 7, 48])
@pytest.mark.parametrize("cycle", [-1, 0, 1, 2, 40])
def test_every_prompt_comes_exactly_once_per_cycle(size, cycle):
    pool = make_pool(size)
    cycle_start = ROTATION_EPOCH + timedelta(days=cycle * size)

    shown = [rotation_prompt(day, pool, SEED) for day in days_from(cycle_start, size)]

    assert sorted(shown) == pool


def test_starter_library_cycles_without_repeats():
    pool = [prompt.slug for prompt in starter_prompts()]
    cycle_start = ROTATION_EPOCH + timedelta(days=3 * len(pool))

    shown = [rotation_prompt(day, pool, SEED) for day in days_from(cycle_start, len(pool))]

    assert sorted(shown) == sorted(pool)


@pytest.mark.parametrize("size", [2, 3, 7, 48])
def test_no_prompt_shows_two_days_running_even_across_cycles(size):
    pool = make_pool(size)
    shown = [rotation_prompt(day, pool, SEED) for day in days_from(ROTATION_EPOCH, size * 30)]

    assert all(today != tomorrow for today, tomorrow in pairwise(shown))


def test_each_cycle_is_shuffled_differently():
    pool = make_pool(48)
    first = [rotation_prompt(day, pool, SEED) for day in days_from(ROTATION_EPOCH, 48)]
    second = [
        rotation_prompt(day, pool, SEED)
        for day in days_from(ROTATION_EPOCH + timedelta(days=48), 48)
    ]

    assert first != pool
    assert first != second


def test_same_day_same_prompt_whatever_the_call_order_or_pool_order():
    pool = make_pool(7)
    days = days_from(DAY, 20)
    forwards = {day: rotation_prompt(day, pool, SEED) for day in days}
    backwards = {day: rotation_prompt(day, list(reversed(pool)), SEED) for day in reversed(days)}
    with_duplicates = {day: rotation_prompt(day, pool + pool[:3], SEED) for day in days}

    assert forwards == backwards == with_duplicates


def test_different_circles_get_different_orders():
    pool = make_pool(48)
    days = days_from(ROTATION_EPOCH, 48)

    order_a = [rotation_prompt(day, pool, "circle-a") for day in days]
    order_b = [rotation_prompt(day, pool, "circle-b") for day in days]

    assert order_a != order_b
    assert sorted(order_a) == sorted(order_b) == pool


def test_rotation_is_fixed_across_releases():
    # Regression guard: changing the shuffle would change every circle's prompt of the day.
    pool = make_pool(7)
    shown = [rotation_prompt(day, pool, "circle-golden") for day in days_from(date(2026, 3, 1), 7)]

    # 2026-03-01 ends a cycle; the next cycle's order opened with prompt-00 and was swapped.
    assert shown == [
        "prompt-00",
        "prompt-01",
        "prompt-00",
        "prompt-04",
        "prompt-06",
        "prompt-02",
        "prompt-03",
    ]


def test_rotation_is_the_same_in_every_process():
    # hash() is salted per process; the rotation must not depend on it.
    script = (
        "from datetime import date; from prompts import rotation_prompt; "
        "print(rotation_prompt(date(2026, 3, 2), [f'p{n}' for n in range(30)], 'circle'))"
    )
    answers = set()
    for hash_seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        result = subprocess.run(
            [sys.executable, "-c", script],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        answers.add(result.stdout.strip())

    assert len(answers) == 1


def test_empty_pool_gives_no_prompt():
    assert rotation_prompt(DAY, [], SEED) is None
    assert todays_prompt(DAY, [], SEED) is None
    assert todays_prompt(DAY, (), SEED, Schedule(skips=frozenset({DAY}))) is None
    assert another_prompt([], [], SEED) is None
    assert upcoming(DAY, 3, [], SEED) == [(day, None) for day in days_from(DAY, 3)]


def test_a_single_id_is_not_mistaken_for_a_pool():
    with pytest.raises(TypeError):
        rotation_prompt(DAY, "prompt-01", SEED)


def test_a_datetime_is_not_accepted_as_a_day():
    with pytest.raises(ValueError, match="date"):
        rotation_prompt(datetime(2026, 3, 2, tzinfo=UTC), make_pool(3), SEED)


# --- time zones ---------------------------------------------------------------------------


def test_local_day_follows_the_circles_time_zone():
    moment = datetime(2026, 3, 1, 11, 30, tzinfo=UTC)

    assert local_day(moment, "Pacific/Auckland") == date(2026, 3, 2)
    assert local_day(moment, "America/Los_Angeles") == date(2026, 3, 1)
    assert local_day(moment, "UTC") == date(2026, 3, 1)


def test_local_day_accepts_any_aware_datetime():
    moment = datetime(2026, 3, 1, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert local_day(moment, "Europe/London") == date(2026, 3, 2)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        # New York springs forward at 02:00 local on 2026-03-08 (UTC-5 becomes UTC-4).
        (datetime(2026, 3, 8, 4, 59, tzinfo=UTC), date(2026, 3, 7)),
        (datetime(2026, 3, 8, 5, 0, tzinfo=UTC), date(2026, 3, 8)),
        (datetime(2026, 3, 9, 3, 59, tzinfo=UTC), date(2026, 3, 8)),
        (datetime(2026, 3, 9, 4, 0, tzinfo=UTC), date(2026, 3, 9)),
        # It falls back on 2026-11-01: that day is 25 hours long, ending at 05:00 UTC.
        (datetime(2026, 11, 1, 3, 59, tzinfo=UTC), date(2026, 10, 31)),
        (datetime(2026, 11, 2, 4, 30, tzinfo=UTC), date(2026, 11, 1)),
        (datetime(2026, 11, 2, 5, 0, tzinfo=UTC), date(2026, 11, 2)),
    ],
)
def test_local_day_across_daylight_saving_changes(moment, expected):
    assert local_day(moment, "America/New_York") == expected


def test_local_day_rejects_a_naive_datetime():
    with pytest.raises(ValueError, match="timezone-aware"):
        local_day(datetime(2026, 3, 1, 11, 30), "Europe/London")


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "", "America", "../etc/passwd", "utc"])
def test_local_day_rejects_an_unknown_time_zone(name):
    with pytest.raises(ValueError, match="isn't a time zone we know"):
        local_day(datetime(2026, 3, 1, tzinfo=UTC), name)


# --- the schedule -------------------------------------------------------------------------


def test_a_single_day_pin_overrides_the_rotation():
    pool = make_pool(7)
    schedule = Schedule(pins=(Pin(DAY, DAY, "pinned-prompt"),))

    assert todays_prompt(DAY, pool, SEED, schedule) == Choice("pinned-prompt", "pinned")
    for day in (DAY - timedelta(days=1), DAY + timedelta(days=1)):
        assert todays_prompt(day, pool, SEED, schedule) == Choice(
            rotation_prompt(day, pool, SEED), "rotation"
        )


def test_a_pin_range_covers_every_day_in_it_and_no_more():
    pool = make_pool(7)
    schedule = Schedule(pins=(Pin(DAY, DAY + timedelta(days=6), "week-prompt"),))
    plan = upcoming(DAY - timedelta(days=1), 9, pool, SEED, schedule)

    reasons = [choice.reason for _, choice in plan]
    assert reasons == ["rotation"] + ["pinned"] * 7 + ["rotation"]
    assert {choice.prompt_id for _, choice in plan[1:8]} == {"week-prompt"}


def test_a_pin_works_with_an_empty_pool():
    schedule = Schedule(pins=(Pin(DAY, DAY, "pinned-prompt"),))
    assert todays_prompt(DAY, [], SEED, schedule) == Choice("pinned-prompt", "pinned")


def test_overlapping_pins_the_later_starting_one_wins():
    week = Pin(DAY, DAY + timedelta(days=6), "week-prompt")
    one_day = Pin(DAY + timedelta(days=3), DAY + timedelta(days=3), "one-day-prompt")
    schedule = Schedule(pins=(one_day, week))

    assert todays_prompt(DAY + timedelta(days=3), [], SEED, schedule).prompt_id == "one-day-prompt"
    assert todays_prompt(DAY + timedelta(days=4), [], SEED, schedule).prompt_id == "week-prompt"


def test_a_series_runs_each_prompt_for_its_week():
    boundaries = Series(
        start=DAY,
        prompt_ids=("burnout-fence-line", "burnout-no-makes-room", "burnout-traffic-lights"),
        title="Boundaries",
    )
    schedule = Schedule(series=(boundaries,))
    plan = dict(upcoming(DAY - timedelta(days=1), 23, make_pool(7), SEED, schedule))

    assert plan[DAY - timedelta(days=1)].reason == "rotation"
    for week, prompt_id in enumerate(boundaries.prompt_ids):
        for day in days_from(DAY + timedelta(weeks=week), 7):
            assert plan[day] == Choice(prompt_id, "series")
    assert boundaries.end == DAY + timedelta(days=20)
    assert plan[DAY + timedelta(days=21)].reason == "rotation"


def test_a_series_can_change_daily():
    series = Series(start=DAY, prompt_ids=("a", "b", "c"), every_days=1)
    plan = upcoming(DAY, 4, make_pool(7), SEED, Schedule(series=(series,)))

    assert [choice.prompt_id for _, choice in plan[:3]] == ["a", "b", "c"]
    assert plan[3][1].reason == "rotation"


def test_a_pin_wins_over_a_series():
    series = Series(start=DAY, prompt_ids=("series-prompt",))
    schedule = Schedule(pins=(Pin(DAY, DAY, "pinned-prompt"),), series=(series,))

    assert todays_prompt(DAY, [], SEED, schedule) == Choice("pinned-prompt", "pinned")
    assert todays_prompt(DAY + timedelta(days=1), [], SEED, schedule) == Choice(
        "series-prompt", "series"
    )


def test_overlapping_series_the_later_starting_one_wins():
    early = Series(start=DAY, prompt_ids=("early-1", "early-2"))
    late = Series(start=DAY + timedelta(days=7), prompt_ids=("late-1",))
    schedule = Schedule(series=(late, early))

    assert todays_prompt(DAY + timedelta(days=8), [], SEED, schedule).prompt_id == "late-1"
    assert todays_prompt(DAY + timedelta(days=1), [], SEED, schedule).prompt_id == "early-1"


@pytest.mark.parametrize(
    "build",
    [
        lambda: Pin(DAY, DAY - timedelta(days=1), "p"),
        lambda: Pin(DAY, DAY, ""),
        lambda: Pin(datetime(2026, 3, 2, tzinfo=UTC), DAY, "p"),
        lambda: Series(start=DAY, prompt_ids=()),
        lambda: Series(start=DAY, prompt_ids=("a",), every_days=0),
        lambda: Schedule(skips=frozenset({datetime(2026, 3, 2, tzinfo=UTC)})),
    ],
)
def test_impossible_schedules_are_refused(build):
    with pytest.raises(ValueError):
        build()


def test_schedules_accept_lists_and_stay_hashable():
    schedule = Schedule(
        pins=[Pin(DAY, DAY, "p")],  # type: ignore[arg-type]
        series=[Series(start=DAY, prompt_ids=["a", "b"])],  # type: ignore[arg-type]
        skips={DAY},  # type: ignore[arg-type]
    )
    assert hash(schedule) == hash(schedule)
    assert schedule.series[0].prompt_ids == ("a", "b")


# --- skips --------------------------------------------------------------------------------


def test_a_skipped_day_shows_the_next_prompt_and_the_skipped_one_comes_the_day_after():
    pool = make_pool(7)
    natural = [rotation_prompt(day, pool, SEED) for day in days_from(DAY, 4)]
    schedule = Schedule(skips=frozenset({DAY + timedelta(days=1)}))

    shown = [todays_prompt(day, pool, SEED, schedule).prompt_id for day in days_from(DAY, 4)]

    assert shown == [natural[0], natural[2], natural[1], natural[3]]


def test_a_run_of_skipped_days_moves_on_and_loses_nothing():
    pool = make_pool(7)
    window = days_from(DAY, 10)
    skipped = frozenset(window[3:6])
    natural = [rotation_prompt(day, pool, SEED) for day in window]

    shown = [todays_prompt(day, pool, SEED, Schedule(skips=skipped)).prompt_id for day in window]

    assert shown[:3] == natural[:3]
    assert shown[3:7] == [natural[4], natural[5], natural[6], natural[3]]
    assert shown[7:] == natural[7:]
    assert sorted(shown) == sorted(natural)


def test_skips_keep_the_no_repeat_cycle():
    pool = make_pool(7)
    cycle_start = ROTATION_EPOCH + timedelta(days=7 * 100)
    window = days_from(cycle_start, 7)
    schedule = Schedule(skips=frozenset({window[2], window[4]}))

    shown = [todays_prompt(day, pool, SEED, schedule).prompt_id for day in window]

    assert sorted(shown) == pool


def test_a_skip_does_not_move_a_pinned_day():
    schedule = Schedule(pins=(Pin(DAY, DAY, "pinned-prompt"),), skips=frozenset({DAY}))
    assert todays_prompt(DAY, make_pool(7), SEED, schedule) == Choice("pinned-prompt", "pinned")


# --- planning and choosing another --------------------------------------------------------


def test_upcoming_shows_fourteen_days_matching_todays_prompt():
    pool = make_pool(10)
    schedule = Schedule(
        pins=(Pin(DAY + timedelta(days=2), DAY + timedelta(days=2), "pinned-prompt"),),
        series=(Series(start=DAY + timedelta(days=7), prompt_ids=("s1",), every_days=3),),
        skips=frozenset({DAY + timedelta(days=5)}),
    )

    plan = upcoming(DAY, 14, pool, SEED, schedule)

    assert [day for day, _ in plan] == days_from(DAY, 14)
    assert all(choice == todays_prompt(day, pool, SEED, schedule) for day, choice in plan)
    assert {choice.reason for _, choice in plan} == {"pinned", "series", "rotation"}


def test_upcoming_refuses_a_negative_count():
    with pytest.raises(ValueError):
        upcoming(DAY, -1, make_pool(3), SEED)


def test_another_prompt_avoids_recent_ones_and_the_one_on_screen():
    pool = make_pool(7)
    recent = pool[:4]

    for attempt in range(30):
        choice = another_prompt(pool, recent, f"{SEED}:{attempt}", exclude="prompt-05")
        assert choice in {"prompt-04", "prompt-06"}


def test_another_prompt_falls_back_to_the_pool_when_all_were_recent():
    pool = make_pool(3)
    choices = {another_prompt(pool, pool, f"seed-{n}", exclude="prompt-00") for n in range(30)}

    assert choices == {"prompt-01", "prompt-02"}


def test_another_prompt_has_nothing_else_to_offer_from_one_prompt():
    assert another_prompt(["only"], [], SEED, exclude="only") is None


def test_another_prompt_is_deterministic_per_seed_and_varies_between_seeds():
    pool = make_pool(48)
    assert another_prompt(pool, [], "seed") == another_prompt(list(reversed(pool)), [], "seed")
    assert len({another_prompt(pool, [], f"seed-{n}") for n in range(20)}) > 5


# --- the eligible pool --------------------------------------------------------------------


def test_eligible_pool_filters_by_theme_intensity_and_retirement():
    entries = [
        PoolEntry("c-gentle", ("coping",), "gentle"),
        PoolEntry("c-deep", ("coping", "strengths"), "deep"),
        PoolEntry("g-moderate", ("grounding", "coping"), "moderate"),
        PoolEntry("b-retired", ("belonging",), "gentle", retired=True),
        ("b-tuple", ["belonging"], "gentle"),
        ("s-retired-tuple", ("strengths",), "gentle", True),
    ]

    assert eligible_pool(entries, (), allow_deep=False) == ("b-tuple", "c-gentle", "g-moderate")
    assert eligible_pool(entries, ("coping",), allow_deep=True) == (
        "c-deep",
        "c-gentle",
        "g-moderate",
    )
    assert eligible_pool(entries, {"strengths"}, allow_deep=False) == ()
    assert eligible_pool(entries, {"strengths"}, allow_deep=True) == ("c-deep",)


def test_eligible_pool_accepts_starter_prompts_and_drops_duplicates():
    prompts = starter_prompts()

    pool = eligible_pool(prompts + prompts[:3], ("grounding",), allow_deep=False)

    assert pool == tuple(sorted(pool))
    assert len(pool) == len(set(pool))
    by_slug = {prompt.slug: prompt for prompt in prompts}
    assert all("grounding" in by_slug[slug].themes for slug in pool)
    assert "grounding-five-colours" in pool
    assert "coping-weather-report" in pool  # a coping prompt also tagged grounding
    assert todays_prompt(DAY, pool, SEED).prompt_id in pool


def test_eligible_pool_keeps_deep_prompts_out_by_default():
    prompts = starter_prompts()
    deep = {prompt.slug for prompt in prompts if prompt.intensity == "deep"}

    assert deep.isdisjoint(eligible_pool(prompts))
    assert deep <= set(eligible_pool(prompts, allow_deep=True))


def test_eligible_pool_refuses_unknown_intensity_and_a_bare_theme_name():
    with pytest.raises(ValueError, match="intense"):
        eligible_pool([PoolEntry("x", ("coping",), "intense")])
    with pytest.raises(TypeError):
        eligible_pool([PoolEntry("x", ("coping",), "gentle")], "coping")
