"""HTTP routes beside the Streamlit app: the session cookie and artwork images.

A Streamlit script cannot set cookies, so after sign-in the page sends the browser
to ``/session/begin`` with a one-time code; the route trades it for the session
token and sets it as an HttpOnly, SameSite=Strict cookie.
"""

from __future__ import annotations

import logging

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Route

from gallery_store import StudioError, config_from_env, default_data_dir, open_studio

from .context import COOKIE

__all__ = ["routes"]

log = logging.getLogger("kindred")


def _studio():
    return open_studio(default_data_dir(), config_from_env())


async def begin_session(request: Request) -> Response:
    """Trade a one-time code for the session cookie, then go back to the app."""
    response = RedirectResponse("/", status_code=303)
    # Only the app's own redirect may use a code: a link opened from a message or another
    # site would sign this browser into whoever sent it (login CSRF). Browsers that send
    # no Fetch Metadata are let through.
    if request.headers.get("sec-fetch-site", "same-origin") != "same-origin":
        return response
    studio = _studio()
    token = studio.accounts.redeem_handoff(request.query_params.get("code", ""))
    if token and studio.accounts.session_user(token):
        response.set_cookie(
            COOKIE,
            token,
            max_age=studio.config.session_absolute_days * 86400,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
    return response


async def end_session(request: Request) -> Response:
    """Forget the session cookie (the server-side session was ended by the page)."""
    studio = _studio()
    studio.accounts.end_session(request.cookies.get(COOKIE))
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


async def artwork_image(request: Request) -> Response:
    """Serve one copy of an artwork to a signed-in member of its circle."""
    studio = _studio()
    user = studio.accounts.session_user(request.cookies.get(COOKIE))
    if user is None:
        return Response("Please sign in.", status_code=401)
    variant = request.path_params["variant"]
    artwork_id = request.path_params["artwork_id"]
    try:
        data = studio.artworks.image(user, artwork_id, variant)
        artwork = studio.artworks.get(user, artwork_id)
    except StudioError:
        return Response("Not found.", status_code=404)
    return Response(
        data,
        media_type=artwork.media_type,
        headers={
            # Short: a removed artwork should not linger in a shared computer's cache.
            "Cache-Control": "private, max-age=300",
            "X-Content-Type-Options": "nosniff",
            "Content-Disposition": "inline",
        },
    )


async def export_download(request: Request) -> Response:
    """Stream a prepared personal archive to its owner, once."""
    studio = _studio()
    user = studio.accounts.session_user(request.cookies.get(COOKIE))
    path = studio.exports.claim_download(user, request.path_params["code"])
    if path is None or not path.exists():
        return Response(
            "This download link has expired. Please prepare a new one.", status_code=404
        )
    return FileResponse(
        path,
        media_type="application/zip",
        filename="kindred-canvas-my-data.zip",
        background=BackgroundTask(path.unlink, missing_ok=True),
    )


routes = [
    Route("/export/{code}", export_download, methods=["GET"]),
    Route("/session/begin", begin_session, methods=["GET"]),
    Route("/session/end", end_session, methods=["GET"]),
    Route("/art/{artwork_id}/{variant}", artwork_image, methods=["GET"]),
]
