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
    notices,
    prompts,
    start,
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
from ui.flash import restore_flashes, show_flashes, take_flashes
from ui.style import page_style
from ui.widgets import cookie_handoff, cookie_sign_out

log = logging.getLogger("kindred")


# Every page a signed-in person may be sent to by a link. Signed out, each of these shows the
# welcome (never Streamlit's "Page not found") and remembers the link for after sign-in.
LINKED_PAGES = (
    "today",
    "gallery",
    "artwork",
    "journal",
    "notices",
    "start",
    "circles",
    "prompts",
    "care",
    "insights",
    "account",
    "home",
)
# The welcome's own addresses: a signed-in person who opens one (a bookmark) sees their first
# page there.
WELCOME_PAGES = ("sign-in", "setup")
FOR_FACILITATORS = (
    "This page is for facilitators",
    "It's where a circle's facilitators look after the circle. Everything that's yours is "
    "in the menu.",
)
FOR_THERAPISTS = (
    "This page is for the circle's therapist",
    "It holds the therapist's own tools. Everything that's yours is in the menu.",
)
NOT_IN_A_CIRCLE = (
    "This opens once you're in a circle",
    "Your circle's prompt and gallery appear here as soon as you're part of one.",
)
HOME = "home"  # the default page's own name; people see it at "/"
TARGET_KEY = "sign_in_target"
ARRIVAL_CHECKED = "arrival_checked"


def _pages_for(ctx: Context, new: int) -> dict[str, list[st.Page]]:
    """Build the menu for this person's role; pages they may not use say so kindly."""

    hidden: list[st.Page] = []

    def page(module, title: str, url: str, icon: str, default: bool = False) -> st.Page:
        render = partial(module.render, ctx)
        if not default:
            entry = st.Page(render, title=title, url_path=url, icon=icon)
            ctx.pages[url] = entry
            return entry
        # The default page answers at "/", and Streamlit gives it no other address: twins
        # hidden from the menu answer /<url> (and the welcome's addresses) instead of "Page
        # not found". Twins, not a switch_page: the run right after sign-in comes in on the
        # welcome's address and must finish, or the cookie hand-off it carries is lost.
        entry = st.Page(render, title=title, url_path=HOME, icon=icon, default=True)
        hidden.extend(
            st.Page(render, title=title, url_path=twin, visibility="hidden")
            for twin in (url, *WELCOME_PAGES)
        )
        ctx.pages[url] = ctx.pages[HOME] = entry
        return entry

    def closed(url: str, words: tuple[str, str]) -> st.Page:
        # A page this person doesn't have: a kind word instead of "Page not found".
        entry = st.Page(
            partial(_closed_page, ctx, *words),
            title=words[0],
            url_path=url,
            visibility="hidden",
        )
        ctx.pages[url] = entry
        return entry

    def inner(module, title: str, url: str) -> st.Page:
        # Reached from another page (or a link), not from the menu.
        entry = st.Page(partial(module.render, ctx), title=title, url_path=url, visibility="hidden")
        ctx.pages[url] = entry
        return entry

    studio = ctx.studio
    facilitated = studio.circles.facilitated(ctx.user)
    waiting = studio.moderation.open_count(ctx.user)
    care_title = f"Care queue ({waiting})" if waiting else "Care queue"
    news_title = f"What's new ({new} new)" if new else "What's new"
    is_therapist = ctx.user.role == ROLE_THERAPIST
    if ctx.circle is None:
        # Nothing to make or see yet: the first page helps them into (or to start) a circle.
        making = [
            page(start, "Getting started", "start", ":material/flag:", default=True),
            page(journal, "Journal", "journal", ":material/auto_stories:"),
        ]
        hidden += [closed(url, NOT_IN_A_CIRCLE) for url in ("today", "gallery", "artwork")]
    else:
        making = [
            page(today, "Today", "today", ":material/palette:", default=not is_therapist),
            page(gallery, "Gallery", "gallery", ":material/photo_library:", default=is_therapist),
            page(journal, "Journal", "journal", ":material/auto_stories:"),
            # One artwork opens on its own page (hidden from the menu), so "Gallery" always
            # leads back to the grid.
            inner(artwork, "Artwork", "artwork"),
            inner(start, "Getting started", "start"),
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
        hidden += [closed(url, FOR_THERAPISTS) for url in ("prompts", "insights")]
    else:
        hidden += [
            closed(url, FOR_FACILITATORS) for url in ("circles", "care", "prompts", "insights")
        ]
    sections["You"] = [
        page(notices, news_title, "notices", ":material/notifications:"),
        page(account, "Account", "account", ":material/person:"),
        *hidden,
    ]
    return sections


def _closed_page(ctx: Context, title: str, words: str) -> None:
    st.title(title)
    st.write(words)
    home = ctx.pages.get(HOME)
    if home is not None and st.button(f"Go to {home.title}", key="closed_go_home"):
        st.switch_page(home)


def _signed_out_pages(studio) -> list[st.Page]:
    """The welcome (or first-run setup), also under every page's address."""
    if studio.accounts.needs_setup():
        render, title, url, icon = welcome.render_setup, "Set up", "setup", ":material/key:"
    else:
        render, title, url, icon = welcome.render, "Welcome", "sign-in", ":material/waving_hand:"
    pages = [st.Page(partial(render, studio), title=title, url_path=url, icon=icon, default=True)]
    pages += [
        st.Page(
            partial(_welcome_for_link, render, studio, linked),
            title=title,
            url_path=linked,
            visibility="hidden",
        )
        for linked in LINKED_PAGES
    ]
    return pages


def _welcome_for_link(render, studio, url_path: str) -> None:
    """Show the welcome for a link opened while signed out, and keep the link for later."""
    st.session_state[TARGET_KEY] = {"page": url_path, "query": st.query_params.to_dict()}
    render(studio)


def _signing_in(ctx: Context, new: int) -> None:
    """The run right after sign-in: the tab reloads in a moment to pick up its cookie.

    The reload starts a new session, so where the person was headed and what they are to be
    told wait in the store meanwhile. No page runs here: one that moved on (st.switch_page)
    would take the cookie hand-off with it, and the reload would throw its work away anyway.
    """
    st.navigation(_pages_for(ctx, new), position="hidden")
    target = st.session_state.pop(TARGET_KEY, None) or {}
    ctx.studio.accounts.hold_arrival(ctx.token, {**target, "flashes": take_flashes()})
    st.session_state[ARRIVAL_CHECKED] = False
    st.caption("Signing you in…")
    # Should the reload not come, this goes on in this tab instead.
    st.button("Continue", key="signing_in_continue")


def _arrive(ctx: Context) -> None:
    """Take up the link and the words kept for the person across the reload after sign-in."""
    studio = ctx.studio
    if st.session_state.get(ARRIVAL_CHECKED):
        return
    st.session_state[ARRIVAL_CHECKED] = True
    arrival = studio.accounts.take_arrival(ctx.token)
    if not arrival:
        return
    restore_flashes(arrival.get("flashes") or [])
    target = ctx.pages.get(arrival.get("page") or "")
    if target is not None:
        st.switch_page(target, query_params=arrival.get("query") or None)


def _sidebar(ctx: Context, new: int) -> None:
    with st.sidebar:
        st.markdown(f"**{escape_markdown(ctx.user.display_name)}**")
        if new and st.button(
            f"{new} new since you last looked",
            icon=":material/notifications_active:",
            key="sidebar_news",
            type="tertiary",
            help="Comments, reactions and notes for you, and each day's new prompt",
        ):
            st.switch_page(ctx.pages["notices"])
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
    page_style()
    studio = get_studio()
    user, token = resolve_user(studio)
    if st.session_state.pop("signed_out", False):
        cookie_sign_out()
    code = pending_cookie_handoff()
    if code:
        cookie_handoff(code)

    if user is None:
        current = st.navigation(_signed_out_pages(studio), position="hidden")
    else:
        circles = studio.circles.for_user(user)
        ctx = Context(studio, user, tuple(circles), choose_circle(circles), token)
        new = studio.notices.count(user)
        if code:
            _signing_in(ctx, new)
            return
        current = st.navigation(_pages_for(ctx, new))
        _sidebar(ctx, new)
        _arrive(ctx)
    try:
        show_flashes()
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
