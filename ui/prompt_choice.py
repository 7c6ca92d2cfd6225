"""Which prompt a person is answering: today's, another drawn for them, or an earlier day's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import streamlit as st

from gallery_store import StudioError
from gallery_store.models import Prompt

from .context import CIRCLE_KEY, Context

__all__ = ["ChosenPrompt", "answering", "choose", "clear"]

CHOSEN_KEY = "chosen_prompt"


@dataclass(frozen=True)
class ChosenPrompt:
    """The prompt being answered and where it came from."""

    prompt: Prompt
    label: str  # "Today's prompt", "Another prompt for you", "The prompt from Tue 10 Nov"
    chosen: bool  # not today's own prompt


def choose(prompt_id: str, day: date | None = None) -> None:
    """Answer this prompt instead of today's: drawn for you (no day) or an earlier day's."""
    st.session_state[CHOSEN_KEY] = {
        "circle_id": st.session_state.get(CIRCLE_KEY),
        "prompt_id": prompt_id,
        "day": day.isoformat() if day else None,
    }


def clear() -> None:
    """Go back to today's prompt."""
    st.session_state.pop(CHOSEN_KEY, None)


def answering(ctx: Context) -> ChosenPrompt | None:
    """Return the prompt the person is answering in their current circle, if any."""
    if ctx.circle is None:
        return None
    studio = ctx.studio
    chosen = st.session_state.get(CHOSEN_KEY)
    if chosen and chosen.get("circle_id") == ctx.circle.id:
        try:
            prompt = studio.prompts.get(ctx.user, chosen["prompt_id"])
        except StudioError:
            clear()
        else:
            day = chosen.get("day")
            label = (
                f"The prompt from {date.fromisoformat(day):%a %d %b}"
                if day
                else "Another prompt for you"
            )
            return ChosenPrompt(prompt, label, chosen=True)
    elif chosen:
        clear()  # chosen in another circle
    todays = studio.prompts.today(ctx.user, ctx.circle.id)
    return ChosenPrompt(todays.prompt, "Today's prompt", chosen=False) if todays else None
