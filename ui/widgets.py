"""Small widgets shared by pages: people's text shown safely, artwork images, panels."""

from __future__ import annotations

import logging
from collections.abc import Callable

import streamlit as st

from gallery_store import StudioError
from gallery_store.crisis import AT_RISK
from gallery_store.models import Artwork
from gallery_store.support import HELD_MESSAGE, NOT_MONITORED, Support
from gallery_store.text import escape_markdown, html_attr, html_text

__all__ = [
    "alt_text_for",
    "artwork_image",
    "artwork_link",
    "cookie_handoff",
    "cookie_sign_out",
    "guarded",
    "show_text",
    "support_panel",
]

log = logging.getLogger("kindred")


def show_text(text: str, *, caption: bool = False) -> None:
    """Show a person's words as plain text: no links, HTML or formatting take effect."""
    if not text:
        return
    if caption:
        st.caption(escape_markdown(text))
    else:
        st.markdown(escape_markdown(text))


def alt_text_for(artwork: Artwork, variant: str = "thumb") -> str:
    """Return the words that stand for an artwork's picture (its alt text, or the warning)."""
    if variant != "blur":
        return artwork.alt_text
    if artwork.content_warning:
        return f"Blurred artwork with a content warning: {artwork.content_warning}"
    return "Blurred artwork, shown clearly when you choose"


def artwork_image(
    artwork: Artwork, variant: str = "thumb", *, note: str = "", max_height: str = ""
) -> None:
    """Show an artwork with its alt text on the <img> itself.

    ``max_height`` (a CSS length) keeps a picture from pushing what follows off the screen.
    """
    width, height = (
        (artwork.thumb_width, artwork.thumb_height)
        if variant != "full"
        else (artwork.width, artwork.height)
    )
    alt = alt_text_for(artwork, variant)
    caption = f"<figcaption>{html_text(note)}</figcaption>" if note else ""
    # A tall piece should fit the window rather than push its words below the fold.
    limit = "max-height:75vh;object-fit:contain;" if variant == "full" else ""
    if max_height:
        limit = f"max-height:{html_attr(max_height)};width:auto;max-width:100%;"
    st.html(
        f'<figure class="kc-art" style="margin:0">'
        f'<img src="art/{html_attr(artwork.id)}/{variant}" alt="{html_attr(alt)}" '
        f'width="{int(width)}" height="{int(height)}" loading="lazy" '
        f'style="width:100%;height:auto;{limit}border-radius:8px;background:#eee6da"/>'
        f"{caption}</figure>"
    )


def artwork_link(
    page, artwork: Artwork, variant: str = "thumb", *, query: dict | None = None, note: str = ""
) -> None:
    """Show an artwork's picture as the link to its own page, named by its alt text.

    The router's stylesheet (``ui.style``) lays the link over the picture.
    """
    with st.container(key=f"kc-art-link-{artwork.id}"):
        artwork_image(artwork, variant, note=note)
        st.page_link(
            page,
            label=escape_markdown(alt_text_for(artwork, variant)),
            query_params={"art": artwork.id, **(query or {})},
        )


def cookie_handoff(code: str) -> None:
    """Have this tab's browser trade a sign-in code for its session cookie, then reload."""
    from .web import HANDOFF_SCRIPT

    st.html(
        f'<div id="kc-handoff" hidden data-code="{html_attr(code)}"></div>'
        f"<script>{HANDOFF_SCRIPT}</script>",
        unsafe_allow_javascript=True,
    )


def cookie_sign_out() -> None:
    """Have the browser drop its session cookie (a POST with Streamlit's XSRF token)."""
    from .web import SIGN_OUT_SCRIPT

    st.html(f"<script>{SIGN_OUT_SCRIPT}</script>", unsafe_allow_javascript=True)


def support_panel(support: Support) -> None:
    """Show calm words and the circle's crisis lines at once, when a service decided to."""
    if not support.shown:
        return
    title = (
        "You don't have to carry this alone"
        if support.tier == AT_RISK
        else "You don't have to look after them alone"
    )
    with st.container(border=True, key="kc-support"):
        st.markdown(f"#### {title}")
        st.markdown(escape_markdown(support.message))
        if support.held:
            st.info(escape_markdown(HELD_MESSAGE))
        for resource in support.resources:
            line = f"**{escape_markdown(resource.name)}** — {escape_markdown(resource.contact)}"
            if resource.region:
                line += f" · {escape_markdown(resource.region)}"
            if resource.url:
                line += f" · {escape_markdown(resource.url)}"
            st.markdown(line)
            if resource.description:
                st.caption(escape_markdown(resource.description))
        st.caption(
            "What you wrote was saved. Your facilitator will see that you may need support. "
            + NOT_MONITORED
        )


def guarded(action: Callable[[], object], *, success: str | None = None) -> object | None:
    """Run a service call; show a kind message instead of an error page when it is refused."""
    try:
        result = action()
    except StudioError as exc:
        st.error(exc.message)
        return None
    if success:
        st.success(success)
    return result
