"""Today: the circle's prompt, a check-in, and sharing what you made."""

from __future__ import annotations

import streamlit as st

from gallery_store import StudioError
from gallery_store.text import escape_markdown
from prompts import THEME_TITLES
from ui.context import Context
from ui.drawing import drawing_board
from ui.forms import mood_check_in, round_key, share_form, share_round, upload_preview
from ui.prompt_choice import ChosenPrompt, answering, choose, clear
from ui.widgets import artwork_link, show_text

EARLIER_DAYS = 14


def render(ctx: Context) -> None:
    """Show today's prompt and the ways to answer it."""
    st.title("Today")
    if ctx.circle is None:
        st.info("You're not in a circle yet. Ask your facilitator for an invite code.")
        return
    studio = ctx.studio
    answer = answering(ctx)
    prompt = answer.prompt if answer else None
    prompt_id = prompt.id if prompt else None
    # The check-in comes first: one tap, before anything else asks for attention.
    mood_check_in(studio, ctx.user, ctx.circle.id, "before", prompt_id=prompt_id, key="today")
    if answer is None:
        st.info("There's no prompt for today — you're welcome to share anything you've made.")
    else:
        _show_prompt(answer)
        left, right = st.columns(2)
        if left.button("Show me another prompt", help="A different one from your circle's pool"):
            drawn = studio.prompts.another(ctx.user, ctx.circle.id, exclude=prompt.id)
            if drawn is None:
                st.info("This is the only prompt in your circle's pool right now.")
            else:
                choose(drawn.id)
                st.rerun()
        if answer.chosen and right.button("Back to today's prompt"):
            clear()
            st.rerun()

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
        mood_check_in(studio, ctx.user, ctx.circle.id, "after", prompt_id=prompt_id, key="today")

    _earlier_prompts(ctx, prompt_id)


def _earlier_prompts(ctx: Context, answering_id: str | None) -> None:
    """The circle's prompts of the last days (each once), any of which can be answered now."""
    earlier = {}
    for past in ctx.studio.prompts.past(ctx.user, ctx.circle.id, days=EARLIER_DAYS):
        earlier.setdefault(past.prompt.id, past)  # newest first: a prompt's latest day
    if not earlier:
        return
    with st.expander("Earlier prompts you can still respond to"):
        for past in earlier.values():
            left, right = st.columns([4, 1], vertical_alignment="center")
            left.markdown(f"**{past.day:%a %d %b}** — {escape_markdown(past.prompt.title)}")
            if past.prompt.id == answering_id:
                right.caption("Answering this one")
            elif right.button("Respond to this", key=f"respond_{past.prompt.id}"):
                choose(past.prompt.id, past.day)
                st.rerun()


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


def _show_prompt(answer: ChosenPrompt) -> None:
    prompt = answer.prompt
    with st.container(border=True):
        label = answer.label
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
