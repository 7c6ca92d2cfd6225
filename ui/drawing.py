"""The drawing board: a canvas with brushes, a palette, an eraser and saved drafts."""

from __future__ import annotations

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


def drawing_board(studio: Studio, user: User) -> bytes | None:
    """Show the canvas and its tools; return the finished drawing as PNG bytes, if any."""
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
            default="Tablet",
            key="canvas_size",
            help="Phone fits a narrow screen; larger canvases scroll sideways on small screens.",
        )
        or "Tablet"
    )
    first, second, third = st.columns(3)
    brush = (
        first.segmented_control("Brush", list(BRUSHES), default="Medium", key="canvas_brush")
        or "Medium"
    )
    tool = (
        second.segmented_control("Tool", ["Brush", "Eraser"], default="Brush", key="canvas_tool")
        or "Brush"
    )
    background = third.color_picker(
        "Background",
        value=(draft or {}).get("background", "#FFFFFF"),
        key="canvas_bg",
        help="Changing the background starts the canvas again.",
    )
    named = st.pills("Colour", list(PALETTE), default="Ink", key="canvas_colour")
    custom = st.color_picker(
        "Or any colour", value=PALETTE.get(named or "Ink", "#2F3437"), key="canvas_custom"
    )
    colour = custom if custom.upper() != PALETTE.get(named or "", "").upper() else PALETTE[named]
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
        key=f"canvas_{size}_{(draft or {}).get('id', 'new')}",
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
