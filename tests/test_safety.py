"""Tests for crisis language, gentle-language nudges and the crisis resources list."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from gallery_store.crisis import AT_RISK, MENTION, assess
from gallery_store.safety import (
    CRISIS_MESSAGE,
    GENTLE_MESSAGE,
    CrisisMatch,
    CrisisResource,
    GentleNudge,
    detect_crisis,
    evaluate,
    gentle_check,
    load_crisis_resources,
    normalize,
)

DATA = Path(__file__).parent / "data"
CATEGORIES = {"direct", "indirect", "slang", "self-harm"}


def load_examples(name: str) -> list[dict]:
    with (DATA / name).open("rb") as handle:
        return tomllib.load(handle)["examples"]


CRISIS_EXAMPLES = load_examples("crisis_examples.toml")
GENTLE_EXAMPLES = load_examples("gentle_examples.toml")


# --- crisis language: the labelled examples ---------------------------------------------------


def test_example_set_is_big_enough_and_unique():
    flagged = [example for example in CRISIS_EXAMPLES if example["crisis"]]
    calm = [example for example in CRISIS_EXAMPLES if not example["crisis"]]
    assert len(flagged) >= 60 and len(calm) >= 60
    texts = [example["text"] for example in CRISIS_EXAMPLES]
    assert len(texts) == len(set(texts))


def test_every_crisis_example_gets_a_well_formed_answer():
    for example in CRISIS_EXAMPLES:
        match = detect_crisis(example["text"])
        assert match is None or (
            isinstance(match, CrisisMatch) and match.category in CATEGORIES and match.phrase
        ), example


# --- crisis language: categories and normalizing ----------------------------------------------


# The earlier phrase list's cases, now asked of the tiered detector the app uses.


@pytest.mark.parametrize(
    "text",
    [
        "I want to kill myself",
        "no reason to live",
        "everyone would be better off without me",
        "i want to unalive myself",
        "I cut myself again",
    ],
)
def test_first_person_risk_is_tier_one(text):
    assert assess(text).tier == AT_RISK


@pytest.mark.parametrize(
    "text",
    [
        "I don’t want to be here anymore",  # curly apostrophe
        "i dont want to be here any more",  # no apostrophe
        "I DON'T WANT TO BE HERE ANYMORE!!!",
        "i don't   want to be\there anymore",
        "I don't want to be h\u200bere anymore",  # zero-width space
        "Ｉ ｄｏｎ'ｔ ｗａｎｔ ｔｏ ｂｅ ｈｅｒｅ ａｎｙｍｏｒｅ",  # fullwidth
    ],
)
def test_spellings_of_the_same_words_are_caught(text):
    assert assess(text).supportive


@pytest.mark.parametrize(
    "text", ["i want to k1ll myself", "I feel $uicidal", "i want 2 die", "i want to diiiie"]
)
def test_leetspeak_and_stretched_words_are_caught(text):
    assert assess(text).tier == AT_RISK


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "this deadline is killing me",
        "I could kill for a coffee",
        "dying to see it",
        "I'm dead 😂",
        "skills",
        "kmsa",
        "my library book is overdue",
        "cutting paper for a collage",
        "I cut myself a slice of cake",
        "I'd rather die than sing karaoke",
        "60 kms of rain",
    ],
)
def test_everyday_idioms_show_no_banner(text):
    assert not assess(text).supportive


def test_professional_mentions_of_suicide_are_mentions_not_alarms():
    assert assess("My patient talked about suicide prevention training").tier == MENTION


def test_the_earlier_phrase_list_still_answers_as_the_baseline():
    assert detect_crisis("Honestly? I wanna DIE.") == CrisisMatch("direct", "wanna die")


def test_normalize_simplifies_apostrophes_case_and_punctuation():
    assert normalize("I DON’T—want… this!!") == "i dont . want . this ."


# --- evaluate ---------------------------------------------------------------------------------


def test_evaluate_counts_each_outcome():
    examples = [
        ("I want to kill myself", True),
        ("kms", True),
        ("a lovely sunset", True),  # missed on purpose
        ("I'm so suicidal about this film", False),  # flagged, labelled calm
        ("a cup of tea", False),
    ]
    assert evaluate(examples) == {
        "precision": 2 / 3,
        "recall": 2 / 3,
        "accuracy": 3 / 5,
        "tp": 2,
        "fp": 1,
        "fn": 1,
        "tn": 1,
    }


def test_evaluate_of_nothing_is_perfect_not_a_division_by_zero():
    scores = evaluate([])
    assert (scores["precision"], scores["recall"], scores["accuracy"]) == (1.0, 1.0, 1.0)


# --- gentle language --------------------------------------------------------------------------


def test_gentle_examples_are_classified():
    nudges = [example for example in GENTLE_EXAMPLES if example["nudge"]]
    kind = [example for example in GENTLE_EXAMPLES if not example["nudge"]]
    assert len(nudges) >= 25 and len(kind) >= 25
    scores = evaluate(GENTLE_EXAMPLES, detect=gentle_check, label="nudge")
    missed = [e["text"] for e in GENTLE_EXAMPLES if e["nudge"] and not gentle_check(e["text"])]
    wrongly = [e["text"] for e in GENTLE_EXAMPLES if not e["nudge"] and gentle_check(e["text"])]
    print(
        f"\ngentle examples: accuracy {scores['accuracy']:.3f}, precision"
        f" {scores['precision']:.3f}, recall {scores['recall']:.3f}"
        f" (tp {scores['tp']}, fp {scores['fp']}, fn {scores['fn']}, tn {scores['tn']})"
        f"\nnudged by mistake: {wrongly}"
    )
    assert missed == []
    assert scores["accuracy"] >= 0.9


def test_suggestions_are_only_the_kinder_words():
    """Regression: pages say "You could try:", and suggestions began "Try:" as well."""
    from gallery_store.safety import _GENTLE_RULES

    for _phrase, _pattern, suggestion in _GENTLE_RULES:
        assert not suggestion.lower().startswith("try"), suggestion
        assert suggestion.startswith("“") and suggestion.endswith("”"), suggestion


def test_nudge_is_kind_and_specific():
    ugly = gentle_check("This is ugly")
    assert isinstance(ugly, GentleNudge)
    assert ugly.message == GENTLE_MESSAGE
    assert ugly.phrase == "ugly"
    assert "I notice" in ugly.suggestion
    should = gentle_check("You should have used more blue")
    assert should.phrase == "you should have"
    assert "I wonder what it was like to" in should.suggestion


@pytest.mark.parametrize(
    "text",
    [
        "Not bad at all!",
        "I felt ugly inside and this captures it",
        "nothing wrong with taking a break",
        "the colours feel so alive",
        "",
    ],
)
def test_no_nudge_for_praise_or_self_disclosure(text):
    assert gentle_check(text) is None


# --- crisis resources -------------------------------------------------------------------------


def test_default_resources_load_and_cover_the_essentials():
    resources = load_crisis_resources()
    assert all(isinstance(resource, CrisisResource) for resource in resources)
    everything = " ".join(f"{r.name} {r.contact} {r.description}" for r in resources)
    for must_have in ("112", "911", "999", "000", "988", "116 123", "13 11 14", "741741"):
        assert must_have in everything
    assert any("findahelpline.com" in r.url for r in resources)
    assert any("facilitator" in r.name.lower() for r in resources)
    assert all(r.url == "" or r.url.startswith("https://") for r in resources)
    assert "immediate danger" in resources[0].description


def test_crisis_message_is_warm_and_short():
    assert "alone" in CRISIS_MESSAGE
    assert len(CRISIS_MESSAGE) < 400


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "resources.toml"
    path.write_text(text, encoding="utf-8")
    return path


GOOD = """
[[resources]]
name = "Clinic line"
contact = "Call 0123"
description = "Our own clinic, weekdays."
region = "Here"
"""


def test_deployment_file_is_used(tmp_path):
    resources = load_crisis_resources(write(tmp_path, GOOD))
    assert resources == (
        CrisisResource("Clinic line", "Call 0123", "Our own clinic, weekdays.", "Here"),
    )


@pytest.mark.parametrize(
    ("broken", "named"),
    [
        (GOOD + '\n[[resources]]\nname = "Second"\ndescription = "x"\nregion = "y"\n', "entry 2"),
        (
            GOOD
            + '\n[[resources]]\nname = "Second"\ncontact = ""\ndescription = "x"\nregion = "y"\n',
            "'Second'",
        ),
        (GOOD.replace("region", "regoin"), "regoin"),
        (GOOD + 'url = "javascript:alert(1)"\n', "url"),
        (GOOD + "url = 3\n", "url"),
        ("", "at least one"),
        ("resources = 3", "at least one"),
        ("[[resources]\n", "not valid TOML"),
    ],
)
def test_broken_resources_file_names_the_file_and_entry(tmp_path, broken, named):
    path = write(tmp_path, broken)
    with pytest.raises(ValueError) as caught:
        load_crisis_resources(path)
    assert str(path) in str(caught.value)
    assert named in str(caught.value)


def test_missing_resources_file_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match="cannot be read"):
        load_crisis_resources(tmp_path / "nowhere.toml")


# --- layering ---------------------------------------------------------------------------------


def test_text_and_safety_do_not_import_streamlit():
    code = (
        "import sys, gallery_store.text, gallery_store.safety; "
        "assert 'streamlit' not in sys.modules"
    )
    root = Path(__file__).resolve().parent.parent
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root)
