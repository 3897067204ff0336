"""evals/: metric functions on hand-made rows, the gate, gold sets, and the runner end to end.

Everything here is fast (hashing embedder, tiny corpora) except the one integration test.
The key end-to-end check: a deliberately broken answerer (random paragraphs) makes
``sanad eval --gate`` exit non-zero naming the failing metrics, while an oracle passes.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np
import pytest

from evals import metrics as M
from evals.gate import Check, ThresholdsError, check, thresholds_for
from evals.metrics import CitedSpan, RetrievedChunk, Row
from evals.runner import QueryCachingEmbedding, run_cli
from evals.sets import (
    EvalSetError,
    GoldItem,
    corpus_for_jsonl,
    load_jsonl_set,
    absent_question,
    load_xquad,
    resolve_gold,
    seeded_take,
)
from settings import Settings
from index.embedding import HashEmbedding
from index.paragraphs import Paragraph

F = "doc.txt"


def chunk(paragraph: int, file: str = F) -> RetrievedChunk:
    return RetrievedChunk(file=file, paragraphs=[paragraph])


def row(id_: str = "q", *, lang: str = "ar", answerable: bool = True, gold=((F, 1),), answers=("x",),
        retrieved=None, asked: bool = True, predicted=None, answer: str = "", citations=(),
        latency=None) -> Row:
    return Row(id=id_, lang=lang, question="?", answerable=answerable,
               gold=list(gold) if answerable else [], answers=list(answers) if answerable else [],
               retrieved=retrieved or {}, asked=asked,
               predicted_answerable=(bool(citations) if predicted is None else predicted),
               answer=answer, citations=list(citations), latency_ms=latency)


def cite(paragraph: int, quote: str = "q", *, file: str = F, verbatim: bool = True) -> CitedSpan:
    return CitedSpan(file=file, paragraph=paragraph, quote=quote, verbatim=verbatim)


# --------------------------------------------------------------------------- matching
def test_norm_folds_arabic_orthography_and_space() -> None:
    assert M.norm("  أَحْمَدُ   إلى\tمدرسة ") == M.norm("احمد الي مدرسه")
    assert M.contains_answer("قال أحمدُ إنّ الاجتماعَ استمر ثلاثَ ساعاتٍ.", ["ثلاث ساعات"])
    assert M.contains_answer("Jens STOLTENBERG chaired", ["Stoltenberg"])
    assert not M.contains_answer("استمر ساعتين", ["ثلاث ساعات"])
    assert not M.contains_answer("anything", [""])  # an empty answer matches nothing


def test_gold_rank_first_covering_chunk_within_depth() -> None:
    chunks = [chunk(3), RetrievedChunk(F, [4, 5]), chunk(1), chunk(5, file="other.txt")]
    assert M.gold_rank(chunks, [(F, 5)]) == 2   # inside a multi-paragraph chunk
    assert M.gold_rank(chunks, [(F, 1), (F, 4)]) == 2   # any gold paragraph counts
    assert M.gold_rank(chunks, [("other.txt", 5)]) == 4
    assert M.gold_rank(chunks, [(F, 9)]) is None
    assert M.gold_rank(chunks, [(F, 1)], depth=2) is None


# --------------------------------------------------------------------------- retrieval metrics
def test_recall_and_mrr() -> None:
    rows = [
        row("a", retrieved={"sanad": [chunk(1), chunk(2)]}),                       # rank 1
        row("b", retrieved={"sanad": [chunk(2), chunk(3), chunk(1)]}),             # rank 3
        row("c", retrieved={"sanad": [chunk(2)] * 10 + [chunk(1)]}),               # rank 11: missed
        row("u", answerable=False, retrieved={"sanad": [chunk(1)]}),               # not counted
        row("d", retrieved={"bm25": [chunk(1)]}),                                  # no sanad run
    ]
    assert M.recall_at(rows, 1) == pytest.approx(1 / 3)
    assert M.recall_at(rows, 5) == pytest.approx(2 / 3)
    assert M.recall_at(rows, 10) == pytest.approx(2 / 3)
    assert M.mrr(rows) == pytest.approx((1 + 1 / 3 + 0) / 3)
    assert M.recall_at(rows, 1, "bm25") == 1.0
    assert M.recall_at(rows, 1, "dense") is None
    assert M.mrr([]) is None


# --------------------------------------------------------------------------- answer metrics
def test_citation_hit_counts_abstentions_as_misses() -> None:
    rows = [
        row("hit", citations=[cite(2), cite(1)]),
        row("miss", citations=[cite(2)]),
        row("abstained", citations=[], predicted=False),
        row("unans", answerable=False, citations=[cite(1)]),  # judged by abstention instead
        row("not-asked", asked=False),
    ]
    assert M.citation_hit_rate(rows) == pytest.approx(1 / 3)


def test_citation_precision_gold_or_quote_with_answer() -> None:
    rows = [
        row("a", answers=("ثلاث ساعات",), citations=[
            cite(1, "نص"),                                    # gold paragraph
            cite(7, "استمرّ الاجتماعُ ثلاثَ ساعاتٍ"),          # not gold, but quotes the answer
            cite(8, "نص آخر"),                                # wrong
        ]),
        row("b", citations=[cite(9, "nothing")]),             # wrong
        row("u", answerable=False, citations=[cite(1)] * 5),  # excluded
    ]
    assert M.citation_precision(rows) == pytest.approx(2 / 4)
    assert M.citation_precision([row("c", citations=[])]) is None


def test_verbatim_rate_over_all_citations() -> None:
    rows = [row("a", citations=[cite(1), cite(2, verbatim=False)]),
            row("u", answerable=False, citations=[cite(1), cite(3)])]
    assert M.verbatim_rate(rows) == pytest.approx(3 / 4)
    assert M.verbatim_rate([row("a", citations=[cite(1)])]) == 1.0
    assert M.verbatim_rate([row("a", citations=[], predicted=False)]) is None


def test_answer_hit_normalises_both_sides() -> None:
    rows = [
        row("a", answers=("ستولتنبرغ",), answer="بحسب المستندات: ترأسَ ستولتنبرغ الاجتماع [1]"),
        row("b", answers=("إلى الأبد",), answer="... الى الابد ..."),
        row("c", answers=("2002",), answer="The documents do not contain an answer.", predicted=False),
        row("u", answerable=False, answer="2002"),
    ]
    assert M.answer_hit_rate(rows) == pytest.approx(2 / 3)


def test_abstention_and_false_abstention() -> None:
    rows = [
        row("u1", answerable=False, predicted=False),
        row("u2", answerable=False, predicted=True, citations=[cite(1)]),
        row("u3", answerable=False, predicted=False),
        row("a1", predicted=False),
        row("a2", predicted=True, citations=[cite(1)]),
        row("a3", predicted=True, citations=[cite(1)]),
        row("a4", predicted=True, citations=[cite(1)]),
    ]
    assert M.abstention_accuracy(rows) == pytest.approx(2 / 3)
    assert M.false_abstention_rate(rows) == pytest.approx(1 / 4)
    assert M.abstention_accuracy(rows[3:]) is None


def test_latency_percentiles() -> None:
    rows = [row(str(i), latency=ms) for i, ms in enumerate([400, 100, 300, 200])] + [row("x", asked=False, latency=9e9)]
    assert M.latency_ms(rows, 50) == pytest.approx(250)
    assert M.latency_ms(rows, 95) == pytest.approx(385)
    assert M.percentile([], 50) is None
    assert M.percentile([7.0], 95) == 7.0


def test_summarize_slices_by_language() -> None:
    rows = [row("a", lang="ar", retrieved={"sanad": [chunk(1)]}, citations=[cite(1)], latency=10),
            row("e", lang="en", retrieved={"sanad": [chunk(2)]}, citations=[cite(2)], latency=30)]
    out = M.summarize(rows)
    assert list(out["sanad"]) == ["all", "ar", "en"]
    assert out["sanad"]["all"]["recall_at_1"] == 0.5
    assert out["sanad"]["ar"]["citation_hit"] == 1.0 and out["sanad"]["en"]["citation_hit"] == 0.0
    assert out["sanad"]["all"]["abstention"] is None
    assert out["counts"]["en"]["questions"] == 1
    dumped = rows[0].to_json()
    assert dumped["rank"] == {"sanad": 1} and dumped["citations"][0]["gold"] is True


# --------------------------------------------------------------------------- gate
def test_thresholds_parse_slices_and_reject_unknown_metrics() -> None:
    table = {"seeds": {"citation_hit": 0.85, "false_abstention": 0.1, "en": {"recall_at_5": 0.9}}}
    assert thresholds_for(table, "seeds") == {"all": {"citation_hit": 0.85, "false_abstention": 0.1},
                                              "en": {"recall_at_5": 0.9}}
    with pytest.raises(ThresholdsError, match="unknown metric"):
        thresholds_for({"seeds": {"citation_hits": 0.8}}, "seeds")
    with pytest.raises(ThresholdsError, match=r"no \[other\]"):
        thresholds_for(table, "other")
    with pytest.raises(ThresholdsError, match="number"):
        thresholds_for({"seeds": {"verbatim": "1.0"}}, "seeds")


def test_check_floors_ceilings_and_unmeasured() -> None:
    figures = {"all": {"citation_hit": 0.84, "verbatim": 1.0, "false_abstention": 0.2, "abstention": None},
               "en": {"recall_at_5": 0.95}}
    thresholds = {"all": {"citation_hit": 0.85, "verbatim": 1.0, "false_abstention": 0.1, "abstention": 0.8},
                  "en": {"recall_at_5": 0.9}}
    checks = check(figures, thresholds, "seeds")
    failed = {(c.slice, c.metric) for c in checks if not c.passed}
    assert failed == {("all", "citation_hit"), ("all", "false_abstention"), ("all", "abstention")}
    assert "not measured" in next(c for c in checks if c.metric == "abstention").describe()
    assert Check("s", "all", "citation_hit", 0.85, 0.85 - 1e-12).passed  # float noise is not a failure


# --------------------------------------------------------------------------- sets
def test_seeded_take_is_fixed_nested_and_ordered() -> None:
    values = list(range(100))
    a, b = seeded_take(values, 10), seeded_take(values, 20)
    assert a == seeded_take(values, 10) and a == sorted(a)
    assert set(a) <= set(b)
    assert seeded_take(values, None) == values and seeded_take(values, 500) == values
    with pytest.raises(EvalSetError):
        seeded_take(values, 0)


class _FakeCatalog:
    def __init__(self, paragraphs: dict[str, list[Paragraph]]) -> None:
        self._p = paragraphs

    def paragraphs_of(self, file: str) -> list[Paragraph]:
        return self._p.get(file, [])


def test_resolve_gold_by_line_or_paragraph_and_reports_problems() -> None:
    paras = [Paragraph(F, 1, 1, 1, 0, 5, "title"), Paragraph(F, 2, 3, 4, 7, 20, "two lines"),
             Paragraph(F, 3, 6, 6, 22, 24, "+A", boilerplate=True)]
    catalog = _FakeCatalog({F: paras})
    items = [GoldItem("ok", "ar", "?", ({"file": F, "line": 4}, {"file": F, "paragraph": 1}), ("x",), True),
             GoldItem("bad", "en", "?", ({"file": F, "line": 2}, {"file": "nope.txt", "line": 1},
                                         {"file": F, "line": 6}), ("x",), True)]
    gold, problems = resolve_gold(items, catalog)
    assert gold["ok"] == [(F, 2), (F, 1)]
    assert len(problems) == 3 and any("nope.txt" in p for p in problems) and any("boilerplate" in p for p in problems)


def test_corpus_convention_for_a_gold_jsonl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SANAD_EVAL_CORPUS", raising=False)
    (tmp_path / "mine").mkdir()
    gold = tmp_path / "mine_gold.jsonl"
    gold.write_text('{"id": "1", "question": "q?", "gold": [], "answers": [], "answerable": false}\n')
    assert corpus_for_jsonl(gold, [{}]) == tmp_path / "mine"
    (tmp_path / "docs").mkdir()
    assert corpus_for_jsonl(gold, [{"corpus": "docs"}]) == (tmp_path / "docs").resolve()
    monkeypatch.setenv("SANAD_EVAL_CORPUS", str(tmp_path / "missing"))
    with pytest.raises(EvalSetError, match="SANAD_EVAL_CORPUS"):
        corpus_for_jsonl(gold, [{}])
    monkeypatch.delenv("SANAD_EVAL_CORPUS")
    loaded = load_jsonl_set(gold)
    assert loaded.name == "mine" and loaded.items[0].lang == "en" and not loaded.items[0].answerable


def _fake_xquad(root: Path, n_files: int = 6) -> Path:
    contexts = root / "xquad" / "contexts"
    contexts.mkdir(parents=True)
    rows = []
    for i in range(n_files):
        name = f"Article_{i}.txt"
        (contexts / name).write_text("\n\n".join(f"فقرة {p} من المقال {i}" for p in range(1, 6)) + "\n",
                                     encoding="utf-8")
        for p in (1, 3):
            rows.append({"id": f"{i}-{p}", "file": name, "paragraph": p, "question_ar": f"سؤال {i} {p}؟",
                         "question_en": f"Question {i} {p}?", "answer_ar": f"فقرة {p}",
                         "answer_en": f"paragraph {p}"})
    (root / "xquad" / "questions.jsonl").write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return root


def test_xquad_limit_counts_articles_and_asks_both_languages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANAD_EVALDATA_DIR", str(_fake_xquad(tmp_path)))
    xs = load_xquad(limit=2)
    assert len(xs.corpus_paths) == 2 and xs.sample["files"] == [p.name for p in xs.corpus_paths]
    answerable = [i for i in xs.items if i.kind == "xquad"]
    assert len(answerable) == 2 * 2 * 2  # 2 articles x 2 questions x 2 languages
    absent = [i for i in xs.items if i.kind == "xquad-absent"]
    assert absent  # the fixed selection picks question 0-3 here
    assert len(absent) == 2 * sum(absent_question(i.id.removesuffix("-ar")) for i in answerable if i.lang == "ar")
    for item in absent:  # asked again without its own article: must not be answerable
        assert not item.answerable and not item.gold_refs and item.exclude_files
        twin = next(i for i in answerable if i.id == item.id.removesuffix("-absent"))
        assert item.question == twin.question and item.exclude_files == (twin.gold_refs[0]["file"],)
    ar = next(i for i in xs.items if i.lang == "ar")
    en = next(i for i in xs.items if i.lang == "en" and i.id.split("-")[:2] == ar.id.split("-")[:2])
    assert ar.answers == (ar.answers[0],) and en.answers[0] == ar.answers[0] and len(en.answers) == 2
    assert ar.gold_refs == en.gold_refs and "paragraph" in ar.gold_refs[0]
    assert load_xquad(limit=2).sample["files"] == xs.sample["files"]


def test_missing_evaldata_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # noqa: ANN001
    monkeypatch.setenv("SANAD_EVALDATA_DIR", str(tmp_path / "nowhere"))
    args = argparse.Namespace(set="xquad", limit=1, json_path=None, gate=False, baseline=False)
    assert run_cli(args, settings=Settings(embed_model="hash")) == 2
    assert "SANAD_EVALDATA_DIR" in capsys.readouterr().err


# --------------------------------------------------------------------------- embedder cache
def test_query_cache_reuses_query_vectors_not_passages() -> None:
    calls: list[tuple[str, int]] = []

    class Counting(HashEmbedding):
        def embed_queries(self, texts):  # noqa: ANN001, ANN201
            calls.append(("q", len(texts)))
            return HashEmbedding.embed_documents(self, texts)  # not through the counted override

        def embed_documents(self, texts):  # noqa: ANN001, ANN201
            calls.append(("d", len(texts)))
            return super().embed_documents(texts)

    inner = Counting()
    cached = QueryCachingEmbedding(inner)
    first = cached.embed_queries(["a", "b", "a"])
    again = cached.embed_queries(["b", "a"])
    np.testing.assert_allclose(again, first[[1, 0]])
    cached.embed_documents(["a"])
    cached.embed_documents(["a"])
    assert calls == [("q", 2), ("d", 1), ("d", 1)]
    assert cached.dimension == inner.dimension


def test_query_cache_passes_late_chunking_through() -> None:
    asked: list[bool] = []

    class Recording(HashEmbedding):
        def embed_documents_and_spans(self, texts, spans, *, titles=None, late=False):  # noqa: ANN001, ANN201
            asked.append(late)
            return super().embed_documents_and_spans(texts, spans, titles=titles, late=late)

    cached = QueryCachingEmbedding(Recording())
    vectors, rows = cached.embed_documents_and_spans(["One. Two."], [[(0, 4), (5, 9)]], late=True)
    assert asked == [True] and vectors.shape[0] == 1 and rows[0].shape[0] == 2


# --------------------------------------------------------------------------- end to end (hash embedder)
TINY_DOCS = {
    "alpha.txt": ["The Alpha river flows north for 300 kilometres.", "Its delta hosts ten thousand herons.",
                  "A bridge over the Alpha was built in 1911."],
    "beta.txt": ["Beta mountain is 4,200 metres high.", "Climbers first reached its summit in 1953.",
                 "Snow covers Beta for eight months a year."],
    "gamma.txt": ["Gamma city has a population of two million.", "Its university was founded in 1850.",
                  "The Gamma metro opened in 1999."],
}
TINY_QUESTIONS = [  # (question, file, paragraph, answer)
    ("How long does the Alpha river flow?", "alpha.txt", 1, "300 kilometres"),
    ("How many herons live in the delta?", "alpha.txt", 2, "ten thousand"),
    ("When was the bridge over the Alpha built?", "alpha.txt", 3, "1911"),
    ("How high is Beta mountain?", "beta.txt", 1, "4,200 metres"),
    ("When did climbers first reach the summit of Beta?", "beta.txt", 2, "1953"),
    ("How long does snow cover Beta?", "beta.txt", 3, "eight months"),
    ("What is the population of Gamma city?", "gamma.txt", 1, "two million"),
    ("When was Gamma's university founded?", "gamma.txt", 2, "1850"),
    ("When did the Gamma metro open?", "gamma.txt", 3, "1999"),
]


@pytest.fixture
def tiny_set(tmp_path: Path) -> Path:
    """A gold JSONL (tiny_gold.jsonl) beside its corpus folder tiny/, and thresholds for it."""
    corpus = tmp_path / "tiny"
    corpus.mkdir()
    for name, paragraphs in TINY_DOCS.items():
        (corpus / name).write_text("\n".join(paragraphs) + "\n", encoding="utf-8")
    lines = [json.dumps({"id": f"t{i}", "lang": "en", "question": q, "gold": [{"file": f, "line": p}],
                         "answers": [a], "answerable": True, "kind": "factoid"})
             for i, (q, f, p, a) in enumerate(TINY_QUESTIONS, 1)]
    gold = tmp_path / "tiny_gold.jsonl"
    gold.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "thresholds.toml").write_text(
        "[tiny]\nrecall_at_1 = 0.9\nrecall_at_5 = 0.9\nmrr = 0.9\ncitation_hit = 0.9\n"
        "citation_precision = 0.9\nanswer_hit = 0.9\nverbatim = 1.0\nfalse_abstention = 0.1\n",
        encoding="utf-8")
    return gold


class _ScriptedAnswerer:
    """Wraps the real Answerer; ``pick(question) -> [(file, paragraph), ...]`` decides what it
    retrieves and cites (so the eval machinery, catalog and offsets are all real)."""

    def __init__(self, real, pick) -> None:  # noqa: ANN001
        self.real, self.pick, self.catalog = real, pick, real.catalog

    def _paragraphs(self, question: str):  # noqa: ANN202
        return [self.catalog.paragraph(f, p) for f, p in self.pick(question)]

    def ask(self, question: str, *, top_k: int | None = None):  # noqa: ANN201
        from qa.models import Answer, Citation, paragraph_url

        paras = self._paragraphs(question)[:1]
        cits = [Citation(ref=i, file=p.file, paragraph=p.paragraph, line_start=p.line_start,
                         line_end=p.line_end, char_start=p.char_start, char_end=p.char_end, quote=p.text,
                         score=0.5, url=paragraph_url(p.file, p.paragraph)) for i, p in enumerate(paras, 1)]
        text = " ".join(f"{c.quote} [{c.ref}]" for c in cits)
        return Answer(answer=text, language="en", answerable=True, citations=cits, timings_ms={"total": 5.0})

    def retrieve(self, question: str, *, top_k: int | None = None, mode: str = "hybrid"):  # noqa: ANN201
        from llama_index.core.schema import NodeWithScore, TextNode

        return [NodeWithScore(node=TextNode(text=p.text, metadata={
            "file": p.file, "paragraphs": [p.paragraph], "dense": 0.5, "lexical": None}), score=1.0)
            for p in self._paragraphs(question)[: top_k or 5]]

    def close(self) -> None:
        self.real.close()


def _factory(pick):  # noqa: ANN001, ANN202
    from qa.answerer import Answerer

    return lambda settings, embedder: _ScriptedAnswerer(Answerer(settings, embedder=embedder), pick)


def _random_pick(question: str) -> list[tuple[str, int]]:
    keys = [(f, p) for f in TINY_DOCS for p in range(1, 4)]
    rng = random.Random(question)  # a different random order per question, but reproducible
    rng.shuffle(keys)
    return keys


def _oracle_pick(question: str) -> list[tuple[str, int]]:
    (_, f, p, _) = next(t for t in TINY_QUESTIONS if t[0] == question)
    return [(f, p)] + [(o, q) for o in TINY_DOCS for q in range(1, 4) if (o, q) != (f, p)]


def _args(gold: Path, **kw) -> argparse.Namespace:  # noqa: ANN003
    base = {"set": str(gold), "limit": None, "json_path": None, "gate": True, "baseline": False}
    base.update(kw)
    return argparse.Namespace(**base)


def test_gate_fails_with_a_random_retriever_and_names_the_metrics(tiny_set: Path, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    settings = Settings(data_dir=tmp_path / "unused", embed_model="hash")
    report = tmp_path / "random.json"
    status = run_cli(_args(tiny_set, json_path=str(report)), settings=settings,
                     answerer_factory=_factory(_random_pick), thresholds_path=tmp_path / "thresholds.toml")
    captured = capsys.readouterr()
    assert status == 1
    failed = {c["metric"] for c in json.loads(report.read_text())["gate"]["checks"] if not c["passed"]}
    assert {"recall_at_1", "mrr", "citation_hit", "citation_precision", "answer_hit"} <= failed
    assert "verbatim" not in failed and "false_abstention" not in failed  # the quotes are still verbatim
    for metric in ("recall_at_1", "citation_hit", "answer_hit"):
        assert f"gate failed: tiny {metric} =" in captured.err
    assert "gate failed" in captured.out
    assert not (tmp_path / "unused").exists()  # the eval never touches the configured data dir


def test_gate_passes_with_an_oracle(tiny_set: Path, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "unused", embed_model="hash")
    status = run_cli(_args(tiny_set), settings=settings, answerer_factory=_factory(_oracle_pick),
                     thresholds_path=tmp_path / "thresholds.toml")
    assert status == 0


def test_real_answerer_with_hash_embedder_writes_a_full_report(tiny_set: Path, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    out = tmp_path / "report.json"
    status = run_cli(_args(tiny_set, gate=False, baseline=True, json_path=str(out), limit=5),
                     settings=Settings(data_dir=tmp_path / "unused", embed_model="hash"))
    assert status == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["set"] == "tiny" and len(report["rows"]) == 5
    assert set(report["metrics"]) == {"sanad", "bm25", "dense"}
    assert report["metrics"]["sanad"]["all"]["verbatim"] in (1.0, None)
    assert "citation_hit" not in report["metrics"]["bm25"]["all"]
    row0 = report["rows"][0]
    assert {"sanad", "bm25", "dense"} == set(row0["retrieved"]) and row0["latency_ms"] is not None
    shown = capsys.readouterr().out
    assert "recall_at_5" in shown and "BM25" in shown


def test_gate_on_a_set_without_thresholds_is_an_error(tiny_set: Path, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    (tmp_path / "empty.toml").write_text("[seeds]\nverbatim = 1.0\n")
    status = run_cli(_args(tiny_set), settings=Settings(embed_model="hash"),
                     thresholds_path=tmp_path / "empty.toml")
    assert status == 2 and "no [tiny] thresholds" in capsys.readouterr().err


# --------------------------------------------------------------------------- integration
@pytest.mark.integration
def test_seeds_sample_with_the_real_model(real_embedder, tmp_path: Path) -> None:  # noqa: ANN001
    from evals.runner import run_eval
    from evals.sets import load_seeds

    report = run_eval(load_seeds(limit=16), Settings(data_dir=tmp_path / "unused"), embedder=real_embedder,
                      baseline=True)
    sanad = report["metrics"]["sanad"]["all"]
    assert sanad["verbatim"] == 1.0
    assert sanad["recall_at_10"] >= 0.8
    assert report["metrics"]["dense"]["all"]["recall_at_10"] >= 0.8
    assert len(report["rows"]) == 16
