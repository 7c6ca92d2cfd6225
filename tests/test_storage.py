"""Contract tests of the store: records, indexes, shards, transactions and recovery."""

from __future__ import annotations

import errno
import hashlib
import itertools
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from gallery_store import open_studio, storage
from gallery_store.errors import SaveFailed, StoreUnavailable, StudioError
from gallery_store.storage import SCHEMA_VERSION, Store

from .conftest import FAST_CONFIG

NAMES = ("notes", "tags")


class Crash(BaseException):
    """Stands in for the process dying in the middle of a commit."""


class Boom(Exception):
    """A bug in the code running inside a transaction."""


def open_store(folder: Path, capacity: int = 500) -> Store:
    """Open a store with two collections; ``notes`` is indexed by topic."""
    store = Store(folder, shard_capacity=capacity)
    store.open(NAMES)
    store.collection("notes").add_index("topic", lambda r: r["topic"])
    return store


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def store(folder: Path) -> Iterator[Store]:
    opened = open_store(folder)
    yield opened
    opened.close()


def disk_state(root: Path) -> dict[str, bytes]:
    """Return every file below ``root`` with its bytes."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def meta_on_disk(store: Store) -> dict:
    return json.loads((store.root / "meta.json").read_bytes())["records"]["1"]


def ids(records) -> list[str]:
    return [r["id"] for r in records]


# -- records --------------------------------------------------------------------------------------


def test_insert_get_update_remove(store):
    notes = store.collection("notes")
    note = notes.insert({"topic": "sky", "text": "blue"})
    assert note["id"] and note["seq"] >= 1
    assert notes.get(note["id"])["text"] == "blue"
    assert note["id"] in notes and len(notes) == 1

    updated = notes.update(note["id"], text="grey")
    assert updated["text"] == "grey" and updated["topic"] == "sky"
    assert notes.get(note["id"])["text"] == "grey"
    assert notes.find(text="grey") == [updated]
    assert notes.first(topic="sky")["id"] == note["id"]

    notes.remove(note["id"])
    assert notes.get(note["id"]) is None and len(notes) == 0
    notes.remove(note["id"])  # removing twice is harmless


def test_records_survive_close_and_reopen(folder):
    store = open_store(folder)
    notes = store.collection("notes")
    kept = notes.insert({"topic": "sky", "text": "blue"})
    changed = notes.insert({"topic": "sea", "text": "calm"})
    gone = notes.insert({"topic": "sea", "text": "rough"})
    notes.update(changed["id"], text="still")
    notes.remove(gone["id"])
    tag = store.collection("tags").insert({"label": "weather"})
    store.close()

    again = open_store(folder)
    try:
        notes = again.collection("notes")
        assert ids(notes.all()) == [kept["id"], changed["id"]]
        assert notes.get(changed["id"])["text"] == "still"
        assert gone["id"] not in notes
        assert again.collection("tags").get(tag["id"])["label"] == "weather"
        # sequence numbers keep growing after a reopen, so order stays insertion order
        later = notes.insert({"topic": "sky", "text": "later"})
        assert later["seq"] > max(kept["seq"], changed["seq"], tag["seq"])
    finally:
        again.close()


# -- indexes --------------------------------------------------------------------------------------


def test_indexes_follow_inserts_updates_and_removes(store):
    notes = store.collection("notes")
    a = notes.insert({"topic": "sky"})
    b = notes.insert({"topic": "sea"})
    c = notes.insert({"topic": "sky"})
    assert ids(notes.by("topic", "sky")) == [a["id"], c["id"]]
    assert list(notes.ids_by("topic", "sea")) == [b["id"]]
    assert ids(notes.newest_by("topic", "sky")) == [c["id"], a["id"]]

    notes.update(a["id"], topic="sea")
    assert ids(notes.by("topic", "sky")) == [c["id"]]
    assert set(notes.ids_by("topic", "sea")) == {a["id"], b["id"]}

    notes.remove(c["id"])
    assert notes.by("topic", "sky") == []
    assert list(notes.newest_by("topic", "sky")) == []
    assert list(notes.ids_by("topic", "nowhere")) == []


def test_updating_a_record_keeps_its_place_in_index_order(folder):
    """Regression: an edit re-indexed the record at the end, so an edited comment jumped
    to the bottom of its thread (and an edited artwork to the top of the gallery) until
    the next restart put it back."""
    store = open_store(folder)
    notes = store.collection("notes")
    first, second, third = (notes.insert({"topic": "sky", "n": n}) for n in range(3))
    notes.update(first["id"], n=10)
    in_memory = ids(notes.by("topic", "sky"))
    assert in_memory == [first["id"], second["id"], third["id"]]
    assert ids(notes.newest_by("topic", "sky")) == in_memory[::-1]
    store.close()

    again = open_store(folder)
    try:
        assert ids(again.collection("notes").by("topic", "sky")) == in_memory
    finally:
        again.close()


def test_indexes_are_rebuilt_right_after_reopen(folder):
    store = open_store(folder, capacity=4)
    notes = store.collection("notes")
    made = [notes.insert({"topic": "sky" if n % 3 else "sea", "n": n}) for n in range(11)]
    notes.update(made[1]["id"], topic="sea")
    notes.remove(made[2]["id"])
    expected_sky = ids(notes.by("topic", "sky"))
    expected_sea = sorted(notes.ids_by("topic", "sea"))
    store.close()

    again = open_store(folder, capacity=4)
    try:
        notes = again.collection("notes")
        assert ids(notes.by("topic", "sky")) == expected_sky
        assert sorted(notes.ids_by("topic", "sea")) == expected_sea
        assert ids(notes.newest_by("topic", "sky")) == expected_sky[::-1]
    finally:
        again.close()


def test_newest_by_is_lazy_and_newest_first(store):
    notes = store.collection("notes")
    with store.transaction():
        made = [notes.insert({"topic": "sky", "n": n}) for n in range(300)]
    page = notes.newest_by("topic", "sky")
    assert isinstance(page, Iterator)  # a generator, not a list built up front
    assert ids(itertools.islice(page, 24)) == ids(made[::-1][:24])


# -- shards ---------------------------------------------------------------------------------------


def test_collection_splits_into_shards_listed_in_meta_with_checksums(folder):
    store = open_store(folder, capacity=5)
    try:
        notes = store.collection("notes")
        with store.transaction():
            for n in range(12):
                notes.insert({"topic": "sky", "n": n})
        store.checkpoint()
        listed = meta_on_disk(store)["shards"]["notes"]
        assert sorted(listed) == ["notes-000001.json", "notes-000002.json", "notes-000003.json"]
        for name, pairs in listed.items():
            raw = (store.root / "notes" / name).read_bytes()
            assert pairs == [[hashlib.sha256(raw).hexdigest(), store.position()]]
        sizes = [
            len(json.loads((store.root / "notes" / name).read_bytes())["records"])
            for name in sorted(listed)
        ]
        assert sizes == [5, 5, 2]
    finally:
        store.close()


def test_regression_space_freed_by_deletions_is_used_again(folder):
    """Regression: new records went only into the newest shard, so a collection whose records
    come and go (sessions, comments, reactions) gained a shard, with its file, its entry in
    meta.json and its memory, for every ``shard_capacity`` records it ever held."""
    store = open_store(folder, capacity=10)
    try:
        notes = store.collection("notes")
        live = []
        for n in range(200):
            with store.transaction():
                live.append(notes.insert({"topic": "sky", "n": n})["id"])
                if len(live) > 15:
                    notes.remove(live.pop(0))
        assert len(notes.shards) == 2
        assert [r["n"] for r in notes.by("topic", "sky")] == list(range(185, 200))
    finally:
        store.close()
    again = open_store(folder, capacity=10)
    try:
        assert len(list((again.root / "notes").glob("*.json"))) == 2
        kept = again.collection("notes").by("topic", "sky")
        assert [r["n"] for r in kept] == list(range(185, 200))  # still in posting order
    finally:
        again.close()


def test_a_commit_appends_one_log_line_and_a_checkpoint_writes_only_changed_shards(
    folder, monkeypatch
):
    store = open_store(folder, capacity=5)
    try:
        notes = store.collection("notes")
        with store.transaction():
            made = [notes.insert({"topic": "sky", "n": n}) for n in range(12)]
        store.checkpoint()
        shard_dir = store.root / "notes"
        written: list[Path] = []
        real_write = storage.atomic_write_bytes

        def recording_write(path: Path, data: bytes) -> None:
            written.append(path)
            real_write(path, data)

        monkeypatch.setattr(storage, "atomic_write_bytes", recording_write)
        before = disk_state(store.root)

        notes.update(made[1]["id"], n=100)  # lives in shard 1
        notes.remove(made[7]["id"])  # lives in shard 2
        notes.insert({"topic": "sea"})  # into shard 2, where the removal made room
        assert written == []  # commits only append to the log
        after = disk_state(store.root)
        changed = {name for name in after if after[name] != before.get(name)}
        assert len(changed) == 1 and next(iter(changed)).startswith("log/")
        log_growth = len(after[next(iter(changed))]) - len(before.get(next(iter(changed)), b""))
        assert log_growth < 1500

        store.checkpoint()
        shards_written = [p for p in written if p.name != "meta.json"]
        assert sorted(shards_written) == [shard_dir / f"notes-00000{n}.json" for n in (1, 2)]
    finally:
        store.close()


# -- transactions ---------------------------------------------------------------------------------


def test_exception_in_a_transaction_rolls_back_memory_and_disk(folder):
    store = open_store(folder, capacity=3)
    notes, tags = store.collection("notes"), store.collection("tags")
    made = [notes.insert({"topic": "sky", "n": n}) for n in range(3)]  # shard 1 is full
    memory_before = [dict(r) for r in notes.all()]
    disk_before = disk_state(store.root)

    with pytest.raises(Boom), store.transaction():
        notes.update(made[0]["id"], n=99, topic="sea")
        notes.remove(made[1]["id"])
        notes.insert({"topic": "sea", "n": 7})  # opens shard 2 and lists it in meta.json
        tags.insert({"label": "weather"})
        raise Boom

    assert [dict(r) for r in notes.all()] == memory_before
    assert ids(notes.by("topic", "sky")) == ids(made)
    assert notes.by("topic", "sea") == []
    assert len(tags) == 0
    assert len(notes.shards) == 1 and tags.shards == []
    assert disk_state(store.root) == disk_before

    # The store carries on normally after a rollback.
    later = notes.insert({"topic": "sea", "n": 8})
    store.close()
    again = open_store(folder, capacity=3)
    try:
        assert ids(again.collection("notes").all()) == [*ids(made), later["id"]]
    finally:
        again.close()


def last_segment(store: Store) -> Path:
    return store.log.files()[-1]


def test_a_failed_log_write_changes_nothing_and_leaves_no_half_commit(folder, monkeypatch):
    store = open_store(folder)
    notes = store.collection("notes")
    kept = notes.insert({"topic": "sky"})
    before = last_segment(store).read_bytes()
    real_write = os.write

    def half_then_full(fd: int, data) -> int:
        real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", half_then_full)
    with pytest.raises(SaveFailed, match="disk is full"):
        notes.insert({"topic": "lost"})
    monkeypatch.undo()
    assert last_segment(store).read_bytes() == before
    assert notes.by("topic", "lost") == []
    later = notes.insert({"topic": "sea"})
    store.close()
    again = open_store(folder)
    try:
        assert ids(again.collection("notes").all()) == [kept["id"], later["id"]]
    finally:
        again.close()


def test_regression_a_failed_flush_after_the_write_keeps_the_commit_and_says_so(
    folder, monkeypatch
):
    """Regression: a failed fsync after a write made share() report failure but keep the
    record while deleting its images. Now the commit stands, and the store says so."""
    store = open_store(folder)
    notes = store.collection("notes")
    real_fsync = os.fsync
    calls = {"n": 0}

    def failing_fsync(fd: int) -> None:
        calls["n"] += 1
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    kept = notes.insert({"topic": "sky"})  # no exception: the change is in effect
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert calls["n"] >= 1
    assert kept["id"] in notes
    assert store.health_warnings and "may not survive a power cut" in store.health_warnings[0]
    store.close()
    again = open_store(folder)
    try:
        assert kept["id"] in again.collection("notes")
    finally:
        again.close()


def test_a_commit_cut_short_by_a_crash_is_left_out_and_cut_off_before_the_next(folder):
    store = open_store(folder)
    notes = store.collection("notes")
    kept = notes.insert({"topic": "sky"})
    segment = last_segment(store)
    store.log.close()
    store._unlock_process()  # the process "dies" here
    with segment.open("ab") as handle:
        handle.write(b'{"n":2,"at":"x","ops":[["notes","notes-000001.json",9,{"id"')
    again = open_store(folder)
    try:
        notes = again.collection("notes")
        assert ids(notes.all()) == [kept["id"]]
        assert any("cut short" in n or "never confirmed" in n for n in again.recovery_notes)
        later = notes.insert({"topic": "sea"})
    finally:
        again.close()
    third = open_store(folder)
    try:
        assert ids(third.collection("notes").all()) == [kept["id"], later["id"]]
        assert not third.recovery_notes
    finally:
        third.close()


@pytest.mark.parametrize("crash_at", [1, 2, 3, 4])
def test_a_checkpoint_cut_off_at_any_write_loses_nothing(folder, monkeypatch, crash_at):
    store = open_store(folder, capacity=2)
    notes = store.collection("notes")
    made = [notes.insert({"topic": "sky", "n": n}) for n in range(5)]  # shards 1, 2, 3
    store.checkpoint()
    notes.update(made[0]["id"], n=10)
    notes.update(made[2]["id"], n=12)
    notes.remove(made[4]["id"])
    real_write = storage.atomic_write_bytes
    count = {"n": 0}

    def crash_on_nth(path: Path, data: bytes) -> None:
        count["n"] += 1
        if count["n"] == crash_at:
            raise Crash
        real_write(path, data)

    monkeypatch.setattr(storage, "atomic_write_bytes", crash_on_nth)
    with pytest.raises(Crash):
        store.checkpoint()
    monkeypatch.undo()
    store.log.close()
    store._unlock_process()
    again = open_store(folder, capacity=2)
    try:
        notes = again.collection("notes")
        assert {r["id"]: r["n"] for r in notes.all()} == {
            made[0]["id"]: 10,
            made[1]["id"]: 1,
            made[2]["id"]: 12,
            made[3]["id"]: 3,
        }
        assert not again.recovery_notes
    finally:
        again.close()


# -- opening --------------------------------------------------------------------------------------


def test_stray_temp_files_are_removed_at_open(folder):
    store = open_store(folder)
    note = store.collection("notes").insert({"topic": "sky"})
    store.close()
    strays = [
        store.root / ".meta.json.1a2b3c4d.kc-tmp",
        store.root / "notes" / ".notes-000001.json.5e6f7a8b.kc-tmp",
    ]
    for stray in strays:
        stray.write_bytes(b'{"records": {"1": {"half": ')

    again = open_store(folder)
    try:
        assert not any(stray.exists() for stray in strays)
        assert note["id"] in again.collection("notes")
    finally:
        again.close()


def test_schema_version_is_stored(store):
    assert store.schema_version() == SCHEMA_VERSION
    assert meta_on_disk(store)["schema_version"] == SCHEMA_VERSION


def test_a_store_from_a_newer_version_refuses_to_open(folder):
    store = open_store(folder)
    store.collection("notes").insert({"topic": "sky"})
    store.close()
    meta_path = store.root / "meta.json"
    raw = json.loads(meta_path.read_bytes())
    raw["records"]["1"]["schema_version"] = SCHEMA_VERSION + 1
    meta_path.write_text(json.dumps(raw))
    before = disk_state(store.root)

    with pytest.raises(StoreUnavailable, match="newer"):
        open_store(folder)
    assert disk_state(store.root) == before

    # The refused open let go of the folder lock.
    raw["records"]["1"]["schema_version"] = SCHEMA_VERSION
    meta_path.write_text(json.dumps(raw))
    open_store(folder).close()


def test_second_open_of_the_same_folder_is_refused(store, folder):
    with pytest.raises(StoreUnavailable, match="already using"):
        Store(folder).open(NAMES)
    store.close()
    open_store(folder).close()  # free again once the first one closed


def test_open_studio_returns_the_same_studio_for_the_same_folder(tmp_path):
    first = open_studio(tmp_path / "data", FAST_CONFIG)
    try:
        assert open_studio(tmp_path / "data") is first
        assert open_studio(tmp_path / "data" / ".." / "data") is first
    finally:
        first.close()
    second = open_studio(tmp_path / "data", FAST_CONFIG)
    try:
        assert second is not first
    finally:
        second.close()


# -- concurrency and failures ---------------------------------------------------------------------


def test_sixteen_threads_writing_at_once_lose_nothing(studio, data_dir):
    notes = studio.store.collection("drafts")
    errors: list[BaseException] = []
    start = threading.Barrier(16)

    def writer(worker: int) -> None:
        try:
            start.wait()
            for n in range(200):
                with studio.store.transaction():
                    notes.insert({"user_id": f"u{worker}", "n": n})
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    written = {r["id"] for r in notes.all()}
    assert len(written) == len(notes) == 3200
    for worker in range(16):
        assert [r["n"] for r in notes.by("user", f"u{worker}")] == list(range(200))
    studio.close()

    again = open_studio(data_dir, FAST_CONFIG)
    try:
        assert {r["id"] for r in again.store.collection("drafts").all()} == written
    finally:
        again.close()


def test_full_disk_changes_nothing_and_says_so(studio, therapist, data_dir, monkeypatch):
    kept = studio.circles.create(therapist, "Monday walkers")
    store_root = data_dir / "store"
    disk_before = disk_state(store_root)
    circles_before = studio.circles.for_user(therapist)

    real_write = os.write

    def half_then_full(fd: int, data) -> int:
        real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, "No space left on device")

    # Both the commit log and any file write find the disk full half way.
    monkeypatch.setattr(os, "write", half_then_full)
    with pytest.raises(SaveFailed) as failure:
        studio.circles.create(therapist, "Friday painters")
    assert isinstance(failure.value, StudioError)
    assert "disk is full" in failure.value.message

    assert disk_state(store_root) == disk_before
    assert studio.circles.for_user(therapist) == circles_before
    assert studio.store.collection("circles").first(name="Friday painters") is None
    assert list(data_dir.rglob("*.kc-tmp")) == []

    monkeypatch.undo()
    added = studio.circles.create(therapist, "Friday painters")
    assert [c.id for c in studio.circles.for_user(therapist)] == [kept.id, added.id]
    studio.close()
    again = open_studio(data_dir, FAST_CONFIG)
    try:
        assert again.store.collection("circles").get(added.id)["name"] == "Friday painters"
    finally:
        again.close()


@pytest.mark.parametrize(
    "journal",
    [
        {"files": []},
        {"files": {"../outside.json": {"_default": {}}}},
        {"files": {"/etc/evil.json": {"_default": {}}}},
        {"files": {"notes/notes-000001.json": "not a table"}},
    ],
    ids=["files-is-a-list", "climbs-out", "absolute", "not-a-table"],
)
def test_regression_a_malformed_journal_is_set_aside_not_a_crash(folder, journal):
    """Regression: a journal of {"files": []} crashed the open (and `check`)."""
    store = open_store(folder)
    store.collection("notes").insert({"topic": "sky"})
    store.close()
    (folder / "store" / "journal.json").write_text(json.dumps(journal))
    reopened = open_store(folder)
    try:
        assert [r["topic"] for r in reopened.collection("notes").all()] == ["sky"]
        assert not (folder / "store" / "journal.json").exists()
        assert list((folder / "quarantine").rglob("journal.json"))
        assert not (folder / "outside.json").exists()
    finally:
        reopened.close()


def test_regression_a_lock_file_that_is_a_folder_gets_a_clear_message(folder):
    """Regression: a `.lock` that is a folder crashed the open with a raw IsADirectoryError."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ".lock").mkdir()
    with pytest.raises(StoreUnavailable, match="lock file"):
        open_store(folder)
