"""Which prompt is "today's" for a circle: pure functions of the day, the pool and the schedule.

Everything here is a function of its arguments (no clock, no files, no randomness that differs
between processes), so every member of a circle sees the same prompt and tests need no fakes.

How a day's prompt is chosen, first match wins:

1. **Pinned**: a therapist pinned a prompt to a day or a range of days. If pins overlap, the
   one that starts latest wins (a one-day pin inside a week-long pin), then the shorter one,
   then the one listed last.
2. **Series**: a queued arc; ``prompt_ids[i]`` runs for ``every_days`` days from
   ``start + i * every_days``. If series overlap, the one that starts latest wins, then the one
   listed last.
3. **Rotation**: the circle's pool, cycled without repeats. Day ``n`` (days since
   ``ROTATION_EPOCH``) falls in cycle ``n // len(pool)`` at position ``n % len(pool)``; each
   cycle walks its own order of the pool, shuffled by SHA-256 of the circle's seed and the cycle
   number, so every prompt appears exactly once per cycle and circles get different orders.
   When a cycle would open with the prompt that closed the previous one, its first two swap,
   so no prompt shows two days running (with two or more prompts).

Pins and series cover the rotation without pausing it: the rotation keeps counting days, so
the rotation's prompt for a covered day waits for its next cycle, and editing a schedule never
reshuffles days it doesn't touch. A pinned or series prompt can also come up in the rotation on
another day; pins are the therapist's explicit choice and are not checked against the pool.

**Skips**: skipping a date means "not the rotation's prompt for that date; move on to the next
one". A skipped day shows the rotation's next prompt (position ``n + 1``), and the prompt it
passed over is deferred to the first day after the run of skipped days. Over a run of ``m``
skipped days starting at position ``n`` the days show ``n+1, ..., n+m`` and the day after shows
``n``: the same prompts in a slightly different order, so nothing is lost or repeated, and the
effect stays inside those ``m + 1`` days. Skips only change the rotation; a pinned or series
day is shown as scheduled.

The no-repeat guarantee holds while the pool stays the same; adding or retiring prompts starts
a new arrangement from that day on.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .library import INTENSITIES

__all__ = [
    "NO_SCHEDULE",
    "ROTATION_EPOCH",
    "Choice",
    "Pin",
    "PoolEntry",
    "Reason",
    "Schedule",
    "Series",
    "another_prompt",
    "eligible_pool",
    "local_day",
    "rotation_prompt",
    "todays_prompt",
    "upcoming",
]

# A fixed Monday; changing it would change every circle's rotation.
ROTATION_EPOCH = date(2024, 1, 1)

Reason = Literal["pinned", "series", "rotation"]


def local_day(now: datetime, tz_name: str) -> date:
    """Return the date it is in the circle's time zone at the moment ``now``."""
    if not isinstance(now, datetime) or now.utcoffset() is None:
        raise ValueError(
            "now must be a timezone-aware datetime, such as datetime.now(timezone.utc); "
            "a time without a zone could be any date somewhere in the world"
        )
    return now.astimezone(_zone(tz_name)).date()


def _zone(tz_name: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz_name)
    # ZoneInfo raises a KeyError subclass for unknown names, ValueError for malformed ones,
    # OSError for folders such as "America", TypeError for non-strings.
    except (ZoneInfoNotFoundError, ValueError, OSError, TypeError):
        raise ValueError(
            f"{tz_name!r} isn't a time zone we know. Use a name from the time zone database, "
            'such as "Europe/London", "America/Chicago" or "Pacific/Auckland".'
        ) from None


def _check_day(value: object, name: str) -> None:
    # A datetime is a date subclass, but comparing one with a date raises; catch it early.
    if not isinstance(value, date) or isinstance(value, datetime):
        raise ValueError(f"{name} must be a date (not a datetime), got {value!r}")


@dataclass(frozen=True)
class Pin:
    """One prompt shown on every day from ``start`` to ``end``, both included."""

    start: date
    end: date
    prompt_id: str

    def __post_init__(self) -> None:
        _check_day(self.start, "start")
        _check_day(self.end, "end")
        if self.end < self.start:
            raise ValueError(f"a pin can't end ({self.end}) before it starts ({self.start})")
        if not self.prompt_id:
            raise ValueError("a pin needs a prompt")

    def covers(self, day: date) -> bool:
        """Return whether this pin is shown on ``day``."""
        return self.start <= day <= self.end


@dataclass(frozen=True)
class Series:
    """A queued arc of prompts, each shown for ``every_days`` days in turn from ``start``."""

    start: date
    prompt_ids: tuple[str, ...]
    every_days: int = 7
    title: str = ""

    def __post_init__(self) -> None:
        _check_day(self.start, "start")
        # Accept a list from callers, but store a tuple so the series stays hashable.
        object.__setattr__(self, "prompt_ids", tuple(self.prompt_ids))
        if not self.prompt_ids or not all(self.prompt_ids):
            raise ValueError("a series needs at least one prompt, and no blank ones")
        if not isinstance(self.every_days, int) or isinstance(self.every_days, bool):
            raise ValueError(f"every_days must be a whole number, got {self.every_days!r}")
        if self.every_days < 1:
            raise ValueError(f"every_days must be at least 1, got {self.every_days}")

    @property
    def end(self) -> date:
        """Return the last day of the series."""
        return self.start + timedelta(days=len(self.prompt_ids) * self.every_days - 1)

    def prompt_on(self, day: date) -> str | None:
        """Return the series prompt shown on ``day``, or None outside the series."""
        if not self.start <= day <= self.end:
            return None
        return self.prompt_ids[(day - self.start).days // self.every_days]


@dataclass(frozen=True)
class Schedule:
    """A circle's therapist-made overrides: pins, series and skipped rotation days."""

    pins: tuple[Pin, ...] = ()
    series: tuple[Series, ...] = ()
    skips: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "pins", tuple(self.pins))
        object.__setattr__(self, "series", tuple(self.series))
        object.__setattr__(self, "skips", frozenset(self.skips))
        for day in self.skips:
            _check_day(day, "a skipped day")


NO_SCHEDULE = Schedule()


@dataclass(frozen=True)
class Choice:
    """The prompt shown on a day, and why: "pinned", "series" or "rotation"."""

    prompt_id: str
    reason: Reason


@dataclass(frozen=True)
class PoolEntry:
    """What the rotation needs to know about one prompt of a circle's library."""

    prompt_id: str
    themes: tuple[str, ...]
    intensity: str
    retired: bool = False


def eligible_pool(
    prompts: Iterable[object], themes: Collection[str] = (), allow_deep: bool = False
) -> tuple[str, ...]:
    """Return the ids of the prompts a circle's rotation may use, sorted and without repeats.

    ``prompts`` holds ``PoolEntry`` values, ``(prompt_id, themes, intensity[, retired])``
    tuples, or prompt objects with ``themes``, ``intensity``, an ``id`` (or else a ``slug``)
    and optionally ``retired``. A prompt qualifies when it isn't retired, shares a theme with
    ``themes`` (an empty collection means every theme), and isn't "deep" unless ``allow_deep``.
    """
    if isinstance(themes, str):
        raise TypeError('themes must be a collection of theme names, such as ("coping",)')
    wanted = frozenset(themes)
    chosen: set[str] = set()
    for entry in map(_as_entry, prompts):
        if entry.intensity not in INTENSITIES:
            raise ValueError(
                f"prompt {entry.prompt_id!r} has intensity {entry.intensity!r}; "
                f"expected one of {', '.join(INTENSITIES)}"
            )
        if entry.retired or (entry.intensity == "deep" and not allow_deep):
            continue
        if wanted and wanted.isdisjoint(entry.themes):
            continue
        chosen.add(entry.prompt_id)
    return tuple(sorted(chosen))


def _as_entry(prompt: object) -> PoolEntry:
    if isinstance(prompt, PoolEntry):
        return prompt
    if isinstance(prompt, tuple):
        return PoolEntry(prompt[0], tuple(prompt[1]), *prompt[2:])
    prompt_id = getattr(prompt, "id", None) or getattr(prompt, "slug", None)
    if not prompt_id:
        raise TypeError(f"can't tell the id of {prompt!r}: give it an id or a slug")
    return PoolEntry(
        prompt_id=prompt_id,
        themes=tuple(prompt.themes),  # type: ignore[attr-defined]
        intensity=prompt.intensity,  # type: ignore[attr-defined]
        retired=bool(getattr(prompt, "retired", False)),
    )


def rotation_prompt(day: date, pool: Sequence[str], circle_seed: str) -> str | None:
    """Return the rotation's prompt for ``day``, ignoring any schedule; None for an empty pool."""
    _check_day(day, "day")
    ids = _normal_pool(pool)
    if not ids:
        return None
    return _prompt_at((day - ROTATION_EPOCH).days, ids, circle_seed)


def todays_prompt(
    day: date, pool: Sequence[str], circle_seed: str, schedule: Schedule = NO_SCHEDULE
) -> Choice | None:
    """Return the prompt shown on ``day`` and why, or None when there is none."""
    _check_day(day, "day")
    return _choose(day, _normal_pool(pool), circle_seed, schedule)


def upcoming(
    start: date,
    days: int,
    pool: Sequence[str],
    circle_seed: str,
    schedule: Schedule = NO_SCHEDULE,
) -> list[tuple[date, Choice | None]]:
    """Return each of the ``days`` days from ``start`` with the prompt it will show."""
    _check_day(start, "start")
    if days < 0:
        raise ValueError(f"days must be zero or more, got {days}")
    ids = _normal_pool(pool)
    return [
        (day, _choose(day, ids, circle_seed, schedule))
        for day in (start + timedelta(days=offset) for offset in range(days))
    ]


def another_prompt(
    pool: Sequence[str], recent: Collection[str], seed: str, exclude: str | None = None
) -> str | None:
    """Draw a prompt from ``pool`` for someone who wants a different one.

    Prefers prompts not in ``recent``; when all were recent, draws from the whole pool. Never
    returns ``exclude`` (the prompt on screen). The same seed gives the same draw, so vary it
    (for example with a click count) to offer a new one each time.
    """
    if isinstance(recent, str):
        raise TypeError("recent must be a collection of prompt ids, not one id")
    ids = [prompt_id for prompt_id in _normal_pool(pool) if prompt_id != exclude]
    recent_ids = frozenset(recent)
    candidates = [prompt_id for prompt_id in ids if prompt_id not in recent_ids] or ids
    if not candidates:
        return None
    return min(candidates, key=lambda prompt_id: (_digest(seed, "another", prompt_id), prompt_id))


def _choose(day: date, ids: tuple[str, ...], circle_seed: str, schedule: Schedule) -> Choice | None:
    pin = _pin_on(day, schedule.pins)
    if pin is not None:
        return Choice(pin.prompt_id, "pinned")
    series_prompt = _series_prompt_on(day, schedule.series)
    if series_prompt is not None:
        return Choice(series_prompt, "series")
    if not ids:
        return None
    return Choice(_prompt_at(_position(day, schedule.skips), ids, circle_seed), "rotation")


def _pin_on(day: date, pins: Sequence[Pin]) -> Pin | None:
    covering = [
        (pin.start, -pin.end.toordinal(), order, pin)
        for order, pin in enumerate(pins)
        if pin.covers(day)
    ]
    return max(covering)[-1] if covering else None


def _series_prompt_on(day: date, series: Sequence[Series]) -> str | None:
    running = [
        (arc.start, order, prompt_id)
        for order, arc in enumerate(series)
        if (prompt_id := arc.prompt_on(day)) is not None
    ]
    return max(running)[-1] if running else None


def _position(day: date, skips: Collection[date]) -> int:
    """Return the rotation position shown on ``day`` once skips are applied."""
    natural = (day - ROTATION_EPOCH).days
    if day in skips:
        return natural + 1
    skipped_before = 0
    while day - timedelta(days=skipped_before + 1) in skips:
        skipped_before += 1
    return natural - skipped_before


def _normal_pool(pool: Sequence[str]) -> tuple[str, ...]:
    # Sorting makes the answer independent of the order the caller happened to list ids in.
    if isinstance(pool, str):
        raise TypeError("pool must be a sequence of prompt ids, not one id")
    return tuple(sorted(set(pool)))


def _prompt_at(position: int, ids: tuple[str, ...], circle_seed: str) -> str:
    cycle, offset = divmod(position, len(ids))
    return _cycle_order(ids, circle_seed, cycle)[offset]


def _cycle_order(ids: tuple[str, ...], circle_seed: str, cycle: int) -> list[str]:
    if len(ids) == 2:
        # Two prompts: keep one order so they simply alternate.
        cycle = 0
    order = _shuffled(ids, circle_seed, cycle)
    if len(ids) >= 3 and order[0] == _shuffled(ids, circle_seed, cycle - 1)[-1]:
        order[0], order[1] = order[1], order[0]
    return order


def _shuffled(ids: tuple[str, ...], circle_seed: str, cycle: int) -> list[str]:
    # Sorting by a keyed SHA-256 is a shuffle that is the same in every process and Python
    # version, unlike hash() (salted per process) or random.shuffle (algorithm not promised).
    cycle_key = str(cycle)
    return sorted(
        ids, key=lambda prompt_id: (_digest(circle_seed, cycle_key, prompt_id), prompt_id)
    )


def _digest(*parts: str) -> bytes:
    # JSON keeps the parts apart, so ("ab", "c") and ("a", "bc") hash differently.
    return hashlib.sha256(json.dumps(parts).encode("utf-8")).digest()
