"""Native Arabic questions (issue 20): the eval sets, first-citation hit, question text as
typed, expected answer types, and titles in the document prompt."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from evals import metrics as M
from evals.metrics import CitedSpan, Row
from evals.sets import EvalSetError, absent_question, load_set
from index.embedding import HashEmbedding
from index.indexer import Indexer
from index.paragraphs import parse_document
from index.titles import embedding_title, file_name_title, reads_as_title
from qa.question_text import lexical_text, retrieval_text
from settings import Settings


# --------------------------------------------------------------------------- eval sets
def _fake_native(root: Path, name: str, n_files: int = 5) -> Path:
    contexts = root / name / "contexts"
    contexts.mkdir(parents=True)
    rows = []
    for i in range(n_files):
        file = f"مقال_{i}.txt"
        (contexts / file).write_text("\n\n".join(f"فقرة {p} من المقال {i}" for p in range(1, 4)) + "\n",
                                     encoding="utf-8")
        for p in (1, 2, 3):
            rows.append({"id": f"{name}-{i}-{p}", "file": file, "paragraph": p, "title": f"مقال {i}",
                         "question_ar": f"ما الفقرة {p} من المقال {i}؟", "answer_ar": f"فقرة {p}"})
    (root / name / "questions.jsonl").write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return root


@pytest.mark.parametrize("name", ["arcd-train", "tydiqa-ar"])
def test_native_sets_sample_whole_articles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv("SANAD_EVALDATA_DIR", str(_fake_native(tmp_path, name)))
    full = load_set(name)
    sample = load_set(name, limit=2)
    assert len(full.corpus_paths) == 5 and len(sample.corpus_paths) == 2
    assert sample.sample["unit"] == "articles" and sample.sample["files"] == [p.name for p in sample.corpus_paths]
    answerable = [i for i in sample.items if i.answerable]
    # every question of a sampled article, none of the others: its competitors stay in the corpus
    assert len(answerable) == 2 * 3
    assert {i.gold_refs[0]["file"] for i in answerable} == set(sample.sample["files"])
    assert all(i.lang == "ar" and i.kind == name for i in answerable)
    absent = [i for i in sample.items if not i.answerable]
    assert len(absent) == sum(absent_question(i.id) for i in answerable)
    for item in absent:
        twin = next(i for i in answerable if i.id == item.id.removesuffix("-absent"))
        assert item.kind == f"{name}-absent" and item.exclude_files == (twin.gold_refs[0]["file"],)
    assert load_set(name, limit=2).sample["files"] == sample.sample["files"]  # fixed seed


def test_native_set_missing_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANAD_EVALDATA_DIR", str(tmp_path))
    with pytest.raises(EvalSetError, match="arcd-train"):
        load_set("arcd-train")


def test_first_citation_hit_counts_only_the_first_citation() -> None:
    gold = [("a.txt", 1)]

    def row(cited: list[tuple[str, int]], answerable: bool = True) -> Row:
        return Row(id="x", lang="ar", question="q", answerable=answerable, gold=gold, asked=True,
                   predicted_answerable=bool(cited),
                   citations=[CitedSpan(file=f, paragraph=p, quote="") for f, p in cited])

    rows = [row([("a.txt", 1), ("b.txt", 1)]), row([("b.txt", 1), ("a.txt", 1)]), row([])]
    assert M.first_citation_hit_rate(rows) == pytest.approx(1 / 3)
    assert M.citation_hit_rate(rows) == pytest.approx(2 / 3)
    assert M.answer_metrics(rows)["first_citation_hit"] == pytest.approx(1 / 3)


# --------------------------------------------------------------------------- question text
@pytest.mark.parametrize("typed, tidy", [
    ("- من هو سيد الرجال؟ ال", "من هو سيد الرجال؟"),
    ("ماهو التقويم الميلادي؟", "ما هو التقويم الميلادي؟"),
    ("ماهي عاصمة مصر؟", "ما هي عاصمة مصر؟"),
    ("1) متى ولد ابن خلدون؟", "متى ولد ابن خلدون؟"),
    ("What is the capital?", "What is the capital?"),
    ("ماقيل في الشافعي", "ماقيل في الشافعي"),  # not a question word: left as typed
])
def test_retrieval_text_tidies_what_people_type(typed: str, tidy: str) -> None:
    assert retrieval_text(typed) == tidy


def test_lexical_text_drops_question_words_only() -> None:
    words = lexical_text("ماهي عاصمة مصر؟").split()
    assert "عاصمه" in words and "مصر" in words and "ماهي" not in words and "هي" in words
    assert lexical_text("وين تقع البتراء؟").split() == ["تقع", "البتراء"]
    assert "الكأس" not in lexical_text("متى فاز بالكاس")  # normalised like the index (alef/hamza)


def test_question_cleanup_changes_what_bm25_searches(tmp_path: Path) -> None:
    from qa.answerer import Answerer

    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "a.txt").write_text("تقع مدينة البتراء في الأردن.\n", encoding="utf-8")
    (corpus / "b.txt").write_text("كتب أحدهم: ماهو الطقس، وين السوق؟ ولم يجبه أحد.\n", encoding="utf-8")
    base = Settings(data_dir=tmp_path / "data", embed_model="hash", corpus_paths=[corpus])
    indexer = Indexer(base)
    try:
        indexer.index([corpus])
    finally:
        indexer.close()
    from qa.retrieval import RetrievalMode

    for cleanup, expected in ((False, 2), (True, 1)):
        answerer = Answerer(base.model_copy(update={"question_cleanup": cleanup}))
        try:
            nodes = answerer.retrieve("ماهو وين البتراء", mode=RetrievalMode.LEXICAL)
        finally:
            answerer.close()
        # as typed, "ماهو" is a search term; tidied, only "البتراء" is, which one paragraph has
        assert len({n.node.metadata["file"] for n in nodes}) == expected, (cleanup, [n.node.text for n in nodes])


# --------------------------------------------------------------------------- titles
@pytest.mark.parametrize("text, ok", [
    ("Albert Einstein", True), ("جمال خاشقجي", True), ("قائمة نهائيات كأس العالم", True),
    ("page.html", False), ("000 51f39cb05999d58c", False), ("Microsoft Word - report", False),
    ("Untitled", False), ("scan 0003", False), ("", False), ("2019 12 31", False),
    ("هذه جملة طويلة جدا لا تصلح عنوانا لأنها تتحدث عن أشياء كثيرة في مكان واحد وزمان آخر.", False),
])
def test_reads_as_title(text: str, ok: bool) -> None:
    assert reads_as_title(text) is ok


def test_embedding_title_modes() -> None:
    assert file_name_title("ألبرت_أينشتاين.txt") == "ألبرت أينشتاين"
    assert embedding_title("", "ألبرت_أينشتاين.txt", mode="file_name") == "ألبرت أينشتاين"
    assert embedding_title("", "ألبرت_أينشتاين.txt", mode="document") == ""
    assert embedding_title("Own", "ألبرت_أينشتاين.txt", mode="document") == "Own"
    assert embedding_title("Own", "x.txt", mode="off") == ""
    assert embedding_title("", "000_51f39cb05999d58c.txt", mode="file_name") == ""


def _docx_with_title(title: str) -> bytes:
    from docx import Document

    document = Document()
    document.add_paragraph("نص التقرير.")
    document.core_properties.title = title
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def test_documents_state_their_titles() -> None:
    md = parse_document("# تاريخ الأندلس\n\nفقرة أولى.\n".encode(), file="a.md")
    assert md.own_title == "تاريخ الأندلس" and md.title == "تاريخ الأندلس"
    html = parse_document(b"<html><head><title>Petra &amp; Jordan</title></head><body><p>Text.</p></body></html>",
                          file="a.html")
    assert html.own_title == "Petra & Jordan"
    txt = parse_document("فقرة بلا عنوان.\n".encode(), file="a.txt")
    assert txt.own_title == "" and txt.title == "فقرة بلا عنوان."
    from index.docx_text import extract_docx

    assert extract_docx(_docx_with_title("التقرير السنوي"), max_unpacked_bytes=10**8).title == "التقرير السنوي"
    assert parse_document(_docx_with_title("التقرير السنوي"), file="r.docx").own_title == "التقرير السنوي"


def test_pdf_metadata_title_is_read_and_junk_refused() -> None:
    from index.pdf_text import extract_pdf

    pdf = Path(__file__).resolve().parents[1] / "evals" / "data" / "seeds_pdf"
    first = (pdf / "001_60d84da894ed2980.pdf").read_bytes()  # printed by Chromium (000 is LibreOffice's)
    # what Chromium writes: a file name, not a title
    assert extract_pdf(first, max_pages=100, time_limit_s=60).title == "page.html"
    assert parse_document(first, file="seed.pdf").own_title == ""


def test_title_reaches_the_document_prompt(tmp_path: Path) -> None:
    """With a title mode on, the indexer embeds a document's chunks with its title."""
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "Petra_Jordan.txt").write_text("The city is carved in rock.\n", encoding="utf-8")
    vectors = {}
    for mode in ("off", "file_name"):
        settings = Settings(data_dir=tmp_path / mode, embed_model="hash", embed_title=mode)
        indexer = Indexer(settings)
        try:
            indexer.index([corpus])
            record = next(indexer.catalog.iter_chunks())
            vectors[mode] = indexer.vectors.similarities(HashEmbedding().embed_documents([record.text])[0],
                                                         [record.id])[record.id]
        finally:
            indexer.close()
    assert vectors["off"] == pytest.approx(1.0)  # embedded as the bare text
    assert vectors["file_name"] < 0.99  # embedded with "Petra Jordan | " in front


# --------------------------------------------------------------------------- lexical support
def test_coverage_weighs_rare_terms_most() -> None:
    from index.lexical import LexicalIndex

    texts = ["ولد جبران خليل جبران في بشري", "ولد الشاعر في القاهرة", "ولد العالم في بغداد", "ولد الكاتب في دمشق"]
    lexical = LexicalIndex.build([str(i) for i in range(4)], texts)
    assert lexical.coverage("ولد جبران", texts[0]) == pytest.approx(1.0)
    # the rare name carries most of the weight: a paragraph with only the common verb covers little
    assert lexical.coverage("ولد جبران", texts[1]) < 0.2
    # a term no chunk holds weighs most of all: nothing covers a question about it
    assert lexical.coverage("ولد نابليون", texts[1]) < 0.2
    assert lexical.coverage("", texts[0]) == 0.0


def test_support_rule_answers_low_cosine_questions_the_leader_covers(tmp_path: Path) -> None:
    """Below min_similarity, a leader that holds the question's rare terms is answered when the
    support rule is on, and abstained on when it is off; a question about a term no document
    holds stays abstained."""
    from qa.answerer import Answerer

    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "a.txt").write_text("ولد جبران خليل جبران في بشري عام 1883.\n", encoding="utf-8")
    (corpus / "b.txt").write_text("تقع القاهرة على نهر النيل.\n", encoding="utf-8")
    (corpus / "c.txt").write_text("بغداد عاصمة العراق.\n", encoding="utf-8")
    (corpus / "d.txt").write_text("دمشق من أقدم المدن.\n", encoding="utf-8")
    base = Settings(data_dir=tmp_path / "data", embed_model="hash", min_similarity=0.99, answer_margin=0)
    indexer = Indexer(base)
    try:
        indexer.index([corpus])
    finally:
        indexer.close()
    outcomes = {}
    for floor in (0.0, 0.01):
        answerer = Answerer(base.model_copy(update={"support_floor": floor, "support_coverage": 0.6}))
        try:
            outcomes[floor] = (answerer.ask("أين ولد جبران خليل جبران؟").answerable,
                               answerer.ask("أين ولد نابليون بونابرت؟").answerable)
        finally:
            answerer.close()
    assert outcomes[0.0] == (False, False)
    assert outcomes[0.01] == (True, False)
