"""Answers to repeated questions, kept until the index changes.

The key is everything an extractive answer depends on for one answerer: the (standalone,
stripped) question, the language it is answered in, ``top_k`` and the retrieval filters;
the answerer's settings are fixed for its life. The index version is not in the key: the
answerer clears the cache whenever it sees the catalog change (an indexer's commit, a
server-mode sync) or swaps in a rebuilt lexical index, since either can change an answer.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Hashable

from qa.models import Answer


class AnswerCache:
    """A bounded LRU of answers with hit and miss counts; thread-safe. ``max_entries`` 0 = off."""

    def __init__(self, *, max_entries: int) -> None:
        self.max_entries = max_entries
        self.hits = 0
        self.misses = 0
        self._data: OrderedDict[Hashable, Answer] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Answer | None:
        if self.max_entries <= 0:
            return None
        with self._lock:
            answer = self._data.get(key)
            if answer is None:
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return answer

    def put(self, key: Hashable, answer: Answer) -> None:
        if self.max_entries <= 0:
            return
        with self._lock:
            self._data[key] = answer
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)


__all__ = ["AnswerCache"]
