"""Conversations: follow-up questions made standalone, and a bounded in-memory history.

The rewrite is deliberately simple and deterministic (no model): a question is a
*follow-up* when it starts with a continuation word ("and ...", "what about ...",
"و...", "ماذا عن ..."), refers back with an English pronoun ("he", "they"), or is very
short ("when?", "and Russia?"). Only then, and only when the conversation has history, is
the previous turn's standalone question put in front of it:

    "Who chaired the NATO-Russia Council meeting?" + "and who represented Russia?"
    -> "Who chaired the NATO-Russia Council meeting? and who represented Russia?"

Retrieval embeds that whole string, so the earlier topic steers the search while the new
words pick the paragraph. Everything else is left exactly as asked.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Sequence


#: a question with at most this many words is treated as a follow-up (when there is history)
SHORT_QUESTION_WORDS = 3

_EN_LEADS = ("and", "also", "but", "then", "so", "plus")
_EN_PHRASES = ("what about", "how about", "what else", "who else", "anything else", "and what")
_EN_PRONOUNS = frozenset({"he", "she", "him", "her", "his", "hers", "they", "them", "their", "theirs"})

_AR_QUESTION_WORDS = frozenset({"من", "ما", "ماذا", "متى", "أين", "اين", "كيف", "هل", "لماذا", "كم", "أي", "اي"})
_AR_LEADS = frozenset({"و", "ثم", "أيضا", "أيضاً", "ايضا", "كذلك", "لكن", "ولكن", "وأيضا", "وأيضاً", "وكذلك"})
_AR_PHRASES = ("ماذا عن", "ماذا بشأن")

_WORD_RE = re.compile(r"\w+", re.UNICODE)
_AR_DIACRITICS_RE = re.compile("[\u064b-\u0652\u0640]")


def _words(text: str) -> list[str]:
    return [w.casefold() for w in _WORD_RE.findall(_AR_DIACRITICS_RE.sub("", text))]


def is_follow_up(question: str) -> bool:
    """True when ``question`` reads as a continuation of an earlier one (see module doc)."""
    words = _words(question)
    if not words:
        return False
    if len(words) <= SHORT_QUESTION_WORDS:
        return True
    head = " ".join(words[:3])
    first = words[0]
    if first in _EN_LEADS or any(head == p or head.startswith(p + " ") for p in _EN_PHRASES):
        return True
    if first in _AR_LEADS or any(head == p or head.startswith(p + " ") for p in _AR_PHRASES):
        return True
    # "ومن", "وماذا", "وهل", ...: the conjunction و written onto a question word
    if first.startswith("و") and first[1:] in _AR_QUESTION_WORDS:
        return True
    # English pronouns point back ("what did he say?"); Arabic ones are attached to the verb
    # ("ماذا قال؟", short anyway) and a free هو/هي is usually a copula ("من هو ...؟")
    return any(w in _EN_PRONOUNS for w in words)


def standalone_question(question: str, history: Sequence[str], *, max_chars: int = 1000) -> str:
    """The question to retrieve with: ``question`` itself, or, for a follow-up in a
    conversation with ``history`` (earlier standalone questions, oldest first), the previous
    standalone question followed by this one. Never longer than ``max_chars`` (the oldest
    words of the context are dropped first)."""
    question = question.strip()
    if not history or not is_follow_up(question):
        return question
    context = " ".join(history[-1].split())
    if not context:
        return question
    combined = f"{context} {question}"
    if len(combined) <= max_chars:
        return combined
    room = max_chars - len(question) - 1
    if room <= 0:
        return question
    tail = context[len(context) - room:]
    if " " in tail:
        tail = tail.split(" ", 1)[1]  # start on a word boundary
    return f"{tail} {question}".strip()


def resolve_questions(questions: Sequence[str], *, max_chars: int = 1000) -> list[str]:
    """Standalone form of each question of a conversation, in order (OpenAI-style history)."""
    out: list[str] = []
    for q in questions:
        out.append(standalone_question(q, out, max_chars=max_chars))
    return out


# ------------------------------------------------------------------------------- memory


@dataclass(frozen=True)
class Turn:
    question: str      # as asked
    standalone: str    # what was retrieved with
    answer: str


@dataclass(frozen=True)
class Conversation:
    """An open conversation: its id (to return to the caller) and its turns so far."""

    id: str
    history: list[Turn]


#: ``recall(owner, conversation_id)``: the stored turns of a conversation (oldest first), or None
#: when ``owner`` has no such conversation (``api.answer_log.local`` provides it)
Recall = Callable[[str, str], "Sequence[Turn] | None"]


class ConversationStore:
    """Conversations, each owned by the caller that started it: in memory, or in a log.

    A conversation is found by (owner, id): a caller can never read or extend another's,
    whatever id it sends. Ids given to callers are issued here (unguessable); an unknown id
    starts a new conversation with a new id. The last ``max_turns`` turns each. Thread-safe.

    With ``recall`` (the answer log, where every turn is written), the log is the truth: a
    conversation's turns are read from it on every ``open``, so they survive a restart, a
    replica sharing the log sees the turns another added, and a deleted conversation is gone;
    nothing is held in memory. Without it, conversations live in this process's memory (LRU
    over ``max_conversations``): behind a load balancer, pin a conversation to one replica,
    or use ``/v1/chat/completions`` where the client sends the history.
    """

    def __init__(self, *, max_conversations: int, max_turns: int, recall: Recall | None = None) -> None:
        self.max_conversations = max_conversations
        self.max_turns = max_turns
        self.recall = recall
        self._data: OrderedDict[tuple[str, str], list[Turn]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def new_id() -> str:
        return secrets.token_urlsafe(18)

    def open(self, conversation_id: str | None, *, owner: str, named: bool = False) -> Conversation:
        """The conversation ``conversation_id`` of ``owner``, or a new one.

        Unless ``named``, an id this owner does not have gets a new, server-issued id. With
        ``named`` (a Slack thread, whose id is derived from the thread itself), the id is used
        as given, within the owner's own namespace."""
        if self.recall is not None:
            stored = self.recall(owner, conversation_id) if conversation_id is not None else None
            if stored:
                return Conversation(str(conversation_id), list(stored)[-self.max_turns:])
            return Conversation(conversation_id if conversation_id is not None and named else self.new_id(), [])
        with self._lock:
            if conversation_id is not None:
                key = (owner, conversation_id)
                turns = self._data.get(key)
                if turns is not None:
                    self._data.move_to_end(key)
                    return Conversation(conversation_id, list(turns))
                if named:
                    return Conversation(conversation_id, [])
            return Conversation(self.new_id(), [])

    def append(self, conversation_id: str, turn: Turn, *, owner: str) -> None:
        """Keep ``turn`` in memory (with ``recall``: nothing to do, the log keeps it)."""
        if self.recall is not None:
            return
        with self._lock:
            key = (owner, conversation_id)
            turns = self._data.setdefault(key, [])
            turns.append(turn)
            del turns[:-self.max_turns]
            self._data.move_to_end(key)
            while len(self._data) > self.max_conversations:
                self._data.popitem(last=False)

    def forget(self, conversation_id: str, *, owner: str) -> bool:
        """Drop ``owner``'s conversation from memory; True when it was there."""
        with self._lock:
            return self._data.pop((owner, conversation_id), None) is not None

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)


__all__ = [
    "Conversation", "ConversationStore", "Recall", "Turn", "is_follow_up", "resolve_questions",
    "standalone_question",
]
