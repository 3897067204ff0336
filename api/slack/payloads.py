"""What a Slack request must look like before bolt sees it: typed pydantic models.

bolt reads a request's body with plain ``dict.get`` chains (its context extraction, its
``IgnoringSelfEvents`` middleware, its listener matchers), as do the bot's listeners: a
signed body of another shape (``"event": null``, ``"actions": []``, an action without
``action_id``, a ``team_id`` that is a list) failed somewhere inside them, as a 500 that
told Slack to retry. :func:`read_payload` parses the body the way bolt will (bolt's
``parse_body``: JSON, a form's JSON ``payload`` field, or a plain form) and validates it:

- every payload: the fields bolt reads to build its context (``team``, ``enterprise``,
  ``user``, ``channel``: a string or an object whose ``id`` is a string; ``team_id``,
  ``user_id``, ...: strings; ``authorizations``: a list of objects; ``event``,
  ``message``, ``view``, ...: objects of the same kind);
- ``event_callback``: an ``event`` object with a ``type``; a message or mention (what the bot
  answers) also with its ``channel`` and ``ts`` strings and string ``user``, ``text``,
  ``thread_ts``, ``subtype``;
- ``block_actions``: at least one action, each with a string ``action_id``; ``team``,
  ``user``, ``channel``, ``container``, ``message``: objects (the feedback and share
  listeners read them as such);
- ``url_verification``: a string ``challenge``;
- a slash command (a plain form): string fields, as a form always has.

Anything else is :class:`SlackPayloadError`, which the route answers with ``400`` (never a
5xx, so Slack does not retry a request that can never succeed). Field values are not
limited beyond their types: unknown fields and event types pass (bolt answers 404 when no
listener wants them). The nesting depth was already bounded by ``api.http.json_limits``.
"""

from __future__ import annotations

import json
from typing import Any, Literal, Union
from urllib.parse import parse_qsl

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, ValidationError

from qa.text_rules import first_unencodable
from settings.errors import SanadError

Str = StrictStr | None


class SlackPayloadError(SanadError, ValueError):
    """A signed Slack body that is not what Slack sends: ``code`` ``invalid_json`` or
    ``invalid_body`` (HTTP 400), ``invalid_request`` (422) for text that is not Unicode."""

    code = "invalid_body"


class _Open(BaseModel):
    """Slack adds fields over time: unknown ones are kept and not checked."""

    model_config = ConfigDict(extra="allow")


class Ref(_Open):
    """An object Slack names by id (a team, user, channel or enterprise)."""

    id: Str = None
    team_id: Str = None
    enterprise_id: Str = None


IdOrRef = Union[StrictStr, Ref, None]


class Authorization(_Open):
    enterprise_id: Str = None
    team_id: Str = None
    user_id: Str = None
    is_bot: StrictBool | None = None
    is_enterprise_install: StrictBool | None = None


class Scope(_Open):
    """The fields bolt reads from a payload, and from the objects it looks into the same way."""

    type: Str = None
    team: IdOrRef = None
    enterprise: IdOrRef = None
    user: IdOrRef = None
    channel: IdOrRef = None
    team_id: Str = None
    enterprise_id: Str = None
    user_id: Str = None
    channel_id: Str = None
    user_team: Str = None
    context_team_id: Str = None
    context_enterprise_id: Str = None
    app_installed_team_id: Str = None
    thread_ts: Str = None
    function_execution_id: Str = None
    bot_access_token: Str = None
    is_enterprise_install: StrictBool | StrictStr | None = None
    is_ext_shared_channel: StrictBool | None = None
    authorizations: list[Authorization] | None = None
    event: Scope | None = None
    message: Scope | None = None
    previous_message: Scope | None = None
    item: Scope | None = None
    assistant_thread: Scope | None = None
    view: Scope | None = None
    function_data: Scope | None = None


class Event(Scope):
    type: StrictStr


class MessageEvent(Event):
    """A mention or a message: what the bot answers (``api.slack.inbound``)."""

    type: Literal["app_mention", "message"]
    channel: StrictStr
    ts: StrictStr
    user: Str = None
    text: Str = None
    subtype: Str = None
    channel_type: Str = None
    bot_id: Str = None
    hidden: StrictBool | None = None


class EventCallback(Scope):
    type: Literal["event_callback"]
    event: Event
    event_id: Str = None


class UrlVerification(Scope):
    type: Literal["url_verification"]
    challenge: StrictStr


class Action(_Open):
    action_id: StrictStr
    block_id: Str = None
    value: Str = None
    type: Str = None


class Container(_Open):
    type: Str = None
    message_ts: Str = None
    channel_id: Str = None
    thread_ts: Str = None


class BlockActions(Scope):
    type: Literal["block_actions"]
    actions: list[Action] = Field(min_length=1)
    team: Ref | None = None
    user: Ref | None = None
    channel: Ref | None = None
    container: Container | None = None
    response_url: Str = None
    trigger_id: Str = None


#: payload ``type`` -> the model its payload must fit (others: :class:`Scope` only)
MODELS: dict[str, type[Scope]] = {
    "event_callback": EventCallback,
    "url_verification": UrlVerification,
    "block_actions": BlockActions,
}


def parse_body(body: bytes, content_type: str | None) -> dict[str, Any]:
    """The body as bolt will read it (its ``parse_body``), or :class:`SlackPayloadError`."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise SlackPayloadError("the Slack request body is not UTF-8", code="invalid_request") from None
    if not text:
        return {}
    mime = (content_type or "").split(";")[0].strip().lower()
    if mime == "application/json" or text.startswith("{"):
        raw: str | None = text
    elif "payload" in text:
        raw = dict(parse_qsl(text, keep_blank_values=True)).get("payload")
        if raw is None:
            return {}
    else:
        return dict(parse_qsl(text, keep_blank_values=True))  # a slash command: strings only
    try:
        value = json.loads(raw)
    except ValueError:
        raise SlackPayloadError("the Slack request's JSON is not valid", code="invalid_json") from None
    if not isinstance(value, dict):
        raise SlackPayloadError("the Slack request's JSON is not an object")
    return value


def read_payload(body: bytes, content_type: str | None) -> Scope:
    """The validated payload of a signed Slack request; :class:`SlackPayloadError` when it is
    not what Slack sends (see the module docstring)."""
    value = parse_body(body, content_type)
    return validate_payload(value)


def validate_payload(value: dict[str, Any]) -> Scope:
    """``value`` (a parsed payload, e.g. a Socket Mode envelope's) checked against its model."""
    if first_unencodable(value) is not None:
        raise SlackPayloadError("the Slack request contains text that is not valid Unicode",
                                code="invalid_request")
    kind = value.get("type")
    model = MODELS.get(kind, Scope) if isinstance(kind, str) else Scope
    try:
        payload = model.model_validate(value)
        if isinstance(payload, EventCallback) and payload.event.type in ("app_mention", "message"):
            MessageEvent.model_validate(value["event"])
    except ValidationError as exc:
        raise SlackPayloadError(f"the Slack payload does not have the shape Slack sends: {_first(exc)}") from None
    return payload


def _first(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(x) for x in err.get("loc", ())) or "body"
    return f"{where}: {err.get('msg', 'invalid')}"


__all__ = ["BlockActions", "EventCallback", "MessageEvent", "Scope", "SlackPayloadError", "UrlVerification",
           "parse_body", "read_payload", "validate_payload"]
