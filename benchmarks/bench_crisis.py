"""Benchmark of the crisis detector: time per message, short and 5,000-character reflections.

Run from the repository root::

    python -m benchmarks.bench_crisis           # 300 long reflections, 2,000 short messages
    python -m benchmarks.bench_crisis --quick   # 60 and 400

The target is p95 <= 20 ms for a 5,000-character reflection (the longest the journal takes).
Beside it, in the same run, the earlier phrase-list detector on the same texts as a baseline.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable, Sequence

from gallery_store.crisis import assess
from gallery_store.safety import detect_crisis
from safety.data import DEV_DIR, load_set

__all__ = ["main"]

TARGET_P95_MS = 20.0
LONG_CHARS = 5000


def long_reflections(examples: list[dict], count: int, seed: int = 7) -> list[str]:
    """Return reflections of 5,000 characters made of development messages, shuffled."""
    rng = random.Random(seed)
    texts = [e["text"] for e in examples]
    made = []
    for _ in range(count):
        parts: list[str] = []
        while sum(len(p) + 1 for p in parts) < LONG_CHARS:
            parts.append(rng.choice(texts))
        made.append(" ".join(parts)[:LONG_CHARS])
    return made


def timings(detect: Callable[[str], object], texts: Sequence[str]) -> list[float]:
    """Return milliseconds per call of ``detect`` on each text."""
    out = []
    for text in texts:
        started = time.perf_counter()
        detect(text)
        out.append((time.perf_counter() - started) * 1000)
    return out


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    examples, _ = load_set(DEV_DIR)
    long_count, short_count = (60, 400) if args.quick else (300, 2000)
    longs = long_reflections(examples, long_count)
    shorts = [e["text"] for e in random.Random(3).sample(examples, min(short_count, len(examples)))]
    assess("warm up")  # loads the model once, as the first request of a process does
    print(f"{'texts':32s} {'n':>5s} {'p50 ms':>8s} {'p95 ms':>8s} {'max ms':>8s}")
    results = {}
    for label, detect in (("tiered detector", assess), ("earlier phrase list", detect_crisis)):
        for kind, texts in (("5,000 characters", longs), ("messages as written", shorts)):
            ms = timings(detect, texts)
            results[(label, kind)] = ms
            print(
                f"{label + ', ' + kind:32s} {len(ms):5d} {statistics.median(ms):8.2f} "
                f"{_p(ms, 0.95):8.2f} {max(ms):8.2f}"
            )
    ours = _p(results[("tiered detector", "5,000 characters")], 0.95)
    base = _p(results[("earlier phrase list", "5,000 characters")], 0.95)
    print(f"\np95 on 5,000 characters: {ours:.2f} ms (target <= {TARGET_P95_MS:.0f} ms); "
          f"{ours / base:.2f}x the earlier phrase list, which read only one tier")  # fmt: skip
    return 0 if ours <= TARGET_P95_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
