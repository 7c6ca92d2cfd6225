"""Kindred Canvas prompts: the starter decks as data, and which prompt is today's.

``library`` reads and checks the TOML decks in ``prompts/decks`` and writes them back;
``rotation`` picks a circle's prompt for a day from its pool and schedule. Both are pure
Python with no Streamlit, so the store and the pages share them.
"""

from .library import (
    DECKS_FOLDER,
    INTENSITIES,
    PROMPT_FIELDS,
    THEME_TITLES,
    THEMES,
    Deck,
    DeckError,
    PromptSpec,
    dump_deck,
    load_decks,
    parse_deck,
    starter_prompts,
)
from .rotation import (
    NO_SCHEDULE,
    ROTATION_EPOCH,
    Choice,
    Pin,
    PoolEntry,
    Reason,
    Schedule,
    Series,
    another_prompt,
    eligible_pool,
    local_day,
    rotation_prompt,
    todays_prompt,
    upcoming,
)

__all__ = [
    "DECKS_FOLDER",
    "INTENSITIES",
    "NO_SCHEDULE",
    "PROMPT_FIELDS",
    "ROTATION_EPOCH",
    "THEMES",
    "THEME_TITLES",
    "Choice",
    "Deck",
    "DeckError",
    "Pin",
    "PoolEntry",
    "PromptSpec",
    "Reason",
    "Schedule",
    "Series",
    "another_prompt",
    "dump_deck",
    "eligible_pool",
    "load_decks",
    "local_day",
    "parse_deck",
    "rotation_prompt",
    "starter_prompts",
    "todays_prompt",
    "upcoming",
]
