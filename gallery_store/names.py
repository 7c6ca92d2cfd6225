"""Display names: the name each person goes by now, and one name per person in a circle.

Artworks and comments keep the name their author had when they were made only as a fallback
(for a record whose author is gone). Everything shown reads the author's current name through
``current_names``, one users lookup per distinct author, so a rename shows everywhere at once.

``name_key`` is the form two names are compared in: "Robin", "ROBIN", "Ｒｏｂｉｎ" and
"Ro\u200bbin" are the same person to a reader, so nobody may take one while a member of any of
their circles goes by another.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .errors import Conflict

if TYPE_CHECKING:
    from .records import RecordStore as Store

__all__ = [
    "NAME_TAKEN",
    "current_names",
    "ensure_name_free",
    "ensure_name_free_in",
    "name_key",
    "with_current_names",
]

NAME_TAKEN = "Someone in your circle already goes by that name — please choose another."

# Characters that show nothing: the combining grapheme joiner, variation selectors and the
# Hangul fillers (format characters, category Cf, go by category below).
_UNSEEN_RE = re.compile("[\u034f\u115f\u1160\u3164\uffa0\ufe00-\ufe0f\U000e0100-\U000e01ef]")
_WHITESPACE_RE = re.compile(r"\s+")


def name_key(name: str) -> str:
    """Return the form display names are compared in (not shown anywhere)."""
    text = unicodedata.normalize("NFKC", name or "")
    # Zero-width and bidi controls (and every other format character) are dropped.
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    text = _UNSEEN_RE.sub("", text)
    text = unicodedata.normalize("NFKC", text.casefold())
    return _WHITESPACE_RE.sub(" ", text).strip()


def current_names(users: Any, user_ids: Iterable[str]) -> dict[str, str]:
    """Return the current display name of each person still here, one lookup per person."""
    names: dict[str, str] = {}
    for user_id in dict.fromkeys(user_ids):
        person = users.get(user_id)
        if person is not None:
            names[user_id] = person["display_name"]
    return names


def with_current_names(users: Any, records: Iterable[dict], field: str) -> list[dict]:
    """Return copies of ``records`` whose ``field`` holds their author's current name."""
    records = list(records)
    names = current_names(users, (r["user_id"] for r in records))
    return [{**r, field: names[r["user_id"]]} if r["user_id"] in names else r for r in records]


def ensure_name_free_in(store: Store, user_id: str, circle_ids: Iterable[str], name: str) -> None:
    """Refuse ``name`` for ``user_id`` if another member of one of ``circle_ids`` uses it."""
    key = name_key(name)
    users = store.collection("users")
    memberships = store.collection("memberships")
    seen = {user_id}
    for circle_id in dict.fromkeys(circle_ids):
        for membership in memberships.by("circle", circle_id):
            other = membership["user_id"]
            if other in seen:
                continue
            seen.add(other)
            person = users.get(other)
            if person is not None and name_key(person["display_name"]) == key:
                raise Conflict(NAME_TAKEN)


def ensure_name_free(
    store: Store, user_id: str, name: str | None = None, *, circle_id: str | None = None
) -> None:
    """Refuse a display name another member of the person's circles goes by.

    ``name`` defaults to the person's stored name (for joining). With ``circle_id`` only that
    circle is checked (the one they are joining); without, every circle they are in (a
    rename). Call it inside the transaction that stores the name or the membership.
    """
    if name is None:
        person = store.collection("users").get(user_id)
        if person is None:
            return
        name = person["display_name"]
    if circle_id is not None:
        circles = [circle_id]
    else:
        circles = [m["circle_id"] for m in store.collection("memberships").by("user", user_id)]
    ensure_name_free_in(store, user_id, circles, name)
