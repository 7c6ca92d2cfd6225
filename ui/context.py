"""Who is signed in, which circle they are looking at, and the one Studio of the process."""

from __future__ import annotations

import logging
import runpy
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from gallery_store import Studio, User, config_from_env, default_data_dir, open_studio
from gallery_store.models import Circle

__all__ = [
    "BIND_COOKIE",
    "COOKIE",
    "Context",
    "client_address",
    "get_studio",
    "resolve_user",
    "sign_in",
    "sign_out",
    "switch_circle",
]

log = logging.getLogger("kindred")

COOKIE = "kc_session"
# A random secret the page's HTTP response gives each browser (ui.web.WebGuard); a
# sign-in hand-off code only works with the same one.
BIND_COOKIE = "kc_bind"
TOKEN_KEY = "session_token"  # noqa: S105 - a session_state key, not a secret
HANDOFF_KEY = "cookie_handoff"
CIRCLE_KEY = "circle_id"
NEXT_CIRCLE_KEY = "next_circle_id"


@st.cache_resource(show_spinner=False)
def get_studio() -> Studio:
    """Open the studio once per server process (shared by every session)."""
    # serve.py opened it at start (and printed the setup code); tests open it here.
    return open_studio(default_data_dir(), config_from_env())


@dataclass(frozen=True)
class Context:
    """What a page needs: the studio, the signed-in person and their current circle."""

    studio: Studio
    user: User
    circles: tuple[Circle, ...]
    circle: Circle | None
    token: str | None
    # The router's pages by URL path, so a page can send people to another one.
    pages: dict = field(default_factory=dict)

    @property
    def circle_id(self) -> str | None:
        """Return the current circle's id, if any."""
        return self.circle.id if self.circle else None


def _cookie(name: str) -> str | None:
    try:
        value = st.context.cookies.get(name)
    except (AttributeError, RuntimeError, KeyError):
        return None
    return value if isinstance(value, str) and value else None


def _cookie_token() -> str | None:
    return _cookie(COOKIE)


def client_address() -> str:
    """Return who is connecting, for the sign-in slow-down ("local" for this machine)."""
    # ui.web.WebGuard has already put a trusted proxy's client in place of the proxy.
    try:
        return st.context.ip_address or "local"
    except (AttributeError, RuntimeError):
        return "local"


def resolve_user(studio: Studio) -> tuple[User | None, str | None]:
    """Return the signed-in user and their token, from this tab or the session cookie."""
    token = st.session_state.get(TOKEN_KEY) or _cookie_token()
    user = studio.accounts.session_user(token)
    if user is None:
        st.session_state.pop(TOKEN_KEY, None)
        return None, None
    st.session_state[TOKEN_KEY] = token
    return user, token


def sign_in(studio: Studio, username: str, password: str) -> User:
    """Check the password, start a session, and ask the browser to keep it in a cookie."""
    signed = studio.accounts.sign_in(username, password, client=client_address())
    st.session_state[TOKEN_KEY] = signed.token
    st.session_state[HANDOFF_KEY] = studio.accounts.handoff_code(
        signed.token, _cookie(BIND_COOKIE) or ""
    )
    return signed.user


def sign_out(studio: Studio) -> None:
    """End the session on the server and drop the cookie."""
    studio.accounts.end_session(st.session_state.get(TOKEN_KEY) or _cookie_token())
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    st.session_state["signed_out"] = True


def pending_cookie_handoff() -> str | None:
    """Return the one-time code that sets the session cookie, once, right after sign-in."""
    return st.session_state.pop(HANDOFF_KEY, None)


def switch_circle(circle_id: str) -> None:
    """Look at this circle from the next run on (the sidebar's choice is set before it shows)."""
    # Setting CIRCLE_KEY itself after the sidebar's selectbox exists would raise.
    st.session_state[NEXT_CIRCLE_KEY] = circle_id


def choose_circle(circles: list[Circle]) -> Circle | None:
    """Return the circle the person is looking at (remembered for this tab)."""
    if not circles:
        return None
    switched = st.session_state.pop(NEXT_CIRCLE_KEY, None)
    if switched is not None and any(c.id == switched for c in circles):
        st.session_state[CIRCLE_KEY] = switched
    wanted = st.session_state.get(CIRCLE_KEY)
    for circle in circles:
        if circle.id == wanted:
            return circle
    st.session_state[CIRCLE_KEY] = circles[0].id
    return circles[0]


def cold_start() -> None:
    """Run the router for a page file that Streamlit ran on its own.

    For the first request after a server start, Streamlit runs ``pages/<name>.py`` for a
    deep link ``/<name>`` directly, skipping ``app.py`` and its sign-in. Each page file
    then renders nothing itself and runs the router, which checks who is signed in and
    opens ``<name>`` only for someone allowed to see it (and the welcome for anyone else).
    """
    runpy.run_path(str(Path(__file__).resolve().parents[1] / "app.py"), run_name="router")
