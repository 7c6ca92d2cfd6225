"""The corruption suite: every kind of store file damaged in turn, and what opening does.

For each case the outcome is one of two: repaired with nothing lost (every record as it
was, deleted people still deleted, what was done recorded for therapists), or refused
with a message that names what would be lost and the command that accepts it. Never
silently older, never resurrected, never empty.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from gallery_store import open_studio
from gallery_store.__main__ import main
from gallery_store.errors import AuthenticationFailed, PermissionDenied, StoreCorrupt

from .conftest import FAST_CONFIG, PASSWORD, join, make_image


def everything(studio) -> dict[str, dict[str, dict]]:
    """Every record of every collection (what opening must bring back exactly)."""
    skip = {"recoveries", "sessions", "setup"}
    return {
        name: {r["id"]: r for r in collection.all()}
        for name, collection in studio.store.collections().items()
        if name not in skip
    }


def damage_empty(path: Path) -> None:
    path.write_bytes(b"")


def damage_half(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def damage_zeroed(path: Path) -> None:
    path.write_bytes(b"\x00" * path.stat().st_size)


def damage_garbled(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    for i in range(10, len(raw), 97):
        raw[i] = (raw[i] + 13) % 256
    path.write_bytes(bytes(raw))


def damage_missing(path: Path) -> None:
    path.unlink()


def damage_record_edited(path: Path) -> None:
    """Valid JSON, one record changed: only the checksum can tell."""
    data = json.loads(path.read_bytes())
    records = data["records"]
    first = next(iter(records))
    record = records[first]
    key = next(k for k in record if k not in ("id", "seq"))
    record[key] = "edited outside the app" if isinstance(record[key], str) else None
    path.write_text(json.dumps(data))


def damage_record_removed(path: Path) -> None:
    data = json.loads(path.read_bytes())
    data["records"].pop(next(iter(data["records"])))
    path.write_text(json.dumps(data))


DAMAGES = {
    "empty": damage_empty,
    "half": damage_half,
    "zeroed": damage_zeroed,
    "garbled": damage_garbled,
    "missing": damage_missing,
    "record edited": damage_record_edited,
    "record removed": damage_record_removed,
}
STRUCTURAL = {k: v for k, v in DAMAGES.items() if not k.startswith("record")}


@pytest.fixture
def lived(studio, therapist, circle, clock):
    """A studio with a backup, then writes in every collection after it (and a deletion)."""
    robin = join(studio, therapist, circle, "robin", "Robin")
    sam = join(studio, therapist, circle, "sam", "Sam")
    art = studio.artworks.share(robin, make_image(), caption="Harbour", alt_text="Blue boats")
    studio.comments.post(sam, art.id, "The light on the water is lovely.")
    studio.reflections.write(sam, "A quiet week.", mood_before=2, mood_after=3)
    clock.advance(minutes=5)
    studio.backup_now()
    clock.advance(minutes=5)
    # After the backup: new records in many collections, and an account deleted.
    later = studio.artworks.share(
        robin, make_image(color=(10, 90, 200)), caption="Dusk", alt_text="An orange sky"
    )
    studio.comments.post(therapist, later.id, "Thank you for sharing this.")
    studio.reflections.write(robin, "Drew the dusk.", mood_before=3, mood_after=4)
    studio.circles.invite(therapist, circle.id)
    studio.exports.delete_account(sam, PASSWORD)
    expected = everything(studio)
    studio.close()
    return {"robin": robin, "sam": sam, "expected": expected, "therapist": therapist}


def reopen(data_dir, clock):
    return open_studio(data_dir, FAST_CONFIG, clock)


def store_files(data_dir: Path) -> list[str]:
    root = data_dir / "store"
    names = ["meta.json", *sorted(p.relative_to(root).as_posix() for p in root.glob("*/*.json"))]
    return names


def assert_repaired(studio, lived) -> None:
    assert everything(studio) == lived["expected"], "repair lost or changed records"
    with pytest.raises(AuthenticationFailed):
        studio.accounts.authenticate("sam", PASSWORD)  # deleted stays deleted
    assert studio.accounts.authenticate("robin", PASSWORD).id == lived["robin"].id
    notes = [r["note"] for r in studio.store.collection("recoveries").all()]
    assert notes and any("nothing was lost" in n for n in notes)


def test_every_store_file_damaged_in_every_way_is_repaired_with_nothing_lost(
    studio, lived, data_dir, clock, tmp_path
):
    """62 cases in the report restored *every* collection from the newest backup. Now each
    damaged file is rebuilt from the backup plus the commit log, and nothing else moves."""
    pristine = tmp_path / "pristine"
    shutil.copytree(data_dir, pristine)
    files = store_files(data_dir)
    assert len(files) >= 9
    outcomes = {}
    for relative in files:
        for label, damage in DAMAGES.items():
            if relative == "meta.json" and label == "record removed":
                continue  # meta.json holds one record: "removed" is the same as garbled
            shutil.rmtree(data_dir)
            shutil.copytree(pristine, data_dir)
            damage(data_dir / "store" / relative)
            repaired = reopen(data_dir, clock)
            try:
                assert_repaired(repaired, lived)
            finally:
                repaired.close()
            # The repair was written: opening again needs no repair.
            again = reopen(data_dir, clock)
            try:
                assert everything(again) == lived["expected"]
                assert not again.store.recovery_notes
            finally:
                again.close()
            outcomes[(relative, label)] = "repaired"
    assert len(outcomes) >= 60
    assert set(outcomes.values()) == {"repaired"}


def test_regression_damaging_one_shard_no_longer_rolls_back_the_others(
    studio, lived, data_dir, clock
):
    """Regression: damaging the invites shard lost every artwork, comment and reflection
    written since the last backup."""
    damage_garbled(data_dir / "store" / "invites" / "invites-000001.json")
    repaired = reopen(data_dir, clock)
    try:
        assert_repaired(repaired, lived)
        captions = {a["caption"] for a in repaired.store.collection("artworks").all()}
        assert captions == {"Harbour", "Dusk"}
    finally:
        repaired.close()


def test_regression_a_deleted_account_stays_deleted_when_its_shard_is_rebuilt(
    studio, lived, data_dir, clock
):
    """Regression: restoring a backup from before a deletion brought the person back."""
    damage_zeroed(data_dir / "store" / "users" / "users-000001.json")
    damage_half(data_dir / "store" / "reflections" / "reflections-000001.json")
    repaired = reopen(data_dir, clock)
    try:
        assert_repaired(repaired, lived)
        assert repaired.store.collection("users").get(lived["sam"].id) is None
        assert not repaired.store.collection("reflections").by("user", lived["sam"].id)
    finally:
        repaired.close()


def test_regression_a_damaged_newest_backup_uses_an_older_one_only_with_the_log_behind_it(
    data_dir, clock
):
    """Regression: a damaged newest backup made the store silently use an older one of any
    age (a studio with 0 users). Now an older backup is used only with every commit since."""
    studio = open_studio(data_dir, FAST_CONFIG, clock)
    therapist = studio.accounts.bootstrap_therapist("tess", PASSWORD, "Tess")
    circle = studio.circles.create(therapist, "Tuesday caregivers")
    clock.advance(minutes=5)
    studio.backup_now()
    join(studio, therapist, circle, "robin", "Robin")
    clock.advance(minutes=5)
    studio.backup_now()
    studio.circles.create(therapist, "Thursday nurses")
    expected = everything(studio)
    studio.close()
    newest = sorted((data_dir / "backups").glob("store-*.zip"))[-1]
    newest.write_bytes(newest.read_bytes()[:100])
    damage_garbled(data_dir / "store" / "users" / "users-000001.json")
    repaired = reopen(data_dir, clock)
    try:
        assert everything(repaired) == expected
        assert len(repaired.store.collection("users")) == 2
    finally:
        repaired.close()


def test_a_damaged_shard_with_no_usable_backup_refuses_and_names_the_loss(
    studio, lived, data_dir, clock, capsys
):
    for archive in (data_dir / "backups").glob("store-*.zip"):
        archive.write_bytes(b"not a zip")
    # The log still reaches back to the studio's first commit? Only if nothing pruned it;
    # make sure: take the log away too, so only a loss is possible.
    shutil.rmtree(data_dir / "store" / "log")
    (data_dir / "store" / "log").mkdir()
    segment = json.loads((data_dir / "store" / "meta.json").read_bytes())["records"]["1"]
    (data_dir / "store" / "log" / f"commits-{segment['segment']:012d}.log").write_bytes(b"")
    damage_garbled(data_dir / "store" / "comments" / "comments-000001.json")
    before = {p: p.read_bytes() for p in (data_dir / "store").rglob("*") if p.is_file()}
    with pytest.raises(StoreCorrupt) as refused:
        reopen(data_dir, clock)
    message = refused.value.message
    assert "comments-000001.json" in message
    assert "every record in it" in message
    assert "python -m gallery_store recover --accept-loss" in message
    after = {p: p.read_bytes() for p in (data_dir / "store").rglob("*") if p.is_file()}
    assert after == before  # nothing changed

    # `recover` says what accepting would do, and changes nothing.
    assert main(["--data-dir", str(data_dir), "recover"]) == 1
    out = capsys.readouterr().out
    assert "comments-000001.json" in out and "--accept-loss" in out
    assert {p: p.read_bytes() for p in (data_dir / "store").rglob("*") if p.is_file()} == before

    # Accepting the loss opens with everything else, and the therapist is told.
    assert main(["--data-dir", str(data_dir), "recover", "--accept-loss"]) == 0
    studio = reopen(data_dir, clock)
    try:
        assert len(studio.store.collection("comments")) == 0
        assert len(studio.store.collection("artworks")) == 2
        notes = [r["note"] for r in studio.store.collection("recoveries").all()]
        assert any(n.startswith("Lost: comments file comments-000001.json") for n in notes)
        assert list((data_dir / "quarantine").rglob("comments-000001.json"))
    finally:
        studio.close()


@pytest.mark.parametrize("how", ["removed", "emptied"])
def test_regression_a_missing_store_beside_images_and_backups_never_starts_empty(
    studio, lived, data_dir, clock, how, capsys
):
    """Regression: a missing or emptied store/ started a brand-new studio waiting for setup
    beside the old images and backups (whose hourly backups then pushed out the good ones)."""
    if how == "removed":
        shutil.rmtree(data_dir / "store")
    else:
        for path in sorted((data_dir / "store").rglob("*"), reverse=True):
            if path.is_file():
                path.unlink()
    backups_before = sorted(p.name for p in (data_dir / "backups").iterdir())
    with pytest.raises(StoreCorrupt) as refused:
        reopen(data_dir, clock)
    message = refused.value.message
    assert "records are missing" in message
    assert "recover --accept-loss" in message
    assert not (data_dir / "store" / "meta.json").exists()
    assert sorted(p.name for p in (data_dir / "backups").iterdir()) == backups_before

    assert main(["--data-dir", str(data_dir), "recover", "--accept-loss"]) == 0
    capsys.readouterr()
    studio = reopen(data_dir, clock)
    try:
        # The newest backup came back (robin, sam, the first artwork), and it says so.
        assert len(studio.store.collection("artworks")) == 1
        notes = [r["note"] for r in studio.store.collection("recoveries").all()]
        assert any("every change after backup" in n for n in notes)
    finally:
        studio.close()


def test_log_damage_in_commits_the_shards_already_hold_does_not_matter(
    studio, lived, data_dir, clock
):
    for segment in (data_dir / "store" / "log").glob("*.log"):
        if segment.stat().st_size:
            damage_garbled(segment)
    studio = reopen(data_dir, clock)
    try:
        assert everything(studio) == lived["expected"]
    finally:
        studio.close()


def test_log_damage_in_commits_not_yet_in_the_shards_refuses(studio, therapist, data_dir, clock):
    circle = studio.circles.create(therapist, "Tuesday caregivers")
    studio.store.checkpoint()
    for name in ("Walkers", "Painters", "Singers"):
        studio.circles.create(therapist, name)
    segment = studio.store.log.files()[-1]
    studio.store.log.close()
    studio.store._unlock_process()  # the process dies without a checkpoint
    from gallery_store import studio as studio_module

    studio_module._OPEN.clear()
    lines = segment.read_bytes().split(b"\n")
    lines[1] = b"garbage" + lines[1][7:]
    segment.write_bytes(b"\n".join(lines))
    with pytest.raises(StoreCorrupt) as refused:
        reopen(data_dir, clock)
    assert "can't be read" in refused.value.message
    assert "recover --accept-loss" in refused.value.message
    assert circle.id  # the circle before the checkpoint is safe in the shards


def test_check_reports_a_damaged_file_and_what_opening_would_do(
    studio, lived, data_dir, clock, capsys
):
    damage_record_edited(data_dir / "store" / "artworks" / "artworks-000001.json")
    assert main(["--data-dir", str(data_dir), "check"]) == 1  # damage is news, even repairable
    out = capsys.readouterr().out
    assert "damaged, repairable" in out and "artworks-000001.json" in out
    assert "nothing was lost" in out
    studio = reopen(data_dir, clock)
    studio.close()
    assert main(["--data-dir", str(data_dir), "check"]) == 0
    out = capsys.readouterr().out
    assert "earlier recovery" in out and "artworks-000001.json" in out


def test_restored_backup_members_match_a_checksummed_meta(studio, lived, data_dir):
    newest = sorted((data_dir / "backups").glob("store-*.zip"))[-1]
    with zipfile.ZipFile(newest) as zf:
        meta = json.loads(zf.read("store/meta.json"))["records"]["1"]
        assert meta["schema_version"] == 2 and "sha256" in meta
        for collection, files in meta["shards"].items():
            for name in files:
                assert f"store/{collection}/{name}" in zf.namelist()


def test_a_therapist_sees_what_recovery_did(studio, lived, data_dir, clock):
    damage_half(data_dir / "store" / "comments" / "comments-000001.json")
    repaired = reopen(data_dir, clock)
    try:
        therapist = repaired.accounts.authenticate("tess", PASSWORD)
        shown = repaired.health.notices(therapist)
        assert any("comments-000001.json" in item.text for item in shown)
        robin = repaired.accounts.authenticate("robin", PASSWORD)
        with pytest.raises(PermissionDenied):
            repaired.health.notices(robin)
    finally:
        repaired.close()


def test_regression_a_slow_check_never_holds_up_the_app(
    studio, therapist, circle, data_dir, monkeypatch, capsys
):
    """Regression: `check` on a slow disk froze every write and read for 25 s (it copied the
    store under the app's write lock); a suspended CLI would have frozen it for ever."""
    import threading
    import time

    from gallery_store import __main__ as cli

    robin = join(studio, therapist, circle, "robin", "Robin")
    art = studio.artworks.share(robin, make_image(), caption="Harbour", alt_text="Blue boats")
    studio.store.checkpoint()
    real_read = cli._read_or_none
    started = threading.Event()

    def slow_read(path):
        started.set()
        time.sleep(0.05)  # a slow disk: the copy takes well over a second
        return real_read(path)

    monkeypatch.setattr(cli, "_read_or_none", slow_read)
    checker = threading.Thread(target=lambda: cli.main(["--data-dir", str(data_dir), "check"]))
    checker.start()
    assert started.wait(5)
    waits = []
    while checker.is_alive() and len(waits) < 20:
        start = time.perf_counter()
        studio.comments.post(therapist, art.id, "Thank you for this.")
        studio.artworks.gallery(robin)
        waits.append(time.perf_counter() - start)
    checker.join()
    capsys.readouterr()
    assert len(waits) >= 5
    assert max(waits) < 0.5, waits  # each write and read went ahead at once


def test_regression_a_restart_on_a_full_disk_opens_and_reads(
    studio, therapist, circle, data_dir, clock, monkeypatch
):
    """Regression: a restart on a full disk with a commit still to apply refused to open at
    all. Opening never needs to write: the log is replayed in memory."""
    import errno
    import os

    from gallery_store import studio as studio_module
    from gallery_store.errors import SaveFailed

    studio.store.checkpoint()
    later = studio.circles.create(therapist, "Thursday nurses")  # only in the commit log
    studio.store.log.close()
    studio.store._unlock_process()  # the process stops without a checkpoint
    studio_module._OPEN.clear()

    def disk_full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", disk_full)
    reopened = reopen(data_dir, clock)
    try:
        names = {c.name for c in reopened.circles.for_user(therapist)}
        assert names == {"Tuesday caregivers", "Thursday nurses"}
        with pytest.raises(SaveFailed, match="disk is full"):
            reopened.circles.create(therapist, "Friday painters")
        monkeypatch.undo()
        reopened.circles.create(therapist, "Friday painters")
        assert later.id in reopened.store.collection("circles")
    finally:
        monkeypatch.undo()
        reopened.close()


def test_a_deleted_account_leaves_no_words_in_the_commit_log_or_data_files(
    studio, therapist, circle, data_dir
):
    robin = join(studio, therapist, circle, "robin", "Robin")
    sam = join(studio, therapist, circle, "sam", "Sam")
    art = studio.artworks.share(robin, make_image(), caption="Harbour", alt_text="Blue boats")
    marker = "lighthouse-marmalade-7731"
    studio.comments.post(sam, art.id, f"So much feeling here {marker}")
    studio.comments.post(robin, art.id, "Thank you, that means a lot.")
    assert any(marker.encode() in p.read_bytes() for p in (data_dir / "store").rglob("*.log"))
    studio.exports.delete_account(sam, PASSWORD)
    holding = [
        p
        for p in (data_dir / "store").rglob("*")
        if p.is_file() and marker.encode() in p.read_bytes()
    ]
    assert holding == []
    # Replaying what is left still gives the same studio.
    expected = everything(studio)
    studio.close()
    again = open_studio(data_dir, FAST_CONFIG)
    try:
        assert everything(again) == expected
    finally:
        again.close()
