"""Insights: consented, aggregated trends for a circle, and notes shared with the therapist."""

from __future__ import annotations

import altair as alt
import streamlit as st

from gallery_store import StudioError
from gallery_store.insights import MIN_GROUP
from gallery_store.text import escape_markdown
from ui.context import Context
from ui.widgets import show_text


def render(ctx: Context) -> None:
    """Show a circle's participation and mood trends (only groups of three or more)."""
    studio = ctx.studio
    st.title("Insights")
    st.caption(
        f"Only people who agreed are counted, and nothing is shown for fewer than {MIN_GROUP} "
        "people, so no one can be picked out. Each chart's toolbar (point at it) downloads it "
        "as a PNG; the buttons below download the numbers as CSV."
    )
    circles = studio.circles.facilitated(ctx.user, therapist_only=True)
    if not circles:
        st.info("Create a circle first.")
        return
    names = {c.id: c.name for c in circles}
    circle_id = st.selectbox("Circle", list(names), format_func=names.get, key="insights_circle")

    st.subheader("Taking part, week by week")
    weeks = studio.insights.participation(ctx.user, circle_id)
    shown = [w for w in weeks if w.get("people") is not None]
    if shown:
        long = [
            {"week": w["week_start"], "what": what, "count": w[what]}
            for w in shown
            for what in ("artworks", "comments", "reflections")
        ]
        chart = (
            alt.Chart(alt.Data(values=long))
            .mark_bar()
            .encode(
                # Ordinal, not temporal: on a time axis each bar is a hairline a day wide.
                x=alt.X("week:O", title="Week starting", axis=alt.Axis(labelAngle=0)),
                y=alt.Y("count:Q", title="How many"),
                color=alt.Color(
                    "what:N",
                    title="",
                    scale=alt.Scale(range=["#5B7F6E", "#F2B134", "#9B4F96"]),
                ),
                xOffset="what:N",
            )
        )
        st.altair_chart(chart, width="stretch")
    else:
        st.info("Too few people took part in these weeks to show anything yet.")
    st.download_button(
        "Download as CSV",
        studio.insights.to_csv(weeks),
        file_name="participation.csv",
        mime="text/csv",
    )

    st.subheader("Mood before and after making art")
    mood = studio.insights.mood_change(ctx.user, circle_id)
    if mood.get("n_people") is None or mood.get("mean_change") is None:
        st.info(f"Shown once at least {MIN_GROUP} people have agreed and checked in.")
    else:
        a, b, c = st.columns(3)
        a.metric("Before (average)", f"{mood['mean_before']:.1f} / 5")
        b.metric("After (average)", f"{mood['mean_after']:.1f} / 5")
        c.metric("Change", f"{mood['mean_change']:+.1f}", help=f"{mood['n_people']} people")
    effects = studio.insights.prompt_effects(ctx.user, circle_id)
    if effects:
        st.markdown("**Mood change by prompt**")
        st.dataframe(
            [
                {
                    "Prompt": e["prompt_title"],
                    "People": e["n"],
                    "Average change": round(e["mean_change"], 2),
                }
                for e in effects
            ],
            hide_index=True,
        )
        st.download_button(
            "Download prompt effects as CSV",
            studio.insights.to_csv(effects),
            file_name="prompt-effects.csv",
            mime="text/csv",
        )

    _shared_notes(ctx, circle_id)


def _shared_notes(ctx: Context, circle_id: str) -> None:
    studio = ctx.studio
    st.subheader("Notes shared with you")
    st.caption(
        "People can choose to share a reflection with you. Each time you read one, "
        "it's recorded, and they can see that you did."
    )
    members = [m for m in studio.circles.members(ctx.user, circle_id) if m.role != "facilitator"]
    if not members:
        return
    names = {m.user_id: m.display_name for m in members}
    person = st.selectbox("Person", list(names), format_func=names.get, key="notes_person")
    # Reads are logged, so fetch only when asked, not on every rerun of the page.
    if st.button("Read their shared notes", key="read_notes"):
        try:
            st.session_state["shared_notes"] = (
                person,
                studio.reflections.for_user(ctx.user, person),
            )
        except StudioError as exc:
            st.error(exc.message)
    loaded = st.session_state.get("shared_notes")
    if loaded and loaded[0] == person:
        if not loaded[1]:
            st.info(f"{escape_markdown(names[person])} hasn't shared any notes with you.")
        for note in loaded[1]:
            with st.container(border=True):
                st.caption(f"{note.created_at:%d %b %Y}")
                show_text(note.text)


if __name__ == "__main__":
    from ui.context import cold_start

    cold_start()
