"""``/v1/collections``: list the collections a key may see, create and delete them (admin).

A collection the caller's key cannot see is answered exactly as one that does not exist
(404), so its existence is never revealed; an action the key's role lacks is 403."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool

from api.http.deps import GrantDep, HubDep
from api.http.errors import ERROR_SCHEMA
from api.keys import Grant
from api.schemas import CollectionIn, CollectionList, CollectionOut
from api.service.errors import Forbidden
from index.collections import DEFAULT_COLLECTION

_ERR = {"description": "error", "content": {"application/json": {"schema": ERROR_SCHEMA}}}

router = APIRouter(prefix="/v1/collections", tags=["collections"])


def _require_admin(grant: Grant) -> None:
    if not (grant.can("admin") and grant.all_collections):
        raise Forbidden("creating and deleting collections needs an admin key over every collection ('*')")


@router.get("", response_model=CollectionList, responses={401: _ERR, 403: _ERR})
async def list_collections(hub: HubDep, grant: GrantDep) -> CollectionList:
    """The collections this key may read (the default one is `default`)."""
    names = await run_in_threadpool(hub.visible, grant)
    out = [CollectionOut(name=n, default=n == DEFAULT_COLLECTION,
                         created_at=hub.registry.info(n).get("created_at")) for n in names]
    return CollectionList(collections=out, count=len(out))


@router.post("", status_code=201, response_model=CollectionOut,
             responses={400: _ERR, 401: _ERR, 403: _ERR, 409: _ERR, 413: _ERR})
async def create_collection(body: CollectionIn, hub: HubDep, grant: GrantDep) -> CollectionOut:
    """Create an empty collection (admin); 409 when it exists."""
    _require_admin(grant)
    name = await run_in_threadpool(hub.create, body.name)
    return CollectionOut(name=name, default=False, created_at=hub.registry.info(name).get("created_at"))


@router.get("/{name}", response_model=CollectionOut, responses={400: _ERR, 401: _ERR, 403: _ERR, 404: _ERR})
async def get_collection(name: str, hub: HubDep, grant: GrantDep) -> CollectionOut:
    await run_in_threadpool(hub.require_visible, grant, name)
    return CollectionOut(name=name, default=name == DEFAULT_COLLECTION,
                         created_at=hub.registry.info(name).get("created_at"))


@router.delete("/{name}", status_code=204, response_class=Response, responses={400: _ERR, 401: _ERR, 403: _ERR, 404: _ERR,
                                                                              409: _ERR, 503: _ERR})
async def delete_collection(name: str, hub: HubDep, grant: GrantDep) -> Response:
    """Delete a collection with its documents, vectors and answer log (admin); the default
    collection cannot be deleted (409)."""
    await run_in_threadpool(hub.require_visible, grant, name)
    _require_admin(grant)
    await run_in_threadpool(hub.delete, name)
    return Response(status_code=204)
