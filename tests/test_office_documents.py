"""Documents as offices make them (issue 30): justified Arabic PDFs from LibreOffice (kashida
glyphs coded as control characters, digits, private-use characters or U+0640), ragged text, a
table, footnotes, running headers and footers, two columns; Chromium's PDF and a Word-style DOCX
of the same text.

The fixtures are committed (tests/fixtures/office/, made by tests/fixtures/make_office_docs.py
from the text in tests/fixtures/office_text.py); each ``X`` has ``X.source.txt``, the text a
correct reader gives back, one paragraph per line. Nothing here runs LibreOffice.
"""

from __future__ import annotations

import difflib
import unicodedata
from pathlib import Path

import pytest

from index.extracted import ExtractLimits
from index.paragraphs import ParsedDocument, parse_document
from tests.fixtures.office_text import AR_CITY, AR_FOOTNOTE, AR_HEADER, EN_HEADER

OFFICE = Path(__file__).resolve().parent / "fixtures" / "office"
TEXT_DOCS = sorted(p.name for p in OFFICE.iterdir() if p.suffix in (".pdf", ".docx")
                   and not p.name.startswith("scan_") and (OFFICE / (p.name + ".source.txt")).exists())
LIBREOFFICE = [n for n in TEXT_DOCS if n.startswith("lo_")]


def parse(name: str) -> ParsedDocument:
    return parse_document((OFFICE / name).read_bytes(), file=name, limits=ExtractLimits())


def source(name: str) -> list[str]:
    return (OFFICE / (name + ".source.txt")).read_text(encoding="utf-8").splitlines()


def body(doc: ParsedDocument) -> list[str]:
    return [p.text for p in doc.paragraphs if not p.boilerplate]


def accuracy(extracted: str, expected: str) -> float:
    """1 - edit distance / source length, whitespace collapsed, diacritics kept."""
    a, b = " ".join(expected.split()), " ".join(extracted.split())
    ops = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    return 1 - sum(max(i2 - i1, j2 - j1) for op, i1, i2, j1, j2 in ops if op != "equal") / len(a)


def test_the_fixtures_are_there() -> None:
    """The suite reads these; a missing one must fail, not shrink the parametrized tests."""
    assert len(LIBREOFFICE) >= 8 and "chromium_ar_article.pdf" in TEXT_DOCS and "word_ar_article.docx" in TEXT_DOCS


@pytest.mark.parametrize("name", TEXT_DOCS)
def test_paragraphs_are_the_source_paragraphs(name: str) -> None:
    """Every paragraph whole, in reading order, diacritics on their letters, nothing else."""
    doc = parse(name)
    assert body(doc) == source(name)
    for p in doc.paragraphs:
        assert doc.text[p.char_start:p.char_end] == p.text


@pytest.mark.parametrize("name", TEXT_DOCS)
def test_no_control_or_private_use_characters(name: str) -> None:
    text = parse(name).text
    assert [hex(ord(c)) for c in text if c != "\n" and unicodedata.category(c) in ("Cc", "Co", "Cn", "Cs")] == []
    assert accuracy("\n".join(body(parse(name))), "\n".join(source(name))) >= 0.995


def test_the_justified_fixtures_do_carry_kashida() -> None:
    """PDFium reads LibreOffice's kashida as control characters, the recoded fixtures' as a
    digit, a private-use character and U+0640 inside words: the extractor drops them by shape."""
    import pypdfium2 as pdfium

    def raw(name: str) -> str:
        doc = pdfium.PdfDocument(str(OFFICE / name))
        return "".join(page.get_textpage().get_text_range() for page in doc)

    assert sum(1 for c in raw("lo_ar_justified_naskh.pdf") if ord(c) < 0x20 and c not in "\r\n") >= 20
    assert sum(1 for c in raw("lo_ar_columns_kacst.pdf") if ord(c) < 0x20 and c not in "\r\n") >= 20
    assert "الض66فة الش66رقية" in raw("lo_ar_kashida_digit.pdf") and "\ue000" in raw("lo_ar_kashida_pua.pdf")
    assert "الض;;فة الش;;رقية" in raw("lo_ar_kashida_punct.pdf")
    assert raw("lo_ar_kashida_tatweel.pdf").count("\u0640") > raw("lo_ar_justified_naskh.pdf").count("\u0640") + 10
    for name in ("lo_ar_kashida_digit.pdf", "lo_ar_kashida_punct.pdf", "lo_ar_kashida_pua.pdf",
                 "lo_ar_kashida_tatweel.pdf"):
        text = parse(name).text
        assert "6" not in text.replace("1406", "") and "\ue000" not in text and ";" not in text
        assert "الشرقية لنهر دجلة (باللاتينية: Tigris)،" in text


def test_typed_tatweel_stays_where_the_producer_codes_kashida_apart() -> None:
    """LibreOffice codes its kashida apart from U+0640, so a tatweel the author typed is text;
    where a producer codes its stretches U+0640, a tatweel on a stretched line cannot be told
    from them and goes with them."""
    assert "بأنها «جميـــلة ومزدحمة»" in parse("lo_ar_justified_naskh.pdf").text
    assert "بأنها «جميـــلة ومزدحمة»" in parse("chromium_ar_article.pdf").text
    assert "بأنها «جميلة ومزدحمة»" in parse("lo_ar_kashida_tatweel.pdf").text


@pytest.mark.parametrize("name", ["lo_ar_justified_naskh.pdf", "lo_ar_justified_amiri.pdf", "lo_ar_columns_kacst.pdf",
                                  "lo_ar_ragged_table.pdf", "chromium_ar_article.pdf"])
def test_diacritics_and_mirrored_brackets(name: str) -> None:
    text = parse(name).text
    expected = {
        "city": ["قريةً صغيرةً", "تحوّلت", "سوق الورّاقين", "بُني", "وجُدّد", "شُيّد", "غيّر", "وافتُتحت",
                 "(باللاتينية: Tigris)،", "«جميـــلة ومزدحمة»", "مترًا", "تغييرًا كبيرًا", "ومركزًا"],
        "paper": ["وأُقيم", "النسّاخ والورّاقون", "تُدقّ", "ابن خلدون (1332-1406) أن", "كلمة ream في الإنجليزية",
                  "«رزمة»", "«تتنفس»", "حُفظت بعيدًا", "سُمك"],
    }
    wanted = [phrase for phrases in expected.values() for phrase in phrases if phrase in "\n".join(source(name))]
    assert len(wanted) >= 6
    for phrase in wanted:
        assert phrase in text, (name, phrase)


@pytest.mark.parametrize("name", LIBREOFFICE)
def test_running_headers_and_page_numbers_are_boilerplate(name: str) -> None:
    doc = parse(name)
    pages = max(p.page_end for p in doc.paragraphs)
    flagged = [p for p in doc.paragraphs if p.boilerplate]
    assert pages >= 2
    assert {p.text for p in flagged} <= {AR_HEADER, EN_HEADER} | {str(n) for n in range(1, pages + 1)}
    assert sorted(int(p.text) for p in flagged if p.text.isdigit()) == list(range(1, pages + 1))
    assert sum(p.text in (AR_HEADER, EN_HEADER) for p in flagged) == pages
    kept = [p.text for p in doc.paragraphs if not p.boilerplate]
    assert AR_HEADER not in kept and EN_HEADER not in kept
    assert [t for t in kept if t.isdigit()] == [t for t in source(name) if t.isdigit()]  # a table's numbers stay


def test_a_paragraph_runs_over_a_footnote_and_a_page_break() -> None:
    """The footnote at the foot of page 1 is its own paragraph; the paragraph that runs over to
    page 2 above it is one paragraph across both pages (and another one over pages 2 and 3)."""
    doc = parse("lo_ar_justified_naskh.pdf")
    paras = [p for p in doc.paragraphs if not p.boilerplate]
    spanning = [p for p in paras if p.page_start != p.page_end]
    assert [(p.page_start, p.page_end) for p in spanning] == [(1, 2), (2, 3)]
    assert spanning[0].text == AR_CITY[2]
    note = next(p for p in paras if AR_FOOTNOTE in p.text)
    assert (note.page_start, note.text) == (1, "1" + AR_FOOTNOTE)
    assert paras.index(note) == paras.index(spanning[0]) + 1


def test_two_columns_right_to_left_under_a_title() -> None:
    doc = parse("lo_ar_columns_kacst.pdf")
    texts = body(doc)
    assert texts[0] == "مدينة على النهر" and texts[1:7] == AR_CITY


def test_a_table_reads_row_by_row_right_to_left() -> None:
    texts = body(parse("lo_ar_ragged_table.pdf"))
    assert texts[-9:] == ["المدينة", "السكان", "سنة التأسيس", "الرافدين", "500 ألف", "1250",
                          "الوادي الأخضر", "120 ألف", "1604"]


def test_english_hard_hyphens_at_line_ends_stay() -> None:
    text = parse("lo_en_justified.pdf").text
    assert "the caliph Harun al-Rashid." in text and "gave way to machine-made paper" in text
