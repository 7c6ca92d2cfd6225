"""Form pieces shared by pages: the share form and the mood check-in."""

from __future__ import annotations

import streamlit as st

from gallery_store import Studio, StudioError
from gallery_store.artworks import ALT_TEXT_LIMIT, CAPTION_LIMIT, WARNING_LIMIT
from gallery_store.models import Artwork, User
from gallery_store.reflections import FEELINGS, MOODS

from .widgets import support_panel

__all__ = ["mood_check_in", "share_form"]

ALT_TEXT_HELP = (
    "Alt text is a short description of your artwork that screen readers speak aloud, so "
    "people with low vision can share in it too. Say what someone would see: colours, "
    "shapes, what's in it, the feeling."
)


def share_form(
    studio: Studio,
    user: User,
    circle_id: str,
    image_bytes: bytes | None,
    *,
    prompt_id: str | None,
    key: str,
) -> Artwork | None:
    """Ask for the caption, alt text and warning; share when the person is ready."""
    with st.form(f"share_{key}", clear_on_submit=False):
        caption = st.text_area(
            "Caption (optional)",
            max_chars=CAPTION_LIMIT,
            placeholder="A few words about your piece, if you'd like",
            key=f"caption_{key}",
        )
        alt_text = st.text_area(
            "Describe your artwork for people who can't see it (alt text)",
            max_chars=ALT_TEXT_LIMIT,
            help=ALT_TEXT_HELP,
            key=f"alt_{key}",
        )
        st.caption(ALT_TEXT_HELP)
        warning = st.text_input(
            "Content warning (optional)",
            max_chars=WARNING_LIMIT,
            placeholder="For example: self-harm, grief, blood",
            help="If your art touches something others may find hard, a warning lets them "
            "choose when to look. It will show blurred until they do.",
            key=f"warning_{key}",
        )
        submitted = st.form_submit_button("Share with my circle", type="primary")
    if not submitted:
        return None
    if image_bytes is None:
        st.error("Please choose a photo or take one first.")
        return None
    try:
        with st.spinner("Preparing your artwork…"):
            artwork = studio.artworks.share(
                user,
                image_bytes,
                caption=caption,
                alt_text=alt_text,
                prompt_id=prompt_id,
                content_warning=warning or None,
                circle_id=circle_id,
            )
    except StudioError as exc:
        st.error(exc.message)
        return None
    support_panel(artwork.support)
    return artwork


def mood_check_in(
    studio: Studio,
    user: User,
    circle_id: str | None,
    moment: str,
    *,
    prompt_id: str | None,
    key: str,
) -> None:
    """A quick, skippable 1–5 check-in with optional named feelings."""
    question = (
        "How are you feeling right now, before you begin?"
        if moment == "before"
        else "And how are you feeling now, after making?"
    )
    with st.form(f"mood_{key}_{moment}"):
        score = st.radio(
            question,
            options=list(MOODS),
            format_func=MOODS.get,
            index=None,
            horizontal=True,
            key=f"mood_score_{key}_{moment}",
        )
        feelings = st.pills(
            "Any of these? (optional)",
            options=list(FEELINGS),
            selection_mode="multi",
            key=f"mood_feelings_{key}_{moment}",
        )
        saved = st.form_submit_button("Save check-in")
    if saved:
        if score is None:
            st.info("No worries — check-ins are always optional.")
            return
        try:
            studio.reflections.check_in(
                user,
                moment,
                int(score),
                feelings=tuple(feelings or ()),
                circle_id=circle_id,
                prompt_id=prompt_id,
            )
        except StudioError as exc:
            st.error(exc.message)
            return
        st.session_state[f"checked_in_{key}_{moment}"] = True
        st.success("Thank you for checking in.")
