"""The drawing board: a canvas with brushes, a palette, an eraser and saved drafts."""

from __future__ import annotations

import re

import streamlit as st
from streamlit_drawable_canvas import st_canvas

from gallery_store import Studio, StudioError
from gallery_store.drawings import flatten_drawing
from gallery_store.models import User

__all__ = ["drawing_board"]

PALETTE = {
    "Ink": "#2F3437",
    "Sage": "#5B7F6E",
    "Sky": "#4A90C2",
    "Sun": "#F2B134",
    "Coral": "#E8735A",
    "Berry": "#9B4F96",
    "Earth": "#8A6A4F",
}
SIZES = {"Phone": 320, "Tablet": 600, "Large": 900}
BRUSHES = {"Fine": 3, "Medium": 8, "Broad": 18, "Wash": 40}
# "Mobi" is in the user agent of phone browsers (Android and iOS), not of tablets' or desktops'.
PHONE_AGENT = re.compile(r"Mobi")


def on_a_phone() -> bool:
    """Say whether this browser says it is a phone, so the canvas can fit its screen."""
    try:
        headers = st.context.headers
        agent = headers.get("User-Agent") or ""
        mobile_hint = headers.get("Sec-CH-UA-Mobile") or ""
    except (AttributeError, RuntimeError):
        return False
    return bool(PHONE_AGENT.search(agent)) or mobile_hint.strip() == "?1"


def _named_colour() -> None:
    """Move the colour picker to the named colour just chosen."""
    named = st.session_state.get("canvas_colour")
    if named in PALETTE:
        st.session_state["canvas_custom"] = PALETTE[named]


def _any_colour() -> None:
    """Light up the named colour the picker now shows, or none when it is another colour."""
    picked = str(st.session_state.get("canvas_custom") or "").upper()
    st.session_state["canvas_colour"] = next(
        (name for name, hex_code in PALETTE.items() if hex_code.upper() == picked), None
    )


def drawing_board(studio: Studio, user: User, *, fresh: int = 0) -> bytes | None:
    """Show the canvas and its tools; return the finished drawing as PNG bytes, if any.

    ``fresh`` changes with every artwork shared, so the next one starts on a clean canvas.
    """
    drafts = studio.artworks.drafts_of(user)
    draft = None
    if drafts:
        labels = {None: "A fresh canvas"} | {
            d["id"]: f"Draft from {d['updated_at'][:16].replace('T', ' ')}" for d in drafts
        }
        chosen = st.selectbox(
            "Start from", list(labels), format_func=labels.get, key="draft_choice"
        )
        draft = next((d for d in drafts if d["id"] == chosen), None)

    size = (
        st.segmented_control(
            "Canvas size",
            list(SIZES),
            default="Phone" if on_a_phone() else "Tablet",
            key="canvas_size",
            help="Phone fits a narrow screen; larger canvases scroll sideways on small screens.",
        )
        or "Tablet"
    )
    # The brush sizes get a wide column: at a third of a laptop's width "Wash" was cut off.
    first, second = st.columns([3, 2])
    brush = (
        first.segmented_control("Brush", list(BRUSHES), default="Medium", key="canvas_brush")
        or "Medium"
    )
    tool = (
        second.segmented_control("Tool", ["Brush", "Eraser"], default="Brush", key="canvas_tool")
        or "Brush"
    )
    # The picker holds the colour in use: choosing a named colour moves the picker to it,
    # and picking another colour clears the named one. (Both are set here rather than given
    # defaults, because the callbacks write them.)
    st.session_state.setdefault("canvas_colour", "Ink")
    st.session_state.setdefault("canvas_custom", PALETTE["Ink"])
    st.pills("Colour", list(PALETTE), key="canvas_colour", on_change=_named_colour)
    left, right = st.columns(2)
    colour = left.color_picker("Or any colour", key="canvas_custom", on_change=_any_colour)
    background = right.color_picker(
        "Background",
        value=(draft or {}).get("background", "#FFFFFF"),
        key="canvas_bg",
        help="Changing the background starts the canvas again.",
    )
    width = SIZES[size]
    result = st_canvas(
        stroke_width=BRUSHES[brush],
        stroke_color=background if tool == "Eraser" else colour,
        background_color=background,
        height=int(width * 0.75),
        width=width,
        drawing_mode="freedraw",
        initial_drawing=(draft or {}).get("drawing"),
        return_image_data=True,
        key=f"canvas_{size}_{(draft or {}).get('id', 'new')}" + (f"_{fresh}" if fresh else ""),
    )
    st.caption("Undo, redo and clear are on the canvas toolbar. Touch and stylus work too.")
    objects = ((result.json_data or {}).get("objects") or []) if result else []
    if objects and st.button("Save as a private draft", key="save_draft"):
        try:
            studio.artworks.save_draft(
                user, result.json_data, background=background, draft_id=(draft or {}).get("id")
            )
        except StudioError as exc:
            st.error(exc.message)
        else:
            st.success("Saved as a draft. Only you can see it.")
    if not objects:
        return None
    try:
        return flatten_drawing(result.image_bytes, background)
    except StudioError as exc:
        st.info(exc.message)
        return None
