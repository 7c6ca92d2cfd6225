"""Your journal: your artworks, reflections, mood over time, and your data."""

from __future__ import annotations

import altair as alt
import streamlit as st

from gallery_store import StudioError
from gallery_store.reflections import FEELINGS, MOODS, REFLECTION_LIMIT
from gallery_store.text import escape_markdown
from ui.context import Context, sign_out
from ui.flash import flash
from ui.prompt_choice import answering
from ui.widgets import artwork_image, show_text, support_panel


def render(ctx: Context) -> None:
    """Show the person's own journal."""
    st.title("Your journal")
    st.caption("Only you can see this page. Reflections stay private unless you choose to share.")
    reflections_tab, art_tab, mood_tab, data_tab = st.tabs(
        ["Reflections", "My artworks", "Mood over time", "Your data"]
    )
    with reflections_tab:
        _reflections(ctx)
    with art_tab:
        _artworks(ctx)
    with mood_tab:
        _mood_chart(ctx)
    with data_tab:
        _your_data(ctx)


def _reflections(ctx: Context) -> None:
    studio = ctx.studio
    artworks = studio.artworks.by_artist(ctx.user)
    labels = {None: "Not about a particular artwork"} | {
        a.id: (a.caption[:40] or "Untitled") + f" ({a.created_at:%d %b})" for a in artworks
    }
    # The prompt they are answering on Today (today's, or an earlier one they chose).
    answer = answering(ctx)
    if answer and answer.prompt.reflection_questions:
        st.markdown("**Questions you might reflect on**")
        if answer.chosen:
            st.caption(f"{answer.label}: {escape_markdown(answer.prompt.title)}")
        for question in answer.prompt.reflection_questions:
            st.markdown(f"- {escape_markdown(question)}")
    error = st.session_state.pop("journal_error", None)
    if error:
        st.error(error)
    support = st.session_state.pop("journal_support", None)
    if support is not None:
        support_panel(support)
    with st.form("reflection", clear_on_submit=True):
        text = st.text_area("Write a reflection", max_chars=REFLECTION_LIMIT, height=160)
        artwork_id = st.selectbox("About", list(labels), format_func=labels.get)
        feelings = st.pills("Feelings (optional)", list(FEELINGS), selection_mode="multi")
        share = st.toggle(
            "Share this note with my circle's therapist",
            help="Private by default. Your therapist would see this one note.",
        )
        saved = st.form_submit_button("Save reflection", type="primary")
    if saved:
        try:
            saved_reflection = studio.reflections.write(
                ctx.user,
                text,
                artwork_id=artwork_id,
                share_with_therapist=share,
                feelings=tuple(feelings or ()),
                circle_id=ctx.circle_id,
                prompt_id=answer.prompt.id if answer else None,
            )
        except StudioError as exc:
            st.error(exc.message)
        else:
            st.success("Saved to your journal.")
            support_panel(saved_reflection.support)
    _reflection_list(ctx)


# The journal shows the newest reflections; "Show earlier reflections" adds this many more.
JOURNAL_WINDOW = 20
SHOWN_KEY = "journal_shown"
EDITING_KEY = "journal_editing"


def _reflection_list(ctx: Context) -> None:
    studio = ctx.studio
    shown = st.session_state.get(SHOWN_KEY, JOURNAL_WINDOW)
    # One more than is shown, to know whether there are earlier ones.
    reflections = studio.reflections.for_user(ctx.user, ctx.user.id, limit=shown + 1)
    earlier = len(reflections) > shown
    reflections = reflections[:shown]
    reads = studio.reflections.reads_of_mine(ctx.user, among=[r.id for r in reflections])
    for reflection in reflections:
        with st.container(border=True):
            _reflection(ctx, reflection, reads.get(reflection.id))
    if earlier:
        st.button(
            "Show earlier reflections",
            key="journal_earlier",
            type="tertiary",
            icon=":material/expand_more:",
            on_click=_show_more,
            args=(shown + JOURNAL_WINDOW,),
        )


def _show_more(count: int) -> None:
    st.session_state[SHOWN_KEY] = count


def _reflection(ctx: Context, reflection, reads) -> None:
    """One reflection: its words and one small button; the one being changed has the tools."""
    stamp = f"{reflection.created_at:%d %b %Y, %H:%M}" if reflection.created_at else ""
    shared = " · shared with your therapist" if reflection.share_with_therapist else ""
    st.caption(stamp + shared)
    delete = {
        "key": f"delete_reflection_{reflection.id}",
        "icon": ":material/delete:",
        "on_click": _delete,
        "args": (ctx, reflection.id),
    }
    if reflection.locked:
        st.info(
            "🔒 This note is locked: it was written before your password was reset "
            "without your recovery code. Your recovery code can open it again "
            "(Account → Open locked notes)."
        )
        st.button("Delete", type="tertiary", **delete)
        return
    if st.session_state.get(EDITING_KEY) != reflection.id:
        show_text(reflection.text)
        about = []
        if reads:
            seen = ", ".join(
                f"{escape_markdown(name)} ({at:%d %b %Y, %H:%M})" for name, at in reads
            )
            about.append(f"Read by {seen}")
        elif reflection.share_with_therapist:
            about.append("Not read yet.")
        if reflection.feelings:
            about.append("Feelings: " + ", ".join(reflection.feelings))
        if about:
            st.caption(" · ".join(about))
        # One plain button a reflection: a long journal stays quick (the tools are one
        # click on, with the reflection being changed).
        st.button(
            "Change, share or delete",
            key=f"edit_{reflection.id}",
            type="tertiary",
            on_click=_start_editing,
            args=(reflection.id,),
        )
        return
    st.text_area(
        "Reflection",
        value=reflection.text,
        max_chars=REFLECTION_LIMIT,
        key=f"edit_reflection_{reflection.id}",
    )
    save, share, delete_column, cancel = st.columns(4)
    save.button(
        "Save",
        key=f"save_reflection_{reflection.id}",
        type="primary",
        on_click=_save,
        args=(ctx, reflection.id),
    )
    share.button(
        "Share with therapist" if not reflection.share_with_therapist else "Make private again",
        key=f"share_{reflection.id}",
        icon=":material/share:" if not reflection.share_with_therapist else ":material/lock:",
        on_click=_toggle_sharing,
        args=(ctx, reflection.id, not reflection.share_with_therapist),
    )
    delete_column.button("Delete", **delete)
    cancel.button(
        "Cancel", key=f"cancel_reflection_{reflection.id}", type="tertiary", on_click=_stop_editing
    )


# Callbacks: each runs before the page is drawn, so the click's own run shows the change.


def _start_editing(reflection_id: str) -> None:
    st.session_state[EDITING_KEY] = reflection_id


def _stop_editing() -> None:
    st.session_state.pop(EDITING_KEY, None)


def _save(ctx: Context, reflection_id: str) -> None:
    text = st.session_state.get(f"edit_reflection_{reflection_id}") or ""
    try:
        edited = ctx.studio.reflections.edit(ctx.user, reflection_id, text=text)
    except StudioError as exc:
        st.session_state["journal_error"] = exc.message
        return
    _stop_editing()
    st.session_state["journal_support"] = edited.support
    flash("Saved.")


def _toggle_sharing(ctx: Context, reflection_id: str, share: bool) -> None:
    edited = ctx.studio.reflections.edit(ctx.user, reflection_id, share_with_therapist=share)
    st.session_state["journal_support"] = edited.support
    flash("Shared with your therapist." if share else "This note is private again.")


def _delete(ctx: Context, reflection_id: str) -> None:
    _stop_editing()
    ctx.studio.reflections.delete(ctx.user, reflection_id)
    flash("Deleted.")


def _artworks(ctx: Context) -> None:
    artworks = ctx.studio.artworks.by_artist(ctx.user)
    if not artworks:
        st.info("Art you share will be kept here.")
        return
    columns = st.columns(4)
    for index, artwork in enumerate(artworks):
        with columns[index % 4]:
            artwork_image(artwork, "thumb")
            show_text(artwork.caption[:80], caption=True)


def _mood_chart(ctx: Context) -> None:
    rows = ctx.studio.reflections.mood_timeline(ctx.user)
    if not rows:
        st.info("Check in before and after making art, and your moods will appear here.")
        return
    chart = (
        alt.Chart(alt.Data(values=[{**r, "date": str(r["date"])} for r in rows]))
        .mark_line(point=True)
        .encode(
            # One way of writing days, as everywhere in the app: "Thu 3 Dec".
            x=alt.X("date:T", title="Day", axis=alt.Axis(format="%a %-d %b")),
            y=alt.Y(
                "score:Q",
                title="Mood (1 very low – 5 very good)",
                scale=alt.Scale(domain=[1, 5]),
                # Only the five mood levels: a tick at 1.5 is no mood anyone can choose.
                axis=alt.Axis(values=list(MOODS), format="d"),
            ),
            color=alt.Color(
                "moment:N",
                title="Check-in",
                scale=alt.Scale(domain=["before", "after"], range=["#E8735A", "#5B7F6E"]),
            ),
        )
    )
    st.altair_chart(chart, width="stretch")
    st.caption("Mood scale: " + ", ".join(f"{k} {v.lower()}" for k, v in MOODS.items()))


def _your_data(ctx: Context) -> None:
    studio = ctx.studio
    st.markdown(
        "**Download my data** — a ZIP with your artworks, captions, comments, the comments and "
        "reactions on your art, and your reflections and moods, with a page that opens offline."
    )
    if st.button("Prepare my download", key="prepare_export"):
        bar = st.progress(0.0, text="Gathering your art…")
        try:
            link = studio.exports.prepare_download(
                ctx.user, progress=lambda done, text: bar.progress(done, text=text)
            )
        except StudioError as exc:
            bar.empty()
            st.error(exc.message)
        else:
            st.session_state["export_link"] = link
    link = st.session_state.get("export_link")
    if link:
        st.link_button("Download my data (ZIP)", link)
        st.caption("The link works once, for one hour, on this device.")
    st.divider()
    st.markdown(
        "**Delete my account** — removes your artworks, reflections, reactions and "
        "comments for good."
    )
    if st.button("Delete my account…", key="delete_account"):
        _confirm_account_deletion(ctx)


@st.dialog("Delete your account?")
def _confirm_account_deletion(ctx: Context) -> None:
    st.write("Everything you made and wrote here will be removed. This can't be undone.")
    password = st.text_input("Type your password to confirm", type="password")
    if st.button("Delete everything", type="primary", key="confirm_delete_account"):
        try:
            ctx.studio.exports.delete_account(ctx.user, password)
        except StudioError as exc:
            st.error(exc.message)
            return
        sign_out(ctx.studio)
        st.rerun()


if __name__ == "__main__":
    from ui.context import cold_start

    cold_start()
