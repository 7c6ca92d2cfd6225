"""The server entry point: the Streamlit app plus the cookie, image and download routes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from contextlib import asynccontextmanager

import streamlit as st
from starlette.middleware import Middleware

from gallery_store import StudioError, config_from_env, default_data_dir, open_studio
from gallery_store.logs import configure_logging
from ui.web import WebGuard, housekeeping, routes

log = logging.getLogger("kindred")
configure_logging()

try:
    CONFIG = config_from_env()
except ValueError as exc:
    print(f"Kindred Canvas cannot start: {exc}", file=sys.stderr, flush=True)
    raise SystemExit(1) from exc


def _leave_forwarding_headers_to_the_guard() -> None:
    """Stop uvicorn believing X-Forwarded-For/-Proto from 127.0.0.1 (its default).

    WebGuard decides, from KINDRED_TRUSTED_PROXIES alone, for pages and the websocket
    alike. Uvicorn reads its own setting before it imports this module, and wraps the app
    in its proxy middleware just after; replacing that middleware here is the one place
    both ``streamlit run serve.py`` and ``uvicorn serve:app`` pass through.
    """
    import uvicorn.config

    uvicorn.config.ProxyHeadersMiddleware = lambda app, trusted_hosts=None: app


_leave_forwarding_headers_to_the_guard()


@asynccontextmanager
async def lifespan(_app):
    """Open the studio at start (checking every file) and print the first-run setup code."""
    try:
        studio = open_studio(default_data_dir(), CONFIG)
    except StudioError as exc:
        # Refuse to start rather than serve an empty or damaged studio; say what to do.
        print(f"Kindred Canvas cannot start: {exc.message}", file=sys.stderr, flush=True)
        raise SystemExit(1) from exc
    code = studio.accounts.setup_code()
    if code:
        # Printed, not only logged: whoever starts the server needs it to create the
        # first therapist, and only they can see this output.
        print(f"Kindred Canvas first-run setup code: {code}", flush=True)
        log.warning("first-run setup is waiting for the code printed above")
    sweeper = asyncio.create_task(housekeeping(studio))
    yield {}
    sweeper.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await sweeper
    studio.close()


app = st.App(
    "app.py",
    routes=routes,
    middleware=[Middleware(WebGuard, trusted_proxies=CONFIG.trusted_proxies)],
    lifespan=lifespan,
)
