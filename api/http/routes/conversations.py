"""``DELETE /v1/conversations/{conversation_id}``: forget a conversation and its answers."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from api.http.deps import GrantDep, HubDep, OwnerDep
from api.http.errors import ERROR_SCHEMA
from api.schemas import ConversationDeleted

_ERR = {"description": "error", "content": {"application/json": {"schema": ERROR_SCHEMA}}}

router = APIRouter(tags=["answers"])


@router.delete("/v1/conversations/{conversation_id}", response_model=ConversationDeleted,
               responses={401: _ERR, 404: _ERR, 429: _ERR})
async def delete_conversation(conversation_id: str, hub: HubDep, grant: GrantDep,
                              owner: OwnerDep) -> ConversationDeleted:
    """Delete a conversation this caller started: its turns in memory and its answers (with
    their feedback) in the answer log; a later `conversation_id` with this id starts a new
    conversation. 404 when this caller has no such conversation (another caller's included)."""
    deleted = await run_in_threadpool(hub.delete_conversation, grant, conversation_id, owner=owner)
    return ConversationDeleted(conversation_id=conversation_id, deleted_answers=deleted)
