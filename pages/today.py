"""Today: the circle's prompt, a check-in, and sharing what you made."""

from __future__ import annotations

import streamlit as st

from gallery_store import StudioError
from gallery_store.prompt_library import TodaysPrompt
from gallery_store.text import escape_markdown
from prompts import THEME_TITLES
from ui.context import Context
from ui.drawing import drawing_board
from ui.forms import mood_check_in, round_key, share_form, share_round, upload_preview
from ui.widgets import artwork_link, show_text

ANOTHER_KEY = "another_prompt_id"


def render(ctx: Context) -> None:
    """Show today's prompt and the ways to answer it."""
    st.title("Today")
    if st.session_state.pop("just_joined", False):
        st.success(f"Welcome to your circle, {escape_markdown(ctx.user.display_name)}.")
    if ctx.circle is None:
        st.info("You're not in a circle yet. Ask your facilitator for an invite code.")
        return
    studio = ctx.studio
    todays = studio.prompts.today(ctx.user, ctx.circle.id)
    prompt = todays.prompt if todays else None
    another_id = st.session_state.get(ANOTHER_KEY)
    if another_id:
        try:
            prompt = studio.prompts.get(ctx.user, another_id)
        except StudioError:
            st.session_state.pop(ANOTHER_KEY, None)
    if prompt is None:
        st.info("There's no prompt for today — you're welcome to share anything you've made.")
    else:
        _show_prompt(prompt, todays, another=bool(another_id))
        left, right = st.columns(2)
        if left.button("Show me another prompt", help="A different one from your circle's pool"):
            drawn = studio.prompts.another(ctx.user, ctx.circle.id, exclude=prompt.id)
            if drawn is None:
                st.info("This is the only prompt in your circle's pool right now.")
            else:
                st.session_state[ANOTHER_KEY] = drawn.id
                st.rerun()
        if another_id and right.button("Back to today's prompt"):
            st.session_state.pop(ANOTHER_KEY, None)
            st.rerun()

    prompt_id = prompt.id if prompt else None
    with st.expander(
        "Check in before you begin (optional)",
        expanded=not st.session_state.get("checked_in_today_before"),
    ):
        mood_check_in(studio, ctx.user, ctx.circle.id, "before", prompt_id=prompt_id, key="today")

    st.subheader("Share what you made")
    source = st.radio(
        "How would you like to add your art?",
        ["Upload a photo or image", "Take a photo of work on paper", "Draw it here"],
        horizontal=True,
        key="share_source",
    )
    # Each share starts a new round: the picture widgets come back empty (ui.forms.round_key).
    if source.startswith("Draw"):
        image_bytes = drawing_board(studio, ctx.user, fresh=share_round("today"))
        uploaded = None
    elif source.startswith("Upload"):
        uploaded = st.file_uploader(
            "Choose an image (JPEG, PNG or WebP, up to "
            f"{studio.config.images.max_bytes // (1024 * 1024)} MB)",
            type=["jpg", "jpeg", "png", "webp"],
            key=round_key("share_upload", "today"),
        )
    else:
        uploaded = st.camera_input(
            "Take a photo of your artwork", key=round_key("share_camera", "today")
        )
    if not source.startswith("Draw"):
        image_bytes = uploaded.getvalue() if uploaded is not None else None
    if image_bytes and not source.startswith("Draw"):
        upload_preview(studio, image_bytes, key="today")
    artwork = share_form(
        studio, ctx.user, ctx.circle.id, image_bytes, prompt_id=prompt_id, key="today"
    )
    if artwork is not None:
        st.success("Shared with your circle. Thank you for showing up today.")
        st.session_state["shared_artwork_id"] = artwork.id
    _your_piece(ctx)
    if st.session_state.get("shared_artwork_id"):
        with st.expander("Check in after making (optional)", expanded=True):
            mood_check_in(
                studio, ctx.user, ctx.circle.id, "after", prompt_id=prompt_id, key="today"
            )

    with st.expander("Earlier prompts you can still respond to"):
        for past in studio.prompts.past(ctx.user, ctx.circle.id, days=14)[1:]:
            st.markdown(f"**{past.day:%a %d %b}** — {escape_markdown(past.prompt.title)}")


def _your_piece(ctx: Context) -> None:
    """Show the piece just shared, linked to its page, until the next one is shared."""
    artwork_id = st.session_state.get("shared_artwork_id")
    if not artwork_id:
        return
    try:
        artwork = ctx.studio.artworks.get(ctx.user, artwork_id)
    except StudioError:  # deleted since, or the circle was left
        return
    with st.container(border=True, key="kc-your-piece"):
        picture, words = st.columns([1, 3])
        with picture:
            artwork_link(ctx.pages["artwork"], artwork, "thumb")
        words.markdown("**Your piece is in your circle's gallery.**")
        words.page_link(
            ctx.pages["artwork"], label="Open your piece", query_params={"art": artwork.id}
        )


def _show_prompt(prompt, todays: TodaysPrompt | None, *, another: bool) -> None:
    with st.container(border=True):
        label = "Another prompt for you" if another else "Today's prompt"
        themes = ", ".join(THEME_TITLES.get(theme, theme) for theme in prompt.themes)
        st.caption(f"{label} · about {prompt.minutes} minutes · {themes}")
        st.header(escape_markdown(prompt.title))
        show_text(prompt.instructions)
        if prompt.materials:
            st.markdown("**You might use:** " + escape_markdown(", ".join(prompt.materials)))
        if prompt.no_materials:
            st.markdown("**No materials?** " + escape_markdown(prompt.no_materials))
        if prompt.reflection_questions:
            st.markdown("**To reflect on afterwards**")
            for question in prompt.reflection_questions:
                st.markdown(f"- {escape_markdown(question)}")


if __name__ == "__main__":
    from ui.context import cold_start

    cold_start()
