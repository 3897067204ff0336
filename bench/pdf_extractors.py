"""Character accuracy of PDF text extractors on Arabic and English PDFs (issue 14).

Compares pypdfium2, pdfminer.six and pypdf (raw text, as their users get it) and Sanad's
own extraction (index.pdf_text: pypdfium2 glyph boxes + bidi repair) against the source text
each PDF was made from. Score = 1 - (character edits / source length) after collapsing every
whitespace run to one space (edits: the difflib opcodes, an upper bound on the Levenshtein
distance, so the score is conservative). Running headers and bare page numbers (which are not
in the source) are dropped from every extractor's output before scoring.

Corpora:
- ``tests/fixtures/docs/*.pdf`` with their ``.source.txt`` (LibreOffice and Chromium PDFs,
  made by tests/fixtures/make_docs.py; always);
- with ``--seeds``: the five seed articles printed by LibreOffice (from the .txt) and by
  Chromium (right-to-left HTML, one ``<p>`` per line); needs ``soffice`` and ``chromium``.

Usage::

    python bench/pdf_extractors.py [--seeds] [--json]
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))

FIXTURES = ROOT / "tests" / "fixtures" / "docs"
HEADERS = {"تقرير الشؤون الدولية", "International Affairs Report"}
_WS = re.compile(r"\s+")


def normalise(text: str) -> str:
    return _WS.sub(" ", text).strip()


def accuracy(extracted: str, source: str) -> float:
    a, b = normalise(source), normalise(extracted)
    if not a:
        return 1.0 if not b else 0.0
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    edits = sum(max(i2 - i1, j2 - j1) for op, i1, i2, j1, j2 in matcher.get_opcodes() if op != "equal")
    return max(0.0, 1.0 - edits / len(a))


def drop_running_lines(text: str) -> str:
    keep = [ln for ln in text.splitlines()
            if ln.strip() not in HEADERS and not re.fullmatch(r"\s*\d+\s*", ln)]
    return "\n".join(keep)


# ----------------------------------------------------------------------------- extractors
def x_pypdfium2(data: bytes) -> str:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(data)
    try:
        return "\n".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
    finally:
        doc.close()


def x_pdfminer(data: bytes) -> str:
    import io

    from pdfminer.high_level import extract_text

    return extract_text(io.BytesIO(data))


def x_pypdf(data: bytes) -> str:
    import io

    from pypdf import PdfReader

    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)


def x_sanad(data: bytes) -> str:
    from index.pdf_text import extract_pdf

    return "\n".join(b.text for b in extract_pdf(data, max_pages=10_000, time_limit_s=600).blocks)


EXTRACTORS = {"pypdfium2": x_pypdfium2, "pdfminer.six": x_pdfminer, "pypdf": x_pypdf,
              "sanad (pypdfium2 + repair)": x_sanad}


# ----------------------------------------------------------------------------- corpora
def fixture_cases() -> list[tuple[str, str, bytes, str]]:
    """(name, producer, pdf bytes, source text) of the committed fixtures."""
    cases = []
    for pdf in sorted(FIXTURES.glob("*.pdf")):
        src = pdf.with_name(pdf.name + ".source.txt")
        if src.exists():
            producer = "LibreOffice" if "_lo" in pdf.stem or "columns" in pdf.stem and pdf.stem.startswith("en") \
                else "Chromium"
            cases.append((pdf.stem, producer, pdf.read_bytes(), src.read_text(encoding="utf-8")))
    return cases


def seed_cases(tmp: Path) -> list[tuple[str, str, bytes, str]]:
    from make_docs import chromium_pdf, seed_page, soffice_pdf

    cases = []
    for seed in sorted((ROOT / "seeds").glob("*.txt")):
        source = seed.read_text(encoding="utf-8")
        lo = soffice_pdf(seed, tmp)
        cases.append((f"seed {seed.stem[:3]}", "LibreOffice", lo.read_bytes(), source))
        out = chromium_pdf(seed_page(source), tmp / f"{seed.stem}.chromium.pdf")
        cases.append((f"seed {seed.stem[:3]}", "Chromium", out.read_bytes(), source))
    return cases


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", action="store_true", help="also print the seeds to PDF (LibreOffice, Chromium)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per case and extractor")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cases = fixture_cases() + (seed_cases(Path(tmp)) if args.seeds else [])
        rows = []
        for name, producer, data, source in cases:
            for ex_name, fn in EXTRACTORS.items():
                started = time.perf_counter()
                try:
                    text = fn(data)
                except Exception as exc:  # noqa: BLE001 - a failing extractor scores 0
                    text = f"[{exc.__class__.__name__}]"
                ms = (time.perf_counter() - started) * 1000
                acc = accuracy(drop_running_lines(text), source)
                rows.append({"case": name, "producer": producer, "extractor": ex_name,
                             "accuracy": round(acc, 4), "ms": round(ms, 1)})
    if args.json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
        return 0
    names = list(EXTRACTORS)
    print(f"{'case':<16} {'producer':<12} " + " ".join(f"{n[:13]:>13}" for n in names))
    for name, producer, _, _ in cases:
        accs = [next(r for r in rows if r["case"] == name and r["producer"] == producer
                     and r["extractor"] == n)["accuracy"] for n in names]
        print(f"{name:<16} {producer:<12} " + " ".join(f"{a:>13.4f}" for a in accs))
    print("-" * (30 + 14 * len(names)))
    for group, pred in (("Arabic", lambda c: c.startswith(("ar", "mixed", "seed"))),
                        ("English", lambda c: c.startswith("en"))):
        for producer in ("LibreOffice", "Chromium"):
            sel = [r for r in rows if pred(r["case"]) and r["producer"] == producer]
            if not sel:
                continue
            mins = [min(r["accuracy"] for r in sel if r["extractor"] == n) for n in names]
            print(f"{'min ' + group:<16} {producer:<12} " + " ".join(f"{m:>13.4f}" for m in mins))
    total_ms = [sum(r["ms"] for r in rows if r["extractor"] == n) for n in names]
    print(f"{'total ms':<29} " + " ".join(f"{t:>13.0f}" for t in total_ms))
    return 0


if __name__ == "__main__":
    sys.exit(main())
