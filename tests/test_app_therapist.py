"""The app as a therapist: circles, the prompt library, the care queue and insights."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from gallery_store import StudioError
from gallery_store.policy import COFACILITATOR
from gallery_store.text import day_label, escape_markdown
from pages.prompts import TAB_KEY, open_key
from prompts import THEME_TITLES
from tests.apptest import (
    all_text,
    app_for,
    click,
    img_tags,
    open_page,
    share_art,
    texts,
    titles,
    widget,
)
from tests.conftest import PASSWORD, join

# -- circles --------------------------------------------------------------------------------------


def test_a_therapist_creates_a_circle(studio, data_dir, monkeypatch, therapist):
    at = app_for(studio, data_dir, monkeypatch, user=therapist, page="circles")
    assert titles(at) == ["Circles"]
    assert "Create your first circle to invite people in." in [i.value for i in at.info]
    widget(at.text_input, "Circle name").input("Friday art club")
    click(at, "Create circle")

    [created] = studio.circles.facilitated(therapist)
    assert created.name == "Friday art club" and created.timezone == "UTC"
    assert at.selectbox(key="manage_circle").value == created.id
    assert "Invites" in [s.value for s in at.subheader]
    assert not at.exception


def test_a_therapist_with_circles_creates_another_and_looks_at_it(
    studio, data_dir, monkeypatch, therapist, circle, other_circle
):
    # Bug: with the sidebar's circle choice already on the page, creating a circle set its
    # key directly and the page said "Something went wrong" (the circle was still made).
    at = app_for(studio, data_dir, monkeypatch, user=therapist, page="circles")
    widget(at.text_input, "Circle name").input("Friday art club")
    click(at, "Create circle")

    created = next(c for c in studio.circles.facilitated(therapist) if c.name == "Friday art club")
    assert not at.exception
    assert at.selectbox(key="manage_circle").value == created.id


def test_a_new_therapist_is_welcomed_and_led_to_a_first_circle_then_an_invite(
    studio, data_dir, monkeypatch, therapist
):
    at = app_for(studio, data_dir, monkeypatch, user=therapist)

    # Regression: a new therapist landed on the Gallery and was told to ask a facilitator for
    # an invite code, which is for participants.
    assert titles(at) == ["Welcome, Tess"]
    assert "Ask your facilitator" not in all_text(at)
    widget(at.text_input, "Name your circle").input("Friday art club")
    click(at, "Create my first circle")

    [created] = studio.circles.facilitated(therapist)
    assert created.name == "Friday art club"
    assert titles(at) == ["Circles"]
    assert [t.value for t in at.toast] == [
        escape_markdown(
            "Your circle “Friday art club” is ready. Next, make an invite code for the first "
            "person you'd like to bring in."
        )
    ]
    click(at, "Make an invite code")
    assert [c.value for c in at.code if c.value.startswith("KC-")]
    assert not at.exception


def test_a_participant_without_a_circle_can_enter_an_invite_code(
    studio, data_dir, monkeypatch, therapist, circle, other_circle, participant
):
    studio.circles.remove_member(therapist, circle.id, participant.id)
    code = studio.circles.invite(therapist, other_circle.id)
    at = app_for(studio, data_dir, monkeypatch, user=participant)

    assert titles(at) == ["Welcome, Robin"]
    widget(at.text_input, "Invite code").input(code)
    click(at, "Join the circle")

    assert [c.id for c in studio.circles.for_user(participant)] == [other_circle.id]
    assert titles(at) == ["Today"]
    assert [t.value for t in at.toast] == [escape_markdown("Welcome to your circle, Robin.")]
    assert not at.exception


def test_a_bad_time_zone_is_refused_kindly(studio, data_dir, monkeypatch, therapist):
    at = app_for(studio, data_dir, monkeypatch, user=therapist, page="circles")
    form = next(f for f in at.get("form") if f.proto.form.form_id == "new_circle")
    widget(form.text_input, "Circle name").input("Friday art club")
    widget(form.text_input, "Time zone").input("Mars/Olympus_Mons")
    click(at, "Create circle")

    assert studio.circles.facilitated(therapist) == []
    assert at.error and "Traceback" not in at.error[0].value
    assert not at.exception


def _invite_codes(at) -> list[str]:
    """Return the invite codes shown (not the recovery code a new account is shown)."""
    return [c.value for c in at.code if c.value.startswith("KC-")]


def test_an_invite_code_is_shown_and_works(studio, data_dir, monkeypatch, therapist, circle):
    at = app_for(studio, data_dir, monkeypatch, user=therapist, page="circles")
    widget(at.text_input, "Note to yourself (optional)").input("For Maria")
    click(at, "Make an invite code")

    code = _invite_codes(at)[0]  # the new one, above the list
    assert any(s.value.startswith("Share this code") for s in at.success)
    assert any(m.value.startswith("For Maria · 1 of 1 use left · expires ") for m in at.markdown)
    maria = studio.accounts.join(code, "maria", PASSWORD, "Maria")
    assert [c.id for c in studio.circles.for_user(maria)] == [circle.id]
    assert not at.exception


def test_invite_codes_made_in_a_row_all_stay_listed(
    studio, data_dir, monkeypatch, therapist, circle
):
    """Regression: each new code replaced the last, so making two in a row lost the first."""
    at = app_for(studio, data_dir, monkeypatch, user=therapist, page="circles")
    widget(at.text_input, "Note to yourself (optional)").input("For Maria")
    click(at, "Make an invite code")
    first = _invite_codes(at)[0]
    widget(at.text_input, "Note to yourself (optional)").input("For Jo")
    widget(at.number_input, "How many people can use it").set_value(3)
    click(at, "Make an invite code")
    second = _invite_codes(at)[0]

    assert first != second
    # The new code on top, then every active code in the list, newest first.
    assert _invite_codes(at) == [second, second, first]
    lines = [m.value for m in at.markdown if m.value.startswith("For ")]
    expires = day_label(studio.now() + timedelta(days=14))
    assert lines == [
        f"For Jo · 3 of 3 uses left · expires {expires}",
        f"For Maria · 1 of 1 use left · expires {expires}",
    ]
    studio.accounts.join(first, "maria", PASSWORD, "Maria")
    at.run()
    assert _invite_codes(at) == [second, second]  # Maria's is used up: no longer listed
    assert not at.exception


def test_an_invite_can_be_revoked(studio, data_dir, monkeypatch, therapist, circle):
    code = studio.circles.invite(therapist, circle.id, label="Spare")
    at = app_for(studio, data_dir, monkeypatch, user=therapist, page="circles")
    assert _invite_codes(at) == [code]
    click(at, "Revoke")

    assert any(
        m.value.startswith("Spare · 1 of 1 use left") and "revoked" in m.value for m in at.markdown
    )
    assert _invite_codes(at) == []
    assert not [b for b in at.button if b.label == "Revoke"]
    with pytest.raises(StudioError):
        studio.accounts.join(code, "maria", PASSWORD, "Maria")
    assert not at.exception


def test_members_are_listed_with_usernames(
    studio, data_dir, monkeypatch, therapist, circle, participant, peer
):
    at = app_for(studio, data_dir, monkeypatch, user=therapist, page="circles")

    markdown = [m.value for m in at.markdown]
    assert "**Robin** · robin · Participant" in markdown
    assert "**Sam** · sam · Participant" in markdown
    assert "**Tess** · tess · Therapist" in markdown
    # No buttons to pause or demote the therapist themself.
    assert not [b for b in at.button if b.key == f"disable_{therapist.id}"]
    assert not at.exception


def test_pause_and_re_enable_an_account(
    studio, data_dir, monkeypatch, therapist, circle, participant
):
    their_session = studio.accounts.start_session(participant)
    at = app_for(studio, data_dir, monkeypatch, user=therapist, page="circles")
    assert at.button(key=f"disable_{participant.id}").label == "Pause account"
    at.button(key=f"disable_{participant.id}").click()
    at.run()

    assert studio.accounts.get(therapist, participant.id).disabled
    assert studio.accounts.session_user(their_session) is None
    assert "**Robin** · robin · Participant · paused" in [m.value for m in at.markdown]
    assert at.button(key=f"disable_{participant.id}").label == "Re-enable account"

    at.button(key=f"disable_{participant.id}").click()
    at.run()
    assert not studio.accounts.get(therapist, participant.id).disabled
    assert studio.accounts.authenticate("robin", PASSWORD).id == participant.id
    assert not at.exception


def test_a_reset_code_is_shown_and_works(
    studio, data_dir, monkeypatch, therapist, circle, participant
):
    at = app_for(studio, data_dir, monkeypatch, user=therapist, page="circles")
    at.button(key=f"reset_{participant.id}").click()
    at.run()

    [code] = [c.value for c in at.code if not c.value.startswith("RC-")]  # not the recovery code
    assert "Give this one-time code to them in person or by phone:" in [i.value for i in at.info]
    studio.accounts.redeem_reset_code("robin", code, "a fresh spring meadow")
    assert studio.accounts.authenticate("robin", "a fresh spring meadow").id == participant.id
    assert not at.exception


def test_make_a_co_facilitator(studio, data_dir, monkeypatch, therapist, circle, participant):
    at = app_for(studio, data_dir, monkeypatch, user=therapist, page="circles")
    at.button(key=f"role_{participant.id}").click()
    at.run()

    assert studio.circles.membership(participant, circle.id).role == COFACILITATOR
    assert "**Robin** · robin · Co-facilitator" in [m.value for m in at.markdown]
    assert at.button(key=f"role_{participant.id}").label == "Make participant"
    assert not at.exception


def test_circle_settings_save(studio, data_dir, monkeypatch, therapist, circle):
    at = app_for(studio, data_dir, monkeypatch, user=therapist, page="circles")
    form = next(f for f in at.get("form") if f.proto.form.form_id == "circle_settings")
    widget(form.text_input, "Name").input("Tuesday carers")
    click(at, "Save settings")

    assert studio.circles.get(therapist, circle.id).name == "Tuesday carers"
    assert "Saved." in [s.value for s in at.success]
    assert not at.exception


# -- prompt library -------------------------------------------------------------------------------


def _library_titles(at) -> list[str]:
    return [e.label for e in at.expander if e.label != "Write a new prompt"]


def open_prompt(at, *prompt_ids: str):
    """Open prompts' folds in the library, as a click on each does (they draw when open)."""
    for prompt_id in prompt_ids:
        at.session_state[open_key(prompt_id)] = True
    at.run()
    return at


def open_tab(at, label: str):
    """Choose a tab of the prompt library (only the chosen one is drawn)."""
    at.session_state[TAB_KEY] = label
    at.run()
    return at


def test_the_library_lists_prompts(studio, data_dir, monkeypatch, therapist, circle):
    at = app_for(studio, data_dir, monkeypatch, user=therapist, page="prompts")

    assert titles(at) == ["Prompt library"]
    library = studio.prompts.library(therapist)
    assert f"{len(library)} prompts" in [c.value for c in at.caption]
    assert len(_library_titles(at)) == len(library) > 10
    # Titles are therapists' words, shown escaped for markdown in the expander labels.
    shown = {t.split(" · ")[0] for t in _library_titles(at)}
    assert {escape_markdown(p.title) for p in library} == shown
    assert [t.label for t in at.tabs] == ["Library", "Plan a circle", "Import and export"]
    assert not at.exception


def test_search_filters_the_library(studio, data_dir, monkeypatch, therapist, circle):
    at = app_for(studio, data_dir, monkeypatch, user=therapist, page="prompts")
    first = studio.prompts.library(therapist)[0]
    at.text_input(key="prompt_search").input(first.title)
    at.run()

    shown = _library_titles(at)
    assert 1 <= len(shown) < len(studio.prompts.library(therapist))
    assert any(t.startswith(first.title) for t in shown)
    at.text_input(key="prompt_search").input("zzz no prompt is called this")
    at.run()
    assert _library_titles(at) == []
    assert "0 prompts" in [c.value for c in at.caption]
    assert not at.exception


def test_retire_and_restore_a_prompt(studio, data_dir, monkeypatch, therapist, circle):
    prompt = studio.prompts.library(therapist)[0]
    at = app_for(studio, data_dir, monkeypatch, user=therapist, page="prompts")
    open_prompt(at, prompt.id)
    at.button(key=f"retire_{prompt.id}").click()
    at.run()

    assert studio.prompts.get(therapist, prompt.id).retired
    assert prompt.id not in {p.id for p in studio.prompts.library(therapist)}
    assert not [b for b in at.button if b.key == f"retire_{prompt.id}"]

    at.toggle(key="prompt_retired").set_value(True)
    at.run()
    open_prompt(at, prompt.id)
    assert at.button(key=f"retire_{prompt.id}").label == "Restore"
    at.button(key=f"retire_{prompt.id}").click()
    at.run()
    assert not studio.prompts.get(therapist, prompt.id).retired
    assert not at.exception


def test_write_a_new_prompt(studio, data_dir, monkeypatch, therapist, circle):
    at = app_for(studio, data_dir, monkeypatch, user=therapist, page="prompts")
    form = next(f for f in at.get("form") if f.proto.form.form_id == "prompt_form_new")
    widget(form.text_input, "Title").input("A window at night")
    widget(form.text_area, "Instructions").input("Draw the view from a window after dark.")
    widget(form.multiselect, "Themes").set_value([next(iter(THEME_TITLES))])
    widget(form.text_area, "Reflection questions (one per line, 2 to 4)").input(
        "What did you notice?\nWhat felt calm?"
    )
    click(at, "Add prompt")

    titles_now = {p.title for p in studio.prompts.library(therapist)}
    assert "A window at night" in titles_now
    assert not at.error
    assert not at.exception


def test_editing_a_prompt_says_saved_after_the_page_reruns(
    studio, data_dir, monkeypatch, therapist, circle
):
    prompt = studio.prompts.library(therapist)[0]
    at = app_for(studio, data_dir, monkeypatch, user=therapist, page="prompts")
    open_prompt(at, prompt.id)
    at.button(key=f"edit_prompt_{prompt.id}").click()
    at.run()
    form = next(f for f in at.get("form") if f.proto.form.form_id == f"prompt_form_{prompt.id}")
    widget(form.number_input, "Minutes").set_value(35)
    click(at, "Save prompt")

    assert studio.prompts.get(therapist, prompt.id).minutes == 35
    assert _prompt_forms(at) == ["prompt_form_new"]
    # Regression: "Saved." was shown just before st.rerun() wiped it.
    assert [t.value for t in at.toast] == [escape_markdown("Saved.")]
    at.run()
    assert not at.toast  # once
    assert not at.exception


def _prompt_forms(at) -> list[str]:
    return [
        f.proto.form.form_id for f in at.get("form") if f.proto.form.form_id.startswith("prompt")
    ]


def test_the_library_has_one_form_the_one_for_the_prompt_being_edited(
    studio, data_dir, monkeypatch, therapist, circle
):
    # Regression: every prompt carried its own edit form, and the page took seconds to appear.
    library = studio.prompts.library(therapist)
    at = app_for(studio, data_dir, monkeypatch, user=therapist, page="prompts")
    assert _prompt_forms(at) == ["prompt_form_new"]
    # Each prompt is a fold that draws its preview and buttons only when opened.
    assert [b for b in at.button if b.label == "Edit this prompt"] == []
    open_prompt(at, *(p.id for p in library))
    assert _prompt_forms(at) == ["prompt_form_new"]
    assert len([b for b in at.button if b.label == "Edit this prompt"]) == len(library)

    at.button(key=f"edit_prompt_{library[2].id}").click()
    at.run()
    assert _prompt_forms(at) == [
        "prompt_form_new",
        f"prompt_form_{library[2].id}",
    ]
    click(at, "Cancel")
    assert _prompt_forms(at) == ["prompt_form_new"]
    assert studio.prompts.get(therapist, library[2].id) == library[2]
    assert not at.exception


def test_a_prompt_edit_that_is_refused_keeps_the_form_and_says_why(
    studio, data_dir, monkeypatch, therapist, circle
):
    prompt = studio.prompts.library(therapist)[0]
    at = app_for(studio, data_dir, monkeypatch, user=therapist, page="prompts")
    open_prompt(at, prompt.id)
    at.button(key=f"edit_prompt_{prompt.id}").click()
    at.run()
    form = next(f for f in at.get("form") if f.proto.form.form_id == f"prompt_form_{prompt.id}")
    widget(form.text_input, "Title").input("")
    click(at, "Save prompt")

    assert at.error and studio.prompts.get(therapist, prompt.id).title == prompt.title
    assert f"prompt_form_{prompt.id}" in _prompt_forms(at)
    assert not at.exception


def test_a_new_circles_prompts_were_shown_only_today(
    studio, data_dir, monkeypatch, therapist, circle
):
    at = app_for(studio, data_dir, monkeypatch, user=therapist, page="prompts")
    open_prompt(at, *(p.id for p in studio.prompts.library(therapist)))
    shown = [c.value for c in at.caption if " in the last 90" in c.value]
    # Regression: every prompt of a circle made today read "Shown 2 days in the last 90".
    assert sum(text.startswith("Shown on 1 day in the last 90") for text in shown) == 1
    assert all(
        text.startswith(("Shown on 1 day", "Not shown in the last 90 days")) for text in shown
    )
    assert not at.exception


def test_the_plan_shows_fourteen_days_and_pins(studio, data_dir, monkeypatch, therapist, circle):
    at = app_for(studio, data_dir, monkeypatch, user=therapist, page="prompts")
    open_tab(at, "Plan a circle")

    [plan] = at.dataframe
    assert len(plan.value) == 14
    assert list(plan.value.columns) == ["Day", "Prompt", "Why"]
    prompt = studio.prompts.library(therapist)[-1]
    form = next(f for f in at.get("form") if f.proto.form.form_id == "pin")
    widget(form.selectbox, "Prompt").set_value(prompt.id)
    click(at, "Pin")

    [entry] = studio.prompts.plan_entries(therapist, circle.id)
    assert entry["kind"] == "pin" and entry["prompt_id"] == prompt.id
    assert studio.prompts.today(therapist, circle.id).prompt.id == prompt.id
    [plan] = at.dataframe
    assert plan.value.iloc[0]["Prompt"] == prompt.title
    assert plan.value.iloc[0]["Why"] == "pinned"
    assert any(m.value.startswith(escape_markdown(f"Pinned {prompt.title}")) for m in at.markdown)
    click(at, "Remove")
    assert studio.prompts.plan_entries(therapist, circle.id) == []
    assert not at.exception


def test_plan_days_are_written_one_way_everywhere(studio, data_dir, monkeypatch, therapist, circle):
    """Regression: the table said "Mon 02 Nov" and the pins and skips "2026-11-02"."""
    prompt = studio.prompts.library(therapist)[-1]
    today = studio.prompts.plan(therapist, circle.id, days=1)[0].day
    studio.prompts.pin(therapist, circle.id, prompt.id, today, today + timedelta(days=1))
    studio.prompts.skip(therapist, circle.id, today + timedelta(days=3))
    at = app_for(studio, data_dir, monkeypatch, user=therapist, page="prompts")
    open_tab(at, "Plan a circle")

    [plan] = at.dataframe
    days = list(plan.value["Day"])
    assert days[0] == day_label(today) and days[1] == day_label(today + timedelta(days=1))
    assert all(re.fullmatch(r"[A-Z][a-z]{2} \d{1,2} [A-Z][a-z]{2}", d) for d in days), days
    entries = [m.value for m in at.markdown if m.value.startswith(("Pinned", "Skip"))]
    assert entries == [
        escape_markdown(f"Pinned {prompt.title}: {days[0]} to {days[1]}"),
        escape_markdown(f"Skip on {days[3]}"),
    ]
    assert not re.search(r"\d{4}-\d{2}-\d{2}", " ".join(entries))
    assert not at.exception


def test_export_and_import_a_deck(studio, data_dir, monkeypatch, therapist, circle):
    at = app_for(studio, data_dir, monkeypatch, user=therapist, page="prompts")
    open_tab(at, "Import and export")
    download = button_download(at, "Download deck")
    theme = at.selectbox(key="export_theme").value
    assert download.proto.label == "Download deck"

    deck = studio.prompts.export_deck(therapist, theme)
    at.file_uploader(key="deck_upload").upload(f"{theme}.toml", deck.encode(), "application/toml")
    at.run()
    click(at, "Import")

    [message] = [s.value for s in at.success]
    assert message.startswith("Added 0, changed 0, unchanged ")
    assert not at.exception


def test_a_deck_that_is_not_text_is_refused_kindly(studio, data_dir, monkeypatch, therapist):
    at = app_for(studio, data_dir, monkeypatch, user=therapist, page="prompts")
    open_tab(at, "Import and export")
    at.file_uploader(key="deck_upload").upload("deck.toml", b"\xff\xfe\x00bad", "application/toml")
    at.run()
    click(at, "Import")

    assert at.error and "Traceback" not in at.error[0].value
    assert not at.exception


def button_download(at, label: str):
    """Return the download button with this label."""
    for element in at.get("download_button"):
        if element.proto.label == label:
            return element
    raise AssertionError(f"No download button {label!r}")


# -- care queue -----------------------------------------------------------------------------------


def test_an_empty_care_queue_says_thank_you(studio, data_dir, monkeypatch, therapist, circle):
    at = app_for(studio, data_dir, monkeypatch, user=therapist, page="care")

    assert titles(at) == ["Care queue"]
    assert "Nothing is waiting. Thank you for looking after your circle." in [
        s.value for s in at.success
    ]
    assert not at.exception


def test_the_care_page_tells_a_therapist_what_store_recovery_did(
    studio, data_dir, monkeypatch, therapist, circle, participant
):
    with studio.store.transaction():
        studio.store.collection("recoveries").insert(
            {
                "at": studio.now().isoformat(),
                "note": "comments file comments-000001.json was damaged; it was rebuilt "
                "from backup store-1.zip and every change logged since, so nothing was lost.",
            }
        )
    studio.store.health_warnings.append("The disk reported an error while saving a change.")
    at = app_for(studio, data_dir, monkeypatch, user=therapist, page="care")
    shown = [i.value for i in at.info] + [w.value for w in at.warning]
    assert any("comments-000001.json" in text and "nothing was lost" in text for text in shown)
    assert any("disk reported an error" in w.value for w in at.warning)
    assert not at.exception
    # Participants never see it (they have no care page; the service refuses them too).
    with pytest.raises(StudioError):
        studio.health.notices(participant)


def test_a_reported_artwork_can_be_restored(
    studio, data_dir, monkeypatch, therapist, circle, participant, peer
):
    artwork = share_art(studio, participant, circle, caption="Storm")
    studio.moderation.report(peer, "artwork", artwork.id, "It frightened me")
    at = app_for(studio, data_dir, monkeypatch, user=therapist, page="care")

    shown = all_text(at)
    assert "Why it was reported: It frightened me" in shown
    assert "Reported by Sam" in shown
    # The art stays blurred until the therapist chooses to look.
    assert [f"art/{artwork.id}/blur" in body for body in img_tags(at)] == [True]
    click(at, "Show the artwork")
    assert any(f"art/{artwork.id}/thumb" in body for body in img_tags(at))

    form = next(f for f in at.get("form") if f.proto.form.form_id.startswith("resolve_"))
    form.radio[0].set_value("restore")
    widget(form.text_input, "Why (kept in the audit log)").input("A storm is not a threat")
    click(at, "Save")

    assert studio.artworks.get(peer, artwork.id).status == "visible"
    assert studio.moderation.queue(therapist) == []
    assert "Nothing is waiting. Thank you for looking after your circle." in [
        s.value for s in at.success
    ]
    audit = [e.why for e in studio.moderation.audit_log(therapist, circle.id)]
    assert "A storm is not a threat" in audit
    assert not at.exception


def test_the_care_queue_offers_only_what_this_facilitator_may_do(
    studio, data_dir, monkeypatch, therapist, circle, participant, peer
):
    kit = join(studio, therapist, circle, "kit", "Kit")
    studio.circles.set_role(therapist, circle.id, kit.id, COFACILITATOR)
    own = share_art(studio, participant, circle, caption="Storm")
    studio.moderation.report(kit, "artwork", own.id, "Worrying")
    tess = share_art(studio, therapist, circle, caption="An example")
    studio.moderation.report(peer, "artwork", tess.id, "Unsettling")
    at = app_for(studio, data_dir, monkeypatch, user=kit, page="care")

    assert "You raised this report, so another facilitator needs to look at it." in all_text(at)
    [form] = [f for f in at.get("form") if f.proto.form.form_id.startswith("resolve_")]
    assert form.radio[0].options == ["Restore it", "Keep it hidden", "Close without change"]
    assert not at.exception


def test_a_note_to_the_person_reaches_them(
    studio, data_dir, monkeypatch, therapist, circle, participant, peer
):
    artwork = share_art(studio, participant, circle)
    studio.moderation.report(peer, "artwork", artwork.id, "Not sure about this")
    at = app_for(studio, data_dir, monkeypatch, user=therapist, page="care")
    form = next(f for f in at.get("form") if f.proto.form.form_id.startswith("resolve_"))
    form.radio[0].set_value("restore")
    widget(form.text_input, "Why (kept in the audit log)").input("Fine as it is")
    widget(form.text_area, "A note to the person (optional)").input("Your piece is back up.")
    click(at, "Save")

    assert any(n.text == "Your piece is back up." for n in studio.moderation.notices(participant))
    assert not at.exception


def test_a_crisis_flag_asks_the_therapist_to_reach_out(
    studio, data_dir, monkeypatch, therapist, circle, participant
):
    artwork = share_art(studio, participant, circle)
    studio.comments.post(participant, artwork.id, "I want to kill myself")
    at = app_for(studio, data_dir, monkeypatch, user=therapist, page="care")

    assert any(e.value.startswith("Please reach out to this person today") for e in at.error)
    assert any(m.value.startswith("**🔴 Urgent: may be at risk now**") for m in at.markdown)
    [outcome] = at.radio
    assert outcome.options == [
        "I've reached out",
        "Mark as handled",
        "Passed on to emergency services",
    ]
    assert outcome.value is None
    assert not at.exception


def test_closing_a_crisis_flag_records_what_happened(
    studio, data_dir, monkeypatch, therapist, circle, participant, peer
):
    artwork = share_art(studio, participant, circle)
    held = studio.comments.post(peer, artwork.id, "I took all my pills an hour ago. Goodbye.")
    at = app_for(studio, data_dir, monkeypatch, user=therapist, page="care")
    assert any(c.value.startswith("This comment is held from the circle") for c in at.caption)
    at.radio[0].set_value("emergency")
    at.checkbox[0].check()
    at.text_input[0].input("Called 999 with Sam's address")
    click(at, "Close this flag")

    assert studio.moderation.queue(therapist) == []
    [entry] = [e for e in studio.moderation.audit_log(therapist, circle.id) if e.action]
    assert entry.action == "emergency" and entry.details["released"] is True
    assert held.id in {c.id for c in studio.comments.for_artwork(participant, artwork.id)}
    assert not at.exception


def test_a_report_about_someone_in_crisis_puts_the_person_first_with_no_default(
    studio, data_dir, monkeypatch, therapist, circle, participant, peer
):
    artwork = share_art(studio, participant, circle, caption="I want to end my life")
    studio.moderation.report(peer, "artwork", artwork.id, "I'm worried about Robin")
    at = app_for(studio, data_dir, monkeypatch, user=therapist, page="care")

    # The crisis flag comes first and closes with what the therapist did, never a verdict.
    crisis = next(f for f in at.get("form") if f.proto.form.form_id.startswith("close_"))
    [response] = crisis.radio
    assert response.options[:2] == ["I've reached out", "Mark as handled"]
    assert response.value is None
    # Regression: the report about the same words was already set to "Restore it".
    report = next(f for f in at.get("form") if f.proto.form.form_id.startswith("resolve_"))
    assert report.radio[0].value is None
    assert any("may need support" in w.value for w in at.warning)
    widget(report.text_input, "Why (kept in the audit log)").input("Talked it through")
    click(at, "Save")
    assert "Please choose what you'd like to do first." in [e.value for e in at.error]
    assert len(studio.moderation.queue(therapist)) == 2  # nothing was decided for them

    crisis = next(f for f in at.get("form") if f.proto.form.form_id.startswith("close_"))
    crisis.radio[0].set_value("handled")
    widget(crisis.text_input, "A note for the audit log (optional)").input("Called Robin")
    widget(crisis.text_area, "A private note to the person (optional)").input("Here for you.")
    click(at, "Close this flag")
    [left] = studio.moderation.queue(therapist)
    assert left.flag.kind == "report" and not left.crisis_open
    assert [t.value for t in at.toast] == [
        escape_markdown("Saved. Thank you for looking after them.")
    ]
    audit = [(e.action, e.why) for e in studio.moderation.audit_log(therapist, circle.id)]
    assert ("handled", "Called Robin") in audit
    assert not at.exception


# -- insights -------------------------------------------------------------------------------------


def test_insights_with_too_few_people(
    studio, data_dir, monkeypatch, therapist, circle, participant
):
    at = app_for(studio, data_dir, monkeypatch, user=therapist, page="insights")

    assert titles(at) == ["Insights"]
    info = [i.value for i in at.info]
    assert "Too few people took part in these weeks to show anything yet." in info
    assert any(i.startswith("Shown once a week is over in which at least 3 people") for i in info)
    assert not at.metric
    assert button_download(at, "Download as CSV")
    assert not at.exception


class NoNoise:
    """Noise that is always zero, so the page's figures can be checked exactly."""

    def draw(self, sensitivity: int, epsilon: float) -> int:
        return 0


def test_insights_show_mood_change_for_three_consenting_people(
    studio, data_dir, monkeypatch, therapist, circle, clock
):
    monkeypatch.setattr(studio.insights, "noise", NoNoise())
    people = [join(studio, therapist, circle, name) for name in ("ana", "ben", "cai")]
    for person in people:
        studio.reflections.set_insights_consent(person, True)
        studio.reflections.check_in(person, "before", 2, circle_id=circle.id)
        studio.reflections.check_in(person, "after", 4, circle_id=circle.id)
        share_art(studio, person, circle)
    clock.advance(days=7)  # a week shows once it is over
    at = app_for(studio, data_dir, monkeypatch, user=therapist, page="insights")

    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {
        "Before (average)": "2.0 / 5",
        "After (average)": "4.0 / 5",
        "Change": "+2.0",
    }
    [change] = [m for m in at.metric if m.label == "Change"]
    assert "Over 1 week" in change.help and "Give or take" in change.help
    assert at.get("vega_lite_chart")  # the weekly participation chart
    assert not at.exception


def test_insights_with_noise_show_figures_in_range(
    studio, data_dir, monkeypatch, therapist, circle, clock
):
    people = [join(studio, therapist, circle, name) for name in ("ana", "ben", "cai", "dee")]
    for person in people:
        studio.reflections.set_insights_consent(person, True)
        studio.reflections.check_in(person, "before", 2, circle_id=circle.id)
        studio.reflections.check_in(person, "after", 4, circle_id=circle.id)
        share_art(studio, person, circle)
    clock.advance(days=7)
    at = app_for(studio, data_dir, monkeypatch, user=therapist, page="insights")
    metrics = {m.label: m.value for m in at.metric}
    for label in ("Before (average)", "After (average)"):
        assert 1.0 <= float(metrics[label].removesuffix(" / 5")) <= 5.0
    first = metrics
    at.run()  # asking again shows the very same numbers
    assert {m.label: m.value for m in at.metric} == first
    assert not at.exception


def test_insights_leave_out_people_who_did_not_consent(
    studio, data_dir, monkeypatch, therapist, circle, clock
):
    people = [join(studio, therapist, circle, name) for name in ("ana", "ben", "cai")]
    for person in people:
        studio.reflections.check_in(person, "before", 2, circle_id=circle.id)
        studio.reflections.check_in(person, "after", 4, circle_id=circle.id)
    studio.reflections.set_insights_consent(people[0], True)
    studio.reflections.set_insights_consent(people[1], True)
    clock.advance(days=7)
    at = app_for(studio, data_dir, monkeypatch, user=therapist, page="insights")

    assert not at.metric
    assert not at.exception


def test_reading_shared_notes_shows_only_shared_ones_and_is_logged(
    studio, data_dir, monkeypatch, therapist, circle, participant
):
    shared = studio.reflections.write(
        participant, "Shared thought", circle_id=circle.id, share_with_therapist=True
    )
    studio.reflections.write(participant, "Private thought", circle_id=circle.id)
    at = app_for(studio, data_dir, monkeypatch, user=therapist, page="insights")
    assert studio.reflections.reads_of(participant, shared.id) == []  # nothing read on open

    at.selectbox(key="notes_person").set_value(participant.id)
    click(at, "Read their shared notes")

    shown = texts(at)
    assert "Shared thought" in shown
    assert "Private thought" not in all_text(at)
    assert [name for name, _ in studio.reflections.reads_of(participant, shared.id)] == ["Tess"]
    at.run()  # showing the loaded notes again does not log another read
    assert len(studio.reflections.reads_of(participant, shared.id)) == 1
    assert not at.exception


def test_a_shared_note_is_news_for_the_therapist_and_its_reading_for_the_author(
    studio, data_dir, monkeypatch, clock, therapist, circle, participant, peer
):
    studio.notices.mark_seen(therapist)
    clock.advance(minutes=1)
    studio.reflections.write(participant, "I slept better this week.", share_with_therapist=True)
    at = app_for(studio, data_dir, monkeypatch, user=therapist, page="notices")
    assert "**Robin shared a note with you**" in all_text(at)
    assert "I slept better" not in all_text(at)  # read on Insights, where reads are recorded

    click(at, "Read their shared notes")
    assert titles(at) == ["Insights"]
    assert at.selectbox(key="notes_person").value == participant.id
    click(at, "Read their shared notes")
    assert escape_markdown("I slept better this week.") in [m.value for m in at.markdown]

    clock.advance(minutes=1)
    mine = app_for(studio, data_dir, monkeypatch, user=participant, page="notices")
    assert "**Tess read a note you shared**" in all_text(mine)
    click(mine, "Open my journal")
    assert any(c.value.startswith("Read by Tess (") for c in mine.caption)
    assert not at.exception and not mine.exception


def test_a_person_with_no_shared_notes(
    studio, data_dir, monkeypatch, therapist, circle, participant
):
    studio.reflections.write(participant, "Private thought", circle_id=circle.id)
    at = app_for(studio, data_dir, monkeypatch, user=therapist, page="insights")
    at.selectbox(key="notes_person").set_value(participant.id)
    click(at, "Read their shared notes")

    assert "Robin hasn't shared any notes with you." in [i.value for i in at.info]
    assert "Private thought" not in all_text(at)
    assert not at.exception


# -- the therapist elsewhere ----------------------------------------------------------------------


def test_the_therapist_starts_on_the_gallery_and_can_open_art(
    studio, data_dir, monkeypatch, therapist, circle, participant
):
    artwork = share_art(studio, participant, circle, caption="Dawn")
    at = app_for(studio, data_dir, monkeypatch, user=therapist)
    assert titles(at) == [f"{circle.name} gallery"]

    at = app_for(
        studio, data_dir, monkeypatch, user=therapist, page="gallery", query={"art": artwork.id}
    )
    assert titles(at) == ["By Robin"]
    assert any(f"art/{artwork.id}/full" in body for body in img_tags(at))
    assert "Dawn" in [m.value for m in at.markdown]
    assert not at.exception


def test_the_therapist_gets_back_to_the_gallery_from_an_artwork(
    studio, data_dir, monkeypatch, therapist, circle, participant
):
    artwork = share_art(studio, participant, circle, caption="Dawn")
    at = app_for(
        studio, data_dir, monkeypatch, user=therapist, page="artwork", query={"art": artwork.id}
    )
    assert titles(at) == ["By Robin"]
    # Regression: the gallery is a therapist's first page, which had no name in the router's
    # pages, so "Back to the gallery" failed with "Something went wrong".
    click(at, "← Back to the gallery")
    assert titles(at) == ["Tuesday caregivers gallery"]
    assert not at.error
    assert not at.exception


def test_a_co_facilitator_sees_the_circle_but_not_therapist_tools(
    studio, data_dir, monkeypatch, therapist, circle, participant, peer
):
    studio.circles.set_role(therapist, circle.id, participant.id, COFACILITATOR)
    at = app_for(studio, data_dir, monkeypatch, user=participant, page="circles")

    assert titles(at) == ["Circles"]
    markdown = [m.value for m in at.markdown]
    assert "**Sam** · sam · Participant" in markdown
    # Only therapists pause accounts, change roles, issue reset codes or change settings.
    assert not [b for b in at.button if b.key and b.key.startswith(("disable_", "role_", "reset_"))]
    assert "Circle settings" not in [s.value for s in at.subheader]
    assert "Start a new circle" not in [e.label for e in at.expander]

    open_page(at, "care")
    assert titles(at) == ["Care queue"]
    open_page(at, "prompts")
    # Not theirs: a kind word, not the page and not Streamlit's "Page not found".
    assert titles(at) == ["This page is for the circle's therapist"]
    open_page(at, "insights")
    assert titles(at) == ["This page is for the circle's therapist"]
    assert "Notes shared with you" not in all_text(at)
    assert not at.exception
