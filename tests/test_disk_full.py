"""A full disk while writing an archive: a kind message, and no half-written file left behind.

Regression: ``prepare_download``, ``prepare_exhibition`` and ``backup_now`` let a raw
``OSError`` out, and a failed ZIP stayed on the disk.
"""

from __future__ import annotations

import errno
import zipfile

import pytest

from gallery_store.durable import DISK_FULL_MESSAGE
from gallery_store.errors import SaveFailed
from tests.apptest import app_for, click

from .conftest import make_image


def full_disk(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def quota_reached(*args, **kwargs):
    raise OSError(errno.EDQUOT, "Disk quota exceeded")


def broken_disk(*args, **kwargs):
    raise OSError(errno.EIO, "Input/output error")


@pytest.fixture
def shared(studio, participant, circle):
    return studio.artworks.share(
        participant, make_image("PNG", (80, 60)), caption="Tide", alt_text="Blue waves"
    )


def zips_in(data_dir):
    folder = data_dir / "exports"
    return sorted(folder.glob("*")) if folder.exists() else []


# Images go into an archive through ZipFile.open (streamed from the media layer), the rest
# through writestr.
@pytest.mark.parametrize("where", ["open", "writestr"])
def test_a_full_disk_while_preparing_my_download_says_so_and_leaves_nothing(
    studio, participant, shared, data_dir, monkeypatch, where
):
    monkeypatch.setattr(zipfile.ZipFile, where, full_disk)
    with pytest.raises(SaveFailed) as failure:
        studio.exports.prepare_download(participant)
    assert failure.value.message == DISK_FULL_MESSAGE
    assert zips_in(data_dir) == []


def test_a_full_disk_is_not_taken_for_a_missing_image(
    studio, participant, shared, data_dir, monkeypatch
):
    # Regression: the per-image `except OSError` swallowed ENOSPC and wrote an archive
    # without the art, silently.
    monkeypatch.setattr(zipfile.ZipFile, "open", quota_reached)
    with pytest.raises(SaveFailed, match="disk is full"):
        studio.exports.prepare_download(participant)
    assert zips_in(data_dir) == []


def test_another_write_error_is_a_kind_message_too(studio, participant, shared, monkeypatch):
    monkeypatch.setattr(zipfile.ZipFile, "writestr", broken_disk)
    with pytest.raises(SaveFailed, match="couldn't prepare the download") as failure:
        studio.exports.prepare_download(participant)
    assert "Errno" not in failure.value.message


def test_a_missing_image_still_leaves_its_words_in_the_download(
    studio, participant, shared, data_dir
):
    (data_dir / "images" / shared.full_name).unlink()
    link = studio.exports.prepare_download(participant)
    path = studio.exports.claim_download(participant, link.removeprefix("export/"))
    with zipfile.ZipFile(path) as archive:
        assert "data.json" in archive.namelist()
        assert not [n for n in archive.namelist() if n.startswith("artworks/")]


def test_a_full_disk_while_preparing_an_exhibition_says_so_and_leaves_nothing(
    studio, therapist, participant, circle, shared, data_dir, monkeypatch
):
    studio.artworks.edit(participant, shared.id, exhibit_opt_in=True)
    monkeypatch.setattr(zipfile.ZipFile, "open", full_disk)
    with pytest.raises(SaveFailed, match="disk is full"):
        studio.exports.prepare_exhibition(therapist, circle.id)
    assert zips_in(data_dir) == []


def test_a_full_disk_while_backing_up_says_so_and_leaves_nothing(
    studio, therapist, data_dir, monkeypatch
):
    before = sorted((data_dir / "backups").iterdir())
    monkeypatch.setattr(zipfile.ZipFile, "writestr", full_disk)
    with pytest.raises(SaveFailed) as failure:
        studio.backup_now()
    assert failure.value.message == DISK_FULL_MESSAGE
    assert sorted((data_dir / "backups").iterdir()) == before  # no .kc-tmp, no new zip


def test_the_journal_page_shows_a_full_disk_kindly(
    studio, data_dir, monkeypatch, participant, shared
):
    at = app_for(studio, data_dir, monkeypatch, user=participant, page="journal")
    monkeypatch.setattr(zipfile.ZipFile, "open", full_disk)
    click(at, "Prepare my download")

    assert DISK_FULL_MESSAGE in [e.value for e in at.error]
    assert not at.get("link_button")
    assert at.title[0].value == "Your journal"  # the rest of the page still shows
    assert not at.exception
    assert zips_in(data_dir) == []
