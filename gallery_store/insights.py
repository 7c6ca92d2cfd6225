"""Insights: group trends for the therapist who runs a circle, never about one person.

Who counts: only people in the circle who said yes to insights
(``Reflections.set_insights_consent``) and are not its therapists. Nobody else's art,
comments, reflections or moods enter any figure here, the CSV downloads included.

How a figure is made (the rule, for the README and for review):

* Figures are **weekly** (Monday to Sunday in the circle's time zone) and appear only once
  the week is over. Moods belong to the week of the "after" check-in.
* A weekly figure is released only when at least ``MIN_GROUP`` consenting people count in it.
* Each person counts **once** in a figure: as "took part", or with their own average mood of
  that week. So one person moves a head-count by at most 1, a sum of moods by at most
  ``MOOD_SPAN`` tenths and a sum of mood changes by at most ``CHANGE_SPAN`` tenths.
* Every released number gets discrete Laplace (two-sided geometric) noise scaled to that
  bound, with the ``EPSILON`` below, drawn from the operating system's CSPRNG
  (``secrets.SystemRandom``). The result is an integer, so no floating-point low bits leak.
* A released number is stored and never drawn again: asking again, adding accounts, changing
  data or toggling consent cannot produce a fresh draw to average away. If someone counted in
  a stored figure later withdraws consent or leaves the circle, that figure is withheld (its
  stored noise is kept, so it comes back unchanged if they say yes again).
* Longer-run figures (mood change overall, per prompt) add up the stored weekly releases;
  adding is free, privacy-wise.

What that guarantees: whatever the therapist knows or controls — other accounts, their
check-ins, who is in the circle — each released weekly number changes its odds by a factor
of at most ``e ** EPSILON`` whether or not one person's data is in it (ε-differential privacy
for that figure, for one person's week). The floor itself is exact, so it can tell a
therapist who controls all other counted accounts *whether* one person took part that week,
never how they felt. Stored weekly releases name people only by a keyed hash with a
per-figure random key, so erasing an account leaves nothing that points at them.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import math
import secrets
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from statistics import fmean
from typing import TYPE_CHECKING, Protocol

from .errors import ValidationError
from .models import User
from .policy import FACILITATOR, Policy
from .reflections import consents, local_date

if TYPE_CHECKING:
    from .studio import Studio

__all__ = [
    "CHANGE_SPAN",
    "EPSILON",
    "MIN_GROUP",
    "MOOD_SPAN",
    "DiscreteLaplace",
    "Insights",
    "to_csv",
]

MIN_GROUP = 3
MAX_WEEKS = 104
# Privacy budget per released number; one person's week costs the sum of what they are in.
EPSILON: dict[str, float] = {
    # participation, one row a week
    "people": 1.0,
    "made_art": 1.0,
    "commented": 1.0,
    "reflected": 1.0,
    # mood before and after making art, a week's check-ins
    "mood_n": 1.0,
    "mood_before": 1.0,
    "mood_after": 1.0,
    # mood change for one prompt in one week
    "prompt_n": 1.0,
    "prompt_change": 1.0,
}
# Moods are 1-5, kept in tenths around the middle (3): one person's week adds -20..20.
MOOD_SPAN = 20
CHANGE_SPAN = 40  # a change is -4..4, in tenths
# z for a two-sided 90% band (normal approximation), for the "give or take" shown.
_Z90 = 1.645
PARTICIPATION = "participation"
ACTIVITIES = ("made_art", "commented", "reflected")
MOODS = "moods"
PROMPT = "prompt:"
# A spreadsheet runs a cell that starts like a formula; a leading quote keeps it text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def to_csv(rows: Iterable[dict]) -> str:
    """Return rows as CSV text with a header row taken from their keys."""
    rows = list(rows)
    header: list[str] = []
    for row in rows:
        header.extend(key for key in row if key not in header)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header)
    if header:
        writer.writeheader()
    for row in rows:
        writer.writerow({key: _cell(value) for key, value in row.items()})
    return buffer.getvalue()


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


# -- noise -----------------------------------------------------------------------------------------


class Noise(Protocol):
    """A source of integer noise for one released number."""

    def draw(self, sensitivity: int, epsilon: float) -> int:
        """Return noise for a number one person moves by at most ``sensitivity``."""
        ...


class DiscreteLaplace:
    """Two-sided geometric noise, P(k) ∝ exp(-ε|k|/Δ), from a cryptographic source."""

    def __init__(self, source: secrets.SystemRandom | None = None) -> None:
        # SystemRandom reads os.urandom: no seed to guess, no state to replay.
        self.source = source or secrets.SystemRandom()

    def draw(self, sensitivity: int, epsilon: float) -> int:
        """Return noise for a number one person moves by at most ``sensitivity``."""
        if sensitivity < 1 or not epsilon > 0:
            raise ValueError("noise needs a positive sensitivity and epsilon")
        alpha = math.exp(-epsilon / sensitivity)
        # The difference of two geometric counts is two-sided geometric (discrete Laplace).
        return self._geometric(alpha) - self._geometric(alpha)

    def _geometric(self, alpha: float) -> int:
        """Return k >= 0 with P(k) = (1 - alpha) * alpha**k (inverse CDF: P(>= k) = alpha**k)."""
        uniform = 1.0 - self.source.random()  # in (0, 1], so the log is finite
        return math.floor(math.log(uniform) / math.log(alpha))


def noise_variance(sensitivity: int, epsilon: float) -> float:
    """Return the variance of ``DiscreteLaplace.draw`` for these settings."""
    alpha = math.exp(-epsilon / sensitivity)
    return 2 * alpha / (1 - alpha) ** 2


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def _tag(key: bytes, user_id: str) -> str:
    return hmac.new(key, user_id.encode(), hashlib.sha256).hexdigest()


# -- the service -----------------------------------------------------------------------------------


class Insights:
    """Consented, aggregated, noised trends for the therapists who run a circle."""

    def __init__(self, studio: Studio) -> None:
        self.studio = studio
        self.store = studio.store
        self.circles = studio.store.collection("circles")
        self.memberships = studio.store.collection("memberships")
        self.users = studio.store.collection("users")
        self.artworks = studio.store.collection("artworks")
        self.comments = studio.store.collection("comments")
        self.reflections = studio.store.collection("reflections")
        self.checkins = studio.store.collection("moods")
        self.prompts = studio.store.collection("prompts")
        self.preferences = studio.store.collection("preferences")
        self.releases = studio.store.collection("insight_releases")
        self.policy = Policy(studio)
        self.noise: Noise = DiscreteLaplace()

    to_csv = staticmethod(to_csv)

    # -- participation ----------------------------------------------------------------------------

    def participation(self, actor: User, circle_id: str, weeks: int = 8) -> list[dict]:
        """Return weekly head-counts of consenting people taking part, oldest week first.

        Each row: ``week_start``; ``people`` who took part at all and how many of them
        ``made_art``, ``commented`` and ``reflected`` (each noised, None when not shown);
        ``shown``; and ``note`` saying why a week is not shown.
        """
        if isinstance(weeks, bool) or not isinstance(weeks, int) or not 1 <= weeks <= MAX_WEEKS:
            raise ValidationError(f"Choose between 1 and {MAX_WEEKS} weeks.")
        with self.store.transaction():
            self._require_runs(actor, circle_id)
            this_week = self._this_week(circle_id)
            starts = [this_week - timedelta(weeks=n) for n in range(weeks - 1, 0, -1)]
            released = self._release(circle_id, starts)
        rows = []
        for start in [*starts, this_week]:
            figure, note = released.get((start, PARTICIPATION), (None, "too few people"))
            if start == this_week:
                note = "this week isn't over yet"
            values = figure or {}
            rows.append(
                {
                    "week_start": start.isoformat(),
                    **{key: values.get(key) for key in ("people", *ACTIVITIES)},
                    "shown": figure is not None,
                    "note": "" if figure is not None else note,
                }
            )
        return rows

    # -- moods ------------------------------------------------------------------------------------

    def mood_change(self, actor: User, circle_id: str) -> dict:
        """Return average moods before and after making art over the finished weeks.

        ``n`` counts people added up over the weeks (a person counts once a week), ``weeks``
        how many weeks were shown, and ``margin`` is a 90% "give or take" on the change.
        """
        with self.store.transaction():
            self._require_runs(actor, circle_id)
            released = self._release(circle_id, self._finished_weeks(circle_id))
        weekly = [fig for (_w, name), (fig, _n) in released.items() if name == MOODS and fig]
        if not weekly:
            return {
                "n": None,
                "weeks": 0,
                "mean_before": None,
                "mean_after": None,
                "mean_change": None,
                "margin": None,
            }
        n = sum(f["n"] for f in weekly)
        before = 3 + sum(f["sum_before"] for f in weekly) / 10 / n
        after = 3 + sum(f["sum_after"] for f in weekly) / 10 / n
        before, after = _clamp(before, 1, 5), _clamp(after, 1, 5)
        variance = len(weekly) * (
            noise_variance(MOOD_SPAN, EPSILON["mood_before"])
            + noise_variance(MOOD_SPAN, EPSILON["mood_after"])
        )
        return {
            "n": n,
            "weeks": len(weekly),
            "mean_before": round(before, 1),
            "mean_after": round(after, 1),
            "mean_change": round(after - before, 1),
            "margin": round(_Z90 * math.sqrt(variance) / 10 / n, 1),
        }

    def prompt_effects(self, actor: User, circle_id: str) -> list[dict]:
        """Return the average mood change per prompt, for prompts shown in some week."""
        with self.store.transaction():
            self._require_runs(actor, circle_id)
            released = self._release(circle_id, self._finished_weeks(circle_id))
            by_prompt: dict[str, list[dict]] = defaultdict(list)
            for (_week, name), (figure, _note) in released.items():
                if name.startswith(PROMPT) and figure:
                    by_prompt[name.removeprefix(PROMPT)].append(figure)
            rows = []
            for prompt_id, weekly in by_prompt.items():
                n = sum(f["n"] for f in weekly)
                change = _clamp(sum(f["sum_change"] for f in weekly) / 10 / n, -4, 4)
                variance = len(weekly) * noise_variance(CHANGE_SPAN, EPSILON["prompt_change"])
                prompt = self.prompts.get(prompt_id)
                rows.append(
                    {
                        "prompt_id": prompt_id,
                        "prompt_title": (prompt or {}).get("title") or "Prompt",
                        "n": n,
                        "mean_change": round(change, 1),
                        "margin": round(_Z90 * math.sqrt(variance) / 10 / n, 1),
                    }
                )
        return sorted(rows, key=lambda row: (row["prompt_title"].casefold(), row["prompt_id"]))

    # -- prompts ----------------------------------------------------------------------------------

    def prompt_usage(self, actor: User) -> dict[str, dict[str, int]]:
        """Return how many consenting people's artworks answered each prompt, in your circles.

        No noise: these are artworks the therapist can already see in the gallery.
        """
        with self.store.reading():
            self.policy.therapist(actor)
            usage: dict[str, dict[str, int]] = {}
            for circle_id in self.policy.facilitated_circle_ids(actor, therapist_only=True):
                counted = self._counted_people(circle_id)
                for artwork in self.artworks.by("circle", circle_id):
                    prompt_id = artwork.get("prompt_id")
                    if prompt_id is None or artwork.get("status") == "removed":
                        continue
                    if artwork["user_id"] not in counted:
                        continue
                    usage.setdefault(prompt_id, {"artworks": 0})["artworks"] += 1
            return usage

    # -- releasing figures ------------------------------------------------------------------------

    def _release(
        self, circle_id: str, weeks: list[date]
    ) -> dict[tuple[date, str], tuple[dict | None, str]]:
        """Return each (week, figure) as (values or None, why not shown); store new releases.

        A figure already stored is never drawn again; one not stored yet is drawn now if
        enough consenting people count in it. Call inside a transaction.
        """
        counted = self._counted_people(circle_id)
        wanted = set(weeks)
        true = self._true_figures(circle_id, counted, wanted)
        stored = {
            (date.fromisoformat(r["week_start"]), r["figure"]): r
            for r in self.releases.by("circle", circle_id)
            if date.fromisoformat(r["week_start"]) in wanted
        }
        result: dict[tuple[date, str], tuple[dict | None, str]] = {}
        for key in set(true) | set(stored):
            record = stored.get(key)
            if record is not None:
                salt = bytes.fromhex(record["salt"])
                still = {_tag(salt, user_id) for user_id in counted}
                if set(record["counted"]) <= still:
                    result[key] = (record["values"], "")
                else:
                    result[key] = (None, "someone counted has since left or said no")
                continue
            people, inputs = true[key]
            if len(people) < MIN_GROUP:
                result[key] = (None, "too few people")
                continue
            values = self._noised(key[1], inputs)
            salt = secrets.token_bytes(16)
            self.releases.insert(
                {
                    "circle_id": circle_id,
                    "week_start": key[0].isoformat(),
                    "figure": key[1],
                    "values": values,
                    "salt": salt.hex(),
                    "counted": sorted(_tag(salt, user_id) for user_id in people),
                    "released_at": self.studio.now().isoformat(),
                }
            )
            result[key] = (values, "")
        return result

    def _noised(self, figure: str, inputs: dict) -> dict:
        """Return a figure's numbers with fresh noise, rounded and clamped."""
        draw = self.noise.draw
        if figure == PARTICIPATION:
            people = max(MIN_GROUP, inputs["people"] + draw(1, EPSILON["people"]))
            # The floor is public (the figure shows), so clamping to it costs no privacy.
            return {
                "people": people,
                **{
                    key: int(_clamp(inputs[key] + draw(1, EPSILON[key]), 0, people))
                    for key in ACTIVITIES
                },
            }
        n_key = "mood_n" if figure == MOODS else "prompt_n"
        n = max(MIN_GROUP, inputs["n"] + draw(1, EPSILON[n_key]))
        if figure == MOODS:
            return {
                "n": n,
                "sum_before": inputs["sum_before"] + draw(MOOD_SPAN, EPSILON["mood_before"]),
                "sum_after": inputs["sum_after"] + draw(MOOD_SPAN, EPSILON["mood_after"]),
            }
        return {
            "n": n,
            "sum_change": inputs["sum_change"] + draw(CHANGE_SPAN, EPSILON["prompt_change"]),
        }

    def _true_figures(
        self, circle_id: str, counted: set[str], weeks: set[date]
    ) -> dict[tuple[date, str], tuple[set[str], dict]]:
        """Return per (week, figure) the people in it and its exact, bounded inputs."""
        timezone = self._timezone(circle_id)

        def week_of(at: str) -> date:
            return _monday(date.fromisoformat(local_date(datetime.fromisoformat(at), timezone)))

        # Participation: who made art, commented or wrote a reflection, each once a week.
        did: dict[date, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))

        def note(kind: str, record: dict) -> None:
            if record["user_id"] not in counted or record.get("status") == "removed":
                return
            week = week_of(record["created_at"])
            if week in weeks:
                did[week][kind].add(record["user_id"])

        for artwork in self.artworks.by("circle", circle_id):
            note("made_art", artwork)
            for comment in self.comments.by("artwork", artwork["id"]):
                note("commented", comment)
        for user_id in counted:
            for reflection in self.reflections.by("user", user_id):
                if reflection.get("circle_id") == circle_id:
                    note("reflected", reflection)

        figures: dict[tuple[date, str], tuple[set[str], dict]] = {}
        for week, kinds in did.items():
            people = set().union(*kinds.values())
            figures[(week, PARTICIPATION)] = (
                people,
                {"people": len(people), **{key: len(kinds[key]) for key in ACTIVITIES}},
            )

        # Moods: each person's own average of the week, in tenths, so they count once.
        moods: dict[date, dict[str, list[tuple[int, int]]]] = defaultdict(lambda: defaultdict(list))
        changes: dict[tuple[date, str], dict[str, list[int]]] = defaultdict(
            lambda: defaultdict(list)
        )
        for user_id, prompt_id, before, after, at in self._pairs(circle_id, counted):
            week = week_of(at)
            if week not in weeks:
                continue
            moods[week][user_id].append((before, after))
            if prompt_id is not None:
                changes[(week, prompt_id)][user_id].append(after - before)
        for week, by_person in moods.items():
            befores = [round(fmean(b for b, _a in p) * 10) - 30 for p in by_person.values()]
            afters = [round(fmean(a for _b, a in p) * 10) - 30 for p in by_person.values()]
            figures[(week, MOODS)] = (
                set(by_person),
                {
                    "n": len(by_person),
                    "sum_before": sum(int(_clamp(v, -MOOD_SPAN, MOOD_SPAN)) for v in befores),
                    "sum_after": sum(int(_clamp(v, -MOOD_SPAN, MOOD_SPAN)) for v in afters),
                },
            )
        for (week, prompt_id), by_person in changes.items():
            tenths = [round(fmean(c) * 10) for c in by_person.values()]
            figures[(week, PROMPT + prompt_id)] = (
                set(by_person),
                {
                    "n": len(by_person),
                    "sum_change": sum(int(_clamp(v, -CHANGE_SPAN, CHANGE_SPAN)) for v in tenths),
                },
            )
        return figures

    def _pairs(
        self, circle_id: str, counted: set[str]
    ) -> list[tuple[str, str | None, int, int, str]]:
        """Pair each counted person's after check-in with their latest open before.

        Returns (user_id, prompt_id, before, after, when the after was checked in).
        """
        timezone = self._timezone(circle_id)
        by_person: dict[str, list[dict]] = defaultdict(list)
        for record in self.checkins.by("circle", circle_id):
            if record["user_id"] in counted:
                by_person[record["user_id"]].append(record)
        pairs = []
        for user_id, checkins in by_person.items():
            open_befores: list[tuple[str, str | None, int]] = []
            for record in sorted(checkins, key=lambda r: r["created_at"]):
                day = local_date(datetime.fromisoformat(record["created_at"]), timezone)
                prompt_id = record.get("prompt_id")
                if record["moment"] == "before":
                    open_befores.append((day, prompt_id, record["score"]))
                    continue
                # Same day, or the same prompt answered across midnight.
                for i in range(len(open_befores) - 1, -1, -1):
                    b_day, b_prompt, b_score = open_befores[i]
                    if b_day == day or (prompt_id is not None and b_prompt == prompt_id):
                        del open_befores[i]
                        pairs.append(
                            (
                                user_id,
                                prompt_id or b_prompt,
                                b_score,
                                record["score"],
                                record["created_at"],
                            )
                        )
                        break
        return pairs

    # -- helpers ----------------------------------------------------------------------------------

    def _require_runs(self, actor: User, circle_id: str) -> None:
        self.policy.therapist(actor)
        self.policy.facilitator(actor, circle_id, therapist_only=True)

    def _timezone(self, circle_id: str) -> str:
        circle = self.circles.get(circle_id) or {}
        return circle.get("timezone") or "UTC"

    def _this_week(self, circle_id: str) -> date:
        today = local_date(self.studio.now(), self._timezone(circle_id))
        return _monday(date.fromisoformat(today))

    def _finished_weeks(self, circle_id: str) -> list[date]:
        """Return the circle's weeks that are over, oldest first (at most ``MAX_WEEKS``)."""
        this_week = self._this_week(circle_id)
        circle = self.circles.get(circle_id) or {}
        created = circle.get("created_at")
        first = (
            _monday(
                date.fromisoformat(
                    local_date(datetime.fromisoformat(created), self._timezone(circle_id))
                )
            )
            if created
            else this_week - timedelta(weeks=MAX_WEEKS)
        )
        first = max(first, this_week - timedelta(weeks=MAX_WEEKS))
        count = (this_week - first).days // 7
        return [first + timedelta(weeks=n) for n in range(count)]

    def _counted_people(self, circle_id: str) -> set[str]:
        """Return who may count: the circle's non-therapist members who said yes."""
        return {
            m["user_id"]
            for m in self.memberships.by("circle", circle_id)
            if m["role"] != FACILITATOR
            and m["user_id"] in self.users
            and consents(self.preferences, m["user_id"])
        }
