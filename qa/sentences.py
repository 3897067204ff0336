"""Sentence spans (the splitter lives in index/, which embeds sentences; qa/ quotes them)."""

from __future__ import annotations

from index.sentences import sentence_spans

__all__ = ["sentence_spans"]
