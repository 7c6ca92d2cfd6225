"""The gallery in a real browser, on a laptop and on a phone: links, warnings, filters.

One server for the module, seeded before it starts: a circle where Robin and Sam have shared
portrait-shaped pieces (as phone photos are), one of Sam's with a content warning.
"""

from __future__ import annotations

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the e2e conftest skips these tests (or fails them in CI) and says why
    expect = None

from tests.e2e.conftest import (
    PASSWORD,
    fast_config,
    keep_recovery_code,
    painting,
    screenshot,
    seed,
    serve,
    settle,
    sign_in,
    visit,
)

pytestmark = pytest.mark.e2e

CIRCLE = "Lantern circle"
WARNING = "grief"
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
# A phone's browser says so in its user agent ("Mobile"); this is a Pixel's Chrome.
PHONE_AGENT = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Mobile Safari/537.36"
)


def seed_lantern_circle(data_dir: str) -> dict:
    """A therapist, Robin and Sam, and six portrait pieces, one with a warning (child process)."""
    from gallery_store import open_studio

    with open_studio(data_dir, fast_config()) as studio:
        tess = studio.accounts.bootstrap_therapist("tess", PASSWORD, "Tess")
        circle = studio.circles.create(tess, CIRCLE)
        robin = studio.accounts.join(
            studio.circles.invite(tess, circle.id), "robin", PASSWORD, "Robin"
        )
        sam = studio.accounts.join(studio.circles.invite(tess, circle.id), "sam", PASSWORD, "Sam")
        made = {"robin": [], "sam": []}
        for number in range(6):
            artist = robin if number % 2 == 0 else sam
            artwork = studio.artworks.share(
                artist,
                painting(number, size=(900, 1200)),
                caption=f"Lantern {number}",
                alt_text=f"Soft round lanterns, number {number}, glowing in warm colours.",
                content_warning=WARNING if number == 3 else None,
            )
            made[artist.username].append({"id": artwork.id, "alt_text": artwork.alt_text})
        return made


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gallery-screens")
    made = seed(folder / "data", f"{__name__}:seed_lantern_circle")
    with serve(folder / "data", folder / "server.log") as server:
        yield server, made


def open_as(browser, server, username: str, viewport: dict, *, phone: bool = False):
    """Sign someone in on a fresh device of this size; return the context and the page."""
    extra = {"user_agent": PHONE_AGENT, "is_mobile": True, "has_touch": True} if phone else {}
    context = browser.new_context(viewport=viewport, **extra)
    context.set_default_timeout(30_000)
    page = context.new_page()
    sign_in(page, server, username)
    keep_recovery_code(page)
    return context, page


def on_first_screen(locator, viewport: dict) -> bool:
    """Say whether an element is wholly inside the window without scrolling."""
    box = locator.bounding_box()
    return (
        box is not None
        and box["y"] >= 0
        and box["y"] + box["height"] <= viewport["height"]
        and box["x"] >= 0
        and box["x"] + box["width"] <= viewport["width"] + 1
    )


def show_filters(page) -> None:
    """Unfold the gallery's filters, when they are folded away."""
    toggle = page.get_by_text("Only my art", exact=True)
    if not toggle.is_visible():
        page.get_by_text("Filters and content warnings").click()
        settle(page)


def test_a_thumbnail_is_the_link_and_the_keyboard_reaches_it(seeded, browser):
    """Regression: only an "Open" button opened an artwork; its thumbnail was no link."""
    server, made = seeded
    context, page = open_as(browser, server, "robin", LAPTOP)
    try:
        visit(page, server.url("gallery"))
        piece = made["sam"][0]
        link = page.get_by_role("link", name=piece["alt_text"], exact=True)
        expect(link).to_have_count(1)
        # The link lies over the thumbnail: a click on the picture is a click on the link.
        image = page.locator(f'img[alt="{piece["alt_text"]}"]')
        image.scroll_into_view_if_needed()
        hit = image.evaluate(
            """img => {
                const box = img.getBoundingClientRect();
                const there = document.elementFromPoint(box.x + box.width / 2,
                                                        box.y + box.height / 2);
                return there && there.closest('a') ? there.closest('a').href : null;
            }"""
        )
        assert hit and f"art={piece['id']}" in hit, hit

        # Tab from the top of the page until the thumbnail's link has the focus.
        page.evaluate("() => document.activeElement && document.activeElement.blur()")
        for _ in range(60):
            page.keyboard.press("Tab")
            focused = page.evaluate("() => document.activeElement && document.activeElement.href")
            if focused and f"art={piece['id']}" in focused:
                break
        else:
            pytest.fail("Tab never reached the thumbnail's link")
        page.keyboard.press("Enter")
        settle(page, 800)
        expect(page.get_by_role("heading", name="By Sam")).to_be_visible()
        assert f"art={piece['id']}" in page.url
    finally:
        context.close()


@pytest.mark.parametrize(
    ("viewport", "phone"), [(LAPTOP, False), (PHONE, True)], ids=["laptop", "phone"]
)
def test_a_warned_artwork_puts_its_warning_and_choice_on_the_first_screen(
    seeded, browser, viewport, phone
):
    """Regression: the blurred copy filled the screen; the warning and button were below."""
    server, made = seeded
    warned = made["sam"][1]
    context, page = open_as(browser, server, "robin", viewport, phone=phone)
    try:
        visit(page, server.url(f"artwork?art={warned['id']}"))
        expect(page.get_by_role("heading", name="By Sam")).to_be_visible()
        reveal = page.get_by_role("button", name="Show this artwork")
        expect(reveal).to_be_visible()
        assert on_first_screen(reveal, viewport), reveal.bounding_box()
        assert on_first_screen(page.get_by_text(f"Content warning: {WARNING}").first, viewport)
        reveal.click()
        settle(page)
        expect(page.locator(f'img[alt="{warned["alt_text"]}"]')).to_be_visible()
    finally:
        context.close()


def test_deleting_an_artwork_asks_first_and_keeps_the_gallery_filter(seeded, browser):
    """Regression: after deleting an artwork the gallery's "Only my art" filter was off."""
    server, made = seeded
    context, page = open_as(browser, server, "robin", LAPTOP)
    try:
        visit(page, server.url("gallery"))
        show_filters(page)
        page.get_by_text("Only my art", exact=True).click()
        settle(page)
        robins = [p["alt_text"] for p in made["robin"]]
        expect(page.locator('[data-testid="stMain"] img[src*="art/"]')).to_have_count(len(robins))

        doomed = made["robin"][-1]
        page.get_by_role("link", name=doomed["alt_text"], exact=True).click()
        settle(page, 800)
        expect(page.get_by_role("heading", name="By Robin")).to_be_visible()
        page.get_by_text("Edit or delete your artwork").click()
        page.get_by_role("button", name="Delete this artwork").click()
        settle(page)
        dialog = page.get_by_role("dialog")
        expect(dialog.get_by_text("will be removed for good")).to_be_visible()
        expect(page.get_by_role("heading", name="By Robin")).to_be_visible()  # nothing gone yet
        dialog.get_by_role("button", name="Yes, delete it").click()
        settle(page, 800)

        expect(page.get_by_role("heading", name=f"{CIRCLE} gallery")).to_be_visible()
        shown = page.locator('[data-testid="stMain"] img[src*="art/"]')
        expect(shown).to_have_count(len(robins) - 1)
        assert {shown.nth(i).get_attribute("alt") for i in range(shown.count())} == set(robins[:-1])
        show_filters(page)
        expect(page.get_by_role("switch", name="Only my art")).to_be_checked()
    finally:
        context.close()


def test_on_a_phone_the_art_comes_first(seeded, browser):
    """Regression: on a phone the filters filled the first screen and the art began below."""
    server, _made = seeded
    context, page = open_as(browser, server, "sam", PHONE, phone=True)
    try:
        visit(page, server.url("gallery"))
        expect(page.get_by_role("heading", name=f"{CIRCLE} gallery")).to_be_visible()
        first = page.locator('[data-testid="stMain"] img[src*="art/"]').first
        expect(first).to_be_visible()
        assert on_first_screen(first, PHONE), first.bounding_box()
        screenshot(page, "phone-gallery.png")
    finally:
        context.close()
