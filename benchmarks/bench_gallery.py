"""Gallery benchmark: page one of a circle's gallery with 100 vs 10,000 artworks stored.

Measures ``studio.artworks.gallery()`` and a whole AppTest run of the gallery page in the
same process, and prints the ratio big/small (target: at most 2x for both).

Run: ``python -m benchmarks.bench_gallery [--quick]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from gallery_store import StudioConfig, open_studio

ROOT = Path(__file__).resolve().parents[1]
FAST = StudioConfig(argon2_time_cost=1, argon2_memory_kib=1024, argon2_parallelism=1)


def build(data_dir: Path, artworks: int):
    """Make a studio with one circle holding ``artworks`` artworks (records only)."""
    studio = open_studio(data_dir, FAST)
    therapist = studio.accounts.bootstrap_therapist("tess", "a calm river of stones", "Tess")
    circle = studio.circles.create(therapist, "Benchmark circle")
    code = studio.circles.invite(therapist, circle.id)
    person = studio.accounts.join(code, "robin", "a calm river of stones", "Robin")
    collection = studio.store.collection("artworks")
    # One transaction writes each shard once: building 10,000 records takes seconds.
    with studio.store.transaction():
        for n in range(artworks):
            collection.insert(
                {
                    "circle_id": circle.id,
                    "user_id": person.id,
                    "artist_name": "Robin",
                    "caption": f"Artwork number {n}, made on a quiet evening.",
                    "alt_text": "Soft washes of colour.",
                    "content_warning": None,
                    "prompt_id": None,
                    "width": 2048,
                    "height": 1536,
                    "thumb_width": 480,
                    "thumb_height": 360,
                    "media_type": "image/jpeg",
                    "full_name": "",
                    "thumb_name": "",
                    "blur_name": "",
                    "comments_enabled": True,
                    "status": "visible",
                    "created_at": "2026-11-01T10:00:00+00:00",
                }
            )
    return studio, person, circle


def time_service(studio, person, circle, repeats: int) -> float:
    """Return the median seconds of one gallery() call for page one."""
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        page = studio.artworks.gallery(person, circle.id, page=1, per_page=24)
        samples.append(time.perf_counter() - start)
        assert len(page) == 24
    return statistics.median(samples)


def time_page(studio, person, data_dir: Path, repeats: int) -> float:
    """Return the median seconds of an AppTest run of the gallery page."""
    from streamlit.testing.v1 import AppTest
    from streamlit.util import calc_hash

    from ui.context import get_studio

    os.environ["KINDRED_DATA_DIR"] = str(data_dir)
    get_studio.clear()
    token = studio.accounts.start_session(person)
    samples = []
    for _ in range(repeats):
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
        at.session_state["session_token"] = token
        at.run()
        at._page_hash = calc_hash("gallery")
        start = time.perf_counter()
        at.run()
        samples.append(time.perf_counter() - start)
        assert not at.exception
        shown = sum("<img" in element.proto.body for element in at.get("html"))
        assert shown == 24, f"the gallery showed {shown} artworks, not 24"
    return statistics.median(samples)


def main(argv: list[str] | None = None) -> int:
    """Print the gallery table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args(argv)
    service_repeats, page_repeats = (50, 5) if args.quick else (300, 15)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in (100, 10_000):
            data_dir = Path(tmp) / f"gallery-{size}"
            studio, person, circle = build(data_dir, size)
            try:
                service = time_service(studio, person, circle, service_repeats)
                page = time_page(studio, person, data_dir, page_repeats)
            finally:
                studio.close()
            results[size] = (service, page)
    print("Gallery page one (24 artworks), medians in one run")
    print(f"{'artworks stored':>16} | {'gallery() ms':>12} | {'AppTest page run ms':>19}")
    for size, (service, page) in results.items():
        print(f"{size:>16,} | {service * 1000:>12.3f} | {page * 1000:>19.1f}")
    service_ratio = results[10_000][0] / results[100][0]
    page_ratio = results[10_000][1] / results[100][1]
    print(
        f"ratio 10,000 / 100: gallery() {service_ratio:.2f}x, page {page_ratio:.2f}x (target <= 2x)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
