"""FastAPI dependencies: what a route needs, as ``Annotated[..., Depends(...)]`` types.

``create_app`` puts the app's state on ``app.state``; routes receive it through these, so a
test can build an app with its own parts and nothing is global. They are ``async``: they only
read state, and FastAPI runs a plain ``def`` dependency in its thread pool, a thread hop per
dependency per request (thread-pool hand-offs were the largest item outside the model in a
``py-spy`` profile of the server under load).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.http.security import GRANT_STATE
from api.keys import OPEN, Grant
from api.service.asking import AskService
from api.service.collections import CollectionHub
from api.service.metrics import Metrics
from api.service.service import Service
from index.collections import DEFAULT_COLLECTION
from settings import Settings


async def get_service(request: Request) -> Service:
    return request.app.state.service


async def get_ask_service(request: Request) -> AskService:
    return request.app.state.ask_service


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics


def grant_of(request: Request) -> Grant:
    """The caller's grant, as ``api.http.security.GuardMiddleware`` found it (its key's role and
    collections; :data:`api.keys.OPEN` on a server without keys)."""
    return getattr(request.state, GRANT_STATE, None) or OPEN


async def get_grant(request: Request) -> Grant:
    return grant_of(request)


async def get_hub(request: Request) -> CollectionHub:
    return request.app.state.hub


async def get_owner(request: Request) -> str:
    """The caller, as the owner of the conversations it starts (its API key, hashed)."""
    return grant_of(request).owner


async def get_document_service(request: Request) -> Service:
    """The documents of the default collection (``/v1/documents``), for a key that may see them:
    reads need ``read``, uploads and deletes ``write`` (404 / 403 otherwise)."""
    return document_service_for(request, DEFAULT_COLLECTION)


def document_service_for(request: Request, collection: str) -> Service:
    hub: CollectionHub = request.app.state.hub
    role = "read" if request.method in ("GET", "HEAD") else "write"
    return hub.require(grant_of(request), collection, role)


ServiceDep = Annotated[Service, Depends(get_service)]
AskServiceDep = Annotated[AskService, Depends(get_ask_service)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
OwnerDep = Annotated[str, Depends(get_owner)]
GrantDep = Annotated[Grant, Depends(get_grant)]
HubDep = Annotated[CollectionHub, Depends(get_hub)]
DocumentServiceDep = Annotated[Service, Depends(get_document_service)]
