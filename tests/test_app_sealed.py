"""The app around sealed notes: the recovery code, a reset's notice, locked notes, read receipts."""

from __future__ import annotations

from tests.apptest import all_text, app_for, click

from .conftest import PASSWORD

NEW_PASSWORD = "a slow tide over pebbles"


def test_a_new_member_sees_their_recovery_code_until_they_have_kept_it(
    studio, data_dir, monkeypatch, participant
):
    code = participant.keyring.recovery_code
    at = app_for(studio, data_dir, monkeypatch, user=participant)
    assert code in [c.value for c in at.code]
    assert "Keep this to recover your private notes" in all_text(at)
    click(at, "I've kept it somewhere safe")
    assert code not in [c.value for c in at.code]
    assert not at.exception
    again = app_for(studio, data_dir, monkeypatch, user=participant)
    assert code not in [c.value for c in again.code]


def test_after_a_reset_the_person_sees_who_made_the_code_and_every_sign_in(
    studio, data_dir, monkeypatch, therapist, participant
):
    code = studio.accounts.issue_reset_code(therapist, participant.id)
    studio.accounts.redeem_reset_code("robin", code, NEW_PASSWORD)
    me = studio.accounts.sign_in("robin", NEW_PASSWORD).user
    at = app_for(studio, data_dir, monkeypatch, user=me)
    [warning] = [w.value for w in at.warning if "password was reset" in w.value]
    assert "Tess made a password reset code" in warning
    assert "Signed in" in warning
    click(at, "I've seen this")
    assert not [w for w in at.warning if "password was reset" in w.value]
    assert not at.exception


def test_the_journal_shows_locked_notes_and_who_read_a_shared_one(
    studio, data_dir, monkeypatch, therapist, participant
):
    shared = studio.reflections.write(participant, "For Tess to read", share_with_therapist=True)
    studio.reflections.get(therapist, shared.id)
    code = studio.accounts.issue_reset_code(therapist, participant.id)
    studio.accounts.redeem_reset_code("robin", code, NEW_PASSWORD)
    studio.reflections.write(
        studio.accounts.authenticate("robin", NEW_PASSWORD),
        "Written after",
        share_with_therapist=True,
    )
    me = studio.accounts.authenticate("robin", NEW_PASSWORD)
    at = app_for(studio, data_dir, monkeypatch, user=me, page="journal")
    text = all_text(at)
    assert "This note is locked" in text
    assert "For Tess to read" not in text
    assert "Not read yet." in text
    assert not at.exception

    # Before the reset, the shared note shows who read it.
    studio.accounts.unlock_notes(me, participant.keyring.recovery_code)
    at = app_for(studio, data_dir, monkeypatch, user=me, page="journal")
    assert "Read by Tess (" in all_text(at)
    assert "For Tess to read" in all_text(at)


def test_the_account_page_opens_locked_notes_with_the_old_recovery_code(
    studio, data_dir, monkeypatch, therapist, participant
):
    studio.reflections.write(participant, "Locked away")
    old = participant.keyring.recovery_code
    code = studio.accounts.issue_reset_code(therapist, participant.id)
    studio.accounts.redeem_reset_code("robin", code, NEW_PASSWORD)
    me = studio.accounts.authenticate("robin", NEW_PASSWORD)
    at = app_for(studio, data_dir, monkeypatch, user=me, page="account")
    at.text_input(key="unlock_recovery_code").input(old)
    click(at, "Open my notes")
    assert "Opened 1 note." in [s.value for s in at.success]
    assert [r.text for r in studio.reflections.for_user(me, me.id)] == ["Locked away"]
    assert "Recent sign-ins and resets" in [e.label for e in at.expander]
    assert not at.exception
    # The old password opens nothing now.
    assert (
        studio.accounts.sealer.with_password(studio.store.collection("users").get(me.id), PASSWORD)
        is None
    )
