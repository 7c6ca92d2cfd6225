"""The server entry point: the Streamlit app plus the cookie, image and download routes."""

from __future__ import annotations

import logging
import sys
from contextlib import asynccontextmanager

import streamlit as st

from gallery_store import StudioError, config_from_env, default_data_dir, open_studio
from ui.web import routes

log = logging.getLogger("kindred")


@asynccontextmanager
async def lifespan(_app):
    """Open the studio at start (checking every file) and print the first-run setup code."""
    try:
        studio = open_studio(default_data_dir(), config_from_env())
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
    yield {}
    studio.close()


app = st.App("app.py", routes=routes, lifespan=lifespan)
