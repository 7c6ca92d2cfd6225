"""Tests for the starter decks and for deck parsing, checking and TOML export."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from prompts import (
    DECKS_FOLDER,
    INTENSITIES,
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

REPO_ROOT = Path(__file__).resolve().parent.parent

VALID_DECK = """
[deck]
theme = "coping"
title = "Coping with stress"
description = "A small test deck."

[[prompts]]
slug = "coping-test"
title = "A test prompt"
instructions = "You might draw a cloud. You can stop whenever you like."
materials = ["paper", "pens"]
no_materials = "Draw it in the app."
minutes = 20
themes = ["coping", "grounding"]
intensity = "gentle"
reflection_questions = ["What did you notice?", "What helped?"]
"""


def test_starter_library_loads_with_enough_prompts_and_themes():
    decks = load_decks()
    prompts = starter_prompts()

    assert len(prompts) >= 48
    assert {deck.theme for deck in decks} == set(THEMES)
    assert len(THEMES) >= 6
    assert all(len(deck.prompts) >= 8 for deck in decks)
    assert prompts == tuple(prompt for deck in decks for prompt in deck.prompts)


def test_starter_decks_are_one_file_per_theme_sorted_by_file_name():
    files = sorted(path.name for path in DECKS_FOLDER.glob("*.toml"))
    decks = load_decks()

    assert [f"{deck.theme}.toml" for deck in decks] == files
    assert all(deck.title == THEME_TITLES[deck.theme] for deck in decks)


def test_starter_slugs_are_unique_and_prefixed_with_their_deck():
    decks = load_decks()
    slugs = [prompt.slug for prompt in starter_prompts()]

    assert len(slugs) == len(set(slugs))
    for deck in decks:
        for prompt in deck.prompts:
            assert prompt.slug.startswith(f"{deck.theme}-")
            assert prompt.themes[0] == deck.theme


def test_starter_prompts_follow_the_shape_rules():
    prompts = starter_prompts()

    assert all(2 <= len(prompt.reflection_questions) <= 4 for prompt in prompts)
    assert all(5 <= prompt.minutes <= 120 for prompt in prompts)
    assert all(prompt.intensity in INTENSITIES for prompt in prompts)
    assert sum(prompt.no_materials is not None for prompt in prompts) >= len(prompts) // 2
    assert 3 <= sum(prompt.intensity == "deep" for prompt in prompts) <= len(prompts) // 4


def test_starter_wording_invites_rather_than_orders():
    invitations = ("you might", "you could", "you can", "if you like")
    for prompt in starter_prompts():
        text = prompt.instructions.lower()
        assert any(phrase in text for phrase in invitations), prompt.slug
        assert " must " not in f" {text} " and " should " not in f" {text} ", prompt.slug


def test_deep_starter_prompts_name_the_facilitator_and_permission_to_stop():
    deep = [prompt for prompt in starter_prompts() if prompt.intensity == "deep"]

    for prompt in deep:
        assert "facilitator" in prompt.instructions, prompt.slug
        assert "stop" in prompt.instructions, prompt.slug


def test_prompts_package_does_not_import_streamlit():
    script = "import sys, prompts; sys.exit('streamlit' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, check=False)
    assert result.returncode == 0


def test_valid_deck_parses_into_frozen_models():
    deck = parse_deck(VALID_DECK, "test.toml")

    assert deck == Deck(
        theme="coping",
        title="Coping with stress",
        description="A small test deck.",
        prompts=(
            PromptSpec(
                slug="coping-test",
                title="A test prompt",
                instructions="You might draw a cloud. You can stop whenever you like.",
                materials=("paper", "pens"),
                no_materials="Draw it in the app.",
                minutes=20,
                themes=("coping", "grounding"),
                intensity="gentle",
                reflection_questions=("What did you notice?", "What helped?"),
            ),
        ),
    )
    with pytest.raises(AttributeError):
        deck.prompts[0].minutes = 5  # type: ignore[misc]


def test_no_materials_is_optional():
    text = VALID_DECK.replace('no_materials = "Draw it in the app."\n', "")
    assert parse_deck(text, "test.toml").prompts[0].no_materials is None


def _changed(old: str, new: str) -> str:
    # Guard against a case that silently tests the valid deck because `old` drifted.
    assert old in VALID_DECK
    return VALID_DECK.replace(old, new)


SECOND_PROMPT = "\n[[prompts]]" + VALID_DECK.split("[[prompts]]")[1]
INSTRUCTIONS_LINE = 'instructions = "You might draw a cloud. You can stop whenever you like."\n'
QUESTIONS = '["What did you notice?", "What helped?"]'

BROKEN_DECKS = [
    pytest.param(_changed("minutes = 20", "minutes = "), "prompt #1", "(file)", id="bad-toml"),
    pytest.param(_changed(INSTRUCTIONS_LINE, ""), "coping-test", "instructions", id="missing"),
    pytest.param(_changed("= 20", '= "twenty"'), "coping-test", "minutes", id="wrong-type"),
    pytest.param(_changed("= 20", "= 200"), "coping-test", "minutes", id="too-many-minutes"),
    pytest.param(_changed("= 20", "= true"), "coping-test", "minutes", id="minutes-true"),
    pytest.param(_changed("= 20", "= 20.5"), "coping-test", "minutes", id="minutes-fraction"),
    pytest.param(_changed('"grounding"]', '"gardening"]'), "coping-test", "themes", id="theme"),
    pytest.param(
        _changed('["coping", "grounding"]', '["grounding", "coping"]'),
        "coping-test",
        "themes",
        id="deck-theme-not-first",
    ),
    pytest.param(_changed("= 20", "= 20\nminuts = 20"), "coping-test", "minuts", id="unknown"),
    pytest.param(_changed('"gentle"', '"intense"'), "coping-test", "intensity", id="intensity"),
    pytest.param(
        _changed(QUESTIONS, '["What helped?"]'),
        "coping-test",
        "reflection_questions",
        id="one-question",
    ),
    pytest.param(
        _changed(QUESTIONS, '["a?", "b?", "c?", "d?", "e?"]'),
        "coping-test",
        "reflection_questions",
        id="five-questions",
    ),
    pytest.param(
        _changed('"What helped?"]', f'"{"Why " * 80}?"]'),
        "coping-test",
        "reflection_questions",
        id="long-question",
    ),
    pytest.param(_changed('"A test prompt"', f'"{"A" * 81}"'), "coping-test", "title", id="long"),
    pytest.param(_changed('"A test prompt"', '"   "'), "coping-test", "title", id="blank-title"),
    pytest.param(
        _changed('"A test prompt"', '"A test\\nprompt"'),
        "coping-test",
        "title",
        id="newline-in-title",
    ),
    pytest.param(
        _changed('"You might draw a cloud.', f'"{"Draw. " * 250}'),
        "coping-test",
        "instructions",
        id="long-instructions",
    ),
    pytest.param(
        _changed('["paper", "pens"]', '"paper"'), "coping-test", "materials", id="materials"
    ),
    pytest.param(_changed('"coping-test"', '"Coping Test"'), "prompt #1", "slug", id="slug"),
    pytest.param(VALID_DECK + SECOND_PROMPT, "prompt #2", "slug", id="duplicate-slug"),
    pytest.param(
        _changed('title = "Coping with stress"\n', ""), "[deck]", "title", id="deck-title"
    ),
    pytest.param(_changed("[deck]\n", '[deck]\nauthor = "me"\n'), "[deck]", "author", id="key"),
    pytest.param(_changed('theme = "coping"', 'theme = "joy"'), "[deck]", "theme", id="joy"),
    pytest.param(_changed("[deck]", "[desk]"), "(file)", "desk", id="no-deck-table"),
    pytest.param(VALID_DECK.split("[[prompts]]")[0], "(file)", "prompts", id="no-prompts"),
]


@pytest.mark.parametrize(("text", "prompt", "field"), BROKEN_DECKS)
def test_broken_deck_error_names_file_prompt_and_field(text, prompt, field):
    with pytest.raises(DeckError) as caught:
        parse_deck(text, "broken.toml")

    error = caught.value
    assert (error.source, error.prompt, error.field) == ("broken.toml", prompt, field)
    message = str(error)
    assert message.startswith("broken.toml, ")
    assert f'field "{field}"' in message
    expected_prompt = {"[deck]": "the [deck] table", "(file)": "(file)"}.get(prompt)
    if expected_prompt is None:
        expected_prompt = prompt if prompt.startswith("prompt #") else f'prompt "{prompt}"'
    assert expected_prompt in message
    assert isinstance(error, ValueError)


def test_deck_error_message_reads_as_documented():
    text = VALID_DECK.replace("minutes = 20", "minutes = 200")
    with pytest.raises(DeckError) as caught:
        parse_deck(text, "coping.toml")
    assert str(caught.value) == (
        'coping.toml, prompt "coping-test", field "minutes": '
        "must be a whole number from 5 to 120, not 200"
    )


def test_bad_toml_error_keeps_the_line_number():
    with pytest.raises(DeckError, match=r"isn't valid TOML: .*line 13"):
        parse_deck(VALID_DECK.replace("minutes = 20", "minutes = "), "coping.toml")


def test_unknown_key_suggests_the_field_it_resembles():
    text = VALID_DECK.replace("minutes = 20", "minutes = 20\nminuts = 20")
    with pytest.raises(DeckError, match='did you mean "minutes"'):
        parse_deck(text, "coping.toml")


def test_deck_error_survives_pickling():
    error = DeckError("coping.toml", "coping-test", "minutes", "is wrong")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.source, copy.prompt, copy.field, str(copy)) == (
        "coping.toml",
        "coping-test",
        "minutes",
        str(error),
    )


def test_duplicate_slug_across_decks_names_the_later_file(tmp_path):
    (tmp_path / "a-coping.toml").write_text(VALID_DECK, encoding="utf-8")
    (tmp_path / "b-coping.toml").write_text(VALID_DECK, encoding="utf-8")

    with pytest.raises(DeckError) as caught:
        load_decks(tmp_path)

    assert (caught.value.source, caught.value.prompt, caught.value.field) == (
        "b-coping.toml",
        "coping-test",
        "slug",
    )
    assert "a-coping.toml" in str(caught.value)


def test_load_decks_sorts_by_file_name_and_tolerates_a_byte_order_mark(tmp_path):
    other = VALID_DECK.replace("coping-test", "coping-other")
    (tmp_path / "b.toml").write_text(other, encoding="utf-8")
    (tmp_path / "a.toml").write_text("\ufeff" + VALID_DECK, encoding="utf-8")

    decks = load_decks(tmp_path)

    assert [deck.prompts[0].slug for deck in decks] == ["coping-test", "coping-other"]


def test_load_decks_rejects_a_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_decks(tmp_path / "nowhere")


def test_non_utf8_deck_is_a_deck_error(tmp_path):
    (tmp_path / "latin.toml").write_bytes(VALID_DECK.replace("cloud", "caf\xe9").encode("latin-1"))
    with pytest.raises(DeckError, match=r"latin\.toml"):
        load_decks(tmp_path)


@pytest.mark.parametrize("deck", load_decks(), ids=lambda deck: deck.theme)
def test_starter_deck_round_trips_through_dump(deck):
    text = dump_deck(deck.theme, deck.title, deck.description, deck.prompts)

    assert parse_deck(text, f"{deck.theme}.toml") == deck
    assert deck.to_toml() == text


def test_dump_escapes_awkward_text():
    prompt = PromptSpec(
        slug="coping-awkward",
        title='Quotes " and back\\slashes',
        instructions='First paragraph with "quotes".\n\nSecond, with 🎨 and é and a \\ too.',
        materials=("a \\ backslash", 'a "quoted" pen'),
        no_materials=None,
        minutes=5,
        themes=("coping",),
        intensity="moderate",
        reflection_questions=('What\'s "this"?', "Línea dos?"),
    )
    text = dump_deck("coping", "Coping", "Line one\nline two", [prompt])

    deck = parse_deck(text, "awkward.toml")
    assert deck.prompts == (prompt,)
    assert deck.description == "Line one\nline two"
    assert "no_materials" not in text


def test_dump_refuses_a_deck_that_would_not_load_back():
    prompt = parse_deck(VALID_DECK, "test.toml").prompts[0]
    too_long = replace(prompt, minutes=500)
    with pytest.raises(DeckError, match="minutes"):
        dump_deck("coping", "Coping", "A deck.", [too_long])


def test_prompt_dict_round_trip_is_json_ready():
    for prompt in starter_prompts():
        data = prompt.to_dict()
        assert json.loads(json.dumps(data)) == data
        assert PromptSpec.from_dict(data) == prompt


def test_from_dict_checks_fields():
    data = starter_prompts()[0].to_dict() | {"intensity": "extreme"}
    with pytest.raises(DeckError) as caught:
        PromptSpec.from_dict(data)
    assert caught.value.field == "intensity"
