"""Judging words in draft comments, the earlier crisis phrase list, and the crisis lines.

``gentle_check`` reads a draft peer comment for words that judge the art or the artist and
suggests a kinder way to say it (a phrase list kept as data here, so a therapist can read
exactly what is matched and why). A nudge is not shown when the words describe the commenter's
own feelings ("I felt ugly inside"): that is the kind of sharing we ask for.

``detect_crisis`` is the earlier, one-tier crisis detector: any phrase of its list raised the
same flag, so it alarmed on "I'm not suicidal, just tired", recovery milestones and film titles,
and on a blind set of 598 messages it caught 34% of the crisis ones. The app now decides with
``gallery_store.crisis.assess`` (tiers, scope, a statistical layer); this stays as the baseline
the benchmark and the held-out tables compare against. ``load_crisis_resources`` reads the
crisis lines, with the countries each serves.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .crisis.rules import PHRASES

__all__ = [
    "CRISIS_MESSAGE",
    "DEFAULT_CRISIS_RESOURCES",
    "GENTLE_MESSAGE",
    "CrisisMatch",
    "CrisisResource",
    "GentleNudge",
    "detect_crisis",
    "evaluate",
    "gentle_check",
    "load_crisis_resources",
    "normalize",
]

CRISIS_MESSAGE = (
    "It sounds like things may be really hard right now. You don't have to carry this alone. "
    "The people below are there to listen, any time, free and in confidence — and your "
    "facilitator is here for you too. If you are in immediate danger, please call your local "
    "emergency number now."
)

GENTLE_MESSAGE = (
    "Peer comments here are about witnessing, not judging. "
    "Could you say what you notice or feel instead?"
)

DEFAULT_CRISIS_RESOURCES = Path(__file__).with_name("crisis_resources.toml")


@dataclass(frozen=True)
class CrisisMatch:
    """A sign of crisis found in someone's words: its category and the phrase matched."""

    category: str
    phrase: str


@dataclass(frozen=True)
class GentleNudge:
    """A kinder way to say a draft comment that reads as judging."""

    phrase: str
    message: str
    suggestion: str


@dataclass(frozen=True)
class CrisisResource:
    """One place a person in crisis can turn to."""

    name: str
    contact: str
    description: str
    region: str
    url: str = ""
    countries: tuple[str, ...] = ("*",)  # ISO 3166 codes of the circles it is for, "*" for all

    def serves(self, country: str) -> bool:
        """Say whether this line is for circles in ``country`` (an ISO code, "" if unknown)."""
        return "*" in self.countries or country.upper() in self.countries


# --- Normalizing ------------------------------------------------------------------------------

_QUOTES = str.maketrans({"‘": "'", "’": "'", "‛": "'", "ʼ": "'", "`": "'", "´": "'", "′": "'"})
# Digits and symbols people use for letters to get past filters ("k1ll", "$uicide"). "1" and
# "!" are read as both "i" and "l"; see _variants.
_LEET_I = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a",
                         "$": "s", "!": "i", "|": "l"})  # fmt: skip
_LEET_L = str.maketrans({"1": "l", "!": "l"})
_TWO_RE = re.compile(r"(?<=[^\W\d_] )2(?= [^\W\d_])")  # "want 2 die"
_TOKEN_RE = re.compile(r"[\w@$!|]+")
_HAS_LETTER_RE = re.compile(r"[^\W\d_]")
_HAS_LEET_RE = re.compile(r"[013457@$!|]")
# Clause and sentence ends become " . " so a phrase can require "at the end of a thought"
# ("I can't go on." versus "I can't go on holiday").
_CLAUSE_END_RE = re.compile(r"[.!?;,:…—–\n]+")
_OTHER_MARKS_RE = re.compile(r"[^\w\s.]|_")
_SPACES_RE = re.compile(r"\s+")
_REPEATS_RE = re.compile(r"([^\W\d_])\1{2,}")


def _unleet(text: str, table: dict[int, str]) -> str:
    """Return ``text`` with symbols read as letters inside words that mix both."""

    def swap(match: re.Match[str]) -> str:
        token = match.group()
        core = token.rstrip("!")  # "help!!" is an exclamation, not "helpii"
        if _HAS_LETTER_RE.search(core) and _HAS_LEET_RE.search(core):
            return core.translate(table).translate(_LEET_I) + token[len(core) :]
        return token

    return _TOKEN_RE.sub(swap, text)


def _tidy(text: str) -> str:
    """Return ``text`` with clause ends marked and every other mark turned into a space."""
    text = _CLAUSE_END_RE.sub(" . ", text)
    text = _OTHER_MARKS_RE.sub(" ", text)
    return _SPACES_RE.sub(" ", text).strip()


def normalize(text: str) -> str:
    """Return ``text`` lowercased, apostrophe-free and with punctuation runs simplified."""
    return _variants(text)[0]


def _variants(text: str) -> tuple[str, ...]:
    """Return the normalized readings of ``text`` a phrase is searched in."""
    text = unicodedata.normalize("NFKC", text).casefold()
    # Invisible format characters split words past a filter ("ki\u200bll").
    text = "".join(char for char in text if unicodedata.category(char) != "Cf")
    # "don't" and "dont" must read the same, so apostrophes go entirely.
    text = text.translate(_QUOTES).replace("'", "")
    leet = _TWO_RE.sub("to", text)
    readings = [_tidy(text), _tidy(_unleet(leet, _LEET_I)), _tidy(_unleet(leet, _LEET_L))]
    # Stretched words ("diiiie", "killlll") are read with the run cut to two and to one letter.
    for reading in list(readings):
        readings.append(_REPEATS_RE.sub(r"\1\1", reading))
        readings.append(_REPEATS_RE.sub(r"\1", reading))
    return tuple(dict.fromkeys(readings))


# --- Crisis language --------------------------------------------------------------------------

# The earlier detector's phrases are the rule layer's first phrases (``crisis.rules.PHRASES``).
_CRISIS_RES: tuple[tuple[str, tuple[re.Pattern[str], ...]], ...] = tuple(
    (category, tuple(re.compile(phrase) for phrase in phrases)) for category, phrases in PHRASES
)


def detect_crisis(text: str) -> CrisisMatch | None:
    """Return the first phrase of the earlier, one-tier detector found in ``text``, or None.

    Kept as the baseline the benchmarks and the held-out tables compare against; the app
    decides with ``gallery_store.crisis.assess``.
    """
    if not text or not text.strip():
        return None
    readings = _variants(text)
    for category, patterns in _CRISIS_RES:
        for pattern in patterns:
            for reading in readings:
                found = pattern.search(reading)
                if found:
                    return CrisisMatch(category=category, phrase=found.group())
    return None


# --- Gentle language --------------------------------------------------------------------------

# A suggestion is only the kinder words: pages put them after their own lead-in ("You could
# try: …"), so a suggestion must not bring one of its own.
_NOTICE = "“I notice … and it makes me feel …”"
_WONDER = "“I wonder what it was like to …”"
_CURIOUS = "“I'm curious what this means to you — would you like to share?”"
_STAYS = "“What stays with me is …”"

# (phrase, regex, suggested reframe). The phrase is what the commenter is told we noticed.
_GENTLE_RULES: tuple[tuple[str, str, str], ...] = (
    ("ugly", r"\bugly\b(?! cr(?:y|ying|ied)\b)", _NOTICE),
    (
        "looks like a child did it",
        r"\blooks? like (?:a|my) (?:child|kid|toddler|(?:\w+ )?year old) (?:did|drew|made|"
        r"painted|could do)\b|\bmy (?:kid|child|toddler|son|daughter) could (?:do|draw|paint|"
        r"make)\b|\bchildish\b",
        "“There's something playful and free here — I notice …”",
    ),
    (
        "you should have",
        r"\byou (?:should have|shouldve|should of)\b"
        r"(?! (?:this|it) (?:framed|printed|on display|in a gallery|exhibited)\b)|"
        # "Should've used more blue" without a "you" is still advice; "I should have" is not.
        r"(?<!i )(?<!we )\bshould(?: have|ve| of) (?:used|made|added|done|tried|left|drawn|"
        r"painted|gone|put|chosen|picked|kept|finished)\b",
        _WONDER,
    ),
    (
        "why didn't you",
        r"\bwhy (?:didnt|did not|dont|do not|wouldnt|couldnt) you\b|\bwhy would you (?:use|"
        r"make|add|choose|pick|draw|paint|do)\b",
        _WONDER,
    ),
    (
        "you need to",
        r"\byou (?:need|have|ought|got) to (?:add|use|fix|work on|learn|practice|practise|change|"
        r"make it|try harder|improve|redo|start over)\b",
        "“What stands out to me is …”",
    ),
    (
        "fix",
        # An order ("fix the hands"), not a wish ("I wish I could fix this for you").
        r"(?<!could )(?<!to )(?<!can )(?<!will )(?<!help )\bfix (?:the|this|that|your|it)\b",
        "“What stands out to me is …”",
    ),
    (
        "wrong",
        r"(?<!nothing )(?<!no )(?<!not )(?<!never )(?<!cant go )(?<!cannot go )(?<!can not go )"
        r"(?<!couldnt go )(?<!wont go )(?<!dont go )\bwrong\b(?! (?:way|with (?:taking|me|resting|"
        r"feeling|that)|answer here)\b)",
        "“I notice … — I'm curious what it means to you.”",
    ),
    (
        "bad",
        r"\b(?:is|looks?|looked|was|seems?|kind of|kinda|pretty|really|quite|a bit|bit|very|"
        r"thats|its|so|too|youre|you are|are) bad\b|\bbad (?:drawing|painting|art|artwork|"
        r"colou?rs?|choice|idea|composition|job|work|lines|technique|shading|proportions)\b",
        _NOTICE,
    ),
    (
        "terrible",
        r"\b(?:is|looks?|looked|was|seems?|kind of|kinda|pretty|really|quite|a bit|very|so|"
        r"thats|its|youre|you are|are) (?:terrible|awful|horrible|hideous)\b|"
        r"\b(?:terrible|awful|horrible|hideous) (?:drawing|painting|art|artwork|colou?rs?|choice|"
        r"idea|composition|job|work|lines|technique|shading)\b|\bhideous\b",
        _NOTICE,
    ),
    (
        "messy",
        r"(?<!beautifully )(?<!wonderfully )(?<!gloriously )(?<!lovely )(?<!love how )"
        r"(?<!love the )\b(?:messy|sloppy)\b(?! in a good way\b)",
        "“The loose, layered marks make me feel …”",
    ),
    ("boring", r"(?<!not )(?<!never )(?<!anything but )\b(?:boring|dull|meh)\b", _STAYS),
    ("not good", r"\b(?:not|no) good\b|\bnot very good\b|\bnot your best\b", _STAYS),
    ("could be better", r"\bcould(?: be| have been|ve been| look) better\b", _STAYS),
    ("lazy", r"\b(?:lazy|amateur|amateurish|low effort)\b", _NOTICE),
    (
        "too dark",
        r"\btoo (?:dark|bright|busy|plain|simple|basic|crowded|much going on)\b",
        "“The dark tones make me feel … — I wonder what they hold for you.”",
    ),
    (
        "doesn't make sense",
        r"\b(?:doesnt|does not|dont|do not|didnt) make (?:any )?sense\b|\bmakes no sense\b",
        _CURIOUS,
    ),
    (
        "what is this",
        r"\bwhat (?:is|s|even is) (?:this|that)(?: supposed to be| meant to be)?(?= \.|$)|"
        r"\bwhat (?:is|s) (?:this|that) (?:supposed|meant) to be\b",
        _CURIOUS,
    ),
    (
        "don't like",
        r"\b(?:dont|do not) (?:really )?like (?:it|this|that|the|your|how)\b|"
        r"\bhate (?:it|this|the|your)\b(?! (?:for you|happened|you had|you went)\b)",
        "“When I look at … I feel …”",
    ),
)

_GENTLE_RES: tuple[tuple[str, re.Pattern[str], str], ...] = tuple(
    (phrase, re.compile(pattern), suggestion) for phrase, pattern, suggestion in _GENTLE_RULES
)

# Words just before a match that make it about the commenter's own feelings ("I felt ugly").
_SELF_DISCLOSURE_RE = re.compile(
    r"\b(?:i|we) (?:feel|felt|was|am|were|have felt|ve felt|have been|ve been|used to feel|"
    r"always feel|sometimes feel|often feel)\b|\b(?:im|ive|id|were|i|we)\b.*\b(?:feel|felt)\b|"
    r"\bim\b|\bi am\b|\bmade me feel\b|\bmakes me feel\b|\bfeel so\b|\bfelt so\b|\bmyself\b"
)
_SELF_WINDOW_WORDS = 4


def _about_the_commenter(reading: str, start: int) -> bool:
    """Return True if the words just before ``start`` (same clause) describe the commenter."""
    before = reading[:start].rsplit(" . ", 1)[-1]
    window = " ".join(before.split()[-_SELF_WINDOW_WORDS:])
    return bool(_SELF_DISCLOSURE_RE.search(window))


def gentle_check(text: str) -> GentleNudge | None:
    """Return a nudge if a draft comment reads as judging the art or the artist, else None."""
    if not text or not text.strip():
        return None
    reading = normalize(text)
    for phrase, pattern, suggestion in _GENTLE_RES:
        for found in pattern.finditer(reading):
            if not _about_the_commenter(reading, found.start()):
                return GentleNudge(phrase=phrase, message=GENTLE_MESSAGE, suggestion=suggestion)
    return None


# --- Measuring --------------------------------------------------------------------------------


def evaluate(
    examples: Iterable[Mapping[str, Any] | tuple[str, bool]],
    *,
    detect: Callable[[str], object | None] = detect_crisis,
    label: str = "crisis",
) -> dict[str, float]:
    """Return precision, recall, accuracy and counts of ``detect`` over labelled examples."""
    tp = fp = fn = tn = 0
    for example in examples:
        if isinstance(example, Mapping):
            text, expected = str(example["text"]), bool(example[label])
        else:
            text, expected = example
        flagged = detect(text) is not None
        if flagged and expected:
            tp += 1
        elif flagged:
            fp += 1
        elif expected:
            fn += 1
        else:
            tn += 1
    total = tp + fp + fn + tn
    return {
        # With nothing flagged (or nothing to find) there is nothing wrong to count: 1.0.
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / (tp + fn) if tp + fn else 1.0,
        "accuracy": (tp + tn) / total if total else 1.0,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
    }


# --- Crisis resources -------------------------------------------------------------------------

_RESOURCE_FIELDS = ("name", "contact", "description", "region")


def load_crisis_resources(path: Path | None = None) -> tuple[CrisisResource, ...]:
    """Return the crisis resources from ``path`` (or the default list), checking every entry."""
    path = Path(path) if path is not None else DEFAULT_CRISIS_RESOURCES
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise ValueError(f"Crisis resources file {path} cannot be read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"Crisis resources file {path} is not valid TOML: {exc}") from exc
    entries = data.get("resources")
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"Crisis resources file {path} needs at least one [[resources]] entry.")
    return tuple(_resource(path, number, entry) for number, entry in enumerate(entries, 1))


def _resource(path: Path, number: int, entry: object) -> CrisisResource:
    """Return one checked resource, or raise ValueError naming the file and the entry."""
    where = f"Crisis resources file {path}, entry {number}"
    if not isinstance(entry, dict):
        raise ValueError(f"{where} is not a table.")
    name = entry.get("name")
    if isinstance(name, str) and name.strip():
        where += f" ({name.strip()!r})"
    unknown = sorted(set(entry) - {*_RESOURCE_FIELDS, "url", "countries"})
    if unknown:
        raise ValueError(f"{where} has unknown field(s): {', '.join(unknown)}.")
    values: dict[str, str] = {}
    for field in _RESOURCE_FIELDS:
        value = entry.get(field)
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{where} needs a non-empty {field!r}.")
        values[field] = value.strip()
    url = entry.get("url", "")
    if not isinstance(url, str):
        raise ValueError(f"{where} has a 'url' that is not text.")
    url = url.strip()
    # The url becomes a link people in crisis click: only plain web addresses.
    if url and not re.match(r"https?://[^\s/$.?#][^\s]*$", url, re.IGNORECASE):
        raise ValueError(f"{where} has a 'url' that is not an http(s) web address: {url!r}.")
    countries = entry.get("countries", ["*"])
    if (
        not isinstance(countries, list)
        or not countries
        or not all(isinstance(c, str) and re.fullmatch(r"\*|[A-Za-z]{2}", c) for c in countries)
    ):
        raise ValueError(
            f"{where} has 'countries' that are not a list of two-letter codes or \"*\"."
        )
    return CrisisResource(url=url, countries=tuple(c.upper() for c in countries), **values)
