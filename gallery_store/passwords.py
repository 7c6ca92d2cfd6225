"""Password rules and hashing (argon2id), and one-time codes."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import re
import secrets
import unicodedata
from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.low_level import Type

from .errors import ValidationError

__all__ = [
    "MIN_LENGTH",
    "PasswordPolicy",
    "code_hash",
    "common_passwords",
    "new_code",
    "token_hash",
]

MIN_LENGTH = 10
MAX_LENGTH = 1024  # long passphrases are welcome; this only stops absurd inputs
# Readable codes: no 0/O or 1/I/L to misread when a facilitator reads one aloud.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


# The 100,000 most common breached passwords (NIST SP 800-63B): where the list comes
# from and under what licence is in data/README.md.
DATA = Path(__file__).with_name("data")
BREACHED = DATA / "common_passwords.txt.gz"
# A few of our own the breach list misses (seasons with years, caregiving words).
OURS = DATA / "common_passwords_ours.txt"
# Words a password may not be built on: the studio's own name (NIST's "context-specific words").
PRODUCT_WORDS = ("kindred", "canvas")
# What must be left once a name or product word is taken out, in letters and digits.
REST_MIN = 6

COMMON = (
    "That password is one of the most common ones, so it's easy to guess. Please choose another."
)
PERSONAL = (
    "Please choose a password that isn't your username or display name with a little added — "
    "a few unrelated words strung together works well."
)
PRODUCT = (
    "Please choose a password that isn't built on the studio's name — a few unrelated words "
    "strung together works well."
)


def _fold(text: str) -> str:
    """Return the case-insensitive form passwords are compared in."""
    return unicodedata.normalize("NFKC", text).strip().casefold()


def _compact(text: str) -> str:
    """Return only the letters and digits of ``text``, folded."""
    return "".join(ch for ch in _fold(text) if ch.isalnum())


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """Return the passwords too common to allow, folded (read once, on first use)."""
    with gzip.open(BREACHED, "rt", encoding="utf-8") as breached:
        words = breached.read().splitlines()
    words += [w for w in OURS.read_text(encoding="utf-8").splitlines() if not w.startswith("#")]
    return frozenset(_fold(w) for w in words if w.strip())


def _names_in(*names: str) -> list[str]:
    """Return the words of a person's names a password may not be built on (3+ characters)."""
    words = set()
    for name in names:
        whole = _compact(name)
        if len(whole) >= 3:
            words.add(whole)
        words.update(w for w in map(_compact, re.split(r"[\s._-]+", name)) if len(w) >= 3)
    # Longest first, so "robinbird" goes before "robin" does.
    return sorted(words, key=len, reverse=True)


def _built_on(password: str, words: list[str] | tuple[str, ...]) -> bool:
    """Say whether ``words`` are the main part of a password: little else is left."""
    whole = _compact(password)
    rest = whole
    for word in words:
        rest = rest.replace(word, "")
    if rest == whole:
        return False
    return len(rest) < REST_MIN or len(set(rest)) <= 2 or rest in common_passwords()


class PasswordPolicy:
    """Check and hash passwords with argon2id."""

    def __init__(self, time_cost: int = 3, memory_kib: int = 65536, parallelism: int = 4) -> None:
        # RFC 9106's second recommended profile; stronger than OWASP's argon2id minimum.
        self.hasher = PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_kib,
            parallelism=parallelism,
            type=Type.ID,
        )
        self._dummy_hash = self.hasher.hash(secrets.token_urlsafe(16))

    def check(self, password: str, *, username: str = "", display_name: str = "") -> None:
        """Refuse a password that is too short, too common, or built on a name."""
        if len(password) < MIN_LENGTH:
            raise ValidationError(
                f"Please choose a password of at least {MIN_LENGTH} characters — "
                "a few words strung together works well."
            )
        if len(password) > MAX_LENGTH:
            raise ValidationError(f"Passwords can be at most {MAX_LENGTH} characters.")
        folded = _fold(password)
        if folded in common_passwords() or len(set(folded)) <= 2:
            raise ValidationError(COMMON)
        if _built_on(password, _names_in(username, display_name)) or (
            username and folded == _fold(username)
        ):
            raise ValidationError(PERSONAL)
        if _built_on(password, PRODUCT_WORDS):
            raise ValidationError(PRODUCT)

    def hash(self, password: str) -> str:
        """Return an argon2id hash of the password."""
        return self.hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """Say whether the password matches; take the same time for unknown users."""
        try:
            return self.hasher.verify(stored_hash or self._dummy_hash, password) and bool(
                stored_hash
            )
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        """Say whether a hash was made with weaker parameters than today's."""
        return self.hasher.check_needs_rehash(stored_hash)


def new_code(groups: int = 3, size: int = 4, prefix: str = "") -> str:
    """Return a random readable code like ``KC-7F3K-Q9XA-2MPL``."""
    parts = ["".join(secrets.choice(CODE_ALPHABET) for _ in range(size)) for _ in range(groups)]
    return "-".join(([prefix] if prefix else []) + parts)


def normalize_code(code: str) -> str:
    """Normalize a typed code: case, spaces and dashes do not matter."""
    return "".join(ch for ch in code.upper() if ch.isalnum())


def code_hash(code: str) -> str:
    """Hash a high-entropy code for storage (the code itself is never stored)."""
    return hashlib.sha256(("code:" + normalize_code(code)).encode()).hexdigest()


def token_hash(token: str) -> str:
    """Hash a session token for storage."""
    return hashlib.sha256(("session:" + token).encode()).hexdigest()


def same(a: str, b: str) -> bool:
    """Compare secrets in constant time."""
    return hmac.compare_digest(a.encode(), b.encode())
