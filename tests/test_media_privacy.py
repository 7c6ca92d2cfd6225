"""No original upload, and so no GPS position, is ever stored or served by the art route."""

from __future__ import annotations

import io

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
    return artwork_image(Request(scope))  # a plain function: Starlette runs it in a thread


def assert_no_location(data: bytes) -> None:
    """Check an image file carries no EXIF at all, so no GPS, camera or comment."""
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    assert not image.getexif() and not image.getexif().get_ifd(GPS_IFD)
    assert "exif" not in image.info and "comment" not in image.info
    assert b"Exif\x00\x00" not in data and b"Phone maker" not in data


def test_a_shared_photo_with_gps_is_stored_and_served_without_it(
    studio, data_dir, monkeypatch, circle, participant, peer
):
    source = gps_jpeg((1200, 900))
    assert Image.open(io.BytesIO(source)).getexif().get_ifd(GPS_IFD)  # the test has teeth

    artwork = studio.artworks.share(participant, source, alt_text="Blue sky", circle_id=circle.id)

    stored = [p for p in (data_dir / "images").rglob("*") if p.is_file()]
    assert len(stored) == len(VARIANTS)
    for path in stored:
        assert path.read_bytes() != source
        assert_no_location(path.read_bytes())

    monkeypatch.setenv("KINDRED_DATA_DIR", str(data_dir))
    token = studio.accounts.start_session(peer)
    for variant in VARIANTS:
        response = _serve(f"/art/{artwork.id}/{variant}", token)
        assert response.status_code == 200, variant
        assert response.headers["content-type"] == "image/jpeg"
        assert_no_location(response.body)
