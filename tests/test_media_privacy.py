"""No original upload, and so no GPS position, is ever stored or served by the art route.

On the data folder's images and on images in an S3 bucket alike.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image
from starlette.requests import Request

from gallery_store.artworks import VARIANTS
from tests.test_app_upload_preview import GPS_IFD, gps_jpeg
from ui.context import COOKIE


def _serve(path: str, token: str):
    """Ask the /art route for one file as a signed-in browser would."""
    from ui.web import artwork_image

    artwork_id, variant = path.split("/")[2:4]
    scope = {
        "type": "http",
        "method": "GET",
        "scheme": "https",
        "server": ("canvas.example", 443),
        "path": path,
        "path_params": {"artwork_id": artwork_id, "variant": variant},
        "query_string": b"",
        "headers": [(b"cookie", f"{COOKIE}={token}".encode())],
    }
    # A plain function: the server runs it in its thread pool.
    return artwork_image(Request(scope))


@pytest.fixture
def media_url(any_media_url):
    return any_media_url


def assert_no_location(data: bytes) -> None:
    """Check an image file carries no EXIF at all, so no GPS, camera or comment."""
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    assert not image.getexif() and not image.getexif().get_ifd(GPS_IFD)
    assert "exif" not in image.info and "comment" not in image.info
    assert b"Exif\x00\x00" not in data and b"Phone maker" not in data


def test_a_shared_photo_with_gps_is_stored_and_served_without_it(
    studio, data_dir, stored, monkeypatch, circle, participant, peer
):
    source = gps_jpeg((1200, 900))
    assert Image.open(io.BytesIO(source)).getexif().get_ifd(GPS_IFD)  # the test has teeth

    artwork = studio.artworks.share(participant, source, alt_text="Blue sky", circle_id=circle.id)

    assert stored.names() == set(artwork.media_names)
    assert len(artwork.media_names) == len(VARIANTS)
    for name in stored.names():
        assert stored.read(name) != source
        assert_no_location(stored.read(name))

    monkeypatch.setenv("KINDRED_DATA_DIR", str(data_dir))
    token = studio.accounts.start_session(peer)
    for variant in VARIANTS:
        response = _serve(f"/art/{artwork.id}/{variant}", token)
        assert response.status_code == 200, variant
        assert response.headers["content-type"] == "image/jpeg"
        assert_no_location(response.body)
