"""Getting started: a therapist's first circle, or a participant's way into one."""

from __future__ import annotations

import streamlit as st

from gallery_store import StudioError
from gallery_store.text import escape_markdown
from ui.context import Context, switch_circle
from ui.flash import flash

THERAPIST_WELCOME = (
    "Kindred Canvas works in circles: small groups who make art around a shared prompt and "
    "witness each other's work. Start by creating your first circle. Then you'll write an "
    "invite code for each person you'd like to bring in — they join with it, and nobody else "
    "can."
)
PARTICIPANT_WELCOME = (
    "You're not in a circle yet. If your facilitator gave you an invite code, enter it here "
    "and you'll join their circle straight away."
)


def render(ctx: Context) -> None:
    """Help a new therapist start a circle, or a participant join one."""
    st.title(f"Welcome, {escape_markdown(ctx.user.display_name)}")
    if ctx.user.is_therapist:
        _first_circle(ctx)
    else:
        _join(ctx)


def _first_circle(ctx: Context) -> None:
    studio = ctx.studio
    circles = studio.circles.facilitated(ctx.user, therapist_only=True)
    if circles:
        st.write(
            f"Your circle “{escape_markdown(circles[0].name)}” is ready. Invite people with a "
            "code from the Circles page."
        )
        if st.button("Write an invite", type="primary", key="start_invite"):
            st.switch_page(ctx.pages["circles"])
        return
    st.write(THERAPIST_WELCOME)
    with st.form("first_circle"):
        name = st.text_input("Name your circle", placeholder="Tuesday caregivers", max_chars=60)
        timezone = st.text_input(
            "Time zone",
            value="UTC",
            help="Today's prompt changes at midnight here, e.g. Europe/London or America/Chicago.",
        )
        created = st.form_submit_button("Create my first circle", type="primary")
    if not created:
        return
    try:
        circle = studio.circles.create(ctx.user, name, timezone=timezone)
    except StudioError as exc:
        st.error(exc.message)
        return
    switch_circle(circle.id)
    flash(
        f"Your circle “{circle.name}” is ready. Next, make an invite code for the first "
        "person you'd like to bring in."
    )
    st.switch_page(ctx.pages["circles"])


def _join(ctx: Context) -> None:
    if ctx.circle is not None:
        st.write(f"You're in “{escape_markdown(ctx.circle.name)}”.")
        if st.button("Go to today's prompt", type="primary", key="start_today"):
            st.switch_page(ctx.pages["today"])
        return
    st.write(PARTICIPANT_WELCOME)
    with st.form("start_join"):
        code = st.text_input("Invite code", placeholder="KC-XXXX-XXXX-XXXX")
        joined = st.form_submit_button("Join the circle", type="primary")
    if not joined:
        return
    try:
        circle_id = ctx.studio.accounts.join_another_circle(ctx.user, code)
    except StudioError as exc:
        st.error(exc.message)
        return
    switch_circle(circle_id)
    flash(f"Welcome to your circle, {ctx.user.display_name}.")
    st.switch_page(ctx.pages["today"])


if __name__ == "__main__":
    from ui.context import cold_start

    cold_start()
