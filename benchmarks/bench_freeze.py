"""Nobody waits on somebody else: backups, studio size and opening, measured side by side.

Builds a small studio (S: 1 circle over a year) and a medium one (M: 50 circles over a
year; ``--quick``: 10 circles) with identical circles (see ``benchmarks/studios.py``), then
prints, from one run:

- opening M: seconds, and the pause of a full garbage collection afterwards;
- a reader's worst wait while rolling backups are written at M (target: at most 50 ms),
  next to its worst wait with no backup running;
- the gallery and the Insights participation figures for one circle, at M vs S (target:
  flat, at most 1.3x), since every query is scoped by its circle's index.

Run: ``python -m benchmarks.bench_freeze [--quick]``
"""

from __future__ import annotations

import argparse
import gc
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from gallery_store import open_studio

from . import studios

BACKUP_TARGET_MS = 50
FLAT_TARGET = 1.3


def _median_ms(action: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def _p99(values: list[float]) -> float:
    return sorted(values)[int(len(values) * 0.99)]


def reader_waits(studio, person, circle_id: str, during: Callable[[], None]) -> list[float]:
    """Read the gallery in a loop on another thread while ``during`` runs; return the waits."""
    waits: list[float] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            start = time.perf_counter()
            studio.artworks.gallery(person, circle_id)
            waits.append((time.perf_counter() - start) * 1000)
            time.sleep(0.002)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        during()
    finally:
        stop.set()
        reader.join()
    return waits


def scoped_reads(
    small: studios.BuiltStudio, medium: studios.BuiltStudio, runs: int
) -> dict[str, tuple[float, float]]:
    """Median ms of each per-circle read at S and at M, measured in turn (noise hits both)."""

    def reads(built: studios.BuiltStudio) -> dict[str, Callable[[], object]]:
        circle_id = built.circles[0]
        person = built.people[circle_id][0]
        studio = built.studio
        return {
            "gallery": lambda: studio.artworks.gallery(person, circle_id),
            "insights": lambda: studio.insights.participation(built.therapist, circle_id),
        }

    at_s, at_m = reads(small), reads(medium)
    result = {}
    for name in at_s:
        for _ in range(5):  # warm: figures are released once, caches filled
            at_s[name]()
            at_m[name]()
        s_times, m_times = [], []
        for _ in range(runs):
            s_times.append(_median_ms(at_s[name], 1))
            m_times.append(_median_ms(at_m[name], 1))
        result[name] = (statistics.median(s_times), statistics.median(m_times))
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_freeze")
    parser.add_argument("--quick", action="store_true", help="M with 10 circles, fewer runs")
    args = parser.parse_args(argv)
    if args.quick:
        studios.SIZES["M"] = (10, 52)
    runs = 30 if args.quick else 100
    failed = False
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        small = studios.build(root / "s" / "data", "S", scratch=root / "s")
        medium = studios.build(root / "m" / "data", "M", scratch=root / "m")
        print(
            f"studios: S {small.records:,} records, M {medium.records:,} records "
            f"({len(medium.circles)} circles)"
        )

        # Both studios as a server has them: loaded from disk.
        small.studio.close()
        small.studio = open_studio(root / "s" / "data", studios.FAST, small.studio.clock)
        # Opening M, and what a full collection costs once it is open.
        medium.studio.close()
        gc.collect()
        start = time.perf_counter()
        studio = open_studio(root / "m" / "data", studios.FAST, medium.studio.clock)
        opened = time.perf_counter() - start
        start = time.perf_counter()
        gc.collect()
        pause = (time.perf_counter() - start) * 1000
        medium.studio = studio
        print(f"open M: {opened:.2f} s; a full garbage collection afterwards: {pause:.1f} ms")

        # A reader while rolling backups are written, vs the same reader alone.
        circle_id = medium.circles[0]
        person = medium.people[circle_id][0]
        alone = reader_waits(studio, person, circle_id, lambda: time.sleep(1.0))

        def backups() -> None:
            for _ in range(3 if args.quick else 5):
                studio.backup_now()

        with_backup = reader_waits(studio, person, circle_id, backups)
        worst = max(with_backup)
        print(
            f"reader at M: worst wait {max(alone):.1f} ms alone, {worst:.1f} ms while "
            f"backups are written ({len(with_backup)} reads; target <= {BACKUP_TARGET_MS} ms); "
            f"p99 {_p99(alone):.1f} vs {_p99(with_backup):.1f} ms"
        )
        failed |= worst > BACKUP_TARGET_MS
        held = []
        for _ in range(5):
            start = time.perf_counter()
            with studio.store.files_held() as files:
                held.append((time.perf_counter() - start) * 1000)
        print(
            f"a backup holds the store lock for {statistics.median(held):.1f} ms "
            f"(checkpoint and the list of {len(files)} files; linking and compressing run "
            "without it)"
        )

        # Per-circle reads do not grow with the studio.
        print(f"{'one circle':<12}{'S ms':>9}{'M ms':>9}{'M/S':>7}")
        for name, (at_s, at_m) in scoped_reads(small, medium, runs).items():
            ratio = at_m / at_s
            failed |= ratio > FLAT_TARGET
            print(f"{name:<12}{at_s:>9.2f}{at_m:>9.2f}{ratio:>7.2f}")
        small.studio.close()
        studio.close()
    if failed:
        print("a target was missed")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
