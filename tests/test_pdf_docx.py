"""PDF and DOCX documents (issue 14) on the committed fixtures of tests/fixtures/docs/.

The fixtures were made by tests/fixtures/make_docs.py (LibreOffice, Chromium, python-docx);
each ``X.pdf``/``X.docx`` made from known text has ``X.source.txt`` beside it, one paragraph
per line. Nothing here needs LibreOffice or Chromium.
"""

from __future__ import annotations

import difflib
import io
import json
import re
import sqlite3
import time
from pathlib import Path

import pytest

from index.bidi_text import clean_text, fold_presentation_forms, join_lines, visual_to_logical
from index.catalog import Catalog
from index.extracted import ExtractLimits
from index.paragraphs import DocumentError, ParsedDocument, load_document, parse_document
from settings import Settings

DOCS = Path(__file__).resolve().parent / "fixtures" / "docs"
SOURCED = sorted(p for p in DOCS.iterdir() if p.suffix in (".pdf", ".docx") and not p.name.startswith("bad_")
                 and (DOCS / (p.name + ".source.txt")).exists())
RUNNING = {"تقرير الشؤون الدولية", "International Affairs Report"}


def parse(name: str, **limits) -> ParsedDocument:  # noqa: ANN003
    return parse_document((DOCS / name).read_bytes(), file=name, limits=ExtractLimits(**limits))


def accuracy(extracted: str, source: str) -> float:
    """1 - character edits / source length, whitespace collapsed (as bench/pdf_extractors.py)."""
    a, b = " ".join(source.split()), " ".join(extracted.split())
    ops = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    return 1 - sum(max(i2 - i1, j2 - j1) for op, i1, i2, j1, j2 in ops if op != "equal") / len(a)


def body(doc: ParsedDocument) -> list[str]:
    return [p.text for p in doc.paragraphs if not p.boilerplate]


def check_verbatim(doc: ParsedDocument) -> None:
    for p in doc.paragraphs:
        assert doc.text[p.char_start:p.char_end] == p.text
        assert p.text == p.text.strip() and "\n" not in p.text
        assert p.line_start == p.line_end == doc.text.count("\n", 0, p.char_start) + 1


# ----------------------------------------------------------------------------- accuracy, order
@pytest.mark.parametrize("path", SOURCED, ids=lambda p: p.name)
def test_extracted_text_matches_the_source(path: Path) -> None:
    """Arabic, English and mixed, LibreOffice and Chromium, columns and tables: >= 0.99."""
    doc = parse(path.name)
    source = (DOCS / (path.name + ".source.txt")).read_text(encoding="utf-8")
    assert accuracy("\n".join(body(doc)), source) >= 0.99
    check_verbatim(doc)
    paged = path.suffix == ".pdf"
    for p in doc.paragraphs:
        assert (p.page_start is not None) == paged and (p.page_end is not None) == paged
        if paged:
            assert 1 <= p.page_start <= p.page_end


@pytest.mark.parametrize("name", ["ar_lo.pdf", "ar_chromium.pdf", "ar_columns.pdf", "en_columns.pdf", "mixed_columns.pdf",
                                  "en_lo.pdf", "en_chromium.pdf", "ar.docx", "en.docx"])
def test_paragraphs_are_the_source_paragraphs_in_order(name: str) -> None:
    """Lines joined into paragraphs, paragraphs found from the layout, columns read in order."""
    source = [ln for ln in (DOCS / (name + ".source.txt")).read_text(encoding="utf-8").splitlines() if ln]
    assert body(parse(name)) == source


def test_arabic_is_logical_and_folded() -> None:
    for name in ("ar_lo.pdf", "ar_chromium.pdf", "mixed_chromium.pdf", "ar_table.pdf"):
        text = parse(name).text
        assert not re.search("[\ufb50-\ufdff\ufe70-\ufefe\u0640]", text), name  # no presentation forms, tatweel
    text = parse("ar_chromium.pdf").text
    assert "بلغت قيمة الصادرات 2.5 مليار دولار في عام 2021، بزيادة قدرها 15% عن العام" in text
    mixed = parse("mixed_chromium.pdf").text
    assert "قال المتحدث باسم NATO إن الاجتماع عقد في Brussels يوم 12 يناير 2022 واستمر 4 ساعات." in mixed
    assert "The Arabic name of the alliance is حلف شمال الأطلسي, and its headquarters are in Brussels." in mixed
    assert "رقم الهاتف +44 20 7946 0958 للاستفسارات" in mixed
    assert "الأردن عمّان 11 مليون" in parse("ar_table.pdf").text  # a table row, shadda on its letter


def test_soft_hyphen_breaks_are_joined() -> None:
    text = parse("en_chromium.pdf").text
    assert "International organizations coordinated the humanitarian response with unprecedented speed" in text
    assert "\u00ad" not in text and "\u0002" not in text


def test_running_headers_and_page_numbers_are_boilerplate_with_pages() -> None:
    for name, pages in (("ar_lo.pdf", 3), ("en_lo.pdf", 3)):
        doc = parse(name)
        flagged = [p for p in doc.paragraphs if p.boilerplate]
        assert {p.text for p in flagged} == (RUNNING & {p.text for p in flagged}) | {str(n) for n in range(1, pages + 1)}
        assert sum(p.text in RUNNING for p in flagged) == pages
        assert not any(p.text in RUNNING or p.text.isdigit() for p in doc.paragraphs if not p.boilerplate)
        assert sorted({p.page_start for p in doc.paragraphs}) == list(range(1, pages + 1))
    doc = parse("ar_lo.pdf")
    assert next(p for p in doc.paragraphs if "الصادرات" in p.text).page_start == 3
    assert doc.title.startswith("أعلن الأمين العام")  # never the running header


LOW_RES_SCAN = ("page 2 without a text layer: OCR found no readable text (confidence 58%, under "
                "SANAD_OCR_MIN_CONFIDENCE 0.6)")


def test_scanned_page_is_reported_and_the_rest_indexed() -> None:
    """Page 2 is a 43 dpi image: OCR reads it (issue 30) but with too little confidence to index."""
    doc = parse("scanned.pdf")
    assert doc.warnings == (LOW_RES_SCAN,)
    assert parse("scanned.pdf", ocr=False).warnings == ("page 2 has no text layer (scanned?); OCR is off (SANAD_OCR)",)
    assert any("The committee met in Brussels" in p.text and p.page_start == 1 for p in doc.paragraphs)
    assert all(p.page_end == 1 for p in doc.paragraphs)


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(("name", "message"), [
    ("bad_encrypted.pdf", "encrypted PDF (password-protected)"),
    ("bad_truncated.pdf", "not a valid PDF (corrupt or truncated file)"),
    ("bad_corrupt.pdf", "not a valid PDF (corrupt or truncated file)"),
    ("bad_pdf_is_docx.pdf", "not a PDF: the content is a ZIP archive"),
    ("bad_not_zip.docx", "not a Word document: a .docx is a ZIP archive and this is not one"),
    ("bad_docx_is_pdf.docx", "not a Word document: the content is a PDF"),
    ("bad_zip_bomb.docx", "(a decompression bomb?)"),
])
def test_bad_files_get_one_clear_line(name: str, message: str) -> None:
    with pytest.raises(DocumentError) as info:
        parse(name)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_unpacked_size_limit() -> None:
    with pytest.raises(DocumentError, match=r"would unpack to \d+ bytes \(limit 1000, SANAD_MAX_UNPACKED_BYTES\)"):
        parse("en.docx", max_unpacked_bytes=1000)


def test_page_limit_and_a_ten_thousand_page_pdf(tmp_path: Path) -> None:
    import pypdfium2 as pdfium

    with pytest.raises(DocumentError, match=r"too many pages: 3 \(limit 2, SANAD_MAX_PAGES\)"):
        parse("ar_lo.pdf", max_pages=2)
    big = pdfium.PdfDocument.new()
    for _ in range(10_000):
        big.new_page(200, 200)
    buf = io.BytesIO()
    big.save(buf)
    started = time.monotonic()
    with pytest.raises(DocumentError, match=r"too many pages: 10000 \(limit 2000"):
        parse_document(buf.getvalue(), file="big.pdf", limits=ExtractLimits.from_settings(Settings(embed_model="hash")))
    assert time.monotonic() - started < 10


def test_time_limit() -> None:
    with pytest.raises(DocumentError, match=r"extraction took longer than 1e-09 s \(stopped at page \d of 3"):
        parse("ar_lo.pdf", time_limit_s=1e-9)


def test_settings_limits_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANAD_MAX_PAGES", "7")
    monkeypatch.setenv("SANAD_EXTRACT_TIME_LIMIT_S", "2.5")
    monkeypatch.setenv("SANAD_MAX_UNPACKED_BYTES", "1234")
    assert ExtractLimits.from_settings(Settings()) == ExtractLimits(max_pages=7, time_limit_s=2.5, max_unpacked_bytes=1234)


# ----------------------------------------------------------------------------- text repair units
def test_visual_to_logical() -> None:
    # Arabic drawn right to left, read back left to right: letters and words reversed, the
    # number kept left to right, the percent sign on the number's left in display.
    assert "".join(visual_to_logical(list("لاقم 2.5 يف %15 ةدايز"), rtl=True)) == "زيادة 15% في 2.5 مقال"
    assert "".join(visual_to_logical(list("NATO 2022 لاق"), rtl=True)) == "قال NATO 2022"
    assert "".join(visual_to_logical(list("the name is يبرع here"), rtl=False)) == "the name is عربي here"


def test_fold_and_clean() -> None:
    assert fold_presentation_forms("\ufefb\ufe8e") == "لاا"  # lam-alef ligature expanded, logical order
    assert clean_text("العـــام\ufeff  \u200fجديد") == "العام جديد"


def test_join_lines() -> None:
    words = {"international", "order", "machine-made"}
    assert join_lines(["the inter-", "national order"], vocabulary=words) == "the international order"
    assert join_lines(["a soft inter\u00ad", "national"]) == "a soft international"
    assert join_lines(["chromium's soft inter\u2010", "national"]) == "chromium's soft international"
    assert join_lines(["pdfium marks inter\u0002", "national"], vocabulary=words) == "pdfium marks international"
    # A hard hyphen at a line end stays (office programs hyphenate only when asked), unless the
    # document writes the word whole; PDFium codes it U+0002 either way.
    assert join_lines(["the caliph Harun al\u0002", "Rashid"], vocabulary=words) == "the caliph Harun al-Rashid"
    assert join_lines(["machine\u0002", "made paper"], vocabulary=words) == "machine-made paper"
    assert join_lines(["the inter-", "national order"]) == "the inter-national order"
    assert join_lines(["السطر الأول", "والثاني"]) == "السطر الأول والثاني"


# ----------------------------------------------------------------------------- catalog
def test_catalog_stores_pages_and_migrates_an_old_database(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite3"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE paragraphs (file TEXT NOT NULL, paragraph INTEGER NOT NULL, line_start INTEGER NOT NULL,"
        " line_end INTEGER NOT NULL, char_start INTEGER NOT NULL, char_end INTEGER NOT NULL,"
        " text TEXT NOT NULL, boilerplate INTEGER NOT NULL, PRIMARY KEY (file, paragraph));"
        "INSERT INTO paragraphs VALUES ('a.txt', 1, 1, 1, 0, 5, 'hello', 0);")
    old.commit()
    old.close()
    catalog = Catalog(path)
    try:
        legacy = catalog.paragraph("a.txt", 1)
        assert legacy is not None and legacy.text == "hello" and legacy.page_start is None
        doc = parse("ar_lo.pdf")
        catalog.replace_document(doc, [], size_bytes=1)
        assert catalog.paragraphs_of("ar_lo.pdf") == list(doc.paragraphs)
        assert catalog.document_text("ar_lo.pdf") == doc.text
        Catalog(path).close()  # opening a migrated catalog again changes nothing
    finally:
        catalog.close()


def test_shared_catalog_record_keeps_pages() -> None:
    from index.catalog import StoredDocument
    from index.chunks import build_chunks
    from index.shared_catalog import decode_document, encode_document

    for name in ("ar_lo.pdf", "ar.docx"):
        doc = parse(name)
        stored = StoredDocument(doc, tuple(build_chunks(doc)), 1, 0.0)
        payload = encode_document(stored)
        assert decode_document(payload).doc.paragraphs == doc.paragraphs
        if name.endswith(".docx"):  # unpaged records look exactly as before
            assert all(len(p) == 6 for p in json.loads(payload)["paragraphs"])


# ----------------------------------------------------------------------------- indexing
def test_index_a_mixed_folder_with_bad_files(tmp_path: Path) -> None:
    """Every good file is indexed; each bad one gets its one-line error; nothing crashes."""
    from index.indexer import Indexer

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for p in DOCS.iterdir():
        if p.suffix in (".pdf", ".docx"):
            (corpus / p.name).write_bytes(p.read_bytes())
    (corpus / "notes.txt").write_text("A plain text note.\n", encoding="utf-8")
    (corpus / "page.html").write_text("<p>An HTML page.</p>", encoding="utf-8")
    settings = Settings(data_dir=tmp_path / "data", embed_model="hash")
    indexer = Indexer(settings)
    try:
        report = indexer.index([corpus], progress=None)
        bad = {p.name for p in DOCS.iterdir() if p.name.startswith("bad_")}
        assert set(report.errors) == bad
        assert all("\n" not in msg for msg in report.errors.values())
        good = {p.name for p in corpus.iterdir()} - bad
        assert set(report.added) == good
        assert report.warnings == {"scanned.pdf": LOW_RES_SCAN}
        catalog = indexer.catalog
        for file in good:
            text = catalog.document_text(file)
            for para in catalog.paragraphs_of(file):
                assert text[para.char_start:para.char_end] == para.text
        assert {d.kind for d in catalog.documents()} == {"pdf", "docx", "txt", "html"}
        again = indexer.index([corpus], progress=None)  # incremental: nothing changed
        assert set(again.unchanged) == good and not again.added and not again.changed
        with open(corpus / "en_lo.pdf", "ab") as fh:  # new bytes, same text: re-extracted, re-hashed
            fh.write(b"\n% appended comment\n")
        third = indexer.index([corpus], progress=None)
        assert third.changed == ["en_lo.pdf"] and set(third.unchanged) == good - {"en_lo.pdf"}
    finally:
        indexer.close()


def test_cli_citation_line_shows_the_page(capsys: pytest.CaptureFixture[str]) -> None:
    from cli.main import print_answer
    from qa.models import Answer, Citation

    cites = [Citation(ref=1, file="report.pdf", paragraph=14, line_start=14, line_end=14, char_start=0,
                      char_end=5, quote="quote", score=0.9, url="/u", page_start=3, page_end=3),
             Citation(ref=2, file="report.pdf", paragraph=15, line_start=15, line_end=15, char_start=6,
                      char_end=9, quote="two", score=0.8, url="/u", page_start=3, page_end=4),
             Citation(ref=3, file="a.txt", paragraph=2, line_start=2, line_end=2, char_start=0,
                      char_end=3, quote="txt", score=0.7, url="/u")]
    print_answer(Answer(answer="x [1] [2] [3]", language="en", answerable=True, citations=cites))
    out = capsys.readouterr().out
    assert "[1] report.pdf p. 3 ¶14: quote" in out
    assert "[2] report.pdf p. 3-4 ¶15: two" in out
    assert "[3] a.txt ¶2 (line 2): txt" in out
    assert Citation.model_validate(cites[2].model_dump()).page_start is None


@pytest.mark.integration
def test_answers_cite_pdf_pages_verbatim(tmp_path: Path, real_embedder) -> None:  # noqa: ANN001
    """Real model: questions over PDF and DOCX get page-aware citations whose quotes are verbatim."""
    from index.indexer import Indexer
    from qa.answerer import Answerer

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("ar_lo.pdf", "en_lo.pdf", "ar.docx", "mixed_chromium.pdf"):
        (corpus / name).write_bytes((DOCS / name).read_bytes())
    settings = Settings(data_dir=tmp_path / "data")
    indexer = Indexer(settings, embedder=real_embedder)
    try:
        assert not indexer.index([corpus], progress=None).errors
    finally:
        indexer.close()
    answerer = Answerer(settings, embedder=real_embedder)
    try:
        checks = [("كم بلغت قيمة الصادرات في عام 2021؟", "ar_lo.pdf", 3),
                  ("Where is the next round of talks expected?", "en_lo.pdf", 2),
                  ("ما هي عاصمة الأردن؟", "ar.docx", None)]
        catalog = Catalog(settings.catalog_path)
        for question, file, page in checks:
            answer = answerer.ask(question)
            assert answer.answerable and answer.citations, question
            first = answer.citations[0]
            assert (first.file, first.page_start) == (file, page), (question, first)
            for c in answer.citations:
                text = catalog.document_text(c.file)
                assert text[c.char_start:c.char_end] == c.quote
                para = catalog.paragraph(c.file, c.paragraph)
                assert (c.page_start, c.page_end) == (para.page_start, para.page_end)
        catalog.close()
    finally:
        answerer.close()


def test_load_document_passes_limits(tmp_path: Path) -> None:
    (tmp_path / "r.pdf").write_bytes((DOCS / "ar_lo.pdf").read_bytes())
    with pytest.raises(DocumentError, match="too many pages"):
        load_document(tmp_path / "r.pdf", root=tmp_path, limits=ExtractLimits(max_pages=1))
    assert load_document(tmp_path / "r.pdf", root=tmp_path).kind == "pdf"


@pytest.mark.integration
def test_upload_pdf_and_docx_over_http(tmp_path: Path) -> None:
    """Real uvicorn on 127.0.0.1 (hashing embedder): multipart uploads, pages in /paragraphs,
    bad files 400 with their message, and the JSON upload stays text-only (415)."""
    import httpx

    from tests.api_fixtures import LiveServer, make_settings

    live = LiveServer(make_settings(tmp_path / "data", embed_model="hash")).start()
    try:
        with httpx.Client(base_url=live.url, timeout=60) as client:
            r = client.post("/v1/documents", files={"file": ("reports/ar_lo.pdf", (DOCS / "ar_lo.pdf").read_bytes(),
                                                             "application/pdf")})
            assert r.status_code == 201, r.text
            assert r.json()["kind"] == "pdf" and r.json()["paragraphs"] == len(parse("ar_lo.pdf").paragraphs)
            doc = parse("ar_lo.pdf")
            target = next(p for p in doc.paragraphs if "الصادرات" in p.text)
            got = client.get(f"/v1/documents/reports%2Far_lo.pdf/paragraphs/{target.paragraph}").json()
            assert (got["page_start"], got["page_end"], got["text"]) == (3, 3, target.text)
            r = client.post("/v1/documents", files={"file": ("ar.docx", (DOCS / "ar.docx").read_bytes())})
            assert r.status_code == 201 and r.json()["kind"] == "docx"
            got = client.get("/v1/documents/ar.docx/paragraphs/1").json()
            assert got["page_start"] is None and got["text"] == "الناتو وروسيا"
            r = client.post("/v1/documents", files={"file": ("x.pdf", (DOCS / "bad_encrypted.pdf").read_bytes())})
            assert r.status_code == 400 and "encrypted PDF" in r.json()["error"]["message"]
            # a page without a text layer is read by OCR in the background (202); when OCR finds nothing
            # readable the job fails with the reason, and nothing is listed
            r = client.post("/v1/documents", files={"file": ("s.pdf", _image_only_pdf())})
            assert r.status_code == 202, r.text
            deadline = time.monotonic() + 120
            while (status := client.get(r.json()["status_url"]).json())["state"] in ("queued", "reading"):
                assert time.monotonic() < deadline, status
                time.sleep(0.2)
            assert status["state"] == "failed"
            assert status["error"] == (
                "the document has no text to index (page 1 without a text layer: OCR found no readable text "
                "(confidence 58%, under SANAD_OCR_MIN_CONFIDENCE 0.6))")
            assert "s.pdf" not in {d["file"] for d in client.get("/v1/documents").json()["documents"]}
            r = client.post("/v1/documents", json={"file": "y.pdf", "text": "hello"})
            assert r.status_code == 415 and "multipart/form-data" in r.json()["error"]["message"]
    finally:
        live.stop()


def _image_only_pdf() -> bytes:
    """The scanned page of scanned.pdf on its own."""
    import pypdfium2 as pdfium

    src = pdfium.PdfDocument((DOCS / "scanned.pdf").read_bytes())
    out = pdfium.PdfDocument.new()
    out.import_pages(src, [1])
    buf = io.BytesIO()
    out.save(buf)
    return buf.getvalue()


def test_seeds_pdf_gold_resolves_against_the_extracted_paragraphs() -> None:
    """Every gold quote of `sanad eval --set seeds-pdf` finds its non-boilerplate PDF paragraph."""
    from evals.sets import SEEDS_PDF_CORPUS, load_set, resolve_gold

    eval_set = load_set("seeds-pdf")
    assert eval_set.name == "seeds-pdf" and len(eval_set.items) == len(load_set("seeds").items)

    class Parsed:  # the catalog's one method resolve_gold uses, over freshly parsed PDFs
        def paragraphs_of(self, file: str) -> list:
            path = SEEDS_PDF_CORPUS / file
            return list(parse_document(path.read_bytes(), file=file).paragraphs) if path.exists() else []

    gold, problems = resolve_gold(eval_set.items, Parsed())
    assert problems == []
    assert all(gold[item.id] for item in eval_set.items if item.answerable)


def test_more_bad_inputs_made_here() -> None:
    """A truncated .docx, an OLE (old Word / encrypted Word) file named .docx, a PDF named .txt."""
    docx = (DOCS / "en.docx").read_bytes()
    with pytest.raises(DocumentError, match=r"not a valid Word document \(damaged ZIP archive"):
        parse_document(docx[: len(docx) // 2], file="t.docx")
    with pytest.raises(DocumentError, match="not a Word document: a .docx is a ZIP archive"):
        parse_document(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500), file="old.docx")
    with pytest.raises(DocumentError, match="binary file|not valid UTF-8"):
        parse_document((DOCS / "en_lo.pdf").read_bytes(), file="report.txt")
    with pytest.raises(DocumentError, match="not a PDF: no %PDF- header"):
        parse_document(b"hello, I am text", file="fake.pdf")
