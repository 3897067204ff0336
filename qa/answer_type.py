"""Answer-type checks: does a quote state what the question asks for?

One check so far, for Arabic count questions ("كم عدد الدبابات ...؟", "ما عدد ..."): when a
quote names the counted thing but gives no number near it ("... 100 ألف جندي ... بالإضافة
لدبابات ومدفعية"), it does not answer "how many tanks". Similarity cannot see this: such a
quote is close to the question in every other word.

The check only ever says "does not answer" when the counted noun is in the quote and no number
is within :data:`COUNT_WINDOW` words of it. When the noun is not found at all (a broken plural,
a paraphrase), it says nothing, so the other rules decide. On the XQuAD Arabic questions whose
gold sentence names the counted noun, that sentence passes the check 38 times in 41 (window 5;
docs/evals.md).
"""

from __future__ import annotations

import re
from typing import Iterable

from index.arabic import Analyzer, normalize_arabic, tokenize

#: a number must be within this many words of the counted noun
COUNT_WINDOW = 5

#: normalised (index.arabic.normalize_arabic) Arabic number words
NUMBER_WORDS = frozenset("""
واحد واحده احد احدي اثنان اثنين اثنتان اثنتين ثلاث ثلاثه اربع اربعه خمس خمسه ست سته سبع سبعه
ثمان ثماني ثمانيه تسع تسعه عشر عشره عشرون عشرين ثلاثون ثلاثين اربعون اربعين خمسون خمسين ستون
ستين سبعون سبعين ثمانون ثمانين تسعون تسعين مائة مئة مئات مائتان مئتان مائتين مئتين ألف ألفا آلاف
ألفين ألفان مليون ملايين مليونا مليار مليارات بضع بضعة عدة عشرات نصف ربع ثلث
""".split())
NUMBER_WORDS = frozenset(normalize_arabic(w) for w in NUMBER_WORDS)
#: endings of a dual noun ("جامعتان": two universities), which states a count by itself
_DUAL_ENDINGS = ("تان", "تين", "ان")

_DIGITS = re.compile(r"\d")
#: clitics that may precede a number word: و ف ب ل ك, then ال
_CLITICS = ("و", "ف", "ب", "ل", "ك")
#: "how many": كم عدد X / ما عدد X / كم X (X right after)
_COUNT_LEADS = {"كم", "عدد"}


_STEMMER = Analyzer(stopwords=False)


def _stem(token: str) -> str:
    """The lexical index's stem of one normalised token."""
    stems = _STEMMER.analyze(token)
    return stems[0] if stems else token


def is_number(token: str) -> bool:
    if _DIGITS.search(token):
        return True
    forms = {token}
    if token[:1] in _CLITICS and len(token) > 3:
        forms.add(token[1:])
    forms |= {f[2:] for f in list(forms) if f.startswith("ال") and len(f) > 4}
    return any(f in NUMBER_WORDS for f in forms)


def count_focus(question: str) -> str | None:
    """The counted noun of an Arabic count question ("كم عدد الدبابات" -> "الدبابات"), else None.

    Only the explicit forms "كم عدد X" and "ما عدد X" are recognised, plus "كم X" when X is
    not a verb-like word (the question's next token after كم is taken only when it starts with
    ال, so "كم استمر" (how long did it last) is not a count question)."""
    tokens = tokenize(question)
    for i, token in enumerate(tokens):
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if nxt is None:
            break
        if token in ("كم", "ما") and nxt == "عدد" and i + 2 < len(tokens):
            return tokens[i + 2]
        if token == "كم" and nxt.startswith("ال"):
            return nxt
    return None


def _mentions(token: str, stem: str) -> bool:
    return len(stem) >= 3 and stem in _stem(token)


def states_count(text: str, noun: str) -> bool | None:
    """True when ``text`` has a number within :data:`COUNT_WINDOW` words of ``noun``; False
    when it names ``noun`` only without one; None when ``noun`` is not in it."""
    stem = _stem(noun)
    tokens = tokenize(text)
    found = False
    for i, token in enumerate(tokens):
        if not _mentions(token, stem):
            continue
        found = True
        if token.endswith(_DUAL_ENDINGS) and len(token) > len(stem) + 2:
            return True
        window = tokens[max(0, i - COUNT_WINDOW): i + COUNT_WINDOW + 1]
        if any(is_number(t) for t in window):
            return True
    return False if found else None


def answers_count(question: str, quotes: Iterable[str]) -> bool:
    """False only when ``question`` asks for a count and the quotes name the counted thing
    without a number near it, none of them stating one."""
    noun = count_focus(question)
    if noun is None:
        return True
    verdicts = [states_count(q, noun) for q in quotes]
    return any(v is True for v in verdicts) or not any(v is False for v in verdicts)

