"""Quoting: the sentence(s) of a retrieved paragraph that answer, as verbatim citations.

Both answer writers use this module's public functions: the extractive composer quotes the
best paragraphs, and the LLM writer quotes the paragraph each of its claims cites.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from llama_index.core.schema import NodeWithScore

from index.arabic import Analyzer
from index.catalog import Catalog
from index.embedding import SanadEmbedding
from index.paragraphs import Paragraph
from index.vectors import ChunkVectors
from qa.models import Citation, paragraph_url
from qa.sentences import sentence_spans

#: a paragraph of one sentence, or of two sentences within this many characters, is quoted whole
WHOLE_PARAGRAPH_CHARS = 200
#: sentence vectors kept between questions (a long paragraph is split the same way each time)
SENTENCE_CACHE_SIZE = 20_000
#: a stretched quote spans at most this many sentences
MAX_SPAN_SENTENCES = 3
#: weight of the question-term overlap when a paragraph's sentences are compared
OVERLAP_WEIGHT = 0.15


@dataclass(frozen=True)
class Quote:
    paragraph: Paragraph
    start: int  # offsets inside paragraph.text
    end: int
    score: float


def make_citation(ref: int, quote: Quote) -> Citation:
    """The citation of ``quote``: offsets and lines in the document, the quote verbatim."""
    para = quote.paragraph
    text = para.text[quote.start:quote.end]
    line_start = para.line_start + para.text.count("\n", 0, quote.start)
    line_end = line_start + text.count("\n")
    return Citation(
        ref=ref, file=para.file, paragraph=para.paragraph, line_start=line_start,
        line_end=line_end, char_start=para.char_start + quote.start,
        char_end=para.char_start + quote.end, quote=text, score=round(quote.score, 4),
        url=paragraph_url(para.file, para.paragraph, page=para.page_start), page_start=para.page_start,
        page_end=para.page_end, ocr=para.ocr, ocr_confidence=para.ocr_confidence,
    )


class SentenceQuoter:
    """Scores the sentences of retrieved paragraphs against a question.

    Parameters
    ----------
    catalog: where paragraphs (text and offsets) are read from.
    embedder: embeds sentences that have no stored vector (cached, LRU).
    sentence_gap: in a long paragraph, the quote stretches from the best sentence to the
        runner-up when that scores within this of it (and is at most
        :data:`MAX_SPAN_SENTENCES` away); 0 = one sentence.
    vectors: where the sentence vectors stored at index time are read from.
    analyzer: the term analyzer of the question-term overlap.
    """

    def __init__(self, *, catalog: Catalog, embedder: SanadEmbedding, sentence_gap: float,
                 vectors: ChunkVectors | None = None, analyzer: Analyzer | None = None) -> None:
        self.catalog = catalog
        self.embedder = embedder
        self.sentence_gap = sentence_gap
        self.vectors = vectors
        self.analyzer = analyzer or Analyzer()
        self._sentence_vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()

    def embed_sentences(self, texts: list[str]) -> np.ndarray:
        """Document vectors of sentences, from the LRU cache where possible."""
        with self._cache_lock:
            missing = [t for t in dict.fromkeys(texts) if t not in self._sentence_vectors]
        fresh = dict(zip(missing, self.embedder.embed_documents(missing))) if missing else {}
        with self._cache_lock:
            self._sentence_vectors.update(fresh)
            out = []
            for text in texts:
                vec = fresh.get(text)
                if vec is None:
                    vec = self._sentence_vectors[text]
                    self._sentence_vectors.move_to_end(text)
                out.append(vec)
            self._trim_cache()
        return np.stack(out)

    def load_stored_sentences(self, nodes: Sequence[NodeWithScore]) -> None:
        """Put the index-time sentence vectors of ``nodes`` into the cache (no encoding then)."""
        if self.vectors is None:
            return
        wanted = [n for n in nodes if n.node.metadata.get("sentence") is not None]
        stored = self.vectors.sentence_vectors([n.node.node_id for n in wanted]) if wanted else {}
        fresh: dict[str, np.ndarray] = {}
        for node in wanted:
            matrix = stored.get(node.node.node_id)
            text = node.node.get_content()
            spans = sentence_spans(text)
            if matrix is not None and len(spans) == len(matrix):
                fresh.update((text[a:b], row) for (a, b), row in zip(spans, matrix))
        with self._cache_lock:
            for text, vec in fresh.items():
                self._sentence_vectors[text] = vec
                self._sentence_vectors.move_to_end(text)
            self._trim_cache()

    def _trim_cache(self) -> None:
        while len(self._sentence_vectors) > SENTENCE_CACHE_SIZE:
            self._sentence_vectors.popitem(last=False)

    def best_quote(self, question: str, paragraphs: Sequence[Paragraph], query_vector: np.ndarray, *,
                   chunk_score: float) -> Quote | None:
        """The quote of ``paragraphs`` (one chunk's) that answers: a short paragraph whole; else
        its best sentence, stretched to the runner-up sentence when that scores within
        ``sentence_gap`` and lies at most :data:`MAX_SPAN_SENTENCES` sentences away (one span,
        so one citation). Its score is the better of ``chunk_score`` and the sentence's."""
        if not paragraphs:
            return None
        candidates: list[tuple[Paragraph, int, int]] = []
        for para in paragraphs:
            spans = sentence_spans(para.text)
            if len(spans) <= 1 or (len(spans) == 2 and len(para.text) <= WHOLE_PARAGRAPH_CHARS):
                candidates.append((para, 0, len(para.text)))
            else:
                candidates.extend((para, s, e) for s, e in spans)
        if len(candidates) == 1:
            para, s, e = candidates[0]
            return Quote(para, s, e, chunk_score)
        texts = [para.text[s:e] for para, s, e in candidates]
        sims = self.embed_sentences(texts) @ np.asarray(query_vector, dtype=np.float32)
        q_tokens = set(self.analyzer.analyze(question))
        values = []
        for i, text in enumerate(texts):
            tokens = set(self.analyzer.analyze(text))
            overlap = len(q_tokens & tokens) / len(q_tokens) if q_tokens else 0.0
            values.append(float(sims[i]) + OVERLAP_WEIGHT * overlap)
        order = sorted(range(len(texts)), key=lambda i: (-values[i], i))
        best_i = order[0]
        para, s, e = candidates[best_i]
        first = Quote(para, s, e, max(chunk_score, float(sims[best_i])))
        if self.sentence_gap <= 0 or values[best_i] - values[order[1]] >= self.sentence_gap:
            return first
        j = order[1]
        para_j, s_j, e_j = candidates[j]
        if para_j is not para or abs(j - best_i) > MAX_SPAN_SENTENCES - 1:
            return first
        return Quote(para, min(s, s_j), max(e, e_j), first.score)

    def node_paragraphs(self, node: NodeWithScore) -> list[Paragraph]:
        """The catalog paragraphs of a retrieved chunk (those still committed)."""
        meta = node.node.metadata
        found = (self.catalog.paragraph(meta["file"], int(n)) for n in meta["paragraphs"])
        return [p for p in found if p is not None]

    def quote_node(self, question: str, node: NodeWithScore, query_vector: np.ndarray) -> Quote | None:
        """:meth:`best_quote` of a retrieved chunk, scored from its dense similarity."""
        return self.best_quote(question, self.node_paragraphs(node), query_vector,
                               chunk_score=float(node.node.metadata.get("dense") or 0.0))

    def best_sentences(self, text: str, limit: int, query_vector: np.ndarray) -> str:
        """``text`` cut to at most ``limit`` characters: its sentences most similar to the
        question, in their order; a single over-long sentence is cut at a word."""
        spans = sentence_spans(text)
        if len(spans) > 1:
            sims = self.embed_sentences([text[s:e] for s, e in spans]) @ np.asarray(query_vector, np.float32)
            keep: list[int] = []
            used = 0
            for i in np.argsort(-sims):
                length = spans[i][1] - spans[i][0] + 1
                if used + length <= limit or not keep:
                    keep.append(int(i))
                    used += length
            text = " ".join(text[spans[i][0]:spans[i][1]] for i in sorted(keep))
        if len(text) > limit:
            cut = text[:max(limit - 1, 1)]
            text = (cut.rsplit(" ", 1)[0] if " " in cut else cut) + "…"
        return text


__all__ = ["Quote", "SentenceQuoter", "make_citation"]
