"""A bare Streamlit app to measure ours against (``benchmarks/bench_browser.py``).

What our gallery does, with nothing else: a grid of 24 pictures that link to a page for one
picture with its comments and a comment form, and another page to switch to. No store, no
sign-in, no router: the time Streamlit itself takes for the same actions.
"""

from __future__ import annotations

import io

import streamlit as st
from PIL import Image, ImageDraw

PICTURES = 24


@st.cache_data(show_spinner=False)
def picture(number: int) -> bytes:
    """Return a small PNG, different for each number."""
    image = Image.new("RGB", (480, 360), (240, 232, 220))
    draw = ImageDraw.Draw(image)
    draw.ellipse((60 + number * 7, 40, 300 + number * 5, 300), fill=(90 + number * 6, 127, 110))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def grid() -> None:
    st.title("Bare gallery")
    for start in range(0, PICTURES, 4):
        for column, number in zip(st.columns(4), range(start, start + 4), strict=True):
            with column, st.container(border=True):
                st.image(picture(number))
                st.page_link(PIECE, label=f"Picture {number}", query_params={"art": str(number)})


def _post(number: str) -> None:
    text = st.session_state.get("bare_comment") or ""
    st.session_state.setdefault("comments", {}).setdefault(number, []).append(text)
    st.session_state["bare_comment"] = ""


def piece() -> None:
    number = st.query_params.get("art", "0")
    st.title(f"Picture {number}")
    st.image(picture(int(number)))
    st.subheader("Comments")
    for text in st.session_state.get("comments", {}).get(number, []):
        with st.container(border=True):
            st.markdown(text)
    st.text_area("Your comment", key="bare_comment")
    st.button("Post comment", type="primary", on_click=_post, args=(number,))


def another() -> None:
    st.title("Another page")
    st.write("Nothing here but words.")


GRID = st.Page(grid, title="Gallery", default=True)  # at "/"
PIECE = st.Page(piece, title="Picture", url_path="piece")
ANOTHER = st.Page(another, title="Another page", url_path="another")
st.navigation([GRID, PIECE, ANOTHER]).run()
