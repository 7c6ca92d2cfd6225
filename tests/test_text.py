"""Tests for cleaning people's text and showing it safely."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from gallery_store.errors import ValidationError
from gallery_store.text import (
    clean_text,
    date_label,
    day_label,
    escape_markdown,
    html_attr,
    html_text,
    relative_time,
)

WJ = "\u2060"


def clean(value: str | None, **options) -> str:
    options.setdefault("field", "caption")
    options.setdefault("max_length", 500)
    return clean_text(value, **options)


# --- clean_text -------------------------------------------------------------------------------


def test_none_becomes_empty():
    assert clean(None) == ""


def test_normalizes_to_nfc():
    assert clean("cafe\u0301") == "café"
    assert clean("cafe\u0301") == clean("caf\u00e9")


def test_normalizes_after_removing_invisible_characters():
    # A zero-width space between a letter and its accent must not leave a decomposed "é".
    assert clean("e\u200b\u0301") == "\u00e9"


def test_removes_control_characters():
    assert clean("a\x00b\x07c\x1bd\x7fe\x85f\x9fg") == "abcde\nfg"


def test_removes_bidi_overrides_and_isolates():
    trojan = "access\u202e\u2066 // admin\u2069\u202c granted\u202a\u202b\u202d\u2067\u2068"
    assert clean(trojan) == "access // admin granted"


def test_removes_zero_width_and_format_characters():
    assert clean("\ufeffki\u200bll\u200e \u200fme\u00ad\u2060") == "kill me"


def test_keeps_zero_width_joiner_so_emoji_sequences_survive():
    artist = "\U0001f469\u200d\U0001f3a8"  # woman artist
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    assert clean(f"{artist} {family}") == f"{artist} {family}"


def test_keeps_zero_width_non_joiner_for_persian():
    word = "می\u200cخواهم"
    assert clean(word) == word


def test_line_separators_become_newlines():
    assert clean("one\r\ntwo\rthree\u2028four\u2029five") == "one\ntwo\nthree\nfour\nfive"


def test_multiline_keeps_newlines_and_tabs():
    assert clean("  first\n\tsecond  \n") == "first\n\tsecond"


def test_multiline_collapses_three_or_more_blank_lines_to_two():
    assert clean("a\n\n\n\n\n\nb") == "a\n\n\nb"
    assert clean("a\n  \n \n\t\n\nb") == "a\n\n\nb"
    assert clean("a\n\n\nb") == "a\n\n\nb"


def test_single_line_turns_newlines_and_tabs_into_spaces():
    assert clean(" River\r\nat\tdusk \n", multiline=False) == "River at dusk"


def test_required_and_empty_is_a_friendly_error():
    with pytest.raises(ValidationError, match=r"^Please add a caption\.$"):
        clean("  \u200b\n ", required=True)
    with pytest.raises(ValidationError, match="Please add an alt text"):
        clean(None, field="alt text", required=True)


def test_optional_and_empty_is_fine():
    assert clean("   ") == ""


def test_too_long_names_the_field_and_the_limit():
    with pytest.raises(ValidationError) as caught:
        clean("x" * 612)
    assert caught.value.message == "A caption can be at most 500 characters — this one has 612."


def test_length_is_counted_after_cleaning():
    # Whitespace, invisible characters and decomposed accents do not count against the limit.
    assert clean("  " + "e\u0301" * 10 + "\u200b" * 50 + "  ", max_length=10) == "é" * 10


# --- escape_markdown --------------------------------------------------------------------------

HOSTILE = [
    "[click](javascript:alert(1))",
    "<img src=x onerror=alert(1)>",
    "![x](data:image/png;base64,AAAA)",
    ":red[text] :material/home: :smile:",
    "$x$ and $$y$$",
    "https://example.com",
    "www.example.com",
    "javascript:alert(1)",
    "write to me at someone@example.org",
    "<https://example.com>",
    "[ref]\n\n[ref]: https://evil.example",
    "# heading\n- item\n1. one\n> quote\n***\n| a | b |",
]

# After markdown is parsed, these would make a link, an image, HTML, math or a directive.
_UNESCAPED = re.compile(r"(?<!\\)[\[\]()<>$`*_!|#~]")


@pytest.mark.parametrize("hostile", HOSTILE)
def test_escape_markdown_leaves_no_live_syntax(hostile):
    escaped = escape_markdown(hostile)
    # Our own entities are not syntax; a doubled backslash is an escaped backslash.
    bare = re.sub(r"&(?:#\d+|lt|gt);", "", escaped).replace("\\\\", "")
    assert not _UNESCAPED.search(bare)
    assert "](" not in escaped
    assert "<" not in escaped and ">" not in escaped
    assert "://" not in escaped
    assert not re.search(r"(?i)www\\?\.", escaped)
    assert not re.search(r":[a-z]", escaped)


def test_escape_markdown_exact_outputs():
    assert escape_markdown("[click](javascript:alert(1))") == (
        f"\\[click\\]\\(javascript&#58;{WJ}alert\\(1\\)\\)"
    )
    assert escape_markdown("<img src=x onerror=alert(1)>") == (
        "&lt;img src\\=x onerror\\=alert\\(1\\)&gt;"
    )
    assert escape_markdown("$x$") == "\\$x\\$"
    assert escape_markdown(":red[text]") == f"&#58;{WJ}red\\[text\\]"
    assert escape_markdown("https://example.com") == f"https&#58;{WJ}\\/\\/example\\.com"
    assert escape_markdown("WWW.example.com") == f"WWW{WJ}\\.example\\.com"
    assert escape_markdown("a@b.org") == f"a\\@{WJ}b\\.org"
    assert escape_markdown("&amp; \\*") == "\\&amp\\; \\\\\\*"


def test_escape_markdown_keeps_plain_words_and_unicode():
    assert escape_markdown("Quiet morning, soft light 🌅 café") == (
        "Quiet morning\\, soft light 🌅 café"
    )


def test_escape_markdown_keeps_line_breaks():
    assert escape_markdown("roses\nviolets\r\n\nend") == "roses  \nviolets  \n  \nend"


def test_escape_markdown_keeps_indent_without_making_a_code_block():
    assert escape_markdown("    indented\n\tpoem") == (
        "&#160;&#160;&#160;&#160;indented  \n&#160;&#160;&#160;&#160;poem"
    )


def test_escape_markdown_of_empty_text_is_empty():
    assert escape_markdown("") == ""


# --- html_text and html_attr ------------------------------------------------------------------


def test_html_text_escapes_tags_and_keeps_line_breaks():
    assert html_text('<script>alert("x")</script>\nbye') == (
        "&lt;script&gt;alert&#40;&quot;x&quot;&#41;&lt;/script&gt;<br>bye"
    )


def test_html_text_escapes_quotes_and_ampersands_once():
    # Regression: "#" in html.escape's "&#x27;" was escaped again into "&&#35;x27;".
    assert html_text('Tom\'s "A & B" #1') == "Tom&#x27;s &quot;A &amp; B&quot; &#35;1"


def test_html_text_keeps_markdown_inert_inside_our_html():
    escaped = html_text("[x](javascript:alert(1)) $y$ https://a.example")
    assert "[" not in escaped and "(" not in escaped and "$" not in escaped
    assert "://" not in escaped and "&#58;" in escaped


def test_html_attr_escapes_quotes_and_flattens_lines():
    assert html_attr("A \"bold\" 'red' <sky>\nover & hills") == (
        "A &quot;bold&quot; &#x27;red&#x27; &lt;sky&gt; over &amp; hills"
    )


# --- relative_time ----------------------------------------------------------------------------

NOW = datetime(2026, 3, 26, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("ago", "expected"),
    [
        (timedelta(seconds=0), "just now"),
        (timedelta(seconds=59), "just now"),
        (timedelta(seconds=-30), "just now"),
        (timedelta(minutes=1), "1 minute ago"),
        (timedelta(minutes=5, seconds=30), "5 minutes ago"),
        (timedelta(hours=1), "1 hour ago"),
        (timedelta(hours=14, minutes=59), "14 hours ago"),
        (timedelta(hours=23), "23 hours ago"),
        (timedelta(days=1, hours=10), "yesterday"),
        (timedelta(days=3), "3 days ago"),
        (timedelta(days=13), "13 days ago"),
        (timedelta(days=14), "12 Mar 2026"),
        (timedelta(days=400), "19 Feb 2025"),
    ],
)
def test_relative_time(ago, expected):
    assert relative_time(NOW - ago, NOW) == expected


def test_relative_time_counts_days_in_the_viewers_time_zone():
    # 12:30 UTC is 23:30 on the 25th in Sydney; ten hours earlier is still the 25th there.
    sydney = timezone(timedelta(hours=11))
    then = datetime(2026, 3, 25, 12, 30, tzinfo=UTC)
    now = datetime(2026, 3, 26, 16, 0, tzinfo=sydney)
    assert relative_time(then, now) == "16 hours ago"
    assert relative_time(then - timedelta(hours=10), now) == "yesterday"


def test_days_are_written_one_way():
    assert day_label(date(2026, 12, 3)) == "Thu 3 Dec"
    assert day_label(datetime(2026, 11, 2, 23, 30, tzinfo=UTC)) == "Mon 2 Nov"
    assert date_label(date(2027, 1, 10)) == "Sun 10 Jan 2027"
