"""Notices about the person's own account: their recovery code, and a reset since last time."""

from __future__ import annotations

import streamlit as st

from gallery_store.text import escape_markdown
from ui.context import Context

__all__ = ["account_notices"]

RECOVERY_HELP = (
    "Your private notes are locked with your password, so nobody else can read them — not "
    "your therapist, not us. If you forget your password, your facilitator can give you a "
    "reset code, but only this recovery code opens the notes you wrote before. Without it, "
    "a reset starts a fresh notebook and your earlier private notes stay locked."
)


def account_notices(ctx: Context) -> None:
    """Show, above every page, what the person needs to know about their own account."""
    studio = ctx.studio
    code = studio.accounts.recovery_code_to_show(ctx.user)
    if code:
        with st.container(border=True):
            st.markdown("**Keep this to recover your private notes**")
            st.code(code, language=None)
            st.caption(RECOVERY_HELP + " Write it down or keep it in a password manager.")
            if st.button("I've kept it somewhere safe", key="recovery_code_kept"):
                studio.accounts.recovery_code_kept(ctx.user)
                st.rerun()
    events = studio.accounts.reset_notice(ctx.user)
    if events:
        lines = [
            f"- {event.at:%d %b %Y, %H:%M} UTC — {escape_markdown(event.describe)}"
            for event in events
        ]
        st.warning(
            "**Your password was reset.** Here is what happened to your account since you "
            "last looked:\n\n" + "\n".join(lines) + "\n\nIf a sign-in wasn't you, please tell "
            "your facilitator or another therapist, and change your password on your "
            "Account page."
        )
        if st.button("I've seen this", key="reset_notice_seen"):
            studio.accounts.dismiss_reset_notice(ctx.user)
            st.rerun()
