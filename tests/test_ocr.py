"""OCR (issue 30): image files and PDF pages without a text layer read by Tesseract (the real
``tesseract`` with Debian's Arabic and English models; ``make test`` installs them), flagged on
paragraphs and citations with the page and OCR's confidence, under the page and time limits.

The images are committed fixtures (tests/fixtures/office/scan_*, made by
tests/fixtures/make_office_docs.py from known text), a few small pages: these tests take seconds.
"""

from __future__ import annotations

import difflib
import functools
import io
import sqlite3
import time
import unicodedata
from pathlib import Path

import pytest

from index.extracted import ExtractLimits
from index.paragraphs import DocumentError, ParsedDocument, parse_document

OFFICE = Path(__file__).resolve().parent / "fixtures" / "office"


@functools.lru_cache(maxsize=None)
def parse(name: str, **limits) -> ParsedDocument:  # noqa: ANN003
    return parse_document((OFFICE / name).read_bytes(), file=name, limits=ExtractLimits(**limits))


def accuracy(extracted: str, expected: str, *, diacritics: bool = True) -> float:
    def norm(text: str) -> str:
        if not diacritics:
            text = "".join(c for c in text if not unicodedata.combining(c))
        return " ".join(text.split())

    a, b = norm(expected), norm(extracted)
    ops = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    return 1 - sum(max(i2 - i1, j2 - j1) for op, i1, i2, j1, j2 in ops if op != "equal") / len(a)


def source(name: str) -> str:
    return (OFFICE / (name + ".source.txt")).read_text(encoding="utf-8")


def test_tesseract_and_its_models_are_installed() -> None:
    """`make test` installs them; without them the OCR tests below would say nothing."""
    from index.ocr import ocr_available

    assert ocr_available("ara+eng") is None


@pytest.mark.parametrize(("name", "floor"), [("scan_en.png", 0.97), ("scan_ar.png", 0.85), ("scan_ar_noisy.jpg", 0.85)])
def test_an_image_file_is_a_document_read_by_ocr(name: str, floor: float) -> None:
    doc = parse(name)
    assert doc.kind == "image" and doc.paragraphs
    assert doc.warnings and doc.warnings[0].startswith("page 1 read by OCR (mean confidence ")
    for p in doc.paragraphs:
        assert p.ocr and p.page_start == p.page_end == 1 and 0.6 <= p.ocr_confidence <= 1
        assert doc.text[p.char_start:p.char_end] == p.text
    assert accuracy(doc.text, source(name), diacritics=False) >= floor


def test_arabic_ocr_text_is_normalised() -> None:
    """Tesseract's Arabic model writes Latin commas and bidi marks; the stored text has neither."""
    text = parse("scan_ar.png").text
    assert "الميلادي، وأقيم" in text and "وقرطبة، فانخفض" in text
    assert not any(c in text for c in "\u200e\u200f")


def test_a_pdf_page_without_text_is_read_by_ocr_and_the_rest_from_its_text_layer() -> None:
    doc = parse("scan_pages.pdf")
    assert doc.warnings[0].startswith("page 2 read by OCR (mean confidence ")
    text_layer = [p for p in doc.paragraphs if not p.ocr]
    ocr = [p for p in doc.paragraphs if p.ocr]
    assert {p.page_start for p in text_layer} == {1} and {p.page_start for p in ocr} == {2}
    assert all(p.ocr_confidence is None for p in text_layer) and all(p.ocr_confidence >= 0.6 for p in ocr)
    assert [p.paragraph for p in doc.paragraphs] == list(range(1, len(doc.paragraphs) + 1))
    assert doc.paragraphs.index(ocr[0]) == len(text_layer)  # in page order
    assert accuracy("\n".join(p.text for p in ocr), "\n".join(source("scan_pages.pdf").splitlines()[2:]),
                    diacritics=False) >= 0.85
    off = parse("scan_pages.pdf", ocr=False)
    assert off.warnings == ("page 2 has no text layer (scanned?); OCR is off (SANAD_OCR)",)
    assert not any(p.ocr for p in off.paragraphs)


def _tiff(pages: int) -> bytes:
    from PIL import Image

    frame = Image.open(OFFICE / "scan_en.png")
    buf = io.BytesIO()
    frame.save(buf, format="TIFF", save_all=True, append_images=[frame] * (pages - 1), dpi=(300, 300))
    return buf.getvalue()


def test_a_multi_page_tiff_and_the_ocr_page_limit() -> None:
    doc = parse_document(_tiff(3), file="scan.tiff", limits=ExtractLimits(ocr_max_pages=2))
    assert {p.page_start for p in doc.paragraphs} == {1, 2}
    assert doc.warnings[0].startswith("pages 1-2 read by OCR")
    assert doc.warnings[-1] == ("1 more page(s) without a text layer not read: OCR reads 2 per file "
                                "(SANAD_OCR_MAX_PAGES)")


def test_the_per_page_time_limit_stops_a_page() -> None:
    with pytest.raises(DocumentError, match=r"no text found by OCR \(page 1: OCR took longer than 0.01 s "
                                            r"\(SANAD_OCR_PAGE_TIME_LIMIT_S\) and was stopped\)"):
        parse_document((OFFICE / "scan_en.png").read_bytes(), file="s.png",
                       limits=ExtractLimits(ocr_page_time_limit_s=0.01))


def test_images_without_ocr_and_bad_images_get_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = (OFFICE / "scan_en.png").read_bytes()
    with pytest.raises(DocumentError, match=r"^image files are read by OCR, which is off \(SANAD_OCR\)$"):
        parse_document(data, file="s.png", limits=ExtractLimits(ocr=False))
    with pytest.raises(DocumentError, match=r"tesseract has no fra model \(apt-get install tesseract-ocr-fra"):
        parse_document(data, file="s.png", limits=ExtractLimits(ocr_languages="fra"))
    with pytest.raises(DocumentError, match=r"^not a readable image \(UnidentifiedImageError"):
        parse_document(b"this is not a picture", file="s.jpg")
    with pytest.raises(DocumentError, match=r"^not a readable image"):
        parse_document(data[: len(data) // 3], file="s.png")
    monkeypatch.setenv("PATH", str(tmp_path))  # a machine without tesseract
    with pytest.raises(DocumentError, match=r"cannot read an image: OCR is not available: tesseract is not "
                                            r"installed \(apt-get install tesseract-ocr"):
        parse_document(data, file="s.png")
    doc = parse_document((OFFICE / "scan_pages.pdf").read_bytes(), file="s.pdf")
    assert doc.warnings == ("page 2 has no text layer (scanned?); OCR is not available: tesseract is not "
                            "installed (apt-get install tesseract-ocr tesseract-ocr-ara tesseract-ocr-eng)",)


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from settings import Settings

    for name, value in (("OCR", "false"), ("OCR_LANGUAGES", "ara"), ("OCR_DPI", "200"),
                        ("OCR_PAGE_TIME_LIMIT_S", "5"), ("OCR_MAX_PAGES", "3"), ("OCR_MIN_CONFIDENCE", "0.7")):
        monkeypatch.setenv(f"SANAD_{name}", value)
    limits = ExtractLimits.from_settings(Settings())
    assert (limits.ocr, limits.ocr_languages, limits.ocr_dpi, limits.ocr_page_time_limit_s, limits.ocr_max_pages,
            limits.ocr_min_confidence) == (False, "ara", 200, 5.0, 3, 0.7)


def test_ocr_flags_survive_the_catalog_the_shared_record_and_the_citation(tmp_path: Path) -> None:
    from index.catalog import Catalog, StoredDocument
    from index.chunks import build_chunks
    from index.shared_catalog import decode_document, encode_document
    from qa.quotes import Quote, make_citation

    doc = parse("scan_pages.pdf")
    path = tmp_path / "catalog.sqlite3"
    old = sqlite3.connect(path)  # a catalog from before OCR: pages, no OCR columns
    old.executescript(
        "CREATE TABLE paragraphs (file TEXT NOT NULL, paragraph INTEGER NOT NULL, line_start INTEGER NOT NULL,"
        " line_end INTEGER NOT NULL, char_start INTEGER NOT NULL, char_end INTEGER NOT NULL,"
        " text TEXT NOT NULL, boilerplate INTEGER NOT NULL, page_start INTEGER, page_end INTEGER,"
        " PRIMARY KEY (file, paragraph));"
        "INSERT INTO paragraphs VALUES ('a.pdf', 1, 1, 1, 0, 5, 'hello', 0, 3, 3);")
    old.commit()
    old.close()
    catalog = Catalog(path)
    try:
        legacy = catalog.paragraph("a.pdf", 1)
        assert legacy is not None and (legacy.page_start, legacy.ocr, legacy.ocr_confidence) == (3, False, None)
        catalog.replace_document(doc, [], size_bytes=1)
        assert catalog.paragraphs_of("scan_pages.pdf") == list(doc.paragraphs)
    finally:
        catalog.close()
    stored = StoredDocument(doc, tuple(build_chunks(doc)), 1, 0.0)
    assert decode_document(encode_document(stored)).doc.paragraphs == doc.paragraphs
    image = parse("scan_en.png")
    assert decode_document(encode_document(StoredDocument(image, (), 1, 0.0))).doc.paragraphs == image.paragraphs
    para = next(p for p in doc.paragraphs if p.ocr)
    cite = make_citation(1, Quote(paragraph=para, start=0, end=len(para.text), score=0.5))
    assert cite.ocr and cite.ocr_confidence == para.ocr_confidence and cite.page_start == 2
    assert doc.text[cite.char_start:cite.char_end] == cite.quote
    text_para = next(p for p in doc.paragraphs if not p.ocr)
    plain = make_citation(2, Quote(paragraph=text_para, start=0, end=5, score=0.5))
    assert not plain.ocr and plain.ocr_confidence is None


def test_cli_citation_line_says_ocr(capsys: pytest.CaptureFixture[str]) -> None:
    from cli.main import print_answer
    from qa.models import Answer, Citation

    cite = Citation(ref=1, file="scan.png", paragraph=2, line_start=2, line_end=2, char_start=0, char_end=5,
                    quote="quote", score=0.9, url="/u", page_start=1, page_end=1, ocr=True, ocr_confidence=0.914)
    print_answer(Answer(answer="x [1]", language="en", answerable=True, citations=[cite]))
    assert "[1] scan.png p. 1 (OCR 91%) ¶2: quote" in capsys.readouterr().out


@pytest.mark.integration
def test_upload_an_image_over_http(tmp_path: Path) -> None:
    """Real uvicorn on 127.0.0.1: an image upload is accepted (202) and indexed by OCR in the
    background; its paragraphs say so and the stored text (GET .../text) holds them verbatim; a
    file that is no image is refused at once."""
    import httpx

    from tests.api_fixtures import LiveServer, make_settings

    live = LiveServer(make_settings(tmp_path / "data", embed_model="hash")).start()
    try:
        with httpx.Client(base_url=live.url, timeout=120) as client:
            r = client.post("/v1/documents", files={"file": ("scans/page.png", (OFFICE / "scan_en.png").read_bytes(),
                                                             "image/png")})
            assert r.status_code == 202, r.text  # read by OCR in the background
            status_url = r.json()["status_url"]
            assert r.headers["location"] == status_url == "/v1/documents/scans/page.png/upload"
            deadline = time.monotonic() + 120
            while (status := client.get(status_url).json())["state"] in ("queued", "reading"):
                assert time.monotonic() < deadline, status
                time.sleep(0.2)
            assert status["state"] == "indexed" and status["paragraphs"] >= 1, status
            assert status["warnings"][0].startswith("page 1 read by OCR")
            assert client.get("/v1/documents/scans%2Fpage.png").json()["kind"] == "image"
            got = client.get("/v1/documents/scans%2Fpage.png/paragraphs/1").json()
            assert got["ocr"] is True and 0.6 <= got["ocr_confidence"] <= 1 and got["page_start"] == 1
            text = client.get("/v1/documents/scans%2Fpage.png/text").json()["text"]
            assert text[got["char_start"]:got["char_end"]] == got["text"]
            r = client.post("/v1/documents", files={"file": ("bad.png", b"not an image")})
            assert r.status_code == 400 and "not a readable image" in r.json()["error"]["message"]
    finally:
        live.stop()


@pytest.mark.integration
def test_an_image_uploaded_into_a_named_collection_is_read_there(tmp_path: Path) -> None:
    """An OCR upload into a named collection: its status URL is under that collection, it is
    indexed there by that collection's OCR job, and the default collection never lists it."""
    import httpx

    from tests.api_fixtures import LiveServer, make_settings

    live = LiveServer(make_settings(tmp_path / "data", embed_model="hash")).start()
    try:
        with httpx.Client(base_url=live.url, timeout=120) as client:
            assert client.post("/v1/collections", json={"name": "scans"}).status_code == 201
            r = client.post("/v1/collections/scans/documents",
                            files={"file": ("page.png", (OFFICE / "scan_en.png").read_bytes(), "image/png")})
            assert r.status_code == 202, r.text
            status_url = r.json()["status_url"]
            assert r.headers["location"] == status_url == "/v1/collections/scans/documents/page.png/upload"
            deadline = time.monotonic() + 120
            while (status := client.get(status_url).json())["state"] in ("queued", "reading"):
                assert time.monotonic() < deadline, status
                time.sleep(0.2)
            assert status["state"] == "indexed", status
            named = client.get("/v1/collections/scans/documents").json()["documents"]
            assert [d["file"] for d in named] == ["page.png"]
            assert "page.png" not in {d["file"] for d in client.get("/v1/documents").json()["documents"]}
            assert client.get("/v1/documents/page.png/upload").status_code == 404
    finally:
        live.stop()


def test_a_text_layer_that_maps_to_nothing_is_read_by_ocr() -> None:
    """A page whose fonts map every glyph to private-use characters has text, but none usable:
    OCR reads it instead."""
    import re

    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=str(OFFICE / "scan_pages.pdf"))
    for font in writer.pages[0]["/Resources"]["/Font"].values():
        cmap = font.get_object()["/ToUnicode"].get_object()
        cmap.set_data(re.sub(rb"(<[0-9A-F]{2}> )<[0-9A-F]{4}>", rb"\1<E000>", cmap.get_data()))
    buf = io.BytesIO()
    writer.write(buf)
    doc = parse_document(buf.getvalue(), file="garbled.pdf")
    assert doc.warnings[0].startswith("pages 1-2 read by OCR")
    assert all(p.ocr for p in doc.paragraphs) and "\ue000" not in doc.text
    assert "Paper reached the Arab world in the eighth century" in doc.text


def test_a_scanned_two_column_document_reads_in_order_with_its_running_heads_flagged() -> None:
    """lo_en_justified.pdf scanned (two pages at 200 dpi): a running header on each page
    (flagged), two columns (read left to right), a paragraph over the page break
    (one paragraph) and a footnote."""
    import pypdfium2 as pdfium

    from tests.fixtures.office_text import EN_HEADER

    pdf = pdfium.PdfDocument(str(OFFICE / "lo_en_justified.pdf"))
    frames = [page.render(scale=200 / 72, grayscale=True).to_pil() for page in pdf]
    buf = io.BytesIO()
    frames[0].save(buf, format="TIFF", save_all=True, append_images=frames[1:], dpi=(200, 200))
    doc = parse_document(buf.getvalue(), file="scan.tiff")
    flagged = [p for p in doc.paragraphs if p.boilerplate]
    assert [p.page_start for p in flagged if p.text == EN_HEADER] == [1, 2]
    assert {p.text for p in flagged} <= {EN_HEADER, "1", "2"}  # Tesseract may miss a lone page number
    body = [p for p in doc.paragraphs if not p.boilerplate]
    expected = source("lo_en_justified.pdf").splitlines()
    assert len(body) == len(expected)
    for got, want in zip(body, expected):
        assert accuracy(got.text, want) >= 0.97, (got.text, want)
    assert [(p.page_start, p.page_end) for p in body][-2:] == [(1, 2), (2, 2)]
