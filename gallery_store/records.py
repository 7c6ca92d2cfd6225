"""The storage seam: what services ask of a record store, whichever backend holds it."""

from __future__ import annotations

import secrets

__all__ = ["new_id"]


def new_id() -> str:
    """Return a fresh random record id (64 bits, hex)."""
    return secrets.token_hex(8)
