"""Regression tests from the security and privacy review."""

from __future__ import annotations

import json
import zipfile

from tests.conftest import PASSWORD, make_image
from ui.context import COOKIE


def test_export_leaves_out_comments_moderators_removed_from_my_art(
    studio, therapist, participant, peer, tmp_path
):
    # Bug: "Download my data" put every comment on the artist's work in the archive,
    # including words a facilitator had removed (and ones hidden for review), which the
    # artist can no longer see in the app.
    art = studio.artworks.share(participant, make_image(), caption="Storm", alt_text="Grey sky")
    kind = studio.comments.post(peer, art.id, "I notice the light at the edge.")
    cruel = studio.comments.post(peer, art.id, "Hurtful words the moderators took down.")
    flag = studio.moderation.report(participant, "comment", cruel.id, "This hurt")
    studio.moderation.resolve(therapist, flag.id, "remove", "Not kind")

    archive = studio.exports.write_personal_archive(participant, tmp_path / "mine.zip")

    with zipfile.ZipFile(archive) as zf:
        data = json.loads(zf.read("data.json"))
        page = zf.read("index.html").decode()
    assert [c["id"] for c in data["comments_on_my_art"]] == [kind.id]
    assert "Hurtful words" not in page


def test_a_handoff_link_opened_from_elsewhere_cannot_sign_the_browser_in(
    studio, data_dir, monkeypatch, participant
):
    # Bug (login CSRF): someone signs in, keeps their own one-time code from the page, and
    # sends the link to another person; opening it signed that person's browser into the
    # sender's account, so whatever they then wrote in "their" journal went to the sender.
    from tests.test_web import call, cookies_set, web_app
    from ui.web import HANDOFF_HEADER

    monkeypatch.setenv("KINDRED_DATA_DIR", str(data_dir))
    token = studio.accounts.sign_in("robin", PASSWORD).token
    app = web_app()
    for fetch_site in ("cross-site", "same-site", "none", None):
        code = studio.accounts.handoff_code(token, "senders-browser")
        headers = [("cookie", "kc_bind=receivers-browser"), (HANDOFF_HEADER, code)]
        headers += [("sec-fetch-site", fetch_site)] if fetch_site else []
        status, pairs, _ = call(app, "POST", "/session/begin", headers=headers)
        assert status == 403 and not cookies_set(pairs), fetch_site
        status, pairs, _ = call(app, "GET", f"/session/begin?code={code}", headers=headers)
        assert not cookies_set(pairs), fetch_site

    # The app's own page in the sender's browser still gets the cookie.
    code = studio.accounts.handoff_code(token, "senders-browser")
    headers = [("cookie", "kc_bind=senders-browser"), (HANDOFF_HEADER, code)]
    status, pairs, _ = call(app, "POST", "/session/begin", headers=headers)
    assert status == 204
    assert any(c.startswith(f"{COOKIE}={token};") for c in cookies_set(pairs))
