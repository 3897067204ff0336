"""The learned ranking stage's features: what Sanad already computes for each candidate.

One function, :func:`candidate_features`, is used both at question time (the
``learned_ranker`` postprocessor) and to build the training data (``evals.ranker_data``), so
the model always sees features made the same way. Every feature is a float; :data:`FEATURES`
names them in column order, and a model file records that list (``qa.ranker_model``), so a
model made for other features is refused rather than fed the wrong columns.
"""

from __future__ import annotations

import math
import re
from typing import Callable, Sequence

import numpy as np
from llama_index.core.schema import NodeWithScore

from index.arabic import Analyzer
from index.sentences import sentence_spans
from qa.question import Question

#: bump when a feature's meaning changes (a model records the version it was trained with)
FEATURES_VERSION = 2

FEATURES: tuple[str, ...] = (
    # similarity
    "dense", "sentence_best", "sentence_second", "has_sentences",
    # lexical
    "bm25_norm", "bm25_log", "coverage", "term_share", "number_share", "title_share",
    "stem_share", "bigram_share", "sentence_terms", "sentence_stems",
    # answer type
    "type_number", "type_date", "type_person", "type_place", "text_digits",
    # shape
    "length_log", "cross_lingual",
    # position and gaps
    "rank", "dense_rank", "bm25_rank", "score_gap", "dense_gap", "sentence_gap", "bm25_gap",
    # the other candidates
    "same_file", "file_first",
    # the question
    "margin", "top_dense", "top_sentence", "n_terms", "question_ar",
    # each lexical signal against the best candidate's (a pointwise model sees the others so)
    "coverage_gap", "stem_gap", "bigram_gap", "sentence_terms_gap", "sentence_stems_gap", "title_gap",
)

#: column -> the column that holds its gap to the list's best
_GAPPED = {"coverage": "coverage_gap", "stem_share": "stem_gap", "bigram_share": "bigram_gap",
           "sentence_terms": "sentence_terms_gap", "sentence_stems": "sentence_stems_gap", "title_share": "title_gap"}

#: a rank past the candidate lists (a chunk that one retriever did not return)
UNRANKED = 50.0

_WORDS = Analyzer(stem=False)
_STEMS = Analyzer(stem=True)
_DIGITS = re.compile(r"\d")
_ARABIC = re.compile(r"[\u0600-\u06FF]")
_TYPES = ("number", "date", "person", "place")


def _arabic_text(text: str) -> bool:
    sample = text[:400]
    arabic = len(_ARABIC.findall(sample))
    return arabic * 2 > sum(ch.isalpha() for ch in sample)


def candidate_features(question: Question, nodes: Sequence[NodeWithScore], *,
                       coverage: Callable[[str, str], float] | None,
                       title: Callable[[str], str]) -> np.ndarray:
    """One row per node (in the given order, which is the current ranking), :data:`FEATURES` columns.

    ``coverage``: ``(lexical text, paragraph) -> IDF-weighted share of the question's terms``
    (the BM25 index's); ``title``: ``file -> the document's title``.
    """
    rows = np.zeros((len(nodes), len(FEATURES)), dtype=np.float32)
    if not nodes:
        return rows
    metas = [n.node.metadata for n in nodes]
    dense = [m["dense"] if m.get("dense") is not None else -1.0 for m in metas]
    sentence = [m["sentence"] if m.get("sentence") is not None else d for m, d in zip(metas, dense)]
    top_score = float(nodes[0].score or 0.0)
    top_dense = max(dense)
    top_sentence = max(sentence)
    terms = set(question.terms)
    stems = set(_STEMS.analyze(" ".join(question.terms)))
    bigrams = set(zip(question.terms, question.terms[1:]))
    numbers = {t for t in terms if _DIGITS.search(t)}
    qtype = question.answer_type
    first_rank: dict[str, int] = {}
    file_counts: dict[str, int] = {}
    for k, m in enumerate(metas):
        first_rank.setdefault(m["file"], k)
        file_counts[m["file"]] = file_counts.get(m["file"], 0) + 1
    titles: dict[str, set[str]] = {}
    for k, (n, m) in enumerate(zip(nodes, metas)):
        text = n.node.get_content()
        tokens = _WORDS.analyze(text)
        words = set(tokens)
        text_stems = set(_STEMS.analyze(text))
        pairs = set(zip(tokens, tokens[1:]))
        best_terms = best_stems = 0.0
        for start, end in sentence_spans(text):
            sentence_words = _WORDS.analyze(text[start:end])
            if terms:
                best_terms = max(best_terms, len(terms & set(sentence_words)) / len(terms))
            if stems:
                best_stems = max(best_stems, len(stems & set(_STEMS.analyze(" ".join(sentence_words)))) / len(stems))
        file = m["file"]
        if file not in titles:
            titles[file] = set(_WORDS.analyze(title(file)))
        lexical = m.get("lexical")
        top_lexical = m.get("lexical_top") or 1.0
        bm25_norm = (lexical or 0.0) / top_lexical
        second = m.get("sentence2")
        rows[k] = (
            dense[k], sentence[k], second if second is not None else sentence[k],
            1.0 if m.get("sentence") is not None else 0.0,
            bm25_norm, math.log1p(lexical or 0.0),
            coverage(question.lexical, text) if coverage is not None else 0.0,
            len(terms & words) / len(terms) if terms else 0.0,
            len(numbers & words) / len(numbers) if numbers else -1.0,
            len(terms & titles[file]) / len(terms) if terms else 0.0,
            len(stems & text_stems) / len(stems) if stems else 0.0,
            len(bigrams & pairs) / len(bigrams) if bigrams else 0.0,
            best_terms, best_stems,
            *(1.0 if qtype == t else 0.0 for t in _TYPES),
            min(len(_DIGITS.findall(text)), 20) / 20.0,
            math.log1p(len(text)),
            1.0 if (question.language == "ar") != _arabic_text(text) else 0.0,
            float(k + 1),
            float(m["dense_rank"]) if m.get("dense_rank") is not None else UNRANKED,
            float(m["lexical_rank"]) if m.get("lexical_rank") is not None else UNRANKED,
            top_score - float(n.score or 0.0), top_dense - dense[k], top_sentence - sentence[k], 1.0 - bm25_norm,
            float(file_counts[file] - 1), 1.0 if first_rank[file] == k else 0.0,
            m["margin"] if m.get("margin") is not None else 0.0, top_dense, top_sentence,
            float(len(terms)), 1.0 if question.language == "ar" else 0.0,
            *([0.0] * len(_GAPPED)),
        )
    for name, gap_name in _GAPPED.items():
        col, gap = FEATURES.index(name), FEATURES.index(gap_name)
        rows[:, gap] = rows[:, col].max() - rows[:, col]
    return rows


__all__ = ["FEATURES", "FEATURES_VERSION", "UNRANKED", "candidate_features"]
