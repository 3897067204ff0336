"""The embedded default answerer: quote the sentences that answer, cite each, or abstain.

No language model writes anything here: the answer is a short frame in the question's
language around verbatim quotes of the best paragraphs, each followed by its ``[n]``.
"""

from __future__ import annotations

import re
from typing import Callable, Sequence

import numpy as np
from llama_index.core.schema import NodeWithScore

from index.catalog import Catalog
from index.embedding import SanadEmbedding
from index.vectors import ChunkVectors
from qa.answer_type import answers_count, count_focus, states_count
from qa.models import Answer, Citation, Language
from qa.question_text import lexical_text
from qa.ranker_model import RankerModel
from qa.quotes import Quote, SentenceQuoter, make_citation
from qa.sentences import sentence_spans
from settings import AnswerSettings

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


#: "[1]", "[ 2 ]", "[1, 3]", "[١]" in a document's own text: not markers of ours
_MARKER_LIKE_RE = re.compile(r"\[(\s*\d+(?:\s*[,،]\s*\d+)*\s*)\]")


def unmarked(text: str) -> str:
    """Quoted ``text`` for the answer, its marker-like ``[n]`` written ``(n)``: only Sanad's own
    markers cite, so a document cannot put "HACKED [1]" into an answer."""
    return _MARKER_LIKE_RE.sub(r"(\1)", text)


def frame_answer(citations: Sequence[Citation], language: Language) -> str:
    """The extractive answer text: each citation's quote (:func:`unmarked`; the citation's
    ``quote`` itself stays verbatim) after a frame in ``language``, followed by its ``[n]``."""
    first, more = FRAME[language]
    parts = [f"{first}{unmarked(citations[0].quote)} [{citations[0].ref}]"]
    parts += [f"{more}{unmarked(c.quote)} [{c.ref}]" for c in citations[1:]]
    return "".join(parts)


class ExtractiveComposer:
    """Turns retrieved chunks into a cited extractive answer.

    Parameters
    ----------
    catalog: where paragraphs (text and offsets) are read from.
    embedder: scores a long paragraph's sentences against the question.
    options: the answer settings used here:
        ``min_similarity``: abstain when no chunk's cosine similarity reaches this...
        ``answer_margin``: ...unless the best chunk stands this far above the runners-up (the
        retriever's ``margin``) and reaches ``margin_floor``; 0 turns the rule off.
        ``max_citations``: at most this many paragraphs are cited.
        ``citation_margin``: unless the best paragraph is a clear winner, a further paragraph
        is cited when its fused retrieval score is within this of the leader's and its
        quote's score within this of the best quote's.
        ``sentence_gap``: how far a long paragraph's quote stretches (``qa.quotes``).
        ``answer_type_check``: abstain when an Arabic count question ("كم عدد X") is quoted
        only with text that names X without a number near it (``qa.answer_type``).
    vectors: where the sentence vectors stored at index time are read from.
    quoter: a :class:`~qa.quotes.SentenceQuoter` to share (else one is made here).
    coverage: ``(question terms, text) -> share of the question's IDF weight the text holds``
        (the lexical index's ``coverage``), for the lexical support rule (:meth:`supported`);
        None turns that rule off.
    ranker: the learned ranker's model (``qa.ranker_model``). When the retrieved nodes carry
        its ``probability``, its thresholds decide (:meth:`_compose_by_probability`): abstain
        when the best candidate's probability is below ``abstain_below`` (per question
        language), or when it is below ``overrule_from`` and the fixed rules above abstain;
        cite a further candidate whose probability reaches ``cite_from``.
    """

    def __init__(self, *, catalog: Catalog, embedder: SanadEmbedding, options: AnswerSettings,
                 vectors: ChunkVectors | None = None, quoter: SentenceQuoter | None = None,
                 coverage: Callable[[str, str], float] | None = None, ranker: RankerModel | None = None) -> None:
        self.catalog = catalog
        self.ranker = ranker
        self.coverage = coverage
        self.embedder = embedder
        self.options = options
        self.quoter = quoter or SentenceQuoter(catalog=catalog, embedder=embedder,
                                               sentence_gap=options.sentence_gap, vectors=vectors)

    def compose(self, question: str, language: Language, nodes: Sequence[NodeWithScore],
                *, query_vector: np.ndarray | None = None, question_language: Language | None = None) -> Answer:
        """The cited answer in ``language`` (``question_language``: the language the question is
        written in, which picks the learned ranker's abstention threshold; default ``language``)."""
        if not nodes:
            return Answer(answer=EMPTY_INDEX[language] if self.catalog.counts()["chunks"] == 0
                          else ABSTAIN[language], language=language, answerable=False)
        scored = [(n, n.node.metadata.get("dense")) for n in nodes if n.node.metadata.get("dense") is not None]
        if not scored:
            return Answer(answer=ABSTAIN[language], language=language, answerable=False)
        if query_vector is None:
            query_vector = self.embedder.embed_queries([question])[0]
        self.quoter.load_stored_sentences([n for n, _ in scored])
        if self.ranker is not None and scored[0][0].node.metadata.get("probability") is not None:
            return self._compose_by_probability(question, language, [n for n, _ in scored], query_vector,
                                                question_language)
        return self._compose_by_rules(question, language, nodes, scored, query_vector)

    def _compose_by_rules(self, question: str, language: Language, nodes: Sequence[NodeWithScore],
                          scored: list[tuple[NodeWithScore, float]], query_vector: np.ndarray) -> Answer:
        """The fixed rules: similarity floors and margins (the class docstring)."""
        o = self.options
        # candidates follow the retriever's ranking (sentence rescoring and BM25 included):
        # each paragraph whose fused score is within citation_margin of the leader's, up to
        # max_citations paragraphs, each with the sentence(s) that answer (_best_quote)
        top_fused = max(self._fused(n) for n, _ in scored)
        quotes: list[Quote] = []
        seen: set[tuple[str, int]] = set()
        for node, _ in scored:
            if len(quotes) >= o.max_citations:
                break
            if self._fused(node) < top_fused - o.citation_margin:
                continue
            quote = self.quoter.quote_node(question, node, query_vector)
            if quote is None or (quote.paragraph.file, quote.paragraph.paragraph) in seen:
                continue
            seen.add((quote.paragraph.file, quote.paragraph.paragraph))
            quotes.append(quote)
        # a quote's score is the better of its chunk's and its sentence's similarity, so a
        # long paragraph whose one sentence answers is not diluted below the threshold
        best = max((q.score for q in quotes), default=-1.0)
        margin = nodes[0].node.metadata.get("margin")
        clear = o.answer_margin > 0 and margin is not None and margin >= o.answer_margin
        threshold = o.min_similarity
        if clear and best >= o.margin_floor:
            threshold = min(threshold, best)  # a clear winner: answer even below the threshold
        elif best < threshold and self.supported(question, nodes[0].node.get_content(), best):
            threshold = best  # the leader holds most of what the question names: answer...
            clear = True  # ...with the leader alone (the runners-up are weaker still)
        if not quotes or best < threshold:
            return Answer(answer=ABSTAIN[language], language=language, answerable=False)
        # a clear winner is cited alone; otherwise the close contenders are cited too, when
        # their quote also scores within citation_margin of the best quote
        quotes = quotes[:1] if clear else [
            q for k, q in enumerate(quotes) if k == 0 or q.score >= best - o.citation_margin]
        if o.answer_type_check and not answers_count(
                question, [q.paragraph.text[q.start:q.end] for q in quotes]):
            quotes = self._quote_the_count(question, quotes)
            if not quotes:
                return Answer(answer=ABSTAIN[language], language=language, answerable=False)

        citations = [make_citation(i, q) for i, q in enumerate(quotes, 1)]
        return Answer(answer=frame_answer(citations, language), language=language, answerable=True,
                      citations=citations)

    def _compose_by_probability(self, question: str, language: Language, nodes: Sequence[NodeWithScore],
                                query_vector: np.ndarray, question_language: Language | None) -> Answer:
        """The learned ranker's rule: the leader is cited when its probability reaches
        ``abstain_below``; each further candidate whose probability reaches ``cite_from``
        is cited too (up to ``max_citations`` paragraphs)."""
        assert self.ranker is not None
        abstain = Answer(answer=ABSTAIN[language], language=language, answerable=False)
        best = float(nodes[0].node.metadata["probability"])
        asked_in = question_language or language
        if best < self.ranker.abstain_threshold(asked_in):
            return abstain
        if not self.ranker.overrules(asked_in, best):
            # not sure enough to overrule the fixed rules: they may still abstain (they catch
            # questions about what the documents lack that the probability alone misses)
            by_fused = sorted((NodeWithScore(node=n.node, score=n.node.metadata.get("fused", n.score)) for n in nodes),
                              key=lambda n: (-(n.score or 0.0), n.node.node_id))
            by_fused_scored = [(n, n.node.metadata["dense"]) for n in by_fused if n.node.metadata.get("dense") is not None]
            if not self._compose_by_rules(question, language, by_fused, by_fused_scored, query_vector).answerable:
                return abstain
        quotes: list[Quote] = []
        seen: set[tuple[str, int]] = set()
        for k, node in enumerate(nodes):
            if len(quotes) >= self.options.max_citations:
                break
            if k > 0 and float(node.node.metadata.get("probability") or 0.0) < self.ranker.cite_from:
                break  # the nodes are in probability order
            quote = self.quoter.quote_node(question, node, query_vector)
            if quote is None or (quote.paragraph.file, quote.paragraph.paragraph) in seen:
                continue
            seen.add((quote.paragraph.file, quote.paragraph.paragraph))
            quotes.append(quote)
        if quotes and self.options.answer_type_check and not answers_count(
                question, [q.paragraph.text[q.start:q.end] for q in quotes]):
            quotes = self._quote_the_count(question, quotes)
        if not quotes:
            return abstain
        citations = [make_citation(i, q) for i, q in enumerate(quotes, 1)]
        return Answer(answer=frame_answer(citations, language), language=language, answerable=True,
                      citations=citations)

    def supported(self, question: str, text: str, best: float) -> bool:
        """The lexical support rule: a leader whose quote scores at least ``support_floor`` and
        whose text holds at least ``support_coverage`` of the question's terms, weighted by IDF
        (question words left out), is answered even below ``min_similarity``. Native questions
        are short and score low cosines; a question about something the corpus lacks names a
        term that no paragraph (or only unrelated ones) holds."""
        o = self.options
        if self.coverage is None or o.support_floor <= 0 or best < o.support_floor:
            return False
        return self.coverage(lexical_text(question), text) >= o.support_coverage

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
