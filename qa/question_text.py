"""Questions as people type them, made into what retrieval searches with.

Native Arabic questions arrive with a list dash in front (``- من هو ...``), a stray article
after the question mark (``... ؟ ال``), question words run together (``ماهو``, ``ماهي``,
``مالذي``), and dialect question words (``شو``, ``وين``, ``ليش``). :func:`retrieval_text`
tidies the text that is encoded and searched (the question shown and answered stays as
asked); :func:`lexical_text` also drops question words, which say what KIND of answer is
wanted but never occur in the paragraph that gives it, so BM25 should not look for them.
Alef, hamza, ta marbuta and alef maqsura variants need nothing here: the BM25 analyzer
normalises them on both sides (``index.arabic.normalize_arabic``).
"""

from __future__ import annotations

import re

from index.arabic import normalize_arabic, tokenize

#: a list marker or dash before the question, and a stray "ال" after its question mark
_LEADING_MARK_RE = re.compile(r"^\s*(?:[-–—•*·]+|\d+[.)-])\s*")
_TRAILING_STRAY_RE = re.compile(r"([؟?])\s*(?:ال|ال\.)?\s*$")
#: question words typed without their space: ماهو -> ما هو, مالذي -> ما الذي
_RUN_TOGETHER_RE = re.compile(r"(?<![\w])ما(هو|هي|هى|الذي|اللذي|الذى|التي|اسم|معنى|معني)(?![\w])")

#: question words (normalised) that BM25 does not search for; the analyzer's stopwords
#: already hold the classical ones (ما ماذا متى أين كيف لماذا هل كم من)
QUESTION_WORDS = frozenset(normalize_arabic(w) for w in """
    ماهو ماهي ماهى مالذي ماذا بماذا لماذا لمادا لمذا متى متي امتى إمتى أين اين وين فين كيف
    كم بكم لكم كام قديش من ممن لمن مين منو شو ايش إيش شنو ليش ليه إيه ايه اي أي بأي بأى لأي
    هل أذكر اذكر اعط أعط أعطي اعطي
""".split())


def retrieval_text(question: str) -> str:
    """``question`` without list marks and strays, run-together question words split."""
    text = _LEADING_MARK_RE.sub("", question)
    text = _TRAILING_STRAY_RE.sub(r"\1", text)
    text = _RUN_TOGETHER_RE.sub(lambda m: "ما " + m.group(1), text)
    return text.strip() or question.strip()


def lexical_text(question: str) -> str:
    """:func:`retrieval_text` without question words: what BM25 searches for."""
    tokens = [t for t in tokenize(retrieval_text(question)) if t not in QUESTION_WORDS]
    return " ".join(tokens)
