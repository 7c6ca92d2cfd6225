"""Crisis support in a real browser, one test per tier of what someone might write.

At risk now: the writer sees calm words and the circle's own lines (a London circle: Samaritans
and 999) at once, the comment is held from the artist, and the therapist's queue opens with it.
Worried about someone: lines for helping another person. A mention: no banner at all.
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
    main_text,
    painting,
    seed,
    serve,
    settle,
    sign_in,
    visit,
)

pytestmark = pytest.mark.e2e

AT_RISK = "I took 30 paracetamol an hour ago and I want to die."
WORRIED = "My son texted me that he wants to kill himself tonight and now he won't answer."
MENTION = "I'm not suicidal, just tired. This reminds me of our suicide prevention walk."


def seed_a_london_circle(data_dir: str) -> dict:
    """A therapist, a London circle, an artist and a peer, and one artwork (child process)."""
    from gallery_store import open_studio

    with open_studio(data_dir, fast_config()) as studio:
        tess = studio.accounts.bootstrap_therapist("tess", PASSWORD, "Tess")
        circle = studio.circles.create(tess, "Hackney carers", timezone="Europe/London")
        robin = studio.accounts.join(
            studio.circles.invite(tess, circle.id), "robin", PASSWORD, "Robin"
        )
        studio.accounts.join(studio.circles.invite(tess, circle.id), "sam", PASSWORD, "Sam")
        artwork = studio.artworks.share(
            robin, painting(1, size=(480, 360)), caption="Rain on the canal", alt_text="Grey rain"
        )
        return {"artwork": artwork.id}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("crisis")
    made = seed(folder / "data", f"{__name__}:seed_a_london_circle")
    with serve(folder / "data", folder / "server.log") as server:
        yield server, made


def comment(page, server, artwork_id: str, words: str) -> None:
    visit(page, server.url(f"artwork?art={artwork_id}"))
    page.get_by_role("textbox", name="Your comment").fill(words)
    page.get_by_role("button", name="Post comment").click()
    settle(page, 600)


def support_panel(page):
    return page.locator(".st-key-kc-support")


def test_at_risk_words_show_lines_at_once_and_reach_the_therapist_first(seeded, people):
    server, made = seeded
    sam = people.new().new_page()
    sign_in(sam, server, "sam")
    comment(sam, server, made["artwork"], AT_RISK)
    panel = support_panel(sam)
    expect(panel).to_be_visible()
    expect(panel.get_by_role("heading", name="You don't have to carry this alone")).to_be_visible()
    shown = panel.inner_text()
    assert "Samaritans" in shown and "999" in shown and "988" not in shown
    assert shown.index("Samaritans") < shown.index("Find A Helpline")
    assert "isn't watched around the clock" in shown
    expect(sam.get_by_text("only you and your facilitator can see it")).to_be_visible()

    robin = people.new().new_page()
    sign_in(robin, server, "robin")
    visit(robin, server.url(f"artwork?art={made['artwork']}"))
    assert "paracetamol" not in main_text(robin)  # the artist is never the first to read it

    tess = people.new().new_page()
    sign_in(tess, server, "tess")
    visit(tess, server.url("care"))
    expect(tess.get_by_text("Urgent: may be at risk now").first).to_be_visible()
    expect(tess.get_by_text("Passed on to emergency services").first).to_be_visible()
    assert not people.dialogs


def test_worry_for_someone_else_shows_lines_for_helping_them(seeded, people):
    server, _made = seeded
    sam = people.new().new_page()
    sign_in(sam, server, "sam")
    visit(sam, server.url("journal"))
    sam.get_by_role("textbox", name="Write a reflection").fill(WORRIED)
    sam.get_by_role("button", name="Save reflection").click()
    settle(sam, 600)
    panel = support_panel(sam)
    expect(
        panel.get_by_role("heading", name="You don't have to look after them alone")
    ).to_be_visible()
    assert "Samaritans" in panel.inner_text()


def test_a_mention_shows_no_banner(seeded, people):
    server, made = seeded
    sam = people.new().new_page()
    sign_in(sam, server, "sam")
    comment(sam, server, made["artwork"], MENTION)
    expect(sam.get_by_text(MENTION)).to_be_visible()
    assert support_panel(sam).count() == 0
    robin = people.new().new_page()
    sign_in(robin, server, "robin")
    visit(robin, server.url(f"artwork?art={made['artwork']}"))
    expect(robin.get_by_text(MENTION)).to_be_visible()  # not held: nobody is at risk
