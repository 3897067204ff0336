"""Gold sets: which questions, which corpus, and which paragraphs answer each question.

A set is a list of :class:`GoldItem` over one corpus (a folder, or a list of files whose
names are relative to their folder). Three kinds:

- ``seeds``: ``evals/data/seeds_gold.jsonl`` over ``seeds/`` (repo root);
- ``xquad``: ``<evaldata>/xquad/questions.jsonl`` over ``<evaldata>/xquad/contexts/``;
  every question is asked twice, in Arabic and in English; ``limit`` counts ARTICLES;
- ``xquad-en``: XQuAD's English questions over its English paragraphs (``xquad.en.json``,
  written out once as one ``.txt`` per article, :func:`xquad_en_contexts`); ``limit`` counts
  ARTICLES and picks the same articles as for ``xquad``;
- ``arcd-train`` and ``tydiqa-ar``: native Arabic questions over
  ``<evaldata>/<set>/contexts/`` (:func:`load_native`); ``limit`` counts ARTICLES;
- any gold JSONL ``PATH`` (same fields as the seeds set), whose corpus is found by the
  convention in :func:`corpus_for_jsonl`.

Gold references are ``{"file", "line"}`` (the paragraph whose lines include ``line``) or
``{"file", "paragraph"}`` (1-based); they are resolved against the catalog after indexing
(:func:`resolve_gold`), so they follow the indexer's own paragraph numbering.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from settings import SHARED_EVALDATA_DIR, EvalSettings
from settings.errors import SanadError

#: the seed of every sample: a given ``--limit`` always selects the same items/articles
SAMPLE_SEED = 20261122

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = Path(__file__).resolve().parent / "data"
SEEDS_GOLD = DATA_DIR / "seeds_gold.jsonl"
SEEDS_CORPUS = REPO_ROOT / "seeds"
#: the seed articles printed to PDF by Chromium, one by LibreOffice (justified) and one with a
#: scanned first page (tests/fixtures/make_docs.py --seeds-pdf)
SEEDS_PDF_CORPUS = DATA_DIR / "seeds_pdf"


class EvalSetError(SanadError, RuntimeError):
    """A set cannot be loaded (missing data, bad gold line); the message says what to do."""

    code = "eval_set_unavailable"


@dataclass(frozen=True)
class GoldItem:
    """One question and what counts as a right answer to it."""

    id: str
    lang: str  # "ar" | "en"
    question: str
    gold_refs: tuple[dict[str, Any], ...]  # {"file", "line"} or {"file", "paragraph"}
    answers: tuple[str, ...]
    answerable: bool
    kind: str = ""
    #: documents left out when this question is asked (an "absent article" question)
    exclude_files: tuple[str, ...] = ()


@dataclass
class EvalSet:
    """A named list of gold items and the corpus they refer to."""

    name: str
    items: list[GoldItem]
    corpus_paths: list[Path]  # what to hand the indexer: one folder, or files
    corpus_root: Path  # the folder gold ``file`` names are relative to
    description: str = ""
    sample: dict[str, Any] = field(default_factory=dict)  # what --limit selected


# --------------------------------------------------------------------------- helpers
def seeded_take(values: Sequence[Any], n: int | None) -> list[Any]:
    """The first ``n`` of a fixed seeded shuffle of ``values`` (all when ``n`` is None).

    The shuffle does not depend on ``n``, so a smaller sample is a subset of a larger one.
    The result keeps the original order.
    """
    values = list(values)
    if n is None or n >= len(values):
        return values
    if n < 1:
        raise EvalSetError(f"--limit must be at least 1 (got {n})")
    order = list(range(len(values)))
    random.Random(SAMPLE_SEED).shuffle(order)
    keep = sorted(order[:n])
    return [values[i] for i in keep]


def evaldata_dir() -> Path:
    """``$SANAD_EVALDATA_DIR`` or ``<repo>/../shared/evaldata``; an error if absent."""
    env = EvalSettings().evaldata_dir
    if env is not None:
        path = env.expanduser()
        if not path.is_dir():
            raise EvalSetError(f"SANAD_EVALDATA_DIR={env} is not a folder")
        return path
    path = SHARED_EVALDATA_DIR
    if not path.is_dir():
        raise EvalSetError(
            f"the shared evaluation data is not at {path}; set SANAD_EVALDATA_DIR to the folder "
            "that holds xquad/ (contexts/ and questions.jsonl)")
    return path


def xquad_dir() -> Path:
    base = evaldata_dir()
    for candidate in (base / "xquad", base):
        if (candidate / "questions.jsonl").is_file() and (candidate / "contexts").is_dir():
            return candidate
    raise EvalSetError(f"no XQuAD data under {base} (expected xquad/questions.jsonl and xquad/contexts/)")


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise EvalSetError(f"cannot read {path}: {exc}") from exc
    for n, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise EvalSetError(f"{path}:{n}: not JSON: {exc}") from exc
        if not isinstance(row, dict):
            raise EvalSetError(f"{path}:{n}: expected a JSON object")
        rows.append(row)
    return rows


def item_from_json(row: dict[str, Any], where: str) -> GoldItem:
    """A gold item from one JSONL object (fields of ``evals/data/seeds_gold.jsonl``)."""
    try:
        question = str(row["question"])
        gold = row.get("gold") or []
        answers = [str(a) for a in row.get("answers") or []]
        answerable = bool(row.get("answerable", bool(gold)))
    except (KeyError, TypeError) as exc:
        raise EvalSetError(f"{where}: missing or bad field {exc}") from exc
    refs = []
    for ref in gold:
        if not isinstance(ref, dict) or "file" not in ref or not ({"line", "paragraph"} & ref.keys()):
            raise EvalSetError(f"{where}: a gold ref needs file and line (or paragraph): {ref!r}")
        refs.append(dict(ref))
    lang = row.get("lang")
    if lang not in ("ar", "en"):
        from qa.language import detect_language

        lang = detect_language(question)
    return GoldItem(id=str(row.get("id") or where), lang=lang, question=question,
                    gold_refs=tuple(refs), answers=tuple(answers), answerable=answerable,
                    kind=str(row.get("kind") or ("answerable" if answerable else "unanswerable")))


# --------------------------------------------------------------------------- sets
def corpus_for_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    """The corpus folder of a gold JSONL, by this convention (first that applies):

    1. ``$SANAD_EVAL_CORPUS``;
    2. a ``"corpus"`` field on the items (the first one found), a folder relative to the
       JSONL's own folder (or absolute);
    3. a folder beside the JSONL named like it without ``.jsonl`` and without a trailing
       ``_gold`` (``mine_gold.jsonl`` -> ``mine/``).
    """
    env = EvalSettings().eval_corpus
    if env is not None:
        candidate = env.expanduser()
        tried = [f"$SANAD_EVAL_CORPUS={env}"]
    else:
        field_value = next((r["corpus"] for r in rows if r.get("corpus")), None)
        if field_value:
            candidate = (path.parent / str(field_value)).resolve()
            tried = [f'"corpus": {field_value!r} (relative to {path.parent})']
        else:
            stem = path.name.removesuffix(".jsonl").removesuffix("_gold")
            candidate = path.parent / stem
            tried = [f"the folder {candidate}"]
    if not candidate.is_dir():
        raise EvalSetError(
            f"no corpus for {path}: looked for {tried[0]}. Set SANAD_EVAL_CORPUS, add a "
            '"corpus" field to the items, or put the documents in a folder named like the file')
    return candidate


def load_jsonl_set(path: Path, *, limit: int | None = None, name: str | None = None,
                   corpus: Path | None = None) -> EvalSet:
    """A gold JSONL over its corpus; ``limit`` = a seeded sample of that many questions."""
    path = Path(path)
    if not path.is_file():
        raise EvalSetError(f"no gold file {path} (give seeds, xquad or a gold JSONL path)")
    rows = _read_jsonl(path)
    if not rows:
        raise EvalSetError(f"{path} holds no questions")
    root = corpus if corpus is not None else corpus_for_jsonl(path, rows)
    items = [item_from_json(r, f"{path.name}:{i}") for i, r in enumerate(rows, 1)]
    ids = [it.id for it in items]
    if len(set(ids)) != len(ids):
        raise EvalSetError(f"{path}: item ids are not unique")
    chosen = seeded_take(items, limit)
    set_name = name or path.name.removesuffix(".jsonl").removesuffix("_gold")
    return EvalSet(name=set_name, items=chosen, corpus_paths=[root], corpus_root=root,
                   description=f"{path} over {root}",
                   sample={"unit": "questions", "limit": limit, "of": len(items), "seed": SAMPLE_SEED})


def load_seeds(*, limit: int | None = None) -> EvalSet:
    if not SEEDS_CORPUS.is_dir():
        raise EvalSetError(f"the seed corpus is not at {SEEDS_CORPUS}")
    return load_jsonl_set(SEEDS_GOLD, limit=limit, name="seeds", corpus=SEEDS_CORPUS)


def sample_articles(contexts: Path, limit: int | None) -> tuple[list[str], list[str]]:
    """(every ``.txt`` article in ``contexts``, the seeded sample of ``limit`` of them)."""
    files = sorted(p.name for p in contexts.glob("*.txt"))
    if not files:
        raise EvalSetError(f"no .txt contexts in {contexts}")
    return files, seeded_take(files, limit)


#: one XQuAD question in this many is also asked with its article left out of the corpus
ABSENT_EVERY = 4


def absent_question(question_id: str) -> bool:
    """Whether an XQuAD question is also asked as an "absent article" question (fixed by its id)."""
    return int(hashlib.sha256(f"{SAMPLE_SEED}:{question_id}".encode()).hexdigest(), 16) % ABSENT_EVERY == 0


def load_xquad(*, limit: int | None = None) -> EvalSet:
    """XQuAD over the sampled articles; each question asked in Arabic and in English.

    ``limit`` counts ARTICLES (files, 5 paragraphs each), not questions: indexing a paragraph
    costs ~1.2 s on a 2-core CPU, so sampling whole articles is what makes a run cheap, and
    every sampled paragraph keeps its real competitors (the other paragraphs of its article).

    One question in :data:`ABSENT_EVERY` is asked a second time (kind ``xquad-absent``, not
    answerable) with its own article left out of retrieval: the abstention check on
    questions whose answer is not in the corpus.
    """
    base = xquad_dir()
    contexts = base / "contexts"
    files, chosen = sample_articles(contexts, limit)
    keep = set(chosen)
    items: list[GoldItem] = []
    n_questions = 0
    for row in _read_jsonl(base / "questions.jsonl"):
        if row["file"] not in keep:
            continue
        n_questions += 1
        ref = ({"file": row["file"], "paragraph": int(row["paragraph"])},)
        answer_ar = str(row["answer_ar"])
        answer_en = str(row["answer_en"])
        items.append(GoldItem(id=f"{row['id']}-ar", lang="ar", question=str(row["question_ar"]),
                              gold_refs=ref, answers=(answer_ar,), answerable=True, kind="xquad"))
        items.append(GoldItem(id=f"{row['id']}-en", lang="en", question=str(row["question_en"]),
                              gold_refs=ref, answers=(answer_ar, answer_en), answerable=True,
                              kind="xquad"))
        if absent_question(str(row["id"])):
            # the same question asked with its article left out: a correct system abstains
            for lang in ("ar", "en"):
                items.append(GoldItem(id=f"{row['id']}-{lang}-absent", lang=lang,
                                      question=str(row[f"question_{lang}"]), gold_refs=(), answers=(),
                                      answerable=False, kind="xquad-absent", exclude_files=(row["file"],)))
    return EvalSet(name="xquad", items=items, corpus_paths=[contexts / f for f in chosen],
                   corpus_root=contexts,
                   description=f"XQuAD: {len(chosen)} of {len(files)} articles, {n_questions} questions x 2 languages",
                   sample={"unit": "articles", "limit": limit, "of": len(files), "seed": SAMPLE_SEED,
                           "files": chosen, "questions": n_questions})


def xquad_en_contexts(base: Path, cache: Path, files_by_id: dict[str, str]) -> tuple[Path, dict[str, tuple[str, int]]]:
    """XQuAD's English paragraphs as ``.txt`` articles (one paragraph a line, a blank line
    between), each named as its Arabic article is (``files_by_id``: question id -> file),
    written under ``cache`` when missing or stale; returns the folder and
    ``question id -> (file, paragraph)``."""
    source = base / "xquad.en.json"
    try:
        data = json.loads(source.read_text(encoding="utf-8"))["data"]
    except (OSError, ValueError, KeyError) as exc:
        raise EvalSetError(f"cannot read XQuAD's English file {source}: {exc}") from exc
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    folder = cache / f"xquad-en-{digest}" / "contexts"
    where: dict[str, tuple[str, int]] = {}
    texts: dict[str, str] = {}
    for article in data:
        ids = [str(qa["id"]) for para in article["paragraphs"] for qa in para["qas"]]
        file = next((files_by_id[i] for i in ids if i in files_by_id), None)
        if file is None:
            raise EvalSetError(f"{source}: article {article.get('title')!r} has no question in questions.jsonl")
        paragraphs = []
        for n, para in enumerate(article["paragraphs"], 1):
            paragraphs.append(" ".join(str(para["context"]).split()))
            for qa in para["qas"]:
                where[str(qa["id"])] = (file, n)
        texts[file] = "\n\n".join(paragraphs) + "\n"
    if not all((folder / f).is_file() for f in texts):
        folder.mkdir(parents=True, exist_ok=True)
        for file, text in texts.items():
            tmp = folder / f".{file}.tmp"
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(folder / file)
    return folder, where


def eval_cache_dir() -> Path:
    """Where derived eval data is written (``SANAD_EVAL_CACHE_DIR``)."""
    return EvalSettings().eval_cache_dir


def load_xquad_en(*, limit: int | None = None) -> EvalSet:
    """XQuAD's English questions over its ENGLISH paragraphs (English over English); the same
    articles as :func:`load_xquad` for the same ``limit``, and the same absent-article rule."""
    base = xquad_dir()
    rows = _read_jsonl(base / "questions.jsonl")
    contexts, where = xquad_en_contexts(base, eval_cache_dir(), {str(r["id"]): str(r["file"]) for r in rows})
    files, chosen = sample_articles(contexts, limit)
    keep = set(chosen)
    items: list[GoldItem] = []
    for row in rows:
        qid = str(row["id"])
        if qid not in where or where[qid][0] not in keep:
            continue
        file, paragraph = where[qid]
        items.append(GoldItem(id=f"{qid}-en", lang="en", question=str(row["question_en"]),
                              gold_refs=({"file": file, "paragraph": paragraph},), answers=(str(row["answer_en"]),),
                              answerable=True, kind="xquad-en"))
        if absent_question(qid):
            items.append(GoldItem(id=f"{qid}-en-absent", lang="en", question=str(row["question_en"]), gold_refs=(),
                                  answers=(), answerable=False, kind="xquad-en-absent", exclude_files=(file,)))
    n_questions = sum(1 for it in items if it.answerable)
    return EvalSet(name="xquad-en", items=items, corpus_paths=[contexts / f for f in chosen], corpus_root=contexts,
                   description=f"XQuAD English over English: {len(chosen)} of {len(files)} articles, "
                   f"{n_questions} questions",
                   sample={"unit": "articles", "limit": limit, "of": len(files), "seed": SAMPLE_SEED,
                           "files": chosen, "questions": n_questions})


#: the native Arabic sets: ``--set`` name -> (folder under the evaldata dir, what it is)
NATIVE_SETS = {
    "arcd-train": ("arcd-train", "ARCD training split: native Arabic questions over Arabic Wikipedia, "
                   "three paragraphs an article"),
    "tydiqa-ar": ("tydiqa-ar", "TyDi QA GoldP Arabic dev: native Arabic questions written before "
                  "seeing the passage"),
}


def native_dir(name: str) -> Path:
    folder = evaldata_dir() / NATIVE_SETS[name][0]
    if not ((folder / "questions.jsonl").is_file() and (folder / "contexts").is_dir()):
        raise EvalSetError(f"no {name} data under {folder} (expected questions.jsonl and contexts/)")
    return folder


def load_native(name: str, *, limit: int | None = None) -> EvalSet:
    """A native Arabic set (``arcd-train``, ``tydiqa-ar``): Arabic questions over their files.

    ``limit`` counts FILES (articles), as for XQuAD: a sampled article keeps all its paragraphs
    and questions, so the paragraphs that compete for a question stay in the corpus. As for
    XQuAD, one question in :data:`ABSENT_EVERY` is asked again with its article left out
    (kind ``<name>-absent``, not answerable): the abstention check.
    """
    base = native_dir(name)
    contexts = base / "contexts"
    files, chosen = sample_articles(contexts, limit)
    keep = set(chosen)
    items: list[GoldItem] = []
    for row in _read_jsonl(base / "questions.jsonl"):
        if row.get("file") not in keep:
            continue
        try:
            qid, question, file = str(row["id"]), str(row["question_ar"]), str(row["file"])
            ref = ({"file": file, "paragraph": int(row["paragraph"])},)
            answer = str(row.get("answer_ar") or "")
        except (KeyError, TypeError, ValueError) as exc:
            raise EvalSetError(f"{base / 'questions.jsonl'}: bad row {row.get('id')!r}: {exc}") from exc
        items.append(GoldItem(id=qid, lang="ar", question=question, gold_refs=ref,
                              answers=(answer,) if answer else (), answerable=True, kind=name))
        if absent_question(qid):
            items.append(GoldItem(id=f"{qid}-absent", lang="ar", question=question, gold_refs=(), answers=(),
                                  answerable=False, kind=f"{name}-absent", exclude_files=(file,)))
    n_questions = sum(1 for it in items if it.answerable)
    return EvalSet(name=name, items=items, corpus_paths=[contexts / f for f in chosen], corpus_root=contexts,
                   description=f"{NATIVE_SETS[name][1]}: {len(chosen)} of {len(files)} articles, "
                   f"{n_questions} questions",
                   sample={"unit": "articles", "limit": limit, "of": len(files), "seed": SAMPLE_SEED,
                           "files": chosen, "questions": n_questions})


def seeds_in_format(suffix: str, corpus: Path, *, name: str, description: str = "",
                    limit: int | None = None) -> EvalSet:
    """The seeds questions over the seed articles converted to another format (``.pdf``, ``.docx``).

    ``corpus`` holds ``X<suffix>`` for each seed ``X.txt``. Each gold ``{"file": X.txt, "line": n}``
    becomes ``{"file": X<suffix>, "quote": line n of X.txt}``: the paragraph holding that text,
    whatever the extractor numbers it.
    """
    base = load_seeds(limit=limit)
    lines: dict[str, list[str]] = {}

    def convert(file: str) -> str:
        return file[: -len(".txt")] + suffix if file.endswith(".txt") else file

    items = []
    for item in base.items:
        refs = []
        for ref in item.gold_refs:
            file = str(ref["file"])
            if file not in lines:
                lines[file] = (SEEDS_CORPUS / file).read_text(encoding="utf-8").split("\n")
            if "line" not in ref:
                raise EvalSetError(f"{item.id}: {name} needs line references, not {ref}")
            refs.append({"file": convert(file), "quote": lines[file][int(ref["line"]) - 1]})
        items.append(GoldItem(id=item.id, lang=item.lang, question=item.question, gold_refs=tuple(refs),
                              answers=item.answers, answerable=item.answerable, kind=item.kind,
                              exclude_files=tuple(convert(f) for f in item.exclude_files)))
    return EvalSet(name=name, items=items, corpus_paths=[corpus], corpus_root=corpus,
                   description=description, sample=base.sample)


def load_seeds_pdf(*, limit: int | None = None) -> EvalSet:
    """The seeds questions over the seed articles printed to PDF (``evals/data/seeds_pdf/``)."""
    if not SEEDS_PDF_CORPUS.is_dir():
        raise EvalSetError(f"no {SEEDS_PDF_CORPUS} (make it: python tests/fixtures/make_docs.py --seeds-pdf)")
    return seeds_in_format(".pdf", SEEDS_PDF_CORPUS, name="seeds-pdf", limit=limit,
                           description="the seeds questions over the seed articles printed to PDF "
                           "(Chromium, right to left; one by LibreOffice, justified; one with a scanned page)")


def load_set(spec: str, *, limit: int | None = None, corpus: Path | None = None) -> EvalSet:
    """``seeds``, ``seeds-pdf``, ``xquad``, ``arcd-train``, ``tydiqa-ar`` or a path to a gold JSONL (``corpus`` overrides its convention)."""
    if spec == "seeds":
        return load_seeds(limit=limit)
    if spec == "seeds-pdf":
        return load_seeds_pdf(limit=limit)
    if spec == "xquad":
        return load_xquad(limit=limit)
    if spec == "xquad-en":
        return load_xquad_en(limit=limit)
    if spec in NATIVE_SETS:
        return load_native(spec, limit=limit)
    if corpus is not None and not Path(corpus).is_dir():
        raise EvalSetError(f"--corpus {corpus} is not a folder")
    return load_jsonl_set(Path(spec), limit=limit, corpus=Path(corpus) if corpus is not None else None)


# --------------------------------------------------------------------------- gold resolution
#: a ``quote`` ref resolves to the paragraph most like it when none contains it exactly (text
#: extracted from a PDF may differ from the source in a character or two), at this similarity
QUOTE_MIN_SIMILARITY = 0.9


def _quote_match(quote: str, paras: Sequence[Any]) -> list[Any]:
    import difflib

    quote = " ".join(quote.split())
    exact = [p for p in paras if quote in " ".join(p.text.split())]
    if exact:
        return exact[:1]
    scored = [(difflib.SequenceMatcher(None, quote, " ".join(p.text.split()), autojunk=False).ratio(), p)
              for p in paras]
    best = max(scored, key=lambda sp: sp[0], default=(0.0, None))
    return [best[1]] if best[0] >= QUOTE_MIN_SIMILARITY else []


def resolve_gold(items: Sequence[GoldItem], catalog: Any) -> tuple[dict[str, list[tuple[str, int]]], list[str]]:
    """Map each item's gold refs to (file, paragraph) keys using the catalog's paragraphs.

    Returns (id -> keys, problems). A ``line`` ref resolves to the paragraph whose lines
    include it, a ``quote`` ref to the paragraph that contains its text; a ref to a missing file/paragraph, or to a boilerplate paragraph (never
    retrieved), is a problem: a broken gold set must not silently lower the figures.
    """
    cache: dict[str, list[Any]] = {}
    resolved: dict[str, list[tuple[str, int]]] = {}
    problems: list[str] = []
    for item in items:
        keys: list[tuple[str, int]] = []
        for ref in item.gold_refs:
            file = str(ref["file"])
            if file not in cache:
                cache[file] = list(catalog.paragraphs_of(file))
            paras = cache[file]
            if not paras:
                problems.append(f"{item.id}: {file} is not in the indexed corpus")
                continue
            if "paragraph" in ref:
                match = [p for p in paras if p.paragraph == int(ref["paragraph"])]
            elif "quote" in ref:  # the paragraph holding this text (whitespace-normalised)
                match = _quote_match(str(ref["quote"]), paras)
            else:
                line = int(ref["line"])
                match = [p for p in paras if p.line_start <= line <= p.line_end]
            if not match:
                problems.append(f"{item.id}: no paragraph for {ref} in {file}")
                continue
            para = match[0]
            if para.boilerplate:
                problems.append(f"{item.id}: {ref} is a boilerplate paragraph (never retrieved)")
            key = (para.file, para.paragraph)
            if key not in keys:
                keys.append(key)
        resolved[item.id] = keys
    return resolved, problems
