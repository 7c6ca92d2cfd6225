"""The prompt library: therapists' curated prompts, each circle's schedule, today's prompt.

The starter decks in ``prompts/decks`` seed the library on first open; from then on
the therapists' edits live in the store (with a history of every change).
"""

from __future__ import annotations

import hashlib
import sys
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from prompts import (
    INTENSITIES,
    PROMPT_FIELDS,
    THEME_TITLES,
    THEMES,
    Choice,
    DeckError,
    Pin,
    PromptSpec,
    Schedule,
    Series,
    another_prompt,
    dump_deck,
    eligible_pool,
    local_day,
    parse_deck,
    starter_prompts,
    todays_prompt,
    upcoming,
)

from .errors import NotFound, ValidationError
from .models import Circle, Prompt, User
from .policy import Policy
from .text import clean_text

if TYPE_CHECKING:
    from .studio import Studio

__all__ = ["ImportReport", "PromptLibrary", "ScheduledDay", "TodaysPrompt"]

RECENT_DAYS = 30
# What a circle's prompt history is computed from (its cache is keyed by their versions).
PAST_DEPENDS_ON = ("prompts", "schedules", "circles")
PAST_CACHE_SIZE = 512


@dataclass(frozen=True)
class TodaysPrompt:
    """The prompt a circle sees on a day, and why."""

    prompt: Prompt
    day: date
    reason: str  # pinned | series | rotation | another


@dataclass(frozen=True)
class ScheduledDay:
    """One day of a circle's plan as a therapist sees it."""

    day: date
    prompt: Prompt | None
    reason: str
    skipped: bool


@dataclass(frozen=True)
class ImportReport:
    """What an import added, changed and left alone."""

    added: tuple[str, ...]
    changed: tuple[str, ...]
    unchanged: tuple[str, ...]


def _spec_of(record: dict) -> dict:
    return {k: record.get(k) for k in PROMPT_FIELDS}


# The words of a prompt, and whether each may hold paragraphs; the lists hold one-line items.
_WORDS = {"title": False, "instructions": True, "no_materials": True}
_WORD_LISTS = ("materials", "reflection_questions")


def _clean(value: object, field: str, multiline: bool) -> object:
    if not isinstance(value, str):
        return value  # the deck checks say what is wrong with it
    # No limit here: the deck checks give the limit of each field in their own words.
    return clean_text(
        value, field=field.replace("_", " "), max_length=sys.maxsize, multiline=multiline
    )


def _clean_words(data: Mapping) -> dict:
    """Return prompt data with its words cleaned like everyone's (no bidi or invisible tricks)."""
    cleaned = dict(data)
    for name, multiline in _WORDS.items():
        if name in cleaned:
            cleaned[name] = _clean(cleaned[name], name, multiline)
    for name in _WORD_LISTS:
        if isinstance(cleaned.get(name), list | tuple):
            cleaned[name] = [_clean(item, name, False) for item in cleaned[name]]
    return cleaned


def _as_spec(data: dict, source: str) -> PromptSpec:
    try:
        return PromptSpec.from_dict(data, source)
    except DeckError as exc:
        raise ValidationError(str(exc)) from exc


class PromptLibrary:
    """Curate prompts, plan circles' schedules, and tell each circle today's prompt."""

    def __init__(self, studio: Studio) -> None:
        self.studio = studio
        self.store = studio.store
        self.prompts = studio.store.collection("prompts")
        self.schedules = studio.store.collection("schedules")
        self.draws = studio.store.collection("prompt_draws")
        self.circles = studio.store.collection("circles")
        self.artworks = studio.store.collection("artworks")
        self.policy = Policy(studio)
        self._past_cache: dict[tuple, tuple[TodaysPrompt, ...]] = {}
        if len(self.prompts) == 0:
            self._seed()

    def _seed(self) -> None:
        now = self.studio.now().isoformat()
        with self.store.transaction():
            for spec in starter_prompts():
                self.prompts.insert(
                    {
                        **spec.to_dict(),
                        "retired": False,
                        "source": "starter",
                        "history": [],
                        "updated_at": now,
                    }
                )

    # -- reading ---------------------------------------------------------------------------------

    def get(self, actor: User, prompt_id: str) -> Prompt:
        """Return one prompt (any signed-in person may read the library's prompts)."""
        with self.store.reading():
            self.policy.active(actor)
            record = self.prompts.get(prompt_id)
            if record is None:
                raise NotFound("That prompt isn't in the library any more.")
            return Prompt.from_record(record)

    def find(self, prompt_id: str | None) -> Prompt | None:
        """Return a prompt by id without a permission check (for labels only)."""
        record = self.prompts.get(prompt_id or "")
        return Prompt.from_record(record) if record else None

    def library(
        self,
        actor: User,
        *,
        theme: str | None = None,
        intensity: str | None = None,
        search: str = "",
        include_retired: bool = False,
    ) -> list[Prompt]:
        """Return the library filtered for a therapist, by title."""
        words = search.casefold().split()
        with self.store.reading():
            self.policy.therapist(actor)
            found = []
            for record in self.prompts.all():
                if record.get("retired") and not include_retired:
                    continue
                if theme and theme not in record.get("themes", ()):
                    continue
                if intensity and record.get("intensity") != intensity:
                    continue
                haystack = " ".join(
                    [record["title"], record["instructions"], *record.get("themes", ())]
                ).casefold()
                if any(w not in haystack for w in words):
                    continue
                found.append(Prompt.from_record(record))
        return sorted(found, key=lambda p: (p.retired, p.title.casefold()))

    def history(self, actor: User, prompt_id: str) -> list[dict]:
        """Return earlier versions of a prompt, newest first (therapists)."""
        with self.store.reading():
            self.policy.therapist(actor)
            record = self.prompts.get(prompt_id)
            if record is None:
                raise NotFound()
            return list(reversed(record.get("history", [])))

    # -- curating ----------------------------------------------------------------------------------

    def create(self, actor: User, **fields) -> Prompt:
        """Add a prompt to the library (therapists)."""
        fields = _clean_words(fields)
        title = str(fields.get("title", "")).strip()
        slug = fields.get("slug") or self._slug_for(title)
        spec = _as_spec({**fields, "slug": slug}, "the new prompt")
        with self.store.transaction():
            self.policy.therapist(actor)
            if self.prompts.by("slug", spec.slug):
                raise ValidationError("A prompt with that short name already exists.")
            record = self.prompts.insert(
                {
                    **spec.to_dict(),
                    "retired": False,
                    "source": "therapist",
                    "history": [],
                    "updated_at": self.studio.now().isoformat(),
                    "updated_by": actor.id,
                }
            )
            return Prompt.from_record(record)

    def _slug_for(self, title: str) -> str:
        words = "".join(ch if ch.isalnum() else " " for ch in title.casefold()).split()
        base = "-".join(words[:6]) or "prompt"
        suffix = hashlib.sha256(f"{title}{self.studio.now()}".encode()).hexdigest()[:4]
        return f"{base}-{suffix}"[:60].strip("-")

    def edit(self, actor: User, prompt_id: str, **changes) -> Prompt:
        """Change a prompt; the previous version is kept in its history."""
        with self.store.transaction():
            self.policy.therapist(actor)
            record = self.prompts.get(prompt_id)
            if record is None:
                raise NotFound()
            current = _spec_of(record)
            spec = _as_spec(
                _clean_words({**current, **changes, "slug": record["slug"]}), record["title"]
            )
            if spec.to_dict() == current:
                return Prompt.from_record(record)
            history = [
                *record.get("history", []),
                {**current, "changed_at": self.studio.now().isoformat(), "changed_by": actor.id},
            ]
            updated = self.prompts.update(
                prompt_id,
                **spec.to_dict(),
                history=history,
                updated_at=self.studio.now().isoformat(),
                updated_by=actor.id,
            )
            return Prompt.from_record(updated)

    def retire(self, actor: User, prompt_id: str, retired: bool = True) -> Prompt:
        """Take a prompt out of rotation (or restore it); it stays in the library."""
        with self.store.transaction():
            self.policy.therapist(actor)
            if prompt_id not in self.prompts:
                raise NotFound()
            return Prompt.from_record(self.prompts.update(prompt_id, retired=bool(retired)))

    def import_deck(self, actor: User, toml_text: str, source: str = "upload.toml") -> ImportReport:
        """Add or update prompts from a deck file; nothing changes if any of it is wrong."""
        self.policy.therapist(actor)
        try:
            deck = parse_deck(toml_text, source)
            specs = [
                PromptSpec.from_dict(_clean_words(spec.to_dict()), source) for spec in deck.prompts
            ]
        except DeckError as exc:
            raise ValidationError(f"Nothing was imported. {exc}") from exc
        added, changed, unchanged = [], [], []
        now = self.studio.now().isoformat()
        with self.store.transaction():
            self.policy.therapist(actor)
            for spec in specs:
                existing = self.prompts.by("slug", spec.slug)
                if not existing:
                    self.prompts.insert(
                        {
                            **spec.to_dict(),
                            "retired": False,
                            "source": "import",
                            "history": [],
                            "updated_at": now,
                            "updated_by": actor.id,
                        }
                    )
                    added.append(spec.slug)
                    continue
                record = existing[0]
                if _spec_of(record) == spec.to_dict():
                    unchanged.append(spec.slug)
                    continue
                history = [
                    *record.get("history", []),
                    {**_spec_of(record), "changed_at": now, "changed_by": actor.id},
                ]
                self.prompts.update(
                    record["id"],
                    **spec.to_dict(),
                    history=history,
                    updated_at=now,
                    updated_by=actor.id,
                )
                changed.append(spec.slug)
        return ImportReport(tuple(added), tuple(changed), tuple(unchanged))

    def export_deck(self, actor: User, theme: str) -> str:
        """Return one theme's deck (prompts whose first theme it is) as a deck file."""
        if theme not in THEMES:
            raise ValidationError("Choose one of the library's themes to export.")
        prompts = self.library(actor, theme=theme)
        specs = [_as_spec(_spec_of(self.prompts.get(p.id)), p.title) for p in prompts]
        specs = [s for s in specs if s.themes[0] == theme]
        return dump_deck(
            theme,
            f"Kindred Canvas prompts: {THEME_TITLES[theme]}",
            "Exported from Kindred Canvas.",
            specs,
        )

    # -- schedules and today's prompt --------------------------------------------------------------

    def _circle(self, circle_id: str) -> Circle:
        record = self.circles.get(circle_id)
        if record is None:
            raise NotFound()
        return Circle.from_record(record)

    def _pool(self, circle: Circle) -> tuple[str, ...]:
        entries = [
            (
                r["id"],
                tuple(r.get("themes", ())),
                r.get("intensity", "gentle"),
                bool(r.get("retired")),
            )
            for r in self.prompts.all()
            if r.get("intensity") in INTENSITIES
        ]
        return eligible_pool(entries, circle.themes, circle.allow_deep)

    def schedule(self, circle_id: str) -> Schedule:
        """Return a circle's pins, series and skips."""
        pins, series, skips = [], [], set()
        for record in self.schedules.by("circle", circle_id):
            if record["kind"] == "pin":
                pins.append(
                    Pin(
                        date.fromisoformat(record["start"]),
                        date.fromisoformat(record["end"]),
                        record["prompt_id"],
                    )
                )
            elif record["kind"] == "series":
                series.append(
                    Series(
                        date.fromisoformat(record["start"]),
                        tuple(record["prompt_ids"]),
                        record["every_days"],
                        record.get("title", ""),
                    )
                )
            elif record["kind"] == "skip":
                skips.add(date.fromisoformat(record["day"]))
        return Schedule(tuple(pins), tuple(series), frozenset(skips))

    def today(self, actor: User, circle_id: str) -> TodaysPrompt | None:
        """Return today's prompt for a circle (the same for everyone in it)."""
        with self.store.reading():
            self.policy.member(actor, circle_id)
            circle = self._circle(circle_id)
            day = local_day(self.studio.now(), circle.timezone)
            choice = todays_prompt(day, self._pool(circle), circle.id, self.schedule(circle.id))
            return self._todays(choice, day)

    def _todays(self, choice: Choice | None, day: date) -> TodaysPrompt | None:
        if choice is None:
            return None
        prompt = self.find(choice.prompt_id)
        return TodaysPrompt(prompt, day, choice.reason) if prompt else None

    def plan(self, actor: User, circle_id: str, days: int = 14) -> list[ScheduledDay]:
        """Return the next days' prompts for a circle (its facilitators)."""
        with self.store.reading():
            self.policy.facilitator(actor, circle_id, therapist_only=False)
            circle = self._circle(circle_id)
            schedule = self.schedule(circle.id)
            start = local_day(self.studio.now(), circle.timezone)
            return [
                ScheduledDay(
                    day,
                    self.find(choice.prompt_id) if choice else None,
                    choice.reason if choice else "none",
                    day in schedule.skips,
                )
                for day, choice in upcoming(start, days, self._pool(circle), circle.id, schedule)
            ]

    def past(self, actor: User, circle_id: str, days: int = 14) -> list[TodaysPrompt]:
        """Return the circle's prompts of the days before today, newest first (yesterday first).

        Only days the circle has existed count: a circle made today has no earlier prompts.
        """
        with self.store.reading():
            self.policy.member(actor, circle_id)
            circle = self._circle(circle_id)
            today = local_day(self.studio.now(), circle.timezone)
            # A circle's history only changes with the day, its settings, its plan or the
            # library: cached under those (every gallery render asks for four weeks of it).
            key = (circle_id, today, days, self.store.versions(*PAST_DEPENDS_ON))
            cacheable = not self.store.in_transaction()  # uncommitted changes may roll back
            if cacheable and key in self._past_cache:
                return list(self._past_cache[key])
            start = max(today - timedelta(days=days), self._first_day(circle, today))
            rows = upcoming(
                start, (today - start).days, self._pool(circle), circle.id, self.schedule(circle.id)
            )
            result = [self._todays(choice, day) for day, choice in rows]
            found = [r for r in reversed(result) if r is not None]
            if cacheable:
                if len(self._past_cache) >= PAST_CACHE_SIZE:
                    self._past_cache.clear()
                self._past_cache[key] = tuple(found)
            return found

    def _first_day(self, circle: Circle, today: date) -> date:
        """Return the circle's first day, in its own time zone (today if unknown)."""
        if circle.created_at is None:
            return today
        return min(today, local_day(circle.created_at, circle.timezone))

    def another(self, actor: User, circle_id: str, *, exclude: str | None = None) -> Prompt | None:
        """Draw a different prompt from the circle's pool, avoiding ones done recently."""
        with self.store.transaction():
            self.policy.member(actor, circle_id)
            circle = self._circle(circle_id)
            since = (self.studio.now() - timedelta(days=RECENT_DAYS)).isoformat()
            recent = {
                r.get("prompt_id")
                for r in self.artworks.by("user", actor.id)
                if r.get("created_at", "") >= since and r.get("prompt_id")
            }
            draws = [r for r in self.draws.by("user", actor.id) if r["at"] >= since]
            recent |= {r["prompt_id"] for r in draws}
            seed = f"{actor.id}:{circle.id}:{len(draws)}"
            chosen = another_prompt(self._pool(circle), recent, seed, exclude)
            if chosen is None:
                return None
            self.draws.insert(
                {
                    "user_id": actor.id,
                    "circle_id": circle.id,
                    "prompt_id": chosen,
                    "at": self.studio.now().isoformat(),
                }
            )
            return self.find(chosen)

    def _plan_entry(self, actor: User, circle_id: str, record: dict) -> None:
        with self.store.transaction():
            # Therapists only: a pin or series bypasses the circle's themes and its
            # deep-prompt setting, which only the therapist may choose.
            self.policy.facilitator(actor, circle_id, therapist_only=True)
            self.policy.writable_circle(circle_id)
            self.schedules.insert(
                {
                    "circle_id": circle_id,
                    **record,
                    "created_by": actor.id,
                    "created_at": self.studio.now().isoformat(),
                }
            )

    def pin(
        self, actor: User, circle_id: str, prompt_id: str, start: date, end: date | None = None
    ) -> None:
        """Show a prompt on a day, or every day of a range."""
        end = end or start
        if end < start:
            raise ValidationError("The range ends before it starts.")
        if prompt_id not in self.prompts:
            raise NotFound("That prompt isn't in the library.")
        self._plan_entry(
            actor,
            circle_id,
            {
                "kind": "pin",
                "start": start.isoformat(),
                "end": end.isoformat(),
                "prompt_id": prompt_id,
            },
        )

    def skip(self, actor: User, circle_id: str, day: date) -> None:
        """Skip the rotation's prompt on a day (the next one comes instead)."""
        self._plan_entry(actor, circle_id, {"kind": "skip", "day": day.isoformat()})

    def queue_series(
        self,
        actor: User,
        circle_id: str,
        prompt_ids: list[str],
        start: date,
        every_days: int = 7,
        title: str = "",
    ) -> None:
        """Queue an arc of prompts, each shown for ``every_days`` days from ``start``."""
        if not prompt_ids:
            raise ValidationError("Choose at least one prompt for the series.")
        if any(p not in self.prompts for p in prompt_ids):
            raise NotFound("A prompt in that series isn't in the library.")
        if not 1 <= int(every_days) <= 28:
            raise ValidationError("Each prompt can run from 1 to 28 days.")
        self._plan_entry(
            actor,
            circle_id,
            {
                "kind": "series",
                "start": start.isoformat(),
                "prompt_ids": list(prompt_ids),
                "every_days": int(every_days),
                "title": title[:80],
            },
        )

    def plan_entries(self, actor: User, circle_id: str) -> list[dict]:
        """Return a circle's pins, series and skips (with ids, to remove one)."""
        with self.store.reading():
            self.policy.facilitator(actor, circle_id, therapist_only=False)
            return [dict(r) for r in self.schedules.by("circle", circle_id)]

    def remove_plan_entry(self, actor: User, entry_id: str) -> None:
        """Remove a pin, series or skip."""
        with self.store.transaction():
            record = self.schedules.get(entry_id)
            if record is None:
                raise NotFound()
            self.policy.facilitator(actor, record["circle_id"], therapist_only=True)
            self.schedules.remove(entry_id)

    def usage(self, actor: User, days: int = 90) -> dict[str, dict[str, int]]:
        """Return per prompt: days shown lately (today too) in the actor's circles, draws, art."""
        with self.store.reading():
            self.policy.therapist(actor)
            circle_ids = self.policy.facilitated_circle_ids(actor, therapist_only=True)
            shown: Counter[str] = Counter()
            for circle_id in circle_ids:
                circle = self._circle(circle_id)
                today = local_day(self.studio.now(), circle.timezone)
                # The last ``days`` days up to and including today, and none before the
                # circle existed: a new circle has shown one prompt, today's.
                start = max(today - timedelta(days=days - 1), self._first_day(circle, today))
                for _day, choice in upcoming(
                    start,
                    (today - start).days + 1 if days > 0 else 0,
                    self._pool(circle),
                    circle.id,
                    self.schedule(circle.id),
                ):
                    if choice:
                        shown[choice.prompt_id] += 1
            running = set(circle_ids)
            drawn = Counter(r["prompt_id"] for r in self.draws.all() if r["circle_id"] in running)
            answered = self.studio.insights.prompt_usage(actor)
            return {
                pid: {
                    "shown_days": shown[pid],
                    "draws": drawn[pid],
                    "artworks": answered.get(pid, {}).get("artworks", 0),
                }
                for pid in set(shown) | set(answered) | set(drawn)
            }
