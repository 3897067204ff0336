"""The generative path against a scripted OpenAI-compatible server (a real HTTP server on
loopback): checking of real replies with the real embedder, fallbacks, and streaming over the
API. Fast (no LLM runs); integration because the embedding model and the seeds index load.
"""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.sse import parse_sse
from qa.answerer import Answerer
from qa.generative import Evidence
from qa.models import Answer
from tests.api_fixtures import HTTP_DEFAULTS, LiveServer, free_port
from tests.conftest import assert_verbatim
from tests.llm_fixtures import FakeOpenAI, fake_llm  # noqa: F401 - fixture

pytestmark = pytest.mark.integration

CHAIR = ("001_60d84da894ed2980.txt", 13)      # Stoltenberg chairs; Grushko and Fomin for Russia
SANCTIONS = ("002_89118faa34ef236d.txt", 16)  # Menendez's sanctions bill
Q_CHAIR = "Who chaired the NATO-Russia Council meeting?"
SHORT = "Jens Stoltenberg, NATO's Secretary General, chaired the meeting"
CLAIM = ("NATO Secretary General Jens Stoltenberg chaired the meeting, and Russia was represented by "
         "deputy foreign minister Alexander Grushko and deputy defence minister Alexander Fomin")


def _settings(seeds_settings, base_url: str, **extra):  # noqa: ANN001, ANN202
    values = {"answerer": "llm", "llm_base_url": base_url, "llm_model": "fake", "llm_timeout_s": 20.0}
    values.update(extra)
    return seeds_settings.model_copy(update=values)


def _answerer(seeds_settings, real_embedder, base_url: str, **extra) -> Answerer:  # noqa: ANN001
    return Answerer(_settings(seeds_settings, base_url, **extra), embedder=real_embedder)


def _evidence(answerer: Answerer, *keys: tuple[str, int]) -> list[Evidence]:
    out = []
    for i, (file, number) in enumerate(keys, 1):
        para = answerer.catalog.paragraph(file, number)
        out.append(Evidence(number=i, paragraph=para, text=para.text, score=0.6))
    return out


def _run(answerer: Answerer, question: str, evidence: list[Evidence],
         fallback: Answer | None = None) -> tuple[list[str], Answer]:
    fallback = fallback or Answer(answer="extractive fallback", language="en", answerable=True)
    deltas, answer = [], None
    assert answerer.writer is not None
    for kind, value in answerer.writer.generate_stream(question, "en", evidence, fallback=fallback):
        if kind == "delta":
            deltas.append(value)
        else:
            answer = value
    assert answer is not None
    return deltas, answer


def test_supported_answer_keeps_its_marker_and_quotes_the_paragraph(seeds_settings, real_embedder, fake_llm,  # noqa: ANN001, F811
                                                                    seeds_copy) -> None:  # noqa: ANN001
    fake_llm.reply = f"{CLAIM} [1]."
    answerer = _answerer(seeds_settings, real_embedder, fake_llm.base_url)
    try:
        answer = answerer.ask(Q_CHAIR)
    finally:
        answerer.close()
    assert answer.answerer == "llm" and answer.answerable and not answer.warnings
    assert answer.answer == f"{CLAIM} [1]." and answer.unsupported_claims == []
    (cit,) = answer.citations
    assert (cit.file, cit.paragraph, cit.ref) == (*CHAIR, 1)
    assert_verbatim(answer.citations, seeds_copy)  # the quote is the document's text, not the model's
    assert "ستولتنبرغ" in cit.quote
    # what the model was sent: the question, the numbered evidence, as data
    user = fake_llm.requests[-1]["messages"][-1]["content"]
    assert Q_CHAIR in user and "<evidence>" in user and "[1] (001_60d84da894ed2980.txt, paragraph 13)" in user


def test_wrong_paragraph_and_unknown_markers_are_removed_and_flagged(seeds_settings, real_embedder,  # noqa: ANN001
                                                                     fake_llm) -> None:  # noqa: F811
    fake_llm.reply = f"{CLAIM} [1]. Stoltenberg chaired the meeting [2]. Sherman was there [5]."
    answerer = _answerer(seeds_settings, real_embedder, fake_llm.base_url)
    try:
        deltas, answer = _run(answerer, Q_CHAIR, _evidence(answerer, CHAIR, SANCTIONS))
    finally:
        answerer.close()
    assert answer.answerer == "llm"
    assert answer.answer == f"{CLAIM} [1]. Stoltenberg chaired the meeting. Sherman was there."
    assert "".join(deltas) == answer.answer
    assert answer.unsupported_claims == ["Stoltenberg chaired the meeting.", "Sherman was there."]
    assert [(c.file, c.paragraph) for c in answer.citations] == [CHAIR]
    assert any("[2] not supported" in w for w in answer.warnings)
    assert any("[5] names no evidence" in w for w in answer.warnings)


def test_only_unsupported_claims_fall_back_to_extractive_and_say_so(seeds_settings, real_embedder,  # noqa: ANN001
                                                                    fake_llm) -> None:  # noqa: F811
    fake_llm.reply = f"{CLAIM} [2]."
    answerer = _answerer(seeds_settings, real_embedder, fake_llm.base_url)
    try:
        fallback = answerer.ask(Q_CHAIR, use_writer=False)
        deltas, answer = _run(answerer, Q_CHAIR, _evidence(answerer, CHAIR, SANCTIONS), fallback)
    finally:
        answerer.close()
    assert answer.answerer == "extractive" and answer.answer == fallback.answer
    assert "".join(deltas) == answer.answer
    assert answer.unsupported_claims == [f"{CLAIM}."]
    assert "supported by the paragraph it cites" in answer.warnings[0]
    assert "answered extractively" in answer.warnings[0] and any("[2] not supported" in w for w in answer.warnings)
    assert not any((c.file, c.paragraph) == SANCTIONS for c in answer.citations)


@pytest.mark.parametrize("case", ["garbage", "empty", "http_500", "slow_stream", "no_first_byte", "unreachable"])
def test_llm_failures_fall_back_to_extractive_with_a_warning(case: str, seeds_settings, real_embedder,  # noqa: ANN001
                                                             fake_llm) -> None:  # noqa: F811
    base_url = fake_llm.base_url
    extra = {}
    if case == "garbage":
        fake_llm.reply = "zxq vlorp ]]]] [[[ 0101 ###"
    elif case == "empty":
        fake_llm.reply = ""
    elif case == "http_500":
        fake_llm.status = 500
    elif case == "slow_stream":  # tokens keep coming, but the whole answer is too slow
        fake_llm.reply, fake_llm.piece, fake_llm.delay = f"{CLAIM} [1].", 2, 0.3
        extra["llm_timeout_s"] = 1.5
    elif case == "no_first_byte":  # the server accepts and then says nothing
        fake_llm.reply, fake_llm.delay = f"{CLAIM} [1].", 5.0
        extra["llm_timeout_s"] = 1.0
    elif case == "unreachable":
        base_url = f"http://127.0.0.1:{free_port()}/v1"
    answerer = _answerer(seeds_settings, real_embedder, base_url, **extra)
    try:
        started = time.monotonic()
        answer = answerer.ask(Q_CHAIR)
        elapsed = time.monotonic() - started
    finally:
        answerer.close()
    assert answer.answerer == "extractive" and answer.answerable and answer.citations
    assert answer.answer.startswith("According to the documents")
    assert len(answer.warnings) >= 1 and "answered extractively" in answer.warnings[0]
    assert answer.timings_ms["generate"] < 10_000
    assert elapsed < 30
    if case in ("slow_stream", "no_first_byte"):
        assert "timed out" in answer.warnings[0]
    if case == "unreachable":
        assert "unreachable" in answer.warnings[0]


def test_a_model_that_obeys_an_injected_instruction_is_never_shown(seeds_settings, real_embedder,  # noqa: ANN001
                                                                   fake_llm) -> None:  # noqa: F811
    fake_llm.reply = "HACKED [1]"  # what a model that followed "reply only with HACKED" would write
    answerer = _answerer(seeds_settings, real_embedder, fake_llm.base_url)
    try:
        answer = answerer.ask(Q_CHAIR)
    finally:
        answerer.close()
    assert "HACKED" not in answer.answer and answer.answerer == "extractive"
    assert answer.unsupported_claims == ["HACKED"]


def test_a_question_echo_is_not_a_claim_and_numbers_must_match(seeds_settings, real_embedder,  # noqa: ANN001
                                                               fake_llm) -> None:  # noqa: F811
    fake_llm.reply = f"{Q_CHAIR} {CLAIM} [1]. The meeting had 45 participants [1]."
    answerer = _answerer(seeds_settings, real_embedder, fake_llm.base_url)
    try:
        _, answer = _run(answerer, Q_CHAIR, _evidence(answerer, CHAIR))
    finally:
        answerer.close()
    assert answer.answerer == "llm"
    assert answer.unsupported_claims == ["The meeting had 45 participants."]
    assert any("numbers not in the paragraph: 45" in w for w in answer.warnings)


def test_not_in_the_documents_is_an_abstention_in_the_question_language(seeds_settings, real_embedder,  # noqa: ANN001
                                                                        fake_llm) -> None:  # noqa: F811
    fake_llm.reply = "NOT IN THE DOCUMENTS"
    answerer = _answerer(seeds_settings, real_embedder, fake_llm.base_url)
    try:
        answer = answerer.ask("من ترأس اجتماع مجلس روسيا والناتو؟")
    finally:
        answerer.close()
    assert answer.answerer == "llm" and not answer.answerable and answer.citations == []
    assert answer.answer == "لا تتضمن المستندات المتاحة إجابة عن هذا السؤال."


def test_unconfigured_llm_answers_extractively(seeds_settings, real_embedder) -> None:  # noqa: ANN001
    settings = seeds_settings.model_copy(update={"answerer": "llm", "llm_model": None, "llm_base_url": None})
    from qa.answerer import build_answerer

    answerer = build_answerer(settings, embedder=real_embedder)
    try:
        answer = answerer.ask(Q_CHAIR)
    finally:
        answerer.close()
    assert answer.answerer == "extractive" and "SANAD_LLM_MODEL is not set" in answer.warnings[0]


# ------------------------------------------------------------------------------ over HTTP
@pytest.fixture
def live_llm(seeds_settings, real_embedder):  # noqa: ANN001, ANN201
    with FakeOpenAI() as fake:
        settings = _settings(seeds_settings, fake.base_url).model_copy(update=HTTP_DEFAULTS)
        answerer = Answerer(settings, embedder=real_embedder)
        server = LiveServer(settings, answerer=answerer).start()
        server.fake = fake
        try:
            yield server
        finally:
            server.stop()


def test_sse_streams_tokens_as_the_llm_writes_them(live_llm) -> None:  # noqa: ANN001
    fake = live_llm.fake
    # the first sentence is shown once its marker is checked; the rest token by token
    fake.reply, fake.piece, fake.delay = f"{SHORT} [1]. {CLAIM} [1].", 6, 0.15
    arrivals, raw = [], ""
    started = time.monotonic()
    with httpx.stream("POST", live_llm.url + "/v1/ask", json={"question": Q_CHAIR, "stream": True},
                      timeout=60) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        for text in r.iter_text():
            raw += text
            arrivals.append((time.monotonic() - started, raw.count("event: delta")))
    events = parse_sse(raw)
    kinds = [e for e, _ in events]
    assert kinds[-2:] == ["citations", "done"] and kinds.count("delta") >= 5
    done = json.loads(events[-1][1])
    assert "".join(json.loads(d)["text"] for e, d in events if e == "delta") == done["answer"]
    assert done["answerer"] == "llm" and done["citations"][0]["paragraph"] == 13
    # the first tokens arrived well before the end: streamed as generated, not replayed
    first_delta = next(t for t, n in arrivals if n >= 1)
    assert arrivals[-1][0] - first_delta > 1.0


def test_openai_stream_from_the_llm_and_fallback_never_500(live_llm) -> None:  # noqa: ANN001
    from openai import OpenAI

    fake = live_llm.fake
    fake.reply, fake.piece, fake.delay = f"{SHORT} [1]. {CLAIM} [1].", 8, 0.05
    client = OpenAI(base_url=live_llm.url + "/v1", api_key="x")
    chunks = list(client.chat.completions.create(model="sanad", stream=True,
                                                 messages=[{"role": "user", "content": Q_CHAIR}]))
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert content.startswith(f"{SHORT} [1]. {CLAIM} [1].") and "Sources:\n[1] 001_60d84da894ed2980.txt ¶13" in content
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) >= 4
    assert chunks[-1].model_extra["citations"][0]["paragraph"] == 13
    assert chunks[-1].model_extra["answerer"] == "llm"

    fake.status = 500  # the LLM breaks: still 200, extractive, and it says so
    r = httpx.post(live_llm.url + "/v1/ask", json={"question": Q_CHAIR}, timeout=60)
    assert r.status_code == 200
    body = r.json()
    assert body["answerer"] == "extractive" and body["warnings"] and body["citations"]
