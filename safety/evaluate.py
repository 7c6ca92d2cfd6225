"""Score the detector on a labelled set and print the tables the README keeps.

    python -m safety.evaluate safety/data/heldout/a     # a held-out set, scores only
    python -m safety.evaluate safety/data/dev --misses  # and the messages it got wrong

A held-out set is scored once per design, and its score is written down before anything is
changed in response to it (see safety/README.md).
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter, defaultdict
from pathlib import Path

from gallery_store.crisis import assess

from .data import HELDOUT_DIR, KINDS, load_set

__all__ = ["score", "summary", "tables"]


def score(examples: list[dict]) -> dict:
    """Return the detector's decisions on labelled messages, with counts for the tables."""
    outcomes = []
    for example in examples:
        started = time.perf_counter()
        got = assess(example["text"]).tier
        outcomes.append((example, got, time.perf_counter() - started))
    return {"outcomes": outcomes}


def summary(result: dict) -> dict[str, float]:
    """Return the headline numbers: tier-1 and tier-2 precision and recall, quiet tiers 3 and 0."""
    outcomes = result["outcomes"]

    def share(hit, among) -> float:
        pool = [(e, got) for e, got, _ in outcomes if among(e, got)]
        return round(sum(1 for e, got in pool if hit(e, got)) / len(pool), 4) if pool else 1.0

    return {
        "t1_precision": share(lambda e, g: e["tier"] == 1, lambda e, g: g == 1),
        "t1_recall": share(lambda e, g: g == 1, lambda e, g: e["tier"] == 1),
        "t2_precision": share(lambda e, g: e["tier"] == 2, lambda e, g: g == 2),
        "t2_recall": share(lambda e, g: g == 2, lambda e, g: e["tier"] == 2),
        "support_shown_t1_t2": share(lambda e, g: g in (1, 2), lambda e, g: e["tier"] in (1, 2)),
        "t3_no_banner": share(lambda e, g: g not in (1, 2), lambda e, g: e["tier"] == 3),
        "t0_no_banner": share(lambda e, g: g not in (1, 2), lambda e, g: e["tier"] == 0),
        "messages": len(outcomes),
    }


def _ratio(a: int, b: int) -> str:
    return f"{a / b:.3f}" if b else "—"


def tables(result: dict) -> str:
    """Return markdown tables: each tier's precision and recall, and each kind's."""
    outcomes = result["outcomes"]
    lines = ["| tier | messages | precision | recall | no banner |", "|---|---|---|---|---|"]
    for tier, name in ((1, "1 at risk now"), (2, "2 worried about someone"), (3, "3 mention"),
                       (0, "0 everyday")):  # fmt: skip
        n = sum(1 for e, _, _ in outcomes if e["tier"] == tier)
        decided = sum(1 for _, got, _ in outcomes if got == tier)
        right = sum(1 for e, got, _ in outcomes if e["tier"] == tier and got == tier)
        quiet = sum(1 for e, got, _ in outcomes if e["tier"] == tier and got not in (1, 2))
        if tier in (1, 2):
            lines.append(f"| {name} | {n} | {_ratio(right, decided)} | {_ratio(right, n)} | — |")
        else:
            lines.append(f"| {name} | {n} | — | — | {_ratio(quiet, n)} |")
    support = sum(1 for e, got, _ in outcomes if e["tier"] in (1, 2) and got in (1, 2))
    needing = sum(1 for e, _, _ in outcomes if e["tier"] in (1, 2))
    lines.append("")
    lines.append(f"Tiers 1–2 shown resources (either tier): {_ratio(support, needing)} "
                 f"of {needing}.")  # fmt: skip
    times = sorted(t for _, _, t in outcomes)
    if times:
        p95 = times[int(0.95 * (len(times) - 1))] * 1000
        lines.append(f"Time per message: median {times[len(times) // 2] * 1000:.2f} ms, "
                     f"p95 {p95:.2f} ms.")  # fmt: skip
    lines += ["", "| kind | tier | messages | right |", "|---|---|---|---|"]
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for example, got, _ in outcomes:
        tier = example["tier"]
        ok = got == tier if tier in (1, 2) else got not in (1, 2)
        by_kind[example["kind"]][0] += ok
        by_kind[example["kind"]][1] += 1
    for tier in (1, 2, 3, 0):
        for kind in KINDS[tier]:
            ok, n = by_kind.get(kind, [0, 0])
            if n:
                lines.append(f"| {kind} | {tier} | {n} | {_ratio(ok, n)} |")
    lines.append("")
    lines.append("“right” is the exact tier for tiers 1–2, and no banner for tiers 3 and 0.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--misses", action="store_true", help="print what it got wrong")
    parser.add_argument(
        "--record", action="store_true", help="keep the headline numbers in heldout/scores.json"
    )
    args = parser.parse_args(argv)
    examples, paths = load_set(args.folder)
    result = score(examples)
    print(f"{len(examples)} messages from {', '.join(p.stem for p in paths)}\n")
    print(tables(result))
    print("\n" + json.dumps(summary(result)))
    if args.record:
        kept = HELDOUT_DIR / "scores.json"
        scores = json.loads(kept.read_text()) if kept.exists() else {}
        scores[args.folder.name] = summary(result)
        kept.write_text(json.dumps(scores, indent=2, sort_keys=True) + "\n")
    if args.misses:
        confusion = Counter((e["tier"], got) for e, got, _ in result["outcomes"])
        print("\ntruth -> decided:", dict(sorted(confusion.items())))
        for example, got, _ in result["outcomes"]:
            wrong = got != example["tier"] if example["tier"] in (1, 2) else got in (1, 2)
            if wrong:
                text = example["text"].replace("\n", " ")
                print(f"\n[{example['tier']}->{got}] {example['kind']}: {text[:300]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
