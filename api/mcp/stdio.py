"""``sanad mcp``: the MCP server over stdin/stdout, for a desktop or IDE assistant that starts it.

The process loads the model and index in the background as soon as the client connects; a
tool called before they are loaded waits for them (``api.mcp.tools.READY_WAIT_S``). Logs go to
stderr: stdout carries the protocol only (the SDK points fd 1 at stderr while it serves). The
documents are read only: the model is not loaded a second time for uploads.
"""

from __future__ import annotations

import logging
import sys
from contextlib import asynccontextmanager
from typing import AsyncIterator

import anyio
from mcp.server.mcpserver import Context, MCPServer

from api.mcp.server import build_server
from api.mcp.tools import McpTools
from api.service.asking import ask_service_for
from api.service.metrics import Metrics
from api.service.service import Service
from settings import Settings

#: the owner of what a stdio client starts (one local user)
STDIO_OWNER = "mcp-stdio"


def stdio_owner(ctx: Context) -> str:
    return STDIO_OWNER


def run_stdio(settings: Settings, *, version: str = "") -> int:
    """Serve MCP on stdin/stdout until the client closes them."""
    if not logging.getLogger().handlers:
        logging.basicConfig(stream=sys.stderr, level=logging.WARNING,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = settings.model_copy(update={"upload_embedder": "shared"})  # no second model: nothing is uploaded
    service = Service(settings, metrics=Metrics())
    asking = ask_service_for(service)

    @asynccontextmanager
    async def lifespan(_: MCPServer) -> AsyncIterator[dict]:
        service.start_loading()  # once stdout is the protocol's (nothing the loader prints reaches it)
        yield {}

    server = build_server(McpTools(service, asking), owner_of=stdio_owner, version=version, lifespan=lifespan)
    try:
        anyio.run(server.run_stdio_async)
    finally:
        service.close()
        asking.close()
    return 0


__all__ = ["STDIO_OWNER", "run_stdio"]
