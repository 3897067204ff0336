"""Private ``/ask`` answers kept until their "Share with channel" button is clicked.

Slack does not send an ephemeral message back with the click, so the answer is kept here
under a random key (the button's value), for as long as the click's ``response_url``
works (30 minutes), at most ``max_items`` of them. A restart forgets them; the button
then says the answer is no longer available.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from typing import Any

#: how long Slack accepts a ``response_url`` (and so how long a share can work)
SHARE_TTL_S = 30 * 60


class ShareStore:
    """A bounded, thread-safe map of random keys to rendered messages (expire after ``ttl_s``)."""

    def __init__(self, *, max_items: int = 5_000, ttl_s: float = SHARE_TTL_S) -> None:
        self.max_items = max_items
        self.ttl_s = ttl_s
        self._items: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, message: dict[str, Any], *, now: float | None = None) -> str:
        """Keep ``message``; returns its key (22 URL-safe characters)."""
        key = secrets.token_urlsafe(16)
        now = time.monotonic() if now is None else now
        with self._lock:
            self._expire(now)
            self._items[key] = (now, message)
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)
        return key

    def get(self, key: str, *, now: float | None = None) -> dict[str, Any] | None:
        """The message kept under ``key``, or None (unknown or expired)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            self._expire(now)
            item = self._items.get(key)
            return item[1] if item else None

    def _expire(self, now: float) -> None:
        while self._items and next(iter(self._items.values()))[0] < now - self.ttl_s:
            self._items.popitem(last=False)


__all__ = ["SHARE_TTL_S", "ShareStore"]
