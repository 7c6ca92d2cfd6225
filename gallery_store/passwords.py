"""Password rules and hashing (argon2id), and one-time codes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
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
    "new_code",
    "token_hash",
]

MIN_LENGTH = 10
MAX_LENGTH = 1024  # long passphrases are welcome; this only stops absurd inputs
# Readable codes: no 0/O or 1/I/L to misread when a facilitator reads one aloud.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """Return the built-in list of passwords too common to allow."""
    text = (Path(__file__).with_name("common_passwords.txt")).read_text(encoding="utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip())


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

    def check(self, password: str, *, username: str = "") -> None:
        """Refuse a password that is too short, too common or the username."""
        if len(password) < MIN_LENGTH:
            raise ValidationError(
                f"Please choose a password of at least {MIN_LENGTH} characters — "
                "a few words strung together works well."
            )
        if len(password) > MAX_LENGTH:
            raise ValidationError(f"Passwords can be at most {MAX_LENGTH} characters.")
        lowered = password.strip().lower()
        if lowered in common_passwords() or len(set(lowered)) <= 2:
            raise ValidationError(
                "That password is one of the most common ones, so it's easy to guess. "
                "Please choose another."
            )
        if username and lowered == username.strip().lower():
            raise ValidationError("Please choose a password that isn't your username.")

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
