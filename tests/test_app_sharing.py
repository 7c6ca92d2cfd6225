"""Making and sharing in the app: the drawing palette, a share form that empties, the gallery.

Regression tests for what a new person found on a first walk through the product.
"""

from __future__ import annotations

import html
import json

from streamlit.testing.v1.element_tree import UnknownElement

from gallery_store.safety import gentle_check
from gallery_store.text import escape_markdown
from prompts import THEME_TITLES
from tests.apptest import (
    all_text,
    app_for,
    button,
    click,
    img_tags,
    share_art,
    widget,
)
from tests.conftest import make_image

# The palette's colours (ui.drawing can't be imported outside a running app: its canvas
# component registers itself with Streamlit's runtime on import).
PALETTE = {
    "Ink": "#2F3437",
    "Sky": "#4A90C2",
    "Sun": "#F2B134",
    "Coral": "#E8735A",
    "Berry": "#9B4F96",
}

ALT_BOX = "Describe your artwork for people who can't see it (alt text)"


# -- the drawing board ----------------------------------------------------------------------------


def _drawing_board(studio, data_dir, monkeypatch, user):
    at = app_for(studio, data_dir, monkeypatch, user=user)
    at.radio(key="share_source").set_value("Draw it here")
    at.run()
    return at


def _canvas(at) -> dict:
    """Return what the drawing canvas was told to draw with (its stroke colour, size...)."""
    [canvas] = [
        e
        for e in at.get("bidi_component")
        if isinstance(e, UnknownElement) and "drawable_canvas" in e.proto.component_name
    ]
    return json.loads(canvas.proto.json)


def test_a_named_colour_reaches_the_canvas_and_the_picker(
    studio, data_dir, monkeypatch, circle, participant
):
    """Regression: choosing Coral, Sun or Sky still drew in Ink, and the swatch stayed dark."""
    at = _drawing_board(studio, data_dir, monkeypatch, participant)
    assert _canvas(at)["strokeColor"] == PALETTE["Ink"]

    for name in ("Coral", "Sun", "Sky"):
        at.button_group(key="canvas_colour").set_value(name)
        at.run()
        assert _canvas(at)["strokeColor"] == PALETTE[name]
        assert at.color_picker(key="canvas_custom").value.upper() == PALETTE[name].upper()
    assert not at.exception


def test_any_colour_from_the_picker_reaches_the_canvas(
    studio, data_dir, monkeypatch, circle, participant
):
    at = _drawing_board(studio, data_dir, monkeypatch, participant)
    at.button_group(key="canvas_colour").set_value("Sun")
    at.run()
    at.color_picker(key="canvas_custom").pick("#123456")
    at.run()

    assert _canvas(at)["strokeColor"].upper() == "#123456"
    assert at.button_group(key="canvas_colour").value is None  # no named colour lit up
    at.button_group(key="canvas_colour").set_value("Berry")
    at.run()
    assert _canvas(at)["strokeColor"] == PALETTE["Berry"]
    assert not at.exception


def test_the_eraser_paints_with_the_background(studio, data_dir, monkeypatch, circle, participant):
    at = _drawing_board(studio, data_dir, monkeypatch, participant)
    at.button_group(key="canvas_colour").set_value("Coral")
    at.button_group(key="canvas_tool").set_value("Eraser")
    at.run()

    assert _canvas(at)["strokeColor"].upper() == "#FFFFFF"
    assert not at.exception


# -- sharing ----------------------------------------------------------------------------------


def test_sharing_empties_the_form_and_links_to_the_piece(
    studio, data_dir, monkeypatch, circle, participant
):
    """Regression: after sharing, the picture and words stayed, and Share posted them again."""
    at = app_for(studio, data_dir, monkeypatch, user=participant)
    at.file_uploader(key="share_upload").upload("river.png", make_image(), "image/png")
    at.run()
    widget(at.text_area, "Caption (optional)").input("A river at dusk")
    widget(at.text_area, ALT_BOX).input("Orange wash of colour")
    widget(at.text_input, "Content warning (optional)").input("grief")
    click(at, "Share with my circle")

    [shared] = studio.artworks.by_artist(participant)
    assert "Shared with your circle. Thank you for showing up today." in [
        s.value for s in at.success
    ]
    # The form is empty again: the words, the warning and the picture.
    assert widget(at.text_area, "Caption (optional)").value == ""
    assert widget(at.text_area, ALT_BOX).value == ""
    assert widget(at.text_input, "Content warning (optional)").value == ""
    [uploader] = at.get("file_uploader")
    assert not uploader.value
    assert not at.image  # no preview of the old picture
    # The person sees their piece, and it is a link to its page.
    links = [link for link in at.get("page_link") if "art=" in link.proto.query_string]
    assert {link.proto.query_string for link in links} == {f"art={shared.id}"}
    assert any(f"art/{shared.id}/thumb" in tag for tag in img_tags(at))

    click(at, "Share with my circle")
    assert "Please choose a photo or take one first." in [e.value for e in at.error]
    assert len(studio.artworks.by_artist(participant)) == 1
    assert not at.exception


def test_the_next_piece_can_be_shared_after_one(studio, data_dir, monkeypatch, circle, participant):
    at = app_for(studio, data_dir, monkeypatch, user=participant)
    for number, colour in enumerate([(200, 120, 80), (40, 90, 200)]):
        [uploader] = at.get("file_uploader")
        uploader.upload(f"piece{number}.png", make_image(color=colour), "image/png")
        at.run()
        widget(at.text_area, ALT_BOX).input(f"Piece {number}")
        click(at, "Share with my circle")

    assert sorted(a.alt_text for a in studio.artworks.by_artist(participant)) == [
        "Piece 0",
        "Piece 1",
    ]
    assert not at.error
    assert not at.exception


# -- the gallery ----------------------------------------------------------------------------------


def _art_links(at) -> dict[str, str]:
    """Return the page links to artworks: their query string -> their words."""
    return {
        link.proto.query_string: link.proto.label
        for link in at.get("page_link")
        if "art=" in link.proto.query_string
    }


def test_a_thumbnail_is_the_link_to_its_artwork(
    studio, data_dir, monkeypatch, circle, participant, peer
):
    """Regression: only a separate "Open" button opened an artwork, not its thumbnail."""
    alt = 'A "bright" sun over hills'
    artwork = share_art(studio, peer, circle, caption="Morning", alt_text=alt)
    at = app_for(studio, data_dir, monkeypatch, user=participant, page="gallery")

    # The thumbnail and the link share one container; the link's words are the alt text.
    assert _art_links(at) == {f"art={artwork.id}": escape_markdown(alt)}
    [thumb] = img_tags(at)
    assert f'alt="{html.escape(alt, quote=True)}"' in thumb
    linked = [b for b in at.main if getattr(b, "key", None) == f"kc-art-link-{artwork.id}"]
    assert linked, "the thumbnail is not inside its link's container"
    assert not [b for b in at.button if b.label == "Open"]
    assert not at.exception


def test_the_filters_are_folded_away_and_kept_in_the_address(
    studio, data_dir, monkeypatch, circle, participant, peer
):
    share_art(studio, peer, circle, caption="Theirs")
    mine = share_art(studio, participant, circle, caption="Mine")
    at = app_for(studio, data_dir, monkeypatch, user=participant, page="gallery")

    [filters] = [e for e in at.expander if e.label == "Filters and content warnings"]
    assert [t.label for t in filters.toggle] == ["Only my art"]
    filters.toggle[0].set_value(True)
    at.run()

    assert at.query_params["mine"] in ("1", ["1"])
    assert set(_art_links(at)) == {f"art={mine.id}&mine=1"}
    assert "Showing only your art" in [c.value for c in at.caption]

    # A new visit to that address (a reload, Back) finds the gallery as it was left.
    again = app_for(
        studio, data_dir, monkeypatch, user=participant, page="gallery", query={"mine": "1"}
    )
    assert again.toggle(key="gallery_mine").value is True
    assert set(_art_links(again)) == {f"art={mine.id}&mine=1"}
    assert not at.exception and not again.exception


def test_back_from_an_artwork_keeps_the_gallery_filters(
    studio, data_dir, monkeypatch, circle, participant, peer
):
    """Regression: back from an artwork (and after deleting one) the filters were reset."""
    share_art(studio, peer, circle, caption="Theirs")
    mine = share_art(studio, participant, circle, caption="Mine")
    at = app_for(
        studio,
        data_dir,
        monkeypatch,
        user=participant,
        page="gallery",
        query={"art": mine.id, "mine": "1"},
    )
    assert [t.value for t in at.title] == ["By Robin"]
    click(at, "← Back to the gallery")

    assert at.toggle(key="gallery_mine").value is True
    assert set(_art_links(at)) == {f"art={mine.id}&mine=1"}
    assert not at.exception


def test_the_warning_and_its_choice_come_before_a_small_blurred_copy(
    studio, data_dir, monkeypatch, circle, participant, peer
):
    """Regression: the blurred copy filled the screen; the warning and button were below it."""
    artwork = share_art(studio, peer, circle, content_warning="grief")
    at = app_for(
        studio, data_dir, monkeypatch, user=participant, page="gallery", query={"art": artwork.id}
    )

    order = []
    for node in at.main:
        if node.type == "warning" and "grief" in node.value:
            order.append("warning")
        elif node.type == "button" and node.label == "Show this artwork":
            order.append("button")
        elif node.type == "html" and "/blur" in node.proto.body:
            order.append("blurred")
            assert "max-height:30vh" in node.proto.body
    assert order == ["warning", "button", "blurred"], order
    assert "Content warning: grief" in all_text(at)
    assert not at.exception


# -- words ------------------------------------------------------------------------------------


def test_a_nudge_suggests_kinder_words_without_saying_try_twice(
    studio, data_dir, monkeypatch, circle, participant, peer
):
    """Regression: the nudge read "You could try: Try: …"."""
    artwork = share_art(studio, participant, circle)
    at = app_for(
        studio, data_dir, monkeypatch, user=peer, page="gallery", query={"art": artwork.id}
    )
    at.text_area(key=f"draft_{artwork.id}").input("this is ugly")
    click(at, "Post comment")

    [line] = [c.value for c in at.caption if c.value.startswith("You could try:")]
    assert line == f"You could try: {gentle_check('this is ugly').suggestion}"
    assert line.count("ry:") == 1, line
    assert not at.exception


def test_todays_prompt_names_its_themes_in_words(
    studio, data_dir, monkeypatch, circle, participant
):
    """Regression: the prompt's header showed theme keys ("self-care") and not their titles."""
    todays = studio.prompts.today(participant, circle.id).prompt
    at = app_for(studio, data_dir, monkeypatch, user=participant)

    [header] = [c.value for c in at.caption if c.value.startswith("Today's prompt")]
    assert header.endswith(", ".join(THEME_TITLES[t] for t in todays.themes)), header
    assert not at.exception


def test_the_mood_chart_ticks_only_at_mood_levels(
    studio, data_dir, monkeypatch, circle, participant
):
    """Regression: the mood axis had ticks at 1.5 and 2.5, moods nobody can choose."""
    studio.reflections.check_in(participant, "before", 2)
    studio.reflections.check_in(participant, "after", 3)
    at = app_for(studio, data_dir, monkeypatch, user=participant, page="journal")

    [chart] = at.get("vega_lite_chart")
    spec = json.loads(chart.proto.spec)
    axis = spec["encoding"]["y"]["axis"]
    assert axis["values"] == [1, 2, 3, 4, 5]
    assert axis["format"] == "d"
    # Days as the app writes them everywhere ("Thu 3 Dec"), not "Nov 22" beside "Sat 21".
    assert spec["encoding"]["x"]["axis"]["format"] == "%a %-d %b"
    assert button(at, "Save reflection")  # the journal itself still shows
    assert not at.exception
