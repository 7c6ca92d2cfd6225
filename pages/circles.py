"""Circles: create them, invite people, see who joined, and care for accounts."""

from __future__ import annotations

import streamlit as st

from gallery_store import StudioError
from gallery_store.policy import (
    COFACILITATOR,
    FACILITATOR,
    INVITE_MAX_DAYS,
    INVITE_MAX_USES,
    PARTICIPANT,
)
from gallery_store.support import REGIONS
from gallery_store.text import day_label, escape_markdown
from prompts import THEME_TITLES
from ui.context import Context, switch_circle

ROLE_NAMES = {FACILITATOR: "Therapist", COFACILITATOR: "Co-facilitator", PARTICIPANT: "Participant"}


def render(ctx: Context) -> None:
    """Show the circles the person facilitates."""
    studio = ctx.studio
    st.title("Circles")
    if ctx.user.is_therapist:
        with (
            st.expander("Start a new circle", expanded=not ctx.circles),
            st.form("new_circle", clear_on_submit=True),
        ):
            name = st.text_input("Circle name", placeholder="Tuesday caregivers", max_chars=60)
            timezone = st.text_input(
                "Time zone",
                value="UTC",
                help="Today's prompt changes at midnight here, "
                "e.g. Europe/London or America/Chicago.",
            )
            themes = st.multiselect(
                "Themes (none = all)", list(THEME_TITLES), format_func=THEME_TITLES.get
            )
            if st.form_submit_button("Create circle", type="primary"):
                try:
                    created = studio.circles.create(
                        ctx.user, name, timezone=timezone, themes=tuple(themes)
                    )
                except StudioError as exc:
                    st.error(exc.message)
                else:
                    switch_circle(created.id)
                    # The chooser below is not on the page yet in this run: it may be set.
                    st.session_state["manage_circle"] = created.id
                    st.rerun()
    circles = studio.circles.facilitated(ctx.user)
    if not circles:
        st.info("Create your first circle to invite people in.")
        return
    names = {c.id: c.name for c in circles}
    current = ctx.circle_id if ctx.circle_id in names else circles[0].id
    circle_id = st.selectbox(
        "Circle",
        list(names),
        index=list(names).index(current),
        format_func=names.get,
        key="manage_circle",
    )
    circle = next(c for c in circles if c.id == circle_id)
    if circle.archived:
        st.info("This circle is archived: it's read-only.")
    _invites(ctx, circle_id)
    _members(ctx, circle_id)
    if ctx.user.is_therapist:
        _settings(ctx, circle)


def _invites(ctx: Context, circle_id: str) -> None:
    studio = ctx.studio
    st.subheader("Invites")
    with st.form("invite", clear_on_submit=True):
        label = st.text_input("Note to yourself (optional)", placeholder="For Maria")
        uses = st.number_input(
            "How many people can use it", min_value=1, max_value=INVITE_MAX_USES, value=1
        )
        days = st.number_input(
            "Days until it expires", min_value=1, max_value=INVITE_MAX_DAYS, value=14
        )
        for_therapist = (
            st.toggle(
                "This code is for a fellow therapist",
                help="They get a therapist account and co-run this circle. Works once.",
            )
            if ctx.user.is_therapist
            else False
        )
        if st.form_submit_button("Make an invite code", type="primary"):
            try:
                code = studio.circles.invite(
                    ctx.user,
                    circle_id,
                    max_uses=int(uses),
                    expires_in_days=int(days),
                    label=label,
                    for_therapist=for_therapist,
                )
            except StudioError as exc:
                st.error(exc.message)
            else:
                st.session_state["new_invite_code"] = (circle_id, code)
    made = st.session_state.get("new_invite_code")
    if made and made[0] == circle_id:
        with st.container(key="kc-new-invite"):
            st.success(
                "Share this code with the person you're inviting. Your active codes stay "
                "in the list below, to copy again or revoke."
            )
            st.code(made[1], language=None)
    now = studio.now()
    invites = studio.circles.invites(ctx.user, circle_id)
    active = [i for i in invites if i.usable(now)]
    st.markdown("**Active invite codes**")
    if not active:
        st.caption("None right now. Make one above when someone is ready to join.")
    for invite in active:
        with st.container(border=True, key=f"kc-invite-{invite.id}"):
            left, right = st.columns([4, 1])
            left.markdown(_invite_line(invite))
            if invite.code:
                # The copy button is on the code block.
                left.code(invite.code, language=None)
            else:
                left.caption(
                    "Only the person who made this code can see it again (it was shown "
                    "to them when it was made)."
                )
            if right.button("Revoke", key=f"revoke_{invite.id}"):
                studio.circles.revoke_invite(ctx.user, invite.id)
                st.rerun()
    ended = [i for i in invites if not i.usable(now)]
    if ended:
        with st.expander(f"Used, expired or revoked ({len(ended)})"):
            for invite in ended:
                state = "revoked" if invite.revoked else "used up or expired"
                st.markdown(f"{_invite_line(invite)} · {state}")


def _invite_line(invite) -> str:
    """Say what an invite is for, how many uses it has left and when it runs out."""
    parts = [escape_markdown(invite.label) or "Invite"]
    if invite.for_therapist:
        parts.append("for a therapist")
    if invite.max_uses is None:
        parts.append(f"used {invite.uses} · no limit on uses")
    else:
        left = max(0, invite.max_uses - invite.uses)
        uses = "use" if invite.max_uses == 1 else "uses"
        parts.append(f"{left} of {invite.max_uses} {uses} left")
    if invite.expires_at:
        parts.append(f"expires {day_label(invite.expires_at)}")
    return " · ".join(parts)


def _members(ctx: Context, circle_id: str) -> None:
    studio = ctx.studio
    st.subheader("Members")
    for member in studio.circles.members(ctx.user, circle_id):
        with st.container(border=True):
            label = f"**{escape_markdown(member.display_name)}**"
            if member.username:
                label += f" · {escape_markdown(member.username)}"
            label += f" · {ROLE_NAMES.get(member.role, member.role)}"
            if member.disabled:
                label += " · paused"
            st.markdown(label)
            if not ctx.user.is_therapist or member.role == FACILITATOR:
                continue
            one, two, three = st.columns(3)
            if one.button(
                "Make co-facilitator" if member.role == PARTICIPANT else "Make participant",
                key=f"role_{member.user_id}",
            ):
                studio.circles.set_role(
                    ctx.user,
                    circle_id,
                    member.user_id,
                    COFACILITATOR if member.role == PARTICIPANT else PARTICIPANT,
                )
                st.rerun()
            if two.button(
                "Re-enable account" if member.disabled else "Pause account",
                key=f"disable_{member.user_id}",
            ):
                studio.accounts.set_disabled(ctx.user, member.user_id, not member.disabled)
                st.rerun()
            if three.button("Password reset code", key=f"reset_{member.user_id}"):
                code = studio.accounts.issue_reset_code(ctx.user, member.user_id)
                st.session_state[f"reset_code_{member.user_id}"] = code
            reset = st.session_state.get(f"reset_code_{member.user_id}")
            if reset:
                st.info("Give this one-time code to them in person or by phone:")
                st.code(reset, language=None)


def _settings(ctx: Context, circle) -> None:
    studio = ctx.studio
    st.subheader("Circle settings")
    with st.form("circle_settings"):
        name = st.text_input("Name", value=circle.name, max_chars=60)
        timezone = st.text_input("Time zone", value=circle.timezone)
        themes = st.multiselect(
            "Themes (none = all)",
            list(THEME_TITLES),
            default=list(circle.themes),
            format_func=THEME_TITLES.get,
        )
        deep = st.toggle("Allow deep prompts outside facilitated sessions", value=circle.allow_deep)
        current = studio.support.country_of(circle.id)
        region = st.selectbox(
            "Crisis lines for",
            list(REGIONS),
            index=list(REGIONS).index(current) if current in REGIONS else 0,
            format_func=REGIONS.get,
            help="Shown first when someone's words suggest they, or someone they know, may be "
            "at risk. International lines are always shown too.",
        )
        if st.form_submit_button("Save settings"):
            try:
                studio.circles.update(
                    ctx.user,
                    circle.id,
                    name=name,
                    timezone=timezone,
                    themes=tuple(themes),
                    allow_deep=deep,
                    region=region,
                )
            except StudioError as exc:
                st.error(exc.message)
            else:
                st.success("Saved.")
    st.subheader("Exhibition")
    st.caption("A ZIP of the circle's art for an exhibition — only pieces whose artists opted in.")
    if st.button("Prepare an exhibition download", key="prepare_exhibition"):
        try:
            link, count = studio.exports.prepare_exhibition(ctx.user, circle.id)
        except StudioError as exc:
            st.error(exc.message)
        else:
            st.session_state["exhibition"] = (link, count)
    prepared = st.session_state.get("exhibition")
    if prepared:
        st.link_button(f"Download the exhibition ({prepared[1]} artworks)", prepared[0])
    label = "Open the circle again" if circle.archived else "Archive this circle (read-only)"
    if st.button(label, key="archive_circle"):
        studio.circles.archive(ctx.user, circle.id, not circle.archived)
        st.rerun()


if __name__ == "__main__":
    from ui.context import cold_start

    cold_start()
