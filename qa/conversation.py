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
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Sequence

from qa.models import Answer, Language

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


def answer_in_language(answer: Answer, language: Language) -> Answer:
    """``answer`` with its extractive frame in ``language`` (quotes and citations unchanged).

    A rewritten follow-up can be dominated by an earlier question in the other language;
    the reply should still be in the language the user just wrote in."""
    if answer.language == language or answer.answerer != "extractive":
        return answer
    from qa.extractive import ABSTAIN, EMPTY_INDEX, FRAME

    if not answer.answerable:
        old = answer.language
        text = {ABSTAIN[old]: ABSTAIN[language], EMPTY_INDEX[old]: EMPTY_INDEX[language]}.get(
            answer.answer, answer.answer)
        return answer.model_copy(update={"answer": text, "language": language})
    if not answer.citations:
        return answer.model_copy(update={"language": language})
    first, more = FRAME[language]
    parts = [f"{first}{answer.citations[0].quote} [{answer.citations[0].ref}]"]
    parts += [f"{more}{c.quote} [{c.ref}]" for c in answer.citations[1:]]
    return answer.model_copy(update={"answer": "".join(parts), "language": language})


# ------------------------------------------------------------------------------- memory


@dataclass(frozen=True)
class Turn:
    question: str      # as asked
    standalone: str    # what was retrieved with
    answer: str


class ConversationStore:
    """In-memory conversations: LRU over ``max_conversations``, last ``max_turns`` turns each.

    Thread-safe. State is per process: behind a load balancer, pin a conversation to one
    replica, or use ``/v1/chat/completions`` where the client sends the history."""

    def __init__(self, *, max_conversations: int = 1000, max_turns: int = 20) -> None:
        self.max_conversations = max_conversations
        self.max_turns = max_turns
        self._data: OrderedDict[str, list[Turn]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def new_id() -> str:
        return uuid.uuid4().hex

    def history(self, conversation_id: str) -> list[Turn]:
        with self._lock:
            turns = self._data.get(conversation_id)
            if turns is None:
                return []
            self._data.move_to_end(conversation_id)
            return list(turns)

    def append(self, conversation_id: str, turn: Turn) -> None:
        with self._lock:
            turns = self._data.setdefault(conversation_id, [])
            turns.append(turn)
            del turns[:-self.max_turns]
            self._data.move_to_end(conversation_id)
            while len(self._data) > self.max_conversations:
                self._data.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)

    def __contains__(self, conversation_id: object) -> bool:
        with self._lock:
            return conversation_id in self._data


__all__ = [
    "ConversationStore", "Turn", "answer_in_language", "is_follow_up", "resolve_questions",
    "standalone_question",
]
