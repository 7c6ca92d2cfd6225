"""Links in a real browser: opened signed out, followed through sign-in, or not for your role.

Streamlit answers an address ``st.navigation`` doesn't know with a "Page not found" dialog
over the main page; only a browser shows it, so these tests look for it on every address.
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
    painting,
    seed,
    serve,
    settle,
    sign_in,
    submit_and_follow_cookie,
    visit,
)

pytestmark = pytest.mark.e2e

CIRCLE = "Lighthouse circle"
CAPTION = "Gulls over a grey sea."


def seed_a_circle(data_dir: str) -> dict:
    """A therapist, a circle, two participants and Sam's artwork (child process)."""
    from gallery_store import open_studio

    with open_studio(data_dir, fast_config()) as studio:
        tess = studio.accounts.bootstrap_therapist("tess", PASSWORD, "Tess")
        circle = studio.circles.create(tess, CIRCLE)
        for username, name in (("robin", "Robin"), ("sam", "Sam")):
            studio.accounts.join(studio.circles.invite(tess, circle.id), username, PASSWORD, name)
        sam = studio.accounts.authenticate("sam", PASSWORD)
        artwork = studio.artworks.share(
            sam, painting(3, size=(480, 360)), caption=CAPTION, alt_text="White birds, grey sea."
        )
        return {"artwork_id": artwork.id}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("links")
    made = seed(folder / "data", f"{__name__}:seed_a_circle")
    with serve(folder / "data", folder / "server.log") as server:
        yield server, made


def assert_no_page_not_found(page) -> None:
    page.wait_for_timeout(500)
    expect(page.get_by_role("dialog").filter(has_text="Page not found")).to_have_count(0)


def sign_in_here(page, username: str) -> None:
    """Sign in on the welcome this page shows, and follow the cookie hand-off."""
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    submit_and_follow_cookie(page, "Sign in")
    settle(page, 800)


@pytest.mark.parametrize(
    ("path", "heading"),
    [
        ("journal", "Your journal"),
        ("artwork?art={artwork_id}", "By Sam"),
        # Not a participant's page: a kind word, after sign-in as before it.
        ("care", "This page is for facilitators"),
    ],
)
def test_a_link_opened_signed_out_shows_the_welcome_and_opens_after_sign_in(
    seeded, people, path, heading
):
    server, made = seeded
    path = path.format(**made)
    page = people.new().new_page()
    visit(page, server.url(path))
    # Regression: "Page not found" over the welcome, and Today after sign-in.
    assert_no_page_not_found(page)
    expect(page.get_by_role("heading", name="Welcome to Kindred Canvas")).to_be_visible()
    assert CAPTION not in page.locator("body").inner_text()

    sign_in_here(page, "robin")
    expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
    assert page.url.endswith("/" + path), page.url
    assert_no_page_not_found(page)
    assert not people.dialogs


def test_signed_in_a_page_that_is_not_yours_says_so_kindly(seeded, people):
    server, _made = seeded
    page = people.new().new_page()
    sign_in(page, server, "robin")
    for path, heading in (
        ("care", "This page is for facilitators"),
        ("insights", "This page is for facilitators"),
        # The first page's own address answers too, not only "/".
        ("today", "Today"),
    ):
        visit(page, server.url(path))
        assert_no_page_not_found(page)
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
    visit(page, server.url("care"))
    page.get_by_role("button", name="Go to Today").click()
    settle(page)
    expect(page.get_by_role("heading", name="Today", exact=True)).to_be_visible()
    assert_no_page_not_found(page)
