"""The care queue: reports and crisis flags, who's gone unanswered, and the audit log."""

from __future__ import annotations

import streamlit as st

from gallery_store import StudioError
from gallery_store.crisis import AT_RISK
from gallery_store.moderation import CRISIS_OUTCOMES, QueueItem
from gallery_store.text import escape_markdown, relative_time
from ui.context import Context
from ui.flash import flash
from ui.widgets import artwork_image, show_text

ACTIONS = {
    "restore": "Restore it",
    "hide": "Keep it hidden",
    "remove": "Remove it",
    "dismiss": "Close without change",
}


OUTCOME_HELP = (
    "Say what you've done for them: that you've reached out, or that it's handled. Each "
    "choice is kept in the audit log, with your note if you add one."
)


def render(ctx: Context) -> None:
    """Show the queue for the circles the person facilitates."""
    studio = ctx.studio
    st.title("Care queue")
    st.caption(
        "Someone who may be at risk now comes first, then worries about others, then reports. "
        "Kindred Canvas isn't watched around the clock, and the people in your circle are told "
        "so next to the crisis lines."
    )
    if ctx.user.is_therapist:
        _store_health(ctx)
    items = studio.moderation.queue(ctx.user)
    if not items:
        st.success("Nothing is waiting. Thank you for looking after your circle.")
    for item in items:
        _item(ctx, item)
    if ctx.user.is_therapist:
        circles = studio.circles.facilitated(ctx.user, therapist_only=True)
        for circle in circles:
            _unanswered(ctx, circle.id, circle.name)
        if circles:
            _audit(ctx, circles)


def _store_health(ctx: Context) -> None:
    """Say what the studio's data needed lately: a repair, a loss, or a disk in trouble."""
    notices = ctx.studio.health.notices(ctx.user)
    if not notices:
        return
    lost = any(n.lost for n in notices)
    with st.container(border=True):
        st.markdown("**The studio's data**")
        for notice in notices:
            when = f"{notice.at:%d %b %Y, %H:%M} UTC — " if notice.at else ""
            # Plain text (these notes come from the store, not from people), no markdown.
            (st.warning if notice.lost or notice.at is None else st.info)(
                f"{when}{notice.text}".replace("`", "'")
            )
        st.caption(
            "Whoever runs the server can see details with `python -m gallery_store check`."
            + (" Something could not be recovered: please let them know." if lost else "")
        )


def _item(ctx: Context, item: QueueItem) -> None:
    studio = ctx.studio
    flag = item.flag
    with st.container(border=True):
        if flag.kind != "crisis":
            kind = "Report"
        elif item.tier == AT_RISK:
            kind = "🔴 Urgent: may be at risk now"
        else:
            kind = "🟠 Worried about someone"
        when = relative_time(flag.created_at, studio.now()) if flag.created_at else ""
        st.markdown(
            f"**{kind}** · {item.subject_type} by {escape_markdown(item.author_name)} · {when}"
        )
        if flag.kind == "crisis":
            advice = (
                "Please reach out to this person today, as soon as you can."
                if item.tier == AT_RISK
                else "They may need help supporting someone else. Consider checking in."
            )
            st.error(advice + " " + escape_markdown(flag.reason or ""))
            deliveries = studio.alerts.for_flag(ctx.user, flag.id)
            if deliveries:
                st.caption(
                    "Alerts: "
                    + "; ".join(
                        f"{escape_markdown(d.recipient)} {_delivery_state(d, studio.now())}"
                        for d in deliveries
                    )
                )
            if item.subject_status == "gone":
                st.caption(
                    "They have since deleted what they wrote; the flag stays until you close it."
                )
            elif item.subject_status == "held":
                st.caption("This comment is held from the circle until you close this flag.")
        if item.reasons:
            st.markdown(
                "Why it was reported: " + "; ".join(escape_markdown(r) for r in item.reasons)
            )
        if item.reporter_names:
            st.caption("Reported by " + ", ".join(escape_markdown(n) for n in item.reporter_names))
        if item.text:
            show_text(item.text)
        if item.artwork_id and item.has_thumb:
            key = f"unblur_{flag.id}"
            try:
                artwork = studio.artworks.get(ctx.user, item.artwork_id)
            except StudioError as exc:
                st.info(exc.message)
            else:
                # Blurred until the facilitator chooses to look: some of it may be hard to see.
                shown = st.session_state.get(key)
                with st.container(width=320):
                    artwork_image(artwork, "thumb" if shown else "blur")
                if not shown and st.button("Show the artwork", key=key + "_b"):
                    st.session_state[key] = True
                    st.rerun()
        if flag.kind == "crisis":
            _close_crisis(ctx, item)
            return
        if not item.actions:
            if item.waiting_for:
                st.caption(item.waiting_for)  # our words, not a member's
            return
        if item.crisis_open:
            st.warning(
                "The person who wrote this may need support: their crisis flag is above. "
                "Please look after them first; this report can wait."
            )
        with st.form(f"resolve_{flag.id}"):
            # No choice is made for the facilitator: each of these changes what the circle sees.
            action = st.radio(
                "What would you like to do?",
                list(item.actions),
                format_func=ACTIONS.get,
                index=None,
                horizontal=True,
            )
            why = st.text_input("Why (kept in the audit log)", max_chars=500)
            note = st.text_area("A note to the person (optional)", max_chars=1000)
            if st.form_submit_button("Save"):
                if action is None:
                    st.error("Please choose what you'd like to do first.")
                    return
                try:
                    studio.moderation.resolve(ctx.user, flag.id, action, why)
                    if note.strip():
                        studio.moderation.contact(
                            ctx.user, flag.about_user_id, note, circle_id=item.circle_id
                        )
                except StudioError as exc:
                    st.error(exc.message)
                else:
                    flash("Saved. The report is closed.")
                    st.rerun()


def _delivery_state(delivery, now) -> str:
    if delivery.status == "sent" and delivery.sent_at:
        return "sent " + relative_time(delivery.sent_at, now)
    if delivery.status == "failed":
        return "could not be sent"
    return "waiting to send"


def _close_crisis(ctx: Context, item: QueueItem) -> None:
    studio = ctx.studio
    flag = item.flag
    with st.form(f"close_{flag.id}"):
        outcome = st.radio(
            "Your response",
            list(CRISIS_OUTCOMES),
            format_func=CRISIS_OUTCOMES.get,
            index=None,
            horizontal=True,
            help=OUTCOME_HELP,
        )
        release = False
        if item.subject_status == "held":
            release = st.checkbox("Let the comment into the circle now")
        note = st.text_input("A note for the audit log (optional)", max_chars=500)
        message = st.text_area("A private note to the person (optional)", max_chars=1000)
        if st.form_submit_button("Close this flag"):
            if outcome is None:
                st.error("Please choose your response first.")
                return
            try:
                studio.moderation.close_crisis(ctx.user, flag.id, outcome, note, release=release)
                if message.strip():
                    studio.moderation.contact(
                        ctx.user, flag.about_user_id, message, circle_id=item.circle_id
                    )
            except StudioError as exc:
                st.error(exc.message)
            else:
                flash("Saved. Thank you for looking after them.")
                st.rerun()


def _unanswered(ctx: Context, circle_id: str, name: str) -> None:
    waiting = ctx.studio.moderation.unanswered(ctx.user, circle_id)
    if not waiting:
        return
    st.subheader(f"No one left behind — {escape_markdown(name)}")
    st.caption("These pieces have had no comment or reaction for two days.")
    for artwork in waiting:
        st.markdown(
            f"- **{escape_markdown(artwork.artist_name)}**: "
            f"{escape_markdown(artwork.caption[:80] or 'untitled')}"
        )


def _audit(ctx: Context, circles) -> None:
    with st.expander("Audit log"):
        for circle in circles:
            for entry in ctx.studio.moderation.audit_log(ctx.user, circle.id)[:100]:
                st.markdown(
                    f"{entry.at:%d %b %H:%M} · {escape_markdown(entry.action)} · "
                    f"{escape_markdown(entry.subject_type)} · {escape_markdown(entry.why)}"
                )


if __name__ == "__main__":
    from ui.context import cold_start

    cold_start()
