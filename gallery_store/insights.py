"""Insights: group trends for the therapist who runs a circle, never about one person.

Everything here is an aggregate over at least ``MIN_GROUP`` people; below that a figure is
``None`` ("too few to show"), so nobody can be picked out of a small group. Moods count only
for people who said yes to it (``Reflections.set_insights_consent``), and the therapists'
own activity is left out, so the numbers describe the participants.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from statistics import fmean
from typing import TYPE_CHECKING

from .errors import ValidationError
from .models import User
from .policy import FACILITATOR, Policy
from .reflections import consents, local_date

if TYPE_CHECKING:
    from .studio import Studio

__all__ = ["MIN_GROUP", "Insights", "to_csv"]

MIN_GROUP = 3
MAX_WEEKS = 104
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


class Insights:
    """Consented, aggregated trends for the therapists who run a circle."""

    def __init__(self, studio: Studio) -> None:
        self.studio = studio
        self.store = studio.store
        self.circles = studio.store.collection("circles")
        self.memberships = studio.store.collection("memberships")
        self.artworks = studio.store.collection("artworks")
        self.comments = studio.store.collection("comments")
        self.reflections = studio.store.collection("reflections")
        self.checkins = studio.store.collection("moods")
        self.prompts = studio.store.collection("prompts")
        self.preferences = studio.store.collection("preferences")
        self.policy = Policy(studio)

    to_csv = staticmethod(to_csv)

    # -- participation ----------------------------------------------------------------------------

    def participation(self, actor: User, circle_id: str, weeks: int = 8) -> list[dict]:
        """Return weekly counts of artworks, comments and reflections, oldest week first."""
        if isinstance(weeks, bool) or not isinstance(weeks, int) or not 1 <= weeks <= MAX_WEEKS:
            raise ValidationError(f"Choose between 1 and {MAX_WEEKS} weeks.")
        with self.store.reading():
            self._require_runs(actor, circle_id)
            timezone = self._timezone(circle_id)
            this_week = _monday(date.fromisoformat(local_date(self.studio.now(), timezone)))
            starts = [this_week - timedelta(weeks=n) for n in range(weeks - 1, -1, -1)]
            counts = {start: {"artworks": 0, "comments": 0, "reflections": 0} for start in starts}
            people: dict[date, set[str]] = {start: set() for start in starts}
            therapists = self._therapists(circle_id)

            def count(kind: str, record: dict) -> None:
                if record["user_id"] in therapists or record.get("status") == "removed":
                    return
                at = datetime.fromisoformat(record["created_at"])
                week = _monday(date.fromisoformat(local_date(at, timezone)))
                if week in counts:
                    counts[week][kind] += 1
                    people[week].add(record["user_id"])

            for artwork in self.artworks.by("circle", circle_id):
                count("artworks", artwork)
                for comment in self.comments.by("artwork", artwork["id"]):
                    count("comments", comment)
            for reflection in self.reflections.find(circle_id=circle_id):
                count("reflections", reflection)

            rows = []
            for start in starts:
                shown = len(people[start]) >= MIN_GROUP
                rows.append(
                    {
                        "week_start": start.isoformat(),
                        **{k: (v if shown else None) for k, v in counts[start].items()},
                        "people": len(people[start]) if shown else None,
                        "too_few": not shown,
                    }
                )
            return rows

    # -- moods ------------------------------------------------------------------------------------

    def mood_change(self, actor: User, circle_id: str) -> dict:
        """Return mean moods before and after making art, over consenting participants."""
        with self.store.reading():
            self._require_runs(actor, circle_id)
            pairs = self._pairs(circle_id)
        people = {user_id for user_id, _prompt, _before, _after in pairs}
        if len(people) < MIN_GROUP:
            return {"n_people": None, "mean_before": None, "mean_after": None, "mean_change": None}
        before = fmean(b for _u, _p, b, _a in pairs)
        after = fmean(a for _u, _p, _b, a in pairs)
        return {
            "n_people": len(people),
            "mean_before": before,
            "mean_after": after,
            "mean_change": fmean(a - b for _u, _p, b, a in pairs),
        }

    def prompt_effects(self, actor: User, circle_id: str) -> list[dict]:
        """Return the mean mood change per prompt, only for prompts with enough people."""
        with self.store.reading():
            self._require_runs(actor, circle_id)
            by_prompt: dict[str, list[tuple[str, int, int]]] = defaultdict(list)
            for user_id, prompt_id, before, after in self._pairs(circle_id):
                if prompt_id is not None:
                    by_prompt[prompt_id].append((user_id, before, after))
            rows = []
            for prompt_id, pairs in by_prompt.items():
                n = len({user_id for user_id, _b, _a in pairs})
                if n < MIN_GROUP:
                    continue
                prompt = self.prompts.get(prompt_id)
                rows.append(
                    {
                        "prompt_id": prompt_id,
                        "prompt_title": (prompt or {}).get("title") or "Prompt",
                        "n": n,
                        "mean_change": fmean(a - b for _u, b, a in pairs),
                    }
                )
            return sorted(rows, key=lambda row: (row["prompt_title"].casefold(), row["prompt_id"]))

    def _pairs(self, circle_id: str) -> list[tuple[str, str | None, int, int]]:
        """Pair each consenting participant's after check-in with their latest open before."""
        timezone = self._timezone(circle_id)
        therapists = self._therapists(circle_id)
        by_person: dict[str, list[dict]] = defaultdict(list)
        for record in self.checkins.by("circle", circle_id):
            by_person[record["user_id"]].append(record)
        pairs = []
        for user_id, checkins in by_person.items():
            if user_id in therapists or not consents(self.preferences, user_id):
                continue
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
                        pairs.append((user_id, prompt_id or b_prompt, b_score, record["score"]))
                        break
        return pairs

    # -- prompts ----------------------------------------------------------------------------------

    def prompt_usage(self, actor: User) -> dict[str, dict[str, int]]:
        """Return how many artworks answered each prompt across the circles you run."""
        with self.store.reading():
            self.policy.therapist(actor)
            usage: dict[str, dict[str, int]] = {}
            for circle_id in self.policy.facilitated_circle_ids(actor, therapist_only=True):
                for artwork in self.artworks.by("circle", circle_id):
                    prompt_id = artwork.get("prompt_id")
                    if prompt_id is None or artwork.get("status") == "removed":
                        continue
                    usage.setdefault(prompt_id, {"artworks": 0})["artworks"] += 1
            return usage

    # -- helpers ----------------------------------------------------------------------------------

    def _require_runs(self, actor: User, circle_id: str) -> None:
        self.policy.therapist(actor)
        self.policy.facilitator(actor, circle_id, therapist_only=True)

    def _timezone(self, circle_id: str) -> str:
        circle = self.circles.get(circle_id) or {}
        return circle.get("timezone") or "UTC"

    def _therapists(self, circle_id: str) -> set[str]:
        return {
            m["user_id"]
            for m in self.memberships.by("circle", circle_id)
            if m["role"] == FACILITATOR
        }
