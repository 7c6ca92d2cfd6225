"""Drawings made in the app: flattened onto their background and shared like any image."""

from __future__ import annotations

import io
import os

import pytest
from PIL import Image, ImageDraw

from gallery_store.drawings import flatten_drawing, parse_colour
from gallery_store.errors import UploadRejected

from .conftest import make_image

SIZE = (120, 90)
RED = (255, 0, 0)
BACKGROUND = "#336699"
BACKGROUND_RGB = (0x33, 0x66, 0x99)
STROKE_Y = 45


def canvas_png(stroke: bool = True, size: tuple[int, int] = SIZE) -> bytes:
    """Return a canvas as the drawing widget gives it: transparent, with a thick red stroke."""
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    if stroke:
        ImageDraw.Draw(layer).line([(10, STROKE_Y), (size[0] - 10, STROKE_Y)], fill=RED, width=14)
    buffer = io.BytesIO()
    layer.save(buffer, format="PNG")
    return buffer.getvalue()


def near(pixel, expected, tolerance: int = 0) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], expected, strict=True))


def test_a_stroke_stays_red_and_the_rest_becomes_the_background():
    flat = Image.open(io.BytesIO(flatten_drawing(canvas_png(), BACKGROUND)))

    assert flat.format == "PNG" and flat.mode == "RGB" and flat.size == SIZE
    assert flat.getpixel((60, STROKE_Y)) == RED
    assert flat.getpixel((20, STROKE_Y + 3)) == RED
    for corner in ((0, 0), (SIZE[0] - 1, 0), (0, SIZE[1] - 1), (SIZE[0] - 1, SIZE[1] - 1)):
        assert flat.getpixel(corner) == BACKGROUND_RGB
    assert flat.getpixel((60, 10)) == BACKGROUND_RGB


def test_a_half_transparent_stroke_blends_with_the_background():
    layer = Image.new("RGBA", SIZE, (0, 0, 0, 0))
    ImageDraw.Draw(layer).rectangle((20, 20, 60, 60), fill=(255, 0, 0, 128))
    buffer = io.BytesIO()
    layer.save(buffer, format="PNG")

    flat = Image.open(io.BytesIO(flatten_drawing(buffer.getvalue(), "#ffffff")))
    assert near(flat.getpixel((40, 40)), (255, 127, 127), tolerance=2)
    assert flat.getpixel((100, 80)) == (255, 255, 255)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("#336699", (0x33, 0x66, 0x99)),
        ("336699", (0x33, 0x66, 0x99)),
        ("#FBF8F3", (251, 248, 243)),
        ("", (255, 255, 255)),
        ("red", (255, 255, 255)),
        ("#12345", (255, 255, 255)),
    ],
)
def test_background_colours_are_parsed_with_white_as_the_fallback(given, expected):
    assert parse_colour(given) == expected


def test_an_unreadable_background_falls_back_to_white():
    flat = Image.open(io.BytesIO(flatten_drawing(canvas_png(), "javascript:alert(1)")))
    assert flat.getpixel((0, 0)) == (255, 255, 255)
    assert flat.getpixel((60, STROKE_Y)) == RED


@pytest.mark.parametrize(
    "upload",
    [
        b"",
        canvas_png(stroke=False),
        make_image("JPEG"),
        make_image("WEBP"),
        os.urandom(2048),
        canvas_png()[:40],
    ],
    ids=["empty", "fully transparent", "jpeg", "webp", "random bytes", "truncated png"],
)
def test_empty_transparent_and_non_png_canvases_are_refused(upload):
    with pytest.raises(UploadRejected) as refused:
        flatten_drawing(upload, BACKGROUND)
    assert "Traceback" not in refused.value.message
    assert refused.value.message.endswith((".", "first."))


def test_empty_canvas_message_asks_to_draw_first():
    with pytest.raises(UploadRejected, match="draw something first"):
        flatten_drawing(canvas_png(stroke=False))
    with pytest.raises(UploadRejected, match="draw something first"):
        flatten_drawing(b"")


def test_a_canvas_larger_than_allowed_is_refused():
    big = Image.new("RGBA", (4097, 4097), (0, 0, 0, 0))
    buffer = io.BytesIO()
    big.save(buffer, format="PNG")
    with pytest.raises(UploadRejected, match="larger than a canvas"):
        flatten_drawing(buffer.getvalue())


def test_a_flattened_drawing_is_shared_with_its_red_stroke(studio, participant, peer):
    flat = flatten_drawing(canvas_png(), BACKGROUND)

    artwork = studio.artworks.share(
        participant, flat, caption="Drawn in the app", alt_text="A red line across blue"
    )

    assert (artwork.width, artwork.height) == SIZE
    full = Image.open(io.BytesIO(studio.artworks.image(peer, artwork.id, "full")))
    assert full.format == "JPEG" and full.size == SIZE
    # JPEG is lossy: red stays clearly red where the stroke was, blue where it was not.
    r, g, b = full.getpixel((60, STROKE_Y))
    assert r > 200 and g < 60 and b < 60
    assert near(full.getpixel((60, 10)), BACKGROUND_RGB, tolerance=12)
    assert near(full.getpixel((5, 80)), BACKGROUND_RGB, tolerance=12)
