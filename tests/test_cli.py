"""The operator's command line: check, backup, restore, stats and setup-code."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from gallery_store import open_studio
from gallery_store.__main__ import main
from gallery_store.studio import COLLECTIONS

from .conftest import FAST_CONFIG, PASSWORD, files_below, make_image

CIRCLES_SHARD = Path("store/circles/circles-000001.json")


def run(capsys, data_dir: Path, *argv: str) -> tuple[int, str, str]:
    code = main(["--data-dir", str(data_dir), *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


@pytest.fixture
def lived_in(studio, therapist, circle, participant):
    """A studio with people, an artwork with its image files, and a comment."""
    artwork = studio.artworks.share(
        participant, make_image("PNG", (320, 240)), caption="Tide", alt_text="Blue waves"
    )
    studio.comments.post(therapist, artwork.id, "Thank you for sharing this.")
    assert studio.wait_for_backup(timeout=30)  # the first backup, started at open
    return artwork


def everything(studio) -> dict[str, list[dict]]:
    return {name: list(studio.store.collection(name).all()) for name in COLLECTIONS}


# -- check ----------------------------------------------------------------------------------------


def test_check_reports_healthy_while_the_studio_is_open(capsys, studio, lived_in, data_dir):
    code, out, _ = run(capsys, data_dir, "check")
    assert code == 0
    assert out.strip().endswith("healthy")
    assert "rolling backups: 1" in out


def test_check_names_a_damaged_file_and_changes_nothing(capsys, studio, lived_in, data_dir):
    studio.close()
    shard = data_dir / CIRCLES_SHARD
    shard.write_bytes(shard.read_bytes()[:20])
    before = files_below(data_dir)

    code, out, _ = run(capsys, data_dir, "check")
    assert code == 1
    assert "circles-000001.json" in out and "not valid JSON" in out
    assert "NOT healthy" in out and "healthy\n" not in out.replace("NOT healthy", "")
    assert files_below(data_dir) == before


def test_check_reports_a_missing_image(capsys, studio, lived_in, data_dir):
    (data_dir / "images" / lived_in.full_name).unlink()
    code, out, _ = run(capsys, data_dir, "check")
    assert code == 1
    assert lived_in.full_name in out and "missing" in out


def test_regression_an_artwork_deleted_while_check_runs_is_not_a_missing_image(
    capsys, studio, lived_in, participant, data_dir, monkeypatch
):
    """Regression: `check` copies the store, then looks for each artwork's files in the live
    folder. An artwork deleted in between (its files go right after its record) was reported
    as missing images, and a healthy studio as NOT healthy."""
    from gallery_store import __main__ as cli

    real_copy = cli.copy_store_files
    copies = []

    def copy_then_delete(source, staging, *args, **kwargs):
        real_copy(source, staging, *args, **kwargs)
        copies.append(staging)
        if len(copies) == 1:  # the artist deletes it just after the first copy
            studio.artworks.delete(participant, lived_in.id)

    monkeypatch.setattr(cli, "copy_store_files", copy_then_delete)
    code, out, _ = run(capsys, data_dir, "check")
    assert "missing" not in out
    assert code == 0 and out.strip().endswith("healthy")


def test_check_of_a_folder_without_a_studio_says_so(capsys, tmp_path):
    code, out, err = run(capsys, tmp_path / "nothing-here", "check")
    assert code == 1
    assert "no studio data" in err and out == ""


# -- backup and restore ---------------------------------------------------------------------------


def test_backup_then_restore_reproduces_the_studio(capsys, studio, lived_in, data_dir, tmp_path):
    archive = tmp_path / "studio.zip"
    code, out, _ = run(capsys, data_dir, "backup", "--output", str(archive))  # studio still open
    assert code == 0
    assert str(archive) in out and "3 images" in out

    target = tmp_path / "restored"
    code, out, _ = run(capsys, target, "restore", str(archive))
    assert code == 0
    assert "Restored" in out and str(target) in out

    restored = open_studio(target, FAST_CONFIG)
    try:
        assert everything(restored) == everything(studio)
        for name in lived_in.media_names:
            assert restored.media.read(name) == studio.media.read(name)
    finally:
        restored.close()
    code, out, _ = run(capsys, target, "check")
    assert code == 0 and out.strip().endswith("healthy")


def test_a_restored_archive_still_opens_private_notes_with_the_password(
    capsys, studio, lived_in, participant, data_dir, tmp_path
):
    studio.reflections.write(participant, "Kept across a move")
    archive = tmp_path / "studio.zip"
    code, out, _ = run(capsys, data_dir, "backup", "--output", str(archive))
    assert code == 0 and "people's keys" in out
    target = tmp_path / "restored"
    assert run(capsys, target, "restore", str(archive))[0] == 0
    restored = open_studio(target, FAST_CONFIG)
    try:
        me = restored.accounts.authenticate("robin", PASSWORD)
        assert [r.text for r in restored.reflections.for_user(me, me.id)] == ["Kept across a move"]
    finally:
        restored.close()


def test_backup_without_output_goes_to_the_backups_folder(capsys, studio, lived_in, data_dir):
    code, out, _ = run(capsys, data_dir, "backup")
    assert code == 0
    written = list((data_dir / "backups").glob("studio-*.zip"))
    assert len(written) == 1 and str(written[0]) in out
    # Whole-studio archives are not rolling backups: pruning never touches them.
    assert written[0] not in studio.backups.archives()


def test_backup_refuses_to_overwrite_an_existing_file(capsys, studio, lived_in, data_dir, tmp_path):
    existing = tmp_path / "keep.zip"
    existing.write_bytes(b"an older backup")
    code, _, err = run(capsys, data_dir, "backup", "--output", str(existing))
    assert code == 1 and "already exists" in err
    assert existing.read_bytes() == b"an older backup"


def test_restore_into_a_folder_with_a_studio_is_refused(
    capsys, studio, lived_in, data_dir, tmp_path
):
    archive = tmp_path / "studio.zip"
    assert run(capsys, data_dir, "backup", "--output", str(archive))[0] == 0
    studio.close()
    before = files_below(data_dir)
    code, out, err = run(capsys, data_dir, "restore", str(archive))
    assert code == 1
    assert "already holds a studio" in err and out == ""
    assert files_below(data_dir) == before


def test_restore_of_a_damaged_archive_is_refused_and_changes_nothing(
    capsys, studio, lived_in, data_dir, tmp_path
):
    archive = tmp_path / "studio.zip"
    assert run(capsys, data_dir, "backup", "--output", str(archive))[0] == 0
    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    empty = tmp_path / "empty"
    empty.mkdir()

    for target in (tmp_path / "missing", empty):
        code, out, err = run(capsys, target, "restore", str(damaged))
        assert out == ""
        assert code == 1
        assert "damaged" in err and "nothing was restored" in err
        assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "missing").exists()
    assert list(empty.iterdir()) == []


def test_restore_of_a_missing_archive_says_so(capsys, tmp_path):
    code, _, err = run(capsys, tmp_path / "new", "restore", str(tmp_path / "nope.zip"))
    assert code == 1 and "no archive" in err
    assert not (tmp_path / "new").exists()


# -- stats ----------------------------------------------------------------------------------------


def test_stats_counts_records_files_images_and_backups(capsys, studio, lived_in, data_dir):
    code, out, _ = run(capsys, data_dir, "stats")
    assert code == 0
    rows = {
        m[1]: (int(m[2].replace(",", "")), int(m[3]))
        for m in re.finditer(r"^\s+(\w+)\s+([\d,]+)\s+(\d+)$", out, re.MULTILINE)
    }
    assert rows["users"] == (2, 1)  # the therapist and the participant
    assert rows["circles"] == (1, 1)
    assert rows["artworks"] == (1, 1)
    assert rows["comments"] == (1, 1)
    assert rows["reflections"] == (0, 0)
    assert rows["total"][0] == sum(len(c) for c in studio.store.collections().values())
    assert re.search(r"^images: 3 files, ", out, re.MULTILINE)
    assert re.search(r"^backups: 1 rolling ", out, re.MULTILINE)


# -- setup-code -----------------------------------------------------------------------------------


def test_setup_code_on_a_fresh_studio_prints_the_same_code_each_time(capsys, tmp_path):
    data_dir = tmp_path / "data"
    code, out, _ = run(capsys, data_dir, "setup-code")
    assert code == 0
    setup_code = out.strip()
    assert re.fullmatch(r"SET[\w-]+", setup_code)
    assert run(capsys, data_dir, "setup-code")[1].strip() == setup_code

    # While the app holds the folder, the code is read from a copy of its files.
    studio = open_studio(data_dir, FAST_CONFIG)
    try:
        code, out, _ = run(capsys, data_dir, "setup-code")
        assert code == 0 and out.strip() == setup_code
        assert studio.accounts.setup_code() == setup_code
    finally:
        studio.close()


def test_setup_code_after_a_therapist_exists_prints_no_code(capsys, studio, therapist, data_dir):
    code, out, err = run(capsys, data_dir, "setup-code")  # the studio is open: read a copy
    assert code == 1 and out == ""
    assert "already has a therapist" in err
    studio.close()
    code, out, err = run(capsys, data_dir, "setup-code")
    assert code == 1 and out == ""
    assert "already has a therapist" in err


# -- misuse ---------------------------------------------------------------------------------------


def test_usage_errors_exit_with_2(capsys):
    assert main([]) == 2
    assert main(["restore"]) == 2
    assert main(["--help"]) == 0
    capsys.readouterr()


def test_default_data_dir_comes_from_the_environment(
    capsys, studio, lived_in, data_dir, monkeypatch
):
    monkeypatch.setenv("KINDRED_DATA_DIR", str(data_dir))
    assert main(["check"]) == 0
    assert str(data_dir) in capsys.readouterr().out


def test_a_backup_of_an_unrepairable_store_is_refused(capsys, studio, lived_in, data_dir, tmp_path):
    studio.close()
    shutil.rmtree(data_dir / "backups")
    for segment in sorted((data_dir / "store" / "log").glob("*.log"))[:-1]:
        segment.unlink()
    (data_dir / CIRCLES_SHARD).write_bytes(b"\x00" * 32)
    code, _, err = run(capsys, data_dir, "backup", "--output", str(tmp_path / "b.zip"))
    assert code == 1 and "damaged" in err
    assert not (tmp_path / "b.zip").exists()


def test_a_backup_of_a_repairable_store_holds_everything(
    capsys, studio, lived_in, data_dir, tmp_path
):
    circles = {c["id"] for c in studio.store.collection("circles").all()}
    studio.close()
    (data_dir / CIRCLES_SHARD).write_bytes(b"\x00" * 32)
    archive = tmp_path / "b.zip"
    assert run(capsys, data_dir, "backup", "--output", str(archive))[0] == 0
    assert (data_dir / CIRCLES_SHARD).read_bytes() == b"\x00" * 32  # the live file untouched
    target = tmp_path / "restored"
    assert run(capsys, target, "restore", str(archive))[0] == 0
    restored = open_studio(target, FAST_CONFIG)
    try:
        assert {c["id"] for c in restored.store.collection("circles").all()} == circles
    finally:
        restored.close()


def test_check_and_backup_read_commits_still_only_in_the_log_without_touching_it(
    capsys, studio, lived_in, data_dir, tmp_path
):
    therapist = studio.accounts.authenticate("tess", PASSWORD)
    decided = studio.circles.create(therapist, "Decided circle")  # in the log, not a shard
    before = files_below(data_dir / "store")

    code, out, _ = run(capsys, data_dir, "check")
    assert code == 0 and out.strip().endswith("healthy")
    archive = tmp_path / "studio.zip"
    assert run(capsys, data_dir, "backup", "--output", str(archive))[0] == 0
    assert files_below(data_dir / "store") == before  # neither touched the live files

    target = tmp_path / "restored"
    assert run(capsys, target, "restore", str(archive))[0] == 0
    restored = open_studio(target, FAST_CONFIG)
    try:
        assert restored.store.collection("circles").get(decided.id)["name"] == "Decided circle"
    finally:
        restored.close()


# -- records in PostgreSQL ------------------------------------------------------------------------


@pytest.fixture
def in_postgres(postgres_url, data_dir, clock, monkeypatch):
    """A lived-in studio whose records are in PostgreSQL (KINDRED_DATABASE_URL is set)."""
    monkeypatch.setenv("KINDRED_DATABASE_URL", postgres_url)
    studio = open_studio(data_dir, FAST_CONFIG.with_overrides(database_url=postgres_url), clock)
    therapist = studio.accounts.bootstrap_therapist("tess", PASSWORD, "Tess")
    circle = studio.circles.create(therapist, "Tuesday caregivers")
    code = studio.circles.invite(therapist, circle.id)
    robin = studio.accounts.join(code, "robin", PASSWORD, "Robin")
    artwork = studio.artworks.share(robin, make_image(), caption="Tide", alt_text="Blue waves")
    studio.comments.post(therapist, artwork.id, "Thank you for sharing this.")
    yield studio
    studio.close()


def test_check_and_stats_read_a_studio_in_postgresql(capsys, in_postgres, data_dir):
    code, out, _ = run(capsys, data_dir, "check")
    assert code == 0, out
    assert "database: schema 1, " in out and "every index key matches its record" in out
    assert "images: 3 files; 1 artworks use 3, all present" in out
    assert out.strip().endswith("healthy")

    code, out, _ = run(capsys, data_dir, "stats")
    assert code == 0
    rows = {
        m[1]: int(m[2].replace(",", ""))
        for m in re.finditer(r"^\s+(\w+)\s+([\d,]+)\s+[\d.]+ [KMG]?B$", out, re.MULTILINE)
    }
    assert rows["users"] == 2 and rows["artworks"] == 1 and rows["comments"] == 1
    assert rows["total"] == sum(len(c) for c in in_postgres.store.collections().values())
    assert re.search(r"^images: 3 files, ", out, re.MULTILINE)


def test_check_finds_index_keys_that_disagree_with_their_records(capsys, in_postgres, data_dir):
    import psycopg

    with psycopg.connect(in_postgres.config.database_url, autocommit=True) as conn:
        conn.execute(
            "DELETE FROM record_keys WHERE collection = 'comments' AND index_name = 'artwork'"
        )
        conn.execute(
            "INSERT INTO record_keys (collection, index_name, key, record_id, seq)"
            " VALUES ('users', 'retired', '\"x\"', 'gone', 1)"
        )
    code, out, _ = run(capsys, data_dir, "check")
    assert code == 1
    assert "problem: comments: 1 records whose index keys are out of date" in out
    assert "problem: users: 1 index keys of records that are gone" in out
    assert "warning: users: keys of an index no longer used (retired)" in out
    assert "NOT healthy" in out


def test_backup_restore_and_recover_point_to_postgresql_tools(capsys, in_postgres, data_dir):
    for argv in (["backup"], ["restore", str(data_dir / "x.zip")], ["recover"]):
        code, _, err = run(capsys, data_dir, *argv)
        assert code == 1 and "pg_dump" in err, argv
    assert not (data_dir / "backups").exists() or not any((data_dir / "backups").glob("*.zip"))


def test_check_of_a_new_database_says_what_the_app_will_make(
    capsys, postgres_url, tmp_path, monkeypatch
):
    monkeypatch.setenv("KINDRED_DATABASE_URL", postgres_url)
    code, out, _ = run(capsys, tmp_path / "data", "check")
    assert code == 0, out
    assert "database: schema 0, 0 records in 0 collections" in out
    assert "warning: schema 0: the app migrates it to 1 at its next start" in out
    assert "warning: the app makes the table of users at its next start" in out
