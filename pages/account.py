"""Your account: name, password, how sensitive art is shown, notes from facilitators."""

from __future__ import annotations

import streamlit as st

from gallery_store import StudioError
from gallery_store.text import escape_markdown, relative_time
from ui.context import Context


def render(ctx: Context) -> None:
    """Show the person's account settings."""
    studio = ctx.studio
    st.title("Your account")
    st.caption(f"Signed in as {ctx.user.username}")

    notices = studio.moderation.notices(ctx.user)
    if notices:
        st.subheader("Notes for you")
        for notice in notices:
            when = relative_time(notice.created_at, studio.now()) if notice.created_at else ""
            st.info(f"{escape_markdown(notice.text)}  \n*{when}*")
        studio.moderation.mark_notices_read(ctx.user)

    with st.form("rename"):
        name = st.text_input(
            "Name shown in your circles", value=ctx.user.display_name, max_chars=40
        )
        if st.form_submit_button("Save name"):
            try:
                studio.accounts.rename(ctx.user, name)
            except StudioError as exc:
                st.error(exc.message)
            else:
                st.success("Saved.")

    with st.form("password"):
        st.markdown("**Change your password**")
        current = st.text_input("Current password", type="password")
        new = st.text_input("New password (10 or more characters)", type="password")
        if st.form_submit_button("Change password"):
            try:
                studio.accounts.change_password(ctx.user, current, new, keep_token=ctx.token)
            except StudioError as exc:
                st.error(exc.message)
            else:
                st.success("Your password is changed. Other devices have been signed out.")

    locked = studio.accounts.locked_notes(ctx.user)
    if locked:
        with st.form("unlock_notes"):
            st.markdown("**Open locked notes**")
            st.caption(
                "Notes you wrote before your password was reset stay locked until you enter "
                "the recovery code you had then."
            )
            code = st.text_input("Your earlier recovery code", key="unlock_recovery_code")
            if st.form_submit_button("Open my notes"):
                try:
                    opened = studio.accounts.unlock_notes(ctx.user, code)
                except StudioError as exc:
                    st.error(exc.message)
                else:
                    st.success(f"Opened {opened} note{'s' if opened != 1 else ''}.")
    with st.expander("Recent sign-ins and resets"):
        events = studio.accounts.account_events(ctx.user)
        if not events:
            st.caption("Nothing yet.")
        for event in events[:10]:
            st.caption(f"{event.at:%d %b %Y, %H:%M} UTC — {escape_markdown(event.describe)}")
    with st.form("join_another"):
        st.markdown("**Join another circle**")
        code = st.text_input("Invite code", key="another_circle_code")
        if st.form_submit_button("Join"):
            try:
                studio.accounts.join_another_circle(ctx.user, code)
            except StudioError as exc:
                st.error(exc.message)
            else:
                st.success("You've joined. Switch circles from the menu.")

    if ctx.user.is_therapist:
        _alert_email(ctx)

    st.subheader("Sharing your mood with your therapist")
    consent = studio.reflections.insights_consent(ctx.user)
    chosen = st.toggle(
        "Include me in my circle's anonymous summaries (how many took part, and moods before "
        "and after making art)",
        value=consent,
        help=(
            "Your therapist sees only weekly figures for three or more people, with noise "
            "added, never yours alone."
        ),
    )
    if chosen != consent:
        studio.reflections.set_insights_consent(ctx.user, chosen)
        st.success("Saved.")


def _alert_email(ctx: Context) -> None:
    studio = ctx.studio
    st.subheader("Urgent alerts")
    st.caption(
        "When someone in a circle you run may be at risk now, we email you at once: only that "
        "a flag is waiting and where to look, never their words. Kindred Canvas isn't watched "
        "around the clock, so choose an address someone reads."
    )
    if not studio.alerts.configured:
        st.info("Email alerts aren't set up on this server yet (KINDRED_SMTP_URL).")
    with st.form("alert_email"):
        email = st.text_input("Email for urgent alerts", value=studio.alerts.email_of(ctx.user))
        if st.form_submit_button("Save alert email"):
            try:
                studio.alerts.set_email(ctx.user, email)
            except StudioError as exc:
                st.error(exc.message)
            else:
                st.success("Saved." if email.strip() else "Alerts by email are off.")


if __name__ == "__main__":
    from ui.context import cold_start

    cold_start()
