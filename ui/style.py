"""The app's own stylesheet, added once per run by the router: contrast and artwork links."""

from __future__ import annotations

import streamlit as st

__all__ = ["CAPTION_COLOR", "PAGE_STYLE", "page_style"]

# Streamlit draws captions in the text colour at 60 % (#818282 on our cream, 3.6:1), some by
# colour and some by opacity. This is the text colour lightened only as far as WCAG AA
# allows: 5.9:1 on the page, 5.3:1 in the sidebar.
CAPTION_COLOR = "#5C6165"

# The picture is the link: Streamlit's own page link (so the tab keeps its state) is laid
# over the picture, its words (the alt text) kept for screen readers only.
_LINKED = '[class*="st-key-kc-art-link-"]'
ARTWORK_LINK_STYLE = (
    f"{_LINKED}{{position:relative;gap:0}}"
    f'{_LINKED} [data-testid="stElementContainer"]:has([data-testid="stPageLink"])'
    "{position:absolute;inset:0;margin:0;width:auto!important;height:auto;z-index:1}"
    f'{_LINKED} [data-testid="stPageLink"],{_LINKED} [data-testid="stPageLink"]>div'
    "{height:100%;width:100%}"
    f'{_LINKED} [data-testid="stPageLink-NavLink"]'
    "{display:block;height:100%;width:100%;margin:0;padding:0;border-radius:8px;"
    "background:transparent!important}"
    f'{_LINKED} [data-testid="stPageLink-NavLink"]>*'
    "{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);"
    "white-space:nowrap}"
    f'{_LINKED} [data-testid="stPageLink-NavLink"]:focus-visible'
    "{outline:3px solid #2F3437;outline-offset:3px}"
)

PAGE_STYLE = (
    "<style>"
    f'[data-testid="stCaptionContainer"]{{color:{CAPTION_COLOR}!important;opacity:1!important}}'
    f"{ARTWORK_LINK_STYLE}"
    "</style>"
)


def page_style() -> None:
    """Add the stylesheet to this run (a style-only st.html takes no room on the page)."""
    st.html(PAGE_STYLE)
