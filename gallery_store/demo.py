"""A demo studio: a therapist, a circle of participants, gentle abstract art and kind words.

Only ever seeds a folder that holds no studio yet, so real data is never touched.
"""

from __future__ import annotations

import io
import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

from .config import StudioConfig
from .errors import StudioError
from .studio import open_studio

__all__ = ["DEMO_PASSWORD", "DemoStudio", "abstract_art", "seed_demo"]

DEMO_PASSWORD = "paint the quiet harbour"  # noqa: S105 - the demo studio's published password
PALETTES = [
    [(91, 127, 110), (242, 177, 52), (251, 248, 243), (232, 115, 90)],
    [(74, 144, 194), (155, 79, 150), (241, 236, 227), (47, 52, 55)],
    [(138, 106, 79), (242, 177, 52), (91, 127, 110), (251, 248, 243)],
    [(232, 115, 90), (74, 144, 194), (241, 236, 227), (155, 79, 150)],
]
PEOPLE = [
    ("robin", "Robin"),
    ("sam", "Sam"),
    ("ash", "Ash"),
    ("noor", "Noor"),
]
CAPTIONS = [
    (
        "The weather inside me this week: mostly fog, one bright patch.",
        "Soft grey and green washes with a single warm yellow circle near the top.",
    ),
    (
        "My container for the things I can't fix tonight.",
        "Overlapping blue and purple shapes inside a rounded outline.",
    ),
    (
        "A steady place — the bench by the river where I eat lunch.",
        "Horizontal bands of ochre and green with small coral dots.",
    ),
    (
        "What I carry and what I'm setting down.",
        "Layered circles in coral and blue fading into a cream background.",
    ),
    (
        "Small things that went right today.",
        "Scattered bright dots in yellow, sage and coral on a light ground.",
    ),
    (
        "Boundaries, drawn in colour instead of words.",
        "A thick sage line dividing warm and cool halves of the page.",
    ),
]
COMMENTS = [
    "I notice the bright patch — it feels like hope pushing through.",
    "It reminds me of the walk home after a long shift. Thank you for sharing.",
    "I wonder what it felt like to give the fog a shape.",
    "Thank you for sharing this. The colours feel calm to me.",
]
REFLECTIONS = [
    "Making this helped me notice I'd been holding my breath all week.",
    "I liked choosing colours without thinking. I want to do that more.",
    "It was hard to start, but easier once the page wasn't blank.",
]


@dataclass(frozen=True)
class DemoStudio:
    """What the demo made and how to sign in."""

    data_dir: Path
    therapist: str
    participants: tuple[str, ...]
    password: str


def abstract_art(seed: int, size: tuple[int, int] = (900, 700)) -> bytes:
    """Return a pleasant abstract painting as JPEG bytes (deterministic for a seed)."""
    rng = random.Random(seed)
    palette = PALETTES[seed % len(PALETTES)]
    image = Image.new("RGB", size, palette[2])
    draw = ImageDraw.Draw(image, "RGBA")
    width, height = size
    for band in range(6):
        y = rng.randint(0, height)
        colour = (*rng.choice(palette), 70)
        points = [
            (x, y + int(40 * math.sin(x / rng.randint(60, 160) + band)))
            for x in range(0, width + 20, 20)
        ]
        draw.line(points, fill=colour, width=rng.randint(30, 90))
    for _ in range(rng.randint(5, 12)):
        r = rng.randint(20, 140)
        x, y = rng.randint(0, width), rng.randint(0, height)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(*rng.choice(palette), 120))
    image = image.filter(ImageFilter.GaussianBlur(1.5))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=88)
    return out.getvalue()


def seed_demo(data_dir: Path, config: StudioConfig | None = None) -> DemoStudio:
    """Create a demo studio in an empty folder; refuse a folder that holds a studio."""
    data_dir = Path(data_dir)
    if (data_dir / "store" / "meta.json").exists():
        raise StudioError(
            f"{data_dir} already holds a studio. The demo only fills an empty folder, so "
            "real data is never touched."
        )
    # The art and moods are dated through last week, so Insights (which shows only finished
    # weeks) has something to show on the first visit.
    today = datetime.now(UTC).replace(hour=10, minute=0, second=0, microsecond=0)
    last_monday = today - timedelta(days=today.weekday() + 7)
    moment = {"now": last_monday - timedelta(days=1)}
    studio = open_studio(data_dir, config, clock=lambda: moment["now"])
    try:
        therapist = studio.accounts.bootstrap_therapist(
            "therapist", DEMO_PASSWORD, "Dana (facilitator)"
        )
        circle = studio.circles.create(therapist, "Tuesday caregivers")
        people = []
        for username, name in PEOPLE:
            code = studio.circles.invite(therapist, circle.id)
            people.append(studio.accounts.join(code, username, DEMO_PASSWORD, name))
        prompt_ids = [p.id for p in studio.prompts.library(therapist)[:8]]
        rng = random.Random(7)
        for index, (caption, alt) in enumerate(CAPTIONS):
            moment["now"] = last_monday + timedelta(days=index % 7, hours=index // 7)
            artist = people[index % len(people)]
            studio.reflections.check_in(
                artist,
                "before",
                rng.randint(2, 3),
                circle_id=circle.id,
                prompt_id=prompt_ids[index],
            )
            artwork = studio.artworks.share(
                artist,
                abstract_art(index),
                caption=caption,
                alt_text=alt,
                prompt_id=prompt_ids[index],
                circle_id=circle.id,
                content_warning="grief" if index == 3 else None,
            )
            studio.reflections.check_in(
                artist, "after", rng.randint(3, 5), circle_id=circle.id, prompt_id=prompt_ids[index]
            )
            for offset in (1, 2):
                peer = people[(index + offset) % len(people)]
                studio.comments.post(peer, artwork.id, COMMENTS[(index + offset) % len(COMMENTS)])
                studio.reactions.toggle(peer, artwork.id, ["relate", "strength", "thanks"][offset])
        moment["now"] = datetime.now(UTC)
        for person, text in zip(people, REFLECTIONS, strict=False):
            studio.reflections.set_insights_consent(person, True)
            studio.reflections.write(person, text, share_with_therapist=person is people[0])
        studio.backup_now()
        return DemoStudio(data_dir, "therapist", tuple(u for u, _ in PEOPLE), DEMO_PASSWORD)
    finally:
        studio.close()
