"""Image upload pipeline: checks an upload and rebuilds it as clean, small JPEG copies.

Every upload is decided by its content alone (never its file name), decoded with a limited set of
Pillow decoders, and rebuilt from its pixels so no metadata — EXIF, GPS, XMP, comments, text
chunks, ICC profiles — ever reaches storage or another person's screen.

Why JPEG rather than WebP: on a 12 MP phone photo (benchmarks/bench_images.py) WebP output took
the pipeline from 0.34x the naive time to 0.49x (method 0) or 1.22x (method 4), and with an
embedded ICC profile, as phone photos carry, from 0.49x to 0.65x; at the configured quality the
full copy came out no smaller. Thumbnails are a few kilobytes either way.
"""

from __future__ import annotations

import io
import logging
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from PIL import ExifTags, Image, ImageCms, ImageFilter

from .config import MB, ImageLimits
from .errors import UploadRejected

__all__ = [
    "ProcessedImage",
    "UploadHeader",
    "check_upload",
    "process_upload",
    "stored_image_damage",
]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

_NOT_AN_IMAGE = UploadRejected.default_message
_EMPTY = "That file is empty — please choose your picture again."
_DAMAGED = (
    "We couldn't read that image — it may be damaged or only partly uploaded. "
    "Please try again, or choose a different photo."
)
_TOO_LARGE_TO_PROCESS = (
    "That image is too large for us to work with right now. "
    "Please try a smaller photo, or shrink it on your device first."
)

# What we call each accepted format when we talk to people.
_FORMAT_NAMES = {"JPEG": "JPEG", "PNG": "PNG", "WEBP": "WebP"}

# Formats people often send that we don't take, by their magic bytes, so the refusal can say
# what the file really is whatever its name claims (a TIFF renamed .png is still a TIFF).
_UNACCEPTED_MAGIC = (
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"\x00\x00\x01\x00", "icon"),
)
# ISO media "brands" at bytes 8-12 of an ftyp box: iPhone photos (HEIC) and AVIF.
_HEIF_BRANDS = {b"heic": "HEIC", b"heix": "HEIC", b"mif1": "HEIC", b"avif": "AVIF"}

_OUTPUT_FORMAT = "JPEG"
_OUTPUT_MEDIA_TYPE = "image/jpeg"
_OUTPUT_EXTENSION = ".jpg"

# A JPEG decoded at 1/2, 1/4 or 1/8 scale (DCT scaling) is much cheaper than a full decode followed
# by a resample. We accept a scaled decode whose long edge is at least this share of full_edge, so
# a 4000-pixel phone photo decodes straight to 2000 pixels instead of decoding all 12 megapixels
# to reach 2048. The full copy's long edge therefore lies between 90% and 100% of full_edge.
_DRAFT_SLACK = 0.9

# reducing_gap=2.0 lets Pillow shrink by whole factors first (a cheap box reduce) and resample
# only the last step of at least 2x; it is what Image.thumbnail uses, close to a full resample
# (Pillow calls 3.0 indistinguishable in most cases) at a fraction of the cost.
_REDUCING_GAP = 2.0

# The blurred copy is rebuilt from a picture this many pixels across: shapes and faces are gone
# at that size, only the overall colours remain.
_BLUR_GRID = 12

_WHITE = (255, 255, 255)

# Orientation values 2–8 and the transpose that puts the picture upright (EXIF 2.3, tag 0x0112).
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


@dataclass(frozen=True)
class UploadHeader:
    """What an upload's header says, read before a single pixel is decoded."""

    format: str
    width: int
    height: int
    frames: int
    decode_bytes: int  # our estimate of the memory decoding and shrinking it will take


@dataclass(frozen=True, repr=False)
class ProcessedImage:
    """Clean copies of one upload, ready to store and show."""

    full: bytes
    thumbnail: bytes
    blurred: bytes
    width: int
    height: int
    thumb_width: int
    thumb_height: int
    format: str
    media_type: str
    extension: str

    def __repr__(self) -> str:
        """Describe the copies by size, never by content."""
        return (
            f"ProcessedImage({self.format} {self.width}x{self.height} {len(self.full)} B, "
            f"thumbnail {self.thumb_width}x{self.thumb_height} {len(self.thumbnail)} B, "
            f"blurred {len(self.blurred)} B)"
        )


def check_upload(data: bytes, limits: ImageLimits | None = None) -> UploadHeader:
    """Return what an upload's header says, or raise UploadRejected; never decodes pixels."""
    limits = limits or ImageLimits()
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        im, kind = _guarded(_open_checked, data, limits)
        return UploadHeader(
            format=kind,
            width=im.width,
            height=im.height,
            frames=getattr(im, "n_frames", 1),
            decode_bytes=_decode_bytes(im, kind, limits),
        )


def process_upload(data: bytes, limits: ImageLimits | None = None) -> ProcessedImage:
    """Return clean full, thumbnail and blurred copies of an upload, or raise UploadRejected."""
    limits = limits or ImageLimits()
    # Pillow only warns about a decompression bomb between MAX_IMAGE_PIXELS and twice that; we
    # want a refusal. catch_warnings() is process-wide on Python < 3.14, so our own pixel check
    # below stays the real guard and this filter is the second line.
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        return _guarded(_process, data, limits)


def stored_image_damage(data: bytes) -> str | None:
    """Say what is wrong with a stored image file's bytes, or None when it decodes whole.

    For files written before the studio kept digests: ``verify()`` passes a truncated JPEG,
    so the pixels are decoded too.
    """
    if not data:
        return "the file is empty"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=list(_FORMAT_NAMES)) as im:
                im.verify()
            with Image.open(io.BytesIO(data), formats=list(_FORMAT_NAMES)) as im:
                im.load()
    except Exception:  # Pillow raises many types on a damaged file; each means the same
        return "the image can't be decoded (it may be truncated or damaged)"
    return None


def _guarded(step: Callable[[bytes, ImageLimits], _T], data: bytes, limits: ImageLimits) -> _T:
    """Run one step of the pipeline, turning anything Pillow raises into a kind refusal."""
    try:
        return step(data, limits)
    except UploadRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise UploadRejected(_too_many_pixels(limits)) from exc
    except MemoryError as exc:
        raise UploadRejected(_TOO_LARGE_TO_PROCESS) from exc
    except Exception as exc:
        # Pillow's decoders raise many types on hostile input (OSError, ValueError,
        # SyntaxError, struct.error, IndexError, ...); none of them may reach a person.
        logger.debug("upload refused", exc_info=True)
        raise UploadRejected(_NOT_AN_IMAGE) from exc


def _open_checked(data: bytes, limits: ImageLimits) -> tuple[Image.Image, str]:
    """Open an upload without decoding it, after every check its header allows."""
    if not data:
        raise UploadRejected(_EMPTY)
    if len(data) > limits.max_bytes:
        raise UploadRejected(
            f"That image is larger than {_amount(limits.max_bytes / MB)} MB. "
            "Please choose a smaller photo, or shrink it on your device first."
        )
    kind = _sniff(data)
    if kind is None:
        raise UploadRejected(_unaccepted(data))
    # No `with`: closing would discard the decoded pixels, and a BytesIO holds no OS resource.
    # formats=[kind] keeps every other decoder away, whatever the file's name says.
    im = Image.open(io.BytesIO(data), formats=[kind])
    # Checked from the header, before a single pixel is decoded.
    width, height = im.size
    if width * height > limits.max_pixels:
        raise UploadRejected(_too_many_pixels(limits))
    if kind == "JPEG":
        # Choosing the DCT scale reads no pixels; it shrinks what load() will decode.
        _draft(im, limits.full_edge)
    if _decode_bytes(im, kind, limits) > limits.max_decode_bytes:
        raise UploadRejected(_too_costly(im, kind, limits))
    return im, kind


def _process(data: bytes, limits: ImageLimits) -> ProcessedImage:
    """Decode, clean and encode one upload."""
    im, kind = _open_checked(data, limits)
    # JPEG keeps EXIF in its header, so this costs no decoding; the transpose waits until the
    # picture is small, because transposing first would defeat draft().
    orientation = _orientation(im) if kind == "JPEG" else 1
    # Animated PNG and WebP open on their first frame, and only that frame is loaded.
    _load(im)
    if kind != "JPEG":
        # A PNG may store its eXIf chunk after the pixels, so read it once they are loaded.
        orientation = _orientation(im)
    icc = im.info.get("icc_profile")
    # libwebp's animation decoder and Pillow's copy of the frame stay attached to the image:
    # let them go now rather than while the picture is shrunk.
    if kind == "WEBP":
        im._decoder = None  # type: ignore[attr-defined]
        im.fp = None
    picture = _shrink_decoded(im, limits.full_edge)
    del im  # let the decoded original go as soon as a smaller copy replaces it

    picture = _to_srgb(picture, icc)
    if orientation in _UPRIGHT:
        picture = picture.transpose(_UPRIGHT[orientation])
    # A fresh image carries pixels only: no info dict, so no EXIF, comment, XMP or ICC profile can
    # ride along into the encoder (Pillow's JPEG writer copies a comment from im.info).
    full = Image.new("RGB", picture.size)
    full.paste(picture)
    del picture

    thumb = _shrink(full, limits.thumb_edge)
    blurred = _blur(thumb, _fit(full.size, limits.blur_edge))
    return ProcessedImage(
        full=_encode(full, limits.jpeg_quality),
        thumbnail=_encode(thumb, limits.thumb_quality),
        blurred=_encode(blurred, limits.thumb_quality),
        width=full.width,
        height=full.height,
        thumb_width=thumb.width,
        thumb_height=thumb.height,
        format=_OUTPUT_FORMAT,
        media_type=_OUTPUT_MEDIA_TYPE,
        extension=_OUTPUT_EXTENSION,
    )


def _sniff(data: bytes) -> str | None:
    """Return the Pillow format name the magic bytes announce, or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def _unaccepted(data: bytes) -> str:
    """Return the refusal for a file that is not JPEG, PNG or WebP, naming it when we can."""
    name = next((name for magic, name in _UNACCEPTED_MAGIC if data.startswith(magic)), None)
    if name is None and data[4:8] == b"ftyp":
        name = _HEIF_BRANDS.get(data[8:12])
    if name is None:
        return _NOT_AN_IMAGE
    article = "an" if name[0] in "AEIOUaeiou" else "a"
    return (
        f"That file is {article} {name} image, which we can't take. "
        "Please save it as a JPEG, PNG or WebP and try again."
    )


# Bytes per pixel each decoder holds at its peak (see benchmarks/bench_images.py). Pillow keeps
# RGB, RGBA and LA in four bytes a pixel, and 1, L and P in one.
_WEBP_BYTES_PER_PIXEL = 16  # libwebp's two RGBA canvases, the frame as bytes, Pillow's copy
_RGBA_BYTES = 4
# A progressive JPEG keeps every DCT coefficient until its last scan, whatever draft() asked:
# two bytes each, for every channel at its own sampled size.
_COEFFICIENT_BYTES = 2


def _decode_bytes(im: Image.Image, kind: str, limits: ImageLimits) -> int:
    """Estimate, from the header alone, the memory decoding and shrinking an upload takes."""
    width, height = im.size  # for a JPEG, the size draft() will decode at
    pixels = width * height
    if kind == "WEBP":
        decoded = pixels * _WEBP_BYTES_PER_PIXEL
    else:
        per_pixel = 1 if im.mode in ("1", "L", "P") else 2 if im.mode.startswith("I;16") else 4
        decoded = pixels * per_pixel
        if kind == "JPEG" and (im.info.get("progressive") or im.info.get("progression")):
            decoded += _coefficient_bytes(im)
    full_width, full_height = _fit((width, height), limits.full_edge)
    # The shrink works on a few strips of rows at a time (converted, premultiplied, resized
    # across); then come the clean full-size copy and the one it was pasted from.
    strips = 3 * width * (2 * _STRIP_ROWS) * _RGBA_BYTES if full_width < width else 0
    return decoded + strips + 2 * full_width * full_height * _RGBA_BYTES


def _coefficient_bytes(im: Image.Image) -> int:
    """Return the memory a progressive JPEG's coefficients take, from its sampling factors."""
    width, height = getattr(im, "_size_before_draft", im.size)
    # Each channel as (id, horizontal, vertical, table), read from the frame header.
    channels = getattr(im, "layer", None) or [("", 1, 1, 0)] * 3
    most_across = max(channel[1] for channel in channels) or 1
    most_down = max(channel[2] for channel in channels) or 1
    return (
        sum(
            math.ceil(width * across / most_across) * math.ceil(height * down / most_down)
            for _, across, down, _ in channels
        )
        * _COEFFICIENT_BYTES
    )


def _too_costly(im: Image.Image, kind: str, limits: ImageLimits) -> str:
    """Return the refusal for a picture too big to decode in this format."""
    width, height = im.size
    per_megapixel = _decode_bytes(im, kind, limits) / (width * height / 1_000_000)
    most = _amount(max(0.1, limits.max_decode_bytes / per_megapixel))
    name = _FORMAT_NAMES[kind]
    return (
        f"That {name} image is too big for us to open: we can take {name} images of up to "
        f"about {most} megapixels. Please save it as a JPEG, or shrink it on your device first."
    )


def _orientation(im: Image.Image) -> int:
    """Return the EXIF orientation (1 when absent or unreadable)."""
    try:
        value = im.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception:
        # A damaged EXIF block should not cost someone their picture: show it as stored.
        logger.debug("unreadable EXIF orientation", exc_info=True)
        return 1
    return value if isinstance(value, int) else 1


def _draft(im: Image.Image, full_edge: int) -> None:
    """Ask the JPEG decoder for the smallest DCT scale that keeps 90% of full_edge or more."""
    floor = math.ceil(full_edge * _DRAFT_SLACK)
    width, height = im.size
    long_edge = max(width, height)
    if long_edge < 2 * floor:
        return  # even half scale would fall short
    ratio = floor / long_edge
    im._size_before_draft = im.size  # type: ignore[attr-defined]
    im.draft("RGB", (max(1, math.ceil(width * ratio)), max(1, math.ceil(height * ratio))))


def _load(im: Image.Image) -> None:
    """Decode the pixels, refusing truncated or damaged files."""
    try:
        # verify() passes truncated JPEGs; load() is what notices the missing data, as long as
        # ImageFile.LOAD_TRUNCATED_IMAGES stays False (we never change it).
        im.load()
    except (MemoryError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise
    except Exception as exc:
        raise UploadRejected(_DAMAGED) from exc


def _working_mode(im: Image.Image) -> Image.Image:
    """Return the picture in L, LA, RGB, RGBA or CMYK, the modes resizing and ICC handle."""
    mode = im.mode
    if mode in ("L", "LA", "RGB", "RGBA", "CMYK"):
        return im
    if mode.startswith("I;16") or mode == "I":
        # Pillow clips 16-bit values to 255 when converting to L; scale them down instead.
        return im.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    if mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in im.info
        return im.convert("RGBA" if has_alpha else "RGB")
    if mode == "La":
        return im.convert("LA")
    if mode in ("RGBa", "RGBX"):
        return im.convert("RGBA" if mode == "RGBa" else "RGB")
    if mode == "1":
        return im.convert("L")
    return im.convert("RGB")


def _fit(size: tuple[int, int], edge: int) -> tuple[int, int]:
    """Return size scaled so its long edge is at most edge, keeping the aspect ratio."""
    width, height = size
    scale = min(1.0, edge / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _shrink(im: Image.Image, edge: int) -> Image.Image:
    """Return the picture with its long edge at most edge (never enlarged)."""
    size = _fit(im.size, edge)
    if size == im.size:
        return im
    return im.resize(size, Image.Resampling.LANCZOS, reducing_gap=_REDUCING_GAP)


# Source rows each strip of a huge picture covers: small enough that its copies cost little.
_STRIP_ROWS = 128
_PREMULTIPLIED = {"RGBA": "RGBa", "LA": "La"}
_STRAIGHT = {"RGBa": "RGBA", "La": "LA"}
# Lanczos reads three output pixels' worth of source rows on each side of the one it makes.
_LANCZOS_SUPPORT = 3


def _shrink_decoded(im: Image.Image, edge: int) -> Image.Image:
    """Return the decoded picture in a working mode, long edge at most edge, made in strips.

    Converting or resizing a huge picture whole makes full-size copies of it (Pillow converts
    RGBA to premultiplied RGBa for resizing, P to RGB, 16-bit to 32-bit). Instead each band of
    output rows is resampled from a strip of source rows wide enough for the filter, so only
    the strip is ever converted and the result matches a whole-picture Lanczos resize.
    """
    width, height = im.size
    size = _fit(im.size, edge)
    if size == im.size or height <= 2 * _STRIP_ROWS:
        return _shrink(_working_mode(im), edge)
    scale = height / size[1]
    margin = math.ceil(_LANCZOS_SUPPORT * scale) + 1
    band_rows = max(1, int(_STRIP_ROWS / scale))
    result: Image.Image | None = None
    for first in range(0, size[1], band_rows):
        last = min(size[1], first + band_rows)
        source_top, source_bottom = first * scale, last * scale
        top = max(0, math.floor(source_top) - margin)
        bottom = min(height, math.ceil(source_bottom) + margin)
        strip = _working_mode(im.crop((0, top, width, bottom)))
        strip = strip.convert(_PREMULTIPLIED.get(strip.mode, strip.mode))
        band = strip.resize(
            (size[0], last - first),
            Image.Resampling.LANCZOS,
            box=(0, source_top - top, width, source_bottom - top),
        )
        if result is None:
            result = Image.new(band.mode, size)
        result.paste(band, (0, first))
    assert result is not None
    return result.convert(_STRAIGHT.get(result.mode, result.mode))


def _to_srgb(im: Image.Image, icc: bytes | None) -> Image.Image:
    """Return an RGB picture in sRGB, with any transparency laid over white."""
    alpha = im.getchannel("A") if im.mode in ("LA", "RGBA") else None
    colour = im.convert("L" if im.mode == "LA" else "RGB") if alpha is not None else im
    converted = None
    if icc:
        try:
            converted = ImageCms.profileToProfile(
                colour, ImageCms.ImageCmsProfile(io.BytesIO(icc)), _SRGB, outputMode="RGB"
            )
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            # A broken or mismatched profile: the pixels are still fine, show them as they are.
            logger.debug("ignoring unusable ICC profile", exc_info=True)
    if converted is not None:
        colour = converted
    elif colour.mode != "RGB":
        colour = colour.convert("RGB")
    if alpha is None:
        return colour
    # Transparent areas would turn black in a JPEG; white matches the paper people drew on.
    backdrop = Image.new("RGB", colour.size, _WHITE)
    backdrop.paste(colour, (0, 0), alpha)
    return backdrop


def _blur(im: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Return a copy blurred past recognition, at the given size."""
    tiny = im.resize(_fit(im.size, _BLUR_GRID), Image.Resampling.BOX)
    # The blur smooths away the blocks that enlarging a 12-pixel picture leaves behind.
    radius = max(2, max(size) // 24)
    return tiny.resize(size, Image.Resampling.BICUBIC).filter(ImageFilter.GaussianBlur(radius))


def _encode(im: Image.Image, quality: int) -> bytes:
    """Return the picture as a JPEG with no metadata."""
    buffer = io.BytesIO()
    im.save(buffer, _OUTPUT_FORMAT, quality=quality, optimize=True)
    return buffer.getvalue()


def _too_many_pixels(limits: ImageLimits) -> str:
    """Return the refusal for a picture over the pixel limit."""
    return (
        f"That image has more than {_amount(limits.max_pixels / 1_000_000)} megapixels. "
        "Please choose a smaller photo, or shrink it on your device first."
    )


def _amount(value: float) -> str:
    """Return a number written for people: 15, 1.5 or 0.01."""
    if value >= 1:
        return f"{value:.1f}".removesuffix(".0")
    return f"{value:.2g}"
