"""Training data for the learned ranker: every dev question's candidates, their features and labels.

For each set, the corpus is indexed once (kept in ``--index-dir``, as ``evals.sweep`` does:
the indexer skips unchanged files), every question is retrieved through the same stages the
ranker sees at question time (fusion, source bonus, sentence rescoring; the ranker itself
left out), and :func:`qa.ranking_features.candidate_features` turns the leading candidates
into rows. A row's label is 1 when the candidate covers a gold paragraph. "Absent article"
questions (asked with their article left out) give rows that are all 0: they teach the
probability what a question whose answer is not in the documents looks like.

The rows of a set are saved as one ``.npz`` with a ``.json`` beside it (questions, articles,
candidates), so training and its cross-validation never encode anything again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from evals.kept_index import kept_index
from evals.sets import EvalSet, load_set, resolve_gold
from qa.ranking_features import FEATURES, FEATURES_VERSION, candidate_features
from qa.ranker_model import settings_fingerprint
from settings import Settings

#: the candidates the ranker scores per question
DEPTH = 20
#: bump when what a question's record holds changes (saved rows of an older layout are made again)
ROWS_VERSION = 2


@dataclass
class SetData:
    """One set's rows: ``x`` (rows x features), ``y`` (0/1), ``question`` (row -> question index),
    and per question its id, language, kind, article (group for the folds) and answerability."""

    name: str
    x: np.ndarray
    y: np.ndarray
    question: np.ndarray
    questions: list[dict[str, Any]]

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(folder / f"{self.name}.npz", x=self.x, y=self.y, question=self.question)
        (folder / f"{self.name}.json").write_text(json.dumps(
            {"features": list(FEATURES), "features_version": FEATURES_VERSION, "rows_version": ROWS_VERSION,
             "questions": self.questions},
            ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path, name: str) -> "SetData | None":
        """The saved rows, or None when missing or made for other features."""
        npz, meta = folder / f"{name}.npz", folder / f"{name}.json"
        if not npz.is_file() or not meta.is_file():
            return None
        info = json.loads(meta.read_text(encoding="utf-8"))
        if (info.get("features") != list(FEATURES) or info.get("features_version") != FEATURES_VERSION
                or info.get("rows_version") != ROWS_VERSION):
            return None
        arrays = np.load(npz)
        return cls(name=name, x=arrays["x"], y=arrays["y"], question=arrays["question"], questions=info["questions"])


def article_of(item: Any) -> str:
    """The article a question belongs to (its gold file, or the file left out): the fold unit."""
    if item.gold_refs:
        return str(item.gold_refs[0]["file"])
    return str(item.exclude_files[0]) if item.exclude_files else item.id


def extract(eval_set: EvalSet, settings: Settings, embedder: Any, *, name: str, index_dir: Path,
            progress: bool = True) -> SetData:
    """Index ``eval_set`` (kept in ``index_dir``) and make its rows."""
    from qa.answerer import Answerer
    from qa.question import QuestionBundle, parse_question
    from qa.retrieval import exclude_files

    run = kept_index(eval_set, settings, embedder, index_dir,
                     postprocessors=[p for p in settings.postprocessors if p != "learned_ranker"])
    answerer = Answerer(run, embedder=embedder)
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    owners: list[np.ndarray] = []
    questions: list[dict[str, Any]] = []
    try:
        gold, problems = resolve_gold(eval_set.items, answerer.catalog)
        if problems:
            raise RuntimeError(f"{name}: gold problems: {problems[:3]}")
        items = [it for it in eval_set.items if not it.answerable or gold.get(it.id)]
        # encode every question once, in batches (the embedder caches by text)
        texts = [parse_question(it.question, cleanup=run.question_cleanup).search for it in items]
        for start in range(0, len(texts), 64):
            embedder.embed_queries(texts[start:start + 64])
        catalog = answerer.catalog

        def title(file: str) -> str:
            record = catalog.document(file)
            return record.title if record is not None else ""

        iterator: Sequence[Any] = items
        if progress:
            from tqdm import tqdm
            iterator = tqdm(items, desc=f"{name}: candidates", unit="q")
        for it in iterator:
            parsed = parse_question(it.question, cleanup=run.question_cleanup)
            filters = exclude_files(it.exclude_files) if it.exclude_files else None
            with answerer.consistent():
                nodes = answerer.retriever(top_k=DEPTH, filters=filters).retrieve(
                    QuestionBundle(query_str=parsed.text, question=parsed))
                rows = candidate_features(parsed, nodes, coverage=answerer.stores.lexical.coverage, title=title)
            # what the fixed rules answer today, for the figures "against today's Sanad"
            today = answerer.ask(it.question, filters=filters, use_writer=False)
            wanted = set(gold.get(it.id, []))
            labels = np.array([1.0 if any((n.node.metadata["file"], int(p)) in wanted
                                          for p in n.node.metadata["paragraphs"]) else 0.0 for n in nodes],
                              dtype=np.float32)
            k = len(questions)
            questions.append({"id": it.id, "lang": it.lang, "kind": it.kind, "answerable": it.answerable,
                              "article": f"{name}/{article_of(it)}", "n": len(nodes),
                              "files": [n.node.metadata["file"] for n in nodes],
                              "today": {"answered": today.answerable,
                                        "cited": [[c.file, c.paragraph] for c in today.citations],
                                        "gold": [list(g) for g in gold.get(it.id, [])]}})
            xs.append(rows)
            ys.append(labels)
            owners.append(np.full(len(nodes), k, dtype=np.int32))
    finally:
        answerer.close()
    return SetData(name=name, x=np.concatenate(xs) if xs else np.zeros((0, len(FEATURES)), np.float32),
                   y=np.concatenate(ys) if ys else np.zeros(0, np.float32),
                   question=np.concatenate(owners) if owners else np.zeros(0, np.int32), questions=questions)


def load_or_extract(specs: Sequence[str], settings: Settings, *, data_dir: Path, index_dir: Path,
                    refresh: bool = False) -> list[SetData]:
    """The rows of each ``NAME`` or ``NAME:LIMIT`` set, from ``data_dir`` or made now."""
    out: list[SetData] = []
    embedder = None
    tag = json.dumps(settings_fingerprint(settings), sort_keys=True)
    for spec in specs:
        name, _, limit = spec.partition(":")
        key = f"{name}-{limit or 'all'}"
        cached = None if refresh else SetData.load(data_dir, key)
        if cached is not None and (data_dir / f"{key}.settings").is_file() and \
                (data_dir / f"{key}.settings").read_text(encoding="utf-8") == tag:
            out.append(cached)
            continue
        if embedder is None:
            from evals.runner import QueryCachingEmbedding
            from index.embedding import build_embedder
            embedder = QueryCachingEmbedding(build_embedder(settings))
        eval_set = load_set(name, limit=int(limit) if limit else None)
        data = extract(eval_set, settings, embedder, name=key, index_dir=index_dir / key)
        data.save(data_dir)
        (data_dir / f"{key}.settings").write_text(tag, encoding="utf-8")
        out.append(data)
    return out


__all__ = ["DEPTH", "SetData", "article_of", "extract", "load_or_extract"]
