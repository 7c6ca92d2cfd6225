"""Kindred Canvas: the router. Page config, the studio, who is signed in, their pages."""

from __future__ import annotations

import logging
from functools import partial

import streamlit as st

from gallery_store import StudioError
from gallery_store.logs import configure_logging
from gallery_store.models import ROLE_THERAPIST
from gallery_store.text import escape_markdown
from pages import (
    account,
    artwork,
    care,
    circles,
    gallery,
    insights,
    journal,
    prompts,
    today,
    welcome,
)
from ui.account_safety import account_notices
from ui.context import (
    Context,
    choose_circle,
    get_studio,
    pending_cookie_handoff,
    resolve_user,
)
from ui.widgets import cookie_handoff, cookie_sign_out

log = logging.getLogger("kindred")


def _pages_for(ctx: Context) -> dict[str, list[st.Page]]:
    """Build the menu for this person's role; pages they may not use are not in it."""

    def page(module, title: str, url: str, icon: str, default: bool = False) -> st.Page:
        return st.Page(
            partial(module.render, ctx), title=title, url_path=url, icon=icon, default=default
        )

    studio = ctx.studio
    facilitated = studio.circles.facilitated(ctx.user)
    waiting = studio.moderation.open_count(ctx.user)
    care_title = f"Care queue ({waiting})" if waiting else "Care queue"
    is_therapist = ctx.user.role == ROLE_THERAPIST
    making = [
        page(today, "Today", "today", ":material/palette:", default=not is_therapist),
        page(gallery, "Gallery", "gallery", ":material/photo_library:", default=is_therapist),
        page(journal, "Journal", "journal", ":material/auto_stories:"),
    ]
    sections = {"Make and share": making}
    if is_therapist:
        sections["Facilitate"] = [
            page(circles, "Circles", "circles", ":material/groups:"),
            page(prompts, "Prompt library", "prompts", ":material/library_books:"),
            page(care, care_title, "care", ":material/volunteer_activism:"),
            page(insights, "Insights", "insights", ":material/insights:"),
        ]
    elif facilitated:
        sections["Facilitate"] = [
            page(circles, "Circle", "circles", ":material/groups:"),
            page(care, care_title, "care", ":material/volunteer_activism:"),
        ]
    sections["You"] = [page(account, "Account", "account", ":material/person:")]
    # One artwork opens on its own page (hidden from the menu), so "Gallery" always
    # leads back to the grid.
    one_artwork = st.Page(
        partial(artwork.render, ctx),
        title="Artwork",
        url_path="artwork",
        visibility="hidden",
    )
    sections["Make and share"].append(one_artwork)
    for pages in sections.values():
        for entry in pages:
            ctx.pages[entry.url_path] = entry
    return sections


def _sidebar(ctx: Context) -> None:
    with st.sidebar:
        st.markdown(f"**{escape_markdown(ctx.user.display_name)}**")
        if len(ctx.circles) > 1:
            names = {c.id: c.name for c in ctx.circles}
            st.selectbox(
                "Circle",
                options=list(names),
                format_func=names.get,
                key="circle_id",
            )
        elif ctx.circle:
            st.caption(f"Circle: {escape_markdown(ctx.circle.name)}")
        if st.button("Sign out", key="sign_out"):
            from ui.context import sign_out

            sign_out(ctx.studio)
            st.rerun()


def run() -> None:
    """Route this rerun to the right page for the signed-in person."""
    configure_logging()  # once: later reruns find the handler in place
    st.set_page_config(page_title="Kindred Canvas", page_icon="🎨", layout="wide")
    studio = get_studio()
    user, token = resolve_user(studio)
    if st.session_state.pop("signed_out", False):
        cookie_sign_out()
    code = pending_cookie_handoff()
    if code:
        cookie_handoff(code)

    if user is None:
        if studio.accounts.needs_setup():
            pages = [
                st.Page(
                    partial(welcome.render_setup, studio),
                    title="Set up",
                    url_path="setup",
                    icon=":material/key:",
                    default=True,
                )
            ]
        else:
            pages = [
                st.Page(
                    partial(welcome.render, studio),
                    title="Welcome",
                    url_path="sign-in",
                    icon=":material/waving_hand:",
                    default=True,
                )
            ]
        current = st.navigation(pages, position="hidden")
    else:
        circles = studio.circles.for_user(user)
        ctx = Context(studio, user, tuple(circles), choose_circle(circles), token)
        current = st.navigation(_pages_for(ctx))
        _sidebar(ctx)
    try:
        if user is not None:
            account_notices(ctx)
        current.run()
    except StudioError as exc:
        st.error(exc.message)
    except Exception:
        log.exception("a page failed")
        st.error(
            "Something went wrong on our side, and it's not your fault. "
            "Please try again; if it keeps happening, let your facilitator know."
        )


run()
