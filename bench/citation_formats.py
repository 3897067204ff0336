"""Citation hit over the seeds as .txt, as PDF and as DOCX, in one run (issue 14 targets).

Runs the seeds gold questions three times with one embedding model: over ``seeds/`` (.txt),
over ``evals/data/seeds_pdf/`` (the articles printed to PDF by Chromium, right to left) and
over DOCX versions written here with python-docx (one right-to-left paragraph per line).
Gold lines of the .txt files are matched to the PDF/DOCX paragraphs by their text
(evals.sets.seeds_in_format). Also reports what extraction costs against indexing (embedding)
time. Targets: hit(pdf) and hit(docx) >= 0.97 x hit(txt); extraction <= 10% of indexing.

Usage::

    python bench/citation_formats.py [--limit N]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def write_docx(source: Path, out: Path) -> None:
    from docx import Document
    from docx.oxml import OxmlElement

    doc = Document()
    for line in source.read_text(encoding="utf-8").splitlines():
        if line.strip():
            par = doc.add_paragraph(line)
            par._p.get_or_add_pPr().append(OxmlElement("w:bidi"))
    doc.save(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="a seeded sample of N questions")
    args = parser.parse_args()

    from evals.runner import run_eval
    from evals.sets import SEEDS_CORPUS, SEEDS_PDF_CORPUS, load_seeds, seeds_in_format
    from settings import Settings
    from index.embedding import build_embedder
    from index.paragraphs import parse_document

    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        docx_corpus = tmp / "seeds_docx"
        docx_corpus.mkdir()
        for seed in sorted(SEEDS_CORPUS.glob("*.txt")):
            write_docx(seed, docx_corpus / (seed.stem + ".docx"))
        sets = {
            "txt": load_seeds(limit=args.limit),
            "pdf": seeds_in_format(".pdf", SEEDS_PDF_CORPUS, name="seeds-pdf", limit=args.limit),
            "docx": seeds_in_format(".docx", docx_corpus, name="seeds-docx", limit=args.limit),
        }
        embedder = build_embedder(Settings(data_dir=tmp / "unused"))
        rows = {}
        for fmt, eval_set in sets.items():
            corpus = eval_set.corpus_paths[0]
            files = sorted(p for p in corpus.iterdir() if p.is_file())
            started = time.perf_counter()
            for path in files:
                parse_document(path.read_bytes(), file=path.name)
            extract_s = time.perf_counter() - started
            report = run_eval(eval_set, Settings(data_dir=tmp / f"data-{fmt}"), embedder=embedder, console=None)
            metrics = report["metrics"]["sanad"]["all"]
            index_s = report["seconds"]["index"]
            rows[fmt] = {"citation_hit": metrics["citation_hit"], "recall_at_5": metrics["recall_at_5"],
                         "verbatim": metrics["verbatim"], "answer_hit": metrics["answer_hit"],
                         "extract_s": round(extract_s, 3), "index_s": index_s}
    base = rows["txt"]["citation_hit"]
    print(f"{'format':<6} {'citation_hit':>12} {'vs txt':>7} {'R@5':>6} {'verbatim':>8} {'answer_hit':>10} "
          f"{'extract s':>9} {'index s':>8} {'extract/index':>13}")
    for fmt, row in rows.items():
        ratio = row["citation_hit"] / base if base else float("nan")
        share = (row["extract_s"] / row["index_s"]) if row["index_s"] else float("nan")
        print(f"{fmt:<6} {row['citation_hit']:>12.3f} {ratio:>7.3f} {row['recall_at_5']:>6.3f} "
              f"{row['verbatim']:>8.3f} {row['answer_hit']:>10.3f} {row['extract_s']:>9.3f} "
              f"{row['index_s'] if row['index_s'] is not None else float('nan'):>8.1f} {share:>13.4f}")
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
