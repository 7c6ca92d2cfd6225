"""The upload preview on Today: it shows the cleaned copy, made once, and refuses kindly."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from streamlit.runtime.media_file_manager import MediaFileManager

from gallery_store.images import process_upload
from tests.apptest import app_for
from ui import forms

GPS_IFD = 0x8825


def gps_jpeg(size=(640, 480)) -> bytes:
    """Return a JPEG carrying a GPS position and a camera comment."""
    exif = Image.Exif()
    exif[0x010F] = "Phone maker"
    gps = exif.get_ifd(GPS_IFD)
    gps[1], gps[2] = "N", (51.0, 30.0, 12.5)
    gps[3], gps[4] = "W", (0.0, 7.0, 39.0)
    buffer = io.BytesIO()
    Image.new("RGB", size, (40, 120, 200)).save(buffer, "JPEG", exif=exif, comment=b"home")
    return buffer.getvalue()


@pytest.fixture
def served(monkeypatch):
    """Record every file the app hands to Streamlit's /media route."""
    files: list[tuple[bytes, str]] = []
    add = MediaFileManager.add

    def recording_add(self, path_or_data, mimetype, *args, **kwargs):
        if isinstance(path_or_data, bytes):
            files.append((path_or_data, mimetype))
        return add(self, path_or_data, mimetype, *args, **kwargs)

    monkeypatch.setattr(MediaFileManager, "add", recording_add)
    return files


def test_the_preview_is_the_processed_thumbnail_not_the_upload(
    studio, data_dir, monkeypatch, circle, participant, served
):
    source = gps_jpeg()
    at = app_for(studio, data_dir, monkeypatch, user=participant)
    at.file_uploader(key="share_upload").upload("holiday.jpg", source, "image/jpeg")
    at.run()

    assert len(at.image) == 1
    expected = process_upload(source, studio.config.images).thumbnail
    assert [data for data, _ in served] == [expected]
    preview, mimetype = served[0]
    assert mimetype == "image/jpeg"
    assert preview != source
    shown = Image.open(io.BytesIO(preview))
    assert not shown.getexif() and "exif" not in shown.info and "comment" not in shown.info
    assert b"Phone maker" not in preview and b"home" not in preview
    assert not at.exception


def test_the_preview_is_made_once_per_upload(studio, data_dir, monkeypatch, circle, participant):
    calls = []
    real = forms.process_upload

    def counting(data, limits=None):
        calls.append(len(data))
        return real(data, limits)

    monkeypatch.setattr(forms, "process_upload", counting)
    at = app_for(studio, data_dir, monkeypatch, user=participant)
    at.file_uploader(key="share_upload").upload("river.jpg", gps_jpeg(), "image/jpeg")
    at.run()
    at.text_area(key="caption_today").input("A river at dusk")
    at.run()
    at.run()

    assert len(calls) == 1
    assert len(at.image) == 1
    assert not at.exception


def test_a_tiff_named_png_is_refused_kindly_and_never_shown(
    studio, data_dir, monkeypatch, circle, participant, served
):
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(buffer, "TIFF")
    at = app_for(studio, data_dir, monkeypatch, user=participant)
    at.file_uploader(key="share_upload").upload("drawing.png", buffer.getvalue(), "image/png")
    at.run()

    assert not at.image and not served
    [error] = at.error
    assert "TIFF" in error.value and "JPEG, PNG or WebP" in error.value
    assert "Traceback" not in error.value
    assert not at.exception


def test_a_huge_png_is_refused_from_its_header_before_any_decoding(
    studio, data_dir, monkeypatch, circle, participant, served
):
    # 162 megapixels of one colour compress to a few hundred kilobytes.
    buffer = io.BytesIO()
    Image.new("1", (13_500, 12_000)).save(buffer, "PNG")

    def no_decoding(self):
        raise AssertionError("the upload was decoded")

    at = app_for(studio, data_dir, monkeypatch, user=participant)
    monkeypatch.setattr(Image.Image, "load", no_decoding)
    at.file_uploader(key="share_upload").upload("huge.png", buffer.getvalue(), "image/png")
    at.run()

    assert not at.image and not served
    assert any("megapixels" in e.value for e in at.error)
    assert not at.exception
