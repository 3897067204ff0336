"""The answer pipeline (``qa.answerer``): one stream for every answer, retrieval through
llama-index's ``retrieve()``, filters instead of eval-only options, and the settings reaching
every part that uses them (the LLM writer's evidence included). Hashing embedder: fast."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from llama_index.core.callbacks import CallbackManager, CBEventType
from llama_index.core.callbacks.base_handler import BaseCallbackHandler

from evals.runner import run_cli
from index.embedding import HashEmbedding
from index.indexer import Indexer
from qa.answerer import Answerer
from qa.extractive import FRAME
from qa.retrieval import HybridRetriever, RetrievalMode, exclude_files
from settings import Settings
from tests.composer_fixtures import one_file_catalog, retrieved
from tests.llm_fixtures import FakeOpenAI
from tests.test_generative_eval import copy_first_paragraph

DOCS = {
    "alpha.txt": "The Alpha river flows north for 300 kilometres.\nA bridge over the Alpha was built in 1911.\n",
    "beta.txt": "Beta mountain is 4,200 metres high.\nClimbers first reached its summit in 1953.\n",
}


@pytest.fixture
def indexed(index_texts) -> Settings:  # noqa: ANN001
    return index_texts(DOCS, min_similarity=-1.0)


def test_ask_is_the_final_answer_of_ask_stream(indexed: Settings) -> None:
    answerer = Answerer(indexed, embedder=HashEmbedding())
    try:
        events = list(answerer.ask_stream("How high is Beta mountain?"))
        answer = answerer.ask("How high is Beta mountain?")
    finally:
        answerer.close()
    kinds = [k for k, _ in events]
    assert kinds[-1] == "answer" and set(kinds[:-1]) == {"delta"}
    streamed = events[-1][1]
    assert "".join(v for k, v in events if k == "delta") == streamed.answer
    assert streamed.answer == answer.answer and streamed.citations == answer.citations
    assert set(streamed.timings_ms) >= {"encode", "retrieve", "answer", "total"}


def test_the_answer_is_framed_in_the_language_asked_for(indexed: Settings) -> None:
    answerer = Answerer(indexed, embedder=HashEmbedding())
    try:
        en = answerer.ask("How high is Beta mountain?")
        ar = answerer.ask("How high is Beta mountain?", language="ar")
    finally:
        answerer.close()
    assert en.answer.startswith(FRAME["en"][0]) and ar.answer.startswith(FRAME["ar"][0])
    assert ar.language == "ar" and ar.citations == en.citations


class RetrieveEvents(BaseCallbackHandler):
    def __init__(self) -> None:
        super().__init__(event_starts_to_ignore=[], event_ends_to_ignore=[])
        self.ends: list[dict] = []

    def on_event_start(self, event_type, payload=None, event_id="", parent_id="", **kwargs):  # noqa: ANN001, ANN201
        return event_id

    def on_event_end(self, event_type, payload=None, event_id="", **kwargs):  # noqa: ANN001, ANN201
        if event_type == CBEventType.RETRIEVE:
            self.ends.append(payload or {})

    def start_trace(self, trace_id=None) -> None:  # noqa: ANN001
        pass

    def end_trace(self, trace_id=None, trace_map=None) -> None:  # noqa: ANN001
        pass


def test_retrieval_runs_through_llama_index_retrieve_with_its_callbacks(indexed: Settings) -> None:
    answerer = Answerer(indexed, embedder=HashEmbedding())
    handler = RetrieveEvents()
    try:
        retriever = HybridRetriever(answerer.stores, options=indexed, top_k=2,
                                    callback_manager=CallbackManager([handler]))
        with answerer.consistent():
            nodes = retriever.retrieve("How high is Beta mountain?")
    finally:
        answerer.close()
    assert len(nodes) == 2 and len(handler.ends) == 1  # llama-index's RETRIEVE event fired
    assert [n.node.node_id for n in handler.ends[0]["nodes"]] == [n.node.node_id for n in nodes]


def test_files_are_left_out_by_a_metadata_filter(indexed: Settings) -> None:
    answerer = Answerer(indexed, embedder=HashEmbedding())
    try:
        everything = answerer.retrieve("Beta mountain", top_k=10)
        without = answerer.retrieve("Beta mountain", top_k=10, filters=exclude_files(["beta.txt"]))
        lexical = answerer.retrieve("Beta mountain", top_k=10, mode=RetrievalMode.LEXICAL,
                                    filters=exclude_files(["beta.txt"]))
        answer = answerer.ask("How high is Beta mountain?", filters=exclude_files(["beta.txt"]))
    finally:
        answerer.close()
    assert {n.node.metadata["file"] for n in everything} == {"alpha.txt", "beta.txt"}
    assert {n.node.metadata["file"] for n in without} == {"alpha.txt"}
    assert {n.node.metadata["file"] for n in lexical} <= {"alpha.txt"}
    assert all(c.file == "alpha.txt" for c in answer.citations)


def test_an_unsupported_filter_is_refused(indexed: Settings) -> None:
    from llama_index.core.vector_stores.types import FilterOperator, MetadataFilter, MetadataFilters

    answerer = Answerer(indexed, embedder=HashEmbedding())
    try:
        with pytest.raises(ValueError, match="unsupported retrieval filter"):
            answerer.retriever(filters=MetadataFilters(filters=[
                MetadataFilter(key="year", value=2020, operator=FilterOperator.GT)]))
    finally:
        answerer.close()


@pytest.mark.parametrize(("margin", "expected"), [(0.01, 1), (0.10, 2), (0.30, 3)])
def test_citation_margin_setting_reaches_the_llm_evidence(margin: float, expected: int, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANAD_CITATION_MARGIN", str(margin))
    settings = Settings(data_dir=tmp_path / "data", embed_model="hash", answerer="llm", llm_model="fake",
                        llm_base_url="http://127.0.0.1:9/v1")
    assert settings.citation_margin == margin
    catalog, chunks = one_file_catalog(tmp_path, "\n\n".join([
        "The council met in Brussels on Wednesday for the first time in more than two years.",
        "The meeting lasted four hours, and the delegations agreed to keep talking in the new year.",
        "Officials from both sides described the talks as frank but said that no deal was reached.",
    ]) + "\n")
    catalog.close()
    assert [c.paragraphs for c in chunks] == [(1,), (2,), (3,)]
    answerer = Answerer(settings.model_copy(update={"data_dir": tmp_path}), embedder=HashEmbedding())
    try:
        assert answerer.writer is not None
        nodes = retrieved(chunks, [0.60, 0.52, 0.35], 0.05)
        evidence = answerer.writer.select_evidence(nodes, HashEmbedding().embed_queries(["q"])[0])
    finally:
        answerer.close()
    assert [e.paragraph.paragraph for e in evidence] == list(range(1, expected + 1))


def test_eval_xquad_with_the_llm_answerer_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``sanad eval --set xquad --limit 1 --answerer llm``: absent-article questions pass a
    retrieval filter through the LLM answerer too (it used to fail with a TypeError)."""
    report_path = tmp_path / "report.json"
    with FakeOpenAI() as fake:
        fake.respond = copy_first_paragraph
        settings = Settings(data_dir=tmp_path / "unused", embed_model="hash", llm_base_url=fake.base_url,
                            llm_model="fake")
        args = argparse.Namespace(set="xquad", limit=1, json_path=str(report_path), gate=False, baseline=False,
                                  answerer="llm", corpus=None)
        assert run_cli(args, settings=settings) == 0
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert report["answerer"] == "llm"
    absent = [r for r in report["rows"] if r["kind"] == "xquad-absent"]
    assert absent and all(r["asked"] and not r.get("error") for r in absent)
    assert all(r["asked"] for r in report["rows"])
    assert "llm" in report["answerers"]
    assert capsys.readouterr().out


class CountingQueries(HashEmbedding):
    """The hashing fake, counting question encodings."""

    queries: int = 0

    def embed_queries(self, texts):  # noqa: ANN001, ANN201
        self.queries += len(texts)
        return super().embed_queries(texts)


def test_a_repeated_question_is_answered_from_the_cache_until_the_index_changes(indexed: Settings,
                                                                               tmp_path: Path) -> None:
    embedder = CountingQueries()
    answerer = Answerer(indexed, embedder=embedder)
    try:
        first = answerer.ask("How high is Beta mountain?")
        encoded = embedder.queries
        again = answerer.ask("How high is Beta mountain?")
        assert embedder.queries == encoded  # nothing encoded for the repeat
        assert again.answer == first.answer and again.citations == first.citations
        assert set(again.timings_ms) == {"cache", "total"} and again.timings_ms["total"] < 50
        assert (answerer.cache.hits, answerer.cache.misses) == (1, 1)
        answerer.ask("How high is Beta mountain?", language="ar")  # another key: encoded
        assert embedder.queries == encoded + 1
        # the index changes (another connection commits): the cache is cleared
        corpus = tmp_path / "more"
        corpus.mkdir()
        (corpus / "gamma.txt").write_text("How high is Beta mountain? It is 4,200 metres high.\n",
                                          encoding="utf-8")
        indexer = Indexer(indexed, embedder=HashEmbedding())
        indexer.index([corpus], prune=False, progress=None)
        indexer.close()
        after = answerer.ask("How high is Beta mountain?")
        assert embedder.queries == encoded + 2
        assert after.citations[0].file == "gamma.txt"  # the new document, not the cached answer
    finally:
        answerer.close()


def test_the_cache_can_be_turned_off(indexed: Settings) -> None:
    embedder = CountingQueries()
    answerer = Answerer(indexed.model_copy(update={"answer_cache_size": 0}), embedder=embedder)
    try:
        answerer.ask("How high is Beta mountain?")
        answerer.ask("How high is Beta mountain?")
    finally:
        answerer.close()
    assert embedder.queries == 2 and answerer.cache.hits == 0
