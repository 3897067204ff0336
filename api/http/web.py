"""The web chat page (``GET /``), the API's Swagger UI (``GET /docs``) and their static files
under ``/static/``.

The page is plain HTML, CSS and ES modules shipped in ``api/http/static/`` (no build step, nothing
from a CDN). It holds no data of its own: every question, citation and document goes through
the ``/v1/`` API, so the API key, rate limit and body limit rules apply to the page's calls as
to any other client's; the page itself and its files load without a key.

Every response carries a strict Content-Security-Policy: scripts and styles only from this
origin (no inline code), requests only to this origin, no frames, plugins or form posts.

``/docs`` is Swagger UI over ``/openapi.json`` under the same policy (images may also be
``data:`` URLs there: Swagger UI's stylesheet draws its icons so): its bundle and styles are
the ones the ``fastapi-offline`` package ships (served from this server, never a CDN), and
it is started by ``static/docs.js`` rather than FastAPI's inline script. FastAPI's own
``/docs`` and ``/redoc`` (CDN scripts, inline code) are turned off in ``api.http.app``.
"""

from __future__ import annotations

import html
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import Response

from api.http.errors import ApiError
from index.readers import SUPPORTED_SUFFIXES

STATIC_DIR = Path(__file__).resolve().parent / "static"
#: Swagger UI's bundle and styles, as the fastapi-offline package ships them
SWAGGER_DIR = Path(str(files("fastapi_offline") / "static"))

_JS = "text/javascript; charset=utf-8"
_CSS = "text/css; charset=utf-8"

#: the page's own files served under /static/ and their media types (in ``STATIC_DIR``)
STATIC_TYPES: dict[str, str] = {
    "app.css": _CSS,
    "app.js": _JS,
    "api.js": _JS,
    "render.js": _JS,
    "i18n.js": _JS,
    "icon.svg": "image/svg+xml",
    "docs.js": _JS,
}
#: Swagger UI's files served under /static/ (in ``SWAGGER_DIR``); nothing else is served
SWAGGER_TYPES: dict[str, str] = {"swagger-ui-bundle.js": _JS, "swagger-ui.css": _CSS}


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

#: ``/docs``: the same policy, but Swagger UI's stylesheet draws its icons as ``data:`` SVG images
DOCS_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY.replace("img-src 'self';", "img-src 'self' data:;")
DOCS_HEADERS: dict[str, str] = {**SECURITY_HEADERS, "Content-Security-Policy": DOCS_CONTENT_SECURITY_POLICY}


@lru_cache(maxsize=None)
def _static_bytes(name: str) -> bytes:
    return ((STATIC_DIR if name in STATIC_TYPES else SWAGGER_DIR) / name).read_bytes()


@lru_cache(maxsize=1)
def page_html() -> bytes:
    """index.html with the upload picker's accepted suffixes (and their list) filled in."""
    text = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    accept = html.escape(",".join(SUPPORTED_SUFFIXES), quote=True)
    formats = html.escape(", ".join(SUPPORTED_SUFFIXES), quote=True)
    return text.replace("{{ACCEPT}}", accept).replace("{{FORMATS}}", formats).encode("utf-8")


def build_router() -> APIRouter:
    """``GET /`` (the page; ``/?q=QUESTION`` asks on load), ``GET /docs`` (Swagger UI) and
    ``GET /static/{name}``."""
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    async def page() -> Response:
        return Response(page_html(), media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS)

    @router.get("/docs")
    async def docs() -> Response:
        return Response((STATIC_DIR / "docs.html").read_bytes(), media_type="text/html; charset=utf-8",
                        headers=DOCS_HEADERS)

    @router.get("/static/{name}")
    async def static(name: str) -> Response:
        media_type = STATIC_TYPES.get(name) or SWAGGER_TYPES.get(name)
        if media_type is None:
            raise ApiError(404, f"no such file: /static/{name}")
        return Response(_static_bytes(name), media_type=media_type, headers=SECURITY_HEADERS)

    return router
