"""Accessibility in a real browser: an axe-core WCAG 2.2 AA audit and keyboard-only journeys.

Every signed-in page is audited with axe-core (``axe-playwright-python`` bundles it) for the
WCAG 2.0, 2.1 and 2.2 A and AA rules; a serious or critical violation fails. The journeys
that matter most are walked with the keyboard alone (Tab, Shift+Tab, Enter, Space and
typing; no mouse): signing in, the one-tap check-in, sharing an upload (the file itself is
handed to the file chooser, as a person's file dialog would) and posting a comment.

One server for the module, on the demo studio: a therapist, four participants, art with
comments and reactions (one piece with a content warning), reflections and check-ins.
"""

from __future__ import annotations

import re

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the e2e conftest skips these tests (or fails them in CI) and says why
    expect = None

from tests.e2e.conftest import (
    VIEWPORT,
    fast_config,
    keep_recovery_code,
    painting,
    seed,
    serve,
    settle,
    sign_in,
    visit,
)

pytestmark = pytest.mark.e2e

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
BLOCKING = {"serious", "critical"}
# Streamlit's own sidebar menu puts each section's header and links in a <div> directly
# inside its <ul> (ul > div > li), so axe's list and listitem rules fail on markup the app
# does not write and cannot change short of giving up Streamlit's menu. Only these two rules
# are set aside, and only there; everything else in the menu is still audited.
STREAMLIT_MARKUP = {
    "list": '[data-testid="stSidebarNavItems"]',
    "listitem": '[data-testid="stSidebarNavItems"] li',
}
PARTICIPANT_PAGES = ["today", "gallery", "artwork", "journal", "notices", "account"]
THERAPIST_PAGES = ["circles", "prompts", "care", "insights"]
HEADINGS = {
    "today": "Today",
    "gallery": "Tuesday caregivers gallery",
    "journal": "Your journal",
    "notices": "What's new",
    "account": "Your account",
    "circles": "Circles",
    "prompts": "Prompt library",
    "care": "Care queue",
    "insights": "Insights",
}


def seed_the_demo(data_dir: str) -> dict:
    """The demo studio, and which piece a participant can comment on (child process)."""
    from pathlib import Path

    from gallery_store import open_studio
    from gallery_store.demo import seed_demo

    demo = seed_demo(Path(data_dir), fast_config())
    with open_studio(data_dir, fast_config()) as studio:
        robin = studio.accounts.authenticate(demo.participants[0], demo.password)
        [circle] = studio.circles.for_user(robin)
        pieces = studio.artworks.gallery(robin, circle.id)
        by_others = next(a for a in pieces if a.user_id != robin.id and not a.content_warning)
        return {
            "therapist": demo.therapist,
            "participant": demo.participants[0],
            "password": demo.password,
            "artwork": by_others.id,
        }


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("accessibility")
    made = seed(folder / "data", f"{__name__}:seed_the_demo")
    with serve(folder / "data", folder / "server.log") as server:
        yield server, made


def signed_in(browser, server, username: str, password: str):
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(30_000)
    page = context.new_page()
    sign_in(page, server, username, password)
    keep_recovery_code(page)
    return context, page


@pytest.fixture(scope="module")
def participant_page(browser, demo):
    server, made = demo
    context, page = signed_in(browser, server, made["participant"], made["password"])
    yield page
    context.close()


@pytest.fixture(scope="module")
def therapist_page(browser, demo):
    server, made = demo
    context, page = signed_in(browser, server, made["therapist"], made["password"])
    yield page
    context.close()


# -- the audit -------------------------------------------------------------------------------------


def blocking_violations(page) -> list[str]:
    """Run axe-core on the page; describe each serious or critical violation, one a line."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(
        page,
        options={"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]},
    )
    found = []
    for violation in results.response["violations"]:
        if violation["impact"] not in BLOCKING:
            continue
        nodes = [
            node
            for node in violation["nodes"]
            if not _streamlit_markup(page, violation["id"], node["target"])
        ]
        found += [
            f"{violation['id']} ({violation['impact']}): {violation['help']} at "
            f"{node['target']}: {node['html'][:200]}"
            for node in nodes
        ]
    return found


def _streamlit_markup(page, rule: str, target: list) -> bool:
    selector = STREAMLIT_MARKUP.get(rule)
    if selector is None or len(target) != 1:
        return False
    return page.evaluate(
        "([target, selector]) => { const el = document.querySelector(target);"
        " return !!el && el.matches(selector); }",
        [target[0], selector],
    )


def open_page(page, server, url: str, heading: str) -> None:
    visit(page, server.url(url))
    expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
    settle(page)


@pytest.mark.parametrize("url", PARTICIPANT_PAGES)
def test_a_participants_pages_pass_a_wcag_aa_audit(demo, participant_page, url):
    server, made = demo
    page = participant_page
    if url == "artwork":
        visit(page, server.url(f"artwork?art={made['artwork']}"))
        expect(page.get_by_role("heading", name="Witnessing")).to_be_visible()
        settle(page)
    else:
        open_page(page, server, url, HEADINGS[url])
    assert blocking_violations(page) == []


@pytest.mark.parametrize("url", THERAPIST_PAGES)
def test_a_therapists_pages_pass_a_wcag_aa_audit(demo, therapist_page, url):
    server, _made = demo
    page = therapist_page
    open_page(page, server, url, HEADINGS[url])
    if url == "prompts":
        # A prompt opened, with its preview and buttons, is audited too.
        page.get_by_test_id("stExpander").nth(1).locator("summary").click()
        settle(page)
        expect(page.get_by_role("button", name="Edit this prompt")).to_be_visible()
    assert blocking_violations(page) == []


def test_the_audit_finds_what_it_is_meant_to_find(demo, participant_page):
    """The audit is no formality: without the app's stylesheet, Streamlit's faded captions
    (3.6:1 on the cream page) fail it."""
    server, _made = demo
    page = participant_page
    open_page(page, server, "account", HEADINGS["account"])
    page.evaluate(
        """() => document.querySelectorAll('style').forEach(style => {
               if (style.textContent.includes('stCaptionContainer')) style.remove(); })"""
    )
    assert any(v.startswith("color-contrast (serious)") for v in blocking_violations(page))


# -- keyboard only ---------------------------------------------------------------------------------

FOCUSED = """() => {
    const el = document.activeElement;
    if (!el || el === document.body) return null;
    const labels = el.labels ? Array.from(el.labels).map(l => l.innerText) : [];
    return {
        tag: el.tagName.toLowerCase(),
        role: el.getAttribute('role') || '',
        name: (el.getAttribute('aria-label') || labels.join(' ') || el.innerText || '').trim(),
        type: el.getAttribute('type') || '',
    };
}"""


def tab_to(page, name: str | re.Pattern, *, tag: str | None = None, most: int = 120) -> dict:
    """Press Tab until the element with this accessible name has the focus; return it."""
    for _ in range(most):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if not focused or (tag and focused["tag"] != tag):
            continue
        shown = focused["name"]
        if name.search(shown) if isinstance(name, re.Pattern) else shown == name:
            return focused
    raise AssertionError(f"Tab never reached {name!r}")


def test_signing_in_with_the_keyboard_alone(browser, demo):
    server, made = demo
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        visit(page, server.url())
        tab_to(page, "Username", tag="input")
        page.keyboard.type(made["participant"])
        tab_to(page, "Password", tag="input")
        page.keyboard.type(made["password"])
        tab_to(page, "Sign in", tag="button")
        with page.expect_navigation(url=re.compile(r"/(\?.*)?$"), timeout=30_000):
            page.keyboard.press("Enter")
        settle(page, 500)
        kept = page.get_by_role("button", name="I've kept it somewhere safe")
        if kept.count():
            tab_to(page, "I've kept it somewhere safe", tag="button")
            page.keyboard.press("Space")
            settle(page)
        expect(page.get_by_role("heading", name="Today", exact=True)).to_be_visible()
        expect(page.get_by_test_id("stSidebar").get_by_text("Robin", exact=True)).to_be_visible()
    finally:
        context.close()


def test_the_check_in_takes_one_key_press(demo, participant_page):
    """Tab reaches the faces, Space saves one; the arrow keys move between the faces, as in
    any group of radio buttons (Tab goes on to what follows the group)."""
    server, _made = demo
    page = participant_page
    open_page(page, server, "today", "Today")
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    focused = tab_to(page, re.compile(r"\bVery low$"), tag="button")
    assert focused["role"] == "radio"
    page.keyboard.press("Space")
    settle(page)
    expect(page.get_by_text("Saved: very low. Thank you for checking in.")).to_be_visible()

    faces = page.get_by_test_id("stButtonGroup").filter(has_text="before you begin")
    assert page.evaluate(FOCUSED)["name"].endswith("Very low")  # the focus stayed put
    for _ in range(2):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("Space")
    settle(page)
    expect(page.get_by_text("Saved: okay. Thank you for checking in.")).to_be_visible()
    expect(faces.get_by_role("radio", name="Okay", exact=True)).to_have_attribute(
        "aria-checked", "true"
    )


def test_sharing_an_upload_with_the_keyboard(demo, participant_page, tmp_path):
    server, _made = demo
    page = participant_page
    open_page(page, server, "today", "Today")
    picture = tmp_path / "harbour.png"
    picture.write_bytes(painting(11))
    # The file chooser is the one thing handed over directly, as a file dialog would.
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(picture)
    settle(page)
    expect(page.get_by_text("Preview — only you can see this until you share it")).to_be_visible()
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    tab_to(page, re.compile(r"\(alt text\)"), tag="textarea")
    page.keyboard.type("Blue and sage rings on cream, like ripples in a harbour.")
    tab_to(page, "Share with my circle", tag="button")
    page.keyboard.press("Enter")
    settle(page, 800)
    expect(
        page.get_by_text("Shared with your circle. Thank you for showing up today.")
    ).to_be_visible()


def test_posting_a_comment_with_the_keyboard(demo, participant_page):
    server, made = demo
    page = participant_page
    visit(page, server.url(f"artwork?art={made['artwork']}"))
    expect(page.get_by_role("heading", name="Witnessing")).to_be_visible()
    words = "I notice the warm patch holding its own in the fog."
    tab_to(page, "Your comment", tag="textarea")
    page.keyboard.type(words)
    tab_to(page, "Post comment", tag="button")
    page.keyboard.press("Enter")
    settle(page, 800)
    expect(page.get_by_test_id("stMarkdownContainer").filter(has_text=words)).to_be_visible()
    expect(page.get_by_role("textbox", name="Your comment")).to_have_value("")
