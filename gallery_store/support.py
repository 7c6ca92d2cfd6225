"""What the app offers someone when their words call for it: calm words and the right lines.

Services decide once (``gallery_store.crisis.assess``) and hand the page a ``Support`` to show:
at tier 1 words for someone who may be at risk now, at tier 2 words for someone worried about
another person, both with the crisis lines for the circle's country first; at tiers 3 and 0
nothing at all. Following the Samaritans' online safety guidance, the words are calm, say that
help is there now and how to reach it, and never repeat what the person wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from .crisis import AT_RISK, NONE, WORRIED, Assessment
from .errors import ValidationError
from .safety import CRISIS_MESSAGE, CrisisResource, load_crisis_resources

if TYPE_CHECKING:
    from .studio import Studio

__all__ = [
    "HELD_MESSAGE",
    "NOT_MONITORED",
    "NO_SUPPORT",
    "REGIONS",
    "WORRIED_MESSAGE",
    "Support",
    "SupportDesk",
    "order_resources",
    "region_for_timezone",
]

WORRIED_MESSAGE = (
    "It sounds like you're worried about someone, and that is a lot to hold. You don't have to "
    "handle it on your own. If they are in immediate danger, call your emergency number now. "
    "The lines below can also talk you through how to help them — and your facilitator is here "
    "for you too."
)
HELD_MESSAGE = (
    "Your comment is saved, and for now only you and your facilitator can see it. That isn't "
    "because you did anything wrong: when words sound this heavy, a facilitator reads them "
    "first, so they can check in with you. Please look at the lines below if you need someone now."
)
NOT_MONITORED = (
    "Kindred Canvas isn't watched around the clock, so your facilitator may not see this "
    "straight away. If you need help now, please reach out to one of the lines above."
)

# Countries a circle can choose for its crisis lines ("" shows the international list).
REGIONS: dict[str, str] = {
    "": "International",
    "GB": "United Kingdom",
    "IE": "Republic of Ireland",
    "US": "United States",
    "CA": "Canada",
    "AU": "Australia",
    "NZ": "New Zealand",
}
_ZONES = {
    "Europe/London": "GB", "Europe/Belfast": "GB", "Europe/Dublin": "IE",
    "Australia/": "AU", "Pacific/Auckland": "NZ", "Pacific/Chatham": "NZ",
    "America/Toronto": "CA", "America/Vancouver": "CA", "America/Edmonton": "CA",
    "America/Winnipeg": "CA", "America/Halifax": "CA", "America/St_Johns": "CA",
    "America/Regina": "CA", "America/New_York": "US", "America/Chicago": "US",
    "America/Denver": "US", "America/Phoenix": "US", "America/Los_Angeles": "US",
    "America/Anchorage": "US", "Pacific/Honolulu": "US", "US/": "US", "Canada/": "CA",
}  # fmt: skip


def region_for_timezone(timezone: str | None) -> str:
    """Return the country a circle's time zone implies, or "" when it doesn't say."""
    zone = timezone or ""
    for prefix, country in _ZONES.items():
        if zone == prefix or (prefix.endswith("/") and zone.startswith(prefix)):
            return country
    return ""


def check_region(region: str | None) -> str:
    """Return a region code the app knows, or raise a kind error."""
    code = (region or "").strip().upper()
    if code not in REGIONS:
        raise ValidationError("Please choose one of the countries offered for crisis lines.")
    return code


def order_resources(
    resources: tuple[CrisisResource, ...], country: str
) -> tuple[CrisisResource, ...]:
    """Return the lines for ``country`` first, then those for everywhere (others left out)."""
    if not country:
        everywhere = tuple(r for r in resources if "*" in r.countries)
        return everywhere + tuple(r for r in resources if "*" not in r.countries)
    local = tuple(r for r in resources if "*" not in r.countries and r.serves(country))
    return local + tuple(r for r in resources if "*" in r.countries)


@dataclass(frozen=True)
class Support:
    """What to show the writer after a save: calm words and crisis lines, or nothing."""

    tier: int = NONE
    message: str = ""
    resources: tuple[CrisisResource, ...] = ()
    held: bool = False  # a comment kept from the circle until a facilitator has read it
    country: str = ""

    @property
    def shown(self) -> bool:
        """Say whether the page should show this support at once."""
        return self.tier in (AT_RISK, WORRIED)


NO_SUPPORT = Support()


@lru_cache(maxsize=8)
def _resources(path: Path | None) -> tuple[CrisisResource, ...]:
    return load_crisis_resources(path)


class SupportDesk:
    """Turn a decision about someone's words into the support shown to them."""

    def __init__(self, studio: Studio) -> None:
        self.studio = studio
        self.circles = studio.store.collection("circles")

    def country_of(self, circle_id: str | None) -> str:
        """Return the country whose crisis lines a circle shows ("" for international)."""
        circle = self.circles.get(circle_id) if circle_id else None
        if circle is None:
            return ""
        if "region" in circle and circle["region"] is not None:
            return circle["region"]
        return region_for_timezone(circle.get("timezone"))

    def resources(self, circle_id: str | None) -> tuple[CrisisResource, ...]:
        """Return the crisis lines for a circle, its own country's first."""
        return order_resources(
            _resources(self.studio.config.crisis_resources_file), self.country_of(circle_id)
        )

    def offer(self, assessment: Assessment, circle_id: str | None, *, held: bool = False):
        """Return the support to show for a decision (nothing below tier 2)."""
        if assessment.tier == AT_RISK:
            message = CRISIS_MESSAGE
        elif assessment.tier == WORRIED:
            message = WORRIED_MESSAGE
        else:
            return NO_SUPPORT
        return Support(
            tier=assessment.tier,
            message=message,
            resources=self.resources(circle_id),
            held=held,
            country=self.country_of(circle_id),
        )
