"""Cleaning people's text on the way in, and showing it safely on the way out.

``clean_text`` runs on every caption, comment, reflection and name before it is stored, so
what we keep is readable, bounded and free of invisible tricks. ``escape_markdown``,
``html_text`` and ``html_attr`` run when that text is shown, so nobody's words can turn into a
link, an image, HTML or LaTeX in someone else's browser.
"""

from __future__ import annotations

import html
import re
import unicodedata
from datetime import date, datetime

from gallery_store.errors import ValidationError

__all__ = [
    "clean_text",
    "date_label",
    "day_label",
    "escape_markdown",
    "html_attr",
    "html_text",
    "relative_time",
]

# Paragraph and line separators and NEL are real line breaks in other systems; keep the break
# rather than gluing two lines together.
_LINE_BREAKS = {"\r\n": "\n", "\r": "\n", "\u2028": "\n", "\u2029": "\n", "\u0085": "\n"}
_LINE_BREAK_RE = re.compile("|".join(re.escape(k) for k in sorted(_LINE_BREAKS, key=len)[::-1]))

# Invisible characters that can reorder or hide text (the "Trojan Source" bidi tricks, zero-width
# spaces that split a word past a filter, soft hyphens, a stray byte-order mark). ZWJ (U+200D)
# stays because emoji sequences such as 👩‍🎨 need it; ZWNJ (U+200C) stays because Persian,
# Kurdish and several Indic scripts need it to spell words correctly.
_INVISIBLE = (
    "\u00ad"  # soft hyphen
    "\u061c"  # Arabic letter mark (a bidi control)
    "\u180e"  # Mongolian vowel separator
    "\u200b"  # zero-width space
    "\u200e\u200f"  # left-to-right / right-to-left marks
    "\u202a-\u202e"  # bidi embeddings and overrides
    "\u2060-\u2064"  # word joiner and invisible operators
    "\u2066-\u2069"  # bidi isolates
    "\u206a-\u206f"  # deprecated format controls
    "\ufeff"  # byte-order mark / zero-width no-break space
    "\ufff9-\ufffb"  # interlinear annotation controls
)
_INVISIBLE_RE = re.compile(f"[{_INVISIBLE}]")

# C0 and C1 control characters; tab and newline are handled on their own.
_CONTROL_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_TRAILING_SPACE_RE = re.compile(r"[ \t]+$", re.MULTILINE)
# Three or more blank lines in a row are four or more newlines; keep at most two blank lines.
_BLANK_LINES_RE = re.compile(r"\n{4,}")
_WHITESPACE_RUN_RE = re.compile(r"\s+")


def clean_text(
    value: str | None,
    *,
    field: str,
    max_length: int,
    required: bool = False,
    multiline: bool = True,
) -> str:
    """Return ``value`` cleaned for storage, or raise ValidationError naming ``field``."""
    text = _LINE_BREAK_RE.sub(lambda match: _LINE_BREAKS[match.group()], value or "")
    text = _INVISIBLE_RE.sub("", text)
    text = _CONTROL_RE.sub("", text)
    # Normalize after removing: a dropped invisible character can bring an accent next to its
    # letter, and "é" must be one stored form however it was typed.
    text = unicodedata.normalize("NFC", text)
    if multiline:
        text = _TRAILING_SPACE_RE.sub("", text)
        text = _BLANK_LINES_RE.sub("\n\n\n", text)
    else:
        # A one-line field (a name, a title) has nowhere to show a line break or a tab.
        text = _WHITESPACE_RUN_RE.sub(" ", text)
    text = text.strip()
    if required and not text:
        raise ValidationError(f"Please add {_article(field)} {field}.")
    if len(text) > max_length:
        raise ValidationError(
            f"{_article(field).capitalize()} {field} can be at most {max_length} characters"
            f" — this one has {len(text)}."
        )
    return text


def _article(noun: str) -> str:
    """Return "an" before a vowel, otherwise "a" (good enough for our field labels)."""
    return "an" if noun[:1].lower() in "aeiou" else "a"


# Every ASCII punctuation character may be backslash-escaped in CommonMark, and an escaped one is
# always shown as itself; escaping all of them also covers GFM tables (|), strikethrough (~),
# footnotes ([^1]), setext headings (===) and Streamlit's LaTeX ($).
_MARKDOWN_ESCAPES = {char: "\\" + char for char in "!\"#$%&'()*+,-./;=?@[\\]^_`{|}~"}
# "<" and ">" become entities so no HTML tag or <autolink> can ever be formed. ":" becomes an
# entity because a backslash would not stop Streamlit's ":material/" rewrite of the raw source.
_MARKDOWN_ESCAPES.update({"<": "&lt;", ">": "&gt;", ":": "&#58;"})
# Escapes are not enough for bare links: remark-gfm finds "https://…", "www.…" and "a@b.org" in
# the *decoded* text, after every escape is gone (checked in Chromium against Streamlit 1.67).
# An invisible WORD JOINER after ":" and "@" and inside "www." breaks those patterns, and
# Streamlit's ":red[…]" directives and ":smile:" shortcodes with them, without changing what
# anyone sees.
_WORD_JOINER = "\u2060"
_MARKDOWN_ESCAPES[":"] += _WORD_JOINER
_MARKDOWN_ESCAPES["@"] += _WORD_JOINER
_MARKDOWN_TABLE = str.maketrans(_MARKDOWN_ESCAPES)
_WWW_RE = re.compile(r"(?<=www)(?=\\\.)", re.IGNORECASE)
_LEADING_INDENT_RE = re.compile(r"^[ \t]+", re.MULTILINE)


def escape_markdown(text: str) -> str:
    """Return ``text`` escaped so ``st.markdown`` shows it literally, line breaks kept."""
    text = _LINE_BREAK_RE.sub(lambda match: _LINE_BREAKS[match.group()], text)
    escaped = text.translate(_MARKDOWN_TABLE)
    # Four leading spaces would start a code block; no-break spaces keep the indent as written.
    escaped = _LEADING_INDENT_RE.sub(
        lambda match: match.group().replace("\t", "    ").replace(" ", "&#160;"), escaped
    )
    escaped = _WWW_RE.sub(_WORD_JOINER, escaped)
    # Two trailing spaces make a hard line break, so a poem keeps its lines.
    return escaped.replace("\n", "  \n")


# Our own HTML is sometimes shown with st.markdown(unsafe_allow_html=True), where text between
# tags is still read as markdown; numeric entities keep it inert there too and render the same.
# The same word joiners stop bare links forming there.
# One table, applied in one pass, so no entity is ever escaped a second time.
_HTML_ESCAPES = {char: f"&#{ord(char)};" for char in "!#$()*+-.:=@[\\]^_`{|}~"}
_HTML_ESCAPES.update({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;"})
_HTML_ESCAPES[":"] += _WORD_JOINER
_HTML_ESCAPES["@"] += _WORD_JOINER
_HTML_TABLE = str.maketrans(_HTML_ESCAPES)
_HTML_WWW_RE = re.compile(r"(?<=www)(?=&#46;)", re.IGNORECASE)


def html_text(text: str) -> str:
    """Return ``text`` escaped for the body of our own HTML, line breaks as ``<br>``."""
    text = _LINE_BREAK_RE.sub(lambda match: _LINE_BREAKS[match.group()], text)
    escaped = text.translate(_HTML_TABLE)
    escaped = _HTML_WWW_RE.sub(_WORD_JOINER, escaped)
    return escaped.replace("\n", "<br>")


def html_attr(text: str) -> str:
    """Return ``text`` escaped for a quoted HTML attribute value such as ``alt``."""
    text = _WHITESPACE_RUN_RE.sub(" ", text).strip()
    return html.escape(text, quote=True)


# Month names are spelled out here rather than with %b so the date does not depend on the
# server's locale.
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def relative_time(then: datetime, now: datetime) -> str:
    """Return when ``then`` was, seen from ``now``, in words ("5 minutes ago", "yesterday")."""
    if then.tzinfo is not None and now.tzinfo is not None:
        # Calendar days ("yesterday") are counted in the viewer's time zone.
        then = then.astimezone(now.tzinfo)
    seconds = (now - then).total_seconds()
    # A time slightly in the future is clock skew between machines, not a prophecy.
    if seconds < 60:
        return "just now"
    if seconds < 60 * 60:
        return _plural(int(seconds // 60), "minute") + " ago"
    if seconds < 24 * 60 * 60:
        return _plural(int(seconds // 3600), "hour") + " ago"
    days = (now.date() - then.date()).days
    if days <= 1:
        return "yesterday"
    if days < 14:
        return f"{days} days ago"
    return f"{then.day} {_MONTHS[then.month - 1]} {then.year}"


_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def day_label(day: date) -> str:
    """Return a day as the app writes days everywhere: "Thu 3 Dec"."""
    return f"{_WEEKDAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]}"


def date_label(day: date) -> str:
    """Return a day with its year, for what is kept for years: "Thu 3 Dec 2026"."""
    return f"{day_label(day)} {day.year}"


def _plural(count: int, unit: str) -> str:
    """Return "1 minute" or "5 minutes"."""
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"
