"""Tests for index.arabic (normalisation, tokens, analyzer) and index.lexical (BM25)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from index.arabic import (
    ARABIC_STOPWORDS,
    ENGLISH_STOPWORDS,
    Analyzer,
    normalize_arabic,
    tokenize,
)
from index.lexical import LexicalIndex

SEED = Path(__file__).resolve().parent.parent / "seeds" / "001_60d84da894ed2980.txt"

ENGLISH_LINES = [
    "The NATO-Russia Council was established in 2002 and suspended in 2019.",
    "Jens Stoltenberg, the NATO Secretary General, chaired the meeting in Brussels.",
    "Running meetings about energy prices continued through the winter.",
]


# --------------------------------------------------------------------------- #
# normalize_arabic                                                             #
# --------------------------------------------------------------------------- #


def test_removes_diacritics() -> None:
    assert normalize_arabic("كَتَبَ") == "كتب"
    assert normalize_arabic("مُحَمَّدٌ") == "محمد"
    assert normalize_arabic("عُلِّقَتْ") == "علقت"
    assert normalize_arabic("رحمٰن") == "رحمن"  # superscript alef U+0670
    assert normalize_arabic("قال\u06d6") == "قال"  # Quranic mark


def test_removes_tatweel() -> None:
    assert normalize_arabic("العـــربية") == "العربيه"


@pytest.mark.parametrize("src", ["أحمد", "إحمد", "آحمد", "ٱحمد"])
def test_alef_forms(src: str) -> None:
    assert normalize_arabic(src) == "احمد"


def test_alef_maqsura_ta_marbuta_hamza_carriers() -> None:
    assert normalize_arabic("مستشفى") == "مستشفي"
    assert normalize_arabic("مدرسة") == "مدرسه"
    assert normalize_arabic("مؤتمر") == "موتمر"
    assert normalize_arabic("رئيس") == "رييس"


def test_digits() -> None:
    assert normalize_arabic("٢٠١٩") == "2019"
    assert normalize_arabic("۲۰۱۹") == "2019"
    assert normalize_arabic("٠١٢٣٤٥٦٧٨٩") == "0123456789"
    assert normalize_arabic("۰۱۲۳۴۵۶۷۸۹") == "0123456789"


def test_punctuation_to_space() -> None:
    assert normalize_arabic("نعم،لا؛ربما؟«هنا»") == "نعم لا ربما  هنا "
    assert tokenize("نعم،لا؛ربما؟«هنا»") == ["نعم", "لا", "ربما", "هنا"]


def test_zero_width_removed() -> None:
    for ch in ("\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u061c", "\ufeff"):
        assert normalize_arabic(f"الن{ch}اتو") == "الناتو"


def test_latin_casefold() -> None:
    assert normalize_arabic("NATO Straße") == "nato strasse"
    assert normalize_arabic("Stoltenberg قال") == "stoltenberg قال"


def test_presentation_forms() -> None:
    assert normalize_arabic("ﻻ") == "لا"
    assert normalize_arabic("ﺍﻟﺴﻼﻡ") == "السلام"


def test_idempotent_examples() -> None:
    for text in ("أَحْمَدُ في المدرسةِ ٢٠١٩، «نعم»", "ﻷن", "İstanbul ẞ", ""):
        once = normalize_arabic(text)
        assert normalize_arabic(once) == once


# --------------------------------------------------------------------------- #
# tokenize                                                                     #
# --------------------------------------------------------------------------- #


def test_tokenize_numbers() -> None:
    toks = tokenize("بلغت النسبة 2.5 في المئة عام 2019")
    assert "2.5" in toks
    assert "2019" in toks
    assert tokenize("٢٫٥") == ["2.5"]
    assert tokenize("و2019 و٢٠١٩ 2019م") == ["و", "2019", "و", "2019", "2019", "م"]
    # end-of-sentence dot is not part of the number; dates split into parts
    assert tokenize("in 2019.") == ["in", "2019"]
    assert tokenize("2022.01.12") == ["2022", "01", "12"]


def test_tokenize_latin_inside_arabic() -> None:
    toks = tokenize("قال Stoltenberg إن NATO مستعد")
    assert toks == ["قال", "stoltenberg", "ان", "nato", "مستعد"]


def test_tokenize_drops_underscore_and_symbols() -> None:
    assert tokenize("foo_bar + - @ #") == ["foo", "bar"]
    assert tokenize("") == []


# --------------------------------------------------------------------------- #
# Analyzer                                                                     #
# --------------------------------------------------------------------------- #


def test_stopword_lists_are_normalised() -> None:
    assert len(ARABIC_STOPWORDS) >= 150
    assert len(ENGLISH_STOPWORDS) >= 120
    for w in ARABIC_STOPWORDS:
        assert normalize_arabic(w) == w
    for w in ("في", "من", "الي", "علي", "ان", "التي", "الذي", "هذه", "وقد", "وفي"):
        assert w in ARABIC_STOPWORDS
    for w in ("the", "of", "and", "who", "what", "which"):
        assert w in ENGLISH_STOPWORDS


def test_analyzer_drops_stopwords() -> None:
    a = Analyzer()
    assert a.analyze("من هو الذي في على إلى") == []
    assert a.analyze("Who was the president of the council") == ["presid", "council"]
    assert Analyzer(stopwords=False).analyze("في") == ["في"]


def test_analyzer_stems() -> None:
    a = Analyzer()
    stems = {a.analyze(w)[0] for w in ("الناتو", "والناتو", "للناتو", "بالناتو", "وللناتو")}
    assert len(stems) == 1
    assert a.analyze("ويترأس") == a.analyze("ترأس")
    assert a.analyze("الحكومة") == a.analyze("حكومة") == a.analyze("حكومات")
    assert a.analyze("meetings") == a.analyze("meeting") == ["meet"]
    assert a.analyze("2019 2.5") == ["2019", "2.5"]
    assert Analyzer(stem=False).analyze("والناتو meetings") == ["والناتو", "meetings"]


# --------------------------------------------------------------------------- #
# LexicalIndex                                                                 #
# --------------------------------------------------------------------------- #


def _seed_corpus() -> tuple[list[str], list[str]]:
    ids: list[str] = []
    texts: list[str] = []
    for n, line in enumerate(SEED.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            ids.append(f"L{n}")
            texts.append(line)
    for n, line in enumerate(ENGLISH_LINES, start=1):
        ids.append(f"E{n}")
        texts.append(line)
    return ids, texts


@pytest.fixture(scope="module")
def corpus() -> tuple[list[str], list[str]]:
    return _seed_corpus()


@pytest.fixture(scope="module")
def index(corpus: tuple[list[str], list[str]]) -> LexicalIndex:
    ids, texts = corpus
    return LexicalIndex.build(ids, texts, stamp="stamp-1")


def test_seed_line_19_is_the_chair_paragraph(corpus: tuple[list[str], list[str]]) -> None:
    ids, texts = corpus
    assert "ويترأس الاجتماع" in texts[ids.index("L19")]


def test_arabic_question_ranks_paragraph(index: LexicalIndex) -> None:
    hits = index.search("من ترأس اجتماع مجلس روسيا والناتو", k=10)
    top = [doc_id for doc_id, _ in hits[:3]]
    assert "L19" in top
    scores = [s for _, s in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(s > 0 for s in scores)


def test_proclitic_forms_find_doc(index: LexicalIndex) -> None:
    for q in ("الناتو", "والناتو", "للناتو"):
        found = {doc_id for doc_id, _ in index.search(q, k=100)}
        assert {"L4", "L19", "L21", "L29"} <= found, q


def test_digits_query(index: LexicalIndex, corpus: tuple[list[str], list[str]]) -> None:
    ids, texts = corpus
    expected = {i for i, t in zip(ids, texts) if "2019" in t}
    assert {"L15", "L17", "E1"} <= expected
    assert {doc_id for doc_id, _ in index.search("2019", k=100)} == expected
    assert {doc_id for doc_id, _ in index.search("٢٠١٩", k=100)} == expected
    assert {doc_id for doc_id, _ in index.search("في ۲۰۱۹؟", k=100)} == expected


def test_english_query(index: LexicalIndex) -> None:
    hits = index.search("Who chaired the NATO meeting?", k=3)
    assert hits[0][0] == "E2"


def test_k_limits_and_large_k(index: LexicalIndex) -> None:
    assert len(index.search("روسيا", k=2)) == 2
    big = index.search("روسيا", k=10_000)
    assert 2 < len(big) <= len(index)
    assert index.search("روسيا", k=0) == []


def test_unknown_or_empty_query(index: LexicalIndex) -> None:
    assert index.search("xyzzyplugh") == []
    assert index.search("") == []
    assert index.search("في من على") == []  # only stopwords
    assert index.search("   ،؟ ") == []


def test_empty_index(tmp_path: Path) -> None:
    idx = LexicalIndex.build([], [], stamp="empty")
    assert len(idx) == 0
    assert idx.ids == []
    assert idx.search("روسيا") == []
    idx.save(tmp_path / "lex")
    loaded = LexicalIndex.load(tmp_path / "lex")
    assert len(loaded) == 0
    assert loaded.stamp == "empty"
    assert loaded.search("روسيا") == []


def test_docs_without_terms(tmp_path: Path) -> None:
    only_stop = LexicalIndex.build(["a", "b"], ["في من", ""])
    assert len(only_stop) == 2
    assert only_stop.search("في") == []
    mixed = LexicalIndex.build(["a", "b", "c"], ["", "روسيا والناتو", "في"])
    assert [doc_id for doc_id, _ in mixed.search("روسيا")] == ["b"]
    mixed.save(tmp_path / "mixed")
    assert LexicalIndex.load(tmp_path / "mixed").search("روسيا") == mixed.search("روسيا")


def test_duplicate_ids_rejected() -> None:
    with pytest.raises(ValueError):
        LexicalIndex.build(["a", "b", "a"], ["x", "y", "z"])


def test_length_mismatch_rejected() -> None:
    with pytest.raises(ValueError):
        LexicalIndex.build(["a", "b"], ["x"])


def test_save_load_roundtrip(index: LexicalIndex, tmp_path: Path) -> None:
    target = tmp_path / "indexes" / "lexical"
    index.save(target)
    loaded = LexicalIndex.load(target)
    assert loaded.stamp == "stamp-1"
    assert loaded.ids == index.ids
    assert len(loaded) == len(index)
    for q in ("من ترأس اجتماع مجلس روسيا والناتو", "2019", "NATO Stoltenberg", "xyzzy"):
        assert loaded.search(q, k=20) == index.search(q, k=20)


def test_save_replaces_atomically(index: LexicalIndex, tmp_path: Path) -> None:
    target = tmp_path / "lex"
    LexicalIndex.build(["x"], ["قديم"], stamp="old").save(target)
    (target / "stray.txt").write_text("left over", encoding="utf-8")
    index.save(target)
    loaded = LexicalIndex.load(target)
    assert loaded.stamp == "stamp-1"
    assert not (target / "stray.txt").exists()
    # no temp or old siblings left behind
    assert [p.name for p in tmp_path.iterdir()] == ["lex"]


def test_load_missing_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        LexicalIndex.load(tmp_path / "nope")
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(FileNotFoundError):
        LexicalIndex.load(tmp_path / "empty_dir")


def test_load_uses_stored_analyzer_settings(tmp_path: Path) -> None:
    idx = LexicalIndex.build(["a"], ["في الناتو"], analyzer=Analyzer(stopwords=False, stem=False))
    idx.save(tmp_path / "lex")
    loaded = LexicalIndex.load(tmp_path / "lex")
    assert [d for d, _ in loaded.search("في")] == ["a"]
    assert loaded.search("ناتو") == []


# --------------------------------------------------------------------------- #
# Properties                                                                   #
# --------------------------------------------------------------------------- #

_arabicish = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=0x0600, max_codepoint=0x06FF),
        st.characters(min_codepoint=0xFB50, max_codepoint=0xFEFF),
        st.sampled_from(list(" .,0123456789abcXYZ\u200b\u200c\u200f\ufeffİẞß")),
    ),
    max_size=60,
)


@settings(max_examples=100, deadline=None)
@given(st.one_of(st.text(), _arabicish))
def test_normalize_idempotent(text: str) -> None:
    once = normalize_arabic(text)
    assert normalize_arabic(once) == once


@settings(max_examples=100, deadline=None)
@given(st.one_of(st.text(), _arabicish))
def test_analyze_never_raises(text: str) -> None:
    terms = Analyzer().analyze(text)
    assert all(isinstance(t, str) and t for t in terms)
    assert Analyzer().analyze(normalize_arabic(text)) == terms
    assert Analyzer(stem=False, stopwords=False).analyze(text) == tokenize(text)
