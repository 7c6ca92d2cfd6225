"""Helpers for the AppTest suites: open the app as someone, on a page, and read what it shows."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest
from streamlit.util import calc_hash

from tests.conftest import make_image

__all__ = [
    "APP",
    "PAGE_FILES",
    "app_for",
    "button",
    "click",
    "html_bodies",
    "img_tags",
    "open_page",
    "reload",
    "share_art",
    "texts",
    "titles",
]

APP = Path(__file__).parents[1] / "app.py"

# Every file in pages/ that Streamlit would still run on its own for a cold deep link.
PAGE_FILES = sorted(
    p.stem for p in (APP.parent / "pages").glob("*.py") if not p.stem.startswith("_")
)

# Elements whose value is words a person reads.
TEXT_ELEMENTS = (
    "title",
    "header",
    "subheader",
    "markdown",
    "caption",
    "text",
    "error",
    "warning",
    "info",
    "success",
)


def app_for(studio, data_dir, monkeypatch, user=None, page=None, query=None) -> AppTest:
    """Run the app once as ``user`` (signed out if None), then open ``page`` if given.

    ``KINDRED_DATA_DIR`` points the app at the test's folder, so ``get_studio()`` returns the
    very Studio the test opened (one per folder and process), with its fast config and clock.
    """
    from ui.context import get_studio

    monkeypatch.setenv("KINDRED_DATA_DIR", str(data_dir))
    get_studio.clear()  # st.cache_resource lives for the process; each test has its own folder
    at = AppTest.from_file(str(APP), default_timeout=30)
    if user is not None:
        at.session_state["session_token"] = studio.accounts.start_session(user)
    for name, value in (query or {}).items():
        at.query_params[name] = value
    at.run()
    if page is not None:
        open_page(at, page)
    return at


def reload(at: AppTest, page=None) -> AppTest:
    """Open the app again in a new session that has only the session cookie, as a browser
    does when the tab reloads (right after sign-in it always does, to pick up its cookie)."""
    again = AppTest.from_file(str(APP), default_timeout=30)
    again.session_state["session_token"] = at.session_state["session_token"]
    again.run()
    if page is not None:
        open_page(again, page)
    return again


def open_page(at: AppTest, url_path: str) -> AppTest:
    """Ask for a page by its url path, as the browser does for /<url_path>, and run."""
    at._page_hash = calc_hash(url_path)
    at.run()
    # Later reruns stay on the page this run finished on, as a browser tab does.
    at._page_hash = ""
    return at


def texts(at: AppTest) -> list[str]:
    """Return every piece of text the run showed: titles, markdown, captions and alerts."""
    found: list[str] = []
    for kind in TEXT_ELEMENTS:
        found.extend(str(element.value) for element in at.get(kind))
    return found


def all_text(at: AppTest) -> str:
    """Return everything the run showed as one string, for substring checks."""
    return "\n".join(texts(at))


def titles(at: AppTest) -> list[str]:
    """Return the page titles shown."""
    return [element.value for element in at.title]


def html_bodies(at: AppTest) -> list[str]:
    """Return the body of every ``st.html`` element."""
    return [element.proto.body for element in at.get("html")]


def img_tags(at: AppTest) -> list[str]:
    """Return the st.html bodies that show an artwork."""
    return [body for body in html_bodies(at) if "<img " in body]


def button(at: AppTest, label: str, *, index: int = 0):
    """Return the ``index``-th button (or form submit button) with this label."""
    matches = [b for b in at.button if b.label == label]
    if len(matches) <= index:
        shown = sorted({b.label for b in at.button})
        raise AssertionError(f"No button {label!r} (#{index}); buttons shown: {shown}")
    return matches[index]


def click(at: AppTest, label: str, *, index: int = 0) -> AppTest:
    """Click a button by its label and rerun."""
    button(at, label, index=index).click()
    at.run()
    return at


def widget(elements, label: str):
    """Return the first widget in ``elements`` with this label."""
    for element in elements:
        if element.label == label:
            return element
    shown = [e.label for e in elements]
    raise AssertionError(f"No widget labelled {label!r}; shown: {shown}")


def share_art(studio, user, circle, *, caption="", alt_text="A warm orange square", **extra):
    """Share a small Pillow-made image with the circle; return the Artwork."""
    return studio.artworks.share(
        user,
        make_image(),
        caption=caption,
        alt_text=alt_text,
        circle_id=circle.id,
        **extra,
    )
