"""What the studio hands out: frozen dataclasses built from stored records."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, ClassVar, Self

from .support import NO_SUPPORT, Support

__all__ = [
    "REACTIONS",
    "ROLE_PARTICIPANT",
    "ROLE_THERAPIST",
    "Artwork",
    "AuditEntry",
    "Circle",
    "Comment",
    "Flag",
    "Invite",
    "Membership",
    "MoodCheckin",
    "Notice",
    "PostedComment",
    "Prompt",
    "Reflection",
    "SavedReflection",
    "SharedArtwork",
    "User",
    "parse_time",
]

ROLE_THERAPIST = "therapist"
ROLE_PARTICIPANT = "participant"

# Supportive reactions instead of likes: fixed, never counted in public.
REACTIONS: dict[str, str] = {
    "relate": "I relate",
    "strength": "Sending strength",
    "thanks": "Thank you for sharing",
    "moved": "This moves me",
}


def parse_time(value: Any) -> datetime | None:
    """Turn a stored ISO time into an aware datetime."""
    if value is None or isinstance(value, datetime):
        return value
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class Model:
    """Shared construction from a stored record."""

    _times: ClassVar[tuple[str, ...]] = ()
    _tuples: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def from_record(cls, record: dict, **extra: Any) -> Self:
        """Build the model from a stored record, ignoring fields it does not have."""
        values = {}
        for f in fields(cls):  # type: ignore[arg-type]
            if f.name in extra:
                values[f.name] = extra[f.name]
            elif f.name in record:
                value = record[f.name]
                if f.name in cls._times:
                    value = parse_time(value)
                elif f.name in cls._tuples and value is not None:
                    value = tuple(value)
                values[f.name] = value
        return cls(**values)


@dataclass(frozen=True)
class User(Model):
    """A person with an account: a therapist or a participant."""

    _times = ("created_at",)

    id: str
    username: str
    display_name: str
    role: str = ROLE_PARTICIPANT
    disabled: bool = False
    created_at: datetime | None = None
    # The person's open data keys (see sealing.py), only on the signed-in person's own User.
    keyring: Any = field(default=None, compare=False, repr=False)

    @property
    def is_therapist(self) -> bool:
        """Say whether this person facilitates the studio."""
        return self.role == ROLE_THERAPIST


@dataclass(frozen=True)
class Circle(Model):
    """A peer group; the unit of privacy."""

    _times = ("created_at",)
    _tuples = ("themes",)

    id: str
    name: str
    timezone: str = "UTC"
    themes: tuple[str, ...] = ()
    allow_deep: bool = False
    archived: bool = False
    created_at: datetime | None = None
    region: str | None = None  # whose crisis lines come first; None follows the time zone


@dataclass(frozen=True)
class Membership(Model):
    """A person's place in a circle."""

    _times = ("joined_at",)

    id: str
    user_id: str
    circle_id: str
    role: str = "participant"  # or "cofacilitator"
    joined_at: datetime | None = None

    @property
    def facilitates(self) -> bool:
        """Say whether this member co-facilitates the circle."""
        return self.role == "cofacilitator"


@dataclass(frozen=True)
class Invite(Model):
    """A code that lets someone join a circle."""

    _times = ("created_at", "expires_at")

    id: str
    circle_id: str
    max_uses: int | None = 1
    uses: int = 0
    expires_at: datetime | None = None
    revoked: bool = False
    created_at: datetime | None = None
    label: str = ""
    for_therapist: bool = False
    code: str | None = None  # only known when it is made

    def usable(self, now: datetime) -> bool:
        """Say whether the code still lets someone in."""
        if self.revoked:
            return False
        if self.expires_at is not None and now >= self.expires_at:
            return False
        return self.max_uses is None or self.uses < self.max_uses


@dataclass(frozen=True)
class Prompt(Model):
    """An art prompt in the circle's library."""

    _times = ("updated_at",)
    _tuples = ("materials", "themes", "reflection_questions")

    id: str
    slug: str
    title: str
    instructions: str
    materials: tuple[str, ...] = ()
    no_materials: str | None = None
    minutes: int = 20
    themes: tuple[str, ...] = ()
    intensity: str = "gentle"
    reflection_questions: tuple[str, ...] = ()
    retired: bool = False
    updated_at: datetime | None = None


@dataclass(frozen=True)
class Artwork(Model):
    """A shared piece of art and what its artist said about it."""

    _times = ("created_at", "updated_at")

    id: str
    circle_id: str
    user_id: str
    artist_name: str
    caption: str
    alt_text: str
    content_warning: str | None = None
    prompt_id: str | None = None
    width: int = 0
    height: int = 0
    thumb_width: int = 0
    thumb_height: int = 0
    media_type: str = "image/jpeg"
    full_name: str = ""
    thumb_name: str = ""
    blur_name: str = ""
    comments_enabled: bool = True
    status: str = "visible"  # visible | hidden | removed
    exhibit_opt_in: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def media_names(self) -> list[str]:
        """Return the stored file names of this artwork."""
        return [n for n in (self.full_name, self.thumb_name, self.blur_name) if n]


@dataclass(frozen=True)
class SharedArtwork(Artwork):
    """An artwork as just shared or edited, with the support its caption calls for."""

    support: Support = NO_SUPPORT


@dataclass(frozen=True)
class Comment(Model):
    """A peer's words on an artwork."""

    _times = ("created_at", "edited_at")

    id: str
    artwork_id: str
    user_id: str
    author_name: str
    text: str
    created_at: datetime | None = None
    edited_at: datetime | None = None
    status: str = "visible"


@dataclass(frozen=True)
class PostedComment(Comment):
    """A comment as just posted or edited, with the support its words call for."""

    support: Support = NO_SUPPORT


@dataclass(frozen=True)
class Reflection(Model):
    """A private note, optionally shared with the circle's therapists."""

    _times = ("created_at", "updated_at")
    _tuples = ("feelings",)

    id: str
    user_id: str
    text: str
    artwork_id: str | None = None
    prompt_id: str | None = None
    circle_id: str | None = None
    mood_before: int | None = None
    mood_after: int | None = None
    feelings: tuple[str, ...] = ()
    share_with_therapist: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None
    # Sealed with a key that is not open (a reset without the recovery code): no text.
    locked: bool = False


@dataclass(frozen=True)
class SavedReflection(Reflection):
    """A reflection as just written or edited, with the support its words call for."""

    support: Support = NO_SUPPORT


@dataclass(frozen=True)
class MoodCheckin(Model):
    """A quick 1–5 check-in before or after making art."""

    _times = ("created_at",)
    _tuples = ("feelings",)

    id: str
    user_id: str
    moment: str  # before | after
    score: int
    circle_id: str | None = None
    prompt_id: str | None = None
    feelings: tuple[str, ...] = ()
    created_at: datetime | None = None


@dataclass(frozen=True)
class Flag(Model):
    """Something for a therapist to look at: a report or a crisis signal."""

    _times = ("created_at", "resolved_at")

    id: str
    circle_id: str
    kind: str  # crisis | report
    subject_type: str  # artwork | comment | reflection | caption
    subject_id: str
    about_user_id: str
    tier: int = 0  # for a crisis flag: 1 at risk now, 2 worried about someone
    reason: str = ""
    excerpt: str = ""
    status: str = "open"  # open | resolved
    created_at: datetime | None = None
    resolved_at: datetime | None = None
    resolution: str = ""

    @property
    def urgent(self) -> bool:
        """Say whether this flag is about someone who may be at risk now."""
        return self.kind == "crisis" and self.tier == 1


@dataclass(frozen=True)
class AuditEntry(Model):
    """Who did what, when and why, for moderation and reads of shared reflections."""

    _times = ("at",)

    id: str
    actor_id: str
    action: str
    subject_type: str
    subject_id: str
    circle_id: str | None = None
    why: str = ""
    at: datetime | None = None
    details: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Notice(Model):
    """A message for one person: about their work, or a note from a facilitator."""

    _times = ("created_at",)

    id: str
    user_id: str
    text: str
    created_at: datetime | None = None
    read: bool = False
    from_name: str = ""
