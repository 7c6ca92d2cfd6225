"""What's new: what happened for the person since they last looked, and a way to each."""

from __future__ import annotations

import streamlit as st

from gallery_store import REACTIONS
from gallery_store.notices import NewActivity
from gallery_store.text import escape_markdown, relative_time
from ui.context import Context, switch_circle
from ui.flash import flash
from ui.widgets import show_text


def render(ctx: Context) -> None:
    """List what's new for the person, newest first."""
    studio = ctx.studio
    st.title("What's new")
    items = studio.notices.new_since_last_look(ctx.user)
    if not items:
        st.info("Nothing new since you last looked. We'll gather anything new here for you.")
        return
    st.caption(
        "Everything since you last looked. It stays here until you mark it seen, and the "
        "things themselves stay where they are."
    )
    if st.button("Mark all as seen", type="primary", key="notices_seen"):
        studio.notices.mark_seen(ctx.user)
        flash("All caught up.")
        st.rerun()
    now = studio.now()
    for index, item in enumerate(items):
        with st.container(border=True):
            st.markdown(f"**{_headline(item)}** · {relative_time(item.at, now)}")
            if item.kind in ("comment", "note") and item.words:
                show_text(item.words)
            _open_button(ctx, item, index)


def _headline(item: NewActivity) -> str:
    who = escape_markdown(item.who)
    piece = escape_markdown(_piece(item))
    if item.kind == "comment":
        return f"{who} commented on {piece}"
    if item.kind == "reaction":
        return f"{who} witnessed {piece}: {escape_markdown(REACTIONS.get(item.reaction, ''))}"
    if item.kind == "note":
        return f"A note from {who}" if who else "A note from your circle's facilitators"
    if item.kind == "read":
        return f"{who} read a note you shared"
    if item.kind == "shared_note":
        return f"{who} shared a note with you"
    return f"A new prompt in {escape_markdown(item.circle_name)}: {escape_markdown(item.words)}"


def _piece(item: NewActivity) -> str:
    caption = item.artwork_caption.strip()
    if not caption:
        return "your artwork"
    short = caption[:40] + ("…" if len(caption) > 40 else "")
    return f"your artwork “{short}”"


def _open_button(ctx: Context, item: NewActivity, index: int) -> None:
    key = f"notice_open_{index}"
    if item.artwork_id:
        if st.button("Open the artwork", key=key):
            st.switch_page(ctx.pages["artwork"], query_params={"art": item.artwork_id})
    elif item.kind == "prompt":
        if st.button("Go to Today", key=key):
            if item.circle_id:
                switch_circle(item.circle_id)
            st.switch_page(ctx.pages["today"])
    elif item.kind == "read":
        if st.button("Open my journal", key=key):
            st.switch_page(ctx.pages["journal"])
    elif (
        item.kind == "shared_note"
        and "insights" in ctx.pages
        and st.button("Read their shared notes", key=key)
    ):
        st.session_state["insights_circle"] = item.circle_id
        st.session_state["notes_person"] = item.person_id
        st.switch_page(ctx.pages["insights"])


if __name__ == "__main__":
    from ui.context import cold_start

    cold_start()
