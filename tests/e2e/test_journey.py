"""The whole journey in a real browser: setup, a circle, two participants, art and witness.

One server for the module. It starts on an empty data folder, so the first therapist is made
with the setup code from the server log. Halfway through, the server is stopped, a month of
circle life is seeded (so the charts have something to draw), and it is started again: people
who were signed in stay signed in across the restart.
"""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the e2e conftest skips these tests (or fails them in CI) and says why
    expect = None

from tests.e2e.conftest import (
    PASSWORD,
    SETUP_CODE_RE,
    SeedClock,
    fast_config,
    go_to,
    painting,
    screenshot,
    scroll_to,
    seed,
    serve,
    settle,
    submit_and_follow_cookie,
    visit,
)

pytestmark = pytest.mark.e2e

CIRCLE = "Tuesday caregivers"
CAPTION = "The long week, in two warm circles leaning on each other."
ALT_TEXT = "Two orange and green circles overlapping on a cream background, with a blue wave."
COMMENT = "I notice the two circles hold each other up. It feels like company."
REFLECTION = "Painting slowed my breathing down. I want to keep the green for calmer days."
# Vega draws into a canvas or an SVG, depending on its renderer.
CHART = '[data-testid="stVegaLiteChart"] :is(canvas, svg.marks)'
INVITE_RE = re.compile(r"^KC-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}$")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("journey")
    with serve(folder / "data", folder / "server.log") as running:
        yield running


# -- steps -----------------------------------------------------------------------------------------


def set_up_the_studio(page, server) -> None:
    """The first visitor sees the setup page and makes the therapist with the log's code."""
    visit(page, server.url())
    expect(page.get_by_role("heading", name="Set up Kindred Canvas")).to_be_visible()
    code = server.wait_for_log(SETUP_CODE_RE).group(1)
    page.get_by_role("textbox", name="Setup code").fill(code)
    page.get_by_role("textbox", name="Your name as people will see it").fill("Tess")
    page.get_by_role("textbox", name="Username", exact=True).fill("tess")
    page.get_by_role("textbox", name="Password", exact=True).fill(PASSWORD)
    submit_and_follow_cookie(page, "Create the therapist account")
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_text("Tess", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Insights", exact=True)).to_be_visible()
    keep_recovery_code(page)


def keep_recovery_code(page) -> str:
    """A new account is shown its recovery code once, until the person says they kept it."""
    expect(page.get_by_text("Keep this to recover your private notes")).to_be_visible()
    code = page.get_by_test_id("stCode").locator("code").filter(has_text="RC-").inner_text()
    assert code.strip().startswith("RC-"), code
    page.get_by_role("button", name="I've kept it somewhere safe").click()
    settle(page)
    expect(page.get_by_text("Keep this to recover your private notes")).to_have_count(0)
    return code.strip()


def create_circle(page, name: str) -> None:
    """A new therapist is welcomed with a way to start their first circle, then to invite."""
    expect(page.get_by_role("heading", name="Welcome, Tess")).to_be_visible()
    expect(page.get_by_text("Ask your facilitator for an invite code")).to_have_count(0)
    page.get_by_role("textbox", name="Name your circle").fill(name)
    page.get_by_role("button", name="Create my first circle").click()
    settle(page)
    expect(page.get_by_role("heading", name="Circles", exact=True)).to_be_visible()
    expect(page.get_by_text(f"Your circle “{name}” is ready.")).to_be_visible()
    expect(page.get_by_role("heading", name="Invites")).to_be_visible()
    expect(page.get_by_test_id("stSidebar").get_by_text(f"Circle: {name}")).to_be_visible()


def make_invite(page, previous: str | None = None) -> str:
    """Press "Make an invite code" and read the code from its code block."""
    page.get_by_role("button", name="Make an invite code").click()
    settle(page)
    expect(page.get_by_text("Share this code with the person you're inviting.")).to_be_visible()
    # The new code, above the list of every active one.
    block = page.locator(".st-key-kc-new-invite").get_by_test_id("stCode").locator("code")
    if previous:
        expect(block).not_to_have_text(previous)
    code = block.inner_text().strip()
    assert INVITE_RE.match(code), code
    return code


def join_with_invite(page, server, code: str, name: str, username: str) -> str:
    """Join on the welcome page's invite tab; land on Today; return the prompt's title."""
    visit(page, server.url())
    expect(page.get_by_role("heading", name="Welcome to Kindred Canvas")).to_be_visible()
    page.get_by_role("tab", name="Join with an invite").click()
    page.get_by_role("textbox", name="Invite code").fill(code)
    page.get_by_role("textbox", name="Name to show in your circle").fill(name)
    page.get_by_role("textbox", name="Choose a username").fill(username)
    page.get_by_role("textbox", name="Choose a password").fill(PASSWORD)
    submit_and_follow_cookie(page, "Join my circle")
    expect(page.get_by_role("heading", name="Today", exact=True)).to_be_visible()
    # Said once, after the reload that hands the session to its cookie (it used to be lost).
    expect(page.get_by_text(f"Welcome to your circle, {name}.")).to_be_visible()
    expect(page.get_by_test_id("stSidebar").get_by_text(name, exact=True)).to_be_visible()
    keep_recovery_code(page)
    expect(page.get_by_text("Today's prompt")).to_be_visible()
    title = page.locator('[data-testid="stMain"] h2').first
    expect(title).not_to_be_empty()
    return title.inner_text().strip()


def check_in(page, mood: str = "Okay", moment: str = "before") -> None:
    """One tap on a face at the top of Today saves the check-in; nothing to open or submit."""
    faces = page.get_by_test_id("stButtonGroup").filter(
        has_text="before you begin" if moment == "before" else "after making"
    )
    faces.get_by_role("radio", name=mood, exact=True).click()
    settle(page)
    expect(faces.get_by_role("radio", name=mood, exact=True)).to_have_attribute(
        "aria-checked", "true"
    )
    expect(page.get_by_text(f"Saved: {mood.lower()}. Thank you for checking in.")).to_be_visible()


def share_artwork(page, image_path) -> None:
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(
        str(image_path)
    )
    settle(page)
    expect(page.get_by_text("Preview — only you can see this until you share it")).to_be_visible()
    page.get_by_role("textbox", name="Caption (optional)").fill(CAPTION)
    page.get_by_role("textbox", name=re.compile(r"\(alt text\)")).fill(ALT_TEXT)
    page.get_by_role("button", name="Share with my circle").click()
    settle(page)
    expect(
        page.get_by_text("Shared with your circle. Thank you for showing up today.")
    ).to_be_visible()


def witness(page) -> str:
    """A peer finds the art in the gallery, opens it, reacts and comments; return its id."""
    go_to(page, "Gallery")
    expect(page.get_by_role("heading", name=f"{CIRCLE} gallery")).to_be_visible()
    card = (
        page.get_by_test_id("stVerticalBlock")
        .filter(has=page.locator(f'img[alt="{ALT_TEXT}"]'))
        .filter(has_text=CAPTION)
        .last
    )
    expect(card.locator(f'img[alt="{ALT_TEXT}"]')).to_be_visible()
    expect(card.get_by_text(CAPTION)).to_be_visible()
    expect(card.get_by_text("Robin", exact=True)).to_be_visible()
    card.get_by_role("link", name=ALT_TEXT, exact=True).click()  # the thumbnail is the link
    settle(page)

    expect(page.get_by_role("heading", name="By Robin")).to_be_visible()
    image = page.locator(f'img[alt="{ALT_TEXT}"]')
    expect(image).to_be_visible()
    assert "/full" in image.get_attribute("src")
    expect(page.get_by_text(CAPTION)).to_be_visible()

    page.get_by_role("button", name="I relate", exact=True).click()
    settle(page)
    expect(page.get_by_role("button", name="✓ I relate")).to_be_visible()

    page.get_by_role("button", name="I notice…").click()
    settle(page)
    box = page.get_by_role("textbox", name="Your comment")
    expect(box).to_have_value("I notice ")
    box.click()
    box.press("End")
    box.press_sequentially(COMMENT.removeprefix("I notice "))
    box.press("Control+Enter")
    settle(page)
    page.get_by_role("button", name="Post comment").click()
    settle(page)
    posted = page.get_by_test_id("stMarkdownContainer").filter(has_text=COMMENT)
    expect(posted).to_be_visible()
    expect(page.get_by_text(re.compile(r"^Sam · "))).to_be_visible()
    expect(page.get_by_role("textbox", name="Your comment")).to_have_value("")
    return parse_qs(urlsplit(page.url).query)["art"][0]


def sees_whats_new(page) -> None:
    """The artist is told of the peer's reaction and comment: a count, a list, seen."""
    page.reload()
    settle(page)
    sidebar = page.get_by_test_id("stSidebar")
    news = sidebar.get_by_role("button", name="2 new since you last looked")
    expect(news).to_be_visible()
    expect(sidebar.get_by_role("link", name="What's new (2 new)")).to_be_visible()
    news.click()
    settle(page)
    expect(page.get_by_role("heading", name="What's new")).to_be_visible()
    expect(page.get_by_text(re.compile(r"^Sam commented on your artwork"))).to_be_visible()
    expect(page.get_by_text(COMMENT)).to_be_visible()
    expect(
        page.get_by_text(re.compile(r"^Sam witnessed your artwork .*: I relate"))
    ).to_be_visible()
    page.get_by_role("button", name="Mark all as seen").click()
    settle(page)
    expect(page.get_by_text("Nothing new since you last looked.")).to_be_visible()
    expect(
        sidebar.get_by_role("button", name=re.compile("new since you last looked"))
    ).to_have_count(0)


def follows_a_link_through_sign_in(page, server, artwork_id: str) -> None:
    """On another device, a link to her artwork opens the welcome, then the art itself."""
    visit(page, server.url(f"artwork?art={artwork_id}"))
    assert_no_page_not_found(page)
    expect(page.get_by_role("heading", name="Welcome to Kindred Canvas")).to_be_visible()
    page.get_by_role("textbox", name="Username").fill("robin")
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    submit_and_follow_cookie(page, "Sign in")
    expect(page.get_by_role("heading", name="By Robin")).to_be_visible()
    expect(page.locator(f'img[alt="{ALT_TEXT}"]')).to_be_visible()
    assert page.url.endswith(f"/artwork?art={artwork_id}"), page.url
    assert_no_page_not_found(page)


def write_reflection(page) -> None:
    go_to(page, "Journal")
    expect(page.get_by_role("heading", name="Your journal")).to_be_visible()
    page.get_by_role("textbox", name="Write a reflection").fill(REFLECTION)
    page.get_by_role("button", name="Save reflection").click()
    settle(page)
    expect(page.get_by_text("Saved to your journal.")).to_be_visible()
    expect(page.get_by_test_id("stMarkdownContainer").filter(has_text=REFLECTION)).to_be_visible()


def therapist_looks_after_the_circle(page) -> None:
    go_to(page, "Care queue")
    expect(page.get_by_role("heading", name="Care queue")).to_be_visible()
    expect(page.get_by_text("Nothing is waiting.")).to_be_visible()
    go_to(page, "Insights")
    expect(page.get_by_role("heading", name="Insights", exact=True)).to_be_visible()
    # Two people took part: too few to show anyone anything.
    expect(page.get_by_text("Too few people took part in these weeks")).to_be_visible()
    expect(page.get_by_text("Shown once a week is over in which at least 3 people")).to_be_visible()


def stays_signed_in(page, server) -> None:
    """A reload and a new tab both find the session through the cookie."""
    page.reload()
    settle(page)
    expect(page.get_by_role("heading", name="Your journal")).to_be_visible()
    expect(page.get_by_test_id("stSidebar").get_by_text("Robin", exact=True)).to_be_visible()

    tab = page.context.new_page()
    try:
        visit(tab, server.url("gallery"))
        expect(tab.get_by_role("heading", name=f"{CIRCLE} gallery")).to_be_visible()
        expect(tab.locator(f'img[alt="{ALT_TEXT}"]')).to_be_visible()
        expect(tab.get_by_test_id("stSidebar").get_by_text("Robin", exact=True)).to_be_visible()
    finally:
        tab.close()


def assert_no_page_not_found(page) -> None:
    """Regression: the first deep link after a server start (here /insights) was reported as
    "Page not found" over the right page, because Streamlit resolves URLs against the
    ``pages/`` file names until the router has run once. URL paths now are those file names,
    and a page file run on its own runs the router."""
    page.wait_for_timeout(500)
    expect(page.get_by_role("dialog").filter(has_text="Page not found")).to_have_count(0)


# -- a month of circle life, seeded while the server is stopped ------------------------------------

FRIENDS = [("ada", "Ada"), ("noor", "Noor"), ("kit", "Kit")]
FRIEND_CAPTIONS = [
    "Tide coming in after a hard shift.",
    "What rest looks like, apparently.",
    "A garden I want to sit in.",
    "Loud day, quiet colours.",
    "The knot, loosening a little.",
]
KIND_WORDS = [
    "I notice how the colours soften at the edges.",
    "It reminds me of the sea on a calm morning.",
    "I wonder what the blue is holding.",
    "Thank you for sharing this, it made me breathe out.",
]


def seed_a_busy_month(data_dir: str, *, therapist: str, participant: str) -> dict:
    """Give the circle three consenting friends and four weeks of art, words and moods.

    Runs in a child process (see ``seed``). Returns today's prompt title for the circle.
    """
    from gallery_store import open_studio

    clock = SeedClock()
    real_now = clock.now
    with open_studio(data_dir, fast_config(), clock) as studio:
        tess = studio.accounts.authenticate(therapist, PASSWORD)
        robin = studio.accounts.authenticate(participant, PASSWORD)
        circle = studio.circles.facilitated(tess)[0]
        todays_title = studio.prompts.today(robin, circle.id).prompt.title
        friends = []
        # The friends joined a month ago, before the weeks below (Insights counts a person
        # only from the week they joined).
        clock.now = real_now - timedelta(days=30)
        with studio.store.transaction():
            # The circle has met for a month (the journey made it today).
            studio.store.collection("circles").update(circle.id, created_at=clock.now.isoformat())
        for username, name in FRIENDS:
            code = studio.circles.invite(tess, circle.id)
            friends.append(studio.accounts.join(code, username, PASSWORD, name))
        for person in [*friends, robin]:
            studio.reflections.set_insights_consent(person, True)

        # Weekly sessions over the past month. The store lists art in the order it was shared,
        # so keep it to eight pieces: Robin's (shared today, before this seeding) stays on
        # the gallery's first page.
        artworks = []
        for week, days_ago in enumerate((25, 18, 11, 4)):
            for n, friend in enumerate(friends):
                clock.now = real_now - timedelta(days=days_ago, hours=6 - 2 * n)
                prompt = studio.prompts.today(friend, circle.id).prompt
                before = 2 + (week + n) % 2
                studio.reflections.check_in(friend, "before", before, prompt_id=prompt.id)
                clock.now += timedelta(minutes=45)
                studio.reflections.check_in(
                    friend, "after", min(5, before + 1 + n % 2), prompt_id=prompt.id
                )
                if n == week % 3:
                    studio.reflections.write(
                        friend, "Making this helped me notice my shoulders.", circle_id=circle.id
                    )
                    continue
                art = studio.artworks.share(
                    friend,
                    painting(week * 3 + n, size=(600, 450)),
                    caption=FRIEND_CAPTIONS[(week + n) % len(FRIEND_CAPTIONS)],
                    alt_text=f"Abstract painting by {friend.display_name}, week {week + 1}: "
                    "soft round shapes in warm colours.",
                    prompt_id=prompt.id,
                )
                artworks.append(art)
                clock.now += timedelta(hours=1)
                for other in friends:
                    if other is not friend:
                        studio.comments.post(other, art.id, KIND_WORDS[(week + n) % 4])
        for days_ago in range(12, 0, -1):
            clock.now = real_now - timedelta(days=days_ago, hours=3)
            before = 2 + (days_ago % 3 == 0) + (days_ago < 5)
            studio.reflections.check_in(robin, "before", before)
            clock.now += timedelta(minutes=40)
            studio.reflections.check_in(robin, "after", min(5, before + 1 + days_ago % 2))
    return {"todays_title": todays_title, "artworks": len(artworks)}


# -- the journey -----------------------------------------------------------------------------------


def test_the_whole_journey(server, people, tmp_path):
    tess = people.new().new_page()
    set_up_the_studio(tess, server)
    create_circle(tess, CIRCLE)
    robin_code = make_invite(tess)

    robin = people.new().new_page()
    prompt_title = join_with_invite(robin, server, robin_code, "Robin", "robin")
    screenshot(robin, "today.png")
    check_in(robin, "Okay")
    image_path = tmp_path / "two-circles.png"
    image_path.write_bytes(painting(7))
    share_artwork(robin, image_path)
    check_in(robin, "Good", moment="after")

    sam_code = make_invite(tess, previous=robin_code)
    sam = people.new().new_page()
    join_with_invite(sam, server, sam_code, "Sam", "sam")
    artwork_id = witness(sam)
    sees_whats_new(robin)

    write_reflection(robin)
    therapist_looks_after_the_circle(tess)
    stays_signed_in(robin, server)

    # Stop the server, seed a month of circle life, start it again on the same port.
    server.stop()
    seeded = seed(
        server.data_dir, f"{__name__}:seed_a_busy_month", therapist="tess", participant="robin"
    )
    assert seeded["todays_title"] == prompt_title
    server.start()

    # Everyone is still signed in after the restart: sessions live in the store, not in memory.
    tess.reload()
    settle(tess)
    assert_no_page_not_found(tess)
    expect(tess.get_by_role("heading", name="Insights", exact=True)).to_be_visible()
    expect(tess.get_by_test_id("stVegaLiteChart").first).to_be_visible()
    expect(tess.get_by_text("Before (average)")).to_be_visible()
    expect(tess.get_by_text("Too few people took part in these weeks")).to_have_count(0)
    scroll_to(tess.get_by_role("heading", name="Taking part, week by week"), "start")
    screenshot(tess, "insights.png", wait_for=CHART)

    robin.reload()
    settle(robin)
    expect(robin.get_by_role("heading", name="Your journal")).to_be_visible()
    robin.get_by_role("tab", name="Mood over time").click()
    settle(robin)
    expect(robin.get_by_test_id("stVegaLiteChart")).to_be_visible()
    screenshot(robin, "journal.png", wait_for=CHART)

    sam.reload()
    settle(sam)
    expect(sam.get_by_role("heading", name="By Robin")).to_be_visible()
    expect(sam.get_by_test_id("stMarkdownContainer").filter(has_text=COMMENT)).to_be_visible()
    scroll_to(sam.get_by_role("heading", name="Witnessing"), "center")
    screenshot(sam, "artwork.png")
    sam.get_by_role("button", name="← Back to the gallery").click()
    settle(sam)
    expect(sam.get_by_role("heading", name=f"{CIRCLE} gallery")).to_be_visible()
    expect(sam.locator(f'img[alt="{ALT_TEXT}"]')).to_be_visible()
    assert sam.locator('img[src*="/thumb"]').count() >= 8
    screenshot(sam, "gallery.png")

    follows_a_link_through_sign_in(people.new().new_page(), server, artwork_id)
    assert not people.dialogs
