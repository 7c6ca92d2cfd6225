"""Images in the data folder and in an S3 object store behave the same to everyone.

Every test here runs on both kinds (``any_media_url``): the media interface itself, sharing
and seeing art, deleting an account, downloads and exhibitions, the sweeper, `stats`, and a
whole-studio backup restored elsewhere. The S3 store is a throwaway SeaweedFS server.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from gallery_store import StudioConfig, config_from_env, open_studio, sweeper
from gallery_store.__main__ import main as cli
from gallery_store.artworks import VARIANTS
from gallery_store.errors import NotFound
from gallery_store.media import MediaStore, digest_of
from gallery_store.media_s3 import S3MediaStore, parse_media_url
from gallery_store.sweeper import ORPHAN_IMAGES

from . import servers
from .conftest import FAST_CONFIG, PASSWORD, Clock, make_image

HOURS = 3600


@pytest.fixture
def media_url(any_media_url):
    return any_media_url


@pytest.fixture
def art(studio, participant):
    return studio.artworks.share(
        participant, make_image("PNG", (160, 120)), caption="Tide", alt_text="Blue waves"
    )


def run(capsys, data_dir, *args) -> tuple[int, str]:
    code = cli(["--data-dir", str(data_dir), *args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out + err


def later(monkeypatch, seconds: float) -> None:
    """Make the sweeper see every file as ``seconds`` older than it is."""
    real = time.time
    monkeypatch.setattr(sweeper, "time", SimpleNamespace(time=lambda: real() + seconds))


# -- the interface ------------------------------------------------------------------------------


def test_the_studio_keeps_images_where_it_was_told(studio, media_url):
    assert isinstance(studio.media, S3MediaStore if media_url else MediaStore)
    assert studio.media.shared is bool(media_url)


def test_a_written_file_reads_back_streams_lists_and_goes(studio, stored):
    media = studio.media
    name = f"{media.new_stem()}-full.webp"
    data = make_image("WEBP", (90, 60))

    assert media.write(name, data) == digest_of(data)

    assert media.exists(name) and media.read(name) == data == stored.read(name)
    assert media.size(name) == len(data)
    assert media.damage(name, digest_of(data)) is None
    [entry] = media.entries()
    assert (entry.name, entry.size) == (name, len(data))
    assert abs(entry.modified - time.time()) < 120
    assert media.all_names() == {name} == stored.names()
    with zipfile.ZipFile(buffer := io.BytesIO(), "w") as archive:
        assert media.copy_into_zip(name, archive, "art/one.webp") == digest_of(data)
    with zipfile.ZipFile(buffer) as archive:
        assert archive.read("art/one.webp") == data
        assert archive.getinfo("art/one.webp").compress_type == zipfile.ZIP_STORED

    media.delete([name, f"{media.new_stem()}-thumb.webp", "../../etc/passwd"])

    assert not media.exists(name) and media.all_names() == set() == stored.names()
    with pytest.raises(NotFound):
        media.read(name)
    with pytest.raises(NotFound):
        media.size(name)
    assert media.damage(name) == "the file is missing"


def test_a_missing_file_begins_no_member_of_an_archive(studio):
    with zipfile.ZipFile(buffer := io.BytesIO(), "w") as archive, pytest.raises(NotFound):
        studio.media.copy_into_zip(f"{studio.media.new_stem()}-full.jpg", archive, "a.jpg")
    assert zipfile.ZipFile(buffer).namelist() == []


@pytest.mark.parametrize("name", ["../../etc/passwd", "ab/cd-full.exe", "/ab/x-full.jpg", ""])
def test_names_the_studio_never_writes_are_refused(studio, name):
    media = studio.media
    with pytest.raises(NotFound):
        media.read(name)
    with pytest.raises(NotFound):
        media.write(name, b"x")
    assert not media.exists(name)
    assert media.damage(name) == "its name is not one the studio writes"


def test_only_the_studios_own_names_are_listed(studio, stored):
    stored.replace("ab/notes.txt", b"an operator's note")
    assert studio.media.all_names() == set()


# -- sharing, seeing, deleting ------------------------------------------------------------------


def test_shared_art_is_stored_whole_and_each_copy_is_served_to_the_circle(
    studio, art, peer, stored
):
    record = studio.store.collection("artworks").get(art.id)
    assert stored.names() == set(art.media_names) == set(record["digests"])
    for variant in VARIANTS:
        data = studio.artworks.image(peer, art.id, variant)
        assert data == stored.read(record[f"{variant}_name"])
        assert digest_of(data) == record["digests"][record[f"{variant}_name"]]


def test_deleting_an_account_deletes_its_images(studio, art, participant, peer, stored):
    theirs = studio.artworks.share(
        peer, make_image("PNG", (50, 50)), caption="Kept", alt_text="Sam's square"
    )
    studio.exports.delete_account(participant, PASSWORD)

    assert stored.names() == set(theirs.media_names)
    with pytest.raises(NotFound):
        studio.media.read(art.full_name)


def test_deleting_an_artwork_deletes_its_images(studio, art, participant, stored):
    studio.artworks.delete(participant, art.id)
    assert stored.names() == set()


# -- downloads and exhibitions ------------------------------------------------------------------


def test_the_personal_download_holds_each_full_size_image(studio, art, participant, tmp_path):
    second = studio.artworks.share(
        participant, make_image("JPEG", (70, 90)), caption="Two", alt_text="Green"
    )
    archive = studio.exports.write_personal_archive(participant, tmp_path / "mine.zip")
    with zipfile.ZipFile(archive) as zf:
        data = json.loads(zf.read("data.json"))
        images = {n: zf.read(n) for n in zf.namelist() if n.startswith("artworks/")}
    assert images == {f"artworks/{a.id}.jpg": studio.media.read(a.full_name) for a in (art, second)}
    assert {a["file"] for a in data["artworks"]} == set(images)


def test_a_missing_image_leaves_its_words_in_the_download(
    studio, art, participant, stored, tmp_path
):
    stored.remove(art.full_name)
    archive = studio.exports.write_personal_archive(participant, tmp_path / "mine.zip")
    with zipfile.ZipFile(archive) as zf:
        [artwork] = json.loads(zf.read("data.json"))["artworks"]
        assert not [n for n in zf.namelist() if n.startswith("artworks/")]
    assert artwork["caption"] == "Tide" and artwork["file"] is None


def test_an_exhibition_holds_the_opted_in_images(studio, participant, therapist, circle, tmp_path):
    shown = studio.artworks.share(
        participant,
        make_image("PNG", (80, 80)),
        caption="Show me",
        alt_text="Orange",
        exhibit_opt_in=True,
    )
    studio.artworks.share(participant, make_image(), caption="Mine only", alt_text="Plain")

    assert studio.exports.write_exhibition(therapist, circle.id, tmp_path / "show.zip") == 1

    with zipfile.ZipFile(tmp_path / "show.zip") as zf:
        images = {n: zf.read(n) for n in zf.namelist() if n.startswith("artworks/")}
    assert images == {f"artworks/{shown.id}.jpg": studio.media.read(shown.full_name)}


# -- the sweeper --------------------------------------------------------------------------------


def orphan(studio) -> str:
    """Write an image no artwork names, as an interrupted upload leaves one."""
    name = f"{studio.media.new_stem()}-full.jpg"
    studio.media.write(name, make_image("JPEG"))
    return name


def test_an_old_orphan_image_is_swept_and_art_in_use_stays(
    studio, art, participant, stored, monkeypatch
):
    stray = orphan(studio)
    later(monkeypatch, 2 * HOURS)

    report = studio.sweeper.sweep(studio.now())

    assert report.counts[ORPHAN_IMAGES] == 1 and report.sizes[ORPHAN_IMAGES] > 0
    assert stored.names() == set(art.media_names)
    assert stray not in studio.media.all_names()
    assert studio.artworks.image(participant, art.id, "full")


def test_a_young_orphan_image_may_be_an_upload_in_progress_and_stays(studio, stored):
    stray = orphan(studio)
    assert ORPHAN_IMAGES not in studio.sweeper.sweep(studio.now()).counts
    assert stray in stored.names()


def test_at_open_a_young_orphan_goes_from_the_folder_but_stays_in_a_shared_bucket(
    studio, data_dir, config, clock, stored, media_url
):
    stray = orphan(studio)
    studio.close()
    # At open the studio holds its folder's lock, but not the bucket: other servers write
    # into it, and a young file may be one of their uploads under way.
    with open_studio(data_dir, config, clock):
        assert (stray in stored.names()) is bool(media_url)


def test_check_reports_an_old_orphan_image_and_removes_nothing(
    capsys, studio, art, data_dir, stored, monkeypatch
):
    stray = orphan(studio)
    later(monkeypatch, 2 * HOURS)
    code, out = run(capsys, data_dir, "check")
    assert code == 0
    assert "warning: 1 orphan image files" in out
    assert stray in stored.names()


# -- the command line ---------------------------------------------------------------------------


def test_stats_counts_the_images(capsys, studio, art, data_dir):
    code, out = run(capsys, data_dir, "stats")
    size = sum(studio.media.size(n) for n in art.media_names)
    assert code == 0 and "images: 3 files, " in out
    assert size > 0


def test_a_whole_studio_backup_holds_the_images_and_restores_them_elsewhere(
    capsys, studio, art, participant, data_dir, tmp_path, monkeypatch, request, media_url
):
    archive = tmp_path / "studio.zip"
    code, out = run(capsys, data_dir, "backup", "--output", str(archive))
    assert code == 0 and "3 images" in out
    with zipfile.ZipFile(archive) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        images = {n[len("images/") :]: zf.read(n) for n in zf.namelist() if n.startswith("images/")}
    assert images == {name: studio.media.read(name) for name in art.media_names}
    assert {f"images/{n}" for n in images} <= set(manifest["files"])

    # Restored into a new folder and, on S3, a new empty place in the bucket.
    new_url = request.getfixturevalue("s3_server").media_url() if media_url else ""
    monkeypatch.setenv("KINDRED_MEDIA_URL", new_url)
    target = tmp_path / "restored"
    code, out = run(capsys, target, "restore", str(archive))
    assert code == 0
    assert (target / "images").exists() is not bool(media_url)
    restored = open_studio(
        target,
        FAST_CONFIG.with_overrides(media_url=new_url),
        Clock(datetime(2026, 11, 2, 10, 0, tzinfo=UTC)),
    )
    try:
        assert restored.media.all_names() == set(art.media_names)
        robin = restored.accounts.authenticate("robin", PASSWORD)
        assert restored.artworks.image(robin, art.id, "full") == images[art.full_name]
    finally:
        restored.close()
    code, out = run(capsys, target, "check")
    assert code == 0 and out.strip().endswith("healthy")


# -- S3 only: configuration and an unreachable store --------------------------------------------


def test_the_media_url_is_read_from_the_environment(monkeypatch):
    monkeypatch.setenv(
        "KINDRED_MEDIA_URL",
        "s3://kindred-images/clinic-a/?endpoint=http://127.0.0.1:8333/&region=eu-west-1"
        "&access_key=AKID&secret_key=s3cr%2Ft",
    )
    config = config_from_env()
    settings = parse_media_url(config.media_url)
    assert settings.bucket == "kindred-images" and settings.prefix == "clinic-a/"
    assert settings.endpoint == "http://127.0.0.1:8333" and settings.region == "eu-west-1"
    assert (settings.access_key, settings.secret_key) == ("AKID", "s3cr/t")
    assert "s3cr" not in repr(config) and "s3cr" not in repr(settings)
    monkeypatch.delenv("KINDRED_MEDIA_URL")
    assert config_from_env().media_url == ""


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("https://bucket.example/x", "must start with s3://"),
        ("s3://Bad_Bucket", "bucket name"),
        ("s3://ab", "bucket name"),
        ("s3://kindred-images?endpont=http://x", "options we don't know: endpont"),
        ("s3://kindred-images?endpoint=ftp://x", "endpoint like"),
        ("s3://kindred-images?endpoint=http://x:port", "isn't a number"),
        ("s3://kindred-images?region=eu-west-1", "both access_key and secret_key"),
        ("s3://kindred-images/../up?region=x", "prefix"),
    ],
)
def test_a_malformed_media_url_is_refused_without_repeating_it(url, says):
    with pytest.raises(ValueError, match="KINDRED_MEDIA_URL") as refused:
        StudioConfig(media_url=f"{url}{'&' if '?' in url else '?'}secret_key=TOPSECRET")
    message = str(refused.value)
    assert says in message and "TOPSECRET" not in message


@pytest.mark.parametrize("any_media_url", ["s3"], indirect=True)
def test_check_says_when_the_object_store_cannot_be_reached(
    capsys, monkeypatch, studio, art, data_dir
):
    closed = servers.free_port()  # nothing listens there
    monkeypatch.setenv(
        "KINDRED_MEDIA_URL",
        servers.S3Server(f"http://127.0.0.1:{closed}", "AKID", "secret").url("kindred-tests"),
    )
    code, out = run(capsys, data_dir, "check")
    assert code == 1
    [problem] = [line for line in out.splitlines() if "problem:" in line]
    assert f"127.0.0.1:{closed}" in problem and "can't be reached" in problem
