"""The web chat page: ``GET /`` and its static files under ``/static/``.

The page is plain HTML, CSS and ES modules shipped in ``api/static/`` (no build step, nothing
from a CDN). It holds no data of its own: every question, citation and document goes through
the ``/v1/`` API, so the API key, rate limit and body limit rules apply to the page's calls as
to any other client's; the page itself and its files load without a key.

Every response carries a strict Content-Security-Policy: scripts and styles only from this
origin (no inline code), requests only to this origin, no frames, plugins or form posts.
"""

from __future__ import annotations

import html
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import Response

from api.errors import ApiError
from index.readers import SUPPORTED_SUFFIXES

STATIC_DIR = Path(__file__).resolve().parent / "static"

#: the files served under /static/ and their media types (nothing else is served)
STATIC_TYPES: dict[str, str] = {
    "app.css": "text/css; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "api.js": "text/javascript; charset=utf-8",
    "render.js": "text/javascript; charset=utf-8",
    "i18n.js": "text/javascript; charset=utf-8",
    "icon.svg": "image/svg+xml",
}

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}


@lru_cache(maxsize=None)
def _static_bytes(name: str) -> bytes:
    return (STATIC_DIR / name).read_bytes()


@lru_cache(maxsize=1)
def page_html() -> bytes:
    """index.html with the upload picker's accepted suffixes (and their list) filled in."""
    text = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    accept = html.escape(",".join(SUPPORTED_SUFFIXES), quote=True)
    formats = html.escape(", ".join(SUPPORTED_SUFFIXES), quote=True)
    return text.replace("{{ACCEPT}}", accept).replace("{{FORMATS}}", formats).encode("utf-8")


def build_router() -> APIRouter:
    """``GET /`` (the page; ``/?q=QUESTION`` asks on load) and ``GET /static/{name}``."""
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    async def page() -> Response:
        return Response(page_html(), media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS)

    @router.get("/static/{name}")
    async def static(name: str) -> Response:
        media_type = STATIC_TYPES.get(name)
        if media_type is None:
            raise ApiError(404, f"no such file: /static/{name}")
        return Response(_static_bytes(name), media_type=media_type, headers=SECURITY_HEADERS)

    return router
