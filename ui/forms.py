"""Form pieces shared by pages: the share form and the mood check-in."""

from __future__ import annotations

import hashlib

import streamlit as st

from gallery_store import Studio, StudioError
from gallery_store.artworks import ALT_TEXT_LIMIT, CAPTION_LIMIT, WARNING_LIMIT
from gallery_store.errors import UploadRejected
from gallery_store.images import process_upload
from gallery_store.models import Artwork, User
from gallery_store.reflections import FEELINGS, MOODS

from .widgets import support_panel

__all__ = ["mood_check_in", "round_key", "share_form", "share_round", "upload_preview"]

PREVIEW_CAPTION = "Preview — only you can see this until you share it"

ALT_TEXT_HELP = (
    "Alt text is a short description of your artwork that screen readers speak aloud, so "
    "people with low vision can share in it too. Say what someone would see: colours, "
    "shapes, what's in it, the feeling."
)


def upload_preview(studio: Studio, image_bytes: bytes, *, key: str) -> bool:
    """Show the cleaned copy an upload becomes, or why it can't be used; True if usable.

    The raw upload is never shown: handing it to ``st.image`` would let the browser decode an
    unchecked file (a TIFF named .png, a 160-megapixel PNG) and serve its GPS tags back from
    Streamlit's media route. The pipeline's own thumbnail is shown instead, made once per
    upload and kept in the session, because every click on the page reruns this script.
    """
    digest = hashlib.sha256(image_bytes).hexdigest()
    state_key = f"upload_preview_{key}"
    preview = st.session_state.get(state_key)
    if preview is None or preview["digest"] != digest:
        try:
            with st.spinner("Getting your picture ready…"):
                processed = process_upload(image_bytes, studio.config.images)
            preview = {"digest": digest, "thumbnail": processed.thumbnail, "error": None}
        except UploadRejected as exc:
            preview = {"digest": digest, "thumbnail": None, "error": exc.message}
        # Only the small copy is kept: a session holds one thumbnail, not a full picture.
        st.session_state[state_key] = preview
    if preview["error"]:
        st.error(preview["error"])
        return False
    # width="content": at a fixed width Streamlit would decode and re-encode even this copy.
    st.image(preview["thumbnail"], caption=PREVIEW_CAPTION, width="content")
    return True


def share_round(key: str) -> int:
    """Return how many artworks this share form has shared in this tab (0 at first)."""
    return st.session_state.get(f"share_round_{key}", 0)


def round_key(base: str, key: str) -> str:
    """Return a widget key that changes after every share, so the widget comes back empty.

    A file uploader or camera can't be emptied from Python; a widget under a new key is new.
    """
    fresh = share_round(key)
    return base if fresh == 0 else f"{base}_{fresh}"


def share_form(
    studio: Studio,
    user: User,
    circle_id: str,
    image_bytes: bytes | None,
    *,
    prompt_id: str | None,
    key: str,
) -> Artwork | None:
    """Ask for the caption, alt text and warning; share when the person is ready.

    Once shared, the page runs again with every field empty (each keyed with ``round_key``,
    as the page's picture widgets must be too), so pressing Share again can't post the same
    piece twice; that run returns the artwork just shared, and shows any support it needs.
    """
    shared_key = f"shared_{key}"
    shared = st.session_state.pop(shared_key, None)
    with st.form(f"share_{key}", clear_on_submit=False):
        caption = st.text_area(
            "Caption (optional)",
            max_chars=CAPTION_LIMIT,
            placeholder="A few words about your piece, if you'd like",
            key=round_key(f"caption_{key}", key),
        )
        alt_text = st.text_area(
            "Describe your artwork for people who can't see it (alt text)",
            max_chars=ALT_TEXT_LIMIT,
            help=ALT_TEXT_HELP,
            key=round_key(f"alt_{key}", key),
        )
        st.caption(ALT_TEXT_HELP)
        warning = st.text_input(
            "Content warning (optional)",
            max_chars=WARNING_LIMIT,
            placeholder="For example: self-harm, grief, blood",
            help="If your art touches something others may find hard, a warning lets them "
            "choose when to look. It will show blurred until they do.",
            key=round_key(f"warning_{key}", key),
        )
        submitted = st.form_submit_button("Share with my circle", type="primary")
    if submitted:
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
        st.session_state[f"share_round_{key}"] = share_round(key) + 1
        st.session_state[shared_key] = artwork
        st.rerun()
    if shared is not None:
        support_panel(shared.support)
    return shared


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
