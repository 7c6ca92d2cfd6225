"""The statistical layer: word and character n-grams with multinomial logistic regression.

The weights were trained with scikit-learn on the development set (``safety/train.py``) and are
shipped as a reviewed data file, ``crisis_model.json``, with their provenance: the data's hash,
the settings and the cross-validated scores. Inference needs nothing but this module: a text's
features are looked up and summed, so any run of sentences can be scored without re-reading
it (the features are binary and L2-normalised, so a window's score is its features' weights
summed and divided by the square root of how many there are).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = ["MODEL_FILE", "Model", "features", "load_model"]

MODEL_FILE = Path(__file__).with_name("crisis_model.json")
CHAR_SIZES: tuple[int, ...] = ()


def _number(token: str) -> str:
    return "<num>" if token[:1].isdigit() else token


@lru_cache(maxsize=65536)
def _word_features(word: str) -> tuple[str, ...]:
    """Return a word's own features: the word and its runs of three to five letters."""
    padded = f" {word} "
    runs = [
        "c:" + padded[start : start + size]
        for size in CHAR_SIZES
        for start in range(len(padded) - size + 1)
    ]
    return ("w:" + word, *runs)


# Words that turn what follows in the clause around ("not", "never") or into the past.
_NEGATORS = frozenset(
    [
        "not",
        "never",
        "no",
        "dont",
        "didnt",
        "doesnt",
        "wont",
        "wouldnt",
        "isnt",
        "arent",
        "wasnt",
        "cant",
        "couldnt",
        "nothing",
        "nobody",
        "without",
    ]
)
_PAST = frozenset(
    [
        "used",
        "ago",
        "was",
        "were",
        "had",
        "since",
        "survived",
        "recovered",
        "clean",
        "sober",
        "free",
    ]
)


def features(reading: str, rule_names: Iterable[str] = ()) -> set[str]:
    """Return the binary features of one reading: words, word pairs, letter runs and rules.

    Words after a negator in the same clause also count as negated ("n:die" in "I don't want
    to die"), and words after a word of the past as past ("p:cut" in "I used to cut"), so the
    model can weigh "die" and "not ... die" apart.
    """
    found: set[str] = {"r:" + name for name in rule_names}
    for clause in reading.split(" . "):
        words = [_number(word) for word in clause.split() if word != "."]
        previous = "<s>"
        negated = past = False
        for word in words:
            found.update(_word_features(word))
            found.add(f"b:{previous} {word}")
            if negated:
                found.add("n:" + word)
            if past:
                found.add("p:" + word)
            negated = negated or word in _NEGATORS
            past = past or word in _PAST
            previous = word
        if words:
            found.add(f"b:{previous} </s>")
    return found


@dataclass(frozen=True)
class Model:
    """Weights per feature for each tier, and a bias per tier."""

    classes: tuple[int, ...]
    bias: tuple[float, ...]
    weights: dict[str, tuple[float, ...]]
    meta: dict
    # The same weights as one array (a row per feature), so sums run in NumPy.
    index: dict[str, int] = field(default_factory=dict)
    matrix: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))

    def __post_init__(self) -> None:
        names = list(self.weights)
        object.__setattr__(self, "index", {name: row for row, name in enumerate(names)})
        rows = [self.weights[name] for name in names] or [[0.0] * len(self.classes)]
        object.__setattr__(self, "matrix", np.array(rows, dtype=np.float64))

    def contributions(self, sets: Sequence[Iterable[str]]) -> tuple[np.ndarray, np.ndarray]:
        """Return each feature set's summed weights (a row per set) and its size."""
        lookup = self.index.get
        rows: list[int] = []
        owners: list[int] = []
        counts = np.zeros(len(sets))
        for owner, found in enumerate(sets):
            counts[owner] = len(found) if isinstance(found, (set, frozenset)) else len(set(found))
            known = [row for row in map(lookup, found) if row is not None]
            rows.extend(known)
            owners.extend([owner] * len(known))
        totals = np.zeros((len(sets), len(self.classes)))
        if rows:
            picked = self.matrix[rows]
            for column in range(len(self.classes)):
                totals[:, column] = np.bincount(
                    owners, weights=picked[:, column], minlength=len(sets)
                )
        return totals, counts

    def window_probabilities(self, totals: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """Return each window's tier probabilities (a row per window)."""
        scale = np.divide(1.0, np.sqrt(counts), out=np.zeros_like(counts), where=counts > 0)
        logits = np.asarray(self.bias) + totals * scale[:, None]
        logits -= logits.max(axis=1, keepdims=True)
        exps = np.exp(logits)
        return exps / exps.sum(axis=1, keepdims=True)

    def contribution(self, found: Iterable[str]) -> tuple[list[float], int]:
        """Return the summed weights of one feature set and how many features it has."""
        totals, counts = self.contributions([found])
        return list(totals[0]), int(counts[0])

    def probabilities(self, totals: list[float], count: int) -> dict[int, float]:
        """Return each tier's probability for a window with these summed weights."""
        scale = 1.0 / math.sqrt(count) if count else 0.0
        logits = [b + t * scale for b, t in zip(self.bias, totals, strict=True)]
        top = max(logits)
        exps = [math.exp(value - top) for value in logits]
        total = sum(exps)
        return {tier: value / total for tier, value in zip(self.classes, exps, strict=True)}

    def score(self, found: Iterable[str]) -> dict[int, float]:
        """Return each tier's probability for one set of features."""
        return self.probabilities(*self.contribution(found))


def _read_model(path: Path) -> Model:
    data = json.loads(path.read_text(encoding="utf-8"))
    classes = tuple(int(c) for c in data["classes"])
    weights = {name: tuple(float(w) for w in row) for name, row in data["weights"].items()}
    if any(len(row) != len(classes) for row in weights.values()):
        raise ValueError(f"{path}: every weight row needs one value per tier")
    return Model(classes, tuple(float(b) for b in data["bias"]), weights, data.get("meta", {}))


@lru_cache(maxsize=4)
def load_model(path: Path = MODEL_FILE) -> Model:
    """Return the shipped model (read once per process)."""
    return _read_model(Path(path))
