"""Browser-test fixtures: the real server on a temp folder, Chromium, and page helpers.

Each module starts its own ``streamlit run serve.py`` on a free loopback port with its own
``KINDRED_DATA_DIR`` and always stops it (terminate, wait, kill). Data is seeded in a child
process before a server starts, because one process holds a data folder's lock at a time.

Without Chromium or Playwright the tests skip; with ``KINDRED_REQUIRE_BROWSER=1`` (CI) they
fail instead, so CI always runs them.
"""

from __future__ import annotations

import http.client
import io
import json
import math
import os
import random
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[2]
# Debian's Chromium (this machine can't download browsers); KINDRED_CHROMIUM points elsewhere.
CHROMIUM = Path(os.environ.get("KINDRED_CHROMIUM") or "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
VIEWPORT = {"width": 1280, "height": 900}
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
PASSWORD = "a calm river of stones"
# Screenshots for the README; point elsewhere (KINDRED_SCREENSHOT_DIR) to keep docs/ untouched.
SCREENSHOTS = Path(os.environ.get("KINDRED_SCREENSHOT_DIR") or ROOT / "docs")
SETUP_CODE_RE = re.compile(r"first-run setup code: (SET-[A-Z0-9-]+)")


# -- is there a browser? ---------------------------------------------------------------------------


def browser_problem() -> str | None:
    """Say why the browser tests can't run here, or None when they can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (pip install playwright)"
    if not CHROMIUM.exists():
        return f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    return None


@pytest.fixture(scope="session", autouse=True)
def _chromium_available() -> None:
    problem = browser_problem()
    if problem is None:
        return
    if os.environ.get("KINDRED_REQUIRE_BROWSER") == "1":
        pytest.fail(f"KINDRED_REQUIRE_BROWSER=1 but {problem}", pytrace=False)
    pytest.skip(f"browser tests skipped: {problem}")


@pytest.fixture(scope="session")
def playwright_driver(_chromium_available):
    """One Playwright driver for the whole run (the sync API allows only one at a time)."""
    from playwright.sync_api import expect, sync_playwright

    # Streamlit reruns take a moment on a busy machine; be patient before calling it a failure.
    expect.set_options(timeout=20_000)
    playwright = sync_playwright().start()
    try:
        yield playwright
    finally:
        playwright.stop()


@pytest.fixture(scope="session")
def browser(playwright_driver):
    """One headless Chromium for the whole run."""
    chromium = playwright_driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    try:
        yield chromium
    finally:
        chromium.close()


class People:
    """Opens browser contexts (one per person), records any JS dialog, closes them all."""

    def __init__(self, browser) -> None:
        self.browser = browser
        self.contexts: list = []
        self.dialogs: list[str] = []

    def new(self):
        """Return a fresh browser context: its own cookies, as if another person's device."""
        context = self.browser.new_context(viewport=VIEWPORT)
        context.set_default_timeout(30_000)
        context.on("dialog", self._dialog)
        self.contexts.append(context)
        return context

    def _dialog(self, dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def close(self) -> None:
        for context in self.contexts:
            context.close()
        self.contexts.clear()


@pytest.fixture
def people(browser) -> Iterator[People]:
    crowd = People(browser)
    yield crowd
    crowd.close()


# -- the server ------------------------------------------------------------------------------------


def free_port() -> int:
    """Return a loopback port nobody is listening on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http_get(url: str, cookie: str | None = None) -> tuple[int, dict[str, str], bytes]:
    """GET a URL without a browser; return status, headers and body."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        headers = {"Cookie": cookie} if cookie else {}
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        connection.request("GET", path or "/", headers=headers)
        response = connection.getresponse()
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        connection.close()


class AppServer:
    """``streamlit run serve.py`` on a loopback port and a data folder, with its log in a file.

    ``script`` runs another Streamlit script instead (the benchmarks' bare app).
    """

    def __init__(
        self, data_dir: Path, log_path: Path, port: int | None = None, script: str = "serve.py"
    ) -> None:
        self.script = script
        self.data_dir = Path(data_dir)
        self.log_path = Path(log_path)
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None
        self.pid: int | None = None
        self._log = None

    def url(self, path: str = "") -> str:
        """Return the absolute URL of a path on this server."""
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"

    def start(self, timeout: float = 60.0) -> AppServer:
        """Start the server and wait until its health check answers."""
        env = {**os.environ, "KINDRED_DATA_DIR": str(self.data_dir), "PYTHONUNBUFFERED": "1"}
        command = [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            self.script,
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(self.port),
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
            # Other people edit the source while tests run: no "source changed" banners.
            "--server.fileWatcherType",
            "none",
        ]
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.pid = self.process.pid
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                log = self.log()
                self.stop()
                raise RuntimeError(f"the server exited early:\n{log}")
            try:
                status, _headers, _body = http_get(self.url("_stcore/health"))
                if status == 200:
                    return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                log = self.log()
                self.stop()
                raise RuntimeError(f"the server did not answer within {timeout:.0f} s:\n{log}")
            time.sleep(0.1)

    def stop(self) -> None:
        """Stop the server process (terminate, wait, kill) and close its log."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout=15)
            self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def log(self) -> str:
        """Return what the server has printed so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for_log(self, pattern: re.Pattern[str], timeout: float = 30.0) -> re.Match[str]:
        """Wait until the server log matches a pattern; return the match."""
        deadline = time.monotonic() + timeout
        while True:
            match = pattern.search(self.log())
            if match:
                return match
            if time.monotonic() > deadline:
                raise AssertionError(f"{pattern.pattern!r} never appeared in:\n{self.log()}")
            time.sleep(0.1)


@contextmanager
def serve(data_dir: Path, log_path: Path) -> Iterator[AppServer]:
    """Run a server for the duration of a with-block, and always stop it."""
    server = AppServer(data_dir, log_path)
    try:
        yield server.start()
    finally:
        server.stop()


# -- seeding data before a server starts -----------------------------------------------------------


class SeedClock:
    """A settable clock, so seeded check-ins and art can be spread over past days."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def fast_config():
    """Cheap password hashing for accounts made by seeding (the server uses the defaults)."""
    from gallery_store import StudioConfig

    return StudioConfig(argon2_time_cost=1, argon2_memory_kib=1024, argon2_parallelism=1)


def seed(data_dir: Path, recipe: str, **options) -> dict:
    """Run ``module:function(data_dir, **options)`` in a child process; return its JSON result.

    A child process, because a studio holds its folder's lock for the life of the process.
    """
    module, function = recipe.split(":")
    program = (
        "import importlib, json, sys\n"
        "recipe = getattr(importlib.import_module(sys.argv[1]), sys.argv[2])\n"
        "print(json.dumps(recipe(sys.argv[3], **json.loads(sys.argv[4]))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program, module, function, str(data_dir), json.dumps(options)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"seeding {recipe} failed:\n{result.stdout}\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


PALETTES = [
    [(232, 170, 120), (91, 127, 110), (241, 236, 227), (196, 98, 84)],
    [(120, 150, 200), (250, 220, 140), (70, 90, 130), (240, 240, 235)],
    [(180, 120, 170), (250, 200, 190), (90, 70, 110), (245, 235, 225)],
    [(110, 170, 140), (240, 200, 110), (60, 100, 90), (250, 245, 230)],
]


def painting(seed_value: int = 0, size: tuple[int, int] = (900, 675), fmt: str = "PNG") -> bytes:
    """Return a small abstract 'painting' (soft shapes on a warm ground), different per seed."""
    rng = random.Random(seed_value)
    palette = PALETTES[seed_value % len(PALETTES)]
    width, height = size
    image = Image.new("RGB", size, palette[2])
    draw = ImageDraw.Draw(image)
    for band in range(0, height, 6):
        shade = int(12 * math.sin(band / 40 + seed_value))
        base = palette[2]
        draw.rectangle(
            [0, band, width, band + 6], fill=tuple(max(0, min(255, c + shade)) for c in base)
        )
    for _ in range(7):
        x, y = rng.randrange(width), rng.randrange(height)
        radius = rng.randrange(min(size) // 10, min(size) // 3)
        colour = rng.choice([palette[0], palette[1], palette[3]])
        draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=colour)
    for _ in range(3):
        points = [(rng.randrange(width), rng.randrange(height)) for _ in range(4)]
        draw.line(points, fill=palette[1], width=rng.randrange(6, 18), joint="curve")
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


# -- driving pages ---------------------------------------------------------------------------------


def settle(page, pause_ms: int = 300) -> None:
    """Let a click reach the server, then wait until the script run is over."""
    page.wait_for_timeout(pause_ms)
    page.wait_for_selector(IDLE, timeout=30_000)


def visit(page, url: str) -> None:
    """Open a URL and wait for the app to finish its first run."""
    page.goto(url)
    settle(page)


def submit_and_follow_cookie(page, button: str) -> None:
    """Press a sign-in/join/setup button; wait for the cookie hand-off to land back on /."""
    with page.expect_navigation(url=re.compile(r"/(\?.*)?$"), timeout=30_000):
        page.get_by_role("button", name=button).click()
    settle(page, 500)


def sign_in(page, server: AppServer, username: str, password: str = PASSWORD) -> None:
    """Sign in on the welcome page and follow the cookie hand-off."""
    visit(page, server.url())
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(password)
    submit_and_follow_cookie(page, "Sign in")


def keep_recovery_code(page, timeout: float = 10_000) -> None:
    """Say "I've kept it" to a new account's recovery code, if it is shown.

    Seeded accounts are made with cheap password hashing and the server's keys are derived
    at full cost, so the first sign-in makes fresh keys and shows a new code, pushing the
    page down until it is kept.
    """
    from playwright.sync_api import TimeoutError as NotShown

    kept = page.get_by_role("button", name="I've kept it somewhere safe")
    try:
        kept.wait_for(state="visible", timeout=timeout)
    except NotShown:
        return
    kept.click()
    settle(page)


def go_to(page, menu_item: str) -> None:
    """Follow a link in the sidebar menu."""
    page.get_by_role("link", name=menu_item, exact=True).click()
    settle(page)


def main_text(page) -> str:
    """Return the visible text of the main area (not the sidebar)."""
    return page.locator('[data-testid="stMain"]').inner_text()


def scroll_to(locator, block: str = "start") -> None:
    """Scroll the app's main area so an element sits at the top (or centre) of the window."""
    locator.evaluate("(el, block) => el.scrollIntoView({block})", block)


def screenshot(page, name: str, *, full_page: bool = False, wait_for: str | None = None) -> Path:
    """Save a PNG for the README once the page is idle and its visible images have loaded."""
    settle(page)
    if wait_for:
        page.locator(wait_for).first.wait_for(state="visible")
    page.wait_for_function(
        """() => Array.from(document.images).every(img => {
               const box = img.getBoundingClientRect();
               const onScreen = box.bottom > 0 && box.top < window.innerHeight;
               return !onScreen || (img.complete && img.naturalWidth > 0);
           })""",
        timeout=15_000,
    )
    page.wait_for_timeout(400)  # charts and fonts finish painting
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path), full_page=full_page)
    return path


def cookie_header(context, name: str = "kc_session") -> str | None:
    """Return 'name=value' for a context's cookie, to replay it outside the browser."""
    for cookie in context.cookies():
        if cookie["name"] == name:
            return f"{name}={cookie['value']}"
    return None
