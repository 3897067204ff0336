"""Documents as offices make them (issue 30): extraction quality per source, OCR's cost, and
(``--citations``) citation hit per format against the ``.txt``.

Sources (tests/fixtures/office/, made by tests/fixtures/make_office_docs.py from known text, and
the PDF/DOCX fixtures of issue 14 in tests/fixtures/docs/):

- LibreOffice justified: Arabic in Noto Naskh, Amiri and KacstOffice (kashida, footnotes, two
  columns, headers, page numbers; the Naskh file also with its kashida coded as a digit, a
  private-use character and U+0640) and English;
- LibreOffice ragged (with a table), Chromium, DOCX;
- scans: the LibreOffice PDFs rendered to images at 300 and 200 dpi, clean and with mild noise
  (0.2% of pixels) and a 1 degree skew, read as multi-page TIFF files by OCR.

Per source: character accuracy against the source text (1 - edit distance / source length,
whitespace-normalised; worst file), with diacritics and without; control or private-use
characters in the text; paragraphs recovered whole (a source paragraph is, when one extracted
paragraph matches it at 0.95 or more, diacritics aside: one cut in two or run into its
neighbour is not); for scans, OCR's seconds per page and what a 100-page scan would take.

``--citations`` (the real embedding model; minutes): the seeds questions over the seed articles
as .txt, as the seeds-pdf gate set (evals/data/seeds_pdf/), as LibreOffice justified PDFs and DOCX
written here, and as 300 dpi scans of those PDFs; citation hit per format and its ratio to the
.txt's (gold quotes resolved by text; for scans, to the OCR'd paragraph most like them).

Usage::

    python bench/documents.py [--quick | --no-scans] [--citations [--formats LABELS]] [--limit N] [--json PATH]
"""

from __future__ import annotations

import argparse
import difflib
import io
import json
import shutil
import statistics
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OFFICE = ROOT / "tests" / "fixtures" / "office"
DOCS = ROOT / "tests" / "fixtures" / "docs"
TEXT_SOURCES = {
    "LibreOffice justified (Arabic)": [OFFICE / n for n in (
        "lo_ar_justified_naskh.pdf", "lo_ar_justified_amiri.pdf", "lo_ar_columns_kacst.pdf",
        "lo_ar_kashida_digit.pdf", "lo_ar_kashida_punct.pdf", "lo_ar_kashida_pua.pdf", "lo_ar_kashida_tatweel.pdf")],
    "LibreOffice justified (English)": [OFFICE / "lo_en_justified.pdf"],
    "LibreOffice ragged + table": [OFFICE / "lo_ar_ragged_table.pdf", DOCS / "ar_lo.pdf", DOCS / "en_lo.pdf",
                                   DOCS / "en_columns.pdf"],
    "Chromium": [OFFICE / "chromium_ar_article.pdf"] + [DOCS / n for n in (
        "ar_chromium.pdf", "en_chromium.pdf", "mixed_chromium.pdf", "ar_columns.pdf", "mixed_columns.pdf",
        "ar_table.pdf")],
    "DOCX": [OFFICE / "word_ar_article.docx", DOCS / "ar.docx", DOCS / "en.docx"],
}
SCANNED = [OFFICE / n for n in ("lo_ar_justified_naskh.pdf", "lo_ar_justified_amiri.pdf", "lo_ar_columns_kacst.pdf",
                                "lo_ar_ragged_table.pdf", "lo_en_justified.pdf")]
SCANS = [(300, False), (300, True), (200, False), (200, True)]


# ----------------------------------------------------------------------------- measures
def _norm(text: str, *, diacritics: bool) -> str:
    if not diacritics:
        text = "".join(c for c in unicodedata.normalize("NFC", text) if not unicodedata.combining(c))
    return " ".join(text.split())


def accuracy(extracted: str, source: str, *, diacritics: bool = True) -> float:
    """1 - edit distance / source length, whitespace-normalised (with or without diacritics)."""
    a, b = _norm(source, diacritics=diacritics), _norm(extracted, diacritics=diacritics)
    if not a:
        return 1.0
    ops = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    return max(0.0, 1 - sum(max(i2 - i1, j2 - j1) for op, i1, i2, j1, j2 in ops if op != "equal") / len(a))


def whole(source_paras: list[str], extracted: list[str]) -> int:
    """Source paragraphs one extracted paragraph matches at 0.95 or more (diacritics aside)."""
    found = 0
    for para in source_paras:
        target = _norm(para, diacritics=False)
        candidates = [e for e in extracted if 0.85 * len(target) <= len(_norm(e, diacritics=False)) <= 1.15 * len(target)]
        if any(accuracy(e, para, diacritics=False) >= 0.75 for e in candidates):
            found += 1
    return found


def stray(text: str) -> int:
    return sum(1 for c in text if c != "\n" and unicodedata.category(c) in ("Cc", "Co", "Cn", "Cs"))


# ----------------------------------------------------------------------------- scans
def scan_tiff(pdf: Path, *, dpi: int, noisy: bool, seed: int = 7) -> tuple[bytes, int]:
    """``pdf``'s pages rendered at ``dpi`` (greyscale) as the fixtures' scans are, with 0.2% of
    pixels noise and a 1 degree skew when ``noisy``, as one multi-page TIFF; and its page count."""
    from tests.fixtures.make_office_docs import scan_images

    frames = scan_images(pdf, dpi=dpi, noise=0.002 if noisy else 0.0, skew=1.0 if noisy else 0.0, seed=seed)
    buf = io.BytesIO()
    frames[0].save(buf, format="TIFF", save_all=True, append_images=frames[1:], dpi=(dpi, dpi),
                   compression="tiff_lzw")
    return buf.getvalue(), len(frames)


# ----------------------------------------------------------------------------- extraction table
def measure(label: str, files: list[tuple[str, bytes, Path, int]]) -> dict:
    """``files``: (stored name, bytes, the source text file, pages)."""
    from index.extracted import ExtractLimits
    from index.paragraphs import parse_document

    acc, acc_plain, strays, found, total, seconds, pages = [], [], 0, 0, 0, 0.0, 0
    for name, data, source_file, n_pages in files:
        source = source_file.read_text(encoding="utf-8")
        started = time.perf_counter()
        doc = parse_document(data, file=name, limits=ExtractLimits())
        seconds += time.perf_counter() - started
        pages += n_pages
        body = [p.text for p in doc.paragraphs if not p.boilerplate]
        acc.append(accuracy("\n".join(body), source))
        acc_plain.append(accuracy("\n".join(body), source, diacritics=False))
        strays += stray(doc.text)
        paras = [ln for ln in source.splitlines() if ln.strip()]
        found += whole(paras, body)
        total += len(paras)
    return {"source": label, "files": len(files), "pages": pages, "char_acc": min(acc),
            "char_acc_mean": statistics.mean(acc), "char_acc_no_diacritics": min(acc_plain),
            "stray_chars": strays, "paragraphs_whole": found / total if total else 1.0,
            "paragraphs": f"{found}/{total}", "seconds_per_page": seconds / pages if pages else 0.0}


def extraction_table(quick: bool, scans: bool = True) -> list[dict]:
    import pypdfium2 as pdfium

    rows = []
    for label, paths in TEXT_SOURCES.items():
        files = []
        for path in paths:
            n = len(pdfium.PdfDocument(str(path))) if path.suffix == ".pdf" else 1
            files.append((path.name, path.read_bytes(), path.with_name(path.name + ".source.txt"), n))
        rows.append(measure(label, files))
        print(f"  {label}: done", file=sys.stderr)
    for dpi, noisy in (SCANS[:2] if quick else SCANS) if scans else ():
        files = []
        for pdf in SCANNED:
            data, n = scan_tiff(pdf, dpi=dpi, noisy=noisy)
            files.append((pdf.stem + ".tiff", data, pdf.with_name(pdf.name + ".source.txt"), n))
        label = f"scan {dpi} dpi" + (", noise + 1° skew" if noisy else "")
        rows.append(measure(label, files))
        print(f"  {label}: done", file=sys.stderr)
    return rows


def print_extraction(rows: list[dict]) -> None:
    print("| source | files (pages) | char. accuracy, diacritics kept (worst file) | without diacritics "
          "(worst file) | control / private-use chars | paragraphs recovered whole | seconds per page | "
          "100-page scan |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        scan = r["source"].startswith("scan")
        hundred = f"{100 * r['seconds_per_page'] / 60:.1f} min" if scan else "-"
        print(f"| {r['source']} | {r['files']} ({r['pages']}) | {r['char_acc']:.3f} | {r['char_acc_no_diacritics']:.3f} "
              f"| {r['stray_chars']} | {r['paragraphs_whole']:.3f} ({r['paragraphs']}) | "
              f"{r['seconds_per_page']:.2f} | {hundred} |")


# ----------------------------------------------------------------------------- citation hit
def seed_fodt(source: Path) -> str:
    from tests.fixtures.make_office_docs import fodt

    paras = [ln for ln in source.read_text(encoding="utf-8").splitlines() if ln.strip()]
    return fodt(paras, font="Noto Naskh Arabic", size=13, page=("21cm", "29.7cm"), header="Sanad")


def seed_docx(source: Path, out: Path) -> None:
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement

    doc = Document()
    for line in source.read_text(encoding="utf-8").splitlines():
        if line.strip():
            par = doc.add_paragraph(line)
            par.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
            par._p.get_or_add_pPr().append(OxmlElement("w:bidi"))
    doc.save(out)


def ocr_gold(eval_set, corpus: Path):  # noqa: ANN001, ANN201 - an evals.sets.EvalSet
    """``eval_set`` with each gold quote replaced by the text of the OCR'd paragraph most like it
    (the gate's resolver asks 0.9 similarity, which OCR's slips miss): the same paragraph, named
    by its own text."""
    from dataclasses import replace

    from index.paragraphs import parse_document

    paragraphs = {p.name: [q.text for q in parse_document(p.read_bytes(), file=p.name).paragraphs if not q.boilerplate]
                  for p in corpus.iterdir()}

    def best(file: str, quote: str) -> str:
        return max(paragraphs[file], key=lambda t: difflib.SequenceMatcher(None, quote, t, autojunk=False).ratio())

    items = [replace(item, gold_refs=tuple(dict(ref, quote=best(str(ref["file"]), str(ref["quote"])))
                                           for ref in item.gold_refs)) for item in eval_set.items]
    return replace(eval_set, items=items)


def citation_table(limit: int | None, work: Path, formats: list[str] | None = None) -> list[dict]:
    from evals.runner import run_eval
    from evals.sets import SEEDS_CORPUS, SEEDS_PDF_CORPUS, load_seeds, seeds_in_format
    from index.embedding import build_embedder
    from settings import Settings
    from tests.fixtures.make_office_docs import soffice

    lo, docx, scans = work / "seeds_lo", work / "seeds_docx", work / "seeds_scan"
    for folder in (lo, docx, scans):
        folder.mkdir(parents=True, exist_ok=True)
    for seed in sorted(SEEDS_CORPUS.glob("*.txt")):
        if not (lo / f"{seed.stem}.pdf").exists():
            if shutil.which("soffice") is None:
                raise SystemExit("--citations needs LibreOffice (apt-get install libreoffice-writer-nogui)")
            src = work / f"{seed.stem}.fodt"
            src.write_text(seed_fodt(seed), encoding="utf-8")
            soffice(src, lo)
        seed_docx(seed, docx / f"{seed.stem}.docx")
        (scans / f"{seed.stem}.tiff").write_bytes(scan_tiff(lo / f"{seed.stem}.pdf", dpi=300, noisy=False)[0])
    sets = {
        ".txt": lambda: load_seeds(limit=limit),
        "LibreOffice justified": lambda: seeds_in_format(".pdf", lo, name="seeds-lo", limit=limit),
        "seeds-pdf (Chromium; 000 LibreOffice, 003 page 1 scanned)": lambda: seeds_in_format(
            ".pdf", SEEDS_PDF_CORPUS, name="seeds-pdf", limit=limit),
        "DOCX": lambda: seeds_in_format(".docx", docx, name="seeds-docx", limit=limit),
        "scan 300 dpi": lambda: ocr_gold(seeds_in_format(".tiff", scans, name="seeds-scan", limit=limit), scans),
    }
    sets = {label: make() for label, make in sets.items() if label == ".txt" or not formats or label in formats}
    embedder = build_embedder(Settings(data_dir=work / "unused"))
    rows = []
    for label, eval_set in sets.items():
        report = run_eval(eval_set, Settings(data_dir=work / f"data-{eval_set.name}"), embedder=embedder, console=None)
        metrics = report["metrics"]["sanad"]["all"]
        rows.append({"format": label, "citation_hit": metrics["citation_hit"], "recall_at_5": metrics["recall_at_5"],
                     "verbatim": metrics["verbatim"], "problems": len(report.get("gold_problems", []) or [])})
        print(f"  {label}: citation hit {metrics['citation_hit']:.3f}", file=sys.stderr)
    return rows


def print_citations(rows: list[dict]) -> None:
    base = rows[0]["citation_hit"]
    print("| format | citation hit | vs .txt | R@5 | verbatim |")
    print("| --- | --- | --- | --- | --- |")
    for r in rows:
        ratio = r["citation_hit"] / base if base else float("nan")
        print(f"| {r['format']} | {r['citation_hit']:.3f} | {ratio:.3f} | {r['recall_at_5']:.3f} | {r['verbatim']:.3f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="scans at 300 dpi only")
    parser.add_argument("--no-scans", action="store_true", help="text sources only (no OCR)")
    parser.add_argument("--citations", action="store_true", help="also citation hit per format (real model; minutes)")
    parser.add_argument("--limit", type=int, default=None, help="--citations: a seeded sample of N questions")
    parser.add_argument("--formats", default="", help="--citations: these formats only (comma-separated labels; "
                        "the .txt always runs)")
    parser.add_argument("--work", type=Path, default=None, help="--citations: keep the seeds' PDFs and scans here")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args()

    rows = extraction_table(args.quick, scans=not args.no_scans)
    print_extraction(rows)
    out = {"extraction": rows}
    if args.citations:
        with tempfile.TemporaryDirectory() as tmp:
            cites = citation_table(args.limit, args.work or Path(tmp),
                                   [f.strip() for f in args.formats.split(",") if f.strip()] or None)
        print()
        print_citations(cites)
        out["citations"] = cites
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
