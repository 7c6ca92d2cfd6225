"""Flash messages: words for the person that outlive the rerun an action ends with.

A page that saves something and then calls ``st.rerun()`` (or ``st.switch_page``) loses
anything it showed in that run. ``flash("Saved.")`` keeps the words in the session instead,
and the router shows them once, as a toast, on the next run (a toast sits over the page, so
nothing below it moves). Right after sign-in the tab reloads into a new session; the router
hands the waiting words to the store for that moment (see ``Accounts.hold_arrival``).
"""

from __future__ import annotations

import streamlit as st

from gallery_store.text import escape_markdown

__all__ = ["flash", "restore_flashes", "show_flashes", "take_flashes"]

FLASH_KEY = "flash_messages"


def flash(message: str) -> None:
    """Show ``message`` once, on the next run of this tab (plain text, never markdown)."""
    waiting = st.session_state.setdefault(FLASH_KEY, [])
    if message not in waiting:
        waiting.append(message)


def take_flashes() -> list[str]:
    """Return the waiting messages and forget them (to carry them across a reload)."""
    return list(st.session_state.pop(FLASH_KEY, None) or [])


def restore_flashes(messages: list[str]) -> None:
    """Put messages carried across a reload back in line, to be shown on this run."""
    for message in messages:
        flash(message)


def show_flashes() -> None:
    """Show the waiting messages, once each."""
    for message in take_flashes():
        st.toast(escape_markdown(message), icon=":material/check_circle:", duration="long")
