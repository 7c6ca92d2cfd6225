"""Display names: a rename shows everywhere, and one name per person in a circle."""

from __future__ import annotations

import json
import zipfile

import pytest

from gallery_store.errors import Conflict
from gallery_store.names import NAME_TAKEN, current_names, name_key

from .conftest import PASSWORD, join, make_image

# -- a rename shows everywhere -------------------------------------------------------------------


@pytest.fixture
def shared(studio, therapist, circle, participant, peer):
    art = studio.artworks.share(
        participant, make_image(), caption="Stones", alt_text="Grey stones", exhibit_opt_in=True
    )
    studio.comments.post(peer, art.id, "I notice the quiet.")
    studio.comments.post(participant, art.id, "Thank you.")
    studio.accounts.rename(participant, "Robin B")
    studio.accounts.rename(peer, "Sam K")
    return art


def test_gallery_and_artwork_show_the_artists_current_name(studio, participant, peer, shared):
    assert [a.artist_name for a in studio.artworks.gallery(peer)] == ["Robin B"]
    assert studio.artworks.get(peer, shared.id).artist_name == "Robin B"
    assert [a.artist_name for a in studio.artworks.by_artist(participant)] == ["Robin B"]
    edited = studio.artworks.edit(participant, shared.id, caption="Stones, again")
    assert edited.artist_name == "Robin B"


def test_comments_show_their_authors_current_names(studio, participant, peer, shared):
    names = [c.author_name for c in studio.comments.for_artwork(participant, shared.id)]
    assert names == ["Sam K", "Robin B"]


def test_the_exhibition_catalogue_shows_the_current_name(
    studio, therapist, circle, shared, tmp_path
):
    studio.exports.write_exhibition(therapist, circle.id, tmp_path / "show.zip")
    with zipfile.ZipFile(tmp_path / "show.zip") as zf:
        catalogue = json.loads(zf.read("catalogue.json"))
        document = zf.read("index.html").decode("utf-8")
    assert [c["artist"] for c in catalogue] == ["Robin B"]
    assert "Robin B" in document and ">Robin<" not in document


def test_the_personal_export_shows_current_names(studio, participant, peer, shared):
    mine = studio.exports.personal_data(participant)
    assert [c["author_name"] for c in mine["comments_on_my_art"]] == ["Sam K", "Robin B"]
    assert [a["artist_name"] for a in mine["artworks"]] == ["Robin B"]
    theirs = studio.exports.personal_data(peer)
    assert [c["author_name"] for c in theirs["my_comments"]] == ["Sam K"]


def test_current_names_looks_each_person_up_once():
    asked: list[str] = []

    class Users:
        def get(self, user_id):
            asked.append(user_id)
            return {"display_name": user_id.upper()} if user_id != "gone" else None

    names = current_names(Users(), ["a", "b", "a", "gone", "b", "a"])
    assert names == {"a": "A", "b": "B"}
    assert asked == ["a", "b", "gone"]


# -- one name per person in a circle -------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "Robin",
        "robin",
        "ROBIN",
        "  Robin  ",
        "Ｒｏｂｉｎ",
        "Ro\u200bbin",
        "\u202eRobin",
        "Ro\u2066bin",
    ],
)
def test_names_that_read_the_same_have_the_same_key(typed):
    assert name_key(typed) == name_key("Robin")


def test_names_that_differ_have_different_keys():
    assert name_key("Robin B") != name_key("Robin")
    assert name_key("Robin  B") == name_key("robin b")


def test_joining_with_a_name_someone_in_the_circle_uses_is_refused(
    studio, therapist, circle, participant
):
    code = studio.circles.invite(therapist, circle.id)
    with pytest.raises(Conflict) as refused:
        studio.accounts.join(code, "robin2", PASSWORD, "ＲＯＢＩＮ\u200b")
    assert str(refused.value) == NAME_TAKEN
    # Nothing was made, and the code still works for another name.
    assert not studio.store.collection("users").by("username", "robin2")
    assert studio.accounts.join(code, "robin2", PASSWORD, "Robin Two").display_name == "Robin Two"


def test_the_same_name_is_fine_in_another_circle(studio, therapist, participant, other_circle):
    assert join(studio, therapist, other_circle, "robin2", "Robin").display_name == "Robin"


def test_joining_another_circle_where_the_name_is_taken_is_refused(
    studio, therapist, circle, participant, other_circle
):
    twin = join(studio, therapist, other_circle, "robin2", "robin")
    code = studio.circles.invite(therapist, circle.id)
    with pytest.raises(Conflict, match="already goes by that name"):
        studio.accounts.join_another_circle(twin, code)
    assert circle.id not in {
        m["circle_id"] for m in studio.store.collection("memberships").by("user", twin.id)
    }
    studio.accounts.rename(twin, "Robin from Thursday")
    assert studio.accounts.join_another_circle(twin, code) == circle.id


def test_renaming_to_a_name_someone_in_any_of_my_circles_uses_is_refused(
    studio, therapist, circle, participant, peer, other_circle, outsider
):
    code = studio.circles.invite(therapist, other_circle.id)
    studio.accounts.join_another_circle(peer, code)
    for taken in ("robin", "Lee", " l\u200dee "):
        with pytest.raises(Conflict) as refused:
            studio.accounts.rename(peer, taken)
        assert str(refused.value) == NAME_TAKEN
    assert studio.accounts.refresh(peer).display_name == "Sam"
    # Changing only how my own name is written is fine.
    assert studio.accounts.rename(peer, "SAM").display_name == "SAM"
    assert studio.accounts.rename(peer, "Sam Lee").display_name == "Sam Lee"
