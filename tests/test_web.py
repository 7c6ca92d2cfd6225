"""Tests for the HTTP layer: the cookie hand-off, sign-out, the guard's headers and proxies."""

from __future__ import annotations

import asyncio
import ipaddress
import threading
import time

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse
from starlette.routing import Route
from streamlit.web.server.starlette.starlette_app_utils import generate_xsrf_token_string

from gallery_store.config import parse_trusted_proxies
from tests.conftest import PASSWORD, make_image
from ui.context import BIND_COOKIE, COOKIE
from ui.web import HANDOFF_HEADER, WebGuard, routes

STRANGER = ("198.51.100.7", 40000)
LOOPBACK = ("127.0.0.1", 40000)


async def _page(_request: Request) -> HTMLResponse:
    return HTMLResponse("<!doctype html><title>Kindred Canvas</title>")


async def _metrics(_request: Request) -> PlainTextResponse:
    return PlainTextResponse("# streamlit metrics")


async def _whoami(request: Request) -> JSONResponse:
    return JSONResponse({"client": request.client.host, "scheme": request.url.scheme})


async def _media(_request: Request) -> PlainTextResponse:
    # Like Streamlit's own media route, which lets browsers keep files for a while.
    return PlainTextResponse("week,people", headers={"Cache-Control": "max-age=3600"})


def web_app(trusted: str = "") -> Starlette:
    """The app's routes and guard, with a page, a metrics route and an echo beside them."""
    extra = [
        Route("/", _page),
        Route("/_stcore/metrics", _metrics),
        Route("/whoami", _whoami),
        Route("/media/{name}", _media),
    ]
    return Starlette(
        routes=[*routes, *extra],
        middleware=[Middleware(WebGuard, trusted_proxies=parse_trusted_proxies(trusted))],
    )


def call(app, method: str, path: str, *, headers=(), client=STRANGER, scheme="http"):
    """Send one HTTP request through an ASGI app; return status, header pairs and body."""
    path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": scheme,
        "server": ("canvas.example", 80),
        "client": client,
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers],
    }
    sent: list[dict] = []

    requested = []

    async def receive():
        if not requested:
            requested.append(True)
            return {"type": "http.request", "body": b"", "more_body": False}
        while not sent or sent[-1].get("more_body", True):
            await asyncio.sleep(0.01)  # the client stays until the response is complete
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    # Its own thread and loop: the browser tests may leave an event loop on this one.
    worker = threading.Thread(target=lambda: asyncio.run(app(scope, receive, send)))
    worker.start()
    worker.join(timeout=30)
    start = sent[0]
    pairs = [(k.decode().lower(), v.decode()) for k, v in start["headers"]]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], pairs, body


def header(pairs, name: str) -> str | None:
    return next((v for k, v in pairs if k == name), None)


def cookies_set(pairs) -> list[str]:
    return [v for k, v in pairs if k == "set-cookie"]


@pytest.fixture
def served(studio, data_dir, monkeypatch):
    """Point the routes at the test studio's folder."""
    monkeypatch.setenv("KINDRED_DATA_DIR", str(data_dir))
    return studio


# -- the sign-in hand-off --------------------------------------------------------------------------


def test_a_forged_sign_in_without_fetch_metadata_is_refused(served, participant):
    # Bug (login CSRF on plain http): Chromium sends no Sec-Fetch-Site to a LAN address,
    # and the hand-off let a request without it through, so a page elsewhere could open
    # /session/begin?code=<the attacker's own code> and sign the visitor in as the attacker.
    app = web_app()
    token = served.accounts.sign_in("robin", PASSWORD).token
    attackers = served.accounts.handoff_code(token, "the-attackers-browser")

    # The old way in, a navigation with the code in the link, is gone.
    status, pairs, _ = call(app, "GET", f"/session/begin?code={attackers}")
    assert status == 405 and not cookies_set(pairs)
    # A POST from the victim's browser (its own bind cookie, no Fetch Metadata) is refused.
    victim = [("cookie", f"{BIND_COOKIE}=the-victims-browser"), (HANDOFF_HEADER, attackers)]
    status, pairs, _ = call(app, "POST", "/session/begin", headers=victim)
    assert status == 403 and not cookies_set(pairs)
    # So is one with no bind cookie at all, or a cross-site one.
    code = served.accounts.handoff_code(token, "robins-browser")
    status, pairs, _ = call(app, "POST", "/session/begin", headers=[(HANDOFF_HEADER, code)])
    assert status == 403 and not cookies_set(pairs)
    cross = [
        ("cookie", f"{BIND_COOKIE}=robins-browser"),
        (HANDOFF_HEADER, served.accounts.handoff_code(token, "robins-browser")),
        ("sec-fetch-site", "cross-site"),
    ]
    status, pairs, _ = call(app, "POST", "/session/begin", headers=cross)
    assert status == 403 and not cookies_set(pairs)


def test_the_browser_that_signed_in_gets_its_cookie_once(served, participant):
    app = web_app()
    token = served.accounts.sign_in("robin", PASSWORD).token
    code = served.accounts.handoff_code(token, "robins-browser")
    mine = [("cookie", f"{BIND_COOKIE}=robins-browser"), (HANDOFF_HEADER, code)]
    status, pairs, _ = call(app, "POST", "/session/begin", headers=mine)
    assert status == 204
    [session] = [c for c in cookies_set(pairs) if c.startswith(f"{COOKIE}=")]
    assert session.startswith(f"{COOKIE}={token};")
    assert "HttpOnly" in session and "SameSite=strict" in session and "Secure" not in session
    status, pairs, _ = call(app, "POST", "/session/begin", headers=mine)
    assert status == 403 and not cookies_set(pairs)


# -- signing out -----------------------------------------------------------------------------------


def test_sign_out_needs_a_post_with_the_xsrf_token(served, participant):
    # Bug: /session/end answered a GET, so any page could sign people out (an <img> did).
    app = web_app()
    token = served.accounts.sign_in("robin", PASSWORD).token
    xsrf = generate_xsrf_token_string()
    jar = f"{COOKIE}={token}; _streamlit_xsrf={xsrf}"

    status, pairs, _ = call(app, "GET", "/session/end", headers=[("cookie", jar)])
    assert status == 405 and not cookies_set(pairs)
    status, pairs, _ = call(app, "POST", "/session/end", headers=[("cookie", jar)])
    assert status == 403 and not cookies_set(pairs)
    forged = [("cookie", jar), ("x-xsrftoken", generate_xsrf_token_string())]
    status, pairs, _ = call(app, "POST", "/session/end", headers=forged)
    assert status == 403 and not cookies_set(pairs)
    assert served.accounts.session_user(token) is not None

    # The page's own button sends the token (re-masked, as Streamlit's frontend may).
    ours = [("cookie", jar), ("x-xsrftoken", xsrf)]
    status, pairs, _ = call(app, "POST", "/session/end", headers=ours)
    assert status == 204
    [gone] = [c for c in cookies_set(pairs) if c.startswith(f"{COOKIE}=")]
    assert "Max-Age=0" in gone or "expires=" in gone.lower()
    assert served.accounts.session_user(token) is None


# -- the guard: proxies, headers, metrics ----------------------------------------------------------


def test_forwarded_headers_are_believed_only_from_named_proxies():
    # Bug: uvicorn believed X-Forwarded-For from 127.0.0.1, so anything on the machine (or
    # a proxy that passes the header on) could pick a new address for every guess.
    forwarded = [("x-forwarded-for", "10.9.9.9, 203.0.113.5"), ("x-forwarded-proto", "https")]
    _, _, body = call(web_app(), "GET", "/whoami", headers=forwarded, client=LOOPBACK)
    assert body == b'{"client":"127.0.0.1","scheme":"http"}'
    trusting = web_app("127.0.0.1, 10.0.0.0/8")
    _, _, body = call(trusting, "GET", "/whoami", headers=forwarded, client=LOOPBACK)
    # The nearest address that isn't one of our proxies; a made-up one further left is not.
    assert body == b'{"client":"203.0.113.5","scheme":"https"}'
    _, _, body = call(trusting, "GET", "/whoami", headers=forwarded, client=STRANGER)
    assert body == b'{"client":"198.51.100.7","scheme":"http"}'


def test_the_guard_gives_the_websocket_the_real_client_too():
    seen = {}

    async def inner(scope, receive, send):
        seen.update(client=scope["client"], scheme=scope["scheme"])

    guard = WebGuard(inner, trusted_proxies=parse_trusted_proxies("127.0.0.1"))
    scope = {
        "type": "websocket",
        "scheme": "ws",
        "client": LOOPBACK,
        "path": "/_stcore/stream",
        "headers": [(b"x-forwarded-for", b"203.0.113.5"), (b"x-forwarded-proto", b"https")],
    }
    # Its own thread and loop: a browser test may hold this thread's event loop.
    worker = threading.Thread(target=lambda: asyncio.run(guard(scope, None, None)))
    worker.start()
    worker.join()
    assert seen == {"client": ("203.0.113.5", 0), "scheme": "wss"}


def test_cookies_are_secure_over_https_and_behind_a_trusted_tls_proxy(served, participant):
    tls = [("x-forwarded-proto", "https")]
    for app, client, secure in [
        (web_app(), LOOPBACK, False),  # anyone can send the header
        (web_app("127.0.0.1"), LOOPBACK, True),  # the named proxy says it was https
    ]:
        _, pairs, _ = call(app, "GET", "/", headers=tls, client=client)
        [bind] = cookies_set(pairs)
        assert bind.startswith(f"{BIND_COOKIE}=") and "HttpOnly" in bind
        assert ("Secure" in bind) is secure
        token = served.accounts.sign_in("robin", PASSWORD).token
        binding = bind.split(";")[0].split("=", 1)[1]
        begin = [
            *tls,
            ("cookie", f"{BIND_COOKIE}={binding}"),
            (HANDOFF_HEADER, served.accounts.handoff_code(token, binding)),
        ]
        status, pairs, _ = call(app, "POST", "/session/begin", headers=begin, client=client)
        assert status == 204
        assert ("Secure" in cookies_set(pairs)[0]) is secure
    _, pairs, _ = call(web_app(), "GET", "/", scheme="https")
    assert "Secure" in cookies_set(pairs)[0]
    # A browser that has its bind cookie keeps it.
    _, pairs, _ = call(web_app(), "GET", "/", headers=[("cookie", f"{BIND_COOKIE}=x")])
    assert not cookies_set(pairs)


def test_metrics_are_only_for_this_machine():
    # Bug: /_stcore/metrics answered anyone (sessions, memory, cache sizes).
    status, _, _ = call(web_app(), "GET", "/_stcore/metrics", client=STRANGER)
    assert status == 404
    status, _, _ = call(
        web_app(), "GET", "/_stcore/metrics", client=LOOPBACK, headers=[("x-real-ip", "1.2.3.4")]
    )
    assert status == 404  # through a proxy on this machine: someone else
    status, _, body = call(web_app(), "GET", "/_stcore/metrics", client=LOOPBACK)
    assert status == 200 and body == b"# streamlit metrics"


def test_every_response_carries_the_security_headers():
    for path in ("/", "/_stcore/metrics", "/session/end", "/no-such-page"):
        _, pairs, _ = call(web_app(), "GET", path)
        policy = header(pairs, "content-security-policy")
        assert "frame-ancestors 'none'" in policy, path
        assert "'unsafe-eval'" not in policy
        assert "script-src 'self' 'wasm-unsafe-eval' 'sha256-" in policy
        assert header(pairs, "x-frame-options") == "DENY"
        assert header(pairs, "x-content-type-options") == "nosniff"
        assert header(pairs, "referrer-policy") == "no-referrer"


def test_images_and_downloads_are_never_cached(served, participant):
    # Bug: images were kept for five minutes in the browser's cache (a shared computer's).
    app = web_app()
    art = served.artworks.share(participant, make_image(), caption="Calm", alt_text="Blue")
    token = served.accounts.start_session(participant)
    jar = [("cookie", f"{COOKIE}={token}")]
    status, pairs, _ = call(app, "GET", f"/art/{art.id}/thumb", headers=jar)
    assert status == 200 and header(pairs, "cache-control") == "no-store"
    link = served.exports.prepare_download(participant)
    status, pairs, body = call(app, "GET", f"/{link}", headers=jar)
    assert status == 200 and body.startswith(b"PK")
    assert header(pairs, "cache-control") == "no-store"
    status, pairs, _ = call(app, "GET", f"/{link}", headers=jar)
    assert status == 404 and header(pairs, "cache-control") == "no-store"
    # What pages show through Streamlit's /media (st.image, st.download_button) too.
    _, pairs, _ = call(app, "GET", "/media/abc123.csv")
    assert [v for k, v in pairs if k == "cache-control"] == ["no-store"]


def test_a_slow_image_does_not_stall_other_requests(served, participant, monkeypatch):
    # Bug: the routes were `async def` but read the store and the disk, so one slow image
    # (a busy disk, a held store lock) stopped the server's event loop for every session.
    app = web_app()
    art = served.artworks.share(participant, make_image(), caption="Calm", alt_text="Blue")
    token = served.accounts.start_session(participant)
    release = threading.Event()
    image = served.artworks.image

    def slow_image(*args, **kwargs):
        release.wait(timeout=3)  # an unstalled loop answers the page long before this
        return image(*args, **kwargs)

    monkeypatch.setattr(served.artworks, "image", slow_image)

    async def get(path: str, headers=()) -> int:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "server": ("canvas.example", 80),
            "client": STRANGER,
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(k.encode(), v.encode()) for k, v in headers],
        }
        sent: list[dict] = []
        asked: list[bool] = []

        async def receive():
            if not asked:
                asked.append(True)
                return {"type": "http.request", "body": b"", "more_body": False}
            while not sent or sent[-1].get("more_body", True):
                await asyncio.sleep(0.01)
            return {"type": "http.disconnect"}

        async def send(message):
            sent.append(message)

        await app(scope, receive, send)
        return sent[0]["status"]

    async def both() -> tuple[float, int, int]:
        start = time.perf_counter()
        # The image request goes first; the page is asked for while it is being served.
        slow = asyncio.ensure_future(get(f"/art/{art.id}/thumb", [("cookie", f"{COOKIE}={token}")]))
        await asyncio.sleep(0.05)  # the image request is in its handler by now
        page = await get("/")
        waited = time.perf_counter() - start
        release.set()
        return waited, page, await slow

    result: list = []
    worker = threading.Thread(target=lambda: result.append(asyncio.run(both())))
    worker.start()
    worker.join(timeout=30)
    waited, page, image_status = result[0]
    assert page == 200 and image_status == 200
    assert waited < 1.0, f"the page waited {waited:.1f} s for someone else's image"


def test_trusted_proxies_are_read_from_the_environment(monkeypatch):
    from gallery_store import config_from_env

    monkeypatch.setenv("KINDRED_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8 ::1")
    assert config_from_env().trusted_proxies == (
        ipaddress.ip_network("127.0.0.1/32"),
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("::1/128"),
    )
    monkeypatch.setenv("KINDRED_TRUSTED_PROXIES", "my-proxy")
    with pytest.raises(ValueError, match="KINDRED_TRUSTED_PROXIES"):
        config_from_env()
    monkeypatch.delenv("KINDRED_TRUSTED_PROXIES")
    assert config_from_env().trusted_proxies == ()
