"""Sanity checks for the hand-written gold set over the seed articles.

Plain pytest, no model, no project imports: the gold file must stay
consistent with the seed texts it cites.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
GOLD = ROOT / "evals" / "data" / "seeds_gold.jsonl"
SEEDS = ROOT / "seeds"

REQUIRED = {"id", "lang", "question", "gold", "answers", "answerable", "kind"}
KINDS = {"factoid", "crosslingual", "multi_article", "conflict", "paraphrase", "unanswerable"}
BOILERPLATE = {"+a", "-a", "icon", "حجم الخط", "التعليقات"}
IMAGE_RE = re.compile(r"^\S+\.(jpe?g|png|gif|webp)$", re.IGNORECASE)

_DIACRITICS = re.compile("[\u064b-\u065f\u0640]")
_ARABIC = re.compile("[\u0621-\u064a]")
_LATIN = re.compile("[A-Za-z]")


def normalise(text: str) -> str:
    text = _DIACRITICS.sub("", text)
    text = re.sub("[أإآ]", "ا", text)
    text = text.replace("ى", "ي").replace("ة", "ه")
    return text.casefold()


def _load_items() -> list[dict]:
    items = []
    for n, raw in enumerate(GOLD.read_text(encoding="utf-8").split("\n"), 1):
        if not raw.strip():
            continue
        try:
            items.append(json.loads(raw))
        except json.JSONDecodeError as exc:  # pragma: no cover - reported by the test
            pytest.fail(f"{GOLD.name}:{n} does not parse: {exc}")
    return items


def _seed_lines(name: str) -> list[str] | None:
    path = SEEDS / name
    if not path.is_file():
        return None
    return path.read_text(encoding="utf-8").split("\n")


ITEMS = _load_items()


def _is_boilerplate(line: str) -> bool:
    s = line.strip()
    return not s or s.casefold() in BOILERPLATE or bool(IMAGE_RE.match(s))


def test_file_parses_and_is_not_empty():
    assert GOLD.is_file()
    assert ITEMS


def test_ids_unique():
    ids = [it.get("id") for it in ITEMS]
    dupes = [i for i, c in Counter(ids).items() if c > 1]
    assert not dupes, f"duplicate ids: {dupes}"


@pytest.mark.parametrize("item", ITEMS, ids=lambda it: str(it.get("id")))
def test_item_schema(item):
    missing = REQUIRED - item.keys()
    assert not missing, f"missing keys {missing}"
    assert isinstance(item["id"], str) and item["id"]
    assert isinstance(item["question"], str) and item["question"].strip()
    assert item["lang"] in {"ar", "en"}
    assert item["kind"] in KINDS
    assert isinstance(item["gold"], list)
    assert isinstance(item["answers"], list)
    assert all(isinstance(a, str) and a.strip() for a in item["answers"])
    assert isinstance(item["answerable"], bool)
    assert item["answerable"] == bool(item["gold"]) == bool(item["answers"])
    assert (item["kind"] == "unanswerable") == (not item["answerable"])


@pytest.mark.parametrize("item", ITEMS, ids=lambda it: str(it.get("id")))
def test_language_matches_script(item):
    q = item["question"]
    ar = len(_ARABIC.findall(q))
    en = len(_LATIN.findall(q))
    if item["lang"] == "ar":
        assert ar > en, f"ar question is not mostly Arabic: {q!r}"
    else:
        assert en > ar, f"en question is not mostly Latin: {q!r}"
    if item["kind"] == "crosslingual":
        assert item["lang"] == "en"


@pytest.mark.parametrize("item", ITEMS, ids=lambda it: str(it.get("id")))
def test_gold_refs_point_to_content_lines(item):
    seen = set()
    for ref in item["gold"]:
        assert set(ref) == {"file", "line"}, ref
        assert isinstance(ref["line"], int) and ref["line"] >= 1, ref
        key = (ref["file"], ref["line"])
        assert key not in seen, f"duplicate gold ref {key}"
        seen.add(key)
        lines = _seed_lines(ref["file"])
        assert lines is not None, f"no seed file {ref['file']}"
        assert ref["line"] <= len(lines), f"{key} past end of file ({len(lines)} lines)"
        text = lines[ref["line"] - 1]
        assert not _is_boilerplate(text), f"{key} is blank or boilerplate: {text!r}"


@pytest.mark.parametrize(
    "item", [it for it in ITEMS if it.get("answerable")], ids=lambda it: str(it.get("id"))
)
def test_some_answer_occurs_in_some_gold_line(item):
    gold_text = [
        normalise(_seed_lines(ref["file"])[ref["line"] - 1]) for ref in item["gold"]
    ]
    answers = [normalise(a) for a in item["answers"]]
    assert any(a in line for a in answers for line in gold_text), (
        f"none of {item['answers']} occurs in gold lines {item['gold']}"
    )


def test_counts():
    kinds = Counter(it["kind"] for it in ITEMS)
    langs = Counter(it["lang"] for it in ITEMS)
    total = len(ITEMS)
    assert total >= 64
    assert kinds["unanswerable"] >= 12
    assert kinds["crosslingual"] >= 12
    assert kinds["multi_article"] >= 6
    assert kinds["conflict"] >= 3
    assert kinds["paraphrase"] >= 8
    for lang in ("ar", "en"):
        share = langs[lang] / total
        assert 0.4 <= share <= 0.6, f"{lang} share {share:.2f}"
    unans = Counter(it["lang"] for it in ITEMS if it["kind"] == "unanswerable")
    assert unans["ar"] >= 3 and unans["en"] >= 3


def test_acceptance_items_present():
    by_q = {it["question"]: it for it in ITEMS}
    chair = by_q["من ترأس اجتماع مجلس روسيا والناتو؟"]
    assert {"file": "001_60d84da894ed2980.txt", "line": 19} in chair["gold"]
    assert "ستولتنبرغ" in chair["answers"]
    amb = by_q["Who is the new US ambassador to NATO?"]
    assert {"file": "001_60d84da894ed2980.txt", "line": 25} in amb["gold"]
    gdp = by_q["What was Russia's GDP in 2021?"]
    assert gdp["lang"] == "en" and not gdp["answerable"] and not gdp["gold"]
