"""Browser benchmark: our pages in Chromium against a bare Streamlit app, side by side.

Starts our app (``serve.py`` on a seeded data folder: a circle with 24 artworks) and the bare
app (``benchmarks/bare_app.py``: 24 pictures, one comment form, another page) in the same
run, and drives both in headless Chromium through Playwright. Each action is timed from the
click (or the address) until the page is settled: Streamlit's running indicator is gone and
an element the action leads to is shown. The script runs each action causes are counted
from the server's own messages (one ``script_finished`` per run, fragment runs included).

Actions: opening the gallery, opening an artwork, posting a comment, switching page (from
the gallery to Account; in the bare app, to its other page), and opening the Prompt library
as the therapist. Prints ms (median), the ratio ours/bare and runs per action.

Targets: every action within 1.5x of the bare app's, one script run per action, the Prompt
library settled within 1 s.

Run: ``python -m benchmarks.bench_browser [--quick]`` (needs Playwright and Chromium, as the
browser tests do).
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.e2e.conftest import (  # noqa: E402 - the browser tests' own server and helpers
    CHROMIUM,
    CHROMIUM_ARGS,
    IDLE,
    PASSWORD,
    VIEWPORT,
    AppServer,
    browser_problem,
    fast_config,
    keep_recovery_code,
    painting,
    seed,
    sign_in,
)

CIRCLE = "Benchmark circle"
ARTWORKS = 24
RATIO_TARGET = 1.5
PROMPTS_TARGET_MS = 1000
COMMENT = "I notice how the colours lean on each other."


def seed_benchmark_studio(data_dir: str) -> dict:
    """A therapist, Robin and Sam, and 24 artworks in one circle (run in a child process)."""
    from gallery_store import open_studio

    with open_studio(data_dir, fast_config()) as studio:
        tess = studio.accounts.bootstrap_therapist("tess", PASSWORD, "Tess")
        circle = studio.circles.create(tess, CIRCLE)
        robin = studio.accounts.join(
            studio.circles.invite(tess, circle.id), "robin", PASSWORD, "Robin"
        )
        sam = studio.accounts.join(studio.circles.invite(tess, circle.id), "sam", PASSWORD, "Sam")
        for number in range(ARTWORKS):
            artist = sam if number % 2 else robin
            studio.artworks.share(
                artist,
                painting(number, size=(900, 675), fmt="JPEG"),
                caption=f"Evening piece {number}",
                alt_text=f"Soft shapes in warm colours, piece {number}.",
            )
        return {"circle": circle.id}


class RunCounter:
    """Counts the script runs a page's server reports (``script_finished`` messages)."""

    def __init__(self, page) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        self._message = ForwardMsg
        self.finished: list[float] = []
        page.on("websocket", self._watch)

    def _watch(self, socket) -> None:
        if "_stcore/stream" in socket.url:
            socket.on("framereceived", self._frame)

    def _frame(self, payload) -> None:
        if not isinstance(payload, bytes | bytearray):
            return
        message = self._message()
        try:
            message.ParseFromString(bytes(payload))
        except Exception:  # not a message we know, so not a run either
            return
        if message.WhichOneof("type") == "script_finished":
            self.finished.append(time.perf_counter())

    def since(self, start: float) -> list[float]:
        return [t for t in self.finished if t >= start]


def settled(
    page, counter: RunCounter, start: float, shown: Callable[[], None]
) -> tuple[float, int]:
    """Wait until the action's runs are over and its element shows; return ms and runs.

    After the page looks settled, a quiet moment catches a second run that follows the
    first (st.rerun, a changed address, st.switch_page): the time is that of the last run.
    """
    shown()
    page.wait_for_selector(IDLE, timeout=30_000)
    seen = time.perf_counter()
    while True:
        runs = len(counter.since(start))
        page.wait_for_timeout(400)
        page.wait_for_selector(IDLE, timeout=30_000)
        if len(counter.since(start)) == runs and runs > 0:
            break
    finished = counter.since(start)
    end = max(seen, finished[-1]) if finished else seen
    return (end - start) * 1000, len(finished)


def measure(page, counter, act: Callable[[], None], shown: Callable[[], None]):
    start = time.perf_counter()
    act()
    return settled(page, counter, start, shown)


class Side:
    """One app in one browser tab, and what each action means there."""

    def __init__(self, name: str, server: AppServer, page, counter: RunCounter) -> None:
        self.name = name
        self.server = server
        self.page = page
        self.counter = counter


def _visible(locator) -> Callable[[], None]:
    return lambda: locator.first.wait_for(state="visible", timeout=30_000)


def our_actions(side: Side, round_number: int) -> dict[str, tuple[float, int]]:
    page, server = side.page, side.server
    results = {}
    results["open the gallery"] = measure(
        page,
        side.counter,
        lambda: page.goto(server.url("gallery")),
        _visible(page.get_by_role("heading", name=f"{CIRCLE} gallery")),
    )
    link = page.locator('[data-testid="stMain"] [data-testid="stPageLink-NavLink"]').nth(
        round_number % ARTWORKS
    )
    results["open an artwork"] = measure(
        page,
        side.counter,
        link.click,
        _visible(page.get_by_role("heading", name="Witnessing")),
    )
    words = f"{COMMENT} ({round_number})"
    page.get_by_role("textbox", name="Your comment").fill(words)
    results["post a comment"] = measure(
        page,
        side.counter,
        page.get_by_role("button", name="Post comment").click,
        _visible(page.get_by_text(words, exact=True)),
    )
    results["switch page"] = measure(
        page,
        side.counter,
        page.get_by_role("link", name="Account", exact=True).click,
        _visible(page.get_by_role("heading", name="Your account")),
    )
    return results


def bare_actions(side: Side, round_number: int) -> dict[str, tuple[float, int]]:
    page, server = side.page, side.server
    results = {}
    results["open the gallery"] = measure(
        page,
        side.counter,
        lambda: page.goto(server.url()),
        _visible(page.get_by_role("heading", name="Bare gallery")),
    )
    number = round_number % ARTWORKS
    results["open an artwork"] = measure(
        page,
        side.counter,
        page.get_by_role("link", name=f"Picture {number}", exact=True).click,
        _visible(page.get_by_role("heading", name="Comments")),
    )
    words = f"{COMMENT} ({round_number})"
    page.get_by_role("textbox", name="Your comment").fill(words)
    results["post a comment"] = measure(
        page,
        side.counter,
        page.get_by_role("button", name="Post comment").click,
        _visible(page.get_by_text(words, exact=True)),
    )
    results["switch page"] = measure(
        page,
        side.counter,
        page.get_by_role("link", name="Another page", exact=True).click,
        _visible(page.get_by_role("heading", name="Another page")),
    )
    return results


def prompt_library(side: Side) -> tuple[float, int]:
    """Open the Prompt library from the menu, as the therapist, until its prompts show."""
    page = side.page
    page.goto(side.server.url("gallery"))
    page.wait_for_selector(IDLE, timeout=30_000)
    page.get_by_role("heading", name=f"{CIRCLE} gallery").wait_for()
    return measure(
        page,
        side.counter,
        page.get_by_role("link", name="Prompt library", exact=True).click,
        # The count above the list, and the list's last prompt.
        _visible(page.get_by_text(re.compile(r"^\d+ prompts$"))),
    )


def _median(samples: list[tuple[float, int]]) -> tuple[float, int]:
    return statistics.median(ms for ms, _ in samples), max(runs for _, runs in samples)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_browser")
    parser.add_argument("--quick", action="store_true", help="3 rounds instead of 7")
    args = parser.parse_args(argv)
    problem = browser_problem()
    if problem:
        print(f"bench_browser skipped: {problem}")
        return 0
    from playwright.sync_api import sync_playwright

    rounds = 3 if args.quick else 7
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        seed(folder / "data", "benchmarks.bench_browser:seed_benchmark_studio")
        ours = AppServer(folder / "data", folder / "ours.log")
        bare = AppServer(folder / "bare-data", folder / "bare.log", script="benchmarks/bare_app.py")
        try:
            ours.start()
            bare.start()
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
                )
                try:
                    return _run(browser, ours, bare, rounds)
                finally:
                    browser.close()
        finally:
            ours.stop()
            bare.stop()


def _tab(browser, name: str, server: AppServer, username: str | None) -> Side:
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(30_000)
    page = context.new_page()
    counter = RunCounter(page)
    if username:
        sign_in(page, server, username)
        keep_recovery_code(page)
    return Side(name, server, page, counter)


def _run(browser, ours: AppServer, bare: AppServer, rounds: int) -> int:
    robin = _tab(browser, "ours", ours, "robin")
    tess = _tab(browser, "ours (therapist)", ours, "tess")
    plain = _tab(browser, "bare", bare, None)
    # One warm-up round each (first imports, caches, fonts), then rounds taken in turn so
    # the machine's noise falls on both apps alike.
    our_actions(robin, 0)
    bare_actions(plain, 0)
    prompt_library(tess)
    samples: dict[str, dict[str, list]] = {"ours": {}, "bare": {}}
    library = []
    for number in range(1, rounds + 1):
        for side, actions, bucket in (
            (robin, our_actions, "ours"),
            (plain, bare_actions, "bare"),
        ):
            for action, result in actions(side, number).items():
                samples[bucket].setdefault(action, []).append(result)
        library.append(prompt_library(tess))

    failed = False
    print(
        f"{'action':<22}{'ours ms':>9}{'bare ms':>9}{'ours/bare':>11}"
        f"{'runs ours':>11}{'runs bare':>11}"
    )
    for action in samples["ours"]:
        our_ms, our_runs = _median(samples["ours"][action])
        bare_ms, bare_runs = _median(samples["bare"][action])
        ratio = our_ms / bare_ms
        failed |= ratio > RATIO_TARGET or our_runs > 1
        print(
            f"{action:<22}{our_ms:>9.0f}{bare_ms:>9.0f}{ratio:>10.2f}x{our_runs:>11}{bare_runs:>11}"
        )
    library_ms, library_runs = _median(library)
    bare_switch, _ = _median(samples["bare"]["switch page"])
    failed |= library_ms > PROMPTS_TARGET_MS or library_runs > 1
    print(
        f"{'Prompt library':<22}{library_ms:>9.0f}{bare_switch:>9.0f}"
        f"{library_ms / bare_switch:>10.2f}x{library_runs:>11}{'':>11}"
        f"   (target <= {PROMPTS_TARGET_MS} ms; bare: its page switch)"
    )
    print(f"targets: ours/bare <= {RATIO_TARGET}x, one run per action")
    if failed:
        print("a target was missed")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
