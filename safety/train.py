"""Train the crisis model on the development set and write ``crisis_model.json``.

    python -m safety.train            # cross-validate by writer, fit, write the weights
    python -m safety.train --check    # only cross-validate and print the scores

Only the development set (``safety/data/dev/``) is read. Thresholds are chosen on
leave-one-writer-out predictions: each writer's messages are scored by a model trained on the
other writers only, which is the closest the development set comes to words never seen. The
held-out sets are never opened here; ``python -m safety.evaluate`` scores them.

Needs scikit-learn (``pip install -r requirements-train.txt``); the app does not.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix
from sklearn.linear_model import LogisticRegression

from gallery_store.crisis import detector
from gallery_store.crisis.model import CHAR_SIZES, MODEL_FILE, Model

from .data import DEV_DIR, data_hash, load_set

C = 40.0
MIN_DOCS = 2
KEEP = 40_000  # features kept in the shipped file, by their largest weight
SENTENCE_WEIGHT = 0.5
TARGET_RECALL = 0.95


def message_features(text: str) -> tuple[list[frozenset[str]], set[str], detector.Reading]:
    """Return the features of each sentence of a message and of the whole message."""
    reading = detector.read(text)
    return list(reading.features), set().union(*reading.features), reading


def training_rows(examples: list[dict]) -> tuple[list[set[str]], list[int], list[float]]:
    """Return one row per message, plus each sentence of an everyday message as everyday."""
    rows, labels, weights = [], [], []
    for example in examples:
        sets, whole, _ = example["_features"]
        rows.append(whole)
        labels.append(example["tier"])
        weights.append(1.0)
        if example["tier"] == detector.NONE and len(sets) > 1:
            for sentence in sets:
                rows.append(sentence)
                labels.append(detector.NONE)
                weights.append(SENTENCE_WEIGHT)
    return rows, labels, weights


def fit(examples: list[dict], c: float = C) -> Model:
    """Fit the multinomial regression and return it as a pure-Python model."""
    rows, labels, weights = training_rows(examples)
    counts = Counter(f for row in rows for f in row)
    vocabulary = {f: i for i, f in enumerate(sorted(f for f, n in counts.items() if n >= MIN_DOCS))}
    indptr, indices, data = [0], [], []
    for row in rows:
        present = sorted(vocabulary[f] for f in row if f in vocabulary)
        # L2-normalised by every feature present, known or not, as inference does.
        scale = 1.0 / math.sqrt(len(row)) if row else 0.0
        indices.extend(present)
        data.extend([scale] * len(present))
        indptr.append(len(indices))
    matrix = csr_matrix((data, indices, indptr), shape=(len(rows), len(vocabulary)))
    classifier = LogisticRegression(C=c, max_iter=3000, class_weight="balanced")
    classifier.fit(matrix, np.array(labels), sample_weight=np.array(weights))
    names = list(vocabulary)
    coefficients = classifier.coef_.T  # features x classes
    intercepts = classifier.intercept_
    if len(classifier.classes_) == 2:  # one column: the second class against the first
        coefficients = np.hstack([np.zeros_like(coefficients), coefficients])
        intercepts = np.array([0.0, intercepts[0]])
    strength = np.abs(coefficients).max(axis=1)
    keep = np.argsort(-strength)[:KEEP]
    table = {names[i]: tuple(round(float(w), 4) for w in coefficients[i]) for i in sorted(keep)}
    classes = tuple(int(label) for label in classifier.classes_)
    bias = tuple(round(float(b), 4) for b in intercepts)
    return Model(classes, bias, table, {})


LIFTS = (0.0, 0.2, 0.3, 0.4, 0.5)


def _scores(model: Model, example: dict) -> dict[float, dict[int, float]]:
    """Return the best window probability per tier, for each window lift tried."""
    reading = example["_features"][2]
    return {
        lift: {
            tier: score for tier, (score, _) in detector.window_scores(model, reading, lift).items()
        }
        for lift in LIFTS
    }


def _strong(example: dict) -> int:
    """Return 2 if a decisive rule fires on a message, 1 if any phrase of risk does, else 0."""
    return detector.signal_level(example["_features"][2])


def cross_validate(examples: list[dict], c: float = C) -> list[dict]:
    """Return leave-one-writer-out scores for every message."""
    writers = sorted({e["writer"] for e in examples})
    out = []
    for writer in writers:
        train = [e for e in examples if e["writer"] != writer]
        test = [e for e in examples if e["writer"] == writer]
        model = fit(train, c)
        for example in test:
            out.append({"tier": example["tier"], "kind": example["kind"],
                        "writer": writer, "p": _scores(model, example),
                        "strong": example["_strong"]})  # fmt: skip
        print(f"  held out {writer}: {len(test)} messages", file=sys.stderr)
    return out


def decide(p: dict, strong: int, thresholds: dict, use_strong: bool) -> int:
    """Return the tier ``detector.assess`` would give these window scores.

    ``strong`` is 2 when a decisive rule fired, 1 when any phrase of risk did, 0 for none.
    """
    p = p[thresholds.get("window_lift", 0.0)]
    if strong == 3 and p[1] >= detector.CLEAR_BAR:  # a clear statement of risk
        return 1
    bar = thresholds[1] if strong else thresholds.get("unsignalled", thresholds[1])
    at_risk = p[1] >= bar or (use_strong and strong >= 2 and p[1] >= thresholds["strong"])
    worried = p[2] >= thresholds[2]
    if at_risk and worried and thresholds.get("compare_tiers"):
        return 2 if p[2] > p[1] else 1
    if at_risk:
        return 1
    return 2 if worried else 0


def summary(scored: list[dict], thresholds: dict[int, float], use_strong: bool) -> dict:
    tp = fp = fn = 0
    t2_tp = t2_fp = t2_fn = 0
    banner_safe = Counter()
    totals = Counter()
    for row in scored:
        got = decide(row["p"], row["strong"], thresholds, use_strong)
        truth = row["tier"]
        tp += got == 1 and truth == 1
        fp += got == 1 and truth != 1
        fn += got != 1 and truth == 1
        t2_tp += got == 2 and truth == 2
        t2_fp += got == 2 and truth != 2
        t2_fn += got != 2 and truth == 2
        if truth in (0, 3):
            totals[truth] += 1
            banner_safe[truth] += got not in (1, 2)
    return {
        "t1_precision": tp / (tp + fp) if tp + fp else 1.0,
        "t1_recall": tp / (tp + fn) if tp + fn else 1.0,
        "t2_precision": t2_tp / (t2_tp + t2_fp) if t2_tp + t2_fp else 1.0,
        "t2_recall": t2_tp / (t2_tp + t2_fn) if t2_tp + t2_fn else 1.0,
        "t3_no_banner": banner_safe[3] / totals[3] if totals[3] else 1.0,
        "t0_no_banner": banner_safe[0] / totals[0] if totals[0] else 1.0,
    }


def _tier1_threshold(
    scored: list[dict], use_strong: bool, strong_at: float, lift: float, fixed: dict
) -> float:
    """Return the highest tier-1 threshold that still reaches the recall target.

    Recall only falls as the threshold rises, so a binary search over the hundredths will do.
    """
    low, high = 5, 95  # in hundredths; the answer is the highest that still reaches it
    while low < high:
        middle = (low + high + 1) // 2
        bars = {**fixed, 1: middle / 100, 2: 1.01, "strong": strong_at,
                "unsignalled": middle / 100 + lift}  # fmt: skip
        if summary(scored, bars, use_strong)["t1_recall"] >= TARGET_RECALL:
            low = middle
        else:
            high = middle - 1
    return low / 100


def choose_thresholds(scored: list[dict], use_strong: bool) -> dict:
    """Pick every bar, the window lift and the tie rule for the best tier-1 precision."""
    best, best_key = None, (-1.0, -1.0)
    for lift in LIFTS:
        for compare in (False, True):
            bars = _choose_bars(scored, use_strong, {"window_lift": lift, "compare_tiers": compare})
            s = summary(scored, bars, use_strong)
            key = (s["t1_precision"] if s["t1_recall"] >= TARGET_RECALL else 0.0, s["t3_no_banner"])
            if key > best_key:
                best, best_key = bars, key
    return best


def _choose_bars(scored: list[dict], use_strong: bool, fixed: dict) -> dict:
    """Pick the tier-1 thresholds for the recall target, then tier 2 for its best F1.

    With the decisive rules on, a rule that fires lowers the bar the model must clear
    (``strong``); both bars are chosen together for the best tier-1 precision.
    """
    options = [0.0, 0.05, 0.1, 0.15] if use_strong else [1.01]
    best: tuple[float, float, float, float] = (-1.0, 0.5, 1.01, 0.5)
    for strong_at in options:
        for lift in (0.0, 0.1, 0.2, 0.3, 0.4):
            t1 = _tier1_threshold(scored, use_strong, strong_at, lift, fixed)
            bars = {**fixed, 1: t1, 2: 1.01, "strong": strong_at, "unsignalled": t1 + lift}
            s = summary(scored, bars, use_strong)
            if s["t1_recall"] >= TARGET_RECALL and s["t1_precision"] > best[0]:
                best = (s["t1_precision"], t1, strong_at, t1 + lift)
    _, best1, strong_at, unsignalled = best
    bars = {**fixed, 1: best1, "strong": strong_at, "unsignalled": unsignalled}
    best2, best_f1 = 0.5, -1.0
    for t in [i / 100 for i in range(5, 96, 3)]:
        s = summary(scored, {**bars, 2: t}, use_strong)
        p, r = s["t2_precision"], s["t2_recall"]
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        if f1 > best_f1:
            best2, best_f1 = t, f1
    return {**bars, 2: best2, 3: 0.5}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="cross-validate only")
    parser.add_argument("--c", type=float, default=C)
    parser.add_argument("--data", type=Path, default=DEV_DIR, help="the development set")
    args = parser.parse_args(argv)
    examples, paths = load_set(args.data)
    for example in examples:
        example["_features"] = message_features(example["text"])
        example["_strong"] = _strong(example)
    print(f"{len(examples)} development messages from {len(paths)} writers", file=sys.stderr)
    scored = cross_validate(examples, args.c)
    results = {}
    for use_strong in (False, True):
        thresholds = choose_thresholds(scored, use_strong)
        results[use_strong] = (thresholds, summary(scored, thresholds, use_strong))
        scores = {k: round(v, 3) for k, v in results[use_strong][1].items()}
        print(f"strong rules {use_strong}: thresholds {thresholds} -> {json.dumps(scores)}")
    # Keep the decisive rules only if they help on words the model never saw.
    use_strong = results[True][1]["t1_precision"] >= results[False][1]["t1_precision"]
    thresholds, cv = results[use_strong]
    per_kind = defaultdict(lambda: [0, 0])
    for row in scored:
        got = decide(row["p"], row["strong"], thresholds, use_strong)
        ok = got == row["tier"] if row["tier"] in (1, 2) else got not in (1, 2)
        per_kind[row["kind"]][0] += ok
        per_kind[row["kind"]][1] += 1
    for kind, (ok, n) in sorted(per_kind.items(), key=lambda kv: kv[1][0] / kv[1][1]):
        print(f"  {kind:28s} {ok}/{n}")
    if args.check:
        return 0
    model = fit(examples, args.c)
    meta = {
        "trained_on": "safety/data/dev (development set only)",
        "data_sha256": data_hash(paths),
        "messages": len(examples),
        "features": len(model.weights),
        "settings": {
            "C": args.c,
            "min_docs": MIN_DOCS,
            "keep": KEEP,
            "char_sizes": list(CHAR_SIZES),
            "sentence_weight": SENTENCE_WEIGHT,
        },
        "strong_rules": use_strong,
        "thresholds": {
            str(k): v for k, v in thresholds.items() if k not in ("window_lift", "compare_tiers")
        },
        "window_lift": thresholds["window_lift"],
        "compare_tiers": thresholds["compare_tiers"],
        "cross_validated_by_writer": {k: round(v, 4) for k, v in cv.items()},
    }
    body = {
        "classes": list(model.classes),
        "bias": list(model.bias),
        "meta": meta,
        "weights": model.weights,
    }
    MODEL_FILE.write_text(json.dumps(body, ensure_ascii=False, indent=0) + "\n", "utf-8")
    print(f"wrote {MODEL_FILE} ({len(model.weights)} features)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
