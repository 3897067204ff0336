"""The embedded default answerer: quote the sentences that answer, cite each, or abstain.

No language model writes anything here: the answer is a short frame in the question's
language around verbatim quotes of the best paragraphs, each followed by its ``[n]``.
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
from qa.answer_type import answers_count, count_focus, states_count
from qa.models import Answer, Citation, Language, paragraph_url
from qa.sentences import sentence_spans

ABSTAIN = {
    "ar": "لا تتضمن المستندات المتاحة إجابة عن هذا السؤال.",
    "en": "The documents do not contain an answer to this question.",
}
EMPTY_INDEX = {
    "ar": "لا توجد مستندات مفهرسة بعد.",
    "en": "No documents are indexed yet.",
}
FRAME = {
    "ar": ("بحسب المستندات: ", "\n\nوورد أيضاً: "),
    "en": ("According to the documents (quoted in the source language): ", "\n\nAlso: "),
}

#: a paragraph of one sentence, or of two sentences within this many characters, is quoted whole
WHOLE_PARAGRAPH_CHARS = 200
#: sentence vectors kept between questions (a long paragraph is split the same way each time)
SENTENCE_CACHE_SIZE = 20_000
#: a further paragraph is cited when its fused retrieval score is within this of the leader's
CITATION_MARGIN = 0.10
#: a quote stretches to the paragraph's runner-up sentence when it scores within this of the best
SENTENCE_GAP = 0.05
#: ...and the span from one to the other is at most this many sentences
MAX_SPAN_SENTENCES = 3
#: weight of the question-term overlap when a paragraph's sentences are compared
OVERLAP_WEIGHT = 0.15


@dataclass(frozen=True)
class Quote:
    paragraph: Paragraph
    start: int  # offsets inside paragraph.text
    end: int
    score: float


class ExtractiveComposer:
    """Turns retrieved chunks into a cited extractive answer.

    Parameters
    ----------
    catalog: where paragraphs (text and offsets) are read from.
    embedder: scores a long paragraph's sentences against the question.
    min_similarity: abstain when no chunk's cosine similarity reaches this...
    answer_margin: ...unless the best chunk stands this far above the runners-up (the
        retriever's ``margin``) and reaches ``margin_floor``; 0 turns the rule off.
    max_citations: at most this many paragraphs are cited.
    citation_margin: unless the best paragraph is a clear winner (``answer_margin``), a
        further paragraph is cited when its fused retrieval score is within this of the
        leader's and its quote's score within this of the best quote's.
    sentence_gap: in a long paragraph, the quote stretches from the best sentence to the
        runner-up when that scores within this of it (and is at most
        :data:`MAX_SPAN_SENTENCES` away); 0 = one sentence.
    check_answer_type: abstain when an Arabic count question ("كم عدد X") is quoted only
        with text that names X without a number near it (``qa.answer_type``).
    vectors: where the sentence vectors stored at index time are read from (sentences not
        found there are embedded, and cached).
    """

    def __init__(self, *, catalog: Catalog, embedder: SanadEmbedding, min_similarity: float,
                 max_citations: int = 3, answer_margin: float = 0.0, margin_floor: float = 0.0,
                 vectors: ChunkVectors | None = None, analyzer: Analyzer | None = None,
                 citation_margin: float = CITATION_MARGIN, sentence_gap: float = SENTENCE_GAP,
                 check_answer_type: bool = True) -> None:
        self.catalog = catalog
        self.embedder = embedder
        self.min_similarity = min_similarity
        self.answer_margin = answer_margin
        self.margin_floor = margin_floor
        self.max_citations = max_citations
        self.citation_margin = citation_margin
        self.sentence_gap = sentence_gap
        self.check_answer_type = check_answer_type
        self.vectors = vectors
        self.analyzer = analyzer or Analyzer()
        self._sentence_vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()

    def _embed_sentences(self, texts: list[str]) -> np.ndarray:
        """Document vectors of sentences, from an LRU cache where possible."""
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
            while len(self._sentence_vectors) > SENTENCE_CACHE_SIZE:
                self._sentence_vectors.popitem(last=False)
        return np.stack(out)

    def _load_stored_sentences(self, nodes: Sequence[NodeWithScore]) -> None:
        """Put the index-time sentence vectors of ``nodes`` into the cache (no encoding then)."""
        if self.vectors is None:
            return
        with self._cache_lock:
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
            while len(self._sentence_vectors) > SENTENCE_CACHE_SIZE:
                self._sentence_vectors.popitem(last=False)

    def compose(self, question: str, language: Language, nodes: Sequence[NodeWithScore],
                *, query_vector: np.ndarray | None = None) -> Answer:
        if not nodes:
            return Answer(answer=EMPTY_INDEX[language] if self.catalog.counts()["chunks"] == 0
                          else ABSTAIN[language], language=language, answerable=False)
        scored = [(n, n.node.metadata.get("dense")) for n in nodes if n.node.metadata.get("dense") is not None]
        if not scored:
            return Answer(answer=ABSTAIN[language], language=language, answerable=False)
        if query_vector is None:
            query_vector = self.embedder.embed_queries([question])[0]
        self._load_stored_sentences([n for n, _ in scored])
        # candidates follow the retriever's ranking (sentence rescoring and BM25 included):
        # each paragraph whose fused score is within citation_margin of the leader's, up to
        # max_citations paragraphs, each with the sentence(s) that answer (_best_quote)
        top_fused = max(self._fused(n) for n, _ in scored)
        quotes: list[Quote] = []
        seen: set[tuple[str, int]] = set()
        for node, _ in scored:
            if len(quotes) >= self.max_citations:
                break
            if self._fused(node) < top_fused - self.citation_margin:
                continue
            quote = self._best_quote(question, node, query_vector)
            if quote is None or (quote.paragraph.file, quote.paragraph.paragraph) in seen:
                continue
            seen.add((quote.paragraph.file, quote.paragraph.paragraph))
            quotes.append(quote)
        # a quote's score is the better of its chunk's and its sentence's similarity, so a
        # long paragraph whose one sentence answers is not diluted below the threshold
        best = max((q.score for q in quotes), default=-1.0)
        margin = nodes[0].node.metadata.get("margin")
        clear = self.answer_margin > 0 and margin is not None and margin >= self.answer_margin
        threshold = self.min_similarity
        if clear and best >= self.margin_floor:
            threshold = min(threshold, best)  # a clear winner: answer even below the threshold
        if not quotes or best < threshold:
            return Answer(answer=ABSTAIN[language], language=language, answerable=False)
        # a clear winner is cited alone; otherwise the close contenders are cited too, when
        # their quote also scores within citation_margin of the best quote
        quotes = quotes[:1] if clear else [
            q for k, q in enumerate(quotes) if k == 0 or q.score >= best - self.citation_margin]
        if self.check_answer_type and not answers_count(
                question, [q.paragraph.text[q.start:q.end] for q in quotes]):
            quotes = self._quote_the_count(question, quotes)
            if not quotes:
                return Answer(answer=ABSTAIN[language], language=language, answerable=False)

        citations = [self._citation(i, q) for i, q in enumerate(quotes, 1)]
        first, more = FRAME[language]
        parts = [f"{first}{citations[0].quote} [1]"]
        parts += [f"{more}{c.quote} [{c.ref}]" for c in citations[1:]]
        return Answer(answer="".join(parts), language=language, answerable=True, citations=citations)

    @staticmethod
    def _quote_the_count(question: str, quotes: list[Quote]) -> list[Quote]:
        """A count question whose quotes name the counted thing without a number near it: quote
        instead a sentence of the cited paragraphs that states the count, or nothing (abstain).
        (Taking any sentence with a number was tried: it answered the seeds' "how many tanks"
        from a sentence counting soldiers.)"""
        noun = count_focus(question)
        if noun is None:
            return quotes
        for k, quote in enumerate(quotes):
            para = quote.paragraph
            for start, end in sentence_spans(para.text):
                if states_count(para.text[start:end], noun) is True:
                    return [Quote(para, start, end, quote.score)] + [q for i, q in enumerate(quotes) if i != k]
        return []

    @staticmethod
    def _fused(node: NodeWithScore) -> float:
        return float(node.score if node.score is not None else node.node.metadata.get("dense") or 0.0)

    def _best_quote(self, question: str, node: NodeWithScore, query_vector: np.ndarray) -> Quote | None:
        """The quote of ``node`` that answers: a short paragraph whole; else its best sentence,
        stretched to the runner-up sentence when that scores within ``sentence_gap`` and lies
        at most :data:`MAX_SPAN_SENTENCES` sentences away (one span, so one citation)."""
        meta = node.node.metadata
        paragraphs = [p for p in (self.catalog.paragraph(meta["file"], n) for n in meta["paragraphs"]) if p]
        if not paragraphs:
            return None
        chunk_score = float(meta.get("dense") or 0.0)
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
        sims = self._embed_sentences(texts) @ np.asarray(query_vector, dtype=np.float32)
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

    @staticmethod
    def _citation(ref: int, quote: Quote) -> Citation:
        para = quote.paragraph
        text = para.text[quote.start:quote.end]
        line_start = para.line_start + para.text.count("\n", 0, quote.start)
        line_end = line_start + text.count("\n")
        return Citation(
            ref=ref, file=para.file, paragraph=para.paragraph, line_start=line_start,
            line_end=line_end, char_start=para.char_start + quote.start,
            char_end=para.char_start + quote.end, quote=text, score=round(quote.score, 4),
            url=paragraph_url(para.file, para.paragraph),
            page_start=para.page_start, page_end=para.page_end,
        )
