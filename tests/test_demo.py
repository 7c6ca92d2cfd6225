"""The demo studio: seeded only into an empty folder, with accounts anyone can sign in to."""

from __future__ import annotations

import io
from collections import Counter

import pytest
from PIL import Image

from gallery_store import open_studio
from gallery_store.demo import DEMO_PASSWORD, abstract_art, seed_demo
from gallery_store.errors import StudioError

from .conftest import FAST_CONFIG, files_below


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """One seeded demo folder, shared by the read-only checks of this module."""
    folder = tmp_path_factory.mktemp("demo") / "data"
    made = seed_demo(folder, FAST_CONFIG)
    return folder, made


@pytest.fixture
def demo_studio(demo):
    folder, _made = demo
    studio = open_studio(folder, FAST_CONFIG)
    yield studio
    studio.close()


def records(studio, name: str) -> list[dict]:
    return list(studio.store.collection(name).all())


def test_seed_reports_how_to_sign_in(demo):
    folder, made = demo
    assert made.data_dir == folder
    assert made.therapist == "therapist"
    assert len(made.participants) == 4
    assert made.password == DEMO_PASSWORD


def test_demo_has_a_therapist_and_four_participants_in_one_circle(demo_studio):
    users = records(demo_studio, "users")
    assert Counter(u["role"] for u in users) == {"therapist": 1, "participant": 4}
    (circle,) = records(demo_studio, "circles")
    members = [m for m in records(demo_studio, "memberships") if m["circle_id"] == circle["id"]]
    assert len(members) == 5


def test_demo_has_six_artworks_with_comments_reactions_reflections_and_moods(demo_studio):
    artworks = records(demo_studio, "artworks")
    assert len(artworks) == 6
    assert all(a["alt_text"] and a["caption"] and a["prompt_id"] for a in artworks)
    for artwork in artworks:
        for name in (artwork["full_name"], artwork["thumb_name"], artwork["blur_name"]):
            assert demo_studio.media.read(name)
        comments = [c for c in records(demo_studio, "comments") if c["artwork_id"] == artwork["id"]]
        reactions = [
            r for r in records(demo_studio, "reactions") if r["artwork_id"] == artwork["id"]
        ]
        assert len(comments) == 2 and len(reactions) == 2
        # Nobody comments on or reacts to their own art in the demo.
        assert all(c["user_id"] != artwork["user_id"] for c in comments)
    assert sum(1 for a in artworks if a.get("content_warning")) == 1
    assert len(records(demo_studio, "reflections")) >= 3
    assert any(r["share_with_therapist"] for r in records(demo_studio, "reflections"))
    moods = records(demo_studio, "moods")
    assert Counter(m["moment"] for m in moods) == {"before": 6, "after": 6}


def test_every_demo_account_signs_in_with_the_published_password(demo, demo_studio):
    _folder, made = demo
    therapist = demo_studio.accounts.authenticate(made.therapist, DEMO_PASSWORD)
    assert therapist.is_therapist
    for username in made.participants:
        person = demo_studio.accounts.authenticate(username, DEMO_PASSWORD)
        assert not person.is_therapist
        assert demo_studio.artworks.gallery(person)  # each sees the circle's art


def test_demo_takes_a_backup_so_it_can_be_restored(demo):
    folder, _made = demo
    assert list((folder / "backups").glob("store-*.zip"))


def test_abstract_art_is_a_deterministic_jpeg():
    first = abstract_art(3, (300, 200))
    assert first == abstract_art(3, (300, 200))
    assert first != abstract_art(4, (300, 200))
    with Image.open(io.BytesIO(first)) as image:
        assert image.format == "JPEG" and image.size == (300, 200)


def test_seeding_a_folder_that_holds_a_studio_is_refused_and_changes_nothing(tmp_path):
    folder = tmp_path / "data"
    seed_demo(folder, FAST_CONFIG)
    before = files_below(folder)

    with pytest.raises(StudioError, match="already holds a studio"):
        seed_demo(folder, FAST_CONFIG)

    assert files_below(folder) == before


def test_seeding_refuses_a_real_studio_that_is_open(studio, therapist, circle, participant):
    before = files_below(studio.data_dir)
    with pytest.raises(StudioError, match="real data is never touched"):
        seed_demo(studio.data_dir, FAST_CONFIG)
    assert files_below(studio.data_dir) == before
    assert [u["username"] for u in records(studio, "users")] == ["tess", "robin"]
