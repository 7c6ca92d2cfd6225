"""Account deletion is one atomic, resumable operation: never half a person left behind.

Regression for "killed in the middle, the account stays alive with some of its art gone":
deletion used to purge artworks one transaction at a time, then drafts, then the rest.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from gallery_store import open_studio
from gallery_store.errors import AuthenticationFailed, PermissionDenied, ValidationError

from .conftest import FAST_CONFIG, PASSWORD, files_below, join, make_image

REPO = Path(__file__).resolve().parent.parent


class Stop(Exception):
    """Stands in for the process dying at this point."""


@pytest.fixture
def robin(studio, therapist, circle):
    """Robin, with art, a comment, a draft, a reflection and a signed-in session."""
    robin = join(studio, therapist, circle, "robin", "Robin")
    sam = join(studio, therapist, circle, "sam", "Sam")
    art = [
        studio.artworks.share(robin, make_image("PNG", (60, 40)), caption="One", alt_text="A"),
        studio.artworks.share(robin, make_image("JPEG", (50, 50)), caption="Two", alt_text="B"),
    ]
    studio.comments.post(sam, art[0].id, "I see this.")
    studio.comments.post(robin, art[0].id, "Thank you.")
    studio.reflections.write(robin, "A page of mine")
    studio.artworks.save_draft(robin, {"objects": [{"type": "path"}]})
    token = studio.accounts.start_session(robin)
    return {"user": robin, "art": art, "token": token, "sam": sam}


def mentioning(studio, needle: str) -> dict[str, int]:
    """Count the records of each collection that mention ``needle`` anywhere."""
    found = {}
    for name, collection in studio.store.collections().items():
        hits = [r for r in collection.all() if needle in repr(r)]
        if hits:
            found[name] = len(hits)
    return found


def their_files(data_dir: Path, robin) -> set[str]:
    names = {n for a in robin["art"] for n in a.media_names}
    images = names & set(files_below(data_dir / "images"))
    return images | {f"drafts/{n}" for n in files_below(data_dir / "drafts")}


def assert_all_gone(studio, data_dir: Path, robin) -> None:
    user = robin["user"]
    assert mentioning(studio, user.id) == {}
    assert not their_files(data_dir, robin)
    assert studio.accounts.sealer.vault.get(user.id) is None
    for path in (data_dir / "store").rglob("*.json"):
        assert user.id not in path.read_text(encoding="utf-8"), path


def assert_shut(studio, robin) -> None:
    """The account can't sign in, its session is over and no service serves it."""
    with pytest.raises(AuthenticationFailed):
        studio.accounts.authenticate("robin", PASSWORD)
    assert studio.accounts.session_user(robin["token"]) is None
    with pytest.raises(PermissionDenied, match="deleted"):
        studio.reflections.write(robin["user"], "still here?")
    with pytest.raises(PermissionDenied, match="deleted"):
        studio.artworks.share(robin["user"], make_image(), caption="x", alt_text="y")


def test_a_crash_right_after_the_mark_shuts_the_account_and_reopening_finishes_it(
    studio, robin, data_dir, monkeypatch, clock
):
    user = robin["user"]
    assert their_files(data_dir, robin)

    def crash(_user_id):
        raise Stop

    monkeypatch.setattr(studio.accounts.sealer.vault, "destroy", crash)
    with pytest.raises(Stop):
        studio.exports.erase_person(user.id)

    # Nothing of theirs was removed yet, but the account is shut at once.
    assert studio.store.collection("users").get(user.id)["erasing_since"]
    assert len(studio.store.collection("artworks").by("user", user.id)) == 2
    assert_shut(studio, robin)
    studio.close()

    reopened = open_studio(data_dir, FAST_CONFIG, clock)
    try:
        assert_all_gone(reopened, data_dir, robin)
        assert reopened.accounts.authenticate("sam", PASSWORD).id == robin["sam"].id
    finally:
        reopened.close()


def test_a_process_killed_right_after_the_mark_finishes_the_deletion_at_the_next_open(
    studio, robin, data_dir, clock
):
    user = robin["user"]
    studio.close()

    child = subprocess.run(
        [sys.executable, "-m", "tests.erase_crasher", str(data_dir), user.id],
        cwd=REPO,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()

    # What the killed process left: the mark is durable, everything else is still there.
    from gallery_store.storage import Store
    from gallery_store.studio import COLLECTIONS

    left = Store(data_dir)
    left.open(COLLECTIONS)
    try:
        assert left.collection("users").get(user.id)["erasing_since"]
        assert left.collection("artworks").find(user_id=user.id)
    finally:
        left.close()

    reopened = open_studio(data_dir, FAST_CONFIG, clock)
    try:
        assert_all_gone(reopened, data_dir, robin)
        with pytest.raises(AuthenticationFailed):
            reopened.accounts.authenticate("robin", PASSWORD)
    finally:
        reopened.close()


def test_a_failure_while_removing_the_records_removes_none_of_them(
    studio, robin, data_dir, monkeypatch, clock
):
    user = robin["user"]
    artworks = {a.id for a in robin["art"]}

    def fail(_user_id):  # the last step of the one transaction that removes the records
        raise Stop

    monkeypatch.setattr(studio.alerts, "forget", fail)
    with pytest.raises(Stop):
        studio.exports.erase_person(user.id)

    # All or nothing: no artwork of theirs went alone, and the account is still shut.
    assert set(studio.store.collection("artworks").ids_by("user", user.id)) == artworks
    assert studio.store.collection("drafts").by("user", user.id)
    assert their_files(data_dir, robin)
    assert_shut(studio, robin)
    monkeypatch.undo()
    studio.close()

    reopened = open_studio(data_dir, FAST_CONFIG, clock)
    try:
        assert_all_gone(reopened, data_dir, robin)
    finally:
        reopened.close()


def test_a_crash_before_the_files_go_leaves_files_the_sweep_at_open_removes(
    studio, robin, data_dir, monkeypatch, clock
):
    user = robin["user"]

    def crash(_names):
        raise Stop

    monkeypatch.setattr(studio.artworks, "delete_files", crash)
    with pytest.raises(Stop):
        studio.exports.erase_person(user.id)

    assert mentioning(studio, user.id) == {}  # every record went in the one transaction
    assert their_files(data_dir, robin)  # only the files are left, named by no record
    studio.close()

    reopened = open_studio(data_dir, FAST_CONFIG, clock)
    try:
        assert_all_gone(reopened, data_dir, robin)
    finally:
        reopened.close()


def test_deleting_an_account_commits_twice_whatever_it_holds(studio, robin, monkeypatch):
    commits = []
    after_commit = studio.store.on_commit
    monkeypatch.setattr(studio.store, "on_commit", lambda: (commits.append(1), after_commit()))

    studio.exports.delete_account(robin["user"], PASSWORD)

    # The mark, then every record at once: never one artwork at a time.
    assert len(commits) == 2
    assert mentioning(studio, robin["user"].id) == {}


def test_deleting_twice_is_harmless(studio, robin, data_dir):
    studio.exports.erase_person(robin["user"].id)
    studio.exports.erase_person(robin["user"].id)
    assert_all_gone(studio, data_dir, robin)
    assert studio.exports.resume_erasures() == 0


def test_an_account_being_deleted_does_not_count_as_another_therapist(studio, therapist, circle):
    other = join(studio, therapist, circle, "terry", "Terry")
    # A second therapist, half-way through being deleted when a crash came.
    with studio.store.transaction():
        studio.store.collection("users").update(
            other.id, role="therapist", erasing_since="2026-11-01T00:00:00+00:00"
        )
    with pytest.raises(PermissionDenied, match="only therapist"):
        studio.exports.delete_account(therapist, PASSWORD)


def test_a_reset_code_does_not_open_an_account_being_deleted(studio, therapist, robin):
    code = studio.accounts.issue_reset_code(therapist, robin["user"].id)
    with studio.store.transaction():
        studio.store.collection("users").update(
            robin["user"].id, erasing_since="2026-11-01T00:00:00+00:00"
        )
    with pytest.raises(ValidationError, match="reset code doesn't work"):
        studio.accounts.redeem_reset_code("robin", code, "a brand new long password")
