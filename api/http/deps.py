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

from api.http.security import bearer_token
from api.service.asking import AskService, caller_owner
from api.service.metrics import Metrics
from api.service.service import Service
from settings import Settings


async def get_service(request: Request) -> Service:
    return request.app.state.service


async def get_ask_service(request: Request) -> AskService:
    return request.app.state.ask_service


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics


async def get_owner(request: Request) -> str:
    """The caller, as the owner of the conversations it starts (its API key, hashed)."""
    settings: Settings = request.app.state.settings
    return caller_owner(bearer_token(request.scope), keys_required=bool(settings.api_keys))


ServiceDep = Annotated[Service, Depends(get_service)]
AskServiceDep = Annotated[AskService, Depends(get_ask_service)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
OwnerDep = Annotated[str, Depends(get_owner)]
