"""Property tests (Hypothesis) for the paragraph splitter and the Arabic normaliser.

tests/test_paragraphs.py already checks verbatim offsets over a sampled alphabet and the
all-CRLF variant; here the splitter gets any Unicode text, newlines mixed line by line,
bidi controls, zero-width characters and combining marks (also at the edges of lines),
Unicode line separators that are *not* line breaks in the contract, and HTML. The
normaliser (index/arabic.normalize_arabic) is checked against independent oracles:
``int()`` for digits, Unicode decomposition for hamza/madda forms, ``str.casefold`` for
Latin text.
"""

from __future__ import annotations

import html
import unicodedata

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from index.arabic import normalize_arabic, tokenize
from index.paragraphs import decode_text, is_boilerplate, parse_document, split_txt
from tests.test_paragraphs import check_invariants, uncovered_non_space

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: any Unicode text a UTF-8 file can hold, except NUL (a binary file by the contract)
ANY_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=400)

BIDI = ["\u200e", "\u200f", "\u061c", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e",
        "\u2066", "\u2067", "\u2068", "\u2069"]
ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"]
COMBINING = ["\u064b", "\u064e", "\u0650", "\u0651", "\u0652", "\u0670", "\u0301", "\u0300", "\u0327", "\u20dd"]
#: whitespace that str.splitlines() would break on but the contract does not: only \n, \r\n, \r
NOT_LINE_BREAKS = ["\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e"]
WORDS = ["مرحبا", "حلف شمال الأطلسي", "ستولتنبرغ", "NATO", "abc", "Z", "2022", "٣٤", "ـ", "ﻻ", "é", "👍🏽", "👨‍👩‍👧"]

LINE_PIECE = st.one_of(st.sampled_from(WORDS), st.sampled_from(BIDI), st.sampled_from(ZERO_WIDTH),
                       st.sampled_from(COMBINING), st.sampled_from(NOT_LINE_BREAKS), st.sampled_from([" ", "\t", "\xa0"]),
                       st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r\n"), max_size=6))
LINE = st.lists(LINE_PIECE, max_size=8).map("".join)
LINES = st.lists(LINE, min_size=1, max_size=25)
NEWLINES = st.sampled_from(["\n", "\r\n", "\r"])


def _join(lines: list[str], seps: list[str]) -> str:
    """Join ``lines`` with ``seps``; a "\\r" then an empty line then "\\n" would read as one
    "\\r\\n", so that "\\n" becomes "\\r\\n" (still one line break, as intended)."""
    out = [lines[0]]
    prev = None
    for line, sep in zip(lines[1:], seps):
        if sep == "\n" and prev == "\r" and out[-1] == "":
            sep = "\r\n"
        out += [sep, line]
        prev = sep
    return "".join(out)


# --------------------------------------------------------------------------- the splitter


@SETTINGS
@given(raw=ANY_TEXT, kind=st.sampled_from(["txt", "md", "html"]), bom=st.booleans())
def test_offsets_verbatim_for_any_unicode(raw: str, kind: str, bom: bool) -> None:
    data = (b"\xef\xbb\xbf" if bom else b"") + raw.encode()
    doc = parse_document(data, file=f"any.{kind}")
    assert "\r" not in doc.text
    check_invariants(doc.text, doc.paragraphs)
    if kind != "html":  # html paragraphs are over the extracted text, checked the same way
        body = raw if bom else raw.removeprefix("\ufeff")  # one leading BOM is dropped, no more
        assert doc.text == body.replace("\r\n", "\n").replace("\r", "\n")
        assert uncovered_non_space(doc.text, list(doc.paragraphs)) == ""
    assert all(p.file == f"any.{kind}" for p in doc.paragraphs)


@SETTINGS
@given(lines=LINES, data=st.data(), kind=st.sampled_from(["txt", "md"]))
def test_mixed_newlines_match_the_lf_document(lines: list[str], data: st.DataObject, kind: str) -> None:
    seps = data.draw(st.lists(NEWLINES, min_size=len(lines) - 1, max_size=len(lines) - 1))
    mixed = _join(lines, seps)
    lf = "\n".join(lines)
    assume(not lf.startswith("\ufeff"))  # a leading BOM is dropped (tested above)
    a = parse_document(mixed.encode(), file=f"m.{kind}")
    b = parse_document(lf.encode(), file=f"m.{kind}")
    assert a.text == lf
    assert a.paragraphs == b.paragraphs
    check_invariants(a.text, a.paragraphs)
    # line numbers count \n, \r\n and \r alike, and nothing else
    for p in a.paragraphs:
        assert "\n".join(lines[p.line_start - 1:p.line_end]).strip() == p.text


@SETTINGS
@given(lines=LINES)
def test_marks_and_separators_stay_inside_their_line(lines: list[str]) -> None:
    """Bidi controls, zero-width characters and combining marks are text, never trimmed or
    moved; Unicode line separators (U+2028, NEL, VT, FF, ...) do not start a new line."""
    text = "\n".join(lines)
    paragraphs = split_txt(text, file="b.txt")
    check_invariants(text, paragraphs)
    assert uncovered_non_space(text, paragraphs) == ""
    nonblank = [i + 1 for i, line in enumerate(lines) if line.strip()]
    if all(p.line_start == p.line_end for p in paragraphs):  # per-line (not hard-wrapped)
        assert [p.line_start for p in paragraphs] == nonblank
        assert [p.text for p in paragraphs] == [lines[n - 1].strip() for n in nonblank]
    for p in paragraphs:
        first = text[p.char_start]
        assert not first.isspace()
        # a combining mark or an invisible character at the start of a line is kept, verbatim
        line = lines[p.line_start - 1]
        assert p.text.startswith(line.lstrip()[:1])


@SETTINGS
@given(marks=st.lists(st.sampled_from(BIDI + ZERO_WIDTH + COMBINING), min_size=1, max_size=6).map("".join),
       word=st.sampled_from(WORDS[:4]))
def test_invisible_only_lines_are_numbered_boilerplate(marks: str, word: str) -> None:
    text = f"{word}\n{marks}\n{word} {marks}\n"
    paragraphs = split_txt(text, file="z.txt")
    check_invariants(text, paragraphs)
    assert [p.text for p in paragraphs] == [word, marks, f"{word} {marks}"]
    assert [p.paragraph for p in paragraphs] == [1, 2, 3]
    assert [p.boilerplate for p in paragraphs] == [is_boilerplate(word), True, is_boilerplate(f"{word} {marks}")]
    assert not paragraphs[2].boilerplate


@SETTINGS
@given(blocks=st.lists(ANY_TEXT, min_size=1, max_size=6))
def test_html_blocks_become_paragraphs(blocks: list[str]) -> None:
    source = "<html><body>" + "".join(f"<p>{html.escape(b)}</p>" for b in blocks) + "</body></html>"
    doc = parse_document(source.encode(), file="h.html")
    check_invariants(doc.text, doc.paragraphs)
    expected = [" ".join(decode_text(b.encode()).split()) for b in blocks]
    assert [p.text for p in doc.paragraphs] == [e for e in expected if e]
    assert all("\n" not in p.text for p in doc.paragraphs)


@SETTINGS
@given(raw=ANY_TEXT)
def test_txt_paragraphs_never_span_a_blank_line(raw: str) -> None:
    """A .txt paragraph is one line, or a block of consecutive non-blank lines (hard-wrapped)."""
    text = decode_text(raw.encode())
    for p in split_txt(text, file="t.txt"):
        assert all(line.strip() for line in p.text.split("\n"))
        assert p.text.count("\n") == p.line_end - p.line_start


# --------------------------------------------------------------------------- the normaliser

ARABIC_BLOCKS = ((0x0600, 0x0700), (0x0750, 0x0780), (0x0870, 0x0900))
ARABIC_TEXT = st.text(st.characters(min_codepoint=0x0600, max_codepoint=0x08FF), max_size=60)
PRESENTATION = st.text(st.characters(min_codepoint=0xFB50, max_codepoint=0xFEFF), max_size=30)
MIXED = st.one_of(st.text(max_size=80), ARABIC_TEXT, PRESENTATION,
                  st.lists(st.one_of(ARABIC_TEXT, PRESENTATION, st.text(max_size=5)), max_size=5).map("".join))
ALEFS = "أإآٱ"
ARABIC_INDIC = "٠١٢٣٤٥٦٧٨٩"
PERSIAN = "۰۱۲۳۴۵۶۷۸۹"


def _arabic_mark(ch: str) -> bool:
    cp = ord(ch)
    return unicodedata.category(ch) == "Mn" and any(a <= cp < b for a, b in ARABIC_BLOCKS)


@SETTINGS
@given(MIXED)
def test_normalise_never_fails_and_is_idempotent(text: str) -> None:
    once = normalize_arabic(text)
    assert isinstance(once, str)
    assert normalize_arabic(once) == once
    assert isinstance(tokenize(text), list)


@SETTINGS
@given(MIXED, MIXED)
def test_normalise_is_character_local(a: str, b: str) -> None:
    """No effect crosses a boundary: normalising a concatenation is concatenating the normalised."""
    assert normalize_arabic(a + b) == normalize_arabic(a) + normalize_arabic(b)


@SETTINGS
@given(MIXED)
def test_no_diacritics_tatweel_or_invisible_marks_left(text: str) -> None:
    out = normalize_arabic(text)
    assert "\u0640" not in out  # tatweel
    assert not [hex(ord(c)) for c in out if _arabic_mark(c)]  # harakat, tanween, shadda, Quranic marks
    assert not set(out) & set("\u200b\u200c\u200d\u200e\u200f\u061c\ufeff\u2060\u00ad")


@SETTINGS
@given(st.text(st.sampled_from(ARABIC_INDIC + PERSIAN + "0123456789"), min_size=1, max_size=20))
def test_digits_become_ascii(digits: str) -> None:
    out = normalize_arabic(digits)
    assert out.isascii() and out.isdigit() and len(out) == len(digits)
    assert int(out) == int(digits)  # int() reads every Unicode decimal digit: an independent oracle


@SETTINGS
@given(MIXED)
def test_no_arabic_indic_or_persian_digits_or_alef_forms_left(text: str) -> None:
    out = normalize_arabic(text)
    assert not set(out) & set(ARABIC_INDIC + PERSIAN + ALEFS)


@SETTINGS
@given(st.text(st.characters(min_codepoint=0x0621, max_codepoint=0x0652), max_size=40))
def test_hamza_and_madda_forms_unify_like_their_decomposition(text: str) -> None:
    """Composed (أ) or decomposed (ا + U+0654) hamza/madda letters normalise alike."""
    assert normalize_arabic(unicodedata.normalize("NFD", text)) == normalize_arabic(unicodedata.normalize("NFC", text))
    for alef in ALEFS:
        assert normalize_arabic(alef) == "ا"


LATIN = st.text(st.one_of(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E),
    st.characters(min_codepoint=0xC0, max_codepoint=0x24F, blacklist_characters="\u00d7\u00f7"),
    st.sampled_from(["\n", "\t", " "]),
), max_size=80)


@SETTINGS
@given(LATIN)
def test_latin_text_is_only_casefolded(text: str) -> None:
    out = normalize_arabic(text)
    assert out == text.casefold()
    if text.isascii():
        assert out == text.lower()
