"""``sanad mcp``: the MCP server over stdin/stdout, for a desktop or IDE assistant that starts it.

The process loads the model and index in the background as soon as the client connects; a
tool called before they are loaded waits for them (``api.mcp.tools.READY_WAIT_S``). Logs go to
stderr: stdout carries the protocol only (the SDK points fd 1 at stderr while it serves). The
documents are read only: the model is not loaded a second time for uploads.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
from contextlib import asynccontextmanager
from typing import AsyncIterator, Mapping

import anyio
from mcp.server.mcpserver import MCPServer

from api.keys import OPEN, Grant
from api.mcp.server import build_server
from api.mcp.tools import McpTools
from api.service.collections import CollectionHub
from api.service.metrics import Metrics
from api.service.service import Service
from settings import Settings

#: the local user of a stdio client: every collection (as the command line), its own owner
STDIO_GRANT = dataclasses.replace(OPEN, owner="mcp-stdio")


def stdio_grant(headers: Mapping[str, str] | None) -> Grant:
    return STDIO_GRANT


def run_stdio(settings: Settings, *, version: str = "") -> int:
    """Serve MCP on stdin/stdout until the client closes them."""
    if not logging.getLogger().handlers:
        logging.basicConfig(stream=sys.stderr, level=logging.WARNING,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = settings.model_copy(update={"upload_embedder": "shared"})  # no second model: nothing is uploaded
    metrics = Metrics()
    service = Service(settings, metrics=metrics)
    hub = CollectionHub(settings, default=service, metrics=metrics)

    @asynccontextmanager
    async def lifespan(_: MCPServer) -> AsyncIterator[dict]:
        service.start_loading()  # once stdout is the protocol's (nothing the loader prints reaches it)
        yield {}

    server = build_server(McpTools(hub), grant_of=stdio_grant, version=version, lifespan=lifespan)
    try:
        anyio.run(server.run_stdio_async)
    finally:
        hub.close()
        service.close()
    return 0


__all__ = ["STDIO_GRANT", "run_stdio"]
