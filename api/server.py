"""``sanad serve``: the API under uvicorn (one process; the model loads once at start-up)."""

from __future__ import annotations

import ipaddress
import logging
import os

import uvicorn

from api.app import create_app
from index.config import Settings

log = logging.getLogger("sanad.api")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_server(*, host: str, port: int, settings: Settings, log_level: str = "info",
                 access_log: bool = True, **app_kwargs) -> uvicorn.Server:  # noqa: ANN003
    """A configured ``uvicorn.Server`` for ``create_app(settings)`` (tests run it in a thread)."""
    app = create_app(settings, **app_kwargs)
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=access_log,
                            lifespan="on", proxy_headers=False, timeout_graceful_shutdown=10)
    return uvicorn.Server(config)


def serve(*, host: str, port: int, settings: Settings) -> int:
    """Serve until interrupted; returns the process exit status."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not settings.api_keys and not _is_loopback(host):
        log.warning("serving on %s without API keys: anyone who can reach it can upload and delete "
                    "documents (set SANAD_API_KEYS)", host)
    log.info("Sanad on http://%s:%d (data dir %s); /readyz turns 200 once the model is loaded",
             host, port, settings.data_dir)
    server = build_server(host=host, port=port, settings=settings)
    try:
        server.run()
    except SystemExit as exc:  # uvicorn exits (3) when it cannot bind or start; it logged why
        return 1 if exc.code else 0
    except KeyboardInterrupt:
        return 130
    return 0 if server.started else 1
