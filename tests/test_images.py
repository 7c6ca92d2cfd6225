"""Tests for the image upload pipeline: what it accepts, refuses, strips and produces."""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import warnings
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageCms, ImageFile, ImageOps, ImageStat
from PIL.PngImagePlugin import PngInfo

from gallery_store.config import MB, ImageLimits
from gallery_store.errors import UploadRejected
from gallery_store.images import ProcessedImage, check_upload, process_upload

RED = (220, 30, 30)
GREEN = (30, 200, 40)
BLUE = (30, 40, 210)
YELLOW = (240, 220, 20)
WHITE = (255, 255, 255)
LIMITS = ImageLimits()
DRAFT_FLOOR = int(LIMITS.full_edge * 0.9)

# Markers a metadata-free baseline or progressive JPEG may contain.
CLEAN_JPEG_MARKERS = {0xD8, 0xE0, 0xDB, 0xC0, 0xC2, 0xC4, 0xDA, 0xDD}
CLEAN_JPEG_INFO_KEYS = {"jfif", "jfif_version", "jfif_unit", "jfif_density", "dpi"}
SECRETS = [
    b"SECRET",
    b"secret-comment",
    b"Exif\x00\x00",
    b"ICC_PROFILE",
    b"ns.adobe.com",
    b"xmpmeta",
]


# --- helpers ---------------------------------------------------------------------------------


def encode(im: Image.Image, fmt: str, **options) -> bytes:
    """Return the image saved in fmt."""
    buffer = io.BytesIO()
    im.save(buffer, fmt, **options)
    return buffer.getvalue()


def reopen(data: bytes) -> Image.Image:
    """Return the decoded image."""
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def gradient(size: tuple[int, int]) -> Image.Image:
    """Return a smooth RGB picture that compresses quickly."""
    horizontal = Image.linear_gradient("L").rotate(90).resize(size)
    vertical = Image.linear_gradient("L").resize(size)
    return Image.merge("RGB", (horizontal, vertical, Image.new("L", size, 128)))


def noisy(size: tuple[int, int]) -> Image.Image:
    """Return a photo-like RGB picture that does not compress to nothing."""
    bands = [
        Image.effect_noise(size, 40).point(lambda v, k=k: (v + 60 * k) % 256) for k in range(3)
    ]
    return Image.merge("RGB", bands)


def quadrants(size: tuple[int, int]) -> Image.Image:
    """Return a picture whose quarters are red, green, blue and yellow (clockwise from top left)."""
    width, height = size
    im = Image.new("RGB", size, RED)
    im.paste(GREEN, (width // 2, 0, width, height // 2))
    im.paste(YELLOW, (width // 2, height // 2, width, height))
    im.paste(BLUE, (0, height // 2, width // 2, height))
    return im


def corners(im: Image.Image) -> list[tuple[int, ...]]:
    """Return the colours near the four corners, clockwise from top left."""
    width, height = im.size
    dx, dy = max(1, width // 8), max(1, height // 8)
    points = [(dx, dy), (width - dx, dy), (width - dx, height - dy), (dx, height - dy)]
    return [im.convert("RGB").getpixel(point) for point in points]


def near(actual, expected, tolerance: int = 24) -> bool:
    """Return whether two colours match within tolerance on every channel."""
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def centre(data: bytes) -> tuple[int, ...]:
    """Return the colour at the centre of an encoded image."""
    im = reopen(data).convert("RGB")
    return im.getpixel((im.width // 2, im.height // 2))


def srgb_profile() -> bytes:
    """Return an sRGB ICC profile."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def swapped_primaries_profile() -> bytes:
    """Return an RGB ICC profile with red and green primaries swapped (a wide-gamut stand-in)."""
    profile = bytearray(srgb_profile())
    (count,) = struct.unpack(">I", profile[128:132])
    entries = {}
    for index in range(count):
        at = 132 + 12 * index
        signature, offset, _size = struct.unpack(">4sII", profile[at : at + 12])
        entries[signature] = (at, offset)
    (red_at, red_offset), (green_at, green_offset) = entries[b"rXYZ"], entries[b"gXYZ"]
    profile[red_at + 4 : red_at + 8] = struct.pack(">I", green_offset)
    profile[green_at + 4 : green_at + 8] = struct.pack(">I", red_offset)
    return bytes(profile)


def secret_exif(orientation: int = 1) -> Image.Exif:
    """Return EXIF with an orientation, camera text and a GPS block holding recognisable secrets."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010E] = "SECRET-EXIF-DESCRIPTION"
    exif[0x010F] = "SECRET-CAMERA-MAKER"
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (51.0, 30.0, 12.5)
    gps[3] = "W"
    gps[4] = (0.0, 7.0, 39.0)
    gps[0x001B] = b"ASCII\x00\x00\x00SECRET-GPS-PLACE"
    return exif


def with_size(png: bytes, width: int, height: int) -> bytes:
    """Return a PNG whose header claims another size (CRC recomputed so Pillow trusts it)."""
    assert png[12:16] == b"IHDR"
    body = b"IHDR" + struct.pack(">II", width, height) + png[24:29]
    return png[:8] + png[8:12] + body + struct.pack(">I", zlib.crc32(body)) + png[33:]


def jpeg_markers(data: bytes) -> list[int]:
    """Return the JPEG marker codes up to the first scan."""
    assert data[:2] == b"\xff\xd8"
    markers, at = [0xD8], 2
    while at < len(data):
        assert data[at] == 0xFF, "JPEG segment expected"
        marker = data[at + 1]
        markers.append(marker)
        if marker == 0xDA:
            return markers
        (length,) = struct.unpack(">H", data[at + 2 : at + 4])
        at += 2 + length
    return markers


def outputs(result: ProcessedImage) -> dict[str, bytes]:
    """Return the three encoded copies by name."""
    return {"full": result.full, "thumbnail": result.thumbnail, "blurred": result.blurred}


def assert_friendly(exc: UploadRejected) -> None:
    """Check a refusal reads as a sentence for a person, not a developer."""
    message = exc.message
    assert message[0].isupper() and message.endswith("."), message
    for leak in ("Traceback", "PIL", "Pillow", "Error", "cannot identify", "errno", "Image."):
        assert leak not in message, message


# --- accepted uploads ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_accepts_jpeg_png_and_webp_and_keeps_size_and_aspect(fmt):
    source = Image.new("RGB", (640, 400), RED)
    result = process_upload(encode(source, fmt))

    assert (result.width, result.height) == (640, 400)
    assert (result.thumb_width, result.thumb_height) == (480, 300)
    assert (result.format, result.media_type, result.extension) == ("JPEG", "image/jpeg", ".jpg")
    full, thumb, blurred = (reopen(data) for data in outputs(result).values())
    assert full.format == thumb.format == blurred.format == "JPEG"
    assert full.size == (640, 400) and thumb.size == (480, 300)
    assert max(blurred.size) <= LIMITS.blur_edge
    assert abs(blurred.width / blurred.height - 1.6) < 0.02
    assert near(centre(result.full), RED) and near(centre(result.thumbnail), RED)


def test_large_png_is_downscaled_to_the_full_edge():
    result = process_upload(encode(gradient((3000, 1500)), "PNG", compress_level=1))

    assert (result.width, result.height) == (2048, 1024)
    assert (result.thumb_width, result.thumb_height) == (480, 240)
    assert reopen(result.full).size == (2048, 1024)


@pytest.mark.parametrize("size", [(4000, 2000), (5000, 2500), (2000, 5000), (4032, 3024)])
def test_large_jpeg_is_decoded_small_and_fits_the_full_edge(size):
    result = process_upload(encode(gradient(size), "JPEG", quality=80))

    long_edge = max(result.width, result.height)
    # A scaled JPEG decode may land a little under full_edge, never over it.
    assert DRAFT_FLOOR <= long_edge <= LIMITS.full_edge
    assert abs(result.width / result.height - size[0] / size[1]) < 0.01
    assert max(result.thumb_width, result.thumb_height) == LIMITS.thumb_edge


def test_thumbnail_is_smaller_on_the_wire_than_the_full_copy():
    result = process_upload(encode(noisy((1600, 1200)), "JPEG", quality=92))

    assert len(result.thumbnail) < len(result.full) / 4
    assert len(result.thumbnail) < 120_000


def test_small_images_are_not_enlarged():
    result = process_upload(encode(Image.new("RGB", (40, 20), BLUE), "PNG"))

    assert (result.width, result.height) == (40, 20)
    assert (result.thumb_width, result.thumb_height) == (40, 20)
    assert reopen(result.blurred).size == (40, 20)


def test_custom_limits_shape_every_copy():
    limits = ImageLimits(full_edge=300, thumb_edge=100, blur_edge=50)
    result = process_upload(encode(gradient((900, 600)), "PNG"), limits)

    assert (result.width, result.height) == (300, 200)
    assert (result.thumb_width, result.thumb_height) == (100, 67)
    assert reopen(result.blurred).size == (50, 33)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_colours_survive(fmt):
    source = quadrants((300, 200))
    result = process_upload(
        encode(source, fmt, quality=95) if fmt != "PNG" else encode(source, fmt)
    )

    expected = [RED, GREEN, YELLOW, BLUE]
    for data in (result.full, result.thumbnail):
        for actual, wanted in zip(corners(reopen(data)), expected, strict=True):
            assert near(actual, wanted), (actual, wanted)


def test_repr_is_short_and_shows_no_bytes():
    result = process_upload(encode(gradient((800, 600)), "JPEG"))

    text = repr(result)
    assert text.startswith("ProcessedImage(JPEG 800x600")
    assert "b'" not in text and "\\x" not in text and len(text) < 160


# --- metadata --------------------------------------------------------------------------------


def jpeg_with_everything() -> bytes:
    """Return a JPEG carrying EXIF with GPS, a comment, XMP and an ICC profile."""
    return encode(
        gradient((600, 400)),
        "JPEG",
        exif=secret_exif(),
        comment=b"secret-comment",
        xmp=b'<x:xmpmeta xmlns:x="adobe:ns:meta/">SECRET-XMP-CREATOR</x:xmpmeta>',
        icc_profile=srgb_profile(),
    )


def png_with_everything() -> bytes:
    """Return a PNG carrying tEXt, iTXt, XMP, eXIf with GPS and an ICC profile."""
    info = PngInfo()
    info.add_text("Comment", "SECRET-PNG-TEXT")
    info.add_itxt("Description", "SECRET-PNG-ITXT", lang="en", tkey="Description")
    info.add_itxt("XML:com.adobe.xmp", '<x:xmpmeta xmlns:x="adobe:ns:meta/">SECRET-XMP</x:xmpmeta>')
    return encode(
        gradient((600, 400)),
        "PNG",
        pnginfo=info,
        exif=secret_exif(),
        icc_profile=srgb_profile(),
    )


def webp_with_everything() -> bytes:
    """Return a WebP carrying EXIF with GPS, XMP and an ICC profile."""
    return encode(
        gradient((600, 400)),
        "WEBP",
        exif=secret_exif(),
        xmp=b'<x:xmpmeta xmlns:x="adobe:ns:meta/">SECRET-XMP</x:xmpmeta>',
        icc_profile=srgb_profile(),
    )


@pytest.mark.parametrize("build", [jpeg_with_everything, png_with_everything, webp_with_everything])
def test_every_copy_is_stripped_of_metadata(build):
    source = build()
    # The test means something only if the secrets were really there.
    assert b"SECRET-GPS-PLACE" in source and b"SECRET-XMP" in source
    assert "icc_profile" in reopen(source).info

    result = process_upload(source)

    for name, data in outputs(result).items():
        for secret in SECRETS:
            assert secret not in data, (name, secret)
        im = reopen(data)
        assert len(im.getexif()) == 0, name
        assert set(im.info) <= CLEAN_JPEG_INFO_KEYS, (name, set(im.info))
        assert not getattr(im, "text", {}), name
        markers = jpeg_markers(data)
        assert set(markers) <= CLEAN_JPEG_MARKERS, (name, [hex(m) for m in markers])
        assert 0xFE not in markers and not any(0xE1 <= m <= 0xEF for m in markers), name


def test_jpeg_with_only_a_comment_loses_it():
    result = process_upload(encode(Image.new("RGB", (64, 64), RED), "JPEG", comment=b"SECRET"))

    assert b"SECRET" not in result.full and "comment" not in reopen(result.full).info


# --- orientation -----------------------------------------------------------------------------


def test_orientation_6_turns_the_picture_upright():
    source = encode(quadrants((400, 200)), "JPEG", quality=95, exif=secret_exif(6))
    result = process_upload(source)

    assert (result.width, result.height) == (200, 400)
    # Turned a quarter clockwise: the red top-left corner is now the top-right corner.
    top_left, top_right, bottom_right, bottom_left = corners(reopen(result.full))
    assert near(top_right, RED) and near(top_left, BLUE)
    assert near(bottom_right, GREEN) and near(bottom_left, YELLOW)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_orientation_matches_pillows_exif_transpose(orientation):
    source = encode(quadrants((300, 200)), "JPEG", quality=95, exif=secret_exif(orientation))
    expected = ImageOps.exif_transpose(reopen(source))

    result = process_upload(source)

    full = reopen(result.full)
    assert full.size == expected.size
    for actual, wanted in zip(corners(full), corners(expected), strict=True):
        assert near(actual, wanted), (orientation, actual, wanted)


def test_orientation_applies_after_a_scaled_jpeg_decode():
    source = encode(quadrants((4000, 2000)), "JPEG", quality=90, exif=secret_exif(6))
    result = process_upload(source)

    assert result.height > result.width and DRAFT_FLOOR <= result.height <= LIMITS.full_edge
    assert near(corners(reopen(result.full))[1], RED)


def test_orientation_in_png_exif_is_applied():
    result = process_upload(encode(quadrants((300, 200)), "PNG", exif=secret_exif(8)))

    assert (result.width, result.height) == (200, 300)
    # Turned a quarter anticlockwise: the red top-left corner is now the bottom-left corner.
    assert near(corners(reopen(result.full))[3], RED)


# --- colour modes and colour profiles --------------------------------------------------------


def palette_with_transparency() -> bytes:
    """Return a palette PNG: left half red, right half transparent."""
    im = Image.new("P", (64, 32), 0)
    im.putpalette([*RED, *BLUE])
    im.paste(1, (32, 0, 64, 32))
    return encode(im, "PNG", transparency=1)


def half_transparent(mode: str, colour) -> bytes:
    """Return a PNG in mode: left half colour, right half fully transparent."""
    im = Image.new(mode, (64, 32), colour)
    clear = (0,) * len(colour)
    im.paste(clear, (32, 0, 64, 32))
    return encode(im, "PNG")


@pytest.mark.parametrize(
    ("build", "left", "right"),
    [
        (lambda: encode(Image.new("CMYK", (64, 32), (0, 255, 255, 0)), "JPEG"), (255, 0, 0), None),
        (lambda: encode(Image.new("I;16", (64, 32), 40_000), "PNG"), (156, 156, 156), None),
        (palette_with_transparency, RED, WHITE),
        (lambda: half_transparent("LA", (128, 255)), (128, 128, 128), WHITE),
        (lambda: half_transparent("RGBA", (*RED, 255)), RED, WHITE),
        (lambda: encode(Image.new("1", (64, 32), 1), "PNG"), WHITE, None),
        (lambda: encode(Image.new("L", (64, 32), 90), "JPEG"), (90, 90, 90), None),
    ],
    ids=["cmyk-jpeg", "16-bit-png", "palette-transparent", "LA", "RGBA", "1-bit", "grey-jpeg"],
)
def test_other_colour_modes_become_rgb(build, left, right):
    result = process_upload(build())

    for data in (result.full, result.thumbnail):
        im = reopen(data)
        assert im.mode == "RGB"
        assert near(im.getpixel((4, im.height // 2)), left), im.getpixel((4, im.height // 2))
        if right is not None:
            assert near(im.getpixel((im.width - 4, im.height // 2)), right)


def test_embedded_profile_is_converted_to_srgb():
    # Under a profile whose red and green primaries are swapped, full red means sRGB green.
    source = encode(
        Image.new("RGB", (64, 64), (255, 0, 0)), "PNG", icc_profile=swapped_primaries_profile()
    )

    result = process_upload(source)

    red, green, blue = centre(result.full)
    assert green > 200 and red < 60 and blue < 60


@pytest.mark.parametrize("profile", [b"not a colour profile at all", b"acsp" * 40])
def test_broken_profile_is_ignored_and_colours_kept(profile):
    source = encode(Image.new("RGB", (64, 64), RED), "JPEG", quality=95, icc_profile=profile)

    result = process_upload(source)

    assert near(centre(result.full), RED)
    assert b"colour profile" not in result.full and b"acsp" not in result.full


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_animated_images_keep_their_first_frame(fmt):
    frames = [Image.new("RGB", (80, 60), colour) for colour in (RED, GREEN, BLUE)]
    options = {"lossless": True} if fmt == "WEBP" else {}
    source = encode(
        frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0, **options
    )
    assert reopen(source).is_animated

    result = process_upload(source)

    for data in outputs(result).values():
        im = reopen(data)
        assert not getattr(im, "is_animated", False) and getattr(im, "n_frames", 1) == 1
    assert near(centre(result.full), RED) and near(centre(result.thumbnail), RED)


# --- the blurred copy ------------------------------------------------------------------------


def test_blurred_copy_cannot_be_made_out():
    checkerboard = Image.new("L", (800, 600), 0)
    for y in range(0, 600, 40):
        for x in range(0, 800, 40):
            if (x // 40 + y // 40) % 2:
                checkerboard.paste(255, (x, y, x + 40, y + 40))
    result = process_upload(encode(checkerboard.convert("RGB"), "PNG"))

    assert max(ImageStat.Stat(reopen(result.thumbnail).convert("L")).stddev) > 100
    blurred = reopen(result.blurred)
    assert max(blurred.size) <= LIMITS.blur_edge
    assert max(ImageStat.Stat(blurred.convert("L")).stddev) < 8


def test_blurred_copy_keeps_the_overall_colour():
    result = process_upload(encode(Image.new("RGB", (500, 500), GREEN), "JPEG"))

    assert near(centre(result.blurred), GREEN)


# --- refusals --------------------------------------------------------------------------------


def truncated(data: bytes, share: float = 0.6) -> bytes:
    """Return the first share of data, like an upload cut off half-way."""
    return data[: int(len(data) * share)]


REFUSED = {
    "empty": lambda: b"",
    "random-bytes": lambda: os.urandom(4096),
    "text": lambda: b"Hello, this is a letter, not a picture.",
    "truncated-jpeg": lambda: truncated(encode(noisy((400, 300)), "JPEG", quality=90)),
    "truncated-large-jpeg": lambda: truncated(encode(noisy((3800, 400)), "JPEG", quality=90)),
    "truncated-png": lambda: truncated(encode(noisy((200, 150)), "PNG")),
    "truncated-webp": lambda: truncated(encode(noisy((200, 150)), "WEBP")),
    "gif": lambda: encode(Image.new("RGB", (20, 20), RED), "GIF"),
    "bmp": lambda: encode(Image.new("RGB", (20, 20), RED), "BMP"),
    "tiff": lambda: encode(Image.new("RGB", (20, 20), RED), "TIFF"),
    "ico": lambda: encode(Image.new("RGB", (16, 16), RED), "ICO"),
    "svg": lambda: (
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        b'<rect width="10" height="10" fill="red"/><script>alert(1)</script></svg>'
    ),
    "html": lambda: b"<!doctype html><html><body><img src=x onerror=alert(1)></body></html>",
    "pdf": lambda: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n",
    "png-behind-jpeg-magic": lambda: b"\xff\xd8\xff\xe0" + encode(Image.new("RGB", (8, 8)), "PNG"),
    "jpeg-magic-only": lambda: b"\xff\xd8\xff",
    "riff-webp-garbage": lambda: b"RIFF\x40\x00\x00\x00WEBPVP8 " + os.urandom(60),
    "png-signature-only": lambda: b"\x89PNG\r\n\x1a\n",
    "decompression-bomb": lambda: with_size(encode(Image.new("1", (8, 8)), "PNG"), 50_000, 50_000),
}


@pytest.mark.parametrize("name", REFUSED)
def test_refuses_what_is_not_an_accepted_image(name):
    with pytest.raises(UploadRejected) as caught:
        process_upload(REFUSED[name]())

    assert_friendly(caught.value)


def test_refuses_a_real_oversized_picture_by_its_header():
    # 48 one-bit megapixels compress to a few kilobytes: only the header gives them away.
    source = encode(Image.new("1", (8000, 6000)), "PNG")
    assert len(source) < 200_000

    with pytest.raises(UploadRejected, match="40 megapixels") as caught:
        process_upload(source)

    assert_friendly(caught.value)


def test_decompression_bomb_is_refused_even_when_our_limit_is_higher():
    bomb = with_size(encode(Image.new("1", (8, 8)), "PNG"), 50_000, 50_000)

    with pytest.raises(UploadRejected, match="megapixels"):
        process_upload(bomb, ImageLimits(max_pixels=10**10))


def test_decompression_bomb_warning_is_refused_even_if_warnings_are_ignored():
    # 100 megapixels is past Pillow's warning threshold but below its hard error.
    bomb = with_size(encode(Image.new("1", (8, 8)), "PNG"), 10_000, 10_000)
    limits = ImageLimits(max_pixels=200_000_000)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(UploadRejected, match="megapixels"):
            process_upload(bomb, limits)


def test_byte_limit_is_checked_and_named_in_mb():
    with pytest.raises(UploadRejected, match=r"larger than 15 MB") as caught:
        process_upload(b"\xff\xd8\xff" + bytes(15 * MB))
    assert_friendly(caught.value)

    small = encode(noisy((64, 64)), "PNG")
    assert 3000 < len(small) < 2 * MB
    with pytest.raises(UploadRejected, match=r"larger than 0\.0029 MB"):
        process_upload(small, ImageLimits(max_bytes=3000))
    assert process_upload(small, ImageLimits(max_bytes=len(small))).width == 64


def test_pixel_limit_is_checked_and_named_in_megapixels():
    limits = ImageLimits(max_pixels=10_000)

    with pytest.raises(UploadRejected, match=r"more than 0\.01 megapixels") as caught:
        process_upload(encode(Image.new("RGB", (101, 100), RED), "PNG"), limits)
    assert_friendly(caught.value)
    assert process_upload(encode(Image.new("RGB", (100, 100), RED), "PNG"), limits).width == 100


def test_largest_accepted_size_passes_default_limits():
    # 7744 x 5164 is just under 40 megapixels; a flat colour keeps the test fast.
    source = encode(Image.new("RGB", (7744, 5164), GREEN), "JPEG", quality=70)

    result = process_upload(source)

    assert DRAFT_FLOOR <= result.width <= LIMITS.full_edge


def test_refusals_chain_the_cause_for_logs():
    with pytest.raises(UploadRejected) as caught:
        process_upload(truncated(encode(noisy((400, 300)), "JPEG")))

    assert caught.value.__cause__ is not None


def test_global_pillow_settings_are_left_alone():
    before = Image.MAX_IMAGE_PIXELS
    process_upload(encode(gradient((300, 200)), "JPEG"))
    with pytest.raises(UploadRejected):
        process_upload(truncated(encode(noisy((400, 300)), "JPEG")))

    assert before == Image.MAX_IMAGE_PIXELS
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_module_does_not_import_streamlit():
    root = Path(__file__).resolve().parents[1]
    code = "import sys, gallery_store.images; sys.exit('streamlit' in sys.modules)"

    completed = subprocess.run([sys.executable, "-c", code], cwd=root, check=False)

    assert completed.returncode == 0


# --- header checks, before any decoding ------------------------------------------------------


def _refuse_decoding(monkeypatch):
    def no_decoding(self):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(Image.Image, "load", no_decoding)


@pytest.mark.parametrize(("fmt", "name"), [("TIFF", "TIFF"), ("GIF", "GIF"), ("BMP", "BMP")])
def test_a_renamed_file_is_refused_by_its_magic_bytes_and_named(monkeypatch, fmt, name):
    source = encode(Image.new("RGB", (20, 20), RED), fmt)  # whatever it is called, say .png
    _refuse_decoding(monkeypatch)

    for check in (check_upload, process_upload):
        with pytest.raises(UploadRejected, match=f"is an? {name} image") as caught:
            check(source)
        assert "JPEG, PNG or WebP" in caught.value.message
        assert_friendly(caught.value)


def test_too_many_pixels_are_refused_from_the_header_without_decoding(monkeypatch):
    # Regression: 162 megapixels in a 654 KiB PNG took the server from 167 MB to 1.41 GB.
    source = encode(Image.new("1", (13_500, 12_000)), "PNG")
    _refuse_decoding(monkeypatch)

    for check in (check_upload, process_upload):
        with pytest.raises(UploadRejected, match="40 megapixels") as caught:
            check(source)
        assert_friendly(caught.value)


def test_check_upload_reads_the_header_only(monkeypatch):
    source = encode(gradient((300, 200)), "PNG")
    _refuse_decoding(monkeypatch)

    header = check_upload(source)

    assert (header.format, header.width, header.height, header.frames) == ("PNG", 300, 200, 1)
    assert 0 < header.decode_bytes < LIMITS.max_decode_bytes


@pytest.mark.parametrize(("fmt", "name"), [("PNG", "PNG"), ("WEBP", "WebP")])
def test_a_picture_too_costly_to_decode_is_refused_by_its_header(monkeypatch, fmt, name):
    source = encode(Image.new("RGB", (1000, 1000), GREEN), fmt)
    limits = ImageLimits(max_decode_bytes=check_upload(source).decode_bytes - 1)
    _refuse_decoding(monkeypatch)

    with pytest.raises(UploadRejected, match=f"That {name} image is too big") as caught:
        process_upload(source, limits)

    assert "megapixels" in caught.value.message
    assert_friendly(caught.value)


def test_webp_costs_more_to_decode_than_png_or_jpeg():
    picture = Image.new("RGB", (2400, 1600), GREEN)
    costs = {
        fmt: check_upload(encode(picture, fmt)).decode_bytes for fmt in ("JPEG", "PNG", "WEBP")
    }

    assert costs["JPEG"] <= costs["PNG"] < costs["WEBP"]


@pytest.mark.parametrize("mode", ["RGB", "P", "L"])
def test_shrinking_in_strips_matches_a_whole_picture_resize(mode):
    picture = gradient((3000, 2000))
    picture = (
        picture.quantize(64, dither=Image.Dither.NONE) if mode == "P" else picture.convert(mode)
    )
    expected = picture.convert("RGB").resize((2048, 1365), Image.Resampling.LANCZOS)

    result = process_upload(encode(picture, "PNG"))

    assert (result.width, result.height) == (2048, 1365)
    shown = Image.open(io.BytesIO(result.full)).convert("RGB")
    difference = ImageStat.Stat(ImageChops.difference(shown, expected))
    assert max(difference.mean) < 1.5  # JPEG's rounding, no seams between strips
