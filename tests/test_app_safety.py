"""The app keeps people safe: cold deep links, who may open which page, inert text, crisis care."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.util import calc_hash

from gallery_store.policy import COFACILITATOR
from tests.apptest import (
    APP,
    PAGE_FILES,
    all_text,
    app_for,
    click,
    html_bodies,
    img_tags,
    open_page,
    share_art,
    texts,
    titles,
)
from tests.conftest import join

CAPTION = "Quiet lake at dawn"
REFLECTION = "My private reflection about the lake"
LINK = "[click](javascript:alert(1))"
TAG = "<img src=x onerror=alert(1)>"
EVIL = f"{LINK} {TAG}"

# -- cold deep links ------------------------------------------------------------------------------


@pytest.fixture
def busy_circle(studio, therapist, circle, participant, peer):
    """A circle with art, a comment and reflections in it: the data a cold run must not show."""
    artwork = share_art(studio, participant, circle, caption=CAPTION, alt_text="A grey lake")
    studio.comments.post(peer, artwork.id, "It feels so still")
    studio.reflections.write(
        participant, REFLECTION, circle_id=circle.id, share_with_therapist=True
    )
    return artwork


SECRETS = (CAPTION, REFLECTION, "It feels so still", "Robin", "Sam", "Tess", "robin")


def _assert_welcome_only(at: AppTest) -> None:
    assert titles(at) == ["Welcome to Kindred Canvas"]
    shown = all_text(at)
    for secret in SECRETS:
        assert secret not in shown
    assert not any("<img" in body for body in html_bodies(at))


@pytest.mark.parametrize("stem", PAGE_FILES)
def test_a_cold_deep_link_shows_no_data(studio, data_dir, monkeypatch, busy_circle, stem):
    """The first request after a start runs pages/<stem>.py itself: it must hand over to the
    router, which shows a signed-out person the welcome and nothing else."""
    from ui.context import get_studio

    monkeypatch.setenv("KINDRED_DATA_DIR", str(data_dir))
    get_studio.clear()
    at = AppTest.from_file(str(APP), default_timeout=30)
    at.query_params["art"] = busy_circle.id
    at._page_hash = calc_hash(stem)  # the first request after a start, straight to the file
    at.run()

    _assert_welcome_only(at)
    assert not at.exception


@pytest.mark.parametrize(
    ("stem", "title"),
    [
        ("today", "Today"),
        ("gallery", "Tuesday caregivers gallery"),
        ("journal", "Your journal"),
        ("account", "Your account"),
        ("artwork", "By Robin"),
        # Not the participant's pages: a kind word instead of "Page not found".
        ("circles", "This page is for facilitators"),
        ("prompts", "This page is for facilitators"),
        ("care", "This page is for facilitators"),
        ("insights", "This page is for facilitators"),
    ],
)
def test_a_cold_deep_link_opens_the_page_through_the_router(
    studio, data_dir, monkeypatch, participant, busy_circle, stem, title
):
    query = {"art": busy_circle.id} if stem == "artwork" else None
    at = app_for(studio, data_dir, monkeypatch, user=participant, query=query)
    at._page_hash = calc_hash(stem)
    at.run()

    assert titles(at) == [title]
    assert not at.exception


def test_a_cold_deep_link_never_shows_another_circles_art(
    studio, data_dir, monkeypatch, outsider, busy_circle
):
    at = app_for(studio, data_dir, monkeypatch, user=outsider, query={"art": busy_circle.id})
    at._page_hash = calc_hash("artwork")
    at.run()

    assert CAPTION not in all_text(at)
    assert not any("<img" in body for body in html_bodies(at))
    assert not at.exception


def test_every_page_file_is_covered():
    assert set(PAGE_FILES) >= {
        "today",
        "gallery",
        "artwork",
        "journal",
        "account",
        "circles",
        "prompts",
        "care",
        "insights",
        "welcome",
    }


def test_url_paths_are_page_file_names():
    # A cold /<path> then runs a page file Streamlit knows (no "page not found"), which
    # hands over to the router.
    url_paths = {"today", "gallery", "artwork", "journal", "account", "circles", "prompts"}
    url_paths |= {"care", "insights"}
    assert url_paths <= set(PAGE_FILES)


# -- who reaches which page -----------------------------------------------------------------------

PARTICIPANT_PAGES = {
    "today": "Today",
    "gallery": "Tuesday caregivers gallery",
    "journal": "Your journal",
    "account": "Your account",
    # Not theirs: a kind word instead of the page (or of Streamlit's "Page not found").
    "circles": "This page is for facilitators",
    "prompts": "This page is for facilitators",
    "care": "This page is for facilitators",
    "insights": "This page is for facilitators",
}
COFACILITATOR_PAGES = PARTICIPANT_PAGES | {
    "circles": "Circles",
    "care": "Care queue",
    "prompts": "This page is for the circle's therapist",
    "insights": "This page is for the circle's therapist",
}
THERAPIST_PAGES = {
    "today": "Today",
    "gallery": "Tuesday caregivers gallery",
    "journal": "Your journal",
    "account": "Your account",
    "circles": "Circles",
    "prompts": "Prompt library",
    "care": "Care queue",
    "insights": "Insights",
}


def _page_titles(at, pages) -> dict[str, str]:
    seen = {}
    for url_path in pages:
        open_page(at, url_path)
        assert not at.exception, url_path
        [seen[url_path]] = titles(at)
    return seen


def test_a_participant_reaches_only_their_pages(studio, data_dir, monkeypatch, circle, participant):
    at = app_for(studio, data_dir, monkeypatch, user=participant)

    assert _page_titles(at, PARTICIPANT_PAGES) == PARTICIPANT_PAGES
    assert not at.exception


def test_a_co_facilitator_reaches_circle_and_care(
    studio, data_dir, monkeypatch, therapist, circle, participant
):
    studio.circles.set_role(therapist, circle.id, participant.id, COFACILITATOR)
    at = app_for(studio, data_dir, monkeypatch, user=participant)

    assert _page_titles(at, COFACILITATOR_PAGES) == COFACILITATOR_PAGES
    assert not at.exception


def test_a_therapist_reaches_every_page(studio, data_dir, monkeypatch, therapist, circle):
    at = app_for(studio, data_dir, monkeypatch, user=therapist)

    assert titles(at) == ["Tuesday caregivers gallery"]  # their default
    assert _page_titles(at, THERAPIST_PAGES) == THERAPIST_PAGES
    assert not at.exception


def test_the_welcomes_address_takes_a_signed_in_person_to_their_first_page(
    studio, data_dir, monkeypatch, circle, participant
):
    at = app_for(studio, data_dir, monkeypatch, user=participant)
    for url_path in ("sign-in", "setup", "home"):
        open_page(at, url_path)
        assert titles(at) == ["Today"], url_path
    assert not at.exception


def test_a_participant_asking_for_insights_sees_none(
    studio, data_dir, monkeypatch, therapist, circle, participant, peer
):
    studio.reflections.write(
        peer, "Sam's shared note", circle_id=circle.id, share_with_therapist=True
    )
    at = app_for(studio, data_dir, monkeypatch, user=participant, page="insights")

    assert titles(at) == ["This page is for facilitators"]
    shown = all_text(at)
    assert "Insights" not in shown and "Notes shared with you" not in shown
    assert "Sam's shared note" not in shown
    assert not at.metric and not at.get("download_button")
    assert not at.exception


def test_a_member_of_another_circle_sees_only_their_own(
    studio, data_dir, monkeypatch, circle, other_circle, participant, outsider
):
    theirs = share_art(studio, participant, circle, caption=CAPTION)
    at = app_for(studio, data_dir, monkeypatch, user=outsider, page="gallery")

    assert titles(at) == ["Thursday nurses gallery"]
    assert img_tags(at) == []
    assert CAPTION not in all_text(at)

    at = app_for(
        studio, data_dir, monkeypatch, user=outsider, page="gallery", query={"art": theirs.id}
    )
    assert img_tags(at) == []
    assert CAPTION not in all_text(at)
    assert at.info  # a kind "can't find it", not an error page
    assert not [b for b in at.button if b.key and b.key.startswith("react_")]
    assert not at.exception


def test_a_paused_account_is_signed_out(
    studio, data_dir, monkeypatch, therapist, circle, participant
):
    at = app_for(studio, data_dir, monkeypatch, user=participant, page="journal")
    assert titles(at) == ["Your journal"]
    studio.accounts.set_disabled(therapist, participant.id, True)
    at.run()

    assert titles(at) == ["Welcome to Kindred Canvas"]
    assert "session_token" not in at.session_state
    assert "Robin" not in all_text(at)
    assert not at.exception


def test_a_paused_account_cannot_sign_in_again(
    studio, data_dir, monkeypatch, therapist, circle, participant
):
    from tests.conftest import PASSWORD

    studio.accounts.set_disabled(therapist, participant.id, True)
    at = app_for(studio, data_dir, monkeypatch)
    form = next(f for f in at.get("form") if f.proto.form.form_id == "sign_in")
    form.text_input[0].input("robin")
    form.text_input[1].input(PASSWORD)
    click(at, "Sign in")

    assert "This account is paused. Please talk to your facilitator." in [e.value for e in at.error]
    assert "session_token" not in at.session_state
    assert not at.exception


def test_a_session_cookie_signs_in_and_an_ended_one_does_not(
    studio, data_dir, monkeypatch, circle, participant
):
    token = studio.accounts.start_session(participant)
    monkeypatch.setattr("ui.context._cookie_token", lambda: token)
    at = app_for(studio, data_dir, monkeypatch)
    assert titles(at) == ["Today"]

    studio.accounts.end_session(token)
    at.run()
    assert titles(at) == ["Welcome to Kindred Canvas"]
    assert not at.exception


def test_signing_in_hands_the_session_to_a_cookie(studio, data_dir, monkeypatch, participant):
    from tests.conftest import PASSWORD

    at = app_for(studio, data_dir, monkeypatch)
    form = next(f for f in at.get("form") if f.proto.form.form_id == "sign_in")
    form.text_input[0].input("robin")
    form.text_input[1].input(PASSWORD)
    click(at, "Sign in")

    from ui.web import HANDOFF_SCRIPT, SIGN_OUT_SCRIPT

    [handoff] = [b for b in html_bodies(at) if HANDOFF_SCRIPT in b]
    code = handoff.split('data-code="')[1].split('"')[0]
    assert studio.accounts.redeem_handoff(code) == at.session_state["session_token"]
    at.run()  # the hand-off is used once
    assert not [b for b in html_bodies(at) if "kc-handoff" in b]

    at.sidebar.button(key="sign_out").click()
    at.run()
    assert [b for b in html_bodies(at) if SIGN_OUT_SCRIPT in b]
    assert not at.exception


def test_a_failing_page_shows_kind_words_not_a_traceback(
    studio, data_dir, monkeypatch, circle, participant
):
    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire at /srv/secret/path")

    monkeypatch.setattr(studio.reflections, "mood_timeline", broken)
    at = app_for(studio, data_dir, monkeypatch, user=participant, page="journal")

    [message] = [e.value for e in at.error]
    assert message.startswith("Something went wrong on our side, and it's not your fault.")
    assert "disk on fire" not in all_text(at) and "/srv/secret" not in all_text(at)
    assert not at.exception


# -- people's words stay words --------------------------------------------------------------------


def _assert_inert(at: AppTest) -> None:
    for value in texts(at):
        assert "](javascript:" not in value, value
        assert "<img src=x" not in value, value
    for body in html_bodies(at):
        # An alt attribute may hold the words; they must never make a tag or a URL.
        assert "<img src=x" not in body, body
        assert 'src="javascript' not in body and 'href="javascript' not in body, body


@pytest.fixture
def mallory(studio, therapist, circle):
    """A participant whose name, caption and words all try to become links and HTML."""
    return join(studio, therapist, circle, "mallory", "[Sam](javascript:alert(1))")


def test_captions_and_names_never_become_links_or_html(
    studio, data_dir, monkeypatch, therapist, circle, participant, mallory
):
    artwork = share_art(
        studio, mallory, circle, caption=EVIL, alt_text=f'{EVIL} "quoted"', content_warning=TAG
    )
    studio.comments.post(mallory, artwork.id, EVIL)
    at = app_for(studio, data_dir, monkeypatch, user=participant, page="gallery")
    _assert_inert(at)
    click(at, "Show this artwork")
    _assert_inert(at)
    assert len(img_tags(at)) == 1
    assert 'alt="[click](javascript:alert(1)) &lt;img src=x' in img_tags(at)[0]

    at = app_for(
        studio, data_dir, monkeypatch, user=participant, page="gallery", query={"art": artwork.id}
    )
    _assert_inert(at)
    # The artist's name is in the title: regression, it was shown as markdown (a live link).
    assert titles(at) == ["By \\[Sam\\]\\(javascript&#58;\u2060alert\\(1\\)\\)"]
    assert not at.exception


def test_a_witness_name_stays_text_for_the_artist(
    studio, data_dir, monkeypatch, circle, participant, mallory
):
    artwork = share_art(studio, participant, circle)
    studio.reactions.toggle(mallory, artwork.id, "relate")
    at = app_for(
        studio, data_dir, monkeypatch, user=participant, page="gallery", query={"art": artwork.id}
    )

    assert "**Who witnessed your art**" in [m.value for m in at.markdown]
    _assert_inert(at)
    assert not at.exception


def test_reflections_and_reports_stay_text_for_the_therapist(
    studio, data_dir, monkeypatch, therapist, circle, participant, mallory
):
    artwork = share_art(studio, participant, circle)
    studio.moderation.report(mallory, "artwork", artwork.id, EVIL)
    theirs = share_art(studio, mallory, circle, caption=EVIL)
    studio.moderation.report(participant, "artwork", theirs.id, "Worrying")
    studio.reflections.write(mallory, EVIL, circle_id=circle.id, share_with_therapist=True)

    at = app_for(studio, data_dir, monkeypatch, user=therapist, page="care")
    _assert_inert(at)
    at = app_for(studio, data_dir, monkeypatch, user=therapist, page="circles")
    _assert_inert(at)
    at = app_for(studio, data_dir, monkeypatch, user=therapist, page="insights")
    at.selectbox(key="notes_person").set_value(mallory.id)
    click(at, "Read their shared notes")
    _assert_inert(at)
    assert any("javascript" in value for value in texts(at))  # it is shown, as text
    assert not at.exception


def test_own_words_stay_text_in_the_journal(studio, data_dir, monkeypatch, circle, participant):
    share_art(studio, participant, circle, caption=EVIL)
    studio.reflections.write(participant, EVIL, circle_id=circle.id)
    at = app_for(studio, data_dir, monkeypatch, user=participant, page="journal")

    _assert_inert(at)
    assert not at.exception


# -- crisis care and reports ----------------------------------------------------------------------


def test_a_crisis_reflection_shows_support_and_tells_the_therapist(
    studio, data_dir, monkeypatch, therapist, circle, participant
):
    at = app_for(studio, data_dir, monkeypatch, user=participant, page="journal")
    at.text_area[0].input("I don't want to be alive anymore")
    click(at, "Save reflection")

    assert "#### You don't have to carry this alone" in [m.value for m in at.markdown]
    assert [i.flag.kind for i in studio.moderation.queue(therapist)] == ["crisis"]
    # The reflection itself stays private: the therapist is told to reach out, not what it said.
    [item] = studio.moderation.queue(therapist)
    assert "alive" not in (item.text or "")
    assert not at.exception


def test_a_crisis_caption_shows_support_when_sharing(
    studio, data_dir, monkeypatch, therapist, circle, participant
):
    from tests.conftest import make_image

    at = app_for(studio, data_dir, monkeypatch, user=participant)
    at.file_uploader(key="share_upload").upload("art.png", make_image(), "image/png")
    at.run()
    at.text_area(key="caption_today").input("I want to end my life")
    at.text_area(key="alt_today").input("Dark red scribbles")
    click(at, "Share with my circle")

    assert "#### You don't have to carry this alone" in [m.value for m in at.markdown]
    assert any(i.flag.kind == "crisis" for i in studio.moderation.queue(therapist))
    assert not at.exception


def test_reporting_hides_the_art_from_the_circle(
    studio, data_dir, monkeypatch, therapist, circle, participant, peer
):
    artwork = share_art(studio, participant, circle, caption=CAPTION)
    kim = join(studio, therapist, circle, "kim", "Kim")
    at = app_for(
        studio, data_dir, monkeypatch, user=peer, page="gallery", query={"art": artwork.id}
    )
    at.text_area(key=f"report_reason_{artwork.id}").input("This worries me")
    at.button(key=f"report_send_{artwork.id}").click()
    at.run()

    assert any(s.value.startswith("Thank you. A facilitator will take a look") for s in at.success)
    assert studio.artworks.get(participant, artwork.id).status == "hidden"
    [item] = studio.moderation.queue(therapist)
    assert list(item.reasons) == ["This worries me"]

    others = app_for(studio, data_dir, monkeypatch, user=kim, page="gallery")
    assert img_tags(others) == [] and CAPTION not in all_text(others)
    artist = app_for(studio, data_dir, monkeypatch, user=participant, page="gallery")
    assert "Hidden from the circle while a facilitator takes a look." in [
        c.value for c in artist.caption
    ]
    assert not at.exception and not others.exception and not artist.exception


def test_reporting_a_comment_hides_it(
    studio, data_dir, monkeypatch, therapist, circle, participant, peer
):
    artwork = share_art(studio, participant, circle)
    comment = studio.comments.post(peer, artwork.id, "Unkind words here")
    at = app_for(
        studio, data_dir, monkeypatch, user=participant, page="gallery", query={"art": artwork.id}
    )
    # One small button a comment; only the comment being reported shows the reason box.
    assert not [t for t in at.text_area if t.key == f"report_reason_{comment.id}"]
    at.button(key=f"report_{comment.id}").click()
    at.run()
    at.text_area(key=f"report_reason_{comment.id}").input("Hurtful")
    at.button(key=f"report_send_{comment.id}").click()
    at.run()

    assert any(s.value.startswith("Thank you. A facilitator will take a look") for s in at.success)

    assert [c.id for c in studio.comments.for_artwork(participant, artwork.id)] in (
        [],
        [comment.id],
    )
    kim = join(studio, therapist, circle, "kim", "Kim")
    others = app_for(
        studio, data_dir, monkeypatch, user=kim, page="gallery", query={"art": artwork.id}
    )
    assert "Unkind words here" not in all_text(others)
    assert not at.exception and not others.exception
