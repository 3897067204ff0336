"""Which language a question is in: Arabic or English (the two Sanad answers in)."""

from __future__ import annotations

from qa.models import Language


def _is_arabic(ch: str) -> bool:
    code = ord(ch)
    return (0x0600 <= code <= 0x06FF or 0x0750 <= code <= 0x077F or 0x08A0 <= code <= 0x08FF
            or 0xFB50 <= code <= 0xFDFF or 0xFE70 <= code <= 0xFEFF)


def detect_language(text: str) -> Language:
    """"ar" when more words are in Arabic script than in Latin script (ties: by letters), else "en".

    Words, not letters, so that long Latin names inside an Arabic question ("ما موقف NATO
    من Ukraine؟") do not outvote it.
    """
    arabic_words = latin_words = arabic_letters = latin_letters = 0
    for word in text.split():
        ar = sum(1 for ch in word if ch.isalpha() and _is_arabic(ch))
        la = sum(1 for ch in word if ch.isalpha() and ch.isascii())
        arabic_letters += ar
        latin_letters += la
        if ar > la:
            arabic_words += 1
        elif la > ar:
            latin_words += 1
    if arabic_words != latin_words:
        return "ar" if arabic_words > latin_words else "en"
    return "ar" if arabic_letters > latin_letters else "en"
