"""Answer-type check for Arabic count questions (qa/answer_type.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.embedding import HashEmbedding
from qa.answer_type import answers_count, count_focus, states_count
from qa.extractive import ExtractiveComposer
from tests.composer_fixtures import make_composer, one_file_catalog, retrieved

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
    catalog, chunks = one_file_catalog(tmp_path, TROOPS + "\n")
    nodes = retrieved(chunks, [0.6] * len(chunks), 0.05)
    yield (lambda **o: make_composer(catalog, HashEmbedding(), min_similarity=0.46, **o)), nodes
    catalog.close()


def test_the_composer_abstains_on_a_count_it_cannot_quote(troops_composer) -> None:  # noqa: ANN001
    make, nodes = troops_composer
    tanks = "كم عدد الدبابات الروسية المنتشرة على الحدود مع أوكرانيا؟"
    assert not make().compose(tanks, "ar", nodes).answerable
    assert make(answer_type_check=False).compose(tanks, "ar", nodes).answerable
    # the broken plural جنود is not matched in جندي: no verdict, so the other rules decide
    soldiers = "كم عدد الجنود الروس على الحدود مع أوكرانيا؟"
    answer = make().compose(soldiers, "ar", nodes)
    assert answer.answerable and answer.citations[0].quote == TROOPS


def test_a_sentence_that_states_the_count_replaces_one_that_does_not(tmp_path: Path) -> None:
    """The similarity picks the sentence that repeats the question; the count is in the next."""
    sentences = ["الدبابات الروسية المنتشرة على الحدود مع أوكرانيا كثيرة ومتنوعة ومن طرازات حديثة جدا.",
                 "ويقدر الخبراء العسكريون أنها نحو 1200 دبابة من مختلف الأنواع والأحجام.",
                 "وقال مسؤولون غربيون إن التعزيزات مستمرة منذ أسابيع في المنطقة كلها."]
    text = " ".join(sentences)
    catalog, chunks = one_file_catalog(tmp_path, text + "\n")
    nodes = retrieved(chunks, [0.6] * len(chunks), 0.05)
    question = "كم عدد الدبابات الروسية المنتشرة على الحدود مع أوكرانيا؟"
    off = make_composer(catalog, HashEmbedding(), min_similarity=0.46,
                             answer_type_check=False, sentence_gap=0.0).compose(question, "ar", nodes)
    assert off.citations[0].quote == sentences[0]  # the repeated words win without the check
    on = make_composer(catalog, HashEmbedding(), min_similarity=0.46,
                            sentence_gap=0.0).compose(question, "ar", nodes)
    catalog.close()
    assert on.answerable and on.citations[0].quote == sentences[1]
    assert text[on.citations[0].char_start:on.citations[0].char_end] == sentences[1]  # verbatim
