"""The learned ranking stage: the committed model and its manifest, the fallbacks when the
model is missing, corrupt or mismatched, the stage itself, the composer's probability rule,
and the training command end to end (hashing embedder: fast)."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
from llama_index.core.schema import NodeWithScore, TextNode

from evals.train_ranker import folds_by_article
from evals.train_ranker import main as train_main
from index.embedding import HashEmbedding
from qa.answerer import Answerer
from qa.question import parse_question
from qa.ranker_model import (DEFAULT_RANKER_DIR, FINGERPRINT_FIELDS, MANIFEST_FILE, MODEL_FILE, file_sha256,
                             load_ranker, settings_fingerprint)
from qa.ranking_features import FEATURES, FEATURES_VERSION, candidate_features
from qa.stages import POSTPROCESSORS, check_postprocessors
from settings import Settings

WITH_RANKER = ["source_bonus", "sentence_rescore", "learned_ranker"]

DOCS = {
    "alpha.txt": "The Alpha river flows north for 300 kilometres.\nA bridge over the Alpha was built in 1911.\n"
                 "Fishermen on the Alpha catch trout in spring.\n",
    "beta.txt": "Beta mountain is 4,200 metres high.\nClimbers first reached its summit in 1953.\n"
                "The Beta glacier lies on its northern side.\n",
}


# ------------------------------------------------------------------ the committed model
def test_the_committed_model_loads_and_matches_its_manifest() -> None:
    manifest = json.loads((DEFAULT_RANKER_DIR / MANIFEST_FILE).read_text(encoding="utf-8"))
    assert manifest["model_sha256"] == file_sha256(DEFAULT_RANKER_DIR / MODEL_FILE)
    assert manifest["features"] == list(FEATURES) and manifest["features_version"] == FEATURES_VERSION
    assert set(manifest["settings"]) == set(FINGERPRINT_FIELDS)
    for key in ("data", "seed", "library", "params", "metrics", "thresholds", "trained_at", "command"):
        assert manifest[key], key
    assert manifest["metrics"]["held_out_folds"] and manifest["data"]["holdout"]
    assert set(manifest["thresholds"]["abstain_below"]) == {"ar", "en"}
    assert all(0 <= t <= manifest["thresholds"]["cite_from"] <= 1 for t in manifest["thresholds"]["abstain_below"].values())
    status = load_ranker(None, Settings())  # the defaults it was trained for (with the stage turned on)
    assert status.active, status.reason
    assert status.model is not None and status.model.booster.num_feature() == len(FEATURES)
    probabilities = status.model.probabilities(np.zeros((3, len(FEATURES)), dtype=np.float32))
    assert probabilities.shape == (3,) and np.all((probabilities >= 0) & (probabilities <= 1))


def test_the_model_file_is_small() -> None:
    assert (DEFAULT_RANKER_DIR / MODEL_FILE).stat().st_size < 2_000_000


# ------------------------------------------------------------------ fallbacks, never a crash
@pytest.fixture
def model_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "ranker"
    shutil.copytree(DEFAULT_RANKER_DIR, folder)
    return folder


def test_a_missing_model_is_not_used(tmp_path: Path) -> None:
    status = load_ranker(tmp_path / "nowhere", Settings())
    assert not status.active and "no ranker model" in status.reason


def test_a_corrupt_model_is_not_used(model_copy: Path) -> None:
    path = model_copy / MODEL_FILE
    path.write_bytes(path.read_bytes()[:1000] + b"\x00garbage")
    status = load_ranker(model_copy, Settings())
    assert not status.active and "does not match its manifest" in status.reason
    manifest = json.loads((model_copy / MANIFEST_FILE).read_text(encoding="utf-8"))
    manifest["model_sha256"] = file_sha256(path)  # a consistent but broken pair
    (model_copy / MANIFEST_FILE).write_text(json.dumps(manifest), encoding="utf-8")
    status = load_ranker(model_copy, Settings())
    assert not status.active and "cannot be loaded" in status.reason
    (model_copy / MANIFEST_FILE).write_text("{not json", encoding="utf-8")
    assert "cannot be read" in load_ranker(model_copy, Settings()).reason


def test_a_model_for_other_features_or_settings_is_not_used(model_copy: Path) -> None:
    manifest = json.loads((model_copy / MANIFEST_FILE).read_text(encoding="utf-8"))
    (model_copy / MANIFEST_FILE).write_text(json.dumps({**manifest, "features": manifest["features"][:-1]}),
                                            encoding="utf-8")
    assert "other features" in load_ranker(model_copy, Settings()).reason
    (model_copy / MANIFEST_FILE).write_text(json.dumps(manifest), encoding="utf-8")
    status = load_ranker(model_copy, Settings(embed_model="hash", lexical_weight_ar=0.3))
    assert not status.active and "embed_model" in status.reason and "lexical_weight_ar" in status.reason


def test_a_mismatched_model_leaves_the_fixed_rules_and_says_so(index_texts, caplog) -> None:  # noqa: ANN001
    settings = index_texts(DOCS, postprocessors=WITH_RANKER)  # hashing embedder: the model was not trained for it
    with caplog.at_level(logging.WARNING, logger="sanad.qa"):
        answerer = Answerer(settings, embedder=HashEmbedding())
    fixed = Answerer(settings.model_copy(update={"postprocessors": ["source_bonus", "sentence_rescore"]}),
                     embedder=HashEmbedding())
    try:
        assert not answerer.ranker_status.active and "embed_model" in answerer.ranker_status.reason
        assert "learned ranker not used" in caplog.text
        assert fixed.ranker_status.reason.startswith("the learned ranker is off")
        question = "How high is Beta mountain?"
        assert answerer.ask(question).citations == fixed.ask(question).citations
        assert [n.node.node_id for n in answerer.retrieve(question)] == [n.node.node_id for n in fixed.retrieve(question)]
    finally:
        answerer.close()
        fixed.close()


def test_an_unknown_postprocessor_is_a_clear_error(index_texts) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match="unknown retrieval postprocessor.*reranker_x.*known: source_bonus"):
        check_postprocessors(["sentence_rescore", "reranker_x"])
    settings = index_texts(DOCS, postprocessors="source_bonus, reranker_x")
    with pytest.raises(ValueError, match="reranker_x"):
        Answerer(settings, embedder=HashEmbedding())
    assert Settings(postprocessors="sentence_rescore").postprocessors == ["sentence_rescore"]
    assert set(Settings().postprocessors) == set(POSTPROCESSORS) - {"learned_ranker"}  # off by default


def test_without_sentence_rescoring_the_ranking_is_that_of_sentence_weight_zero(index_texts) -> None:  # noqa: ANN001
    settings = index_texts(DOCS)
    a = Answerer(settings.model_copy(update={"postprocessors": ["source_bonus"]}), embedder=HashEmbedding())
    b = Answerer(settings.model_copy(update={"sentence_weight": 0.0, "postprocessors": ["source_bonus",
                                                                                         "sentence_rescore"]}),
                 embedder=HashEmbedding())
    try:
        question = "When did climbers reach the summit?"
        ra, rb = a.retrieve(question, top_k=6), b.retrieve(question, top_k=6)
        assert [(n.node.node_id, n.score) for n in ra] == [(n.node.node_id, n.score) for n in rb]
    finally:
        a.close()
        b.close()


# ------------------------------------------------------------------ features
def _node(cid: str, file: str, text: str, score: float, dense: float, **meta: object) -> NodeWithScore:
    metadata = {"file": file, "paragraphs": [1], "dense": dense, "lexical": None, "margin": 0.1,
                "sentence": None, "dense_rank": 1, "lexical_rank": None, "lexical_top": 1.0, **meta}
    return NodeWithScore(node=TextNode(id_=cid, text=text, metadata=metadata), score=score)


def test_features_are_one_row_per_candidate_in_the_named_columns() -> None:
    question = parse_question("How many metres high is Beta mountain in 2020?", cleanup=False)
    nodes = [_node("a", "beta.txt", "Beta mountain is 4,200 metres high.", 0.8, 0.7, lexical=3.0, lexical_rank=1,
                   lexical_top=3.0),
             _node("b", "beta.txt", "The Beta glacier lies north.", 0.6, 0.6, sentence=0.65, sentence2=0.5,
                   dense_rank=2),
             _node("c", "alpha.txt", "نهر ألفا يجري شمالا", 0.5, 0.5, dense_rank=None)]
    rows = candidate_features(question, nodes, coverage=lambda q, t: 0.5 if "Beta" in t else 0.0,
                              title=lambda f: "Beta" if f == "beta.txt" else "")
    col = {name: i for i, name in enumerate(FEATURES)}
    assert rows.shape == (3, len(FEATURES)) and rows.dtype == np.float32
    assert rows[:, col["rank"]].tolist() == [1, 2, 3]
    assert rows[0, col["bm25_norm"]] == 1.0 and rows[1, col["bm25_norm"]] == 0.0
    assert rows[1, col["sentence_best"]] == pytest.approx(0.65) and rows[1, col["has_sentences"]] == 1
    assert rows[0, col["sentence_best"]] == pytest.approx(0.7)  # no sentence vectors: the chunk's cosine
    assert rows[:, col["same_file"]].tolist() == [1, 1, 0] and rows[:, col["file_first"]].tolist() == [1, 0, 1]
    assert rows[0, col["type_number"]] == 1 and rows[0, col["title_share"]] > 0
    assert rows[2, col["cross_lingual"]] == 1 and rows[0, col["cross_lingual"]] == 0
    assert rows[2, col["dense_rank"]] == 50 and rows[2, col["dense_gap"]] == pytest.approx(0.2)
    assert rows[0, col["coverage"]] == 0.5 and rows[2, col["coverage"]] == 0.0
    assert rows[0, col["number_share"]] == 0.0  # "2020" is not in the text
    assert candidate_features(question, [], coverage=None, title=str).shape == (0, len(FEATURES))


def test_folds_keep_each_article_whole() -> None:
    articles = [f"a{i % 7}" for i in range(40)]
    folds = folds_by_article(list(range(40)), articles, 3, seed=1)
    assert sorted(np.concatenate(folds).tolist()) == list(range(40))
    for fold in folds:
        others = {articles[i] for f in folds if f is not fold for i in f}
        assert not {articles[i] for i in fold} & others


# ------------------------------------------------------------------ training, end to end
@pytest.fixture
def trained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A model trained by the real command on the seeds set with the hashing embedder."""
    monkeypatch.setenv("SANAD_EMBED_MODEL", "hash")
    out = tmp_path / "model"
    code = train_main(["--sets", "seeds", "--holdout", "", "--folds", "3", "--out", str(out),
                       "--data-dir", str(tmp_path / "rows"), "--index-dir", str(tmp_path / "indexes")])
    assert code == 0
    return out


def test_the_training_command_writes_a_model_that_loads_for_its_settings(trained: Path) -> None:
    manifest = json.loads((trained / MANIFEST_FILE).read_text(encoding="utf-8"))
    assert manifest["settings"] == settings_fingerprint(Settings(embed_model="hash"))
    assert manifest["data"]["sets"] == ["seeds"] and manifest["folds"] == 3
    assert manifest["metrics"]["held_out_folds"]["seeds/all"]["questions"] > 0
    assert load_ranker(trained, Settings(embed_model="hash")).active
    assert not load_ranker(trained, Settings(embed_model="embeddinggemma-300m")).active  # for the hashing embedder only


def test_the_stage_orders_by_probability_and_the_composer_follows_its_thresholds(trained: Path,
                                                                                 index_texts) -> None:  # noqa: ANN001
    settings = index_texts(DOCS, ranker_path=trained, postprocessors=WITH_RANKER)
    answerer = Answerer(settings, embedder=HashEmbedding())
    try:
        assert answerer.ranker_status.active
        nodes = answerer.retrieve("How high is Beta mountain?", top_k=6)
        probabilities = [n.node.metadata["probability"] for n in nodes]
        assert probabilities == sorted(probabilities, reverse=True)
        assert [n.score for n in nodes] == probabilities and all("fused" in n.node.metadata for n in nodes)
        model = answerer.ranker_status.model
        assert model is not None
        model.abstain_below, model.cite_from = {"ar": 1.01, "en": 1.01}, 1.01  # nothing is probable enough
        assert not answerer.ask("How high is Beta mountain?").answerable
        answerer.cache.clear()
        model.abstain_below, model.cite_from = {"ar": 0.0, "en": 0.0}, 1.01  # always answer, one citation
        answer = answerer.ask("How high is Beta mountain?")
        assert answer.answerable and len(answer.citations) == 1
        top = answerer.retrieve("How high is Beta mountain?", top_k=1)[0]
        assert (answer.citations[0].file, answer.citations[0].paragraph) == (
            top.node.metadata["file"], top.node.metadata["paragraphs"][0])
        answerer.cache.clear()
        model.cite_from = 0.0  # every candidate is probable enough: up to max_citations
        assert len(nodes) >= 2
        assert len(answerer.ask("How high is Beta mountain?").citations) == min(settings.max_citations, len(nodes))
    finally:
        answerer.close()
