"""One decision about a piece of writing: which tier of support it calls for.

``assess`` reads the text (``normalize``), finds phrases of risk and their scope (``rules``),
and scores every sentence, every pair of neighbouring sentences and the whole text with the
statistical layer (``model``), so a crisis line buried in 400 words of an ordinary day is still
found. The tiers:

1. *At risk now*: the writer. Calm words and resources at once, and an urgent flag.
2. *Worried about someone*: a named other person at risk now, or a carer's fear of harming the
   person they look after. Resources for helping someone else, and a flag.
3. *Mention*: suicide or self-harm talked about with no present risk (awareness, the past,
   negated, grief, training, titles, jokes). Nothing shown to the writer.

0 is everything else.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import normalize, rules
from .model import Model, features, load_model

__all__ = [
    "AT_RISK",
    "MENTION",
    "NONE",
    "TIER_NAMES",
    "WORRIED",
    "Assessment",
    "Reading",
    "assess",
    "read",
    "window_scores",
]

NONE, AT_RISK, WORRIED, MENTION = 0, 1, 2, 3
TIER_NAMES = {
    NONE: "nothing of concern",
    AT_RISK: "may be at risk now",
    WORRIED: "worried about someone",
    MENTION: "mentions suicide or self-harm",
}
# What a facilitator is told each tier is about, by the rule that fired (no private words).
_KIND_LABELS = {
    "ideation": "thoughts of suicide",
    "self_harm": "self-harm",
    "overdose_taken": "an overdose or too many pills",
    "means": "the means to harm themself",
    "plan": "a plan, place or time",
    "goodbye": "words of goodbye",
    "arrangements": "final arrangements",
    "eating_disorder": "eating-disorder danger",
    "hurt_now": "being hurt or threatened",
    "caregiver_harm": "fear of harming the person they care for",
    "other_at_risk": "someone else at risk",
}
_DEFAULT_THRESHOLDS: dict = {AT_RISK: 0.5, WORRIED: 0.5, MENTION: 0.5, "strong": 0.0}
_MAX_SENTENCES = 400  # a 5,000-character reflection has far fewer; this bounds the work


@dataclass(frozen=True)
class Assessment:
    """What the detector decided about one text, and why, without the text itself."""

    tier: int
    kind: str = ""  # what it seems to be about, in a facilitator's words ("" for tier 0)
    score: float = 0.0  # the model's probability for the tier chosen
    sentence: int | None = None  # which sentence decided it (0-based), if one did
    rule: str = ""  # the rule that fired, if any ("overdose_taken", "ideation:neg")

    @property
    def urgent(self) -> bool:
        """Say whether the writer may be at risk now."""
        return self.tier == AT_RISK

    @property
    def supportive(self) -> bool:
        """Say whether resources should be shown to the writer (tiers 1 and 2)."""
        return self.tier in (AT_RISK, WORRIED)

    @property
    def label(self) -> str:
        """Return the tier in a facilitator's words."""
        return TIER_NAMES[self.tier]


NOTHING = Assessment(NONE)


# Words: a text up to this long is read whole, as the model was trained (its sentences alone
# would add false alarms, measured by writer on the development set).
SHORT_TEXT = 200
# A clear first-person statement of risk ("I want to kill myself") is tier 1 unless the model
# all but rules it out; the model alone cannot tell it from the same words as a joke.
CLEAR_BAR = 0.1


def _windows(count: int, long: bool = True) -> list[tuple[int, int]]:
    """Return the runs of sentences to score: the whole text, and in a long one each sentence
    and each neighbouring pair too, so one line of risk in 400 words is not averaged away."""
    spans = [(0, max(count, 1))]
    if long and count > 1:
        spans += [(index, index + 1) for index in range(count)]
        spans += [(index, index + 2) for index in range(count - 1)]
    return spans


@dataclass(frozen=True)
class Reading:
    """A text read once: per sentence, its features and the phrases of risk found in it."""

    features: tuple[frozenset[str], ...]
    signals: tuple[tuple[rules.Signal, ...], ...]
    words: int = 0


def read(text: str) -> Reading:
    """Read a text into sentences, their features and their signals (training reads alike)."""
    pieces = normalize.sentences(text)[:_MAX_SENTENCES] or [text]
    readings = [reading.removesuffix(" .") for reading in normalize.readings(pieces)]
    # The rules run once over the whole text, so scope ("years ago", "again") can cross
    # from one sentence to the next; each signal is then given back to its sentence.
    owner: list[int] = []
    for index, reading in enumerate(readings):
        owner.extend([index] * (reading.count(" . ") + 1))
    per_sentence: list[list[rules.Signal]] = [[] for _ in readings]
    for signal in rules.signals(" . ".join(readings)):
        per_sentence[owner[signal.clause]].append(signal)
    sets = tuple(
        frozenset(features(reading, (signal.name for signal in found)))
        for reading, found in zip(readings, per_sentence, strict=True)
    )
    words = sum(reading.count(" ") + 1 for reading in readings)
    return Reading(sets, tuple(tuple(found) for found in per_sentence), words)


def window_scores(
    model: Model, reading: Reading, lift: float | None = None
) -> dict[int, tuple[float, int | None]]:
    """Return, per tier, the highest probability of any window and the sentence it starts at.

    A part of a long text must clear a higher bar (``lift``) than the whole of it, since one
    sentence alone is easier to misread than a whole message.
    """
    if lift is None:
        lift = float(model.meta.get("window_lift", 0.0))
    totals, counts = model.contributions(reading.features)
    spans = _windows(len(counts), long=reading.words > SHORT_TEXT)
    # A window's weights are its sentences' summed: the features are binary and additive,
    # so every window is scored without reading it again.
    cumulative = np.vstack([np.zeros((1, totals.shape[1])), np.cumsum(totals, axis=0)])
    sizes = np.concatenate([[0.0], np.cumsum(counts)])
    starts = np.array([start for start, _ in spans])
    ends = np.array([end for _, end in spans])
    probabilities = model.window_probabilities(
        cumulative[ends] - cumulative[starts], sizes[ends] - sizes[starts]
    )
    probabilities[1:] -= lift  # the first span is always the whole text
    best: dict[int, tuple[float, int | None]] = {}
    for tier in (AT_RISK, WORRIED, MENTION):
        if tier not in model.classes:
            best[tier] = (0.0, None)
            continue
        column = probabilities[:, model.classes.index(tier)]
        top = int(column.argmax())
        best[tier] = (float(column[top]), int(starts[top]))
    return best


def clear_statement(signals: tuple[tuple[rules.Signal, ...], ...]) -> rules.Signal | None:
    """Return a decisive phrase of risk in a text with nothing that could make it a mention.

    "I want to kill myself", "I took 30 paracetamol": first person, present, and no negation,
    past, title, joke or training anywhere in the text. These are tier 1 whatever the model
    says: a safety net must not weigh them against how often jokes use the same words.
    """
    flat = [signal for found in signals for signal in found]
    if any(not signal.live or signal.kind == "context" for signal in flat):
        return None
    return rules.strong(flat)


def signal_level(reading: Reading) -> int:
    """Return 3 for a clear statement of risk, 2 if a decisive rule fires, 1 if any phrase of
    risk does, else 0."""
    if clear_statement(reading.signals) is not None:
        return 3
    if any(rules.strong(list(found)) for found in reading.signals):
        return 2
    return int(any(s.kind != "context" for found in reading.signals for s in found))


def assess(text: str, model: Model | None = None) -> Assessment:
    """Return the tier of support ``text`` calls for."""
    if not text or not text.strip():
        return NOTHING
    model = model or load_model()
    thresholds = {**_DEFAULT_THRESHOLDS, **_thresholds(model)}
    reading = read(text)
    found = reading.signals
    best = window_scores(model, reading)
    clear = clear_statement(found)
    if clear is not None and best[AT_RISK][0] >= CLEAR_BAR:
        return Assessment(
            AT_RISK,
            kind=_KIND_LABELS.get(clear.kind, "thoughts of suicide"),
            score=best[AT_RISK][0],
            sentence=clear.clause if len(found) == 1 else _sentence_of(found, clear),
            rule=clear.name,
        )
    decisive = None
    if model.meta.get("strong_rules", True) and best[AT_RISK][0] >= thresholds["strong"]:
        # A present, first-person phrase of risk lowers the bar the model must clear.
        for index, signals in enumerate(found):
            decisive = rules.strong(list(signals))
            if decisive is not None:
                return Assessment(
                    AT_RISK,
                    kind=_KIND_LABELS.get(decisive.kind, "thoughts of suicide"),
                    score=best[AT_RISK][0],
                    sentence=index,
                    rule=decisive.name,
                )
    all_signals = [signal for signals in found for signal in signals]
    # With no phrase of risk at all, the model alone must be surer (fewer false alarms on
    # ordinary words, measured by writer on the development set).
    signalled = any(signal.kind != "context" for signal in all_signals)
    bars = {
        AT_RISK: thresholds[AT_RISK] if signalled else thresholds.get("unsignalled", 0.5),
        WORRIED: thresholds[WORRIED],
    }
    order = (AT_RISK, WORRIED)
    if model.meta.get("compare_tiers") and best[WORRIED][0] > best[AT_RISK][0]:
        order = (WORRIED, AT_RISK)  # both may pass: the likelier one decides
    for tier in order:
        score, sentence = best[tier]
        if score >= bars[tier]:
            return Assessment(
                tier,
                kind=_kind_for(tier, found[sentence] if sentence is not None else all_signals),
                score=score,
                sentence=sentence,
                rule=_first_rule(found[sentence] if sentence is not None else ()),
            )
    score, sentence = best[MENTION]
    mentioned = any(signal.kind != "context" for signal in all_signals)
    if score >= thresholds[MENTION] or mentioned:
        return Assessment(MENTION, kind="a mention", score=score, sentence=sentence)
    return NOTHING


def _sentence_of(found: tuple[tuple[rules.Signal, ...], ...], wanted: rules.Signal) -> int:
    for index, signals in enumerate(found):
        if wanted in signals:
            return index
    return 0


def _thresholds(model: Model) -> dict:
    raw = model.meta.get("thresholds", {})
    return {(int(key) if key.isdigit() else key): float(value) for key, value in raw.items()}


def _first_rule(signals: tuple[rules.Signal, ...]) -> str:
    return signals[0].name if signals else ""


def _kind_for(tier: int, signals: tuple[rules.Signal, ...] | list[rules.Signal]) -> str:
    """Return what a flag is about, in a facilitator's words."""
    for signal in signals:
        if tier == WORRIED and signal.kind in ("caregiver_harm", "other_at_risk"):
            return _KIND_LABELS[signal.kind]
        if tier == AT_RISK and signal.kind in _KIND_LABELS and signal.live:
            return _KIND_LABELS[signal.kind]
    return "someone else at risk" if tier == WORRIED else "signs of risk"
