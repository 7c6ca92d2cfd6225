"""Your data is yours: the personal ZIP, one-time downloads, account deletion, exhibitions."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import re
import threading
import time
import tracemalloc
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest
from PIL import Image

from gallery_store import open_studio
from gallery_store.__main__ import main as cli
from gallery_store.errors import AuthenticationFailed, NotFound, PermissionDenied
from gallery_store.studio import COLLECTIONS

from .conftest import FAST_CONFIG, PASSWORD, Clock, files_below, join, make_image

HOSTILE = "<script>alert(1)</script>"


@dataclass
class Two:
    """Two people in one circle who made art, wrote, checked in and answered each other."""

    therapist: object
    circle: object
    robin: object
    sam: object
    robin_art: list
    sam_art: list
    robin_reflections: list
    sam_reflections: list
    robin_moods: list
    sam_moods: list
    comment_by_sam_on_robin: object
    comment_by_robin_on_sam: object


@pytest.fixture
def two(studio, therapist, circle):
    robin = join(studio, therapist, circle, "robin", "Robin")
    sam = join(studio, therapist, circle, "sam", "Sam")
    share = studio.artworks.share
    robin_art = [
        share(
            robin,
            make_image("PNG", (80, 60), (200, 40, 40)),
            caption=HOSTILE,
            alt_text="Red field",
            content_warning="grief",
        ),
        share(
            robin,
            make_image("JPEG", (90, 70), (40, 200, 40)),
            caption="Green days",
            alt_text="Green field",
        ),
    ]
    sam_art = [
        share(
            sam,
            make_image("PNG", (70, 70), (40, 40, 200)),
            caption="Sam's blue secret",
            alt_text="Blue field",
        ),
    ]
    comment_by_sam_on_robin = studio.comments.post(sam, robin_art[0].id, "Sam sees the red.")
    comment_by_robin_on_sam = studio.comments.post(robin, sam_art[0].id, "Robin likes the blue.")
    studio.reactions.toggle(sam, robin_art[0].id, "relate")
    studio.reactions.toggle(robin, sam_art[0].id, "thanks")
    robin_reflections = [
        studio.reflections.write(robin, "Robin's private page"),
        studio.reflections.write(robin, "Robin's shared page", share_with_therapist=True),
    ]
    sam_reflections = [
        studio.reflections.write(sam, "Sam's private page"),
        studio.reflections.write(sam, "Sam's shared page", share_with_therapist=True),
    ]
    robin_moods = [
        studio.reflections.check_in(robin, "before", 2),
        studio.reflections.check_in(robin, "after", 4),
    ]
    sam_moods = [studio.reflections.check_in(sam, "before", 1)]
    return Two(
        therapist,
        circle,
        robin,
        sam,
        robin_art,
        sam_art,
        robin_reflections,
        sam_reflections,
        robin_moods,
        sam_moods,
        comment_by_sam_on_robin,
        comment_by_robin_on_sam,
    )


class _Tags(HTMLParser):
    """Collect every start tag and its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def tags_of(document: str) -> list[tuple[str, dict]]:
    parser = _Tags()
    parser.feed(document)
    parser.close()
    return parser.tags


def everything(studio) -> dict[str, list[dict]]:
    return {name: [dict(r) for r in studio.store.collection(name).all()] for name in COLLECTIONS}


def mentions(value, needle: str) -> bool:
    """Say whether ``needle`` appears in any key or value, however deeply nested."""
    if isinstance(value, str):
        return needle in value
    if isinstance(value, dict):
        return any(mentions(k, needle) or mentions(v, needle) for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(mentions(v, needle) for v in value)
    return False


def records_mentioning(studio, needle: str) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for name, collection in studio.store.collections().items():
        hits = [dict(r) for r in collection.all() if mentions(r, needle)]
        if hits:
            found[name] = hits
    return found


# -- the personal archive -------------------------------------------------------------------------


def test_personal_zip_holds_exactly_the_owners_data(studio, two, tmp_path):
    archive = studio.exports.write_personal_archive(two.robin, tmp_path / "robin.zip")

    with zipfile.ZipFile(archive) as zf:
        names = set(zf.namelist())
        data = json.loads(zf.read("data.json"))
        images = {n: zf.read(n) for n in names if n.startswith("artworks/")}
    assert names == {"data.json", "index.html", *images}

    assert data["account"]["id"] == two.robin.id
    assert "password_hash" not in json.dumps(data)
    assert {a["id"] for a in data["artworks"]} == {a.id for a in two.robin_art}
    assert {r["id"] for r in data["reflections"]} == {r.id for r in two.robin_reflections}
    assert {m["id"] for m in data["moods"]} == {m.id for m in two.robin_moods}
    # Others' words on the owner's art belong to the owner's story; they are expected here.
    assert [c["text"] for c in data["comments_on_my_art"]] == ["Sam sees the red."]
    assert [(r["artwork_id"], r["reaction"], r["from"]) for r in data["reactions_on_my_art"]] == [
        (two.robin_art[0].id, "relate", "Sam")
    ]
    assert [c["text"] for c in data["my_comments"]] == ["Robin likes the blue."]

    # Nothing of Sam's own: no artwork, reflection or mood. (Sam's artwork id may appear as
    # where Robin's own comment and reaction were left; Sam's art itself may not.)
    text = json.dumps(data, ensure_ascii=False)
    for secret in (
        two.sam_art[0].full_name,
        two.sam_art[0].thumb_name,
        "Sam's blue secret",
        *(r.id for r in two.sam_reflections),
        *(r.text for r in two.sam_reflections),
        *(m.id for m in two.sam_moods),
    ):
        assert secret not in text, secret

    # Exactly the owner's full-size copies, byte for byte.
    assert images == {f"artworks/{a.id}.jpg": studio.media.read(a.full_name) for a in two.robin_art}
    assert {a["file"] for a in data["artworks"]} == set(images)


def test_index_html_is_offline_and_escapes_hostile_captions(studio, two, tmp_path):
    archive = studio.exports.write_personal_archive(two.robin, tmp_path / "robin.zip")
    with zipfile.ZipFile(archive) as zf:
        document = zf.read("index.html").decode("utf-8")
        images = {n for n in zf.namelist() if n.startswith("artworks/")}

    assert "http://" not in document and "https://" not in document
    tags = tags_of(document)
    assert not [t for t, _ in tags if t in ("script", "link", "iframe", "object", "embed")]
    sources = [attrs.get("src") for tag, attrs in tags if tag == "img"]
    assert sorted(sources) == sorted(images)
    for _tag, attrs in tags:
        for name in ("src", "href"):
            if name in attrs:
                assert attrs[name].startswith("artworks/") and ".." not in attrs[name]
    assert HOSTILE not in document
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in document
    assert "Robin&#x27;s shared page" in document or "Robin's shared page" in document
    assert "Sam&#x27;s private page" not in document and "Sam's private page" not in document
    assert {attrs.get("alt") for tag, attrs in tags if tag == "img"} == {
        "Red field",
        "Green field",
    }


def test_index_html_shows_plain_dates_and_says_what_size_the_pictures_are(studio, two, tmp_path):
    """Regression: the page showed raw ISO times and called capped copies "full-size"."""
    big = studio.artworks.share(
        two.robin, make_image("PNG", (4000, 3000), (90, 120, 200)), alt_text="A wide blue field"
    )
    archive = studio.exports.write_personal_archive(two.robin, tmp_path / "robin.zip")
    with zipfile.ZipFile(archive) as zf:
        document = zf.read("index.html").decode("utf-8")
        stored = Image.open(io.BytesIO(zf.read(f"artworks/{big.id}.jpg")))

    assert not re.search(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", document), "a raw ISO time is shown"
    assert "Mon 2 Nov 2026" in document  # the seeded clock's day, as people write it
    assert "full-size" not in document.lower() and "full size" not in document.lower()
    edge = studio.config.images.full_edge
    assert f"at most {edge} pixels on its longer side" in document
    # What the page says is what the archive holds: the copy the studio keeps.
    assert max(stored.size) <= edge < 4000
    assert f"{stored.width} × {stored.height} pixels" in document
    assert (stored.width, stored.height) == (big.width, big.height)


def test_personal_data_of_someone_without_art_is_an_empty_but_valid_archive(
    studio, therapist, circle, tmp_path
):
    lee = join(studio, therapist, circle, "lee", "Lee")
    archive = studio.exports.write_personal_archive(lee, tmp_path / "lee.zip")
    with zipfile.ZipFile(archive) as zf:
        assert sorted(zf.namelist()) == ["data.json", "index.html"]
        data = json.loads(zf.read("data.json"))
    assert data["artworks"] == [] and data["account"]["username"] == "lee"


# -- a 500-artwork portfolio ----------------------------------------------------------------------


def noisy_jpeg(size: tuple[int, int] = (210, 210)) -> bytes:
    """Return a JPEG of random pixels: it stays ~30 KB after the pipeline re-encodes it."""
    image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def portfolio(tmp_path_factory):
    """A studio where one person shared 500 small noisy artworks (built once per session)."""
    folder = tmp_path_factory.mktemp("portfolio")
    clock = Clock()
    studio = open_studio(folder / "data", FAST_CONFIG, clock)
    # Durability is tested elsewhere; skipping fsync keeps building 500 artworks to seconds.
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(os, "fsync", lambda fd: None)
        therapist = studio.accounts.bootstrap_therapist("tess", PASSWORD, "Tess")
        circle = studio.circles.create(therapist, "Portfolio circle")
        artist = join(studio, therapist, circle, "robin", "Robin")
        for number in range(500):
            studio.artworks.share(
                artist, noisy_jpeg(), caption=f"Piece {number}", alt_text="Coloured noise"
            )
            clock.advance(minutes=1)
    yield studio, artist, folder
    studio.close()


@pytest.mark.slow
def test_five_hundred_artworks_export_without_holding_them_in_memory(portfolio):
    studio, artist, folder = portfolio
    artworks = studio.artworks.by_artist(artist)
    assert len(artworks) == 500
    total = sum(studio.media.path(a.full_name).stat().st_size for a in artworks)
    assert total > 10 * 1024 * 1024  # the images really are big in sum
    steps: list[float] = []

    tracemalloc.start()
    try:
        archive = studio.exports.write_personal_archive(
            artist, folder / "export.zip", lambda share, _label: steps.append(share)
        )
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < total / 3, (peak, total)
    assert steps[-1] == 1.0 and steps == sorted(steps)
    with zipfile.ZipFile(archive) as zf:
        images = [n for n in zf.namelist() if n.startswith("artworks/")]
        assert len(images) == 500
        assert len(json.loads(zf.read("data.json"))["artworks"]) == 500
        for artwork in artworks[::50]:
            assert zf.read(f"artworks/{artwork.id}.jpg") == studio.media.read(artwork.full_name)


# -- one-time downloads ---------------------------------------------------------------------------


def code_of(link: str) -> str:
    assert link.startswith("export/")
    return link.removeprefix("export/")


def test_download_is_for_its_owner_only_and_only_once(studio, two):
    steps: list[float] = []
    code = code_of(
        studio.exports.prepare_download(two.robin, lambda share, _label: steps.append(share))
    )
    assert steps and steps[-1] == 1.0

    assert studio.exports.claim_download(None, code) is None
    assert studio.exports.claim_download(two.sam, code) is None
    assert studio.exports.claim_download(two.therapist, code) is None
    path = studio.exports.claim_download(two.robin, code)  # others' tries did not use it up
    assert path is not None and zipfile.is_zipfile(path)
    with zipfile.ZipFile(path) as zf:
        assert json.loads(zf.read("data.json"))["account"]["id"] == two.robin.id
    assert studio.exports.claim_download(two.robin, code) is None
    assert studio.exports.claim_download(two.robin, "not-a-code") is None


def test_download_links_are_different_each_time(studio, two):
    first = studio.exports.prepare_download(two.robin)
    second = studio.exports.prepare_download(two.robin)
    assert first != second
    assert studio.exports.claim_download(two.robin, code_of(first)) != (
        studio.exports.claim_download(two.robin, code_of(second))
    )


def test_download_works_until_an_hour_has_passed(studio, two, clock):
    code = code_of(studio.exports.prepare_download(two.robin))
    clock.advance(minutes=59)
    assert studio.exports.claim_download(two.robin, code) is not None


def test_download_expires_after_an_hour_and_its_file_is_removed(studio, two, clock, data_dir):
    code = code_of(studio.exports.prepare_download(two.robin))
    (prepared,) = list((data_dir / "exports").glob("*.zip"))
    clock.advance(hours=1, seconds=1)

    assert studio.exports.claim_download(two.robin, code) is None
    assert not prepared.exists()
    assert studio.exports.claim_download(two.robin, code) is None


def test_an_expired_unfetched_archive_is_swept_off_the_disk(studio, two, clock, data_dir):
    # Bug: an archive nobody fetched stayed on disk until its link was tried again or
    # the server restarted (20 people's data sat there for 30 hours).
    studio.exports.prepare_download(two.robin)
    (forgotten,) = list((data_dir / "exports").glob("*.zip"))
    clock.advance(minutes=30)
    assert studio.exports.sweep() == 0
    assert forgotten.exists()
    clock.advance(minutes=31)
    assert studio.exports.sweep() == 1
    assert not forgotten.exists()


def test_a_new_export_sweeps_expired_ones_first(studio, two, clock, data_dir):
    studio.exports.prepare_download(two.robin)
    (forgotten,) = list((data_dir / "exports").glob("*.zip"))
    clock.advance(hours=1, seconds=1)
    fresh = code_of(studio.exports.prepare_download(two.sam))
    assert not forgotten.exists()
    assert len(list((data_dir / "exports").glob("*.zip"))) == 1
    assert studio.exports.claim_download(two.sam, fresh) is not None


def test_a_stray_archive_no_link_points_at_is_swept_once_old(studio, two, data_dir):
    folder = data_dir / "exports"
    folder.mkdir(exist_ok=True)
    stray, young = folder / "stray.zip", folder / "young.zip"
    stray.write_bytes(b"PK")
    young.write_bytes(b"PK")
    old = time.time() - 2 * 3600
    os.utime(stray, (old, old))
    assert studio.exports.sweep() == 1
    assert not stray.exists() and young.exists()


def test_the_server_sweeps_on_a_timer(studio, two, clock, data_dir):
    from ui.web import housekeeping

    studio.exports.prepare_download(two.robin)
    (forgotten,) = list((data_dir / "exports").glob("*.zip"))
    clock.advance(hours=2)

    async def two_rounds() -> None:
        task = asyncio.create_task(housekeeping(studio, interval=0.01))
        await asyncio.sleep(0.2)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    worker = threading.Thread(target=lambda: asyncio.run(two_rounds()))
    worker.start()
    worker.join(timeout=30)
    assert not forgotten.exists()


# -- deleting an account --------------------------------------------------------------------------


@pytest.fixture
def lived_in(studio, two):
    """Robin touches every part of the studio, so deletion has something to find everywhere."""
    robin, therapist, circle = two.robin, two.therapist, two.circle
    extra = studio.artworks.share(
        two.sam,
        make_image("PNG", (50, 50), (10, 10, 10)),
        caption="Sam's dark one",
        alt_text="Black square",
    )
    studio.moderation.report(robin, "artwork", extra.id, "This upset me")
    studio.comments.post(therapist, two.robin_art[0].id, "Thank you, Robin.")
    studio.reflections.for_user(therapist, robin.id)  # a logged read of the shared reflection
    studio.moderation.contact(therapist, robin.id, "Checking in on you.", circle_id=circle.id)
    studio.accounts.start_session(robin)
    studio.artworks.set_sensitive_choice(robin, "hide")
    studio.reflections.set_insights_consent(robin, True)
    studio.prompts.another(robin, circle.id)
    draft = studio.artworks.save_draft(robin, {"objects": [{"type": "path"}]})
    return {"sams_dark_one": extra, "draft": draft}


def test_wrong_password_deletes_nothing(studio, two, lived_in, data_dir):
    before = everything(studio)
    files = files_below(data_dir / "images") | files_below(data_dir / "drafts")

    with pytest.raises(AuthenticationFailed, match="nothing was deleted"):
        studio.exports.delete_account(two.robin, "not my password at all")
    with pytest.raises(AuthenticationFailed):
        studio.exports.delete_account(two.robin, "")

    assert everything(studio) == before
    assert files_below(data_dir / "images") | files_below(data_dir / "drafts") == files
    assert studio.accounts.authenticate("robin", PASSWORD).id == two.robin.id


def test_deleted_account_leaves_no_trace_in_the_store_or_files(studio, two, lived_in, data_dir):
    robin = two.robin
    # The scan must have something to find before, or it proves nothing after.
    before = records_mentioning(studio, robin.id)
    assert set(before) >= {
        "users",
        "memberships",
        "sessions",
        "artworks",
        "comments",
        "reactions",
        "reflections",
        "moods",
        "flags",
        "reads",
        "notices",
        "preferences",
        "drafts",
        "prompt_draws",
        "audit",
    }
    robin_files = {n for a in two.robin_art for n in a.media_names}
    assert robin_files <= set(files_below(data_dir / "images"))
    draft_files = set(files_below(data_dir / "drafts"))
    assert draft_files

    studio.exports.delete_account(robin, PASSWORD)

    left = records_mentioning(studio, robin.id)
    assert left == {}, json.dumps(left, indent=1)
    for path in (data_dir / "store").rglob("*.json"):
        assert robin.id not in path.read_text(encoding="utf-8"), path
    assert not robin_files & set(files_below(data_dir / "images"))
    assert not draft_files & set(files_below(data_dir / "drafts"))
    with pytest.raises(AuthenticationFailed):
        studio.accounts.authenticate("robin", PASSWORD)


def test_deleted_account_takes_its_words_on_others_art_and_leaves_theirs(
    studio, two, lived_in, data_dir
):
    sam, sam_art = two.sam, two.sam_art[0]
    sam_before = {
        "artworks": [a.id for a in studio.artworks.by_artist(sam)],
        "reflections": studio.reflections.for_user(sam, sam.id),
        "moods": studio.reflections.moods(sam),
        "image": studio.artworks.image(sam, sam_art.id, "full"),
    }

    studio.exports.delete_account(two.robin, PASSWORD)

    assert [c.text for c in studio.comments.for_artwork(sam, sam_art.id)] == []
    assert studio.reactions.for_artist(sam, sam_art.id) == {}
    assert [a.id for a in studio.artworks.by_artist(sam)] == sam_before["artworks"]
    assert studio.reflections.for_user(sam, sam.id) == sam_before["reflections"]
    assert studio.reflections.moods(sam) == sam_before["moods"]
    assert studio.artworks.image(sam, sam_art.id, "full") == sam_before["image"]
    assert studio.accounts.authenticate("sam", PASSWORD).id == sam.id
    for artwork in two.robin_art:
        with pytest.raises(NotFound):
            studio.artworks.get(sam, artwork.id)
    # Sam's comment lived on Robin's art, so it went with it; Sam's account is untouched.
    assert studio.store.collection("comments").get(two.comment_by_sam_on_robin.id) is None
    assert studio.store.collection("comments").get(two.comment_by_robin_on_sam.id) is None


def test_deleted_account_leaves_no_prepared_download_behind(studio, two, data_dir):
    code = code_of(studio.exports.prepare_download(two.robin))
    assert list((data_dir / "exports").glob("*.zip"))

    studio.exports.delete_account(two.robin, PASSWORD)

    assert list((data_dir / "exports").glob("*.zip")) == []
    assert studio.exports.claim_download(two.robin, code) is None


def test_the_only_therapist_cannot_delete_their_account(studio, two):
    with pytest.raises(PermissionDenied, match="only therapist"):
        studio.exports.delete_account(two.therapist, PASSWORD)
    assert studio.accounts.authenticate("tess", PASSWORD).id == two.therapist.id
    assert studio.circles.get(two.therapist, two.circle.id).id == two.circle.id


# -- exhibitions ----------------------------------------------------------------------------------


def test_exhibition_holds_only_opted_in_visible_art(studio, two, tmp_path):
    chosen = two.robin_art[1]
    studio.artworks.edit(two.robin, chosen.id, exhibit_opt_in=True)
    sams = studio.artworks.share(
        two.sam,
        make_image("PNG", (60, 40), (120, 120, 0)),
        caption=HOSTILE,
        alt_text="Olive",
        exhibit_opt_in=True,
    )
    hidden = studio.artworks.share(
        two.sam,
        make_image("PNG", (60, 40), (0, 120, 120)),
        caption="Reported",
        alt_text="Teal",
        exhibit_opt_in=True,
    )
    studio.moderation.report(two.robin, "artwork", hidden.id, "Please look at this")

    count = studio.exports.write_exhibition(two.therapist, two.circle.id, tmp_path / "show.zip")

    assert count == 2
    with zipfile.ZipFile(tmp_path / "show.zip") as zf:
        catalogue = json.loads(zf.read("catalogue.json"))
        document = zf.read("index.html").decode("utf-8")
        images = {n: zf.read(n) for n in zf.namelist() if n.startswith("artworks/")}
    assert (
        {c["file"] for c in catalogue}
        == set(images)
        == {
            f"artworks/{chosen.id}.jpg",
            f"artworks/{sams.id}.jpg",
        }
    )
    assert images[f"artworks/{chosen.id}.jpg"] == studio.media.read(chosen.full_name)
    assert {c["artist"] for c in catalogue} == {"Robin", "Sam"}
    # Only what the artists chose to show: no ids, reflections or comments.
    assert all(set(c) == {"artist", "caption", "alt_text", "file"} for c in catalogue)
    assert HOSTILE not in document and "http" not in document


def test_exhibition_is_for_therapists_only(studio, two, tmp_path):
    studio.artworks.edit(two.robin, two.robin_art[0].id, exhibit_opt_in=True)
    with pytest.raises(PermissionDenied):
        studio.exports.write_exhibition(two.robin, two.circle.id, tmp_path / "a.zip")
    studio.circles.set_role(two.therapist, two.circle.id, two.sam.id, "cofacilitator")
    with pytest.raises(PermissionDenied):
        studio.exports.prepare_exhibition(two.sam, two.circle.id)
    assert not (tmp_path / "a.zip").exists()

    link, count = studio.exports.prepare_exhibition(two.therapist, two.circle.id)
    assert count == 1
    assert studio.exports.claim_download(two.sam, code_of(link)) is None
    path = studio.exports.claim_download(two.therapist, code_of(link))
    assert path is not None and zipfile.is_zipfile(path)


def test_opting_out_again_leaves_the_exhibition(studio, two, tmp_path):
    artwork = two.robin_art[0]
    studio.artworks.edit(two.robin, artwork.id, exhibit_opt_in=True)
    studio.artworks.edit(two.robin, artwork.id, exhibit_opt_in=False)
    assert studio.exports.write_exhibition(two.therapist, two.circle.id, tmp_path / "s.zip") == 0


# -- whole-studio backup and restore --------------------------------------------------------------


def test_backup_then_restore_reproduces_the_studio(
    studio, two, lived_in, data_dir, tmp_path, capsys
):
    archive = tmp_path / "studio.zip"
    assert cli(["--data-dir", str(data_dir), "backup", "--output", str(archive)]) == 0
    target = tmp_path / "restored"
    assert cli(["--data-dir", str(target), "restore", str(archive)]) == 0
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err

    restored = open_studio(target, FAST_CONFIG, Clock(datetime(2026, 11, 2, 10, 0, tzinfo=UTC)))
    try:
        for name in (
            "users",
            "circles",
            "memberships",
            "artworks",
            "comments",
            "reactions",
            "reflections",
            "moods",
            "prompts",
        ):
            assert [dict(r) for r in restored.store.collection(name).all()] == [
                dict(r) for r in studio.store.collection(name).all()
            ], name
        assert restored.media.all_names() == studio.media.all_names()
        for name in studio.media.all_names():
            assert restored.media.read(name) == studio.media.read(name)
        robin = restored.accounts.authenticate("robin", PASSWORD)
        assert [a.id for a in restored.artworks.by_artist(robin)] == [
            a.id for a in studio.artworks.by_artist(two.robin)
        ]
        assert restored.artworks.image(robin, two.robin_art[0].id, "full") == (
            studio.media.read(two.robin_art[0].full_name)
        )
    finally:
        restored.close()
