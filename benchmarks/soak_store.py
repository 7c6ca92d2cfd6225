"""Store soak: kill it, hammer it, run it for minutes, fill its disk; count what was lost.

    python -m benchmarks.soak_store                          # 80 kills, 6 minutes, full disk
    python -m benchmarks.soak_store --kills 10 --minutes 0.5 # a short run
    python -m benchmarks.soak_store --only kills,disk        # some phases only

Four phases, each through the real services (``open_studio(StudioConfig(...))``):

kills
    A child process shares artworks (with images), comments, reacts, writes and edits sealed
    reflections, changes passwords (re-wrapping the sealing key), has people join and delete
    their accounts, takes rolling backups, and checkpoints often (a small threshold). It
    prints a line before each call and one after it returns (the acknowledgement). The parent
    SIGKILLs it at a random moment, or just as a checkpoint, a backup or an account deletion
    begins. After every kill: ``python -m gallery_store check``; now and then one store file
    is damaged; then the studio is reopened and everything is compared with what was
    acknowledged. The one call in flight at the kill may have happened or not, but only
    wholly. Leftovers are counted after the reopen (the sweep at open ran).
threads
    32 threads on one studio for ``--minutes``: comments, reactions, reflections, shares,
    deletions and reads (gallery, comments, journal, images), with rolling backups, frequent
    checkpoints and ``check`` running beside them. Then every count is compared exactly, a
    crash-time copy of the folder is reopened (the log replays to the same state), a shard is
    damaged and repaired, and the studio is reopened. Meanwhile the folder sizes, memory
    (RSS), open files and ``$TMPDIR`` are sampled (the soak).
disk
    A 20 MB tmpfs as the data folder (or, where mounting is refused, ENOSPC injected into
    ``os.write``): writes until the disk is full, then more; every failure must be a
    ``StudioError`` with a kind message and reads must go on; a restart on the full disk; then
    space is freed and writing carries on.

Exit code 1 if anything acknowledged was lost or came back, or any check failed.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import errno
import io
import json
import logging
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

from PIL import Image

from gallery_store import StudioConfig, open_studio
from gallery_store import backups as backups_module
from gallery_store.backups import RollingBackups
from gallery_store.crisis.normalize import _fix_token
from gallery_store.errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    StudioError,
    ValidationError,
)
from gallery_store.media import MediaStore
from gallery_store.models import REACTIONS
from gallery_store.storage import Store
from gallery_store.studio import COLLECTIONS, Studio
from gallery_store.sweeper import referenced_files

__all__ = ["main"]

REPO = Path(__file__).resolve().parent.parent
THERAPIST = "tess"
THERAPIST_PASSWORD = "a calm river of stones"
PASSWORDS = ("soft clay under warm hands", "a quiet walk by the canal")
CHECKPOINT_BYTES = 8 * 1024  # the app's default is 8 MB: here a checkpoint every few calls
SPEED = 10  # the children's studio clock runs ten times fast, so backups fall due every 6 s
# Calls a child may see refused as part of normal life (a deleted artwork, an edit too late).
REFUSALS = (NotFound, PermissionDenied, ValidationError, Conflict)
# What the studio keeps that a person made and the harness follows exactly.
REACTION_KINDS = tuple(REACTIONS)
FOLLOWED = ("users", "artworks", "comments", "reactions", "reflections")


def config(**changes) -> StudioConfig:
    """Return the soak's studio settings: cheap password hashing, small shards, many backups."""
    base = StudioConfig(
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        argon2_parallelism=1,
        shard_capacity=40,
        backups_kept=3,
        backup_interval_minutes=1,
        alert_worker=False,
    )
    return base.with_overrides(**changes)


def soak_clock(epoch: float) -> Callable[[], datetime]:
    """Return a studio clock that runs ``SPEED`` times fast from ``epoch`` (same in every child)."""

    def now() -> datetime:
        return datetime.fromtimestamp(epoch + (time.time() - epoch) * SPEED, UTC)

    return now


def small_image(rng: random.Random, size: tuple[int, int] = (64, 48)) -> bytes:
    """Return a small PNG of one random colour."""
    buffer = io.BytesIO()
    colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def noise_image(size: tuple[int, int]) -> bytes:
    """Return a PNG of random pixels (compresses badly: fills a disk fast)."""
    buffer = io.BytesIO()
    Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)).save(buffer, format="PNG")
    return buffer.getvalue()


def folder_size(folder: Path) -> int:
    """Return the bytes of every file below a folder."""
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                total += (Path(root) / name).lstat().st_size
    return total


# -- what the studio holds, as the harness follows it ----------------------------------------------


@dataclass
class State:
    """Everything followed: each record by id, with the words that must come back."""

    users: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (username, password)
    artworks: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (user, caption)
    comments: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # (art, user, text)
    reactions: set[tuple[str, str, str]] = field(default_factory=set)  # (user, artwork, kind)
    reflections: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (user, text)

    def copy(self) -> State:
        return copy.deepcopy(self)

    def size(self) -> int:
        return sum(len(getattr(self, name)) for name in FOLLOWED)

    def remove_artwork(self, artwork_id: str) -> None:
        """Remove an artwork with its comments and reactions, as the studio does."""
        self.artworks.pop(artwork_id, None)
        for comment_id in [c for c, v in self.comments.items() if v[0] == artwork_id]:
            del self.comments[comment_id]
        self.reactions = {r for r in self.reactions if r[1] != artwork_id}

    def remove_user(self, user_id: str) -> None:
        """Remove a person and everything of theirs, as deleting an account does."""
        for artwork_id in [a for a, v in self.artworks.items() if v[0] == user_id]:
            self.remove_artwork(artwork_id)
        self.comments = {c: v for c, v in self.comments.items() if v[1] != user_id}
        self.reactions = {r for r in self.reactions if r[0] != user_id}
        self.reflections = {r: v for r, v in self.reflections.items() if v[0] != user_id}
        self.users.pop(user_id, None)


def keys_of(state: State) -> dict[str, set]:
    """Return the followed keys of each kind (what can be lost or come back)."""
    return {
        "users": set(state.users),
        "artworks": set(state.artworks),
        "comments": set(state.comments),
        "reactions": set(state.reactions),
        "reflections": set(state.reflections),
    }


def observe(studio: Studio) -> tuple[State, list[str]]:
    """Read what a studio holds (reflections opened with their authors' keys); and oddities."""
    store = studio.store
    problems: list[str] = []
    state = State()
    passwords = studio.accounts.passwords
    with store.reading():
        users = list(store.collection("users").all())
        for record in users:
            if record.get("erasing_since"):
                problems.append(f"user {record['id']} still marked as being erased after open")
            for candidate in (THERAPIST_PASSWORD, *PASSWORDS):
                if passwords.verify(record["password_hash"], candidate):
                    state.users[record["id"]] = (record["username"], candidate)
                    break
            else:
                problems.append(f"user {record['id']}: no known password opens the account")
        for record in store.collection("artworks").all():
            state.artworks[record["id"]] = (record["user_id"], record["caption"])
        for record in store.collection("comments").all():
            state.comments[record["id"]] = (record["artwork_id"], record["user_id"], record["text"])
        for record in store.collection("reactions").all():
            state.reactions.add((record["user_id"], record["artwork_id"], record["kind"]))
        stored_notes = {r["id"]: r["user_id"] for r in store.collection("reflections").all()}
    for user_id, (username, password) in state.users.items():
        if username == THERAPIST:
            continue
        actor = studio.accounts.authenticate(username, password)
        for note in studio.reflections.for_user(actor, user_id):
            if note.locked:
                problems.append(f"reflection {note.id} can't be opened by its author")
            state.reflections[note.id] = (user_id, note.text)
    unread = set(stored_notes) - set(state.reflections)
    if unread:
        problems.append(f"{len(unread)} reflections of people with no known password")
    return state, problems


# -- the child: drives the studio until it is killed -----------------------------------------------


def emit(line: dict) -> None:
    """Print one protocol line and flush it (a printed ack is an acknowledged call)."""
    sys.stdout.write(json.dumps(line, separators=(",", ":")) + "\n")
    sys.stdout.flush()


class Driver:
    """What one child knows of the studio and the calls it makes."""

    WEIGHTS: ClassVar[dict[str, int]] = {
        "share": 8,
        "edit_art": 3,
        "del_art": 3,
        "comment": 25,
        "edit_comment": 5,
        "del_comment": 5,
        "react": 15,
        "reflect": 10,
        "edit_refl": 5,
        "del_refl": 3,
        "join": 3,
        "del_user": 2,
        "passwd": 3,
        "backup": 2,
    }
    FOCUS: ClassVar[dict[str, dict[str, int]]] = {
        "erase": {"join": 20, "del_user": 20},
        "backup": {"backup": 25},
    }

    def __init__(self, studio: Studio, round_number: int, focus: str, rng: random.Random) -> None:
        self.studio = studio
        self.round = round_number
        self.rng = rng
        self.weights = {**self.WEIGHTS, **self.FOCUS.get(focus, {})}
        self.counter = 0
        store = studio.store
        passwords = studio.accounts.passwords
        self.people: dict[str, tuple] = {}  # id -> (User, password)
        self.therapist = None
        with store.reading():
            for record in list(store.collection("users").all()):
                for candidate in (THERAPIST_PASSWORD, *PASSWORDS):
                    if passwords.verify(record["password_hash"], candidate):
                        break
                else:
                    raise RuntimeError(f"no known password opens {record['username']}")
                user = studio.accounts.authenticate(record["username"], candidate)
                if record["username"] == THERAPIST:
                    self.therapist = user
                else:
                    self.people[user.id] = (user, candidate)
            self.circle_id = next(iter(store.collection("circles").all()))["id"]
            self.artworks = {r["id"]: r["user_id"] for r in store.collection("artworks").all()}
            self.comments = {
                r["id"]: (r["user_id"], datetime.fromisoformat(r["created_at"]))
                for r in store.collection("comments").all()
            }
            self.reflections = {
                r["id"]: r["user_id"] for r in store.collection("reflections").all()
            }

    def token(self, kind: str) -> str:
        self.counter += 1
        return f"{kind} {self.round}-{self.counter}"

    def choose(self) -> dict:
        """Pick the next call and its arguments (all a parent needs to follow it)."""
        rng = self.rng
        while True:
            kind = rng.choices(list(self.weights), weights=list(self.weights.values()))[0]
            person = rng.choice(list(self.people))
            mine_art = [a for a, u in self.artworks.items() if u == person]
            mine_comments = [c for c, (u, _t) in self.comments.items() if u == person]
            mine_notes = [r for r, u in self.reflections.items() if u == person]
            if kind == "share":
                return {"op": kind, "user": person, "caption": self.token("art")}
            if kind in ("edit_art", "del_art") and mine_art:
                op = {"op": kind, "id": rng.choice(mine_art), "user": person}
                if kind == "edit_art":
                    op["caption"] = self.token("art edited")
                return op
            if kind in ("comment", "react") and self.artworks:
                artwork = rng.choice(list(self.artworks))
                if kind == "comment":
                    return {"op": kind, "user": person, "artwork": artwork, "text": self.token("c")}
                return {
                    "op": kind,
                    "user": person,
                    "artwork": artwork,
                    "kind": rng.choice(REACTION_KINDS),
                }
            if kind in ("edit_comment", "del_comment") and mine_comments:
                op = {"op": kind, "id": rng.choice(mine_comments), "user": person}
                if kind == "edit_comment":
                    op["text"] = self.token("c edited")
                return op
            if kind == "reflect":
                return {"op": kind, "user": person, "text": self.token("note")}
            if kind in ("edit_refl", "del_refl") and mine_notes:
                op = {"op": kind, "id": rng.choice(mine_notes), "user": person}
                if kind == "edit_refl":
                    op["text"] = self.token("note edited")
                return op
            if kind == "join" and len(self.people) < 10:
                return {"op": kind, "username": f"p{self.round}x{self.counter + 1}"}
            if kind == "del_user" and len(self.people) > 3:
                return {"op": kind, "id": person}
            if kind == "passwd":
                _user, current = self.people[person]
                new = PASSWORDS[1] if current == PASSWORDS[0] else PASSWORDS[0]
                return {"op": kind, "id": person, "new": new}
            if kind == "backup":
                return {"op": kind}

    def perform(self, op: dict) -> dict:
        """Make the call; return what the parent needs to follow it."""
        studio = self.studio
        kind = op["op"]
        actor = self.people[op["user"]][0] if "user" in op else None
        if kind == "share":
            art = studio.artworks.share(
                actor, small_image(self.rng), caption=op["caption"], alt_text="Colour study"
            )
            self.artworks[art.id] = actor.id
            return {"id": art.id}
        if kind == "edit_art":
            studio.artworks.edit(actor, op["id"], caption=op["caption"])
            return {}
        if kind == "del_art":
            studio.artworks.delete(actor, op["id"])
            self._forget_artwork(op["id"])
            return {}
        if kind == "comment":
            try:
                posted = studio.comments.post(actor, op["artwork"], op["text"])
            except NotFound:
                self._forget_artwork(op["artwork"])
                raise
            self.comments[posted.id] = (actor.id, studio.now())
            return {"id": posted.id}
        if kind == "edit_comment":
            if studio.now() - self.comments[op["id"]][1] > timedelta(minutes=14):
                del self.comments[op["id"]]  # too old to edit: stop choosing it
                raise ValidationError("too late to edit")
            studio.comments.edit(actor, op["id"], op["text"])
            return {}
        if kind == "del_comment":
            studio.comments.delete(actor, op["id"])
            del self.comments[op["id"]]
            return {}
        if kind == "react":
            return {"on": studio.reactions.toggle(actor, op["artwork"], op["kind"])}
        if kind == "reflect":
            note = studio.reflections.write(actor, op["text"], feelings=["calm"])
            self.reflections[note.id] = actor.id
            return {"id": note.id}
        if kind == "edit_refl":
            studio.reflections.edit(actor, op["id"], text=op["text"])
            return {}
        if kind == "del_refl":
            studio.reflections.delete(actor, op["id"])
            del self.reflections[op["id"]]
            return {}
        if kind == "join":
            code = studio.circles.invite(self.therapist, self.circle_id)
            name = op["username"]
            user = studio.accounts.join(code, name, PASSWORDS[0], f"Painter {name[1:]}")
            self.people[user.id] = (user, PASSWORDS[0])
            return {"id": user.id}
        if kind == "del_user":
            user, password = self.people[op["id"]]
            studio.exports.delete_account(user, password)
            del self.people[op["id"]]
            for artwork_id in [a for a, u in self.artworks.items() if u == op["id"]]:
                self._forget_artwork(artwork_id)
            self.comments = {c: v for c, v in self.comments.items() if v[0] != op["id"]}
            self.reflections = {r: u for r, u in self.reflections.items() if u != op["id"]}
            return {}
        if kind == "passwd":
            user, password = self.people[op["id"]]
            studio.accounts.change_password(user, password, op["new"])
            self.people[op["id"]] = (user, op["new"])
            return {}
        if kind == "backup":
            return {"path": studio.backup_now().name}
        raise ValueError(kind)

    def _forget_artwork(self, artwork_id: str) -> None:
        self.artworks.pop(artwork_id, None)


def mark_phases(studio: Studio) -> None:
    """Print a line as each checkpoint and backup starts and ends (where a kill landed)."""
    store = studio.store
    real_checkpoint = store._checkpoint
    real_backup = studio._take_backup

    def checkpoint(*args, **kwargs):
        emit({"m": "checkpoint"})
        try:
            return real_checkpoint(*args, **kwargs)
        finally:
            emit({"m": "/checkpoint"})

    def backup(*args, **kwargs):
        emit({"m": "backup"})
        try:
            return real_backup(*args, **kwargs)
        finally:
            emit({"m": "/backup"})

    store._checkpoint = checkpoint
    studio._take_backup = backup


def child_main(data_dir: Path, round_number: int, focus: str, epoch: float, seed: int) -> None:
    """Open the studio and make calls until the parent kills this process."""
    studio = open_studio(data_dir, config(), soak_clock(epoch))
    studio.store.checkpoint_bytes = CHECKPOINT_BYTES
    mark_phases(studio)
    driver = Driver(studio, round_number, focus, random.Random(seed))
    emit({"ready": round_number})
    number = 0
    while True:
        number += 1
        op = driver.choose()
        emit({"b": number, **op})
        try:
            result = driver.perform(op)
        except REFUSALS as exc:
            emit({"r": number, "why": type(exc).__name__})
            continue
        emit({"a": number, **result})


# -- the parent: kill, check, damage, reopen, compare ----------------------------------------------


def apply(state: State, op: dict, result: dict | None, seen: State | None = None) -> State | None:
    """Return the state after a call; ``result`` None: unknown, taken from ``seen`` if it can be.

    Returns None when the call cannot have happened in ``seen`` (its new record is absent).
    """
    new = state.copy()
    kind = op["op"]
    if kind in ("share", "comment", "reflect", "join") and result is None:
        assert seen is not None
        found = None
        if kind == "share":
            found = [
                a
                for a, v in seen.artworks.items()
                if a not in state.artworks and v[1] == op["caption"]
            ]
        elif kind == "comment":
            found = [
                c
                for c, v in seen.comments.items()
                if c not in state.comments and v[2] == op["text"]
            ]
        elif kind == "reflect":
            found = [
                r
                for r, v in seen.reflections.items()
                if r not in state.reflections and v[1] == op["text"]
            ]
        else:
            found = [
                u for u, v in seen.users.items() if u not in state.users and v[0] == op["username"]
            ]
        if len(found) != 1:
            return None
        result = {"id": found[0]}
    if kind == "share":
        new.artworks[result["id"]] = (op["user"], op["caption"])
    elif kind == "edit_art":
        if op["id"] in new.artworks:
            new.artworks[op["id"]] = (new.artworks[op["id"]][0], op["caption"])
    elif kind == "del_art":
        new.remove_artwork(op["id"])
    elif kind == "comment":
        new.comments[result["id"]] = (op["artwork"], op["user"], op["text"])
    elif kind == "edit_comment":
        art, user, _text = new.comments[op["id"]]
        new.comments[op["id"]] = (art, user, op["text"])
    elif kind == "del_comment":
        new.comments.pop(op["id"], None)
    elif kind == "react":
        key = (op["user"], op["artwork"], op["kind"])
        on = result["on"] if result is not None else key not in state.reactions
        if on:
            new.reactions.add(key)
        else:
            new.reactions.discard(key)
    elif kind == "reflect":
        new.reflections[result["id"]] = (op["user"], op["text"])
    elif kind == "edit_refl":
        new.reflections[op["id"]] = (new.reflections[op["id"]][0], op["text"])
    elif kind == "del_refl":
        new.reflections.pop(op["id"], None)
    elif kind == "join":
        new.users[result["id"]] = (op["username"], PASSWORDS[0])
    elif kind == "del_user":
        new.remove_user(op["id"])
    elif kind == "passwd":
        new.users[op["id"]] = (new.users[op["id"]][0], op["new"])
    return new


def compare(expected: State, seen: State) -> dict[str, int]:
    """Count what differs: lost (acknowledged, missing), back (came back), stale (old words)."""
    want, have = keys_of(expected), keys_of(seen)
    lost = sum(len(want[k] - have[k]) for k in want)
    extra = sum(len(have[k] - want[k]) for k in want)
    stale = 0
    for name in ("users", "artworks", "comments", "reflections"):
        ours, theirs = getattr(expected, name), getattr(seen, name)
        stale += sum(1 for key in ours.keys() & theirs.keys() if ours[key] != theirs[key])
    return {"lost": lost, "extra": extra, "stale": stale}


@dataclass
class Graveyard:
    """Everything an acknowledged call deleted: none of it may come back."""

    keys: dict[str, set] = field(default_factory=lambda: {k: set() for k in FOLLOWED})

    def bury(self, before: State, after: State) -> None:
        old, new = keys_of(before), keys_of(after)
        for kind in FOLLOWED:
            self.keys[kind] |= old[kind] - new[kind]
        # A reaction turned on again is alive again.
        self.keys["reactions"] -= new["reactions"]

    def risen(self, seen: State) -> int:
        have = keys_of(seen)
        return sum(len(self.keys[k] & have[k]) for k in FOLLOWED)


@dataclass
class KillReport:
    """What the kill phase measured."""

    kills: int = 0
    modes: Counter = field(default_factory=Counter)
    landed: Counter = field(default_factory=Counter)  # what was running when the kill came
    in_flight: Counter = field(default_factory=Counter)  # the call cut off, by kind
    in_flight_applied: int = 0
    acked_calls: int = 0
    acked_writes: int = 0
    refused_calls: int = 0
    record_checks: int = 0
    final_records: int = 0
    lost: int = 0
    resurrected: int = 0
    stale: int = 0
    extra: int = 0
    torn: int = 0  # the in-flight call half applied
    problems: list[str] = field(default_factory=list)
    check_codes: Counter = field(default_factory=Counter)
    damaged: Counter = field(default_factory=Counter)
    repaired: int = 0
    refused_open: int = 0
    torn_tails: int = 0
    leftovers: Counter = field(default_factory=Counter)  # after each reopen, summed
    leftovers_at_end: Counter = field(default_factory=Counter)  # after the last reopen
    orphans_kept: int = 0  # orphan images kept because opening recorded a recovery
    child_crashes: int = 0
    tmpdir_left: int = 0
    seconds: float = 0.0


def run_check(data_dir: Path, tmpdir: Path) -> tuple[str, list[str]]:
    """Run ``python -m gallery_store check``: ("healthy" | "repairable" | "unhealthy", problems)."""
    done = subprocess.run(
        [sys.executable, "-m", "gallery_store", "--data-dir", str(data_dir), "check"],
        cwd=REPO,
        env={**os.environ, "TMPDIR": str(tmpdir)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    problems = [
        line.strip()[len("problem: ") :]
        for line in done.stdout.splitlines()
        if line.strip().startswith("problem: ")
    ]
    if done.returncode == 0:
        return "healthy", problems
    if problems and all(p.startswith("damaged, repairable") for p in problems):
        return "repairable", problems
    return "unhealthy", problems or [done.stdout[-500:] + done.stderr[-500:]]


DAMAGES: dict[str, Callable[[Path], None]] = {
    "empty": lambda p: p.write_bytes(b""),
    "half": lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]),
    "zeroed": lambda p: p.write_bytes(b"\x00" * p.stat().st_size),
    "garbled": lambda p: p.write_bytes(
        bytes((b + 13) % 256 if i % 97 == 10 else b for i, b in enumerate(p.read_bytes()))
    ),
    "missing": lambda p: p.unlink(),
}


def edit_a_record(path: Path) -> None:
    """Valid JSON with one record changed: only the checksum can tell."""
    data = json.loads(path.read_bytes())
    records = data["records"]
    if not records:
        raise ValueError("nothing to edit")
    record = records[next(iter(records))]
    key = next(k for k in record if k not in ("id", "seq"))
    record[key] = "edited outside the app"
    path.write_text(json.dumps(data))


def damage_one_file(data_dir: Path, rng: random.Random) -> str:
    """Damage one store file (a shard or meta.json) in one of six ways; say which."""
    root = data_dir / "store"
    targets = [*sorted(root.glob("*/*.json")), root / "meta.json"]
    target = rng.choice(targets)
    how = rng.choice([*DAMAGES, "edited"])
    if how == "edited":
        try:
            edit_a_record(target)
        except (ValueError, KeyError):
            how = "garbled"
    if how != "edited":
        DAMAGES[how](target)
    return f"{target.relative_to(root)} {how}"


def leftovers_after_open(studio: Studio, tmpdir: Path) -> Counter:
    """Count what a reopen's sweep left behind in the data folder and the temp folder."""
    found: Counter = Counter()
    data_dir = studio.data_dir
    studio.wait_for_backup(60)  # the one started at open is no leftover
    with studio.store.reading():
        images_used, _drafts = referenced_files(studio.store)
        users = {r["id"] for r in studio.store.collection("users").all()}
    found["orphan images"] = len(MediaStore(data_dir / "images").all_names() - images_used)
    for path in data_dir.rglob("*.kc-tmp"):
        if "quarantine" in path.relative_to(data_dir).parts:
            continue
        kind = "backup temp files" if path.name.startswith(".backup-") else "temp files"
        found[kind] += 1
    found["backup staging folders"] = len(list((data_dir / "backups").glob(".snapshot-*")))
    found["restore staging folders"] = len(list(data_dir.glob(".restore-*")))
    keys = data_dir / "keys"
    if keys.is_dir():
        found["key files of no account"] = len({p.stem for p in keys.glob("*.key")} - users)
    found["$TMPDIR entries"] = len(list(tmpdir.iterdir()))
    return +found


class Child:
    """One child process, its protocol lines, and the kill."""

    def __init__(
        self, data_dir: Path, tmpdir: Path, round_number: int, focus: str, epoch: float, seed: int
    ):
        self.lines: list[dict] = []
        self.ready = threading.Event()
        self.done = threading.Event()
        self.trigger: Callable[[dict], bool] | None = None
        self.trigger_delay = 0.0
        self.killed = False
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in finish()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "benchmarks.soak_store",
                "--child",
                str(data_dir),
                "--round",
                str(round_number),
                "--focus",
                focus,
                "--epoch",
                repr(epoch),
                "--seed",
                str(seed),
            ],
            cwd=REPO,
            env={**os.environ, "TMPDIR": str(tmpdir)},
            stdout=subprocess.PIPE,
            stderr=self.stderr,
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            if not raw.endswith(b"\n"):
                break  # cut off mid-print: not acknowledged
            line = json.loads(raw)
            self.lines.append(line)
            if "ready" in line:
                self.ready.set()
            trigger = self.trigger
            if trigger is not None and not self.killed and trigger(line):
                if self.trigger_delay:
                    time.sleep(self.trigger_delay)
                self.kill()
        self.ready.set()
        self.done.set()

    def kill(self) -> None:
        if not self.killed:
            self.killed = True
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGKILL)

    def finish(self) -> tuple[int, str]:
        self.kill()
        self.proc.wait(timeout=60)
        self.reader.join(timeout=60)
        self.stderr.seek(0)
        err = self.stderr.read().decode(errors="replace")
        self.stderr.close()
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        return self.proc.returncode, err


MODES = {"random": 4, "checkpoint": 2, "backup": 2, "erase": 2}


def setup_kill_studio(data_dir: Path, clock: Callable[[], datetime]) -> None:
    """A therapist, a circle and five participants with one artwork each."""
    rng = random.Random(1)
    with open_studio(data_dir, config(), clock) as studio:
        therapist = studio.accounts.bootstrap_therapist(THERAPIST, THERAPIST_PASSWORD, "Tess")
        circle = studio.circles.create(therapist, "Soak circle")
        for number in range(5):
            code = studio.circles.invite(therapist, circle.id)
            person = studio.accounts.join(
                code, f"starter{number}", PASSWORDS[0], f"Starter {number}"
            )
            studio.artworks.share(
                person, small_image(rng), caption=f"art start-{number}", alt_text="Colour study"
            )


def run_kills(
    workdir: Path, kills: int, rng: random.Random, log: Callable[[str], None]
) -> KillReport:
    """Kill a driving child ``kills`` times; after each, check, maybe damage, reopen, compare."""
    report = KillReport()
    started = time.perf_counter()
    data_dir = workdir / "kills"
    tmpdir = workdir / "kills-tmp"
    tmpdir.mkdir(parents=True, exist_ok=True)
    epoch = time.time()
    clock = soak_clock(epoch)
    setup_kill_studio(data_dir, clock)
    with open_studio(data_dir, config(), clock) as studio:
        model, problems = observe(studio)
    report.problems.extend(problems)
    graves = Graveyard()
    schedule = [m for m, w in MODES.items() for _ in range(w)]
    for round_number in range(1, kills + 1):
        mode = rng.choice(schedule)
        child = Child(data_dir, tmpdir, round_number, mode, epoch, rng.randrange(2**32))
        if not child.ready.wait(timeout=120):
            child.kill()
        if mode == "random":
            time.sleep(rng.uniform(0.02, 1.5))
            child.kill()
        else:
            wanted = {
                "checkpoint": ("m", "checkpoint"),
                "backup": ("m", "backup"),
                "erase": ("op", "del_user"),
            }[mode]
            not_before = time.monotonic() + rng.uniform(0.0, 0.8)
            child.trigger_delay = rng.uniform(
                0.0, {"checkpoint": 0.004, "backup": 0.01, "erase": 0.02}[mode]
            )
            child.trigger = lambda line, w=wanted, t=not_before: (
                line.get(w[0]) == w[1] and time.monotonic() >= t
            )
            if not child.done.wait(timeout=30):
                child.kill()
        code, err = child.finish()
        report.kills += 1
        report.modes[mode] += 1
        if code != -signal.SIGKILL:
            report.child_crashes += 1
            report.problems.append(f"round {round_number}: the child exited {code}: {err[-800:]}")

        # Follow the acknowledged calls; find the one in flight and what was running.
        pending: dict | None = None
        running: list[str] = []
        for line in child.lines:
            if "m" in line:
                name = line["m"]
                if name.startswith("/"):
                    if name[1:] in running:
                        running.remove(name[1:])
                else:
                    running.append(name)
            elif "b" in line:
                pending = line
            elif "a" in line and pending is not None:
                after = apply(model, pending, line)
                assert after is not None
                graves.bury(model, after)
                model = after
                report.acked_calls += 1
                if pending["op"] != "backup":
                    report.acked_writes += 1
                pending = None
            elif "r" in line:
                report.refused_calls += 1
                pending = None
        landed = set(running)
        if pending is not None:
            report.in_flight[pending["op"]] += 1
            if pending["op"] == "del_user":
                landed.add("erase")
            elif pending["op"] == "backup":
                landed.add("backup")
        for name in sorted(landed) or ["between calls"]:
            report.landed[name] += 1

        verdict, problems = run_check(data_dir, tmpdir)
        report.check_codes[verdict] += 1
        if verdict == "unhealthy":
            report.problems.append(f"round {round_number}: check: {problems}")
        damaged = None
        if rng.random() < 0.25:
            damaged = damage_one_file(data_dir, rng)
            report.damaged[damaged.split()[-1]] += 1
            verdict, problems = run_check(data_dir, tmpdir)
            report.check_codes[f"{verdict} after damage"] += 1
            if verdict == "unhealthy":
                report.problems.append(f"round {round_number}: check after {damaged}: {problems}")

        try:
            studio = open_studio(data_dir, config(), clock)
        except StudioError as exc:
            report.refused_open += 1
            report.problems.append(
                f"round {round_number} ({damaged}): refused to open: {exc.message}"
            )
            break
        try:
            notes = list(studio.store.recovery_notes)
            if any("never confirmed" in n for n in notes):
                report.torn_tails += 1
            if damaged is not None and any("rebuilt" in n for n in notes):
                report.repaired += 1
            seen, problems = observe(studio)
            report.problems.extend(f"round {round_number}: {p}" for p in problems)
            left = leftovers_after_open(studio, tmpdir)
            if notes and left.get("orphan images"):
                report.orphans_kept += left["orphan images"]
            report.leftovers.update(left)
            report.leftovers_at_end = left
        finally:
            studio.close()

        candidates = [(model, False)]
        if pending is not None:
            applied = apply(model, pending, None, seen)
            if applied is not None:
                candidates.append((applied, True))
        match = next(
            (
                (s, a)
                for s, a in candidates
                if compare(s, seen) == {"lost": 0, "extra": 0, "stale": 0}
            ),
            None,
        )
        report.record_checks += model.size()
        report.resurrected += graves.risen(seen)
        if match is None:
            best = min((compare(s, seen) for s, _a in candidates), key=lambda d: sum(d.values()))
            report.lost += best["lost"]
            report.extra += best["extra"]
            report.stale += best["stale"]
            if pending is not None and pending["op"] in ("del_art", "del_user"):
                report.torn += 1
            report.problems.append(
                f"round {round_number} ({mode}, in flight {pending and pending['op']}, "
                f"damaged {damaged}): {best}"
            )
            new_model = seen
        else:
            new_model = match[0]
            if match[1]:
                report.in_flight_applied += 1
        graves.bury(model, new_model)
        model = new_model
        log(
            f"  kill {round_number:>3} {mode:<10} landed in {','.join(sorted(landed)) or '-':<22} "
            f"in flight {pending['op'] if pending else '-':<12} check {verdict:<10} "
            f"{('damaged ' + damaged) if damaged else ''}"
        )
    report.final_records = model.size()
    report.tmpdir_left = len(list(tmpdir.iterdir()))
    report.seconds = time.perf_counter() - started
    return report


# -- many threads on one studio, and the soak ------------------------------------------------------


def everything(store: Store) -> dict[str, dict[str, dict]]:
    """Every record of every collection but those opening itself writes."""
    skip = {"recoveries", "sessions", "setup"}
    return {
        name: {r["id"]: dict(r) for r in collection.all()}
        for name, collection in store.collections().items()
        if name not in skip
    }


def open_copy(folder: Path) -> Store:
    """Open a copied data folder's store as the app would (repairing from its backups)."""
    rolling = RollingBackups(folder, keep=10, interval_minutes=60)
    store = Store(
        folder, shard_capacity=500, backups=rolling.copies, backup_positions=rolling.positions
    )
    store.open(COLLECTIONS)
    return store


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@dataclass
class Sample:
    at: float
    records: int
    store: int
    log: int
    segments: int
    backups: int
    backup_files: int
    tmpdir: int
    rss: int
    fds: int
    threads: int
    calls: int
    position_cache: int  # archive positions cached in memory (one per archive ever seen)
    shards: int  # shard files in the store
    word_cache: int  # words the crisis check keeps spelled out (a bounded cache)
    meta: int  # bytes of meta.json


@dataclass
class Worker:
    """What one thread did, and what of it the studio must still hold."""

    user: object
    circle: str
    artworks: dict[str, str] = field(default_factory=dict)
    comments: dict[str, tuple[str, str, float]] = field(default_factory=dict)  # art, text, at
    reactions: set[tuple[str, str]] = field(default_factory=set)
    reflections: dict[str, str] = field(default_factory=dict)
    calls: Counter = field(default_factory=Counter)
    refused: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    slowest: dict[str, float] = field(default_factory=dict)


@dataclass
class ThreadReport:
    threads: int = 0
    seconds: float = 0.0
    calls: Counter = field(default_factory=Counter)
    refused: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    slowest: dict[str, float] = field(default_factory=dict)  # the slowest call of each kind
    backups: int = 0
    backup_errors: list[str] = field(default_factory=list)
    checks: Counter = field(default_factory=Counter)
    check_problems: list[str] = field(default_factory=list)
    checkpoints: int = 0
    expected: dict[str, int] = field(default_factory=dict)
    mismatches: dict[str, int] = field(default_factory=dict)
    replay_identical: bool = False
    repair_identical: bool = False
    repair_note: str = ""
    reopen_identical: bool = False
    samples: list[Sample] = field(default_factory=list)


def run_threads(
    workdir: Path, threads: int, seconds: float, log: Callable[[str], None]
) -> ThreadReport:
    """Hammer one studio from ``threads`` threads for ``seconds``; verify, replay, repair."""
    report = ThreadReport(threads=threads)
    data_dir = workdir / "threads"
    tmpdir = workdir / "threads-tmp"
    tmpdir.mkdir(parents=True, exist_ok=True)
    settings = config(shard_capacity=500, backups_kept=5)
    studio = open_studio(data_dir, settings)
    studio.store.checkpoint_bytes = 128 * 1024
    checkpoints = Counter()
    real_checkpoint = studio.store._checkpoint

    def counted_checkpoint(*args, **kwargs):
        checkpoints["n"] += 1
        return real_checkpoint(*args, **kwargs)

    studio.store._checkpoint = counted_checkpoint
    therapist = studio.accounts.bootstrap_therapist(THERAPIST, THERAPIST_PASSWORD, "Tess")
    circles = [studio.circles.create(therapist, f"Circle {n}").id for n in range(2)]
    rng = random.Random(2)
    workers: list[Worker] = []
    art_lists: dict[str, list[str]] = {c: [] for c in circles}
    art_lock = threading.Lock()
    for number in range(threads):
        circle = circles[number % 2]
        code = studio.circles.invite(therapist, circle)
        person = studio.accounts.join(code, f"worker{number}", PASSWORDS[0], f"Worker {number}")
        worker = Worker(person, circle)
        art = studio.artworks.share(
            person, small_image(rng), caption=f"first {number}", alt_text="Study"
        )
        worker.artworks[art.id] = art.caption
        art_lists[circle].append(art.id)
        workers.append(worker)

    # The crisis check keeps up to 65,536 words it has spelled out; filled first, its growth
    # cannot pass for a leak in the memory measured below.
    for number in range(_fix_token.cache_info().maxsize):
        _fix_token(f"w{number}")
    stop = threading.Event()
    begin = threading.Barrier(threads + 1)

    def arts_now() -> set[str]:
        with art_lock:
            return {a for ids in art_lists.values() for a in ids}

    def work(index: int) -> None:
        worker = workers[index]
        me = worker.user
        wrng = random.Random(index)
        begin.wait()
        counter = 0
        while not stop.is_set():
            counter += 1
            kind = wrng.choices(
                [
                    "comment",
                    "react",
                    "reflect",
                    "edit_refl",
                    "del_refl",
                    "share",
                    "del_art",
                    "del_comment",
                    "edit_comment",
                    "gallery",
                    "thread",
                    "journal",
                    "image",
                ],
                weights=[25, 18, 10, 4, 3, 1, 0.5, 4, 3, 10, 8, 6, 4],
            )[0]
            with art_lock:
                arts = list(art_lists[worker.circle])
            started = time.perf_counter()
            try:
                if kind == "comment" and arts:
                    if len(worker.comments) >= 40:
                        oldest = next(iter(worker.comments))
                        studio.comments.delete(me, oldest)
                        del worker.comments[oldest]
                        kind = "del_comment"
                    else:
                        artwork = wrng.choice(arts)
                        text = f"warm colours {index}-{counter}"
                        posted = studio.comments.post(me, artwork, text)
                        worker.comments[posted.id] = (artwork, text, time.time())
                elif kind == "react" and arts:
                    artwork = wrng.choice(arts)
                    reaction = wrng.choice(REACTION_KINDS)
                    if studio.reactions.toggle(me, artwork, reaction):
                        worker.reactions.add((artwork, reaction))
                    else:
                        worker.reactions.discard((artwork, reaction))
                elif kind == "reflect":
                    if len(worker.reflections) >= 20:
                        oldest = next(iter(worker.reflections))
                        studio.reflections.delete(me, oldest)
                        del worker.reflections[oldest]
                        kind = "del_refl"
                    else:
                        text = f"a quiet note {index}-{counter}"
                        note = studio.reflections.write(me, text, feelings=["calm"])
                        worker.reflections[note.id] = text
                elif kind == "edit_refl" and worker.reflections:
                    note_id = wrng.choice(list(worker.reflections))
                    text = f"a quiet note, edited {index}-{counter}"
                    studio.reflections.edit(me, note_id, text=text)
                    worker.reflections[note_id] = text
                elif kind == "del_refl" and worker.reflections:
                    note_id = wrng.choice(list(worker.reflections))
                    studio.reflections.delete(me, note_id)
                    del worker.reflections[note_id]
                elif kind == "share":
                    if len(worker.artworks) >= 4:
                        kind = "del_art"
                    else:
                        art = studio.artworks.share(
                            me,
                            small_image(wrng),
                            caption=f"study {index}-{counter}",
                            alt_text="Study",
                        )
                        worker.artworks[art.id] = art.caption
                        with art_lock:
                            art_lists[worker.circle].append(art.id)
                if kind == "del_art" and len(worker.artworks) > 1:
                    artwork = next(iter(worker.artworks))
                    with art_lock:
                        art_lists[worker.circle].remove(artwork)
                    studio.artworks.delete(me, artwork)
                    del worker.artworks[artwork]
                elif kind == "del_comment" and worker.comments:
                    comment_id = wrng.choice(list(worker.comments))
                    studio.comments.delete(me, comment_id)
                    del worker.comments[comment_id]
                elif kind == "edit_comment" and worker.comments:
                    comment_id = next(reversed(worker.comments))
                    artwork, _text, at = worker.comments[comment_id]
                    if time.time() - at < 10 * 60:
                        text = f"warm colours, edited {index}-{counter}"
                        studio.comments.edit(me, comment_id, text)
                        worker.comments[comment_id] = (artwork, text, at)
                elif kind == "gallery":
                    studio.artworks.gallery(me, worker.circle, page=wrng.choice([1, 1, 2]))
                elif kind == "thread" and arts:
                    studio.comments.for_artwork(me, wrng.choice(arts))
                    studio.reactions.mine(me, wrng.choice(arts))
                elif kind == "journal":
                    studio.reflections.for_user(me, me.id)
                elif kind == "image" and arts:
                    studio.artworks.image(me, wrng.choice(arts), "thumb")
                worker.calls[kind] += 1
            except (NotFound, PermissionDenied) as exc:
                # Someone deleted the artwork a moment ago: the call changed nothing, and
                # this person's comments on it went with it.
                for comment_id in [c for c, v in worker.comments.items() if v[0] not in arts_now()]:
                    del worker.comments[comment_id]
                worker.refused[f"{kind} {type(exc).__name__}: {exc}"[:90]] += 1
            except Exception as exc:  # anything else is a failure of the store
                worker.errors.append(f"{kind}: {type(exc).__name__}: {exc}")
            took = time.perf_counter() - started
            worker.slowest[kind] = max(worker.slowest.get(kind, 0.0), took)

    def backups() -> None:
        while not stop.wait(3.0):
            try:
                studio.backup_now()
                report.backups += 1
            except Exception as exc:
                report.backup_errors.append(repr(exc))

    def checks() -> None:
        while not stop.wait(20.0):
            verdict, problems = run_check(data_dir, tmpdir)
            report.checks[verdict] += 1
            if verdict != "healthy":
                report.check_problems.append(f"check while running: {problems}")

    def sample(calls: int) -> Sample:
        store = studio.store
        with store.reading():
            records = sum(len(c) for c in store.collections().values())
        backups_dir = data_dir / "backups"
        return Sample(
            at=time.perf_counter() - started,
            records=records,
            store=folder_size(data_dir / "store"),
            log=folder_size(data_dir / "store" / "log"),
            segments=len(store.log.segments()),
            backups=folder_size(backups_dir),
            backup_files=len(list(backups_dir.glob("store-*.zip"))),
            tmpdir=len(list(tmpdir.iterdir())),
            rss=rss_kb(),
            fds=open_fds(),
            threads=threading.active_count(),
            calls=calls,
            position_cache=len(backups_module._position_cache),
            shards=len(list((data_dir / "store").glob("*/*.json"))),
            word_cache=_fix_token.cache_info().currsize,
            meta=(data_dir / "store" / "meta.json").stat().st_size,
        )

    pool = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(threads)]
    helpers = [
        threading.Thread(target=backups, daemon=True),
        threading.Thread(target=checks, daemon=True),
    ]
    for thread in pool + helpers:
        thread.start()
    started = time.perf_counter()
    report.samples.append(sample(0))
    begin.wait()
    next_log = started + 30
    while time.perf_counter() - started < seconds:
        time.sleep(min(5.0, max(0.1, seconds - (time.perf_counter() - started))))
        calls = sum(sum(w.calls.values()) for w in workers)
        report.samples.append(sample(calls))
        if time.perf_counter() >= next_log:
            last = report.samples[-1]
            log(
                f"  {last.at:>5.0f} s: {calls} calls, {last.records} records, RSS "
                f"{last.rss / 1024:.0f} MB, {last.fds} fds, log {last.log / 1024:.0f} KB"
            )
            next_log += 30
    stop.set()
    for thread in pool + helpers:
        thread.join(timeout=120)
    report.seconds = time.perf_counter() - started
    report.samples.append(sample(sum(sum(w.calls.values()) for w in workers)))
    for worker in workers:
        report.calls.update(worker.calls)
        report.refused.update(worker.refused)
        report.errors.extend(worker.errors)
        for kind, took in worker.slowest.items():
            report.slowest[kind] = max(report.slowest.get(kind, 0.0), took)
    report.checkpoints = checkpoints["n"]

    # Exact counts: what every thread was told was saved, less what cascaded away.
    seen, problems = observe(studio)
    report.errors.extend(problems)
    artworks = {a: c for w in workers for a, c in w.artworks.items()}
    comments = {
        cid: (art, str(w.user.id), text)
        for w in workers
        for cid, (art, text, _at) in w.comments.items()
        if art in artworks
    }
    reactions = {
        (str(w.user.id), art, kind) for w in workers for art, kind in w.reactions if art in artworks
    }
    notes = {rid: (str(w.user.id), text) for w in workers for rid, text in w.reflections.items()}
    report.expected = {
        "artworks": len(artworks),
        "comments": len(comments),
        "reactions": len(reactions),
        "reflections": len(notes),
    }
    report.mismatches = {
        "artworks": len(set(artworks) ^ set(seen.artworks))
        + sum(1 for a in artworks if a in seen.artworks and seen.artworks[a][1] != artworks[a]),
        "comments": len(set(comments) ^ set(seen.comments))
        + sum(1 for c in comments if seen.comments.get(c, comments[c]) != comments[c]),
        "reactions": len(reactions ^ seen.reactions),
        "reflections": len(set(notes) ^ set(seen.reflections))
        + sum(1 for r in notes if seen.reflections.get(r, notes[r]) != notes[r]),
    }

    # The log replays to the same state: a copy as a crash would leave it (no checkpoint).
    crash_copy = workdir / "threads-crash-copy"
    damaged_copy = workdir / "threads-damaged-copy"
    with studio.store.lock:
        snapshot = everything(studio.store)
        for target in (crash_copy, damaged_copy):
            shutil.copytree(data_dir / "store", target / "store")
            shutil.copytree(
                data_dir / "backups", target / "backups", ignore=shutil.ignore_patterns(".*")
            )
    store = open_copy(crash_copy)
    try:
        report.replay_identical = everything(store) == snapshot and not [
            n for n in store.recovery_notes if "never confirmed" not in n
        ]
    finally:
        store.close()
    shards = sorted(damaged_copy.glob("store/comments/*.json"))
    DAMAGES["garbled"](shards[len(shards) // 2])
    store = open_copy(damaged_copy)
    try:
        report.repair_identical = everything(store) == snapshot
        report.repair_note = "; ".join(store.recovery_notes)[:200]
    finally:
        store.close()
    studio.close()
    target = sorted((data_dir / "store" / "reflections").glob("*.json"))[0]
    DAMAGES["half"](target)
    with open_studio(data_dir, settings) as again:
        report.reopen_identical = everything(again.store) == snapshot and bool(
            again.store.recovery_notes
        )
    return report


# -- a full disk -----------------------------------------------------------------------------------


class InjectedDisk:
    """Where mounting is refused: ``os.write`` (and archive members) hit ENOSPC past a budget."""

    def __init__(self) -> None:
        self.free: int | None = None
        self._write = os.write
        self._writestr = zipfile.ZipFile.writestr

    def __enter__(self) -> InjectedDisk:
        disk = self

        def write(fd: int, data) -> int:
            if disk.free is None or fd <= 2:
                return disk._write(fd, data)
            if disk.free <= 0:
                raise OSError(errno.ENOSPC, "No space left on device")
            part = bytes(memoryview(data)[: disk.free])
            written = disk._write(fd, part)
            disk.free -= written
            return written

        def writestr(archive, name, data, *args, **kwargs):
            if disk.free is not None:
                size = len(data)
                if disk.free < size:
                    raise OSError(errno.ENOSPC, "No space left on device")
                disk.free -= size
            return disk._writestr(archive, name, data, *args, **kwargs)

        os.write = write
        zipfile.ZipFile.writestr = writestr
        return self

    def fill(self, budget: int) -> None:
        self.free = budget

    def release(self) -> None:
        self.free = None

    def __exit__(self, *exc: object) -> None:
        os.write = self._write
        zipfile.ZipFile.writestr = self._writestr


@dataclass
class DiskReport:
    mode: str = ""
    acked: Counter = field(default_factory=Counter)
    failures: Counter = field(default_factory=Counter)  # by exception type and message kind
    raw_errors: list[str] = field(default_factory=list)
    full_after: int = 0  # calls until the first failure
    while_full: Counter = field(default_factory=Counter)  # calls made once full: ok / failed
    reads_ok: int = 0
    read_errors: list[str] = field(default_factory=list)
    lost_while_full: int = 0
    restart_opened: bool = False
    restart_error: str = ""
    lost_after_restart: int = 0
    after_freeing: Counter = field(default_factory=Counter)
    lost_at_end: int = 0
    check: str = ""
    leftovers: Counter = field(default_factory=Counter)
    health_warnings: int = 0


@contextlib.contextmanager
def small_disk(
    workdir: Path, size_mb: int, inject: bool
) -> Iterator[tuple[Path, str, InjectedDisk | None]]:
    """Yield a folder on a ``size_mb`` tmpfs (or a plain folder with injected ENOSPC)."""
    mount = Path(tempfile.mkdtemp(prefix="kc-soak-disk-", dir=workdir))
    mounted = False
    if not inject:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(mount)],
            capture_output=True,
            check=False,
        )
        mounted = done.returncode == 0
    try:
        if mounted:
            yield mount, f"tmpfs of {size_mb} MB", None
        else:
            with InjectedDisk() as disk:
                yield mount, "ENOSPC injected into os.write", disk
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(mount)], check=False)
        shutil.rmtree(mount, ignore_errors=True)


def run_full_disk(
    workdir: Path, log: Callable[[str], None], *, inject: bool = False, size_mb: int = 20
) -> DiskReport:
    """Fill the data folder's disk, keep writing, read, restart on it, free space, write on."""
    report = DiskReport()
    rng = random.Random(3)
    with small_disk(workdir, size_mb, inject) as (mount, mode, injected):
        report.mode = mode
        data_dir = mount / "data"
        settings = config(shard_capacity=100)
        studio = open_studio(data_dir, settings)
        therapist = studio.accounts.bootstrap_therapist(THERAPIST, THERAPIST_PASSWORD, "Tess")
        circle = studio.circles.create(therapist, "Full disk circle")
        people = []
        for number in range(3):
            code = studio.circles.invite(therapist, circle.id)
            people.append(
                studio.accounts.join(code, f"filler{number}", PASSWORDS[0], f"Filler {number}")
            )
        ballast = mount / "ballast"
        ballast_bytes = 2 * 1024 * 1024
        if injected is None:
            ballast.write_bytes(os.urandom(ballast_bytes))
        else:
            injected.fill(size_mb * 1024 * 1024 - folder_size(mount) - ballast_bytes)
        acked = State()
        calls = 0

        def one_call(kind: str, person) -> bool:
            """Make one call; True if saved. Counts its outcome."""
            nonlocal calls
            calls += 1
            try:
                if kind == "share":
                    size = (rng.randrange(200, 400), rng.randrange(150, 300))
                    art = studio.artworks.share(
                        person, noise_image(size), caption=f"texture {calls}", alt_text="Grain"
                    )
                    acked.artworks[art.id] = (person.id, art.caption)
                elif kind == "comment":
                    if not acked.artworks:
                        return False
                    artwork = rng.choice(list(acked.artworks))
                    text = f"lovely texture {calls} " + "x" * rng.randrange(50, 400)
                    posted = studio.comments.post(person, artwork, text)
                    acked.comments[posted.id] = (artwork, person.id, text)
                elif kind == "reflect":
                    text = f"a note while the disk fills {calls}"
                    note = studio.reflections.write(person, text)
                    acked.reflections[note.id] = (person.id, text)
                elif kind == "react":
                    if not acked.artworks:
                        return False
                    artwork = rng.choice(list(acked.artworks))
                    reaction = rng.choice(REACTION_KINDS)
                    key = (person.id, artwork, reaction)
                    if studio.reactions.toggle(person, artwork, reaction):
                        acked.reactions.add(key)
                    else:
                        acked.reactions.discard(key)
                elif kind == "backup":
                    studio.backup_now()
                report.acked[kind] += 1
                return True
            except StudioError as exc:
                kind_of = "disk is full" if "disk is full" in exc.message else exc.message[:60]
                report.failures[f"{type(exc).__name__}: {kind_of}"] += 1
                return False
            except Exception as exc:
                report.raw_errors.append(f"{kind}: {type(exc).__name__}: {exc}")
                return False

        kinds = ["share", "comment", "comment", "comment", "reflect", "react", "comment", "reflect"]
        failed_in_a_row = 0
        while failed_in_a_row < 40 and calls < 20000:
            kind = "backup" if calls % 25 == 24 else kinds[calls % len(kinds)]
            ok = one_call(kind, rng.choice(people))
            if not ok and not report.full_after:
                report.full_after = calls
            failed_in_a_row = 0 if ok else failed_in_a_row + 1
        log(f"  disk full after {report.full_after} calls; {sum(report.acked.values())} saved")
        for kind in ["comment", "reflect", "react", "share", "backup"] * 20:
            ok = one_call(kind, rng.choice(people))
            report.while_full["saved" if ok else "refused"] += 1

        def reads(where: Studio, who: list) -> None:
            for person in who:
                try:
                    where.artworks.gallery(person, circle.id)
                    for artwork_id in list(acked.artworks)[:30]:
                        where.comments.for_artwork(person, artwork_id)
                        where.artworks.image(person, artwork_id, "thumb")
                    where.reflections.for_user(person, person.id)
                    report.reads_ok += 1
                except Exception as exc:
                    report.read_errors.append(f"{type(exc).__name__}: {exc}")

        def lost_in(where: Studio) -> int:
            seen, _problems = observe(where)
            diff = compare(acked, seen)
            return diff["lost"] + diff["stale"]

        reads(studio, people)
        report.lost_while_full = lost_in(studio)
        report.health_warnings = len(studio.store.health_warnings)

        # Restart on the full disk: opening never needs to write.
        studio.close()
        try:
            studio = open_studio(data_dir, settings)
            report.restart_opened = True
        except Exception as exc:
            report.restart_error = f"{type(exc).__name__}: {exc}"
        if report.restart_opened:
            people = [studio.accounts.authenticate(p.username, PASSWORDS[0]) for p in people]
            reads(studio, people)
            report.lost_after_restart = lost_in(studio)
            log(f"  restarted on the full disk: {report.lost_after_restart} lost")
            # Free space and write on.
            if injected is None:
                ballast.unlink()
            else:
                injected.fill(ballast_bytes)
            for kind in ["comment", "reflect", "react", "comment", "share"] * 20:
                ok = one_call(kind, rng.choice(people))
                report.after_freeing["saved" if ok else "refused"] += 1
            studio.close()
        if injected is not None:
            injected.release()
        with open_studio(data_dir, settings) as studio:
            report.lost_at_end = lost_in(studio)
            report.leftovers = leftovers_after_open(studio, Path(tempfile.gettempdir()))
        if injected is None:
            report.check, _problems = run_check(data_dir, workdir)
        log(f"  after freeing space: {listing(report.after_freeing)}; {report.lost_at_end} lost")
    return report


class StoreLog(logging.Handler):
    """Count the store's own log lines by kind, and keep them off the screen."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.counts: Counter = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.counts[f"{record.levelname.lower()}: {str(record.msg)[:60]}"] += 1


# -- the summary -----------------------------------------------------------------------------------


def kb(size: int) -> str:
    return f"{size / 1024:,.0f} KB" if size < 10 * 1024 * 1024 else f"{size / 1024 / 1024:,.1f} MB"


def listing(counts: Counter | dict) -> str:
    """Return ``a 3, b 1`` for a count of things (largest first)."""
    return ", ".join(f"{k} {v}" for k, v in Counter(counts).most_common() if v) or "none"


def kill_rows(r: KillReport) -> tuple[bool, list[tuple[str, str]]]:
    ok = not (r.lost or r.resurrected or r.stale or r.extra or r.problems or r.refused_open)
    return ok, [
        ("KILLS", f"{r.kills} SIGKILLs in {r.seconds:.0f} s ({listing(r.modes)})"),
        ("  landed during", listing(r.landed)),
        ("  call cut off", f"{listing(r.in_flight)} ({r.in_flight_applied} took effect, wholly)"),
        ("  acknowledged calls", f"{r.acked_calls} ({r.acked_writes} writes)"),
        ("  refused as expected", str(r.refused_calls)),
        ("  records compared", f"{r.record_checks} over all reopens; {r.final_records} at the end"),
        ("  lost / resurrected", f"{r.lost} / {r.resurrected}"),
        ("  stale / extra / half", f"{r.stale} / {r.extra} / {r.torn}"),
        ("  check after a kill", listing(r.check_codes)),
        ("  damaged after a kill", f"{sum(r.damaged.values())}: {listing(r.damaged)}"),
        ("  rebuilt / refused", f"{r.repaired} / {r.refused_open}"),
        ("  torn log tails", f"{r.torn_tails} (left out: never acknowledged)"),
        ("  left after reopens", f"{listing(r.leftovers)} (summed over every reopen)"),
        ("  left after the last", listing(r.leftovers_at_end)),
        ("  orphans kept", f"{r.orphans_kept} (by reopens that had repaired something)"),
        ("  $TMPDIR at the end", f"{r.tmpdir_left} entries"),
        ("  child crashes", str(r.child_crashes)),
    ]


def thread_rows(r: ThreadReport) -> tuple[bool, list[tuple[str, str]]]:
    ok = (
        not (r.errors or r.backup_errors or r.check_problems or any(r.mismatches.values()))
        and r.replay_identical
        and r.repair_identical
        and r.reopen_identical
    )
    samples = r.samples
    first, last = samples[0], samples[-1]
    warm = next((s for s in samples if s.at >= min(60, r.seconds / 4)), first)

    def path(name: str, show: Callable[[int], str] = str) -> str:
        values = [getattr(s, name) for s in samples]
        steps = [show(getattr(s, name)) for s in (first, warm, last)]
        return " -> ".join(steps) + f" (max {show(max(values))})"

    total = sum(r.calls.values())
    same = {True: "identical", False: "DIFFERENT"}
    return ok, [
        ("THREADS", f"{r.threads} threads, {r.seconds:.0f} s: {total} calls"),
        ("  calls a second", f"{total / r.seconds:.0f}"),
        (
            "  slowest call",
            ", ".join(
                f"{k} {v * 1000:.0f} ms"
                for k, v in sorted(r.slowest.items(), key=lambda kv: -kv[1])[:5]
            ),
        ),
        ("  calls", listing(r.calls)),
        ("  refused (races)", f"{sum(r.refused.values())}"),
        ("  errors", f"{len(r.errors)}"),
        (
            "  backups / checkpoints",
            f"{r.backups} ({len(r.backup_errors)} failed) / {r.checkpoints}",
        ),
        ("  check while running", listing(r.checks)),
        ("  expected at the end", listing(r.expected)),
        ("  mismatches", ", ".join(f"{k} {v}" for k, v in r.mismatches.items())),
        ("  crash copy replayed", same[r.replay_identical]),
        ("  damaged shard, copy", f"{same[r.repair_identical]} ({r.repair_note[:70]}...)"),
        ("  damaged shard, reopen", same[r.reopen_identical]),
        ("SOAK", f"start -> {warm.at:.0f} s -> end ({last.at:.0f} s)"),
        ("  records", path("records")),
        ("  store folder", path("store", kb)),
        ("  commit log", path("log", kb)),
        ("  log segments", path("segments")),
        ("  backups folder", path("backups", kb)),
        ("  backup archives", path("backup_files")),
        ("  $TMPDIR entries", path("tmpdir")),
        ("  RSS", path("rss", lambda v: f"{v / 1024:.0f} MB")),
        ("  open fds", path("fds")),
        ("  threads", path("threads")),
        ("  backup positions cached", path("position_cache")),
        ("  shard files", path("shards")),
        (
            "  crisis word cache",
            path("word_cache") + f" (holds at most {_fix_token.cache_info().maxsize})",
        ),
        ("  meta.json", path("meta", kb)),
    ]


def disk_rows(r: DiskReport) -> tuple[bool, list[tuple[str, str]]]:
    lost = (r.lost_while_full, r.lost_after_restart, r.lost_at_end)
    ok = (
        not (r.raw_errors or r.read_errors or any(lost) or r.after_freeing.get("refused"))
        and r.restart_opened
    )
    return ok, [
        ("FULL DISK", r.mode),
        ("  first failure", f"call {r.full_after}"),
        ("  saved", listing(r.acked)),
        ("  failures", listing(r.failures)),
        ("  raw errors", f"{len(r.raw_errors)} {r.raw_errors[:2]}"),
        ("  calls once full", listing(r.while_full)),
        ("  reads", f"{r.reads_ok} rounds ok, {len(r.read_errors)} failed {r.read_errors[:2]}"),
        ("  lost: full/restart/end", " / ".join(map(str, lost))),
        ("  restart on full disk", "opened" if r.restart_opened else f"FAILED {r.restart_error}"),
        ("  after freeing space", listing(r.after_freeing)),
        ("  check at the end", r.check or "-"),
        ("  left at the end", listing(r.leftovers)),
    ]


def print_summary(
    kills: KillReport | None,
    threads: ThreadReport | None,
    disk: DiskReport | None,
    store_log: StoreLog,
) -> bool:
    """Print the table; return True if everything held."""
    good = True
    rows: list[tuple[str, str]] = []
    problems: list[str] = []
    if kills is not None:
        ok, more = kill_rows(kills)
        good, rows, problems = good and ok, rows + more, problems + kills.problems
    if threads is not None:
        ok, more = thread_rows(threads)
        good, rows = good and ok, rows + more
        problems += threads.errors + threads.backup_errors + threads.check_problems
    if disk is not None:
        ok, more = disk_rows(disk)
        good, rows, problems = good and ok, rows + more, problems + disk.raw_errors
    rows.append(("STORE LOG", f"{sum(store_log.counts.values())} lines in this process"))
    rows += [(f"  {count:>6}", kind) for kind, count in store_log.counts.most_common(8)]
    width = max(len(label) for label, _value in rows)
    print()
    for label, value in rows:
        print(f"{label:<{width}} | {value}")
    for problem in problems[:20]:
        print(f"problem: {problem}")
    print()
    print("everything held" if good else "SOMETHING DID NOT HOLD (see above)")
    return good


def main(argv: Sequence[str] | None = None) -> int:
    """Run the phases and print the summary; return 1 if anything was lost or failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=80, help="SIGKILLs of the child (80)")
    parser.add_argument("--minutes", type=float, default=6.0, help="threads phase length (6)")
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--only", default="kills,threads,disk", help="phases to run")
    parser.add_argument("--inject", action="store_true", help="inject ENOSPC, never mount")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--round", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--focus", default="random", help=argparse.SUPPRESS)
    parser.add_argument("--epoch", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        child_main(args.child, args.round, args.focus, args.epoch, args.seed or 0)
        return 0
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "big")
    phases = set(args.only.split(","))
    workdir = Path(tempfile.mkdtemp(prefix="kc-soak-"))
    # Every temp file of this process goes here, so leftovers can be counted.
    (workdir / "tmp").mkdir()
    tempfile.tempdir = str(workdir / "tmp")
    store_log = StoreLog()
    logger = logging.getLogger("gallery_store")
    logger.addHandler(store_log)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    print(f"{__doc__.splitlines()[0]}\nseed {seed}, work folder {workdir}", flush=True)

    def log(text: str) -> None:
        print(text, flush=True)

    kills = threads = disk = None
    try:
        if "kills" in phases:
            log(f"kills: {args.kills}")
            kills = run_kills(workdir, args.kills, random.Random(seed), log)
        if "threads" in phases:
            log(f"threads: {args.threads} for {args.minutes} minutes")
            threads = run_threads(workdir, args.threads, args.minutes * 60, log)
        if "disk" in phases:
            log("full disk")
            disk = run_full_disk(workdir, log, inject=args.inject)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0 if print_summary(kills, threads, disk, store_log) else 1


if __name__ == "__main__":
    sys.exit(main())
