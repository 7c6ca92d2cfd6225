"""Sealed reflections: only the author's password, recovery code or live session opens them."""

from __future__ import annotations

import zipfile

import pytest

from gallery_store import PermissionDenied, ValidationError, open_studio
from gallery_store.models import User

from .conftest import FAST_CONFIG, PASSWORD

NEW_PASSWORD = "a slow tide over pebbles"
MARKER = "lighthouse-marmalade-7731"  # words nobody else writes, to look for as bytes


def every_stored_byte(data_dir) -> dict[str, bytes]:
    """Return every file below the data folder, with each backup archive's members too."""
    found = {}
    for path in sorted(data_dir.rglob("*")):
        if not path.is_file():
            continue
        found[str(path)] = path.read_bytes()
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as archive:
                for name in archive.namelist():
                    found[f"{path}!{name}"] = archive.read(name)
    return found


def files_holding(data_dir, words: str) -> list[str]:
    needle = words.encode()
    return [name for name, data in every_stored_byte(data_dir).items() if needle in data]


def test_no_private_words_in_any_store_file_or_backup(studio, participant, data_dir):
    studio.reflections.write(participant, f"Just for me: {MARKER}", feelings=["lonely"])
    shared = studio.reflections.write(
        participant, f"For my therapist: {MARKER}-shared", share_with_therapist=True
    )
    studio.backup_now()
    holding = files_holding(data_dir, MARKER)
    # The shared copy is readable on purpose (that is what sharing means); nothing else is.
    assert holding, "the test would not notice words on disk"
    assert all(
        MARKER + "-shared" in every_stored_byte(data_dir)[n].decode("latin-1") for n in holding
    )
    studio.reflections.edit(participant, shared.id, share_with_therapist=False)
    for backup in (data_dir / "backups").glob("*.zip"):
        backup.unlink()
    studio.backup_now()
    assert files_holding(data_dir, MARKER) == []
    # The author still reads both.
    texts = {r.text for r in studio.reflections.for_user(participant, participant.id)}
    assert texts == {f"Just for me: {MARKER}", f"For my therapist: {MARKER}-shared"}


def test_the_server_opens_notes_only_with_the_sessions_cookie(studio, participant):
    studio.reflections.write(participant, "Only mine")
    token = studio.accounts.start_session(participant)
    with_cookie = studio.accounts.session_user(token)
    assert [r.text for r in studio.reflections.for_user(with_cookie, participant.id)] == [
        "Only mine"
    ]
    # The same person, as the server knows them without the browser's token.
    bare = User.from_record(studio.store.collection("users").get(participant.id))
    [seen] = studio.reflections.for_user(bare, participant.id)
    assert seen.locked and seen.text == ""
    with pytest.raises(PermissionDenied, match="sign in again"):
        studio.reflections.write(bare, "Another")
    # A token that is not the session's opens nothing.
    assert (
        studio.accounts.sealer.from_session(
            participant.id, list(studio.store.collection("sessions").all())[-1]["seal"], token + "x"
        )
        is None
    )


def test_regression_a_therapist_with_a_reset_code_cannot_read_private_notes(
    studio, therapist, circle, participant
):
    """Regression: issue a reset code, redeem it, sign in as them: every note was readable."""
    studio.reflections.write(participant, f"Private: {MARKER}")
    [member] = [
        m for m in studio.circles.members(therapist, circle.id) if m.user_id == participant.id
    ]
    code = studio.accounts.issue_reset_code(therapist, participant.id)
    studio.accounts.redeem_reset_code(member.username, code, NEW_PASSWORD)
    posing = studio.accounts.sign_in(member.username, NEW_PASSWORD).user
    notes = studio.reflections.for_user(posing, participant.id)
    assert [(n.locked, n.text) for n in notes] == [(True, "")]
    assert MARKER not in str(studio.exports.personal_data(posing))
    # The reset is in the circle's log, not a log of no circle.
    entries = [
        e for e in studio.store.collection("audit").all() if e["action"] == "issue-reset-code"
    ]
    assert [e["circle_id"] for e in entries] == [circle.id]
    # The person is told who made the code, and sees the sign-in that was not theirs.
    events = studio.accounts.reset_notice(posing)
    kinds = [e.kind for e in events]
    assert kinds == ["reset-code", "password-reset", "sign-in"]
    assert events[0].by == "Tess"
    assert not events[1].notes_kept


def test_a_reset_with_the_recovery_code_keeps_notes_open(studio, therapist, participant):
    recovery = participant.keyring.recovery_code
    assert recovery and recovery.startswith("RC-")
    studio.reflections.write(participant, "Kept")
    code = studio.accounts.issue_reset_code(therapist, participant.id)
    with pytest.raises(ValidationError, match="recovery code"):
        studio.accounts.redeem_reset_code("robin", code, NEW_PASSWORD, "RC-WRONG-CODE")
    user = studio.accounts.redeem_reset_code(
        "robin", code, NEW_PASSWORD, recovery.lower().replace("-", " ")
    )
    assert [r.text for r in studio.reflections.for_user(user, user.id)] == ["Kept"]
    again = studio.accounts.authenticate("robin", NEW_PASSWORD)
    assert [r.text for r in studio.reflections.for_user(again, again.id)] == ["Kept"]
    assert studio.accounts.reset_notice(again)[-1].notes_kept


def test_notes_locked_by_a_reset_open_later_with_the_old_recovery_code(
    studio, therapist, participant
):
    old_code = participant.keyring.recovery_code
    studio.reflections.write(participant, "From before")
    code = studio.accounts.issue_reset_code(therapist, participant.id)
    fresh = studio.accounts.redeem_reset_code("robin", code, NEW_PASSWORD)
    assert fresh.keyring.recovery_code not in (None, old_code)  # a new one to keep
    studio.reflections.write(fresh, "After")
    me = studio.accounts.authenticate("robin", NEW_PASSWORD)
    assert studio.accounts.locked_notes(me) == 1
    assert sorted((r.text, r.locked) for r in studio.reflections.for_user(me, me.id)) == [
        ("", True),
        ("After", False),
    ]
    with pytest.raises(ValidationError):
        studio.accounts.unlock_notes(me, fresh.keyring.recovery_code)
    assert studio.accounts.unlock_notes(me, old_code) == 1
    assert studio.accounts.locked_notes(me) == 0
    me = studio.accounts.authenticate("robin", NEW_PASSWORD)
    assert sorted(r.text for r in studio.reflections.for_user(me, me.id)) == [
        "After",
        "From before",
    ]


def test_changing_the_password_rewraps_the_key(studio, participant):
    studio.reflections.write(participant, "Still mine")
    studio.accounts.change_password(participant, PASSWORD, NEW_PASSWORD)
    me = studio.accounts.authenticate("robin", NEW_PASSWORD)
    assert [r.text for r in studio.reflections.for_user(me, me.id)] == ["Still mine"]
    record = studio.store.collection("users").get(participant.id)
    assert studio.accounts.sealer.with_password(record, PASSWORD) is None


def test_deleting_an_account_leaves_backups_with_nothing_that_opens(studio, participant, data_dir):
    studio.reflections.write(participant, f"Mine: {MARKER}")
    archive = studio.backup_now()
    record = dict(studio.store.collection("users").get(participant.id))
    assert studio.accounts.sealer.with_password(record, PASSWORD) is not None
    studio.exports.delete_account(participant, PASSWORD)
    assert not (data_dir / "keys" / f"{participant.id}.key").exists()
    # Everything the backup holds, with the password and the recovery code: nothing opens.
    assert archive.exists()
    assert studio.accounts.sealer.with_password(record, PASSWORD) is None
    assert studio.accounts.sealer.with_recovery(record, participant.keyring.recovery_code) == {}
    assert files_holding(data_dir, MARKER) == []


def test_a_failed_join_leaves_no_key_behind(studio, therapist, circle, participant, data_dir):
    code = studio.circles.invite(therapist, circle.id)
    before = studio.accounts.sealer.vault.user_ids()
    with pytest.raises(Exception, match="taken"):
        studio.accounts.join(code, "robin", PASSWORD, "Robin again")
    assert studio.accounts.sealer.vault.user_ids() == before


def test_notes_written_before_sealing_are_sealed_at_the_next_sign_in(studio, participant, data_dir):
    reflections = studio.store.collection("reflections")
    with studio.store.transaction():
        reflections.insert(
            {
                "user_id": participant.id,
                "text": f"Old plain words {MARKER}",
                "circle_id": None,
                "share_with_therapist": False,
                "created_at": "2026-10-01T09:00:00+00:00",
                "updated_at": "2026-10-01T09:00:00+00:00",
            }
        )
    assert files_holding(data_dir / "store", MARKER)
    me = studio.accounts.authenticate("robin", PASSWORD)
    # Already keyed: sealing happens when an account first gets its key, so do it here.
    with studio.store.transaction():
        studio.reflections.seal_unsealed(me.id, me.keyring)
    assert files_holding(data_dir / "store", MARKER) == []
    assert [r.text for r in studio.reflections.for_user(me, me.id)] == [f"Old plain words {MARKER}"]


def test_an_account_from_before_sealing_gets_its_key_at_sign_in(studio, participant, data_dir):
    users = studio.store.collection("users")
    with studio.store.transaction():
        users.update(participant.id, seal=None, locked_keys=None)
        studio.store.collection("reflections").insert(
            {
                "user_id": participant.id,
                "text": f"Older words {MARKER}",
                "share_with_therapist": False,
                "created_at": "2026-10-01T09:00:00+00:00",
            }
        )
    me = studio.accounts.authenticate("robin", PASSWORD)
    assert files_holding(data_dir / "store", MARKER) == []
    assert [r.text for r in studio.reflections.for_user(me, me.id)] == [f"Older words {MARKER}"]


def test_regression_read_log_outlives_the_readers_account(studio, therapist, circle, participant):
    """Regression: the reads of a shared note vanished when the reading therapist left."""
    code = studio.circles.invite(therapist, circle.id, for_therapist=True)
    reader = studio.accounts.join(code, "dana", PASSWORD, "Dana")
    note = studio.reflections.write(participant, "Shared", share_with_therapist=True)
    studio.reflections.get(reader, note.id)
    studio.exports.delete_account(reader, PASSWORD)
    [(name, _)] = studio.reflections.reads_of(participant, note.id)
    assert name == "Dana"


def test_the_download_holds_the_authors_own_words(studio, participant):
    studio.reflections.write(participant, "In my download", feelings=["calm"])
    data = studio.exports.personal_data(participant)
    [row] = data["reflections"]
    assert row["text"] == "In my download" and row["feelings"] == ["calm"]
    assert "sealed" not in row and "seal" not in data["account"]


def test_the_recovery_code_shows_until_the_person_has_kept_it(studio, participant):
    code = participant.keyring.recovery_code
    me = studio.accounts.authenticate("robin", PASSWORD)
    assert me.keyring.recovery_code is None  # never stored in the clear
    assert studio.accounts.recovery_code_to_show(me) == code
    studio.accounts.recovery_code_kept(me)
    assert studio.accounts.recovery_code_to_show(me) is None


def test_changing_the_password_hashing_settings_keeps_notes_open(
    studio, participant, data_dir, clock
):
    # Bug: a seal did not keep the settings its key was made with, so notes written under
    # one KINDRED_ARGON2_* setting opened as locked once the setting changed.
    studio.reflections.write(participant, "Written under the first settings")
    studio.close()
    stronger = FAST_CONFIG.with_overrides(argon2_time_cost=2, argon2_memory_kib=2048)
    again = open_studio(data_dir, stronger, clock)
    try:
        me = again.accounts.authenticate("robin", PASSWORD)
        texts = [r.text for r in again.reflections.for_user(me, me.id)]
        assert texts == ["Written under the first settings"]
    finally:
        again.close()


def test_a_seal_from_before_settings_were_kept_opens_with_the_shipped_ones(studio, participant):
    from gallery_store.sealing import DEFAULT_KDF, Sealer

    record = studio.store.collection("users").get(participant.id)
    shipped = Sealer(studio.accounts.sealer.vault, DEFAULT_KDF["t"], 1024, 1)
    shipped.kdf = dict(DEFAULT_KDF)  # what the studio ran with when this seal was made
    keyring = studio.accounts.sealer.with_password(record, PASSWORD)
    old_seal = shipped.rewrap_password(record, keyring, PASSWORD)
    del old_seal["kdf"]
    # The studio now runs with its fast test settings, yet the old seal still opens.
    opened = studio.accounts.sealer.with_password({**record, "seal": old_seal}, PASSWORD)
    assert opened is not None and opened.keys == keyring.keys
