"""Shared fixtures: a Studio on a temp folder, people in circles, test images and servers."""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image

from gallery_store import StudioConfig, open_studio
from gallery_store.config import ImageLimits

from . import servers

# argon2 at production cost takes ~0.1 s a hash; tests make hundreds of accounts.
FAST_CONFIG = StudioConfig(argon2_time_cost=1, argon2_memory_kib=1024, argon2_parallelism=1)
PASSWORD = "a calm river of stones"


class Clock:
    """A settable clock for tests of expiry, idle limits and day rollover."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def make_image(
    fmt: str = "PNG", size: tuple[int, int] = (64, 48), color=(200, 120, 80), **save
) -> bytes:
    """Return a small image of one colour in the given format."""
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format=fmt, **save)
    return buffer.getvalue()


def files_below(folder: Path) -> dict[str, bytes]:
    """Return every file below a folder (relative path -> bytes), to compare folders."""
    if not folder.exists():
        return {}
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(autouse=True)
def server_logging_stays_in_its_test():
    """Undo the app's logging set-up after an AppTest, so later tests' stderr stays theirs."""
    from gallery_store.logs import unconfigure_logging

    yield
    unconfigure_logging()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def media_url() -> str:
    """Where the studio keeps images: "" for the data folder's images/ (most tests).

    A module runs on both kinds by overriding it with ``any_media_url``.
    """
    return ""


@pytest.fixture
def config(media_url) -> StudioConfig:
    return FAST_CONFIG.with_overrides(media_url=media_url) if media_url else FAST_CONFIG


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


# KINDRED_TEST_BACKEND=postgres runs every test built on the `studio` fixture with its records
# in PostgreSQL (a fresh database of the test cluster each); the default is the embedded store.
TEST_BACKEND = os.environ.get("KINDRED_TEST_BACKEND", "embedded")
if TEST_BACKEND not in ("embedded", "postgres"):
    raise pytest.UsageError("KINDRED_TEST_BACKEND is embedded (the default) or postgres")


def _on_postgres(monkeypatch, url: str) -> None:
    """Make every Studio this test opens (reopening too) keep its records in one database."""
    from gallery_store.studio import Studio

    opened_as = Studio.__init__

    def opened_on_postgres(self, data_dir, config=None, clock=None, **options):
        config = config or StudioConfig()
        if not config.database_url:
            config = config.with_overrides(database_url=url)
        opened_as(self, data_dir, config, clock, **options)

    monkeypatch.setattr(Studio, "__init__", opened_on_postgres)


@pytest.fixture
def studio(request, data_dir, config, clock):
    with pytest.MonkeyPatch.context() as backend:  # its own: tests may undo theirs
        if TEST_BACKEND == "postgres":
            _on_postgres(backend, request.getfixturevalue("postgres_url"))
        s = open_studio(data_dir, config, clock)
        # The first rolling backup starts in the background at open; tests look at the folder.
        assert s.wait_for_backup(timeout=30)
        yield s
        s.close()


@pytest.fixture
def therapist(studio):
    return studio.accounts.bootstrap_therapist("tess", PASSWORD, "Tess")


@pytest.fixture
def circle(studio, therapist):
    return studio.circles.create(therapist, "Tuesday caregivers")


def join(studio, therapist, circle, username: str, display_name: str | None = None):
    """Invite and join one participant; return the new user."""
    code = studio.circles.invite(therapist, circle.id)
    return studio.accounts.join(code, username, PASSWORD, display_name or username.title())


@pytest.fixture
def participant(studio, therapist, circle):
    return join(studio, therapist, circle, "robin", "Robin")


@pytest.fixture
def peer(studio, therapist, circle):
    return join(studio, therapist, circle, "sam", "Sam")


@pytest.fixture
def other_circle(studio, therapist):
    return studio.circles.create(therapist, "Thursday nurses")


@pytest.fixture
def outsider(studio, therapist, other_circle):
    return join(studio, therapist, other_circle, "lee", "Lee")


@pytest.fixture
def small_limits() -> ImageLimits:
    return ImageLimits(max_bytes=2 * 1024 * 1024, max_pixels=4_000_000)


# -- test servers (tests/servers.py) -------------------------------------------------------------


@pytest.fixture(scope="session")
def s3_server():
    """A SeaweedFS S3 gateway for the whole run (skips, or fails in CI, without `weed`)."""
    with servers.seaweedfs() as server:
        yield server


@pytest.fixture(scope="session")
def postgres_server():
    """A PostgreSQL 15 cluster for the whole run (skips, or fails in CI, without it)."""
    with servers.postgresql() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server):
    """A ``postgresql://`` URL of a fresh, empty database, dropped after the test."""
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(url)


@pytest.fixture(params=["folder", "s3"])
def any_media_url(request, monkeypatch) -> str:
    """Each kind of image store in turn: the data folder, then an empty place in an S3 bucket.

    The URL is also set as ``KINDRED_MEDIA_URL``, as a deployment sets it, so the command
    line (`check`, `backup`) finds the same images as the studio.
    """
    if request.param == "folder":
        monkeypatch.delenv("KINDRED_MEDIA_URL", raising=False)
        return ""
    server = request.getfixturevalue("s3_server")
    url = server.media_url()
    monkeypatch.setenv("KINDRED_MEDIA_URL", url)
    return url


class StoredImages:
    """The stored image files, reached behind the studio's back (as damage or an operator)."""

    def __init__(self, data_dir: Path, media_url: str, s3_server=None) -> None:
        self.folder = data_dir / "images"
        self.bucket = self.prefix = ""
        if media_url:
            from gallery_store.media_s3 import parse_media_url

            settings = parse_media_url(media_url)
            self.bucket, self.prefix = settings.bucket, settings.prefix
            self.client = s3_server.client()

    def names(self) -> set[str]:
        if not self.bucket:
            return set(files_below(self.folder))
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix
        )
        return {o["Key"][len(self.prefix) :] for p in pages for o in p.get("Contents", [])}

    def read(self, name: str) -> bytes:
        if not self.bucket:
            return (self.folder / name).read_bytes()
        return self.client.get_object(Bucket=self.bucket, Key=self.prefix + name)["Body"].read()

    def replace(self, name: str, data: bytes) -> None:
        if not self.bucket:
            (self.folder / name).parent.mkdir(parents=True, exist_ok=True)
            (self.folder / name).write_bytes(data)
        else:
            self.client.put_object(Bucket=self.bucket, Key=self.prefix + name, Body=data)

    def remove(self, name: str) -> None:
        if not self.bucket:
            (self.folder / name).unlink()
        else:
            self.client.delete_object(Bucket=self.bucket, Key=self.prefix + name)


@pytest.fixture
def stored(request, data_dir, media_url) -> StoredImages:
    """The studio's stored images as they are in the folder or the bucket."""
    server = request.getfixturevalue("s3_server") if media_url else None
    return StoredImages(data_dir, media_url, server)
