"""Store benchmark: posting a comment and reading a gallery page, ours against plain TinyDB.

    python -m benchmarks.bench_store            # 1k, 10k and 100k stored comments
    python -m benchmarks.bench_store --quick    # 1k, 10k and 30k (well under a minute)

For each size it times, as medians: posting one comment (a store-level insert into
``comments`` inside a transaction: one line appended to the commit log and fsynced) and a
gallery-page query (the 24 newest comments of one artwork through ``newest_by``);
beside TinyDB with its default ``JSONStorage`` holding the same comments in one file
(insert one document; search by artwork, sort, take 24). Ratios come from this run.

It also counts the bytes written per comment (``wchar`` from ``/proc/self/io``, every
write system call of the process) over the posts plus the checkpoint that later writes
their shard, against what rewriting the comment's whole shard on each post would write.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tinydb import Query, TinyDB

from gallery_store.storage import Store

__all__ = ["main"]

FULL_SIZES = (1_000, 10_000, 100_000)
QUICK_SIZES = (1_000, 10_000, 30_000)
ARTWORKS = 40  # comments spread over this many artworks: 25 per artwork at 1k
PAGE = 24
WARM_UP = 250  # extra comments so the posts land in a half-full shard, the typical case
POSTS = 20
OUR_QUERIES = 200
TINYDB_POSTS = 5
TINYDB_QUERIES = 5
BYTES_POSTS = 200

WORDS = (
    "thank you for sharing this the colours feel so calm I love how the blue meets the",
    "orange it reminds me of the sea after a storm this took courage and it shows",
)
VOCABULARY = " ".join(WORDS).split(" ")


def comment(rng: random.Random, number: int) -> dict:
    """Return a realistic comment record (about 120 characters of text)."""
    text = " ".join(rng.choice(VOCABULARY) for _ in range(30))[:120]
    created = datetime(2026, 11, 2, 9, 0, tzinfo=UTC) + timedelta(seconds=number)
    return {
        "artwork_id": f"art{number % ARTWORKS:04d}",
        "user_id": f"user{rng.randrange(200):04d}",
        "author_name": rng.choice(("Robin", "Sam", "Lee", "Tess", "Ari")),
        "text": text,
        "created_at": created.isoformat(),
        "status": "visible",
    }


def written_bytes() -> int:
    """Return the bytes this process has passed to write() so far (Linux)."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    return 0


def median_ms(action: Callable[[], object], runs: int) -> float:
    """Return the median wall time of ``action`` in milliseconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def bench_ours(folder: Path, size: int, rng: random.Random) -> dict[str, float]:
    """Build our store with ``size`` comments, reopen it, time posts and page queries."""
    store = Store(folder, shard_capacity=500)
    store.open(["comments"])
    comments = store.collection("comments")
    # One transaction writes every shard once instead of ``size`` fsyncs.
    with store.transaction():
        for number in range(size + WARM_UP):
            comments.insert(comment(rng, number))
    store.close()
    os.sync()  # so the build's writeback does not land inside the timed posts

    start = time.perf_counter()
    store = Store(folder, shard_capacity=500)
    store.open(["comments"])
    opened = (time.perf_counter() - start) * 1000
    comments = store.collection("comments")
    comments.add_index("artwork", lambda r: r["artwork_id"])
    try:
        numbers = itertools.count(size + WARM_UP)

        def post() -> None:
            with store.transaction():
                comments.insert(comment(rng, next(numbers)))

        def page() -> list[dict]:
            with store.reading():
                return list(itertools.islice(comments.newest_by("artwork", "art0007"), PAGE))

        assert len(page()) == PAGE
        timed = median_ms(post, POSTS)
        # Bytes per comment: the log lines, plus the checkpoint that writes their shard.
        written_before = written_bytes()
        for _ in range(BYTES_POSTS):
            post()
        store.checkpoint()
        per_comment = (written_bytes() - written_before) / BYTES_POSTS
        shard = comments.shards[-1].storage.snapshot()
        return {
            "post": timed,
            "page": median_ms(page, OUR_QUERIES),
            "open": opened,
            "bytes": per_comment,
            "shard_bytes": len(shard),
        }
    finally:
        store.close()


def bench_tinydb(folder: Path, size: int, rng: random.Random) -> dict[str, float]:
    """Write a JSONStorage file with ``size`` comments, time inserts and page queries."""
    path = folder / "comments.json"
    records = [comment(rng, n) | {"seq": n} for n in range(size + WARM_UP)]
    # Written in one go (the format JSONStorage reads) instead of ``size`` rewrites.
    path.write_text(json.dumps({"_default": {str(n + 1): r for n, r in enumerate(records)}}))
    del records
    os.sync()
    db = TinyDB(path)  # the default: JSONStorage, the whole file read and written each time
    try:
        table = db.table("_default")
        numbers = itertools.count(size + WARM_UP)
        Comment = Query()

        def post() -> None:
            number = next(numbers)
            table.insert(comment(rng, number) | {"seq": number})

        def page() -> list[dict]:
            # Drop TinyDB's query cache: in a running app any write clears it anyway.
            table.clear_cache()
            found = table.search(Comment.artwork_id == "art0007")
            return sorted(found, key=lambda r: r["seq"], reverse=True)[:PAGE]

        assert len(page()) == PAGE
        return {"post": median_ms(post, TINYDB_POSTS), "page": median_ms(page, TINYDB_QUERIES)}
    finally:
        db.close()


def ms(value: float) -> str:
    return f"{value:9.3f} ms" if value < 10 else f"{value:9.1f} ms"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the table; return 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1k, 10k and 30k comments")
    args = parser.parse_args(argv)
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    rng = random.Random(7)

    print(__doc__.splitlines()[0])
    print(
        f"shards of 500 records; posts: median of {POSTS} (ours) / {TINYDB_POSTS} (TinyDB); "
        f"page of {PAGE}: median of {OUR_QUERIES} / {TINYDB_QUERIES}"
    )
    header = (
        f"{'comments':>9} | {'post: ours':>12} {'JSONStorage':>12} {'ratio':>7} | "
        f"{'page: ours':>12} {'JSONStorage':>12} {'ratio':>8} | {'open ours':>12} | "
        f"{'bytes/comment':>13} {'shard rewrite':>13}"
    )
    print(header)
    print("-" * len(header))
    results: dict[int, tuple[dict[str, float], dict[str, float]]] = {}
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="kc-bench-") as temp:
            ours = bench_ours(Path(temp) / "ours", size, rng)
            tiny_folder = Path(temp) / "tinydb"
            tiny_folder.mkdir()
            tiny = bench_tinydb(tiny_folder, size, rng)
        results[size] = (ours, tiny)
        print(
            f"{size:>9,} | {ms(ours['post'])} {ms(tiny['post'])} "
            f"{tiny['post'] / ours['post']:>6.1f}x | {ms(ours['page'])} {ms(tiny['page'])} "
            f"{tiny['page'] / ours['page']:>7.0f}x | {ms(ours['open'])} | "
            f"{ours['bytes']:>11,.0f} B {ours['shard_bytes']:>11,.0f} B",
            flush=True,
        )

    smallest, largest = sizes[0], sizes[-1]
    growth = results[largest][0]["post"] / results[smallest][0]["post"]
    post_ratio = results[largest][1]["post"] / results[largest][0]["post"]
    page_ratio = results[largest][1]["page"] / results[largest][0]["page"]
    print()
    print(
        f"posting, ours@{largest:,} / ours@{smallest:,}: {growth:.2f} (target <= 3): "
        f"{'met' if growth <= 3 else 'MISSED'}"
    )
    print(
        f"JSONStorage@{largest:,} / ours@{largest:,}: posting {post_ratio:.0f}x, "
        f"page {page_ratio:.0f}x (target >= 10): "
        f"{'met' if min(post_ratio, page_ratio) >= 10 else 'MISSED'}"
    )
    worst = max(r[0]["bytes"] for r in results.values())
    print(
        f"bytes written per comment (log + its checkpoint, {BYTES_POSTS} posts): at most "
        f"{worst:,.0f} B (target <= 4,096): {'met' if worst <= 4096 else 'MISSED'}"
    )
    print(
        f"(each size adds {WARM_UP} comments so posts land in a half-full shard; ours fsyncs "
        "the commit log on every post, JSONStorage never fsyncs)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
