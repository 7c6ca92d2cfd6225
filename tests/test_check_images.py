"""Damaged images are noticed: `check` verifies every artwork file against its digest.

Regression: an empty or truncated image file passed `python -m gallery_store check`.
Every test runs on the data folder's images and on images in an S3 bucket.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from gallery_store.__main__ import main

from .conftest import make_image


def run(capsys, data_dir: Path) -> tuple[int, str]:
    code = main(["--data-dir", str(data_dir), "check"])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out


@pytest.fixture
def media_url(any_media_url):
    return any_media_url


@pytest.fixture
def shared(studio, participant, circle):
    return studio.artworks.share(
        participant, make_image("PNG", (320, 240)), caption="Tide", alt_text="Blue waves"
    )


def without_digests(studio, artwork_id: str) -> None:
    """Make a record look like one saved before the studio kept digests."""
    with studio.store.transaction():
        studio.store.collection("artworks").update(artwork_id, digests=None)


def test_every_file_an_artwork_writes_has_its_digest_on_the_record(studio, shared, stored):
    record = studio.store.collection("artworks").get(shared.id)
    assert set(record["digests"]) == set(shared.media_names) == stored.names()
    for name, digest in record["digests"].items():
        assert hashlib.sha256(stored.read(name)).hexdigest() == digest


def test_a_healthy_studio_with_digests_checks_healthy(capsys, studio, shared, data_dir):
    code, out = run(capsys, data_dir)
    assert code == 0 and out.strip().endswith("healthy")


def test_check_reports_a_truncated_image(capsys, studio, shared, data_dir, stored):
    stored.replace(shared.full_name, stored.read(shared.full_name)[:-200])

    code, out = run(capsys, data_dir)

    assert code == 1 and "NOT healthy" in out
    [problem] = [line for line in out.splitlines() if "problem:" in line]
    assert shared.id in problem and shared.full_name in problem
    assert "no longer matches" in problem


def test_check_reports_an_empty_image(capsys, studio, shared, data_dir, stored):
    stored.replace(shared.thumb_name, b"")

    code, out = run(capsys, data_dir)

    assert code == 1
    [problem] = [line for line in out.splitlines() if "problem:" in line]
    assert shared.id in problem and shared.thumb_name in problem and "empty" in problem


def test_a_missing_image_is_reported_once(capsys, studio, shared, data_dir, stored, media_url):
    stored.remove(shared.blur_name)
    code, out = run(capsys, data_dir)
    assert code == 1
    where = (
        f"s3://{stored.bucket}/{stored.prefix}{shared.blur_name}"
        if media_url
        else f"images/{shared.blur_name}"
    )
    assert [line for line in out.splitlines() if "problem:" in line] == [
        f"  problem: artwork {shared.id}: image file {where} is missing"
    ]


def test_an_older_record_without_digests_passes_while_its_files_decode(
    capsys, studio, shared, data_dir
):
    without_digests(studio, shared.id)
    code, out = run(capsys, data_dir)
    assert code == 0 and out.strip().endswith("healthy")


def test_an_older_record_without_digests_still_has_a_truncated_image_noticed(
    capsys, studio, shared, data_dir, stored
):
    without_digests(studio, shared.id)
    whole = stored.read(shared.full_name)  # a JPEG: verify() alone would pass it
    stored.replace(shared.full_name, whole[: len(whole) // 2])

    code, out = run(capsys, data_dir)

    assert code == 1
    [problem] = [line for line in out.splitlines() if "problem:" in line]
    assert shared.id in problem and shared.full_name in problem and "decoded" in problem


def test_an_older_record_without_digests_still_has_an_empty_image_noticed(
    capsys, studio, shared, data_dir, stored
):
    without_digests(studio, shared.id)
    stored.replace(shared.thumb_name, b"")
    code, out = run(capsys, data_dir)
    assert code == 1 and shared.thumb_name in out and "empty" in out


def test_the_media_store_says_what_is_wrong_with_a_file(studio, shared):
    media = studio.media
    digests = studio.store.collection("artworks").get(shared.id)["digests"]
    assert media.damage(shared.full_name, digests[shared.full_name]) is None
    assert media.damage(shared.full_name) is None
    assert media.damage(shared.full_name, "0" * 64) == (
        "the file no longer matches the digest kept when it was saved"
    )
    assert media.damage("../../etc/passwd") == "its name is not one the studio writes"
    assert media.damage(f"{media.new_stem()}-full.jpg") == "the file is missing"
