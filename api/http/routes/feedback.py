"""``POST /v1/feedback``: a helpful / not helpful vote on an answer, kept with it in the answer log."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from api.http.deps import GrantDep, HubDep, OwnerDep
from api.http.errors import ERROR_SCHEMA
from api.schemas import FeedbackOut, FeedbackRequest

_ERR = {"description": "error", "content": {"application/json": {"schema": ERROR_SCHEMA}}}

router = APIRouter(tags=["answers"])


@router.post("/v1/feedback", status_code=201, response_model=FeedbackOut,
             responses={400: _ERR, 401: _ERR, 404: _ERR, 409: _ERR, 413: _ERR, 422: _ERR, 429: _ERR})
async def feedback(request: FeedbackRequest, hub: HubDep, grant: GrantDep, owner: OwnerDep) -> FeedbackOut:
    """Vote on an answer this caller got (its `answer_id`): `helpful` or `not_helpful`, with an
    optional comment. One vote per caller (API key) per answer: a second vote is refused with
    409 `already_voted` and the first one stands. 404 for an answer id this caller did not get
    (or one past the log's retention), and `answer_log_off` when the server keeps no answers.
    Votes are counted in `sanad_feedback_total` and exported by `sanad feedback export`."""
    await run_in_threadpool(hub.feedback, grant, request.answer_id, request.value, owner=owner,
                            comment=request.comment.strip())
    return FeedbackOut(answer_id=request.answer_id, value=request.value)
