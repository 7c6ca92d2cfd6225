"""The prompt library: curate prompts, plan each circle's next two weeks, import and export."""

from __future__ import annotations

from datetime import date, timedelta

import streamlit as st

from gallery_store import StudioError
from gallery_store.models import Prompt
from gallery_store.text import day_label, escape_markdown
from prompts import INTENSITIES, THEME_TITLES
from ui.context import Context
from ui.flash import flash
from ui.widgets import show_text

REASONS = {"pinned": "pinned", "series": "series", "rotation": "rotation", "none": "—"}


def render(ctx: Context) -> None:
    """Show the library and the planning tools."""
    st.title("Prompt library")
    # Only the chosen tab is drawn (each is a page's worth of widgets).
    tabs = st.tabs(
        ["Library", "Plan a circle", "Import and export"], key=TAB_KEY, on_change="rerun"
    )
    for tab, draw in zip(tabs, (_library, _plan, _files), strict=True):
        if tab.open:
            with tab:
                draw(ctx)


TAB_KEY = "prompts_tab"
EDITING_KEY = "prompt_editing"
NEW_ROUND_KEY = "prompt_new_round"
# The form's fields, by name, each keyed per prompt ("new" for the new-prompt form).
FIELDS = (
    "title",
    "instructions",
    "materials",
    "no_materials",
    "minutes",
    "themes",
    "intensity",
    "questions",
)


def _library(ctx: Context) -> None:
    studio = ctx.studio
    left, middle, right = st.columns(3)
    search = left.text_input("Search", key="prompt_search")
    theme = middle.selectbox(
        "Theme",
        [None, *THEME_TITLES],
        key="prompt_theme",
        format_func=lambda t: "All themes" if t is None else THEME_TITLES[t],
    )
    intensity = right.selectbox(
        "Intensity",
        [None, *INTENSITIES],
        key="prompt_intensity",
        format_func=lambda i: "Any" if i is None else i,
    )
    retired = st.toggle("Show retired prompts", key="prompt_retired")
    prompts = studio.prompts.library(
        ctx.user, theme=theme, intensity=intensity, search=search, include_retired=retired
    )
    usage = studio.prompts.usage(ctx.user)
    st.caption(f"{len(prompts)} prompts")
    with st.expander("Write a new prompt"):
        _prompt_form(ctx, None)
    # One form on the page at most: the prompt being edited has it, the others a button.
    # (A form for each of fifty prompts made the page take seconds to appear.)
    editing = st.session_state.get(EDITING_KEY)
    for prompt in prompts:
        used = usage.get(prompt.id, {})
        title = f"{escape_markdown(prompt.title)} · {prompt.intensity}" + (
            " · retired" if prompt.retired else ""
        )
        # Drawn only when opened: fifty prompts' previews made the page take seconds.
        box = st.expander(title, key=open_key(prompt.id), on_change="rerun")
        if not box.open:
            continue
        with box:
            st.caption(
                f"{_shown(used.get('shown_days', 0))} · "
                f"{used.get('artworks', 0)} artworks answered it · "
                f"{', '.join(THEME_TITLES.get(t, t) for t in prompt.themes)}"
            )
            history = studio.prompts.history(ctx.user, prompt.id)
            if history:
                st.caption(
                    f"Edited {len(history)} time(s); earlier titles: "
                    + ", ".join(escape_markdown(h["title"]) for h in history[:3])
                )
            if prompt.id == editing:
                _prompt_form(ctx, prompt)
                continue
            st.markdown("**Preview — as a participant sees it**")
            _preview(prompt)
            edit, retire, _ = st.columns([1, 1, 2])
            edit.button(
                "Edit this prompt",
                key=f"edit_prompt_{prompt.id}",
                icon=":material/edit:",
                on_click=_start_editing,
                args=(prompt.id,),
            )
            retire.button(
                "Restore" if prompt.retired else "Retire",
                key=f"retire_{prompt.id}",
                on_click=_retire,
                args=(ctx, prompt),
            )


def open_key(prompt_id: str) -> str:
    """Return the session key that holds whether a prompt's expander is open."""
    return f"prompt_open_{prompt_id}"


def _start_editing(prompt_id: str) -> None:
    st.session_state[EDITING_KEY] = prompt_id


def _stop_editing() -> None:
    st.session_state.pop(EDITING_KEY, None)


def _retire(ctx: Context, prompt: Prompt) -> None:
    ctx.studio.prompts.retire(ctx.user, prompt.id, not prompt.retired)
    flash(
        f"“{prompt.title}” is back in the pool."
        if prompt.retired
        else f"“{prompt.title}” is retired: circles won't be given it."
    )


def _preview(prompt: Prompt) -> None:
    with st.container(border=True):
        st.markdown(f"### {escape_markdown(prompt.title)}")
        show_text(prompt.instructions)
        if prompt.materials:
            st.markdown("**You might use:** " + escape_markdown(", ".join(prompt.materials)))
        if prompt.no_materials:
            st.markdown("**No materials?** " + escape_markdown(prompt.no_materials))
        for question in prompt.reflection_questions:
            st.markdown("- " + escape_markdown(question))


def _field(key: str, name: str) -> str:
    return f"prompt_{key}_{name}"


def _prompt_form(ctx: Context, prompt: Prompt | None) -> None:
    # The new-prompt form's fields are new widgets after each prompt added, so they empty.
    key = prompt.id if prompt else f"new{st.session_state.get(NEW_ROUND_KEY, 0)}"
    with st.form(f"prompt_form_{'new' if prompt is None else key}"):
        st.text_input(
            "Title", value=prompt.title if prompt else "", max_chars=80, key=_field(key, "title")
        )
        st.text_area(
            "Instructions",
            value=prompt.instructions if prompt else "",
            max_chars=1200,
            key=_field(key, "instructions"),
        )
        st.text_input(
            "Materials (comma separated)",
            value=", ".join(prompt.materials) if prompt else "",
            key=_field(key, "materials"),
        )
        st.text_area(
            "No-materials variant (optional)",
            value=(prompt.no_materials or "") if prompt else "",
            key=_field(key, "no_materials"),
        )
        st.number_input(
            "Minutes", 5, 120, value=prompt.minutes if prompt else 20, key=_field(key, "minutes")
        )
        st.multiselect(
            "Themes",
            list(THEME_TITLES),
            format_func=THEME_TITLES.get,
            default=list(prompt.themes) if prompt else [],
            key=_field(key, "themes"),
        )
        st.selectbox(
            "Intensity",
            INTENSITIES,
            index=INTENSITIES.index(prompt.intensity) if prompt else 0,
            key=_field(key, "intensity"),
        )
        st.text_area(
            "Reflection questions (one per line, 2 to 4)",
            value="\n".join(prompt.reflection_questions) if prompt else "",
            key=_field(key, "questions"),
        )
        error = st.session_state.pop(f"prompt_error_{key}", None)
        if error:
            st.error(error)
        save, cancel = st.columns([1, 3])
        with save:
            st.form_submit_button(
                "Save prompt" if prompt else "Add prompt",
                on_click=_save_prompt,
                args=(ctx, key, prompt is None),
            )
        if prompt:
            with cancel:
                st.form_submit_button("Cancel", type="tertiary", on_click=_stop_editing)


def _save_prompt(ctx: Context, key: str, new: bool) -> None:
    """Save the form (runs before the page is drawn, so the list shows the change at once)."""
    values = {name: st.session_state.get(_field(key, name)) for name in FIELDS}
    fields = {
        "title": values["title"] or "",
        "instructions": values["instructions"] or "",
        "materials": [m.strip() for m in (values["materials"] or "").split(",") if m.strip()],
        "no_materials": (values["no_materials"] or "").strip() or None,
        "minutes": int(values["minutes"] or 20),
        "themes": list(values["themes"] or []),
        "intensity": values["intensity"],
        "reflection_questions": [
            q.strip() for q in (values["questions"] or "").splitlines() if q.strip()
        ],
    }
    try:
        if new:
            ctx.studio.prompts.create(ctx.user, **fields)
        else:
            ctx.studio.prompts.edit(ctx.user, key, **fields)
    except StudioError as exc:
        st.session_state[f"prompt_error_{key}"] = exc.message
        return
    if new:
        st.session_state[NEW_ROUND_KEY] = st.session_state.get(NEW_ROUND_KEY, 0) + 1
    else:
        _stop_editing()
    flash(f"“{fields['title'].strip()}” is in the library." if new else "Saved.")


def _plan(ctx: Context) -> None:
    studio = ctx.studio
    circles = studio.circles.facilitated(ctx.user, therapist_only=True)
    if not circles:
        st.info("Create a circle first.")
        return
    names = {c.id: c.name for c in circles}
    circle_id = st.selectbox("Circle", list(names), format_func=names.get, key="plan_circle")
    plan = studio.prompts.plan(ctx.user, circle_id, days=14)
    st.markdown("**The next 14 days**")
    st.dataframe(
        [
            {
                "Day": day_label(d.day),
                "Prompt": d.prompt.title if d.prompt else "—",
                "Why": REASONS.get(d.reason, d.reason) + (" (after a skip)" if d.skipped else ""),
            }
            for d in plan
        ],
        hide_index=True,
    )
    library = studio.prompts.library(ctx.user)
    titles = {p.id: p.title for p in library}
    start = plan[0].day if plan else None
    with st.form("pin"):
        st.markdown("**Pin a prompt to a day or a range**")
        prompt_id = st.selectbox("Prompt", list(titles), format_func=titles.get)
        first = st.date_input("From", value=start)
        last = st.date_input("To", value=start)
        if st.form_submit_button("Pin"):
            _act(lambda: studio.prompts.pin(ctx.user, circle_id, prompt_id, first, last))
    with st.form("series"):
        st.markdown("**Queue a series** — for example a four-week arc on boundaries")
        chosen = st.multiselect("Prompts, in order", list(titles), format_func=titles.get)
        first = st.date_input("Starting", value=start + timedelta(days=1) if start else None)
        every = st.number_input("Days each prompt runs", 1, 28, value=7)
        title = st.text_input("Series name", placeholder="Boundaries")
        if st.form_submit_button("Queue series"):
            _act(
                lambda: studio.prompts.queue_series(
                    ctx.user, circle_id, chosen, first, int(every), title
                )
            )
    with st.form("skip"):
        st.markdown("**Skip a day's rotation prompt** (the next one comes instead)")
        day = st.date_input("Day", value=start)
        if st.form_submit_button("Skip"):
            _act(lambda: studio.prompts.skip(ctx.user, circle_id, day))
    for entry in studio.prompts.plan_entries(ctx.user, circle_id):
        left, right = st.columns([4, 1])
        if entry["kind"] == "pin":
            title = titles.get(entry["prompt_id"], "a prompt")
            first, last = _day(entry["start"]), _day(entry["end"])
            text = f"Pinned {title}: {first}" + (f" to {last}" if last != first else "")
        elif entry["kind"] == "series":
            count = len(entry["prompt_ids"])
            text = f"Series {entry.get('title') or ''} from {_day(entry['start'])}, {count} prompts"
        else:
            text = f"Skip on {_day(entry['day'])}"
        left.markdown(escape_markdown(text))
        if right.button("Remove", key=f"remove_plan_{entry['id']}"):
            studio.prompts.remove_plan_entry(ctx.user, entry["id"])
            flash("Taken out of the plan.")
            st.rerun()


def _shown(days: int) -> str:
    """Say how often a prompt was shown lately (a circle's own days only, today included)."""
    if days == 0:
        return "Not shown in the last 90 days"
    return f"Shown on {days} day{'s' if days != 1 else ''} in the last 90"


def _day(stored: str) -> str:
    """Return a stored plan day (an ISO date) as the plan table writes its days."""
    return day_label(date.fromisoformat(stored))


def _act(action) -> None:
    try:
        action()
    except StudioError as exc:
        st.error(exc.message)
        return
    flash("Saved to the plan.")
    st.rerun()


def _files(ctx: Context) -> None:
    studio = ctx.studio
    st.markdown("**Export a theme as a deck file (TOML)**")
    theme = st.selectbox(
        "Theme to export", list(THEME_TITLES), format_func=THEME_TITLES.get, key="export_theme"
    )
    st.download_button(
        "Download deck",
        studio.prompts.export_deck(ctx.user, theme),
        file_name=f"{theme}.toml",
        mime="application/toml",
    )
    st.markdown("**Import a deck**")
    uploaded = st.file_uploader("Deck file (.toml)", type=["toml"], key="deck_upload")
    if uploaded is not None and st.button("Import", key="import_deck"):
        try:
            text = uploaded.getvalue().decode("utf-8")
            report = studio.prompts.import_deck(ctx.user, text, uploaded.name)
        except UnicodeDecodeError:
            st.error("That file isn't text. Deck files are TOML text files.")
            return
        except StudioError as exc:
            st.error(exc.message)
            return
        st.success(
            f"Added {len(report.added)}, changed {len(report.changed)}, "
            f"unchanged {len(report.unchanged)}."
        )


if __name__ == "__main__":
    from ui.context import cold_start

    cold_start()
