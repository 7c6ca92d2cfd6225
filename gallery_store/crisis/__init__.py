"""Crisis support: noticing, in what people write, when someone may need help now.

``assess(text)`` returns an ``Assessment`` with a tier (see ``detector``): 1 the writer may be
at risk now, 2 they are worried about someone else, 3 a mention with no present risk, 0
nothing of concern. Services call it once and return what they decided; pages never call it.
"""

from __future__ import annotations

from .detector import AT_RISK, MENTION, NONE, TIER_NAMES, WORRIED, Assessment, assess

__all__ = ["AT_RISK", "MENTION", "NONE", "TIER_NAMES", "WORRIED", "Assessment", "assess"]
