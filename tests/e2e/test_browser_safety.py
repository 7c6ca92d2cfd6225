"""Safety in a real browser: people's words stay text, images need a session, links stay cold.

The studio is seeded before the server starts (a child process: the server must be the only
one holding the folder's lock) with captions and a comment that would run script or make
``javascript:`` links if they were rendered as Markdown or HTML.
"""

from __future__ import annotations

import re
import unicodedata

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the e2e conftest skips these tests (or fails them in CI) and says why
    expect = None

from tests.e2e.conftest import (
    PASSWORD,
    cookie_header,
    fast_config,
    http_get,
    main_text,
    painting,
    seed,
    serve,
    settle,
    sign_in,
    visit,
)

pytestmark = pytest.mark.e2e

CIRCLE = "Harbour circle"
LINK_CAPTION = "[click](javascript:alert(1))"
HTML_CAPTION = "<img src=x onerror=alert(1)>"
DATA_CAPTION = "[my page](data:text/html,<script>alert(1)</script>)"
QUIET_CAPTION = "A quiet harbour at dusk, boats resting."
ARTWORKS = [
    (QUIET_CAPTION, "Three small boats on dark water under an orange sky."),
    (LINK_CAPTION, "Blue and green circles drifting across a pale page."),
    (HTML_CAPTION, "A purple spiral with pink dots around its edge."),
    (DATA_CAPTION, "Yellow sun shapes stacked like a tower."),
]
COMMENT = "[a kind link](javascript:alert(2)) <script>alert(3)</script> ![x](x)"
PEOPLE_NAMES = ("Tess", "Robin", "Sam")

# Anything that would turn someone's words into live content.
LIVE_CONTENT = """() => ({
    scriptLinks: Array.from(document.querySelectorAll("a[href]")).map(a => a.href)
        .filter(href => /^\\s*(javascript|data|vbscript):/i.test(href)),
    onError: document.querySelectorAll("[onerror]").length,
    imgX: Array.from(document.images).filter(img => img.getAttribute("src") === "x").length,
    alertScripts: Array.from(document.scripts).filter(s => s.textContent.includes("alert(")).length,
})"""
NOTHING_LIVE = {"scriptLinks": [], "onError": 0, "imgX": 0, "alertScripts": 0}


def seed_a_circle(data_dir: str) -> dict:
    """A therapist, a circle, two participants, four artworks and a comment (child process)."""
    from gallery_store import open_studio

    with open_studio(data_dir, fast_config()) as studio:
        tess = studio.accounts.bootstrap_therapist("tess", PASSWORD, "Tess")
        circle = studio.circles.create(tess, CIRCLE)
        robin = studio.accounts.join(
            studio.circles.invite(tess, circle.id), "robin", PASSWORD, "Robin"
        )
        sam = studio.accounts.join(studio.circles.invite(tess, circle.id), "sam", PASSWORD, "Sam")
        shared = []
        for n, (caption, alt_text) in enumerate(ARTWORKS):
            artist = robin if n % 2 == 0 else sam
            artwork = studio.artworks.share(
                artist, painting(n, size=(480, 360)), caption=caption, alt_text=alt_text
            )
            shared.append(
                {"id": artwork.id, "caption": artwork.caption, "alt_text": artwork.alt_text}
            )
        comment = studio.comments.post(sam, shared[1]["id"], COMMENT)
        return {"artworks": shared, "comment": comment.text, "circle_id": circle.id}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("safety")
    made = seed(folder / "data", f"{__name__}:seed_a_circle")
    with serve(folder / "data", folder / "server.log") as server:
        yield server, made


def assert_nothing_live(page) -> None:
    page.wait_for_timeout(300)  # an onerror handler would fire as the image fails
    assert page.evaluate(LIVE_CONTENT) == NOTHING_LIVE


def as_read(text: str) -> str:
    """Drop invisible format characters (the app puts a word joiner after "javascript:")."""
    return "".join(c for c in text if unicodedata.category(c) != "Cf")


def art_images(page):
    return page.locator('[data-testid="stMain"] img[src*="art/"]')


# -- a cold deep link straight after a start -------------------------------------------------------


def test_cold_deep_links_straight_after_a_start_show_no_data(tmp_path, people):
    """The first request after a start may run a page file alone: it must show nothing."""
    made = seed(tmp_path / "data", f"{__name__}:seed_a_circle")
    secrets = [
        CIRCLE,
        *PEOPLE_NAMES,
        *(a["caption"] for a in made["artworks"]),
        *(a["alt_text"] for a in made["artworks"]),
        made["comment"],
    ]
    with serve(tmp_path / "data", tmp_path / "server.log") as server:
        page = people.new().new_page()
        asked_for_art: list[str] = []
        page.on("request", lambda r: asked_for_art.append(r.url) if "/art/" in r.url else None)
        first = made["artworks"][0]["id"]
        for path in ("gallery", "journal", f"artwork?art={first}", "insights", "no-such-page"):
            visit(page, server.url(path))
            page.wait_for_timeout(500)
            text = page.locator("body").inner_text()
            for secret in secrets:
                assert secret not in text, f"/{path} showed {secret!r}"
            html = page.content()
            for artwork in made["artworks"]:
                if artwork["id"] != first:  # the one in the address bar is no secret
                    assert artwork["id"] not in html, f"/{path} leaked an artwork id"
            assert art_images(page).count() == 0
            # What it does show: the welcome and its sign-in form, nothing else.
            assert "Welcome to Kindred Canvas" in text, text
        assert asked_for_art == []
        assert not people.dialogs


# -- people's words stay text ----------------------------------------------------------------------


def test_captions_and_comments_stay_inert_text(seeded, people):
    server, made = seeded
    page = people.new().new_page()
    sign_in(page, server, "sam")
    page.get_by_role("link", name="Gallery", exact=True).click()
    settle(page)
    expect(page.get_by_role("heading", name=f"{CIRCLE} gallery")).to_be_visible()
    expect(art_images(page)).to_have_count(len(ARTWORKS))
    shown = as_read(main_text(page))
    for artwork in made["artworks"]:
        assert artwork["caption"] in shown  # the exact words, as text
    assert_nothing_live(page)

    link_art = made["artworks"][1]
    # The thumbnail is the link, named by its alt text.
    page.get_by_role("link", name=link_art["alt_text"], exact=True).click()
    settle(page)
    expect(page.get_by_role("heading", name="By Sam")).to_be_visible()
    expect(page.get_by_role("heading", name="Witnessing")).to_be_visible()
    shown = as_read(main_text(page))
    assert link_art["caption"] in shown
    assert made["comment"] in shown
    assert_nothing_live(page)
    assert page.get_by_role("link", name="click").count() == 0
    assert page.get_by_role("link", name="a kind link").count() == 0
    assert not people.dialogs


def test_every_artwork_image_carries_its_alt_text(seeded, people):
    server, made = seeded
    page = people.new().new_page()
    sign_in(page, server, "robin")
    page.get_by_role("link", name="Gallery", exact=True).click()
    settle(page)
    images = art_images(page)
    expect(images).to_have_count(len(ARTWORKS))
    expected = {a["id"]: a["alt_text"] for a in made["artworks"]}
    for index in range(images.count()):
        image = images.nth(index)
        image.scroll_into_view_if_needed()
        artwork_id = re.search(r"art/([^/]+)/thumb", image.get_attribute("src")).group(1)
        alt = image.get_attribute("alt")
        assert alt and alt == expected[artwork_id]
        # The cookie-authenticated image really loads.
        expect(image).to_have_js_property("complete", True)
        assert image.evaluate("img => img.naturalWidth") > 0


# -- sessions --------------------------------------------------------------------------------------


def test_images_need_a_session_cookie(seeded, people):
    server, made = seeded
    thumb = server.url(f"art/{made['artworks'][0]['id']}/thumb")
    status, _headers, _body = http_get(thumb)
    assert status == 401
    status, _headers, _body = http_get(thumb, cookie="kc_session=not-a-real-session")
    assert status == 401

    page = people.new().new_page()
    sign_in(page, server, "robin")
    status, headers, body = http_get(thumb, cookie=cookie_header(page.context))
    assert status == 200
    assert headers["content-type"].startswith("image/")
    assert body


def test_reload_keeps_you_signed_in_and_sign_out_ends_the_session(seeded, people):
    server, made = seeded
    page = people.new().new_page()
    sign_in(page, server, "robin")
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_text("Robin", exact=True)).to_be_visible()
    cookie = page.context.cookies()
    session = next(c for c in cookie if c["name"] == "kc_session")
    assert session["httpOnly"] and session["sameSite"] == "Strict"

    page.reload()
    settle(page)
    expect(sidebar.get_by_text("Robin", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="Today", exact=True)).to_be_visible()

    with page.expect_navigation(url=re.compile(r"/$"), timeout=30_000):
        sidebar.get_by_role("button", name="Sign out").click()
    settle(page, 500)
    expect(page.get_by_role("heading", name="Welcome to Kindred Canvas")).to_be_visible()
    page.reload()
    settle(page)
    expect(page.get_by_role("heading", name="Welcome to Kindred Canvas")).to_be_visible()
    assert "Robin" not in page.locator("body").inner_text()
    assert all(c["name"] != "kc_session" for c in page.context.cookies())

    # The old cookie is dead on the server, not just forgotten by this browser.
    old = f"kc_session={session['value']}"
    status, _headers, _body = http_get(server.url(f"art/{made['artworks'][0]['id']}/thumb"), old)
    assert status == 401
    replay = people.new()
    replay.add_cookies([{k: session[k] for k in ("name", "value", "domain", "path")}])
    other = replay.new_page()
    visit(other, server.url())
    expect(other.get_by_role("heading", name="Welcome to Kindred Canvas")).to_be_visible()
    assert "Robin" not in other.locator("body").inner_text()
