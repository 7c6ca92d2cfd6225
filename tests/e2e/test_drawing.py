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
    keep_recovery_code,
    screenshot,
    scroll_to,
    seed,
    serve,
    settle,
    sign_in,
)

pytestmark = pytest.mark.e2e

ALT_TEXT = "A dark zig-zag line drawn across a white page."
CORAL_ALT = "A coral zig-zag line drawn across a white page."
CORAL = (232, 115, 90)  # the palette's "Coral", #E8735A
ALT_BOX = "Describe your artwork for people who can't see it (alt text)"
# A phone's browser says so in its user agent ("Mobile"); this is a Pixel's Chrome.
PHONE_AGENT = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Mobile Safari/537.36"
)


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
    keep_recovery_code(page)
    page.get_by_text("Draw it here").click()
    settle(page, 800)
    page.locator("canvas").last.wait_for(state="visible", timeout=30_000)


def full_image_of(page, server, alt_text: str) -> Image.Image:
    """Find a shared artwork in the gallery by its alt text; fetch its full copy."""
    page.get_by_role("link", name="Gallery", exact=True).click()
    settle(page)
    image = page.locator(f'img[alt="{alt_text}"]').first
    image.wait_for(state="visible")
    artwork_id = image.get_attribute("src").split("/")[1]
    status, _headers, body = http_get(
        server.url(f"art/{artwork_id}/full"), cookie_header(page.context)
    )
    assert status == 200, status
    return Image.open(io.BytesIO(body)).convert("RGB")


def near(pixel, colour, tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=True))


def drawing_surface(page):
    """Return the top canvas (Fabric.js draws on the upper of its two canvases)."""
    canvases = page.locator("canvas")
    return canvases.nth(canvases.count() - 1)


def draw_zigzag(page, surface) -> None:
    # The mouse only reaches what is on screen: below the fold the stroke would be lost.
    scroll_to(surface, "center")
    page.wait_for_timeout(200)
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

    page.get_by_role("textbox", name=ALT_BOX).fill(ALT_TEXT)
    page.get_by_role("button", name="Share with my circle").click()
    settle(page, 1500)
    page.get_by_text("Shared with your circle").wait_for(timeout=30_000)

    # Regression: the drawing and the words stayed after sharing, and Share posted them again.
    assert page.get_by_role("textbox", name=ALT_BOX).input_value() == ""
    page.get_by_role("link", name="Open your piece").wait_for()
    page.get_by_role("button", name="Share with my circle").click()
    settle(page, 1500)
    page.get_by_text("Please choose a photo or take one first.").wait_for()

    # The gallery shows it (once) with its alt text; fetch the full copy as the browser would.
    drawing = full_image_of(page, server, ALT_TEXT)
    assert page.locator(f'img[alt="{ALT_TEXT}"]').count() == 1
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


def test_a_chosen_colour_draws_in_that_colour(server, people):
    """Regression: with Coral chosen the stroke, and the shared image, were Ink."""
    page = people.new().new_page()
    open_drawing_board(page, server)
    page.get_by_role("radio", name="Coral", exact=True).click()
    settle(page, 800)
    swatch = (
        page.get_by_test_id("stColorPicker")
        .filter(has_text="Or any colour")
        .get_by_test_id("stColorPickerBlock")
    )
    assert swatch.evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(232, 115, 90)"
    draw_zigzag(page, drawing_surface(page))
    page.get_by_role("textbox", name=ALT_BOX).fill(CORAL_ALT)
    page.get_by_role("button", name="Share with my circle").click()
    settle(page, 1500)
    page.get_by_text("Shared with your circle").wait_for(timeout=30_000)

    drawing = full_image_of(page, server, CORAL_ALT)
    pixels = list(drawing.get_flattened_data())
    coral = sum(1 for pixel in pixels if near(pixel, CORAL))
    ink = sum(1 for r, g, b in pixels if r + g + b < 250)
    assert coral > 500, f"only {coral} coral pixels ({ink} dark ones): the colour didn't apply"
    assert ink < coral / 10, f"{ink} dark pixels: the stroke was drawn in Ink"


def test_every_brush_fits_a_laptop_screen(server, browser):
    """Regression: at 1280 pixels wide the "Wash" brush was cut off at its column's edge."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        open_drawing_board(page, server)
        brushes = page.get_by_role("radiogroup", name="Brush")
        # Not scrollIntoView on a button: that would scroll the row sideways to show it.
        scroll_to(brushes, "center")
        row = brushes.evaluate("el => ({scroll: el.scrollWidth, client: el.clientWidth})")
        assert row["scroll"] <= row["client"] + 1, f"the brushes overflow their row: {row}"
        edge = brushes.evaluate("el => el.getBoundingClientRect().right")
        for name in ("Fine", "Medium", "Broad", "Wash"):
            box = brushes.get_by_role("radio", name=name, exact=True).bounding_box()
            assert box["x"] + box["width"] <= edge + 0.5, (name, box, edge)
    finally:
        context.close()


def test_on_a_phone_the_canvas_fits_the_screen_from_the_start(server, browser):
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        user_agent=PHONE_AGENT,
        is_mobile=True,
        has_touch=True,
    )
    try:
        page = context.new_page()
        open_drawing_board(page, server)
        page.wait_for_selector(IDLE)
        box = drawing_surface(page).bounding_box()
        assert box is not None
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390 + 1, box
        scroll_to(drawing_surface(page), "center")
        screenshot(page, "phone-drawing.png")
    finally:
        context.close()
