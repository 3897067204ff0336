"""The verdict on one question of a JSON eval report: hit, miss, error or not judged.

Shared by the HTML report, the JUnit file and ``--compare``, so the three agree on what a
miss is. It reads the report's row dicts (``Row.to_json()``), not :class:`evals.metrics.Row`,
so an older report file can be judged the same way as a fresh run.

- unanswerable question: a hit when Sanad abstained (``answerable: false``), else a miss
  (``answered_unanswerable``);
- answerable question: a miss when Sanad abstained (``false_abstention``), a hit when a
  citation's (file, paragraph) is gold, else a miss (``citation_miss``); an answerable
  question without gold paragraphs is not judged (``citation_hit`` does not count it either);
- a question that could not be asked (``error``) is an error; one not asked is not judged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Literal, Mapping

Status = Literal["hit", "miss", "error", "unjudged"]

#: miss kinds -> a short human label
MISS_LABELS = {
    "citation_miss": "citation miss",
    "false_abstention": "abstained, but answerable",
    "answered_unanswerable": "answered, but unanswerable",
}


@dataclass(frozen=True)
class Verdict:
    status: Status
    #: ``citation_miss`` | ``false_abstention`` | ``answered_unanswerable`` for a miss, else ""
    kind: str
    #: one sentence for people (the JUnit failure message, the HTML badge's title)
    reason: str

    @property
    def label(self) -> str:
        return MISS_LABELS.get(self.kind, self.status)


def gold_keys(row: Mapping[str, Any]) -> set[tuple[str, int]]:
    """The row's gold paragraphs as ``(file, paragraph)``."""
    out = set()
    for g in row.get("gold") or []:
        if isinstance(g, Mapping):
            out.add((str(g.get("file")), int(g.get("paragraph", 0))))
        else:  # (file, paragraph) pairs
            out.add((str(g[0]), int(g[1])))
    return out


def judge(row: Mapping[str, Any]) -> Verdict:
    """The verdict on one report row (see the module docstring)."""
    if row.get("error"):
        return Verdict("error", "", f"could not be asked: {row['error']}")
    if not row.get("asked"):
        return Verdict("unjudged", "", "not asked")
    abstained = row.get("predicted_answerable") is False
    if not row.get("answerable"):
        if abstained:
            return Verdict("hit", "", "abstained on an unanswerable question")
        return Verdict("miss", "answered_unanswerable", "answered a question the corpus does not answer")
    if abstained:
        return Verdict("miss", "false_abstention", "abstained on a question the corpus answers")
    gold = gold_keys(row)
    if not gold:
        return Verdict("unjudged", "", "answerable, but the gold set names no paragraph")
    cited = [(str(c.get("file")), int(c.get("paragraph", 0))) for c in row.get("citations") or []]
    if any(key in gold for key in cited):
        return Verdict("hit", "", "cites a gold paragraph")
    if not cited:
        return Verdict("miss", "citation_miss", "answered without citations")
    return Verdict("miss", "citation_miss", "no citation is a gold paragraph")


def row_keys(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """A unique key per row: its ``id``, with ``#2``, ``#3`` ... on repeated ids (a hand-written
    gold set may repeat one), so two runs of the same set pair their rows up in order."""
    seen: dict[str, int] = {}
    keys = []
    for row in rows:
        base = str(row.get("id", ""))
        seen[base] = seen.get(base, 0) + 1
        keys.append(base if seen[base] == 1 else f"{base}#{seen[base]}")
    return keys
