"""What the store had to repair or could not save durably, told to therapists in the app."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .errors import PermissionDenied
from .models import ROLE_THERAPIST, User
from .policy import Policy

if TYPE_CHECKING:
    from .studio import Studio

__all__ = ["HealthNotice", "StoreHealth"]

SHOWN_FOR = timedelta(days=30)


@dataclass(frozen=True)
class HealthNotice:
    """One thing a therapist should know about the studio's data."""

    at: datetime | None
    text: str
    lost: bool  # something could not be recovered


class StoreHealth:
    """Recoveries from the last 30 days and this run's write troubles, for therapists."""

    def __init__(self, studio: Studio) -> None:
        self.studio = studio
        self.store = studio.store
        self.policy = Policy(studio)

    def notices(self, actor: User) -> list[HealthNotice]:
        """Return what recovery did lately, newest first (therapists only)."""
        with self.store.reading():
            record = self.policy.active(actor)
            if record["role"] != ROLE_THERAPIST:
                raise PermissionDenied("Only a therapist can see the studio's data health.")
            since = self.studio.now() - SHOWN_FOR
            found = []
            for entry in self.store.collection("recoveries").all():
                at = datetime.fromisoformat(entry["at"])
                if at >= since:
                    found.append(HealthNotice(at, entry["note"], entry["note"].startswith("Lost")))
            warnings = [HealthNotice(None, w, False) for w in self.store.health_warnings]
        return warnings + sorted(found, key=lambda n: n.at or since, reverse=True)
