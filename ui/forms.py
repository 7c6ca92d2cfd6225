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


# One face per point of the 1–5 mood scale (the words are the scale's own, in MOODS). Material
# icons, not emoji: every browser has Streamlit's icon font, not every one has emoji faces.
FACES: dict[int, str] = {
    1: ":material/sentiment_very_dissatisfied:",
    2: ":material/sentiment_dissatisfied:",
    3: ":material/sentiment_neutral:",
    4: ":material/sentiment_satisfied:",
    5: ":material/sentiment_very_satisfied:",
}
QUESTIONS = {
    "before": "How are you feeling right now, before you begin?",
    "after": "And how are you feeling now, after making?",
}


def mood_check_in(
    studio: Studio,
    user: User,
    circle_id: str | None,
    moment: str,
    *,
    prompt_id: str | None,
    key: str,
) -> None:
    """Two taps: a face saves the check-in at once; feelings, if any, join it."""
    names = _check_in_keys(key, moment)
    saved = st.session_state.get(names["saved"])
    where = {"circle_id": circle_id, "prompt_id": prompt_id}
    st.segmented_control(
        QUESTIONS[moment],
        options=list(MOODS),
        format_func=lambda score: f"{FACES[score]} {MOODS[score]}",
        default=saved["score"] if saved else None,
        key=names["score"],
        on_change=_save_mood,
        args=(studio, user, moment, where, names),
    )
    error = st.session_state.pop(names["error"], None)
    if error:
        st.error(error)
    if saved is None:
        st.caption("One tap saves it. Check-ins are always optional.")
        return
    st.caption(f"Saved: {MOODS[saved['score']].lower()}. Thank you for checking in.")
    st.pills(
        "Anything else? (optional)",
        options=list(FEELINGS),
        selection_mode="multi",
        default=saved.get("feelings") or None,
        key=names["feelings"],
        on_change=_save_feelings,
        args=(studio, user, names),
    )


def _check_in_keys(key: str, moment: str) -> dict[str, str]:
    return {
        "score": f"mood_score_{key}_{moment}",
        "feelings": f"mood_feelings_{key}_{moment}",
        "saved": f"checked_in_{key}_{moment}",
        "error": f"check_in_error_{key}_{moment}",
    }


def _save_mood(studio: Studio, user: User, moment: str, where: dict, names: dict) -> None:
    """Save the tapped face: a new check-in, or a changed mind about this one."""
    score = st.session_state.get(names["score"])
    if score is None:
        return  # tapping the chosen face again un-chooses it; what was saved stays
    saved = st.session_state.get(names["saved"])
    try:
        if saved is None:
            checkin = studio.reflections.check_in(user, moment, int(score), **where)
        else:
            checkin = studio.reflections.edit_check_in(user, saved["id"], score=int(score))
    except StudioError as exc:
        st.session_state[names["error"]] = exc.message
        return
    st.session_state[names["saved"]] = {
        "id": checkin.id,
        "score": checkin.score,
        "feelings": list(checkin.feelings),
    }


def _save_feelings(studio: Studio, user: User, names: dict) -> None:
    saved = st.session_state.get(names["saved"])
    if saved is None:
        return
    chosen = list(st.session_state.get(names["feelings"]) or [])
    try:
        checkin = studio.reflections.edit_check_in(user, saved["id"], feelings=chosen)
    except StudioError as exc:
        st.session_state[names["error"]] = exc.message
        return
    saved["feelings"] = list(checkin.feelings)
