"""Drawing in the app: a real mouse stroke becomes coloured pixels in the shared artwork."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from .conftest import (
    IDLE,
    PASSWORD,
    cookie_header,
    fast_config,
    http_get,
    screenshot,
    scroll_to,
    seed,
    serve,
    settle,
    sign_in,
)

pytestmark = pytest.mark.e2e

ALT_TEXT = "A dark zig-zag line drawn across a white page."


def seed_drawing_circle(data_dir: str) -> dict:
    """A therapist, a circle and one participant (child process)."""
    from gallery_store import open_studio

    with open_studio(data_dir, fast_config()) as studio:
        tess = studio.accounts.bootstrap_therapist("tess", PASSWORD, "Tess")
        circle = studio.circles.create(tess, "Drawing circle")
        studio.accounts.join(studio.circles.invite(tess, circle.id), "robin", PASSWORD, "Robin")
        return {"circle_id": circle.id}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("drawing")
    seed(folder / "data", f"{__name__}:seed_drawing_circle")
    with serve(folder / "data", folder / "server.log") as running:
        yield running


def open_drawing_board(page, server) -> None:
    sign_in(page, server, "robin")
    page.get_by_text("Draw it here").click()
    settle(page, 800)
    page.locator("canvas").last.wait_for(state="visible", timeout=30_000)


def drawing_surface(page):
    """Return the top canvas (Fabric.js draws on the upper of its two canvases)."""
    canvases = page.locator("canvas")
    return canvases.nth(canvases.count() - 1)


def draw_zigzag(page, surface) -> None:
    box = surface.bounding_box()
    assert box and box["width"] > 100, "the drawing canvas is not on screen"
    left, top = box["x"] + 40, box["y"] + 40
    page.mouse.move(left, top)
    page.mouse.down()
    for step in range(1, 13):
        x = left + step * (box["width"] - 80) / 12
        y = top + (box["height"] - 80) * (step % 2)
        page.mouse.move(x, y, steps=8)
    page.mouse.up()
    settle(page, 1200)


def test_a_drawn_stroke_is_shared_as_coloured_pixels(server, people):
    page = people.new().new_page()
    open_drawing_board(page, server)
    draw_zigzag(page, drawing_surface(page))
    scroll_to(drawing_surface(page), "center")
    screenshot(page, "drawing.png")

    alt_box = "Describe your artwork for people who can't see it (alt text)"
    page.get_by_role("textbox", name=alt_box).fill(ALT_TEXT)
    page.get_by_role("button", name="Share with my circle").click()
    settle(page, 1500)
    page.get_by_text("Shared with your circle").wait_for(timeout=30_000)

    # The gallery shows it with its alt text; fetch the full-size copy as the browser would.
    page.get_by_role("link", name="Gallery", exact=True).click()
    settle(page)
    image = page.locator(f'img[alt="{ALT_TEXT}"]').first
    image.wait_for(state="visible")
    artwork_id = image.get_attribute("src").split("/")[1]
    status, _headers, body = http_get(
        server.url(f"art/{artwork_id}/full"), cookie_header(page.context)
    )
    assert status == 200, status
    drawing = Image.open(io.BytesIO(body)).convert("RGB")
    dark = sum(1 for r, g, b in drawing.get_flattened_data() if r + g + b < 250)
    assert dark > 500, f"only {dark} dark pixels: the stroke did not reach the shared artwork"
    corner = drawing.getpixel((2, 2))
    assert min(corner) > 230, f"the unpainted page should be the white background, not {corner}"


def test_a_drawing_can_be_saved_as_a_private_draft(server, people):
    page = people.new().new_page()
    open_drawing_board(page, server)
    draw_zigzag(page, drawing_surface(page))
    page.get_by_role("button", name="Save as a private draft").click()
    settle(page, 800)
    page.get_by_text("Saved as a draft").wait_for(timeout=20_000)
    page.reload()
    settle(page, 800)
    page.get_by_text("Draw it here").click()
    settle(page, 800)
    assert page.get_by_text("Start from").count() >= 1


def test_the_phone_canvas_fits_a_narrow_screen(server, browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True)
    try:
        page = context.new_page()
        open_drawing_board(page, server)
        page.get_by_text("Phone", exact=True).click()
        settle(page, 800)
        page.wait_for_selector(IDLE)
        box = drawing_surface(page).bounding_box()
        assert box is not None
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390 + 1, box
        scroll_to(drawing_surface(page), "center")
        screenshot(page, "drawing-phone.png")
    finally:
        context.close()
