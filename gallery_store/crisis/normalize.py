"""Reading text the way a person means it: one plain reading, split into sentences.

People in distress do not write the way a phrase list expects. They type fast ("wnat to dye"),
hide words from filters ("s*icide", "k!ll mys3lf", "s u i c i d e", "unalive"), speak in emoji
(💊🔪🪦) and slang ("kms", "sewerslide", "ctb"). ``reading`` turns all of that into lowercase
plain words so the rules and the model see one spelling; ``sentences`` splits a long reflection
so a crisis line buried in 400 words is scored on its own.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

__all__ = ["LEXICON", "reading", "readings", "sentences"]

# Words whose spelling matters most: masked and mistyped forms are mapped back onto them.
LEXICON: tuple[str, ...] = (
    "suicide", "suicidal", "kill", "killing", "myself", "overdose", "overdosed", "overdosing",
    "pills", "tablets", "paracetamol", "ibuprofen", "painkillers", "die", "dying", "dead",
    "death", "hang", "hanging", "noose", "rope", "cut", "cutting", "cutter", "harm", "harming",
    "self", "hurt", "hurting", "wrists", "bleed", "bleeding", "blood", "razor", "blade",
    "blades", "bridge", "goodbye", "tonight", "anymore", "alive", "live", "living", "end",
    "ending", "life", "gone", "burden", "jump", "jumping", "drown", "gun", "starve",
    "starving", "purge", "purging", "relapse", "relapsed", "funeral", "letters",
)  # fmt: skip

# Slang and code words, read as the plain words they stand for.
_SLANG: dict[str, str] = {
    "kms": "kill myself",
    "kmsl": "kill myself",
    "kys": "kill yourself",
    "unalive": "kill",
    "unalived": "killed",
    "unaliving": "killing",
    "unalives": "kills",
    "sewerslide": "suicide",
    "sewercide": "suicide",
    "suwuicide": "suicide",
    "selfdelete": "kill myself",
    "ctb": "end my life",  # "catch the bus"
    "sh": "self harm",
    "selfharm": "self harm",
    "selfharming": "self harming",
    "od": "overdose",
    "oded": "overdosed",
    "ods": "overdoses",
    "pcm": "paracetamol",
    "tmrw": "tomorrow",
    "tmr": "tomorrow",
    "tn": "tonight",
    "tonite": "tonight",
    "2nite": "tonight",
    "2night": "tonight",
    "2day": "today",
    "rn": "right now",
    "atm": "at the moment",
    "ngl": "not going to lie",
    "idk": "i dont know",
    "idc": "i dont care",
    "idgaf": "i dont care",
    "wanna": "want to",
    "gonna": "going to",
    "gotta": "got to",
    "u": "you",
    "ur": "your",
    "r": "are",
    "b4": "before",
    "pls": "please",
    "plz": "please",
    "bc": "because",
    "cuz": "because",
    "coz": "because",
    "cos": "because",
    "lyk": "like",
    "nd": "and",
    "n": "and",
    "wen": "when",
    "wiv": "with",
    "w": "with",
    "dnt": "dont",
    "cnt": "cant",
    "ded": "dead",
    "dyin": "dying",
    "dye": "die",
    "lil": "little",
    "nuthin": "nothing",
    "nothin": "nothing",
    "meself": "myself",
    "mesel": "myself",
    "masel": "myself",
    "mysel": "myself",
    "myslef": "myself",
    "hersel": "herself",
    "himsel": "himself",
    "ma": "my",
}

# Emoji people use for what they do not want to type, read as words.
_EMOJI: dict[str, str] = {
    "💊": " pills ",
    "🔪": " knife ",
    "🗡": " knife ",
    "🩸": " blood ",
    "🪢": " rope ",
    "⚰": " coffin ",
    "🪦": " grave ",
    "💀": " skull ",
    "☠": " skull ",
    "🔫": " gun ",
    "🌉": " bridge ",
    "🚆": " train ",
    "🚂": " train ",
    "🚄": " train ",
    "🚇": " train ",
    "🛤": " railway ",
    "🏢": " building ",
    "🌊": " water ",
    "💉": " needle ",
    "🍷": " alcohol ",
    "🍺": " alcohol ",
    "🥃": " alcohol ",
    "🍾": " alcohol ",
    "👋": " goodbye ",
    "🫡": " goodbye ",
    "🆘": " help ",
    "✂": " scissors ",
    "🤕": " hurt ",
    "🩹": " bandage ",
    "💔": " heartbroken ",
    "😭": " crying ",
    "😢": " crying ",
    "😔": " sad ",
    "😞": " sad ",
    "🥀": " wilted ",
    "🫠": " melting ",
    "😵": " dizzy ",
    "🤮": " vomit ",
    "🔥": " fire ",
    "🕯": " candle ",
    "🙏": " pray ",
    "❤": " love ",
    "💕": " love ",
    "💜": " love ",
    "🫂": " hug ",
    "🤗": " hug ",
    "😂": " laughing ",
    "🤣": " laughing ",
    "😅": " laughing ",
    "💯": " very ",
}
_EMOJI_RE = re.compile("|".join(re.escape(e) for e in sorted(_EMOJI, key=len, reverse=True)))

_QUOTES = str.maketrans({"‘": "'", "’": "'", "‛": "'", "ʼ": "'", "`": "'", "´": "'", "′": "'"})
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a",
                       "$": "s", "!": "i", "|": "l", "€": "e", "£": "l"})  # fmt: skip
_LEET_L = str.maketrans({"1": "l", "!": "l", "|": "l"})
_HAS_LETTER = re.compile(r"[^\W\d_]")
_HAS_LEET = re.compile(r"[013457@$!|€£]")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
# A token that may hide letters: letters mixed with masks or digits ("s*icide", "k!ll").
_TOKEN = re.compile(r"[\w@$!|*#€£'.\-]+")
_MASKS = re.compile(r"[*#]")
_SPLIT_MARKS = re.compile(r"[.\-_']")
# Runs of single letters with spaces or dots between them: "s u i c i d e", "k.i.l.l".
_SPACED = re.compile(r"\b(?:[a-z][ .\-_]){2,}[a-z]\b")
_STRETCH = re.compile(r"([a-z])\1{2,}")
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+|(?<=[.!?…])(?=[A-Z])")
_CLAUSE_MARKS = re.compile(r"[.,!?;:…—–()\[\]\"“”]+")
_OTHER_MARKS = re.compile(r"[^\w\s.]|_")
_SPACES = re.compile(r"\s+")
# Invisible format characters (Unicode category Cf): zero-width spaces, joiners, bidi marks.
_FORMAT_CHARS = re.compile(
    "["
    + "".join(
        re.escape(chr(code))
        for code in (*range(0x80, 0x10000), *range(0xE0000, 0xE0080))
        if unicodedata.category(chr(code)) == "Cf"
    )
    + "]"
)
_SENTINEL = " qqkcsentenceqq "  # a word no one writes, kept by every step of ``reading``
_TWO = re.compile(r"(?<=[a-z])(?<!qqkcsentenceqq) 2 (?=[a-z])(?!qqkcsentenceqq)")
_LONG_RUN_WORDS = 28  # a "sentence" longer than this, with no stop in it, is cut into pieces


def _variants_of(word: str) -> set[str]:
    """Return the words one edit away from ``word`` (delete, swap, replace, insert)."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = {a + b[1:] for a, b in splits if b}
    swaps = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    replaces = {a + c + b[1:] for a, b in splits if b for c in letters}
    inserts = {a + c + b for a, b in splits for c in letters}
    return deletes | swaps | replaces | inserts


# Common words one edit away from a lexicon word that must stay themselves ("bride", "lie").
_REAL_WORDS = frozenset(
    [
        "bride",
        "fridge",
        "ridge",
        "bridges",
        "brig",
        "cute",
        "cat",
        "cot",
        "cur",
        "cup",
        "curt",
        "cue",
        "cub",
        "gut",
        "hut",
        "nut",
        "put",
        "rut",
        "but",
        "cuts",
        "cute",
        "kit",
        "kin",
        "kilt",
        "kiln",
        "hill",
        "fill",
        "mill",
        "pill",
        "till",
        "will",
        "bill",
        "gill",
        "dill",
        "sill",
        "ill",
        "kid",
        "kiss",
        "dine",
        "dire",
        "diet",
        "die",
        "dice",
        "dime",
        "dive",
        "tie",
        "lie",
        "pie",
        "vie",
        "due",
        "doe",
        "dye",
        "dyed",
        "dyes",
        "deed",
        "dear",
        "deaf",
        "deal",
        "dean",
        "debt",
        "dad",
        "dead",
        "deer",
        "head",
        "read",
        "lead",
        "bead",
        "mead",
        "heard",
        "dread",
        "heal",
        "seal",
        "real",
        "meal",
        "teal",
        "tend",
        "bend",
        "lend",
        "mend",
        "send",
        "vend",
        "wend",
        "and",
        "endure",
        "ends",
        "hand",
        "band",
        "land",
        "sand",
        "wand",
        "live",
        "love",
        "life",
        "lift",
        "like",
        "lime",
        "line",
        "lice",
        "lane",
        "lone",
        "lore",
        "gun",
        "gum",
        "gut",
        "fun",
        "nun",
        "run",
        "sun",
        "bun",
        "pun",
        "gone",
        "bone",
        "cone",
        "done",
        "hone",
        "lone",
        "none",
        "tone",
        "zone",
        "gore",
        "hang",
        "bang",
        "fang",
        "gang",
        "pang",
        "rang",
        "sang",
        "tang",
        "hung",
        "hand",
        "hank",
        "harm",
        "farm",
        "warm",
        "charm",
        "hart",
        "hard",
        "hare",
        "hark",
        "hurt",
        "hunt",
        "hurl",
        "hum",
        "hue",
        "hub",
        "pile",
        "pole",
        "pale",
        "bills",
        "pills",
        "kills",
        "mills",
        "fills",
        "hills",
        "tills",
        "wills",
        "gills",
        "skills",
        "spills",
        "tablet",
        "tables",
        "stables",
        "alike",
        "alive",
        "olive",
        "jump",
        "dump",
        "bump",
        "hump",
        "lump",
        "pump",
        "rump",
        "sump",
        "drown",
        "crown",
        "brown",
        "frown",
        "grown",
        "blood",
        "flood",
        "blade",
        "glade",
        "blame",
        "bleed",
        "breed",
        "freed",
        "greed",
        "speed",
        "steed",
        "burden",
        "garden",
        "warden",
        "harden",
    ]
)


@lru_cache(maxsize=1)
def _typo_map() -> dict[str, str]:
    """Return mistyped forms of lexicon words (at least five letters) mapped to the word."""
    mapping: dict[str, str] = {}
    lexicon = set(LEXICON)
    for word in LEXICON:
        if len(word) < 5:
            continue
        for variant in _variants_of(word):
            if variant in lexicon or variant in _REAL_WORDS or variant in mapping:
                continue
            mapping[variant] = word
    return mapping


def _unmask(token: str) -> str:
    """Return the lexicon word a masked token stands for ("s*icide"), or the token."""
    stripped = token.rstrip("!.?")
    tail = token[len(stripped) :]
    core = stripped.strip("*#")
    if not _MASKS.search(core) or not _HAS_LETTER.search(core):
        return token
    shape = re.compile("^" + "".join("[a-z]" if c in "*#" else re.escape(c) for c in core) + "$")
    for word in LEXICON:
        if len(word) == len(core) and shape.match(word):
            return word + tail
    # One star may hide two letters ("s*cide") or none.
    loose = re.compile("^" + "".join("[a-z]{0,2}" if c in "*#" else re.escape(c) for c in core))
    for word in LEXICON:
        if abs(len(word) - len(core)) <= 2 and loose.fullmatch(word):
            return word + tail
    return core.replace("*", "").replace("#", "") + tail


def _unleet(token: str) -> str:
    """Return ``token`` with symbols read as letters, when it mixes letters and symbols."""
    core = token.rstrip("!.")  # "help!!" is an exclamation, not "helpii"
    tail = token[len(core) :]
    if not (_HAS_LETTER.search(core) and _HAS_LEET.search(core)) or _NUMBER.fullmatch(core):
        return token
    if re.fullmatch(r"\d+[a-z]{1,3}", core):  # "500mg", "30x", "2am": numbers with units
        return token
    as_i = core.translate(_LEET)
    as_l = core.translate(_LEET_L).translate(_LEET)
    lexicon = set(LEXICON)
    for candidate in (as_i, as_l):
        if candidate in lexicon or candidate in _typo_map():
            return candidate + tail
    return as_i + tail


@lru_cache(maxsize=65536)
def _fix_token(token: str) -> str:
    """Return one token in plain spelling: unmasked, unleeted, unstretched, untypoed, unslanged."""
    if _MASKS.search(token):
        token = _unmask(token)
    token = _unleet(token)
    parts = [p for p in _SPLIT_MARKS.split(token) if p] if not _NUMBER.fullmatch(token) else []
    if len(parts) > 1 and all(len(p) == 1 for p in parts):
        token = "".join(parts)  # "k.i.l.l" and "s-u-i-c-i-d-e"
    if _STRETCH.search(token):
        two = _STRETCH.sub(r"\1\1", token)
        one = _STRETCH.sub(r"\1", token)
        token = one if one in _SLANG or one in set(LEXICON) else two
    slang = _SLANG.get(token)
    if slang is not None:
        return slang
    return _typo_map().get(token, token)


def _fix_match(match: re.Match[str]) -> str:
    return _fix_token(match.group())


def _join_spaced(text: str) -> str:
    """Join runs of spaced single letters into words ("s u i c i d e" -> "suicide")."""

    def join(match: re.Match[str]) -> str:
        word = re.sub(r"[ .\-_]", "", match.group())
        # "i a m" is three words, not "iam": join only what makes a known word.
        if word in set(LEXICON) or word in _SLANG or len(word) >= 5:
            return " " + word + " "
        return match.group()

    return _SPACED.sub(join, text)


def reading(text: str) -> str:
    """Return ``text`` as plain lowercase words, with clause ends kept as " . "."""
    text = unicodedata.normalize("NFKC", text)
    # Invisible format characters split words past a filter ("ki\u200bll").
    if not text.isascii():
        text = _FORMAT_CHARS.sub("", text)
    text = text.translate(_QUOTES).casefold()
    text = _EMOJI_RE.sub(lambda m: _EMOJI[m.group()], text)
    text = text.replace("\ufe0f", "")
    text = _join_spaced(text)
    text = re.sub(r"(?<=\d) ?kms\b", " km", text)  # "60 kms an hour"
    text = re.sub(r"(?<=\d)[.,](?=\d)", "", text)  # "2.5 mg" is one number, not a clause end
    # Apostrophes go entirely, so "don't" and "dont" read the same.
    text = re.sub(r"(?<=\w)'(?=\w)", "", text)
    text = _TOKEN.sub(_fix_match, text)
    text = _TWO.sub(" to ", text)  # "want 2 die"
    text = _CLAUSE_MARKS.sub(" . ", text)
    text = _OTHER_MARKS.sub(" ", text.replace(".", " . "))
    text = _SPACES.sub(" ", text).strip()
    return re.sub(r"(?: \.)+", " .", re.sub(r"^(?:\. )+", "", text))


def readings(pieces: list[str]) -> list[str]:
    """Return the reading of each piece, read in one pass (much cheaper than one by one)."""
    if len(pieces) == 1:
        return [reading(pieces[0])]
    joined = reading(_SENTINEL.join(pieces))
    out = [part.strip().removeprefix(". ").removesuffix(" .").strip() for part in
           joined.split(_SENTINEL.strip())]  # fmt: skip
    if len(out) != len(pieces):  # cannot happen, but never trade correctness for speed
        return [reading(piece) for piece in pieces]
    return out


def sentences(text: str) -> list[str]:
    """Return the sentences of ``text`` (long unpunctuated runs cut into pieces)."""
    pieces: list[str] = []
    for part in _SENTENCE_END.split(text):
        words = part.split()
        if not words:
            continue
        if len(words) <= _LONG_RUN_WORDS:
            pieces.append(part.strip())
            continue
        for start in range(0, len(words), _LONG_RUN_WORDS // 2):
            pieces.append(" ".join(words[start : start + _LONG_RUN_WORDS]))
            if start + _LONG_RUN_WORDS >= len(words):
                break
    return pieces
