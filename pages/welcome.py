"""Signed-out pages: welcome and sign-in, joining with an invite, reset codes, first-run setup."""

from __future__ import annotations

import streamlit as st

from gallery_store import Studio, StudioError
from ui.context import client_address, sign_in
from ui.flash import flash

WELCOME = (
    "Kindred Canvas is a quiet place to make art around a shared prompt and to witness each "
    "other's work — with people who understand. There are no likes or scores here, only "
    "kindness."
)


def render(studio: Studio) -> None:
    """Show the welcome, the sign-in form and the ways in."""
    st.title("Welcome to Kindred Canvas")
    st.write(WELCOME)
    sign_in_tab, join_tab, reset_tab = st.tabs(
        ["Sign in", "Join with an invite", "I have a reset code"]
    )
    with sign_in_tab:
        _sign_in_form(studio)
    with join_tab:
        _join_form(studio)
    with reset_tab:
        _reset_form(studio)


def _sign_in_form(studio: Studio) -> None:
    with st.form("sign_in"):
        username = st.text_input("Username", autocomplete="username")
        password = st.text_input("Password", type="password", autocomplete="current-password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        try:
            sign_in(studio, username, password)
        except StudioError as exc:
            st.error(exc.message)
            return
        st.rerun()


def _join_form(studio: Studio) -> None:
    st.caption(
        "Your facilitator gives you an invite code. Pick any name to show others — a "
        "nickname is fine. We never ask for your real name, email or where you live."
    )
    with st.form("join"):
        code = st.text_input("Invite code", placeholder="KC-XXXX-XXXX-XXXX")
        display_name = st.text_input("Name to show in your circle", max_chars=40)
        username = st.text_input("Choose a username", max_chars=32, key="join_username")
        password = st.text_input(
            "Choose a password (10 or more characters)",
            type="password",
            key="join_password",
            autocomplete="new-password",
        )
        submitted = st.form_submit_button("Join my circle", type="primary")
    if submitted:
        try:
            joined = studio.accounts.join(
                code, username, password, display_name, client=client_address()
            )
            sign_in(studio, username, password)
        except StudioError as exc:
            st.error(exc.message)
            return
        flash(f"Welcome to your circle, {joined.display_name}.")
        st.rerun()


def _reset_form(studio: Studio) -> None:
    st.caption("If you forgot your password, your facilitator can give you a one-time reset code.")
    with st.form("reset"):
        username = st.text_input("Your username", key="reset_username")
        code = st.text_input("Reset code", key="reset_code")
        password = st.text_input("New password", type="password", key="reset_password")
        recovery = st.text_input(
            "Your recovery code (if you kept it)",
            key="reset_recovery",
            placeholder="RC-XXXXX-XXXXX-XXXXX-XXXXX-XXXXX",
            help=(
                "You were given it when you joined. With it, your private notes stay open. "
                "Without it, you start a fresh notebook: the notes you wrote before stay "
                "locked until you find the code — nobody, not even your therapist, can open "
                "them."
            ),
        )
        submitted = st.form_submit_button("Set my new password")
    if submitted:
        try:
            studio.accounts.redeem_reset_code(username, code, password, recovery.strip() or None)
        except StudioError as exc:
            st.error(exc.message)
            return
        if recovery.strip():
            st.success("Your new password is set and your private notes are safe. Sign in now.")
        else:
            st.success(
                "Your new password is set. You can sign in now. The private notes you wrote "
                "before stay locked; your recovery code can open them later, from your "
                "Account page. You'll get a new recovery code when you sign in."
            )


def render_setup(studio: Studio) -> None:
    """Create the studio's first therapist account, with the server's one-time setup code."""
    st.title("Set up Kindred Canvas")
    st.write(
        "Welcome! This studio has no facilitator yet. Create the first therapist account. "
        "You'll need the one-time setup code from the server: it's printed in the server log "
        "when the app starts, and `python -m gallery_store setup-code` shows it again."
    )
    with st.form("setup"):
        code = st.text_input("Setup code")
        display_name = st.text_input("Your name as people will see it", max_chars=40)
        username = st.text_input("Username", max_chars=32)
        password = st.text_input("Password", type="password", autocomplete="new-password")
        submitted = st.form_submit_button("Create the therapist account", type="primary")
    if submitted:
        try:
            studio.accounts.bootstrap_therapist(
                username, password, display_name, setup_code=code, require_code=True
            )
            sign_in(studio, username, password)
        except StudioError as exc:
            st.error(exc.message)
            return
        st.rerun()


if __name__ == "__main__":
    from ui.context import cold_start

    cold_start()
