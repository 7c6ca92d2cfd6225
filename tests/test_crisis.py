"""Tests for the crisis detector: reading, scoped rules, the model file and held-out scores."""

from __future__ import annotations

import json
from bisect import bisect_right

import pytest

from gallery_store.crisis import AT_RISK, MENTION, NONE, WORRIED, assess, detector, rules
from gallery_store.crisis.model import MODEL_FILE, features, load_model
from gallery_store.crisis.normalize import reading, readings, sentences
from safety.data import DEV_DIR, HELDOUT_DIR, KINDS, data_hash, load_set
from safety.evaluate import score

# -- reading -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("I want to k!ll mys3lf", "i want to kill myself"),
        ("s*icide", "suicide"),
        ("s u i c i d e", "suicide"),
        ("k.i.l.l", "kill"),
        ("sewerslide", "suicide"),
        ("kms", "kill myself"),
        ("unalive", "kill"),
        ("💊💊", "pills pills"),
        ("sucide", "suicide"),
        ("myslef", "myself"),
        ("ki\u200bll", "kill"),
        ("Don’t", "dont"),
        ("want 2 die", "want to die"),
        ("tn", "tonight"),
    ],
)
def test_reading_undoes_masks_typos_emoji_and_slang(written, read):
    assert reading(written) == read


def test_reading_keeps_ordinary_words_and_numbers():
    assert reading("I've got 60 kms to drive") == "ive got 60 km to drive"
    assert reading("took 2.5 mg") == "took 25 mg"
    assert reading("i a m fine") == "i a m fine"  # three words, not "iam"
    assert reading("the bride") == "the bride"  # a real word one letter from "bridge"


def test_reading_marks_clause_ends():
    assert reading("I'm not suicidal, just tired.") == "im not suicidal . just tired ."


def test_readings_in_one_pass_equal_one_by_one():
    pieces = ["want 2 die", "2 nights in a row", "60 kms", "s*icide!"]
    assert readings(pieces) == [reading(piece).removesuffix(" .") for piece in pieces]
    assert readings(pieces)[3] == "suicide"


def test_long_unpunctuated_text_is_cut_into_sentences():
    text = " ".join(["word"] * 100)
    assert len(sentences(text)) > 3
    assert sentences("One. Two! Three?\nFour") == ["One.", "Two!", "Three?", "Four"]


# -- the rule layer ----------------------------------------------------------------------------


def names(text: str) -> list[str]:
    return [signal.name for signal in rules.signals(reading(text))]


def test_a_negated_phrase_is_scoped_as_negated():
    assert "ideation:neg" in names("I'm not suicidal, just tired")


def test_a_past_phrase_is_scoped_as_past_unless_it_is_back():
    assert "ideation:past" in names("five years ago I tried to end it")
    assert "self_harm" in names("I cut again last night after 200 days")


def test_words_about_someone_else_are_theirs():
    assert "other_at_risk" in names("my son says he wants to die")
    assert "caregiver_harm" in names("I held the pillow and thought about it")


def test_newer_kinds_have_phrases():
    assert "overdose_taken" in names("I took 30 paracetamol an hour ago")
    assert "hurt_now" in names("he said hell kill me if i leave")
    assert "means" in names("counted out 40 tablets on the table")


def test_the_first_word_gate_finds_what_a_full_scan_finds():
    """The gate that makes the rules fast must never hide a phrase (checked on every dev text)."""
    examples, _ = load_set(DEV_DIR)
    for example in examples:
        text = " . ".join(
            r.removesuffix(" .") for r in readings(sentences(example["text"]) or ["x"])
        )
        clauses = text.split(" . ")
        starts, offset = [], 0
        for clause in clauses:
            starts.append(offset)
            offset += len(clause) + 3
        full = set()
        for kind, pattern in rules._COMPILED:
            for match in pattern.finditer(text):
                index = bisect_right(starts, match.start()) - 1
                if rules._scope(clauses, index, kind, match.start() - starts[index]):
                    full.add((kind, index))
        assert {(s.kind, s.clause) for s in rules.signals(text)} == full, example["text"]


def test_first_words_are_read_off_patterns():
    assert rules.first_words(r"\b(?:want|need) to die\b") == frozenset({"want ", "need "})
    assert rules.first_words(r"\bpills?\b") == frozenset({"pill"})
    assert rules.first_words(r"\b(?:i|ive) took\b") is None  # too short to look for
    assert rules.first_words(r"ing myself") is None  # may start inside a word


# -- the decision ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tier"),
    [
        ("I took 30 paracetamol an hour ago and I want to die.", AT_RISK),
        ("I want to kill myself tonight", AT_RISK),
        ("I wish I could disappear forever, nobody knows this", AT_RISK),
        ("My son texted me that he wants to kill himself tonight and won't answer.", WORRIED),
        ("I'm not suicidal, just very tired after the night shift.", MENTION),
        ("Lovely colours, thank you for sharing.", NONE),
        ("", NONE),
    ],
)
def test_clear_cases_get_their_tier(text, tier):
    assert assess(text).tier == tier


def test_a_crisis_line_buried_in_a_long_reflection_is_found():
    day = (
        "Today I went to the market with my sister and we bought apples and a blue scarf. "
        "The bus was late again and the driver was kind about my ticket. "
    )
    crisis = "I have counted out forty tablets and tonight I will take them all. "
    text = day * 12 + crisis + day * 12
    assert len(text.split()) > 400
    decided = assess(text)
    assert decided.tier == AT_RISK
    assert decided.sentence is not None and decided.sentence > 10


def test_an_assessment_keeps_no_words():
    decided = assess("I took 30 paracetamol an hour ago")
    assert "paracetamol" not in json.dumps(decided.__dict__)


# -- the model file ----------------------------------------------------------------------------


def test_the_model_was_trained_on_the_development_set_as_it_is_now():
    model = load_model()
    _, paths = load_set(DEV_DIR)
    assert model.meta["data_sha256"] == data_hash(paths), "retrain: python -m safety.train"
    assert model.meta["trained_on"].startswith("safety/data/dev")
    assert set(model.classes) == {NONE, AT_RISK, WORRIED, MENTION}
    assert {"1", "2"} <= set(model.meta["thresholds"])


def test_features_are_words_pairs_scope_and_rules():
    found = features("im not sad", ["ideation:neg"])
    assert {"w:sad", "b:not sad", "n:sad", "r:ideation:neg"} <= found


def test_the_model_file_is_small_enough_to_review():
    assert MODEL_FILE.stat().st_size < 8_000_000


# -- the data and the held-out scores ----------------------------------------------------------


def test_the_development_set_is_big_varied_and_from_several_writers():
    examples, paths = load_set(DEV_DIR)
    assert len(examples) >= 3000 and len(paths) >= 5
    kinds = {e["kind"] for e in examples}
    assert kinds == {kind for tier in KINDS.values() for kind in tier}
    assert len(kinds) >= 30
    assert len({e["text"] for e in examples}) == len(examples)


def test_held_out_sets_share_no_message_with_the_development_set():
    dev = {e["text"] for e in load_set(DEV_DIR)[0]}
    for folder in sorted(p for p in HELDOUT_DIR.iterdir() if p.is_dir()):
        held, _ = load_set(folder)
        assert len(held) >= 600
        assert not dev & {e["text"] for e in held}


def test_held_out_scores_do_not_slip_below_what_the_readme_reports():
    recorded = json.loads((HELDOUT_DIR / "scores.json").read_text())
    for name, expected in recorded.items():
        examples, _ = load_set(HELDOUT_DIR / name)
        outcomes = score(examples)["outcomes"]
        tier1 = [(e, got) for e, got, _ in outcomes if e["tier"] == AT_RISK]
        recall = sum(got == AT_RISK for _, got in tier1) / len(tier1)
        assert recall >= expected["t1_recall"] - 0.005, name


def test_detector_module_does_not_import_streamlit():
    import sys

    assert detector.__name__ in sys.modules
    assert "streamlit" not in {m.split(".")[0] for m in vars(detector)}
