"""Drawings made in the app: flatten the canvas PNG onto its background colour."""

from __future__ import annotations

import io
import re

from PIL import Image, UnidentifiedImageError

from .errors import UploadRejected

__all__ = ["flatten_drawing", "parse_colour"]

_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")
MAX_CANVAS_PIXELS = 4096 * 4096


def parse_colour(value: str) -> tuple[int, int, int]:
    """Return an RGB triple for a ``#rrggbb`` colour (white if it is not one)."""
    match = _HEX.match(value or "")
    if not match:
        return (255, 255, 255)
    raw = match.group(1)
    return (int(raw[0:2], 16), int(raw[2:4], 16), int(raw[4:6], 16))


def flatten_drawing(png: bytes, background: str = "#ffffff") -> bytes:
    """Put a canvas drawing (PNG, transparent where unpainted) onto its background."""
    if not png:
        raise UploadRejected("The canvas is empty — draw something first.")
    try:
        with Image.open(io.BytesIO(png), formats=["PNG"]) as drawing:
            if drawing.width * drawing.height > MAX_CANVAS_PIXELS:
                raise UploadRejected("That drawing is larger than a canvas can be.")
            drawing.load()
            layer = drawing.convert("RGBA")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise UploadRejected("We couldn't read that drawing. Please try again.") from exc
    if layer.getextrema()[3][1] == 0:
        raise UploadRejected("The canvas is empty — draw something first.")
    page = Image.new("RGBA", layer.size, (*parse_colour(background), 255))
    page.alpha_composite(layer)
    out = io.BytesIO()
    page.convert("RGB").save(out, format="PNG")
    return out.getvalue()
