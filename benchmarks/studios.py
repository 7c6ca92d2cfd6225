"""Studios of three sizes for benchmarks: S (1 circle), M (50 circles), L (500 circles).

One week of a circle's life is lived through the real services in a template studio (each
member shares a piece, comments on others' art, reacts, writes a reflection and checks in
before and after), then copied into every week of every circle of the target studio with
fresh ids and shifted times. People are real accounts (joined through an invite, so they
can sign in and open their notes); each copied reflection is sealed again with its new
author's key. Sizes (10 people a circle):

====  =======  =====  ==========
size  circles  weeks  records
====  =======  =====  ==========
S     1        52     ~7.6 thousand
M     50       52     ~380 thousand
L     500      104    ~7.6 million (slow to build; not in --quick runs)
====  =======  =====  ==========
"""

from __future__ import annotations

import io
import re
import secrets
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PIL import Image

from gallery_store import StudioConfig, open_studio
from gallery_store.studio import Studio

FAST = StudioConfig(argon2_time_cost=1, argon2_memory_kib=1024, argon2_parallelism=1)
PASSWORD = "a calm river of stones"
SIZES = {"S": (1, 52), "M": (50, 52), "L": (500, 104)}
MEMBERS = 10
START = datetime(2025, 11, 3, 9, 0, tzinfo=UTC)  # a Monday, a year before "now"
# Collections whose records belong to one week of activity (copied for every week).
WEEKLY = ("artworks", "comments", "reactions", "reflections", "moods")
CHUNK = 5_000  # records per transaction while copying
_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
COMMENTS = (
    "The colours here feel so calm. Thank you for sharing this.",
    "I love the way the light comes through on the left.",
    "This speaks to me after the week I've had.",
    "Such gentle lines. It made me breathe out.",
)


@dataclass
class BuiltStudio:
    studio: Studio
    therapist: object
    circles: list[str]
    people: dict[str, list[object]]  # circle id -> its members (signed-in users)
    records: int


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _tiny_image(n: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (96, 72), (60 + n * 17 % 190, 120, 160)).save(buffer, "PNG")
    return buffer.getvalue()


def _template(folder: Path) -> tuple[dict[str, list[dict]], list[str], str, dict[str, dict]]:
    """Live one week in a template circle; return its weekly records, members and texts."""
    clock = Clock(START)
    studio = open_studio(folder, FAST, clock)
    try:
        therapist = studio.accounts.bootstrap_therapist("tess", PASSWORD, "Tess")
        circle = studio.circles.create(therapist, "Template circle")
        members = []
        for n in range(MEMBERS):
            code = studio.circles.invite(therapist, circle.id)
            members.append(studio.accounts.join(code, f"person{n}", PASSWORD, f"Person {n}"))
        before = {name: {r["id"] for r in studio.store.collection(name).all()} for name in WEEKLY}
        arts = []
        for n, person in enumerate(members):
            clock.now = START + timedelta(days=n % 7, hours=n)
            studio.reflections.check_in(person, "before", 2 + n % 3, circle_id=circle.id)
            arts.append(
                studio.artworks.share(
                    person,
                    _tiny_image(n),
                    caption=f"A small piece about week {n}.",
                    alt_text="Soft washes of colour.",
                )
            )
            studio.reflections.check_in(person, "after", 3 + n % 3, circle_id=circle.id)
            studio.reflections.write(
                person, "Painting slowed my breathing down.", mood_before=2, mood_after=4
            )
        for n, person in enumerate(members):
            clock.now = START + timedelta(days=n % 7, hours=n + 2)
            for k in range(1, 5):
                studio.comments.post(person, arts[(n + k) % MEMBERS].id, COMMENTS[k - 1])
            for k, kind in enumerate(
                ("relate", "strength", "thanks", "moved", "relate", "strength")
            ):
                studio.reactions.toggle(person, arts[(n + k + 1) % MEMBERS].id, kind)
        weekly = {
            name: [
                dict(r) for r in studio.store.collection(name).all() if r["id"] not in before[name]
            ]
            for name in WEEKLY
        }
        texts = {}
        for record in weekly["reflections"]:
            owner = next(m for m in members if m.id == record["user_id"])
            texts[record["id"]] = owner.keyring.open(record["sealed"], record["id"])
        return weekly, [m.id for m in members], circle.id, texts
    finally:
        studio.close()


def _shift(value, mapping: dict[str, str], delta: timedelta):
    if isinstance(value, str):
        if value in mapping:
            return mapping[value]
        if _STAMP.match(value):
            return (datetime.fromisoformat(value) + delta).isoformat()
        return value
    if isinstance(value, list):
        return [_shift(v, mapping, delta) for v in value]
    if isinstance(value, dict):
        return {k: _shift(v, mapping, delta) for k, v in value.items()}
    return value


def build(data_dir: Path, size: str, *, scratch: Path) -> BuiltStudio:
    """Build a studio of ``size`` ("S", "M" or "L") in ``data_dir``; return it open."""
    circles_wanted, weeks = SIZES[size]
    weekly, template_people, template_circle, texts = _template(scratch / "template")
    clock = Clock(START)
    studio = open_studio(data_dir, FAST, clock)
    # Every copy of a template artwork shows the template's image files.
    shutil.copytree(scratch / "template" / "images", data_dir / "images", dirs_exist_ok=True)
    therapist = studio.accounts.bootstrap_therapist("tess", PASSWORD, "Tess")
    circles: list[str] = []
    people: dict[str, list[object]] = {}
    for c in range(circles_wanted):
        circle = studio.circles.create(therapist, f"Circle {c + 1}")
        members = []
        for n in range(MEMBERS):
            code = studio.circles.invite(therapist, circle.id)
            members.append(studio.accounts.join(code, f"c{c}-person{n}", PASSWORD, f"Person {n}"))
        circles.append(circle.id)
        people[circle.id] = members
    template_ids = [r["id"] for records in weekly.values() for r in records]
    copied = 0
    pending: list[tuple[str, dict]] = []

    def flush() -> None:
        with studio.store.transaction():
            for name, record in pending:
                studio.store.collection(name).insert(record)
        pending.clear()

    for circle_id in circles:
        members = people[circle_id]
        keyrings = {m.id: m.keyring for m in members}
        base = {template_circle: circle_id}
        base.update({old: new.id for old, new in zip(template_people, members, strict=True)})
        for week in range(weeks):
            mapping = dict(base)
            mapping.update({old: secrets.token_hex(8) for old in template_ids})
            delta = timedelta(weeks=week)
            for name, records in weekly.items():
                for record in records:
                    copy = _shift({k: v for k, v in record.items() if k != "seq"}, mapping, delta)
                    if name == "reflections":
                        keyring = keyrings[copy["user_id"]]
                        copy["sealed"] = keyring.seal(texts[record["id"]], copy["id"])
                    pending.append((name, copy))
                    copied += 1
            if len(pending) >= CHUNK:
                flush()
    if pending:
        flush()
    studio.store.checkpoint(force=True)
    clock.now = START + timedelta(weeks=weeks)
    total = sum(len(c) for c in studio.store.collections().values())
    return BuiltStudio(studio, therapist, circles, people, total)
