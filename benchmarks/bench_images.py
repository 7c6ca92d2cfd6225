"""Benchmark of the upload pipeline against a naive Pillow pipeline, with peak memory.

Run from the repository root::

    python -m benchmarks.bench_images           # 7 interleaved repeats
    python -m benchmarks.bench_images --quick   # 3 repeats

The target is ours/naive <= 0.7 on a 12-megapixel phone photo.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import PIL
from PIL import Image, ImageChops, ImageOps

from gallery_store.config import MB, ImageLimits
from gallery_store.errors import UploadRejected
from gallery_store.images import check_upload, process_upload

__all__ = ["main", "naive_pipeline", "photo_jpeg"]

TARGET_RATIO = 0.7
PHONE_SIZE = (4000, 3000)
# Just under the default 40-megapixel limit: the largest photo we accept.
LARGEST_SIZE = (7744, 5164)
ROOT = Path(__file__).resolve().parent.parent


def photo_jpeg(size: tuple[int, int], quality: int = 92) -> bytes:
    """Return a photo-like JPEG (gradients plus sensor-like noise) with orientation 6 and GPS."""
    gradient = Image.linear_gradient("L").resize(size)
    radial = Image.radial_gradient("L").resize(size)
    # Noise keeps the encoder honest: a smooth picture would compress to almost nothing and
    # decode unrealistically fast.
    noise = [Image.effect_noise(size, 18) for _ in range(3)]
    red = ImageChops.add(ImageChops.multiply(gradient, noise[0]), radial, scale=1.3)
    green = ImageChops.add(gradient.transpose(Image.Transpose.FLIP_LEFT_RIGHT), noise[1], scale=1.6)
    blue = ImageChops.add(radial.transpose(Image.Transpose.FLIP_TOP_BOTTOM), noise[2], scale=1.8)
    picture = Image.merge("RGB", (red, green, blue))

    exif = Image.Exif()
    exif[0x0112] = 6  # held sideways, as phones store portrait photos
    exif[0x010F] = "Phone maker"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (51.0, 30.0, 12.5)
    gps[3], gps[4] = "W", (0.0, 7.0, 39.0)
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=quality, exif=exif)
    return buffer.getvalue()


def naive_pipeline(data: bytes, limits: ImageLimits | None = None) -> tuple[bytes, bytes]:
    """Return full and thumbnail JPEGs made the obvious way (decode all, rotate, shrink)."""
    limits = limits or ImageLimits()
    im = Image.open(io.BytesIO(data))
    im.load()
    im = ImageOps.exif_transpose(im)
    im.thumbnail((limits.full_edge, limits.full_edge))
    full = io.BytesIO()
    im.save(full, "JPEG", quality=limits.jpeg_quality)
    thumb = im.copy()
    thumb.thumbnail((limits.thumb_edge, limits.thumb_edge))
    small = io.BytesIO()
    thumb.save(small, "JPEG", quality=limits.thumb_quality)
    return full.getvalue(), small.getvalue()


def _ours(data: bytes) -> None:
    # A refusal is a result too: the table shows what refusing cost.
    with contextlib.suppress(UploadRejected):
        process_upload(data)


def _naive(data: bytes) -> None:
    naive_pipeline(data)


PIPELINES: dict[str, Callable[[bytes], None]] = {"ours": _ours, "naive": _naive}


def _seconds(run: Callable[[bytes], None], data: bytes) -> float:
    """Return how long one run takes."""
    start = time.perf_counter()
    run(data)
    return time.perf_counter() - start


def time_side_by_side(data: bytes, repeats: int) -> dict[str, list[float]]:
    """Return run times of both pipelines, interleaved so drift hits both alike."""
    for run in PIPELINES.values():
        run(data)  # warm-up: imports, decoder set-up, page faults
    times: dict[str, list[float]] = {name: [] for name in PIPELINES}
    for repeat in range(repeats):
        # Alternate who goes first so neither always inherits a warm cache.
        order = list(PIPELINES) if repeat % 2 == 0 else list(reversed(PIPELINES))
        for name in order:
            times[name].append(_seconds(PIPELINES[name], data))
    return times


def _status_mb(field: str) -> float | None:
    """Return a memory figure from /proc/self/status in MB, or None off Linux."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _peak_rss_mb() -> float:
    """Return this process's peak resident memory in MB."""
    # VmHWM belongs to this process's own address space. ru_maxrss is not enough on Linux: it
    # survives fork and exec, so a child would report the parent's peak.
    peak = _status_mb("VmHWM")
    if peak is not None:
        return peak
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss / MB if sys.platform == "darwin" else maxrss / 1024


def _reset_peak_rss() -> None:
    """Reset the peak-memory mark where the kernel allows it (Linux 4.0+)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _child(path: str, pipeline: str) -> int:
    """Process one file in this fresh process and print time and peak memory as JSON."""
    data = Path(path).read_bytes()
    _reset_peak_rss()
    baseline = _status_mb("VmRSS") or _peak_rss_mb()
    seconds = _seconds(PIPELINES[pipeline], data)
    print(json.dumps({"baseline_mb": baseline, "peak_mb": _peak_rss_mb(), "seconds": seconds}))
    return 0


def measure_in_child(data: bytes, pipeline: str) -> dict[str, float]:
    """Return time and peak memory of one run in a fresh interpreter (so peaks don't mix)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "largest.jpg"
        path.write_bytes(data)
        command = [sys.executable, "-m", "benchmarks.bench_images", "--child", str(path)]
        completed = subprocess.run(
            [*command, "--pipeline", pipeline],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _largest_photo(limits: ImageLimits) -> tuple[bytes, int]:
    """Return the largest accepted photo and its JPEG quality, kept under the byte limit."""
    for quality in (92, 88, 84, 80, 75):
        data = photo_jpeg(LARGEST_SIZE, quality)
        if len(data) <= limits.max_bytes:
            return data, quality
    raise SystemExit("could not make a 40-megapixel test photo under the byte limit")


def _flat(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    """Return a smooth picture: it encodes fast and small, as drawings and screenshots do."""
    gradient = Image.linear_gradient("L").resize(size)
    picture = Image.merge(
        "RGB", (gradient, gradient.transpose(Image.Transpose.ROTATE_180), gradient)
    )
    return picture.convert(mode)


def _encoded(picture: Image.Image, fmt: str, frames: int = 1) -> bytes:
    """Return the picture saved in a format, as an animation when frames > 1."""
    buffer = io.BytesIO()
    others = [picture.transpose(Image.Transpose.FLIP_LEFT_RIGHT)] * (frames - 1)
    extra = {"save_all": True, "append_images": others} if frames > 1 else {}
    picture.save(buffer, fmt, **extra, **({"quality": 80} if fmt != "PNG" else {}))
    return buffer.getvalue()


def _largest_accepted(fmt: str, mode: str, limits: ImageLimits) -> tuple[int, int]:
    """Return the largest 3:2 size the header checks accept for a format (a few halvings)."""
    low, high = 64, 8000
    while high - low > 16:
        width = (low + high) // 2
        size = (width, width * 2 // 3)
        try:
            check_upload(_encoded(Image.new(mode, size), fmt), limits)
            low = width
        except UploadRejected:
            high = width
    return low, low * 2 // 3


def memory_cases(limits: ImageLimits) -> list[tuple[str, bytes]]:
    """Return (label, file) for every format at the largest size we accept, and two refusals."""
    cases = []
    for label, fmt, mode, frames in (
        ("PNG, RGB", "PNG", "RGB", 1),
        ("PNG, RGBA", "PNG", "RGBA", 1),
        ("PNG, palette", "PNG", "P", 1),
        ("animated PNG, 2 frames", "PNG", "RGB", 2),
        ("WebP", "WEBP", "RGB", 1),
        ("animated WebP, 2 frames", "WEBP", "RGB", 2),
    ):
        size = _largest_accepted(fmt, mode, limits)
        cases.append((f"{label} {size[0]}x{size[1]}", _encoded(_flat(size, mode), fmt, frames)))
    cases.append(("animated GIF 2000x1333 (refused)", _encoded(_flat((2000, 1333)), "GIF", 2)))
    huge = io.BytesIO()
    Image.new("1", (13_500, 12_000)).save(huge, "PNG")
    cases.append(("PNG 162 MP (refused by header)", huge.getvalue()))
    return cases


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f} ms"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 repeats instead of 7")
    parser.add_argument("--repeats", type=int, help="number of interleaved repeats")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--pipeline", choices=sorted(PIPELINES), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return _child(args.child, args.pipeline or "ours")

    limits = ImageLimits()
    repeats = args.repeats or (3 if args.quick else 7)
    print(f"Image pipeline benchmark — Pillow {PIL.__version__}, Python {sys.version.split()[0]}")

    phone = photo_jpeg(PHONE_SIZE)
    width, height = PHONE_SIZE
    print(
        f"\n12 MP phone photo: {width}x{height} JPEG, quality 92, {len(phone) / MB:.1f} MB, "
        f"EXIF orientation 6 + GPS; {repeats} interleaved repeats"
    )
    times = time_side_by_side(phone, repeats)
    ours, naive = statistics.median(times["ours"]), statistics.median(times["naive"])
    result = process_upload(phone, limits)
    naive_full, naive_thumb = naive_pipeline(phone, limits)
    naive_size = Image.open(io.BytesIO(naive_full)).size
    print(f"  {'pipeline':<24}{'median':>10}{'fastest':>11}   output (full / thumbnail)")
    print(
        f"  {'ours (process_upload)':<24}{_ms(ours):>10}{_ms(min(times['ours'])):>11}   "
        f"{result.width}x{result.height} {len(result.full) // 1024} KB / "
        f"{len(result.thumbnail) // 1024} KB (+ blurred {len(result.blurred) // 1024} KB)"
    )
    print(
        f"  {'naive Pillow':<24}{_ms(naive):>10}{_ms(min(times['naive'])):>11}   "
        f"{naive_size[0]}x{naive_size[1]} {len(naive_full) // 1024} KB / "
        f"{len(naive_thumb) // 1024} KB"
    )
    ratio = ours / naive
    verdict = "met" if ratio <= TARGET_RATIO else "MISSED"
    print(f"  ratio ours/naive: {ratio:.2f} (target <= {TARGET_RATIO}) — {verdict}")

    largest, quality = _largest_photo(limits)
    width, height = LARGEST_SIZE
    print(
        f"\nLargest accepted photo: {width}x{height} ({width * height / 1e6:.1f} MP) JPEG, "
        f"quality {quality}, {len(largest) / MB:.1f} MB; one run each in a fresh process"
    )
    print(f"  {'pipeline':<24}{'time':>10}{'peak RSS':>12}{'above start':>14}")
    for name, label in (("ours", "ours (process_upload)"), ("naive", "naive Pillow")):
        measured = measure_in_child(largest, name)
        growth = measured["peak_mb"] - measured["baseline_mb"]
        print(
            f"  {label:<24}{_ms(measured['seconds']):>10}"
            f"{measured['peak_mb']:>9.0f} MB{growth:>11.0f} MB"
        )

    print(
        f"\nPeak memory per format at the largest size accepted "
        f"(decode budget {limits.max_decode_bytes // MB} MB); one fresh process each"
    )
    print(f"  {'upload':<44}{'file':>9}{'time':>11}{'above start':>14}")
    for label, data in memory_cases(limits):
        measured = measure_in_child(data, "ours")
        growth = measured["peak_mb"] - measured["baseline_mb"]
        print(
            f"  {label:<44}{len(data) / 1024:>6.0f} KB{_ms(measured['seconds']):>11}"
            f"{growth:>11.0f} MB"
        )
    print("\n'above start' is peak RSS minus RSS after imports and reading the file.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
