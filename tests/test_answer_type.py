"""Answer-type check for Arabic count questions (qa/answer_type.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from llama_index.core.schema import NodeWithScore, TextNode

from index.catalog import Catalog
from index.chunks import build_chunks
from index.embedding import HashEmbedding
from index.paragraphs import load_document
from qa.answer_type import answers_count, count_focus, states_count
from qa.extractive import ExtractiveComposer

TROOPS = ("وحشد الكرملين أكثر من 100 ألف جندي على حدود روسيا مع جارتها أوكرانيا، "
          "بالإضافة لدبابات ومدفعية ومعدات ثقيلة أخرى.")


@pytest.mark.parametrize(("question", "noun"), [
    ("كم عدد الدبابات الروسية المنتشرة على الحدود مع أوكرانيا؟", "الدبابات"),
    ("ما عدد الدبلوماسيين الذين طردوا؟", "الدبلوماسيين"),
    ("كم الدول التي شاركت في الاجتماع؟", "الدول"),
    ("كم استمر اجتماع مجلس روسيا والناتو؟", None),  # how long: not a count of a noun
    ("متى عقد الاجتماع؟", None),
    ("How many tanks are on the border?", None),  # English over Arabic text: not checked
])
def test_count_focus(question: str, noun: str | None) -> None:
    assert count_focus(question) == noun


def test_a_number_near_the_noun_states_the_count() -> None:
    assert states_count("ألغى الحلف اعتماد 8 دبلوماسيين من البعثة الروسية.", "الدبلوماسيين") is True
    assert states_count("نشرت روسيا ثلاثمائة دبابة وعشرات الدبابات الأخرى.", "الدبابات") is True
    assert states_count("وصلت خمسة آلاف دبابة.", "الدبابات") is True
    assert states_count("في المدينة جامعتان - جامعة نيوكاسل وجامعة نورثمبريا.", "الجامعات") is True  # dual


def test_the_noun_without_a_number_does_not() -> None:
    assert states_count(TROOPS, "الدبابات") is False  # 100 ألف counts soldiers, 9 words away
    assert states_count("قال ستولتنبرغ إن الاجتماع كان صريحا.", "الدبابات") is None  # not named


def test_answers_count_only_fails_a_quote_that_names_the_noun_without_a_number() -> None:
    question = "كم عدد الدبابات الروسية المنتشرة على الحدود مع أوكرانيا؟"
    assert not answers_count(question, [TROOPS])
    assert answers_count(question, [TROOPS, "ونشرت روسيا 1200 دبابة قرب الحدود."])
    assert answers_count(question, ["قال ستولتنبرغ إن الاجتماع كان صريحا."])  # no verdict: others decide
    assert answers_count("من ترأس الاجتماع؟", [TROOPS])  # not a count question


@pytest.fixture
def troops_composer(tmp_path: Path):  # noqa: ANN201
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "a.txt").write_text(TROOPS + "\n", encoding="utf-8")
    doc = load_document(corpus / "a.txt", root=corpus)
    chunks = build_chunks(doc)
    catalog = Catalog(tmp_path / "catalog.sqlite3")
    catalog.replace_document(doc, chunks, size_bytes=300)
    nodes = [NodeWithScore(node=TextNode(id_=c.id, text=c.text, metadata={
        "file": c.file, "paragraphs": list(c.paragraphs), "dense": 0.6, "lexical": None, "margin": 0.05}),
        score=0.6) for c in chunks]
    yield (lambda **o: ExtractiveComposer(catalog=catalog, embedder=HashEmbedding(), min_similarity=0.46, **o)), nodes
    catalog.close()


def test_the_composer_abstains_on_a_count_it_cannot_quote(troops_composer) -> None:  # noqa: ANN001
    make, nodes = troops_composer
    tanks = "كم عدد الدبابات الروسية المنتشرة على الحدود مع أوكرانيا؟"
    assert not make().compose(tanks, "ar", nodes).answerable
    assert make(check_answer_type=False).compose(tanks, "ar", nodes).answerable
    # the broken plural جنود is not matched in جندي: no verdict, so the other rules decide
    soldiers = "كم عدد الجنود الروس على الحدود مع أوكرانيا؟"
    answer = make().compose(soldiers, "ar", nodes)
    assert answer.answerable and answer.citations[0].quote == TROOPS


def test_a_sentence_that_states_the_count_replaces_one_that_does_not(tmp_path: Path) -> None:
    """The similarity picks the sentence that repeats the question; the count is in the next."""
    corpus = tmp_path / "c"
    corpus.mkdir()
    sentences = ["الدبابات الروسية المنتشرة على الحدود مع أوكرانيا كثيرة ومتنوعة ومن طرازات حديثة جدا.",
                 "ويقدر الخبراء العسكريون أنها نحو 1200 دبابة من مختلف الأنواع والأحجام.",
                 "وقال مسؤولون غربيون إن التعزيزات مستمرة منذ أسابيع في المنطقة كلها."]
    text = " ".join(sentences)
    (corpus / "a.txt").write_text(text + "\n", encoding="utf-8")
    doc = load_document(corpus / "a.txt", root=corpus)
    chunks = build_chunks(doc)
    catalog = Catalog(tmp_path / "catalog.sqlite3")
    catalog.replace_document(doc, chunks, size_bytes=500)
    nodes = [NodeWithScore(node=TextNode(id_=c.id, text=c.text, metadata={
        "file": c.file, "paragraphs": list(c.paragraphs), "dense": 0.6, "lexical": None, "margin": 0.05}),
        score=0.6) for c in chunks]
    question = "كم عدد الدبابات الروسية المنتشرة على الحدود مع أوكرانيا؟"
    off = ExtractiveComposer(catalog=catalog, embedder=HashEmbedding(), min_similarity=0.46,
                             check_answer_type=False, sentence_gap=0.0).compose(question, "ar", nodes)
    assert off.citations[0].quote == sentences[0]  # the repeated words win without the check
    on = ExtractiveComposer(catalog=catalog, embedder=HashEmbedding(), min_similarity=0.46,
                            sentence_gap=0.0).compose(question, "ar", nodes)
    catalog.close()
    assert on.answerable and on.citations[0].quote == sentences[1]
    assert text[on.citations[0].char_start - doc.paragraphs[0].char_start:][:len(sentences[1])] == sentences[1]
