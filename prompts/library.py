"""The prompt library: prompt and deck models, deck parsing and checking, and TOML export.

A deck is one TOML file per theme in ``prompts/decks``: a ``[deck]`` table (theme, title,
description) and one ``[[prompts]]`` table per prompt. ``parse_deck`` checks every field and
raises ``DeckError`` naming the file, the prompt and the field, so a typo in a deck stops the
load instead of reaching a circle. ``dump_deck`` writes the same format back out.
"""

from __future__ import annotations

import difflib
import json
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

__all__ = [
    "DECKS_FOLDER",
    "INTENSITIES",
    "PROMPT_FIELDS",
    "THEMES",
    "THEME_TITLES",
    "Deck",
    "DeckError",
    "PromptSpec",
    "dump_deck",
    "load_decks",
    "parse_deck",
    "starter_prompts",
]

THEME_TITLES: Mapping[str, str] = MappingProxyType(
    {
        "coping": "Coping with stress",
        "belonging": "Belonging and connection",
        "self-care": "Self-care",
        "burnout": "Burnout and boundaries",
        "grounding": "Grounding",
        "strengths": "Strengths and hope",
    }
)
THEMES: tuple[str, ...] = tuple(THEME_TITLES)

# "deep" prompts reach into harder memories: only for facilitated sessions unless a
# therapist turns them on for a circle.
INTENSITIES: tuple[str, ...] = ("gentle", "moderate", "deep")

# Field order here is the order dump_deck writes them in.
PROMPT_FIELDS: tuple[str, ...] = (
    "slug",
    "title",
    "instructions",
    "materials",
    "no_materials",
    "minutes",
    "themes",
    "intensity",
    "reflection_questions",
)
_OPTIONAL_PROMPT_FIELDS = frozenset({"no_materials"})
_DECK_FIELDS: tuple[str, ...] = ("theme", "title", "description")
_FILE_FIELDS: tuple[str, ...] = ("deck", "prompts")

DECKS_FOLDER = Path(__file__).resolve().parent / "decks"

MAX_SLUG = 60
MAX_TITLE = 80
MAX_DESCRIPTION = 600
MAX_INSTRUCTIONS = 1200
MAX_MATERIAL = 80
MAX_QUESTION = 300
MIN_MINUTES, MAX_MINUTES = 5, 120
MIN_QUESTIONS, MAX_QUESTIONS = 2, 4

_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
# TOML cannot hold these raw, and they have no place in a prompt anyway; newlines are
# allowed only in the long texts, where a deck may hold paragraphs.
_BAD_CHARS_ONE_LINE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
_BAD_CHARS_PARAGRAPHS = re.compile(r"[\x00-\x09\x0b-\x1f\x7f\ud800-\udfff]")
_TOML_LINE = re.compile(r"\(at line (\d+), column \d+\)")

# Labels for errors that belong to the file or the [deck] table rather than one prompt.
FILE_LABEL = "(file)"
DECK_LABEL = "[deck]"


class DeckError(ValueError):
    """A deck breaks a rule; the message names the file, the prompt and the field."""

    def __init__(self, source: str, prompt: str, field: str, problem: str) -> None:
        self.source = source
        self.prompt = prompt
        self.field = field
        self.problem = problem
        super().__init__(f'{source}, {_describe_prompt(prompt)}, field "{field}": {problem}')

    def __reduce__(self):
        return (type(self), (self.source, self.prompt, self.field, self.problem))


def _describe_prompt(prompt: str) -> str:
    if prompt == DECK_LABEL:
        return "the [deck] table"
    if prompt == FILE_LABEL or prompt.startswith("prompt #"):
        return prompt
    return f'prompt "{prompt}"'


@dataclass(frozen=True)
class PromptSpec:
    """One art prompt as written in a deck."""

    slug: str
    title: str
    instructions: str
    materials: tuple[str, ...]
    no_materials: str | None
    minutes: int
    themes: tuple[str, ...]
    intensity: str
    reflection_questions: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return the prompt as plain JSON-ready data (lists, not tuples)."""
        return {
            name: list(value) if isinstance(value, tuple) else value
            for name, value in ((name, getattr(self, name)) for name in PROMPT_FIELDS)
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "prompt data") -> PromptSpec:
        """Build a checked prompt from ``to_dict`` data; raise DeckError if a field is wrong."""
        return _read_prompt(data, source, index=1, deck_theme=None)


@dataclass(frozen=True)
class Deck:
    """One theme's deck: its heading and its prompts, in file order."""

    theme: str
    title: str
    description: str
    prompts: tuple[PromptSpec, ...]

    def to_toml(self) -> str:
        """Return this deck written in the deck file format."""
        return dump_deck(self.theme, self.title, self.description, self.prompts)


def parse_deck(text: str, source: str) -> Deck:
    """Parse and check one deck file's text; ``source`` names the file in errors."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DeckError(
            source, _label_near_error(text, str(exc)), FILE_LABEL, f"isn't valid TOML: {exc}"
        ) from exc
    _reject_unknown_fields(data, _FILE_FIELDS, source, FILE_LABEL)

    heading = data.get("deck")
    if not isinstance(heading, dict):
        raise DeckError(
            source,
            FILE_LABEL,
            "deck",
            "is missing: start the file with a [deck] table (theme, title, description)",
        )
    _reject_unknown_fields(heading, _DECK_FIELDS, source, DECK_LABEL)
    for name in _DECK_FIELDS:
        if name not in heading:
            raise DeckError(source, DECK_LABEL, name, "is missing")
    theme = _theme(heading["theme"], source, DECK_LABEL, "theme")
    title = _text(heading["title"], source, DECK_LABEL, "title", MAX_TITLE)
    description = _text(
        heading["description"], source, DECK_LABEL, "description", MAX_DESCRIPTION, paragraphs=True
    )

    tables = data.get("prompts")
    if not isinstance(tables, list) or not tables:
        raise DeckError(
            source, FILE_LABEL, "prompts", "needs at least one [[prompts]] table after [deck]"
        )
    prompts: list[PromptSpec] = []
    seen: set[str] = set()
    for index, table in enumerate(tables, start=1):
        prompt = _read_prompt(table, source, index, deck_theme=theme)
        if prompt.slug in seen:
            raise DeckError(
                source,
                f"prompt #{index}",
                "slug",
                f'"{prompt.slug}" is used twice in this deck; every prompt needs its own slug',
            )
        seen.add(prompt.slug)
        prompts.append(prompt)
    return Deck(theme=theme, title=title, description=description, prompts=tuple(prompts))


def load_decks(folder: Path | None = None) -> tuple[Deck, ...]:
    """Load and check every ``*.toml`` deck in ``folder``, sorted by file name."""
    folder = DECKS_FOLDER if folder is None else Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"There is no deck folder at {folder}")
    decks: list[Deck] = []
    first_file_of: dict[str, str] = {}
    for path in sorted(folder.glob("*.toml"), key=lambda p: p.name):
        try:
            # utf-8-sig: a byte-order mark left by some editors would otherwise break TOML.
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            raise DeckError(
                path.name, FILE_LABEL, FILE_LABEL, f"isn't UTF-8 text ({exc.reason})"
            ) from exc
        deck = parse_deck(text, path.name)
        for prompt in deck.prompts:
            if prompt.slug in first_file_of:
                raise DeckError(
                    path.name,
                    prompt.slug,
                    "slug",
                    f"is already used in {first_file_of[prompt.slug]}; "
                    "slugs must be unique across all decks",
                )
            first_file_of[prompt.slug] = path.name
        decks.append(deck)
    return tuple(decks)


def starter_prompts() -> tuple[PromptSpec, ...]:
    """Return every prompt of the starter library, deck by deck."""
    return tuple(prompt for deck in load_decks() for prompt in deck.prompts)


def dump_deck(theme: str, title: str, description: str, prompts: Iterable[PromptSpec]) -> str:
    """Write a deck in the deck file format; raise DeckError if it would not load back."""
    lines = [
        "# Kindred Canvas prompt deck. Format and rules: prompts/library.py.",
        "",
        "[deck]",
        f"theme = {_toml_string(theme)}",
        f"title = {_toml_string(title)}",
        f"description = {_toml_string(description)}",
    ]
    for prompt in prompts:
        lines += ["", "[[prompts]]"]
        for name in PROMPT_FIELDS:
            value = getattr(prompt, name)
            if value is None:
                continue
            one_per_line = name == "reflection_questions"
            lines.append(f"{name} = {_toml_value(value, one_per_line=one_per_line)}")
    text = "\n".join(lines) + "\n"
    # Reading the text back guarantees the export is a deck this module accepts.
    parse_deck(text, f"{theme} deck export")
    return text


def _toml_value(value: object, *, one_per_line: bool = False) -> str:
    if isinstance(value, bool):
        raise TypeError("deck files hold no true/false values")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, tuple | list):
        items = [_toml_string(item) for item in value]
        if one_per_line and items:
            return "[\n" + "".join(f"    {item},\n" for item in items) + "]"
        return "[" + ", ".join(items) + "]"
    raise TypeError(f"deck files hold no {type(value).__name__} values")


def _toml_string(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected text, got {type(value).__name__}")
    # A JSON string is a valid TOML basic string (same escapes) except for DEL, which
    # TOML wants escaped and JSON leaves raw.
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def _label_near_error(text: str, message: str) -> str:
    """Return the label of the table a TOML syntax error sits in."""
    found = _TOML_LINE.search(message)
    if not found:
        return FILE_LABEL
    label = FILE_LABEL
    prompt_count = 0
    for line in text.splitlines()[: int(found.group(1))]:
        header = line.strip()
        if header.startswith("[[prompts]]"):
            prompt_count += 1
            label = f"prompt #{prompt_count}"
        elif header.startswith("[deck]"):
            label = DECK_LABEL
    return label


def _reject_unknown_fields(
    table: Mapping[str, Any], known: tuple[str, ...], source: str, label: str
) -> None:
    for name in table:
        if name in known:
            continue
        close = difflib.get_close_matches(name, known, n=1)
        hint = f'did you mean "{close[0]}"?' if close else f"the fields are {', '.join(known)}"
        raise DeckError(source, label, name, f"isn't a field we know; {hint}")


def _read_prompt(table: object, source: str, index: int, deck_theme: str | None) -> PromptSpec:
    label = f"prompt #{index}"
    if not isinstance(table, Mapping):
        raise DeckError(source, label, "(prompt)", "must be a [[prompts]] table")
    slug = table.get("slug")
    if isinstance(slug, str) and _SLUG.fullmatch(slug) and len(slug) <= MAX_SLUG:
        label = slug
    _reject_unknown_fields(table, PROMPT_FIELDS, source, label)
    for name in PROMPT_FIELDS:
        if name not in table and name not in _OPTIONAL_PROMPT_FIELDS:
            raise DeckError(source, label, name, "is missing")

    if label != slug:
        raise DeckError(
            source,
            label,
            "slug",
            f"must be lowercase words joined by hyphens, at most {MAX_SLUG} characters, "
            'like "coping-weather-report"',
        )
    title = _text(table["title"], source, label, "title", MAX_TITLE)
    instructions = _text(
        table["instructions"], source, label, "instructions", MAX_INSTRUCTIONS, paragraphs=True
    )
    materials = _text_list(table["materials"], source, label, "materials", MAX_MATERIAL)
    no_materials = table.get("no_materials")
    if no_materials is not None:
        no_materials = _text(
            no_materials, source, label, "no_materials", MAX_INSTRUCTIONS, paragraphs=True
        )
    minutes = table["minutes"]
    # bool is an int in Python, but `minutes = true` is a typo, not a duration.
    if (
        not isinstance(minutes, int)
        or isinstance(minutes, bool)
        or not MIN_MINUTES <= minutes <= MAX_MINUTES
    ):
        raise DeckError(
            source,
            label,
            "minutes",
            f"must be a whole number from {MIN_MINUTES} to {MAX_MINUTES}, not {minutes!r}",
        )
    themes = _themes(table["themes"], source, label, deck_theme)
    intensity = table["intensity"]
    if intensity not in INTENSITIES:
        raise DeckError(
            source,
            label,
            "intensity",
            f"must be one of {', '.join(INTENSITIES)}, not {intensity!r}",
        )
    questions = _text_list(
        table["reflection_questions"], source, label, "reflection_questions", MAX_QUESTION
    )
    if not MIN_QUESTIONS <= len(questions) <= MAX_QUESTIONS:
        raise DeckError(
            source,
            label,
            "reflection_questions",
            f"needs {MIN_QUESTIONS} to {MAX_QUESTIONS} questions, not {len(questions)}",
        )
    return PromptSpec(
        slug=slug,
        title=title,
        instructions=instructions,
        materials=materials,
        no_materials=no_materials,
        minutes=minutes,
        themes=themes,
        intensity=intensity,
        reflection_questions=questions,
    )


def _text(
    value: object, source: str, label: str, field: str, limit: int, *, paragraphs: bool = False
) -> str:
    if not isinstance(value, str):
        raise DeckError(source, label, field, f"must be text in quotes, not {value!r}")
    text = value.strip()
    if not text:
        raise DeckError(source, label, field, "is empty")
    if len(text) > limit:
        raise DeckError(
            source, label, field, f"is {len(text)} characters long; the limit is {limit}"
        )
    bad = (_BAD_CHARS_PARAGRAPHS if paragraphs else _BAD_CHARS_ONE_LINE).search(text)
    if bad:
        where = "" if paragraphs else " (it must fit on one line)"
        raise DeckError(
            source, label, field, f"contains the control character {bad.group()!r}{where}"
        )
    return text


def _text_list(value: object, source: str, label: str, field: str, limit: int) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        raise DeckError(source, label, field, f'must be a list like ["a", "b"], not {value!r}')
    return tuple(_text(item, source, label, field, limit) for item in value)


def _theme(value: object, source: str, label: str, field: str) -> str:
    if value not in THEMES:
        raise DeckError(
            source, label, field, f"{value!r} isn't a theme we know; use one of {', '.join(THEMES)}"
        )
    return str(value)


def _themes(value: object, source: str, label: str, deck_theme: str | None) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not value:
        raise DeckError(source, label, "themes", f'must be a list like ["coping"], not {value!r}')
    themes = tuple(_theme(item, source, label, "themes") for item in value)
    if len(set(themes)) != len(themes):
        raise DeckError(source, label, "themes", "lists a theme twice")
    if deck_theme is not None and themes[0] != deck_theme:
        raise DeckError(
            source,
            label,
            "themes",
            f'must start with this deck\'s theme "{deck_theme}", not "{themes[0]}"',
        )
    return themes
