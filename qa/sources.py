"""Questions that name their source: "بحسب تقرير إيلاف، ..." ("according to Elaph's report").

A news report names its source once, in its header (the masthead, byline or dateline in its
first lines: "إيلاف من لندن:", "NORTH PULSE NETWORK NPN"), and the paragraph that answers does
not repeat it. So neither the paragraph's vector nor its BM25 score can tell that a question
asked "according to Elaph" is about that report. :class:`SourceMatcher` finds the source the
question names and the documents whose header names it; the retriever then gives those
documents' chunks a small bonus (``SANAD_SOURCE_WEIGHT``).
"""

from __future__ import annotations

import threading

from index.arabic import Analyzer, tokenize
from index.catalog import Catalog

#: words that introduce a source ("according to", "citing"), normalised
TRIGGERS = frozenset({"بحسب", "وفق", "وفقا", "نقلا", "طبقا", "according", "citing"})
#: words between the trigger and the name ("بحسب تقرير إيلاف", "بحسب ما نقلته نورث بالس")
FILLERS = frozenset({
    "تقرير", "تقارير", "ما", "نقلته", "نقلت", "ذكرته", "ذكرت", "اوردته", "اوردت", "وكاله", "وكالات",
    "صحيفه", "موقع", "قناه", "شبكه", "انباء", "لتقرير", "لما", "عن", "ل", "الي", "to", "the", "a",
    "report", "reports", "agency", "newspaper", "site", "website", "coverage", "live", "by",
})
#: at most this many fillers are skipped before the name
MAX_FILLERS = 4
#: the header: the document's first characters, where a report names its source (masthead,
#: byline, dateline)
HEADER_CHARS = 400


def named_source(question: str) -> str | None:
    """The first word of the source the question names after "according to" (a raw token,
    fillers such as "تقرير" skipped), or None."""
    tokens = tokenize(question)
    for i, token in enumerate(tokens):
        if token not in TRIGGERS:
            continue
        rest = tokens[i + 1: i + 1 + MAX_FILLERS + 1]
        while rest and rest[0] in FILLERS:
            rest.pop(0)
        return rest[0] if rest else None
    return None


class SourceMatcher:
    """Which indexed documents name a given source in their header (cached per index version)."""

    def __init__(self, catalog: Catalog, *, analyzer: Analyzer | None = None) -> None:
        self.catalog = catalog
        self.analyzer = analyzer or Analyzer()
        self._headers: dict[str, frozenset[str]] = {}
        self._version: dict[str, str] | None = None
        self._lock = threading.Lock()

    def _header_terms(self) -> dict[str, frozenset[str]]:
        version = self.catalog.manifest()  # file -> sha256: changes with any document
        with self._lock:
            if version != self._version:
                headers = {}
                for record in self.catalog.documents():
                    text = self.catalog.document_text(record.file) or ""
                    head = text[:HEADER_CHARS]
                    headers[record.file] = frozenset(self.analyzer.analyze(head))
                self._headers, self._version = headers, version
            return self._headers

    def files_naming(self, question: str) -> set[str]:
        """The documents whose header has the source the question names; empty when it names
        none, when no document matches, or when more than a quarter of them do (then the word
        does not single out reports: "وفقا لتقرير عام 2013" names a year, not a source)."""
        word = named_source(question)
        terms = set(self.analyzer.analyze(word)) if word else set()
        if not terms:
            return set()
        headers = self._header_terms()
        files = {f for f, head in headers.items() if terms <= head}
        return files if 0 < len(files) <= max(1, len(headers) // 4) else set()
