"""Regression tests from the security and privacy review."""

from __future__ import annotations

import asyncio
import json
import threading
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


def _begin(code: str, fetch_site: str | None):
    from starlette.requests import Request

    from ui.web import begin_session

    headers = [(b"sec-fetch-site", fetch_site.encode())] if fetch_site else []
    scope = {
        "type": "http",
        "method": "GET",
        "scheme": "https",
        "server": ("canvas.example", 443),
        "path": "/session/begin",
        "query_string": f"code={code}".encode(),
        "headers": headers,
    }
    # Its own thread and loop: the browser tests may leave an event loop on this one.
    answers = []
    worker = threading.Thread(
        target=lambda: answers.append(asyncio.run(begin_session(Request(scope))))
    )
    worker.start()
    worker.join(timeout=30)
    return answers[0]


def test_a_handoff_link_opened_from_elsewhere_cannot_sign_the_browser_in(
    studio, data_dir, monkeypatch, participant
):
    # Bug (login CSRF): someone signs in, keeps their own one-time code from the page, and
    # sends the link to another person; opening it signed that person's browser into the
    # sender's account, so whatever they then wrote in "their" journal went to the sender.
    monkeypatch.setenv("KINDRED_DATA_DIR", str(data_dir))
    token = studio.accounts.sign_in("robin", PASSWORD).token

    for fetch_site in ("cross-site", "same-site", "none"):
        response = _begin(studio.accounts.handoff_code(token), fetch_site)
        assert response.status_code == 303
        assert "set-cookie" not in response.headers, fetch_site

    # The app's own redirect (a same-origin navigation) still sets the cookie.
    response = _begin(studio.accounts.handoff_code(token), "same-origin")
    assert f"{COOKIE}={token}" in response.headers["set-cookie"]
