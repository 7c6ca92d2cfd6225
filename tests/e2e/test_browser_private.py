"""Private means private, in a real browser: sign-in that can't be forged, strict headers.

The app is reached as ``http://kindred.test:<port>`` and an attacker's page as
``http://attacker.test:<port>`` (Chromium maps both names to 127.0.0.1). Neither is a
"potentially trustworthy" origin, so Chromium sends them no Fetch Metadata — just like a
clinic's LAN address (``http://192.168.1.20:8501``), where login CSRF used to work.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the e2e conftest skips these tests (or fails them in CI) and says why
    expect = None

from tests.e2e.conftest import (
    CHROMIUM,
    CHROMIUM_ARGS,
    IDLE,
    PASSWORD,
    VIEWPORT,
    fast_config,
    free_port,
    go_to,
    http_get,
    painting,
    seed,
    serve,
    settle,
)

pytestmark = pytest.mark.e2e

APP_HOST = "kindred.test"
ATTACKER_HOST = "attacker.test"
WELCOME = "Welcome to Kindred Canvas"

# Collects every Content-Security-Policy violation a page reports.
WATCH_CSP = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', e => window.__csp.push(
    e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' ' + (e.sample || '')));
"""


def seed_two_people(data_dir: str) -> dict:
    """A therapist, a circle, Robin (with art and check-ins) and Mallory (child process)."""
    from gallery_store import open_studio

    with open_studio(data_dir, fast_config()) as studio:
        tess = studio.accounts.bootstrap_therapist("tess", PASSWORD, "Tess")
        circle = studio.circles.create(tess, "Harbour circle")
        robin = studio.accounts.join(
            studio.circles.invite(tess, circle.id), "robin", PASSWORD, "Robin"
        )
        studio.accounts.join(studio.circles.invite(tess, circle.id), "mallory", PASSWORD, "Mal")
        art = studio.artworks.share(
            robin, painting(3, size=(480, 360)), caption="Harbour", alt_text="Boats at dusk"
        )
        real_clock = studio.clock
        for days in (3, 2, 1):
            studio.clock = lambda days=days: real_clock() - timedelta(days=days)
            studio.reflections.check_in(robin, "before", 2, circle_id=circle.id)
            studio.reflections.check_in(robin, "after", 4, circle_id=circle.id)
        studio.clock = real_clock
        return {"artwork": art.id}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("private")
    made = seed(folder / "data", "tests.e2e.test_browser_private:seed_two_people")
    with serve(folder / "data", folder / "server.log") as running:
        yield running, made


@pytest.fixture(scope="module")
def lan_browser(playwright_driver):
    """A Chromium that resolves kindred.test and attacker.test to this machine."""
    rules = f"--host-resolver-rules=MAP {APP_HOST} 127.0.0.1, MAP {ATTACKER_HOST} 127.0.0.1"
    chromium = playwright_driver.chromium.launch(
        executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, rules]
    )
    try:
        yield chromium
    finally:
        chromium.close()


@pytest.fixture
def devices(lan_browser):
    """Open browser contexts (one per person's device) and close them all afterwards."""
    opened = []

    def new():
        context = lan_browser.new_context(viewport=VIEWPORT)
        context.set_default_timeout(30_000)
        context.add_init_script(WATCH_CSP)
        opened.append(context)
        return context

    yield new
    for context in opened:
        context.close()


@contextmanager
def attacker_site(pages: dict[str, str]) -> Iterator[str]:
    """Serve fixed HTML pages from another origin; yield its base URL."""

    class Pages(BaseHTTPRequestHandler):
        def do_GET(self):
            body = pages.get(self.path.split("?")[0], "").encode()
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    port = free_port()
    site = ThreadingHTTPServer(("127.0.0.1", port), Pages)
    worker = threading.Thread(target=site.serve_forever, daemon=True)
    worker.start()
    try:
        yield f"http://{ATTACKER_HOST}:{port}"
    finally:
        site.shutdown()
        site.server_close()
        worker.join(timeout=10)


def app_url(server, path: str = "") -> str:
    return f"http://{APP_HOST}:{server.port}/{path.lstrip('/')}"


def open_app(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector(IDLE, timeout=30_000)
    settle(page)


def fill_sign_in(page, username: str) -> None:
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)


def session_cookie(context) -> dict | None:
    return next((c for c in context.cookies() if c["name"] == "kc_session"), None)


def csp_violations(page) -> list[str]:
    return page.evaluate("() => window.__csp || []")


def steal_own_code(context, server) -> str:
    """Sign in as Mallory but keep the one-time code instead of letting the page use it."""
    codes = []

    def keep(route):
        query = parse_qs(urlsplit(route.request.url).query)
        codes.append(route.request.headers.get("x-kindred-handoff") or query["code"][0])
        route.abort()

    page = context.new_page()
    page.route(re.compile(r".*/session/begin(\?.*)?$"), keep)
    open_app(page, app_url(server))
    fill_sign_in(page, "mallory")
    page.get_by_role("button", name="Sign in").click()
    deadline = 60
    while not codes and deadline:
        page.wait_for_timeout(500)
        deadline -= 1
    assert codes and codes[0], "the page never tried to hand off its code"
    return codes[0]


def test_a_forged_sign_in_from_another_site_is_refused_on_plain_http(server, devices):
    # Bug (login CSRF): on a plain-http address Chromium sends no Sec-Fetch-Site, and the
    # hand-off let requests without it through. A page elsewhere could sign a visitor in
    # as the attacker, so what they then wrote in "their" journal went to the attacker.
    running, _made = server
    code = steal_own_code(devices(), running)
    begin = app_url(running, "session/begin")
    pages = {
        "/link.html": f"<script>location.href = '{begin}?code={code}';</script>",
        "/form.html": (
            f"<form id=f method=post action='{begin}'><input name=code value='{code}'>"
            "</form><script>document.getElementById('f').submit()</script>"
        ),
        "/fetch.html": (
            "<script>for (const mode of ['no-cors', 'cors']) fetch("
            f"'{begin}', {{method: 'POST', mode, credentials: 'include', "
            f"headers: {{'X-Kindred-Handoff': '{code}'}}}}).catch(() => null);</script>"
            "<p>sent</p>"
        ),
    }
    victim = devices()
    page = victim.new_page()
    open_app(page, app_url(running))  # Robin has opened the app before: a bind cookie
    assert any(c["name"] == "kc_bind" for c in victim.cookies())
    seen = []
    page.on("request", lambda r: seen.append(r) if "/session/begin" in r.url else None)
    with attacker_site(pages) as attacker:
        for name in pages:
            page.goto(f"{attacker}{name}")
            page.wait_for_timeout(1500)
    assert seen, "the attacker's pages never reached /session/begin"
    # This is the plain-http case: no Fetch Metadata reached the app.
    assert all("sec-fetch-site" not in r.all_headers() for r in seen)
    assert session_cookie(victim) is None
    open_app(page, app_url(running))
    expect(page.get_by_role("heading", name=WELCOME)).to_be_visible()
    assert "Mal" not in page.get_by_test_id("stSidebar").all_inner_texts()


def test_signing_in_and_out_works_on_plain_http_and_another_site_cannot_sign_you_out(
    server, devices
):
    running, _made = server
    context = devices()
    page = context.new_page()
    open_app(page, app_url(running))
    fill_sign_in(page, "robin")
    with page.expect_navigation(url=re.compile(r"/(\?.*)?$"), timeout=30_000):
        page.get_by_role("button", name="Sign in").click()
    settle(page, 500)
    cookie = session_cookie(context)
    assert cookie and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert not cookie["secure"]  # plain http, and no proxy we trust said otherwise
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_text("Robin", exact=True)).to_be_visible()

    # Bug: a GET to /session/end signed people out, so any page (or <img>) could.
    end = app_url(running, "session/end")
    pages = {
        "/img.html": f"<img src='{end}'><p>hello</p>",
        "/go.html": f"<script>location.href = '{end}';</script>",
        "/post.html": (
            f"<form id=f method=post action='{end}'></form>"
            "<script>document.getElementById('f').submit()</script>"
        ),
    }
    with attacker_site(pages) as attacker:
        other = context.new_page()
        for name in pages:
            other.goto(f"{attacker}{name}")
            other.wait_for_timeout(1000)
        other.close()
    assert session_cookie(context) == cookie
    page.reload()
    settle(page)
    expect(sidebar.get_by_text("Robin", exact=True)).to_be_visible()

    # The app's own button still signs out: its POST carries Streamlit's XSRF token.
    with page.expect_navigation(url=re.compile(r"/$"), timeout=30_000):
        sidebar.get_by_role("button", name="Sign out").click()
    settle(page, 500)
    expect(page.get_by_role("heading", name=WELCOME)).to_be_visible()
    assert session_cookie(context) is None
    assert csp_violations(page) == []


def test_the_app_runs_under_its_content_security_policy(server, devices):
    running, made = server
    status, headers, _body = http_get(running.url())
    assert status == 200
    policy = headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "'unsafe-eval'" not in policy
    assert "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";")[0]
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"

    for username, menu in (
        ("robin", ["Today", "Gallery", "Journal", "Account"]),
        ("tess", ["Gallery", "Circles", "Prompt library", "Insights"]),
    ):
        context = devices()
        page = context.new_page()
        open_app(page, app_url(running))
        fill_sign_in(page, username)
        with page.expect_navigation(url=re.compile(r"/(\?.*)?$"), timeout=30_000):
            page.get_by_role("button", name="Sign in").click()
        settle(page, 500)
        for item in menu:
            go_to(page, item)
            if item == "Journal":  # the mood chart draws (Vega, under the policy)
                page.get_by_role("tab", name="Mood over time").click()
                settle(page)
                chart = page.locator(
                    '[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg'
                )
                expect(chart.first).to_be_visible()
            if item == "Gallery":
                image = page.locator(f'img[src*="art/{made["artwork"]}/"]').first
                expect(image).to_be_visible()
                assert image.evaluate("img => img.complete && img.naturalWidth > 0")
        assert csp_violations(page) == [], username


def test_forwarding_headers_are_ignored_unless_the_proxy_is_named(server):
    # Bug: uvicorn believed X-Forwarded-For/-Proto from 127.0.0.1, so one machine could
    # claim to be any client (a fresh one for every guess) or to have come over https.
    running, _made = server
    status, headers, _ = http_get_with(running.url(), {"X-Forwarded-Proto": "https"})
    assert status == 200
    assert "kc_bind=" in headers["set-cookie"] and "Secure" not in headers["set-cookie"]
    # /_stcore/metrics is for this machine only, not for whoever a proxy forwards.
    status, _, _ = http_get_with(running.url("_stcore/metrics"), {})
    assert status == 200
    status, _, _ = http_get_with(running.url("_stcore/metrics"), {"X-Forwarded-For": "1.2.3.4"})
    assert status == 404


def test_a_named_tls_proxy_gets_secure_cookies(tmp_path, monkeypatch):
    monkeypatch.setenv("KINDRED_TRUSTED_PROXIES", "127.0.0.1")
    with serve(tmp_path / "data", tmp_path / "server.log") as running:
        status, headers, _ = http_get_with(
            running.url(), {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.5"}
        )
        assert status == 200 and "Secure" in headers["set-cookie"]
        status, _, _ = http_get_with(
            running.url("_stcore/metrics"), {"X-Forwarded-For": "203.0.113.5"}
        )
        assert status == 404


def http_get_with(url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    """GET a URL with extra headers, without a browser."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request("GET", parts.path or "/", headers=headers)
        response = connection.getresponse()
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        connection.close()
