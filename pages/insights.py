"""Insights: consented, aggregated trends for a circle, and notes shared with the therapist."""

from __future__ import annotations

import altair as alt
import streamlit as st

from gallery_store import StudioError
from gallery_store.insights import MIN_GROUP
from gallery_store.text import escape_markdown
from ui.context import Context
from ui.widgets import show_text

WHAT = {
    "people": "took part",
    "made_art": "made art",
    "commented": "commented",
    "reflected": "wrote a reflection",
}


def render(ctx: Context) -> None:
    """Show a circle's participation and mood trends (consenting people, groups of three+)."""
    studio = ctx.studio
    st.title("Insights")
    st.caption(
        "Only people who said yes to insights are counted (never you or another therapist), "
        f"and a week shows only when at least {MIN_GROUP} of them took part. Every number "
        "has a little random noise added, drawn once and kept, so no one's own answers can "
        "be worked out, even by someone who knows everyone else's. A week appears once it's "
        "over. Each chart's toolbar (point at it) downloads it as a PNG; the buttons below "
        "download the numbers as CSV."
    )
    circles = studio.circles.facilitated(ctx.user, therapist_only=True)
    if not circles:
        st.info("Create a circle first.")
        return
    names = {c.id: c.name for c in circles}
    circle_id = st.selectbox("Circle", list(names), format_func=names.get, key="insights_circle")

    st.subheader("Taking part, week by week")
    st.caption("How many people took part each week, and in which ways (about: noise added).")
    weeks = studio.insights.participation(ctx.user, circle_id)
    shown = [w for w in weeks if w["shown"]]
    if shown:
        long = [
            {"week": w["week_start"], "what": label, "people": w[key]}
            for w in shown
            for key, label in WHAT.items()
        ]
        chart = (
            alt.Chart(alt.Data(values=long))
            .mark_bar()
            .encode(
                # Ordinal, not temporal: on a time axis each bar is a hairline a day wide.
                x=alt.X("week:O", title="Week starting", axis=alt.Axis(labelAngle=0)),
                y=alt.Y("people:Q", title="People (about)"),
                color=alt.Color(
                    "what:N",
                    title="",
                    sort=list(WHAT.values()),
                    scale=alt.Scale(range=["#3E5C76", "#5B7F6E", "#F2B134", "#9B4F96"]),
                ),
                xOffset=alt.XOffset("what:N", sort=list(WHAT.values())),
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
    if mood.get("n") is None or mood.get("mean_change") is None:
        st.info(
            f"Shown once a week is over in which at least {MIN_GROUP} people who said yes "
            "checked in before and after making art."
        )
    else:
        weeks_word = "week" if mood["weeks"] == 1 else "weeks"
        a, b, c = st.columns(3)
        a.metric("Before (average)", f"{mood['mean_before']:.1f} / 5")
        b.metric("After (average)", f"{mood['mean_after']:.1f} / 5")
        c.metric(
            "Change",
            f"{mood['mean_change']:+.1f}",
            help=(
                f"Over {mood['weeks']} {weeks_word}; about {mood['n']} weekly check-ins "
                "(each person counts once a week). Give or take "
                f"{mood['margin']:.1f} because of the noise that keeps people private."
            ),
        )
    effects = studio.insights.prompt_effects(ctx.user, circle_id)
    if effects:
        st.markdown("**Mood change by prompt**")
        st.dataframe(
            [
                {
                    "Prompt": e["prompt_title"],
                    "Weekly check-ins (about)": e["n"],
                    "Average change": e["mean_change"],
                    "Give or take": e["margin"],
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
