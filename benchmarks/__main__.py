"""Run every benchmark in turn: ``python -m benchmarks [--quick]``.

Each ``benchmarks/bench_*.py`` module exposes ``main(argv=None) -> int``; ``--quick`` is
passed on to each. The exit code is the worst one any benchmark returned.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]


def benchmark_names() -> list[str]:
    """Return the module names of every benchmark, in file-name order."""
    return sorted(path.stem for path in Path(__file__).parent.glob("bench_*.py"))


def main(argv: Sequence[str] | None = None) -> int:
    """Run each benchmark's ``main`` and return the worst exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="the short run of each benchmark")
    args = parser.parse_args(argv)
    worst = 0
    for name in benchmark_names():
        print(f"\n=== {name} {'(quick)' if args.quick else ''}".rstrip(), flush=True)
        start = time.perf_counter()
        module = importlib.import_module(f"{__package__ or 'benchmarks'}.{name}")
        code = module.main(["--quick"] if args.quick else [])
        code = code if isinstance(code, int) else 0
        print(
            f"=== {name} finished in {time.perf_counter() - start:.1f} s (exit {code})", flush=True
        )
        worst = max(worst, code)
    return worst


if __name__ == "__main__":
    sys.exit(main())
