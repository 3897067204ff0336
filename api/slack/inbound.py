"""What arrives from Slack: question text, which events to skip, conversation ids, seen-sets."""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from typing import Any, Hashable, Mapping

#: message subtypes that are still a person writing (everything else is skipped:
#: edits ``message_changed``, ``message_deleted``, ``bot_message``, joins, ...)
HUMAN_SUBTYPES = frozenset({"file_share", "thread_broadcast"})

_USER_RE = re.compile(r"<@([UW][A-Z0-9]+)(?:\|([^>]*))?>")
_CHANNEL_RE = re.compile(r"<#([CG][A-Z0-9]+)(?:\|([^>]*))?>")
_SPECIAL_RE = re.compile(r"<![^>]*>")
_LINK_RE = re.compile(r"<([^<>|]+)(?:\|([^<>]*))?>")


def clean_question(text: str, *, bot_user_id: str | None = None) -> str:
    """The question in a Slack message: the bot's own mention removed, other Slack markup
    (``<@U1|ann>``, ``<#C1|general>``, ``<https://x|label>``, ``<!here>``) turned into
    plain text, ``&lt; &gt; &amp;`` unescaped, whitespace collapsed."""

    def user(m: re.Match[str]) -> str:
        if bot_user_id and m.group(1) == bot_user_id:
            return " "
        return f"@{m.group(2) or m.group(1)}"

    text = _USER_RE.sub(user, text)
    text = _CHANNEL_RE.sub(lambda m: f"#{m.group(2) or m.group(1)}", text)
    text = _SPECIAL_RE.sub(" ", text)
    text = _LINK_RE.sub(lambda m: m.group(2) or m.group(1), text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return " ".join(text.split())


def skip_reason(event: Mapping[str, Any], *, bot_user_id: str | None) -> str | None:
    """Why the bot must not answer ``event`` (a message or app_mention), or None."""
    subtype = event.get("subtype")
    if subtype and subtype not in HUMAN_SUBTYPES:
        return f"subtype {subtype}"
    if event.get("bot_id") or event.get("bot_profile"):
        return "posted by a bot"
    user = event.get("user")
    if not user:
        return "no user"
    if bot_user_id and user == bot_user_id:
        return "the bot's own message"
    if event.get("hidden"):
        return "hidden"
    return None


def is_thread_reply(event: Mapping[str, Any]) -> bool:
    """A message inside a thread (not the thread's first message)."""
    thread_ts = event.get("thread_ts")
    return bool(thread_ts) and thread_ts != event.get("ts")


def mentions(text: str, user_id: str | None) -> bool:
    """``text`` mentions ``user_id`` (``<@U123>`` or ``<@U123|name>``)."""
    return bool(user_id) and any(m.group(1) == user_id for m in _USER_RE.finditer(text))


def thread_of(event: Mapping[str, Any]) -> str:
    """The ``thread_ts`` to reply in: the thread of the message, or the message itself."""
    return str(event.get("thread_ts") or event["ts"])


def conversation_id(*, team_id: str | None, channel: str, thread_ts: str) -> str:
    """A Slack thread is one Sanad conversation (follow-ups in it are read together)."""
    return f"slack:{team_id or '-'}:{channel}:{thread_ts}"


class SeenSet:
    """A bounded, thread-safe set of recently seen keys (LRU; entries expire after ``ttl_s``)."""

    def __init__(self, *, max_items: int = 10_000, ttl_s: float | None = None) -> None:
        self.max_items = max_items
        self.ttl_s = ttl_s
        self._seen: OrderedDict[Hashable, float] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, key: Hashable, *, now: float | None = None) -> bool:
        """Record ``key``; True when it was not seen (within the TTL) before."""
        now = time.monotonic() if now is None else now
        with self._lock:
            if self.ttl_s is not None:
                while self._seen and next(iter(self._seen.values())) < now - self.ttl_s:
                    self._seen.popitem(last=False)
            if key in self._seen:
                if self.ttl_s is None:  # LRU; with a TTL the order stays the insertion order
                    self._seen.move_to_end(key)
                return False
            self._seen[key] = now
            while len(self._seen) > self.max_items:
                self._seen.popitem(last=False)
            return True

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._seen

    def __len__(self) -> int:
        with self._lock:
            return len(self._seen)
