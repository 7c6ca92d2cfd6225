"""The sweeper: what crashes, killed commands and time leave behind goes, and nothing else."""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import threading
import time
from pathlib import Path

import pytest

from gallery_store import open_studio, sweeper
from gallery_store.__main__ import main as cli
from gallery_store.errors import AuthenticationFailed, TooManyAttempts
from gallery_store.sweeper import (
    BACKUP_TEMP_FILES,
    EXPIRED_EXPORTS,
    EXPIRED_SESSIONS,
    ORPHAN_DRAFTS,
    ORPHAN_IMAGES,
    RESTORE_FOLDERS,
    STAGED_COPIES,
    TEMP_FILES,
    THROTTLE_ENTRIES,
    SweepReport,
)

from .conftest import FAST_CONFIG, PASSWORD, files_below, make_image

HOURS = 3600


@pytest.fixture(autouse=True)
def private_temp(tmp_path, monkeypatch) -> Path:
    """Point the temp folder (where CLI commands stage store copies) at this test's own."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def aged(path: Path, seconds: float) -> Path:
    """Make a file or folder look ``seconds`` old."""
    then = time.time() - seconds
    os.utime(path, (then, then), follow_symlinks=False)
    return path


def orphan_image(studio, seconds: float = 2 * HOURS, suffix: str = "full") -> Path:
    """Write an image file no artwork names, as an interrupted upload leaves one."""
    name = f"{studio.media.new_stem()}-{suffix}.jpg"
    studio.media.write(name, make_image("JPEG"))
    return aged(studio.media.path(name), seconds)


def orphan_draft(data_dir: Path, seconds: float = 2 * HOURS) -> Path:
    path = data_dir / "drafts" / f"{'ab' * 12}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"objects": []}')
    return aged(path, seconds)


def temp_file(folder: Path, name: str, seconds: float = 2 * HOURS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(b"half a write")
    return aged(path, seconds)


def staged_copy(temp_root: Path, name: str, seconds: float, *, store: bool = True) -> Path:
    """A private store copy like the one `python -m gallery_store check` makes."""
    folder = temp_root / name
    (folder / ("store" if store else "other")).mkdir(parents=True)
    (folder / ("store" if store else "other") / "meta.json").write_text("{}")
    aged(folder / ("store" if store else "other"), seconds)
    return aged(folder, seconds)


def sweep(studio) -> SweepReport:
    # A commit may have started the hourly sweep in the background: one sweep at a time.
    assert studio.wait_for_maintenance(timeout=30)
    return studio.sweeper.sweep(studio.now())


def reopen(studio, data_dir, clock):
    studio.close()
    return open_studio(data_dir, FAST_CONFIG, clock)


# -- orphan files ---------------------------------------------------------------------------------


def test_an_old_image_no_artwork_names_is_swept_and_art_in_use_is_kept(
    studio, participant, circle, data_dir
):
    art = studio.artworks.share(participant, make_image(), caption="Kept", alt_text="A square")
    for name in art.media_names:
        aged(studio.media.path(name), 5 * HOURS)
    old = orphan_image(studio)

    report = sweep(studio)

    assert report.counts[ORPHAN_IMAGES] == 1 and report.sizes[ORPHAN_IMAGES] > 0
    assert not old.exists()
    assert studio.artworks.image(participant, art.id, "full")
    assert all(studio.media.path(n).exists() for n in art.media_names)


def test_a_young_orphan_image_may_be_an_upload_in_progress_and_stays(studio):
    young = orphan_image(studio, seconds=10 * 60)
    assert ORPHAN_IMAGES not in sweep(studio).counts
    assert young.exists()


def test_orphan_files_of_any_age_go_when_the_studio_opens(studio, data_dir, clock):
    image = orphan_image(studio, seconds=0)
    draft = orphan_draft(data_dir, seconds=0)
    # At open the studio holds the folder's lock: nothing can be mid-upload.
    reopened = reopen(studio, data_dir, clock)
    try:
        assert not image.exists() and not draft.exists()
    finally:
        reopened.close()


def test_an_old_draft_file_no_draft_names_is_swept_and_saved_drafts_stay(
    studio, participant, data_dir
):
    draft_id = studio.artworks.save_draft(participant, {"objects": [{"type": "path"}]})
    for path in (data_dir / "drafts").iterdir():
        aged(path, 5 * HOURS)
    stray = orphan_draft(data_dir)

    report = sweep(studio)

    assert report.counts[ORPHAN_DRAFTS] == 1 and not stray.exists()
    [kept] = studio.artworks.drafts_of(participant)
    assert kept["id"] == draft_id and kept["drawing"] == {"objects": [{"type": "path"}]}


def test_orphans_stay_after_the_store_was_restored_from_a_backup(studio, caplog):
    image = orphan_image(studio)
    # They may be the only copy of art saved after the backup the store came back from.
    studio.store.recovery_notes.append("restored from the newest good backup")
    with caplog.at_level(logging.WARNING, logger="gallery_store"):
        report = sweep(studio)
    assert ORPHAN_IMAGES not in report.counts and image.exists()
    assert "had to repair the store" in caplog.text


# -- temp files and staging folders ---------------------------------------------------------------


def test_temp_files_of_interrupted_writes_go_once_old(studio, data_dir):
    old = [
        temp_file(data_dir / "images" / "ab", ".ab12-full.jpg.1234abcd.kc-tmp"),
        temp_file(data_dir / "drafts", ".x.json.1234abcd.kc-tmp"),
        temp_file(data_dir / "keys", ".k.key.1234abcd.kc-tmp"),
    ]
    young = temp_file(data_dir / "drafts", ".y.json.99999999.kc-tmp", seconds=60)
    aside = temp_file(data_dir / "quarantine" / "store-x", ".z.json.1.kc-tmp")

    report = sweep(studio)

    assert report.counts[TEMP_FILES] == 3
    assert not any(p.exists() for p in old)
    assert young.exists()
    assert aside.exists()  # set-aside files stay as they are for whoever investigates


def test_every_temp_file_in_the_folder_goes_at_open(studio, data_dir, clock):
    young = temp_file(data_dir / "drafts", ".y.json.99999999.kc-tmp", seconds=0)
    reopened = reopen(studio, data_dir, clock)
    try:
        assert not young.exists()
    finally:
        reopened.close()


def test_unfinished_backups_go_once_old_even_at_open(studio, data_dir, clock):
    backups = data_dir / "backups"
    old = temp_file(backups, ".backup-abc123.kc-tmp")
    # A `python -m gallery_store backup` may be writing this one right now.
    writing = temp_file(backups, ".backup-def456.kc-tmp", seconds=0)
    reopened = reopen(studio, data_dir, clock)
    try:
        assert not old.exists() and writing.exists()
        assert BACKUP_TEMP_FILES not in sweep(reopened).counts
        assert list(backups.glob("store-*.zip"))  # the real backups are untouched
    finally:
        reopened.close()


def test_restore_staging_folders_go(studio, data_dir, clock):
    staging = data_dir / ".restore-k2j3h4"
    (staging / "store").mkdir(parents=True)
    (staging / "store" / "meta.json").write_text("{}")
    reopened = reopen(studio, data_dir, clock)
    try:
        assert not staging.exists()
        assert (data_dir / "store" / "meta.json").exists()
    finally:
        reopened.close()

    fresh = open_studio(data_dir, FAST_CONFIG, clock)
    try:
        later = aged(temp_file(data_dir / ".restore-later", "meta.json").parent, 2 * HOURS)
        assert sweep(fresh).counts[RESTORE_FOLDERS] == 1 and not later.exists()
    finally:
        fresh.close()


def test_a_rolling_backup_killed_half_way_leaves_no_staging_folder(studio, data_dir, clock):
    staging = data_dir / "backups" / ".snapshot-a1b2c3"
    (staging / "store").mkdir(parents=True)
    (staging / "store" / "meta.json").write_text("{}")
    reopened = reopen(studio, data_dir, clock)
    try:
        assert not staging.exists()
        assert list((data_dir / "backups").glob("store-*.zip"))
    finally:
        reopened.close()


def test_stale_store_copies_of_killed_commands_go_and_nothing_else_in_tmp(
    studio, private_temp, monkeypatch
):
    stale = staged_copy(private_temp, "kindred-canvas-abc123", 12 * HOURS)
    in_use = staged_copy(private_temp, "kindred-canvas-def456", 60)
    not_a_copy = staged_copy(private_temp, "kindred-canvas-ghi789", 12 * HOURS, store=False)
    someone_elses = staged_copy(private_temp, "other-tool-abc", 12 * HOURS)
    target = staged_copy(private_temp, "precious", 12 * HOURS)
    link = private_temp / "kindred-canvas-link"
    link.symlink_to(target)
    a_file = private_temp / "kindred-canvas-file"
    a_file.write_text("x")
    aged(a_file, 12 * HOURS)

    report = sweep(studio)

    assert report.counts[STAGED_COPIES] == 1 and report.sizes[STAGED_COPIES] == 2
    assert not stale.exists()
    for kept in (in_use, not_a_copy, someone_elses, target, link, a_file):
        assert kept.exists() or kept.is_symlink(), kept
    assert (target / "store" / "meta.json").exists()


def test_a_store_copy_owned_by_another_user_is_never_removed(studio, private_temp, monkeypatch):
    theirs = staged_copy(private_temp, "kindred-canvas-theirs", 12 * HOURS)
    real_uid = os.getuid()
    monkeypatch.setattr(sweeper.os, "getuid", lambda: real_uid + 1)
    assert STAGED_COPIES not in sweep(studio).counts
    assert theirs.exists()


def test_a_killed_check_leaves_a_copy_the_sweeper_recognises(
    capsys, studio, therapist, data_dir, private_temp, monkeypatch
):
    # The prefix the sweeper looks for is the one the command line really uses.
    @contextlib.contextmanager
    def killed_before_tidying_up(prefix=None, **options):
        yield tempfile.mkdtemp(prefix=prefix)

    monkeypatch.setattr(tempfile, "TemporaryDirectory", killed_before_tidying_up)
    assert cli(["--data-dir", str(data_dir), "check"]) == 0
    capsys.readouterr()
    [left] = list(private_temp.iterdir())
    assert (left / "store").is_dir()
    for path in [left, *left.rglob("*")]:
        aged(path, 12 * HOURS)
    assert sweep(studio).counts[STAGED_COPIES] == 1 and not left.exists()


# -- time-limited records -------------------------------------------------------------------------


def test_expired_download_archives_go(studio, participant, data_dir, clock):
    studio.exports.prepare_download(participant)
    clock.advance(hours=2)
    report = sweep(studio)
    assert report.counts[EXPIRED_EXPORTS] == 1
    assert not list((data_dir / "exports").glob("*.zip"))


def test_expired_sessions_go_and_live_ones_stay(studio, participant, therapist, clock):
    old = studio.accounts.start_session(participant)
    live = studio.accounts.start_session(therapist)
    clock.advance(minutes=FAST_CONFIG.session_idle_minutes - 5)
    assert studio.accounts.session_user(live).id == therapist.id  # seen: it stays alive
    clock.advance(minutes=10)

    report = sweep(studio)

    assert report.counts[EXPIRED_SESSIONS] == 1
    assert [s["user_id"] for s in studio.store.collection("sessions").all()] == [therapist.id]
    assert studio.accounts.session_user(live).id == therapist.id
    assert studio.accounts.session_user(old) is None


def test_the_sign_in_throttle_forgets_old_entries(studio, participant, clock):
    for number in range(50):
        with pytest.raises((AuthenticationFailed, TooManyAttempts)):
            studio.accounts.authenticate("robin", "wrong", client=f"10.0.0.{number}")
    throttle = studio.accounts.throttle
    assert throttle.entries() >= 50
    clock.advance(hours=2)

    report = sweep(studio)

    assert report.counts[THROTTLE_ENTRIES] >= 50
    assert throttle.entries() == 0
    assert studio.accounts.authenticate("robin", PASSWORD, client="10.0.0.1").id == participant.id


def test_a_throttled_account_keeps_its_wait_through_a_sweep(studio, participant, clock):
    studio.accounts.throttle.failed(["account:robin|"], clock.now.timestamp())
    studio.accounts.throttle.failed(["account:robin|"], clock.now.timestamp())
    assert studio.accounts.throttle.prune(clock.now.timestamp()) == 0
    assert studio.accounts.throttle.wait_time(["account:robin|"], clock.now.timestamp()) > 0


# -- when it runs ---------------------------------------------------------------------------------


def test_the_sweep_runs_after_a_commit_at_most_hourly(studio, therapist, clock):
    first = orphan_image(studio)
    studio.circles.create(therapist, "Morning circle")  # a commit within the hour
    assert first.exists()
    assert studio.sweeper.sweep_if_due() is None

    clock.advance(minutes=61)
    studio.circles.create(therapist, "Evening circle")  # the first commit after the hour
    assert studio.wait_for_maintenance(timeout=30)  # it sweeps beside the request
    assert not first.exists()

    second = orphan_image(studio)
    studio.circles.create(therapist, "Night circle")
    assert studio.wait_for_maintenance(timeout=30)
    assert second.exists()


def test_the_hourly_sweep_never_holds_up_the_commit_that_started_it(
    studio, therapist, clock, monkeypatch
):
    release = threading.Event()
    started = threading.Event()
    walk = sweeper.find_leftovers

    def slow_walk(*args, **kwargs):
        started.set()
        assert release.wait(timeout=30)  # a data folder on a slow disk
        return walk(*args, **kwargs)

    monkeypatch.setattr(sweeper, "find_leftovers", slow_walk)
    clock.advance(minutes=61)
    done = threading.Event()

    def save() -> None:
        studio.circles.create(therapist, "Evening circle")
        done.set()

    threading.Thread(target=save, daemon=True).start()
    assert done.wait(timeout=10), "the commit waited for the sweep"
    assert started.wait(timeout=10)
    release.set()
    assert studio.wait_for_maintenance(timeout=30)


def test_a_failing_sweep_never_reaches_the_person_saving(
    studio, therapist, clock, monkeypatch, caplog
):
    def broken(*args, **kwargs):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(sweeper, "find_leftovers", broken)
    old_session = studio.accounts.start_session(therapist)
    clock.advance(days=FAST_CONFIG.session_absolute_days + 1)
    with caplog.at_level(logging.ERROR, logger="gallery_store"):
        circle = studio.circles.create(
            studio.accounts.authenticate("tess", PASSWORD), "Still saved"
        )
        assert studio.wait_for_maintenance(timeout=30)  # the sweep runs beside the request
    assert studio.store.collection("circles").get(circle.id)["name"] == "Still saved"
    assert "sweeping files failed" in caplog.text
    # The other kinds were still swept.
    assert not studio.store.collection("sessions").by("token", old_session)


def test_the_server_timer_sweeps_while_nobody_writes(studio, clock):
    import asyncio
    import threading

    from ui.web import housekeeping

    image = orphan_image(studio)
    clock.advance(hours=2)

    async def a_few_rounds() -> None:
        task = asyncio.create_task(housekeeping(studio, interval=0.01))
        await asyncio.sleep(0.2)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    worker = threading.Thread(target=lambda: asyncio.run(a_few_rounds()))
    worker.start()
    worker.join(timeout=30)
    assert not image.exists()


# -- check reports, never removes -----------------------------------------------------------------


def test_check_reports_each_kind_of_leftover_and_removes_nothing(
    capsys, studio, participant, data_dir, private_temp
):
    orphan_image(studio)
    orphan_image(studio, suffix="thumb")
    orphan_draft(data_dir)
    temp_file(data_dir / "drafts", ".x.json.1234abcd.kc-tmp")
    temp_file(data_dir / "backups", ".backup-abc.kc-tmp")
    aged(temp_file(data_dir / ".restore-abc", "meta.json").parent, 2 * HOURS)
    staged_copy(private_temp, "kindred-canvas-old", 12 * HOURS)
    aged(temp_file(data_dir / "exports", "a1b2.zip"), 2 * HOURS)
    with studio.store.transaction():
        studio.store.collection("sessions").insert(
            {
                "token_hash": "x",
                "user_id": participant.id,
                "created_at": "2020-01-01T00:00:00+00:00",
                "last_seen": "2020-01-01T00:00:00+00:00",
                "credential_version": 1,
            }
        )
    before = files_below(data_dir) | files_below(private_temp)

    code = cli(["--data-dir", str(data_dir), "check"])
    out = capsys.readouterr().out

    assert code == 0 and out.strip().endswith("healthy")  # leftovers warn, they are no problem
    warnings = [line for line in out.splitlines() if "warning:" in line]
    for expected in (
        "2 orphan image files (",
        "1 orphan draft files (",
        "1 temp files of interrupted writes (",
        "1 unfinished backup files (",
        "1 restore staging folders (",
        "1 stale store copies in the temp folder (",
        "1 expired download archives (",
        "1 expired sessions",
    ):
        assert any(expected in w for w in warnings), (expected, out)
    after = files_below(data_dir) | files_below(private_temp)
    assert set(before) <= set(after)  # nothing was removed
