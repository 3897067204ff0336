"""Micro-batching of question encodes (``qa.query_batcher``), the answerer that uses it, and
what ``/metrics`` shows of it; the answer cache's invalidation by an upload; ``SANAD_DEVICE``.

Fast: a hashing embedder slowed down on purpose, so that questions asked at once really
queue behind a batch. One integration test uses the real model."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

import numpy as np
import pytest
from pydantic import ValidationError

from index.embedding import EmbedderError, HashEmbedding, check_device
from index.indexer import Indexer
from qa.answerer import Answerer
from qa.query_batcher import QueryBatcher
from settings import Settings
from tests.api_fixtures import make_settings
from tests.test_api_app import running

HASH = HashEmbedding()

QUESTIONS = [
    "How high is Beta mountain?",
    "Which way does the Alpha river flow?",
    "When was the bridge over the Alpha built?",
    "When did climbers first reach the summit?",
    "How long is the Alpha river?",
    "Is Beta a mountain or a river?",
    "What was built in 1911?",
    "Who reached the summit in 1953?",
]


class SlowEncoder:
    """The hashing encoder taking ``delay_s`` per call (like a model: a batch costs about one
    call), recording the batches it was given; texts containing ``bad`` fail."""

    def __init__(self, delay_s: float = 0.05) -> None:
        self.delay_s = delay_s
        self.batches: list[list[str]] = []
        self._lock = threading.Lock()

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            self.batches.append(list(texts))
        time.sleep(self.delay_s)
        if any("bad" in t for t in texts):
            raise ValueError("this text cannot be encoded: bad")
        return HASH.embed_queries(list(texts))


def ask_at_once(fn, items: list, *, workers: int | None = None) -> list:  # noqa: ANN001
    """``fn`` over ``items`` from as many threads, started together; results (or exceptions) in order."""
    barrier = threading.Barrier(len(items))

    def call(item):  # noqa: ANN001, ANN202
        barrier.wait()
        try:
            return fn(item)
        except Exception as exc:  # noqa: BLE001 - returned for the test to inspect
            return exc

    with ThreadPoolExecutor(max_workers=workers or len(items)) as pool:
        return list(pool.map(call, items))


# ------------------------------------------------------------------------------- the batcher


def test_concurrent_callers_each_get_their_own_vector_from_shared_batches() -> None:
    encoder = SlowEncoder()
    batcher = QueryBatcher(encoder, max_batch=32)
    texts = [f"question number {i}" for i in range(12)]
    vectors = ask_at_once(batcher.encode, texts)
    for text, vector in zip(texts, vectors):
        np.testing.assert_array_equal(vector, HASH.embed_queries([text])[0])
    assert sorted(t for batch in encoder.batches for t in batch) == sorted(texts)  # each encoded once
    assert max(len(b) for b in encoder.batches) > 1
    assert len(encoder.batches) < len(texts)
    assert sum(batcher.batch_sizes().values()) == len(encoder.batches)
    assert sum(size * n for size, n in batcher.batch_sizes().items()) == len(texts)


def test_a_batch_is_never_larger_than_max_batch() -> None:
    encoder = SlowEncoder()
    batcher = QueryBatcher(encoder, max_batch=3)
    texts = [f"q{i}" for i in range(10)]
    vectors = ask_at_once(batcher.encode, texts)
    assert all(isinstance(v, np.ndarray) for v in vectors)
    assert max(len(b) for b in encoder.batches) == 3


def test_one_bad_text_fails_only_its_own_caller() -> None:
    encoder = SlowEncoder()
    batcher = QueryBatcher(encoder, max_batch=32)
    texts = [f"good question {i}" for i in range(6)] + ["a bad question"] + [f"more {i}" for i in range(5)]
    results = ask_at_once(batcher.encode, texts)
    for text, result in zip(texts, results):
        if "bad" in text:
            assert isinstance(result, ValueError) and "bad" in str(result)
        else:
            np.testing.assert_array_equal(result, HASH.embed_queries([text])[0])
    assert any(len(b) > 1 and "a bad question" in b for b in encoder.batches)  # it did share a batch
    # the batcher keeps working afterwards
    np.testing.assert_array_equal(batcher.encode("after"), HASH.embed_queries(["after"])[0])


def test_an_encoder_returning_the_wrong_shape_is_an_error_not_a_wrong_vector() -> None:
    batcher = QueryBatcher(lambda texts: np.zeros((len(texts) + 1, 4)), max_batch=4)
    with pytest.raises(RuntimeError, match="returned"):
        batcher.encode("anything")


def test_a_lone_question_does_not_wait_for_the_window() -> None:
    encoder = SlowEncoder(delay_s=0.0)
    batcher = QueryBatcher(encoder, max_batch=32, window_ms=500)
    started = time.perf_counter()
    for i in range(3):
        batcher.encode(f"alone {i}")
    assert time.perf_counter() - started < 0.25  # three lone questions, no 500 ms window each
    assert encoder.batches == [["alone 0"], ["alone 1"], ["alone 2"]]


def _ask_at(batcher: QueryBatcher, schedule: list[tuple[str, float]]) -> None:
    """Each text asked in its own thread, ``delay`` seconds from now; returns when all are answered."""
    def ask(text: str, delay: float) -> None:
        time.sleep(delay)
        batcher.encode(text)

    threads = [threading.Thread(target=ask, args=item) for item in schedule]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_the_window_gathers_as_many_questions_as_the_last_batch_held() -> None:
    """Under load (callers whose questions were just answered ask again), a question that finds the
    encoder idle right after a batch of several waits, up to the window, for as many companions as
    that batch had, instead of being encoded alone while they queue behind it."""
    encoder = SlowEncoder(delay_s=0.05)
    batcher = QueryBatcher(encoder, max_batch=32, window_ms=300)
    # a0 is alone (idle encoder, nothing before it); a1-a3 queue behind it and go together
    _ask_at(batcher, [("a0", 0.0), ("a1", 0.01), ("a2", 0.015), ("a3", 0.02)])
    # right after: b0 finds the encoder idle, but the last batch held 3: it waits for b1 and b2
    _ask_at(batcher, [("b0", 0.0), ("b1", 0.04), ("b2", 0.08)])
    assert encoder.batches[0] == ["a0"]
    assert sorted(encoder.batches[1]) == ["a1", "a2", "a3"]
    assert encoder.batches[2:] == [["b0", "b1", "b2"]]


class GatedEncoder:
    """The hashing encoder, each call held until the test releases it; records the batches."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self._cond = threading.Condition()
        self._released = 0

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        with self._cond:
            self.batches.append(list(texts))
            call = len(self.batches)
            self._cond.notify_all()
            assert self._cond.wait_for(lambda: self._released >= call, timeout=10), "never released"
        return HASH.embed_queries(list(texts))

    def wait_calls(self, n: int) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.batches) >= n, timeout=10), self.batches

    def release(self) -> None:
        with self._cond:
            self._released += 1
            self._cond.notify_all()


def test_two_groups_taking_turns_merge_into_one_batch() -> None:
    """Callers of the last batch ask again while others queued behind it: the next batch waits for
    both groups, instead of the groups taking turns in two smaller batches for good."""
    encoder = GatedEncoder()
    batcher = QueryBatcher(encoder, max_batch=32, window_ms=2000)
    threads: list[threading.Thread] = []

    def ask(*texts: str) -> None:
        for text in texts:
            threads.append(threading.Thread(target=batcher.encode, args=(text,)))
            threads[-1].start()

    ask("x")
    encoder.wait_calls(1)  # x is encoded alone; a0-a4 queue behind it
    ask("a0", "a1", "a2", "a3", "a4")
    time.sleep(0.1)
    encoder.release()
    ask("x again")  # x's caller asks again: with the five queued behind x, the batch is complete
    encoder.wait_calls(2)
    ask("b0", "b1", "b2")  # queued behind the batch of six
    time.sleep(0.1)
    encoder.release()
    ask("c0", "c1", "c2", "c3", "c4", "c5")  # the six, answered, ask again
    encoder.wait_calls(3)
    encoder.release()
    for t in threads:
        t.join(timeout=10)
    assert encoder.batches[0] == ["x"]
    assert sorted(encoder.batches[1]) == ["a0", "a1", "a2", "a3", "a4", "x again"]
    assert sorted(encoder.batches[2]) == ["b0", "b1", "b2", "c0", "c1", "c2", "c3", "c4", "c5"]  # not 6, then 3
    assert len(encoder.batches) == 3


def test_callers_composing_after_a_long_batch_still_count_as_load() -> None:
    """After a batch of several that took longer than the window, its callers compose their answers
    before asking again: the first to come back finds the encoder idle past the window, but still
    waits for the others rather than being encoded alone while they queue."""
    encoder = SlowEncoder(delay_s=0.3)
    batcher = QueryBatcher(encoder, max_batch=32, window_ms=100)
    _ask_at(batcher, [("a0", 0.0), ("a1", 0.02), ("a2", 0.03), ("a3", 0.04)])  # a0 alone, then a1-a3 together
    time.sleep(0.15)  # past the window, within what the batch of three took
    _ask_at(batcher, [("b0", 0.0), ("b1", 0.02), ("b2", 0.04)])
    assert encoder.batches[0] == ["a0"]
    assert sorted(encoder.batches[1]) == ["a1", "a2", "a3"]
    assert encoder.batches[2:] == [["b0", "b1", "b2"]]


def test_the_window_ends_when_no_companion_comes() -> None:
    encoder = SlowEncoder(delay_s=0.0)
    batcher = QueryBatcher(encoder, max_batch=32, window_ms=100)
    _ask_at(batcher, [("a0", 0.0), ("a1", 0.0), ("a2", 0.0)])
    started = time.perf_counter()
    batcher.encode("alone")  # within the window of a batch of several (or of a lone one: then at once)
    assert time.perf_counter() - started < 0.5
    assert encoder.batches[-1] == ["alone"]
    time.sleep(0.15)  # past the window: a lone question is encoded at once again
    started = time.perf_counter()
    batcher.encode("later")
    assert time.perf_counter() - started < 0.05


class MeetingEncoder(SlowEncoder):
    """Each call waits until ``parties`` calls are inside at once (or ``timeout_s`` passes)."""

    def __init__(self, parties: int, timeout_s: float = 2.0) -> None:
        super().__init__(delay_s=0.0)
        self.gate = threading.Barrier(parties, timeout=timeout_s)
        self.overlapped = 0

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        try:
            self.gate.wait()
            with self._lock:
                self.overlapped += 1
        except threading.BrokenBarrierError:
            pass
        return super().__call__(texts)


def test_with_two_lanes_a_second_batch_is_encoded_while_the_first_runs() -> None:
    encoder = MeetingEncoder(parties=2)
    batcher = QueryBatcher(encoder, max_batch=32, lanes=2)
    texts = [f"lane question {i}" for i in range(8)]
    vectors = ask_at_once(batcher.encode, texts)
    for text, vector in zip(texts, vectors):
        np.testing.assert_array_equal(vector, HASH.embed_queries([text])[0])
    assert encoder.overlapped >= 2  # two batches were inside the encoder at the same time
    assert sorted(t for batch in encoder.batches for t in batch) == sorted(texts)  # each encoded once


def test_with_one_lane_batches_never_overlap() -> None:
    encoder = MeetingEncoder(parties=2, timeout_s=0.2)
    batcher = QueryBatcher(encoder, max_batch=32, lanes=1)
    ask_at_once(batcher.encode, [f"q{i}" for i in range(6)])
    assert encoder.overlapped == 0


def test_lanes_keep_every_caller_answered_under_churn() -> None:
    encoder = SlowEncoder(delay_s=0.01)
    batcher = QueryBatcher(encoder, max_batch=3, window_ms=5, lanes=3)
    texts = [f"churn {i}" for i in range(40)]
    vectors = ask_at_once(batcher.encode, texts)
    for text, vector in zip(texts, vectors):
        np.testing.assert_array_equal(vector, HASH.embed_queries([text])[0])
    assert sum(size * n for size, n in batcher.batch_sizes().items()) == len(texts)


def test_the_answerer_uses_a_lane_per_core_by_default(tmp_path: Path) -> None:
    import os

    from qa.query_batcher import default_lanes

    assert default_lanes() == len(os.sched_getaffinity(0))
    settings = make_settings(tmp_path / "data")
    answerer = Answerer(settings, embedder=HASH)
    try:
        assert answerer.query_batcher.lanes == default_lanes()
    finally:
        answerer.close()
    answerer = Answerer(settings.model_copy(update={"query_lanes": 1}), embedder=HASH)
    try:
        assert answerer.query_batcher.lanes == 1
    finally:
        answerer.close()


@pytest.mark.parametrize("kwargs", [{"max_batch": 0}, {"max_batch": 4, "window_ms": -1},
                                    {"max_batch": 4, "lanes": 0}])
def test_bad_batcher_options_are_refused(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        QueryBatcher(HASH.embed_queries, **kwargs)


def test_batch_settings_are_validated() -> None:
    assert Settings(query_batch_max=8, query_batch_window_ms=2).query_batch_max == 8
    with pytest.raises(ValidationError):
        Settings(query_batch_max=0)
    with pytest.raises(ValidationError):
        Settings(query_batch_window_ms=-1)


# ------------------------------------------------------------------------------- the answerer

DOCS = {
    "alpha.txt": "The Alpha river flows north for 300 kilometres.\nA bridge over the Alpha was built in 1911.\n",
    "beta.txt": "Beta mountain is 4,200 metres high.\nClimbers first reached its summit in 1953.\n",
}


class SlowHash(HashEmbedding):
    """The hashing embedder with a model's cost per question call, counting the calls' sizes."""

    delay_s: float = 0.05
    query_batches: list = []

    def embed_queries(self, texts):  # noqa: ANN001, ANN201
        self.query_batches.append(len(texts))
        time.sleep(self.delay_s)
        return super().embed_queries(texts)


@pytest.fixture
def indexed(index_texts) -> Settings:  # noqa: ANN001
    return index_texts(DOCS, min_similarity=-1.0, answer_cache_size=0)


def _same(a, b) -> bool:  # noqa: ANN001
    return (a.answer, a.answerable, a.citations, a.language) == (b.answer, b.answerable, b.citations, b.language)


def test_concurrent_answers_are_the_one_at_a_time_answers_in_order(indexed: Settings) -> None:
    one_by_one = Answerer(indexed.model_copy(update={"query_batch_max": 1}), embedder=HashEmbedding())
    try:
        expected = [one_by_one.ask(q) for q in QUESTIONS]
    finally:
        one_by_one.close()
    embedder = SlowHash(query_batches=[])
    answerer = Answerer(indexed, embedder=embedder)
    try:
        questions = QUESTIONS * 2
        answers = ask_at_once(answerer.ask, questions)
    finally:
        answerer.close()
    assert not [a for a in answers if isinstance(a, Exception)], answers
    for question, answer in zip(questions, answers):
        assert _same(answer, expected[QUESTIONS.index(question)]), question
        assert answer.timings_ms["encode"] > 0 and {"retrieve", "answer", "total"} <= set(answer.timings_ms)
    assert max(embedder.query_batches) > 1  # they were encoded together
    assert sum(embedder.query_batches) == len(questions)
    assert sum(answerer.query_batcher.batch_sizes().values()) < len(questions)


def test_a_question_that_fails_to_encode_fails_alone(indexed: Settings) -> None:
    class FailsOnBad(SlowHash):
        def embed_queries(self, texts):  # noqa: ANN001, ANN201
            if any("bad" in t for t in texts):
                time.sleep(self.delay_s)
                raise ValueError("cannot encode a bad question")
            return super().embed_queries(texts)

    answerer = Answerer(indexed, embedder=FailsOnBad(query_batches=[]))
    try:
        questions = QUESTIONS[:4] + ["a bad question"] + QUESTIONS[4:]
        answers = ask_at_once(answerer.ask, questions)
        expected = [answerer.ask(q) if "bad" not in q else None for q in questions]
    finally:
        answerer.close()
    for question, answer, alone in zip(questions, answers, expected):
        if alone is None:
            assert isinstance(answer, ValueError)
        else:
            assert not isinstance(answer, Exception) and _same(answer, alone), question


def test_a_cache_hit_encodes_nothing_and_waits_for_no_batch(indexed: Settings) -> None:
    embedder = SlowHash(query_batches=[], delay_s=0.3)
    answerer = Answerer(indexed.model_copy(update={"answer_cache_size": 100}), embedder=embedder)
    try:
        answerer.ask(QUESTIONS[0])
        calls = len(embedder.query_batches)
        busy = threading.Thread(target=answerer.ask, args=(QUESTIONS[1],))
        busy.start()  # the encoder is busy with another question for 300 ms
        time.sleep(0.05)
        started = time.perf_counter()
        again = answerer.ask(QUESTIONS[0])
        waited = time.perf_counter() - started
        busy.join()
    finally:
        answerer.close()
    assert set(again.timings_ms) == {"cache", "total"}
    assert waited < 0.15 and again.timings_ms["cache"] <= 5
    assert len(embedder.query_batches) == calls + 1  # only the other question was encoded


# ------------------------------------------------------------------------------- HTTP


def test_batch_sizes_are_in_metrics(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in DOCS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    s = make_settings(tmp_path / "d", embed_model="hash", answer_cache_size=0)
    indexer = Indexer(s, embedder=HashEmbedding())
    indexer.index([corpus], progress=None)
    indexer.close()
    with running(s, loader=lambda settings: Answerer(settings, embedder=SlowHash(query_batches=[]))) as c:
        codes = ask_at_once(lambda q: c.post("/v1/ask", json={"question": q}).status_code, QUESTIONS * 2)
        text = c.get("/metrics").text
        sizes = c.app.state.service.answerer.query_batcher.batch_sizes()
    assert codes == [200] * len(QUESTIONS) * 2
    assert max(sizes) > 1
    assert f"sanad_query_batch_size_count {float(sum(sizes.values()))}" in text
    assert f"sanad_query_batch_size_sum {float(len(QUESTIONS) * 2)}" in text
    assert f'sanad_query_batch_size_bucket{{le="1.0"}} {float(sizes.get(1, 0))}' in text


def test_an_upload_clears_the_answer_cache(tmp_path: Path) -> None:
    s = make_settings(tmp_path / "d", embed_model="hash", min_similarity=-1.0)
    question = "How high is Gamma hill?"
    with running(s) as c:
        assert c.post("/v1/documents", files={"file": ("a.txt", DOCS["alpha.txt"].encode())}).status_code == 201
        cache = c.app.state.service.answerer.cache
        first = c.post("/v1/ask", json={"question": question}).json()
        again = c.post("/v1/ask", json={"question": question}).json()
        assert set(again["timings_ms"]) == {"cache", "total"} and again["citations"] == first["citations"]
        hits = cache.hits
        r = c.post("/v1/documents", files={"file": ("gamma.txt", b"Gamma hill is 812 metres high.\n")})
        assert r.status_code == 201
        after = c.post("/v1/ask", json={"question": question}).json()
    assert "encode" in after["timings_ms"] and cache.hits == hits  # answered afresh, not from the cache
    assert after["citations"][0]["file"] == "gamma.txt"


# ------------------------------------------------------------------------------- SANAD_DEVICE


def test_an_absent_device_is_a_clear_error() -> None:
    import torch

    if torch.cuda.is_available():  # a machine with a GPU: cuda is accepted, and mps is absent off macOS
        check_device("cuda")
    else:
        with pytest.raises(EmbedderError, match="SANAD_DEVICE=cuda.*no CUDA GPU.*SANAD_DEVICE=cpu"):
            check_device("cuda")
    if not torch.backends.mps.is_available():
        with pytest.raises(EmbedderError, match="SANAD_DEVICE=mps.*SANAD_DEVICE=cpu"):
            check_device("mps")
    check_device("cpu")
    with pytest.raises(ValidationError):
        Settings(device="tpu")


def test_the_device_is_checked_before_the_model_loads(tmp_path: Path) -> None:
    import torch

    from index.embedding import SentenceTransformerEmbedding

    absent = "mps" if torch.cuda.is_available() else "cuda"  # no machine has both
    with pytest.raises(EmbedderError, match=f"SANAD_DEVICE={absent}"):
        SentenceTransformerEmbedding(model_name_or_path=str(tmp_path / "no-model-here"), device=absent)


@pytest.mark.integration
def test_the_real_model_on_cpu_batches_to_the_same_answers(seeds_settings: Settings, real_embedder) -> None:  # noqa: ANN001
    assert real_embedder._model.device.type == "cpu"
    questions = ["What did the council decide?", "من ترأس الاجتماع؟", "How many people attended?",
                 "ما هي الميزانية؟"]
    settings = seeds_settings.model_copy(update={"answer_cache_size": 0})
    answerer = Answerer(settings, embedder=real_embedder)
    try:
        alone = [answerer.ask(q) for q in questions]
        together = ask_at_once(answerer.ask, questions)
    finally:
        answerer.close()
    assert max(answerer.query_batcher.batch_sizes()) > 1
    for question, a, b in zip(questions, alone, together):
        assert not isinstance(b, Exception), b
        assert (a.answerable, [c.file for c in a.citations], [c.paragraph for c in a.citations]) == \
            (b.answerable, [c.file for c in b.citations], [c.paragraph for c in b.citations]), question


@pytest.mark.integration
def test_the_real_model_encodes_questions_in_several_threads_at_once(real_embedder) -> None:  # noqa: ANN001
    """Lanes call ``embed_queries`` from several threads: only the tokenizer is serialised, and
    the vectors are those of one call at a time."""
    questions = [f"What did the council decide in meeting {i}?" for i in range(6)] + \
        [f"من ترأس الاجتماع رقم {i}؟" for i in range(6)]
    alone = [real_embedder.embed_queries([q])[0] for q in questions]
    together = ask_at_once(lambda q: real_embedder.embed_queries([q, q + " again"])[0], questions)
    for a, b in zip(alone, together):
        assert not isinstance(b, Exception), b
        np.testing.assert_allclose(a, b, atol=2e-5)
