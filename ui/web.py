"""HTTP beside the Streamlit app: the session cookie, artwork images, downloads, and a guard.

A Streamlit script cannot set cookies, so after sign-in the page's own script POSTs a
one-time code to ``/session/begin``; the route trades it for the session token and sets
it as an HttpOnly, SameSite=Strict cookie. The code only works from the browser that
signed in: it is bound to that browser's ``kc_bind`` cookie (HttpOnly, random, set by
:class:`WebGuard` with the page), which another site can neither read nor plant, and it
travels in a header that only a script on this origin can send. Neither relies on Fetch
Metadata, which Chromium does not send to plain-http origins such as a LAN address.

:class:`WebGuard` wraps every response, Streamlit's own included: it believes
``X-Forwarded-For``/``-Proto`` only from ``KINDRED_TRUSTED_PROXIES``, adds the security
headers (a Content-Security-Policy Streamlit runs under, no framing, nosniff, no
referrer), and keeps ``/_stcore/metrics`` to the machine itself.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import ipaddress
import logging
import re
import secrets
from collections.abc import Iterable
from http.cookies import SimpleCookie
from pathlib import Path

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from gallery_store import StudioError, config_from_env, default_data_dir, open_studio
from gallery_store.config import Network

from .context import BIND_COOKIE, COOKIE

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "HANDOFF_HEADER",
    "HANDOFF_SCRIPT",
    "SIGN_OUT_SCRIPT",
    "WebGuard",
    "housekeeping",
    "routes",
]

log = logging.getLogger("kindred")

HANDOFF_HEADER = "X-Kindred-Handoff"
XSRF_COOKIE = "_streamlit_xsrf"  # Streamlit's double-submit cookie (readable by the page)
NO_STORE = "no-store"

# The only scripts the app puts in its pages. Each is fixed text (what changes rides in
# a data attribute), so the Content-Security-Policy can allow exactly these by hash.
HANDOFF_SCRIPT = (
    "(function(){var e=document.getElementById('kc-handoff');if(!e){return;}"
    "var c=e.getAttribute('data-code');e.remove();"
    "fetch('session/begin',{method:'POST',credentials:'same-origin',"
    "headers:{'" + HANDOFF_HEADER + "':c}})"
    ".catch(function(){}).then(function(){window.location.replace('./');});})();"
)
SIGN_OUT_SCRIPT = (
    "(function(){var m=document.cookie.match(/(?:^|; )" + XSRF_COOKIE + "=([^;]*)/);"
    "fetch('session/end',{method:'POST',credentials:'same-origin',"
    "headers:{'X-Xsrftoken':m?decodeURIComponent(m[1]):''}})"
    ".catch(function(){}).then(function(){window.location.replace('./');});})();"
)


def _script_hash(source: str) -> str:
    digest = hashlib.sha256(source.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def _streamlit_inline_scripts() -> list[str]:
    """Return the inline scripts in Streamlit's own index.html (one, today)."""
    try:
        import streamlit

        index = Path(streamlit.__file__).parent / "static" / "index.html"
        page = index.read_text(encoding="utf-8")
    except OSError:
        return []
    return re.findall(r"<script>(.*?)</script>", page, flags=re.S)


def _content_security_policy() -> str:
    scripts = " ".join(
        _script_hash(s) for s in [HANDOFF_SCRIPT, SIGN_OUT_SCRIPT, *_streamlit_inline_scripts()]
    )
    directives = {
        "default-src": "'self'",
        # WebAssembly only (Streamlit's frontend compiles some); never eval() of JavaScript.
        "script-src": f"'self' 'wasm-unsafe-eval' {scripts}",
        # Streamlit styles its widgets with inline <style> and style="" (emotion).
        "style-src": "'self' 'unsafe-inline'",
        "img-src": "'self' data: blob:",
        "font-src": "'self' data:",
        "media-src": "'self' data: blob:",
        "connect-src": "'self'",
        "worker-src": "'self' blob:",
        "frame-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


CONTENT_SECURITY_POLICY = _content_security_policy()
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}
FORWARDING_HEADERS = (b"x-forwarded-for", b"x-forwarded-proto", b"forwarded", b"x-real-ip")


def _ip(host: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address((host or "").strip().strip("[]"))
    except ValueError:
        return None


def _trusted(host: str | None, proxies: Iterable[Network]) -> bool:
    address = _ip(host)
    return address is not None and any(address in net for net in proxies)


def _forwarded_client(forwarded_for: str, proxies: tuple[Network, ...]) -> str | None:
    """Return the first address, from the right, that is not one of our proxies."""
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        if _ip(hop) is None:
            return None  # not an address: believe nothing further along
        if not _trusted(hop, proxies):
            return hop.strip("[]")
    return hops[0].strip("[]") if hops else None


class WebGuard:
    """ASGI middleware around the whole app: real client, security headers, bind cookie."""

    def __init__(self, app, trusted_proxies: tuple[Network, ...] = ()) -> None:
        self.app = app
        self.trusted_proxies = tuple(trusted_proxies)
        self._warned = False

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {}
        for name, value in scope.get("headers", []):
            headers.setdefault(name, value.decode("latin-1"))
        peer = (scope.get("client") or ("", 0))[0]
        scope = self._real_client(scope, peer, headers)
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        cookies = SimpleCookie()
        try:
            cookies.load(headers.get(b"cookie", ""))
        except Exception:
            cookies = SimpleCookie()
        needs_bind = BIND_COOKIE not in cookies
        secure = scope.get("scheme") == "https"
        # Streamlit's /media serves what pages show with st.image and st.download_button
        # (a picture being shared, an insights CSV): not for a shared computer's cache.
        private = "/media/" in scope.get("path", "")

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message)
                raw = list(message.get("headers", []))
                if private:
                    raw = [(k, v) for k, v in raw if k.lower() != b"cache-control"]
                    raw.append((b"cache-control", NO_STORE.encode()))
                present = {name.lower() for name, _ in raw}
                for name, value in SECURITY_HEADERS.items():
                    if name.encode() not in present:
                        raw.append((name.encode(), value.encode()))
                content_type = dict(raw).get(b"content-type", b"")
                if needs_bind and content_type.startswith(b"text/html"):
                    raw.append((b"set-cookie", _bind_cookie(secure).encode("latin-1")))
                message["headers"] = raw
            await send(message)

        path = scope.get("path", "")
        if path.rstrip("/").endswith("/_stcore/metrics") and not self._local(peer, headers):
            await Response("Not found.", status_code=404)(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)

    def _real_client(self, scope, peer: str, headers: dict[bytes, str]):
        """Take the client and scheme from a trusted proxy's headers, never anyone else's."""
        if not _trusted(peer, self.trusted_proxies):
            address = _ip(peer)
            forwarded = b"x-forwarded-for" in headers
            if forwarded and not self._warned and address is not None and address.is_loopback:
                self._warned = True
                log.warning(
                    "requests arrive through a proxy at %s that is not in "
                    "KINDRED_TRUSTED_PROXIES: everyone looks like one client, so the "
                    "sign-in slow-down is shared; name the proxy to fix this",
                    peer,
                )
            return scope
        scope = dict(scope)
        client = _forwarded_client(headers.get(b"x-forwarded-for", ""), self.trusted_proxies)
        if client:
            scope["client"] = (client, 0)
        proto = headers.get(b"x-forwarded-proto", "").split(",")[-1].strip().lower()
        if proto in ("http", "https"):
            https = proto == "https"
            if scope["type"] == "websocket":
                scope["scheme"] = "wss" if https else "ws"
            else:
                scope["scheme"] = proto
        return scope

    @staticmethod
    def _local(peer: str, headers: dict[bytes, str]) -> bool:
        """Say whether a request comes from this machine itself, not through a proxy."""
        address = _ip(peer)
        if address is None or not address.is_loopback:
            return False
        return not any(name in headers for name in FORWARDING_HEADERS)


def _bind_cookie(secure: bool) -> str:
    cookie = f"{BIND_COOKIE}={secrets.token_urlsafe(32)}; HttpOnly; Path=/; SameSite=Lax"
    return cookie + ("; Secure" if secure else "")


def _studio():
    return open_studio(default_data_dir(), config_from_env())


def _from_our_page(request: Request) -> bool:
    """Say whether a request was sent by a script on one of our own pages."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site != "same-origin":
        return False
    from streamlit.web.server.server_util import is_xsrf_enabled
    from streamlit.web.server.starlette.starlette_app_utils import validate_xsrf_token

    if is_xsrf_enabled():
        return validate_xsrf_token(
            request.headers.get("x-xsrftoken"), request.cookies.get(XSRF_COOKIE)
        )
    # Without Streamlit's XSRF cookie, a fetch() still names the page it came from.
    origin = request.headers.get("origin", "")
    return bool(origin) and origin == f"{request.url.scheme}://{request.url.netloc}"


# The routes are plain functions: Starlette runs them in its thread pool, so their store
# and disk work never holds up the event loop every session's websocket shares.


def begin_session(request: Request) -> Response:
    """Trade a one-time code for the session cookie, for the browser the code belongs to."""
    refused = Response("That sign-in link can't be used here.", status_code=403)
    code = request.headers.get(HANDOFF_HEADER.lower(), "")
    binding = request.cookies.get(BIND_COOKIE, "")
    site = request.headers.get("sec-fetch-site")
    if not code or not binding or (site is not None and site != "same-origin"):
        return refused
    studio = _studio()
    token = studio.accounts.redeem_handoff(code, binding)
    if not token or studio.accounts.session_user(token) is None:
        return refused
    response = Response(status_code=204, headers={"Cache-Control": NO_STORE})
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


def end_session(request: Request) -> Response:
    """Forget the session cookie; only the app's own sign-out button may ask."""
    if not _from_our_page(request):
        return Response("Please use the Sign out button.", status_code=403)
    studio = _studio()
    studio.accounts.end_session(request.cookies.get(COOKIE))
    response = Response(status_code=204, headers={"Cache-Control": NO_STORE})
    response.delete_cookie(
        COOKIE,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


def artwork_image(request: Request) -> Response:
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
            # Not kept at all: a removed artwork must not linger in a shared computer's cache.
            "Cache-Control": NO_STORE,
            "X-Content-Type-Options": "nosniff",
            "Content-Disposition": "inline",
        },
    )


def export_download(request: Request) -> Response:
    """Stream a prepared personal archive to its owner, once."""
    studio = _studio()
    user = studio.accounts.session_user(request.cookies.get(COOKIE))
    path = studio.exports.claim_download(user, request.path_params["code"])
    if path is None or not path.exists():
        return Response(
            "This download link has expired. Please prepare a new one.",
            status_code=404,
            headers={"Cache-Control": NO_STORE},
        )
    return FileResponse(
        path,
        media_type="application/zip",
        filename="kindred-canvas-my-data.zip",
        headers={"Cache-Control": NO_STORE},
        background=BackgroundTask(path.unlink, missing_ok=True),
    )


async def housekeeping(studio, interval: float = 60.0) -> None:
    """Sweep expired download archives off the disk every ``interval`` seconds, forever.

    The studio's hourly sweep of every other leftover also runs after commits; asking here
    too keeps it going while nobody writes.
    """
    while True:
        try:
            await asyncio.to_thread(studio.exports.sweep)
            if studio.sweeper is not None:
                await asyncio.to_thread(studio.sweeper.sweep_if_due)
        except Exception:
            log.exception("sweeping expired downloads failed; it will be tried again")
        await asyncio.sleep(interval)


routes = [
    Route("/export/{code}", export_download, methods=["GET"]),
    Route("/session/begin", begin_session, methods=["POST"]),
    Route("/session/end", end_session, methods=["POST"]),
    Route("/art/{artwork_id}/{variant}", artwork_image, methods=["GET"]),
]
