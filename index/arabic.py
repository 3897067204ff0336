"""Arabic/English text normalisation, tokenisation and analysis for lexical search.

The pipeline is ``normalize_arabic`` -> ``tokenize`` -> ``Analyzer.analyze``:

* ``normalize_arabic`` folds orthographic variation that carries no meaning for
  retrieval (diacritics, tatweel, alef/yeh/teh-marbuta variants, digit scripts,
  invisible format characters, presentation-form ligatures) and casefolds Latin.
  It is a single ``str.translate`` with a precomputed table plus ``casefold`` and
  is idempotent.
* ``tokenize`` splits the normalised text into maximal runs of letters/digits;
  decimal numbers such as ``2.5`` stay one token.
* ``Analyzer`` drops stopwords and stems: Arabic-script tokens with the Snowball
  Arabic stemmer (PyStemmer) plus a few documented pre/post fixes, other
  letter tokens with the Snowball English stemmer; pure numbers are kept as-is.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache

import Stemmer

__all__ = [
    "ARABIC_STOPWORDS",
    "ENGLISH_STOPWORDS",
    "Analyzer",
    "normalize_arabic",
    "tokenize",
]


# --------------------------------------------------------------------------- #
# Normalisation                                                                #
# --------------------------------------------------------------------------- #


def _build_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {}

    # Arabic diacritics (harakat, tanween, shadda, sukun, ...), superscript alef,
    # Quranic annotation marks, tatweel.
    for cp in range(0x064B, 0x0660):
        table[cp] = None
    table[0x0670] = None
    for cp in range(0x06D6, 0x06EE):
        table[cp] = None
    table[0x0640] = None
    # The other Arabic combining marks: honorific signs and small fatha/damma/kasra
    # (U+0610-061A), Arabic Extended-A/B Quranic marks and open/curly tanween and harakat
    # (U+0898-089F, U+08CA-08FF except U+08E2, a format character).
    for cp in (*range(0x0610, 0x061B), *range(0x0898, 0x08A0), *range(0x08CA, 0x08E2), *range(0x08E3, 0x0900)):
        table[cp] = None

    # Invisible format characters: zero-width space/joiners, LRM/RLM, Arabic
    # letter mark, BOM / zero-width no-break space, bidi embeddings/isolates,
    # word joiner, soft hyphen.
    for cp in (*range(0x200B, 0x2010), 0x061C, 0xFEFF, 0x2060, 0x00AD):
        table[cp] = None
    for cp in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)):
        table[cp] = None

    letters = {
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ٱ": "ا",  # alef wasla
        "ى": "ي",  # alef maqsura
        "ة": "ه",  # teh marbuta
        "ؤ": "و",
        "ئ": "ي",
        # Persian-keyboard look-alikes frequently found in Arabic text.
        "ی": "ي",  # U+06CC farsi yeh
        "ک": "ك",  # U+06A9 keheh
    }
    for src, dst in letters.items():
        table[ord(src)] = dst

    # Arabic-Indic (U+0660..0669) and Extended/Persian (U+06F0..06F9) digits.
    for i in range(10):
        table[0x0660 + i] = str(i)
        table[0x06F0 + i] = str(i)
    table[0x066B] = "."  # Arabic decimal separator
    table[0x066C] = ","  # Arabic thousands separator

    # Arabic punctuation -> space.
    for ch in "،؛؟«»":
        table[ord(ch)] = " "

    # Arabic presentation forms (PDF extraction often yields these): map each to
    # its compatibility decomposition, then run that through the table above so
    # the result is already fully normalised (keeps the function idempotent).
    for start, end in ((0xFB50, 0xFE00), (0xFE70, 0xFEFF)):
        for cp in range(start, end):
            ch = chr(cp)
            if unicodedata.category(ch) == "Cn":
                continue
            decomposed = unicodedata.normalize("NFKC", ch)
            if decomposed == ch:
                continue
            table[cp] = decomposed.translate(table)
    return table


_TABLE: dict[int, str | None] = _build_table()


def normalize_arabic(text: str) -> str:
    """Normalise Arabic orthography and casefold Latin; idempotent.

    Removes diacritics and Quranic marks (U+064B-065F, U+0670, U+06D6-06ED,
    U+0610-061A, U+0898-089F, U+08CA-08FF but U+08E2), tatweel and
    zero-width/bidi format characters; maps alef variants to ``ا``, ``ى``->``ي``,
    ``ة``->``ه``, ``ؤ``->``و``, ``ئ``->``ي``; Arabic-Indic and Persian digits to
    ASCII; ``، ؛ ؟ « »`` to spaces; presentation-form ligatures to base letters.
    """
    return text.translate(_TABLE).casefold()


# --------------------------------------------------------------------------- #
# Tokenisation                                                                 #
# --------------------------------------------------------------------------- #

# A number (2019, 2.5) or a maximal run of letters. Letters and digits are split
# apart so an attached proclitic or suffix does not hide a number ("و2019",
# "2019م", "covid19"). Underscore is excluded; combining Latin accents (from
# decomposed input or casefold("İ")) are kept inside the word.
_TOKEN_RE = re.compile(r"\d+(?:\.\d+)*|(?:[^\W\d_]|[\u0300-\u036f])+")


def tokenize(text: str) -> list[str]:
    """Normalise ``text`` and split it into lowercase word/number tokens.

    Tokens are maximal runs of letters or of digits; ``"2.5"`` and ``"2019"`` are single tokens. Dotted digit groups with more
    than one dot (dates such as ``2022.01.12``) are split into their parts so a
    year in a question matches a year inside a date.
    """
    tokens = _TOKEN_RE.findall(normalize_arabic(text))
    if any(tok.count(".") > 1 for tok in tokens):
        out: list[str] = []
        for tok in tokens:
            if tok.count(".") > 1:
                out.extend(tok.split("."))
            else:
                out.append(tok)
        return out
    return tokens


# --------------------------------------------------------------------------- #
# Stopwords                                                                    #
# --------------------------------------------------------------------------- #

_ARABIC_STOPWORDS_RAW = """
في من على إلى عن أن إن أنّ إنّ كان كانت يكون تكون كانوا ليس ليست
هذا هذه هذان هاتان هذين هاتين هؤلاء ذلك تلك ذلكم أولئك هناك هنا هنالك
الذي التي الذين اللذان اللتان اللذين اللتين اللواتي اللاتي اللائي
مع بين بعد قبل كما قد لقد لا لم لن ما ماذا متى أين كيف لماذا هل كم
هو هي هم هن هما أنا نحن أنت أنتم أنتن
ثم أو أم أي كل بعض غير سوى عند حتى منذ خلال
وقد وفي ومن وعلى وإلى وعن وأن وإن ولا ولم ولن وما وهو وهي وهم وهن
وكان وكانت ومع وبين وبعد وقبل وكما وكل وذلك وهذا وهذه والتي والذي والذين
ولكن وأيضا وحتى ومنذ وعند وهناك
فقد فإن فلا فما فهو فهي فإذا فقط
فيه فيها فيهم منه منها منهم عليه عليها عليهم إليه إليها إليهم
عنه عنها عنهم له لها لهم لهن به بها بهم لدى لكن لكنه لكنها
إذا إذ إذن لو لولا أيضا حيث حين بينما كذلك مثل دون نحو ضد عبر حول
تحت فوق أمام خلف وراء إلا أما إما بل كلا
إنه إنها أنه أنها أنهم إنهم كأن لأن عندما بعدما ثمة هكذا جدا
ذات ذو ذي أحد إحدى ضمن لذلك لهذا بهذا بذلك هذي
ب ل ك ف و يا
"""

ARABIC_STOPWORDS: frozenset[str] = frozenset(
    normalize_arabic(w) for w in _ARABIC_STOPWORDS_RAW.split()
)

ENGLISH_STOPWORDS: frozenset[str] = frozenset(
    """
    a an the and or but nor not no so if then than too very of to in on at by
    for from with about against between into through during before after above
    below up down out off over under again further once here there when where
    why how what which who whom whose this that these those am is are was were
    be been being have has had having do does did doing will would shall should
    can could may might must i me my myself we our ours ourselves you your yours
    yourself yourselves he him his himself she her hers herself it its itself
    they them their theirs themselves as until while all any both each few more
    most other some such only own same just also s t don now
    """.split()
)


# --------------------------------------------------------------------------- #
# Stemming                                                                     #
# --------------------------------------------------------------------------- #

# PyStemmer objects are not thread-safe: one pair per thread.
_local = threading.local()


def _stemmers() -> tuple[Stemmer.Stemmer, Stemmer.Stemmer]:
    pair: tuple[Stemmer.Stemmer, Stemmer.Stemmer] | None = getattr(
        _local, "pair", None
    )
    if pair is None:
        pair = (Stemmer.Stemmer("arabic"), Stemmer.Stemmer("english"))
        _local.pair = pair
    return pair


_ARABIC_CHAR_RE = re.compile(r"[\u0600-\u06FF\u0750-\u077F\u08A0-\u08FF]")
_NUMBER_RE = re.compile(r"\d+(?:\.\d+)*")
# Conjunction و/ف glued before a prefix Snowball handles itself.
_CONJ_PREFIXES = ("وال", "ولل", "وبال", "وكال", "فال", "فلل", "فبال", "فكال")


def _stem_arabic(token: str, stemmer: Stemmer.Stemmer) -> str:
    """Snowball Arabic stem of a normalised token, with four small fixes.

    Snowball refuses to strip the conjunction و/ف before ``ا`` (so ``والناتو``
    -> ``والنات`` while ``الناتو`` -> ``ناتو``) and expects ``ة`` rather than
    our normalised ``ه`` (``الحكومه`` -> ``حكومه`` but ``الحكومة`` ->
    ``حكوم``); it leaves the ``ا`` of an indefinite ``-ات`` plural
    (``اجتماعات`` -> ``اجتماعا``); and it keeps the imperfect prefix ``ي`` so
    ``يترأس`` never meets the past ``ترأس``. The fixes make these forms agree.
    """
    word = token
    if len(word) >= 6 and word.startswith(_CONJ_PREFIXES):
        word = word[1:]
    elif len(word) >= 6 and word.startswith("ويت"):
        word = word[2:]  # و + imperfect ي of a form V/VI/VIII verb: ويترأس -> ترأس
    elif len(word) >= 5 and word.startswith("يت"):
        word = word[1:]  # imperfect ي of a form V/VI/VIII verb: يترأس -> ترأس
    if len(word) >= 4 and word.endswith("ه"):
        word = word[:-1] + "ة"
    stem = stemmer.stemWord(word)
    if token.endswith("ات") and stem.endswith("ا") and len(stem) >= 4:
        stem = stem[:-1]
    stem = normalize_arabic(stem)
    return stem or token


@lru_cache(maxsize=262_144)
def _stem(token: str) -> str:
    if _NUMBER_RE.fullmatch(token):
        return token
    arabic, english = _stemmers()
    if _ARABIC_CHAR_RE.search(token):
        return _stem_arabic(token, arabic)
    return english.stemWord(token) or token


class Analyzer:
    """Turns text into index/query terms: tokenize, drop stopwords, stem."""

    def __init__(self, *, stem: bool = True, stopwords: bool = True) -> None:
        self.stem: bool = stem
        self.stopwords: bool = stopwords
        self._stop: frozenset[str] = (
            ARABIC_STOPWORDS | ENGLISH_STOPWORDS if stopwords else frozenset()
        )

    def analyze(self, text: str) -> list[str]:
        tokens = tokenize(text)
        if self._stop:
            stop = self._stop
            tokens = [t for t in tokens if t not in stop]
        if self.stem:
            tokens = [_stem(t) for t in tokens]
        return tokens

    def config(self) -> dict[str, bool]:
        """JSON-serialisable constructor arguments (stored with saved indexes)."""
        return {"stem": self.stem, "stopwords": self.stopwords}

    def __repr__(self) -> str:
        return f"Analyzer(stem={self.stem}, stopwords={self.stopwords})"
