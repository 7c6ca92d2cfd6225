"""The labelled messages: where they live and how they are read and checked."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

__all__ = ["DATA_DIR", "DEV_DIR", "HELDOUT_DIR", "KINDS", "data_hash", "load_set"]

DATA_DIR = Path(__file__).with_name("data")
DEV_DIR = DATA_DIR / "dev"
HELDOUT_DIR = DATA_DIR / "heldout"

# Every kind of message, by tier (see safety/data/GUIDE.md for what each one is).
KINDS: dict[int, tuple[str, ...]] = {
    1: ("passive_ideation", "active_ideation", "intent", "plan_method", "plan_place_time",
        "means_acquired", "overdose_taken", "self_harm_now", "self_harm_urge", "relapse_danger",
        "goodbye", "final_arrangements", "eating_disorder_danger", "hurt_now"),
    2: ("other_ideation", "other_self_harm", "other_overdose", "other_goodbye_missing",
        "other_hurt_now", "caregiver_harm_thoughts"),
    3: ("negated", "past_resolved", "recovery_milestone", "grief_suicide_loss", "awareness",
        "professional_training", "titles_media", "jokes_idioms", "art_about_past"),
    0: ("everyday_support", "art_talk", "hard_day", "idioms", "grief_other", "health_meds",
        "recovery_progress", "caregiving_stress"),
}  # fmt: skip
FIELDS = {"text", "tier", "kind", "context", "style", "voice"}


def load_set(folder: Path) -> tuple[list[dict], list[Path]]:
    """Return every message in a folder's ``*.jsonl`` files, each tagged with its writer."""
    paths = sorted(Path(folder).glob("*.jsonl"))
    examples = []
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            record = json.loads(line)
            where = f"{path.name}:{number}"
            if set(record) != FIELDS:
                raise ValueError(f"{where}: fields must be {sorted(FIELDS)}")
            if record["kind"] not in KINDS.get(record["tier"], ()):
                raise ValueError(
                    f"{where}: kind {record['kind']!r} is not in tier {record['tier']}"
                )
            record["writer"] = path.stem
            examples.append(record)
    return examples, paths


def data_hash(paths: list[Path]) -> str:
    """Return one SHA-256 over the files' names and bytes (the model file records it)."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()
