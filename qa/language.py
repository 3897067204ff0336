"""Which language a question is in: Arabic or English (the two Sanad answers in)."""

from __future__ import annotations

from qa.models import Language


def _is_arabic(ch: str) -> bool:
    code = ord(ch)
    return (0x0600 <= code <= 0x06FF or 0x0750 <= code <= 0x077F or 0x08A0 <= code <= 0x08FF
            or 0xFB50 <= code <= 0xFDFF or 0xFE70 <= code <= 0xFEFF)


def detect_language(text: str) -> Language:
    """"ar" when Arabic-script letters are at least as many as Latin ones, else "en"."""
    arabic = sum(1 for ch in text if ch.isalpha() and _is_arabic(ch))
    latin = sum(1 for ch in text if ch.isalpha() and ch.isascii())
    if arabic == 0 and latin == 0:
        return "en"
    return "ar" if arabic >= latin else "en"
