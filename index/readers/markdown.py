"""Markdown (``.md``, ``.markdown``): blank-line blocks; headings and list items are paragraphs of
their own; code fences are kept whole. The title is the first level-1 or level-2 heading."""

from __future__ import annotations

import re

from index.document_model import Lines, Paragraph, ParagraphBuilder
from index.readers.base import TextReader
from index.titles import clean_title


class MarkdownReader(TextReader):
    kind = "md"
    name = "Markdown"
    suffixes = (".md", ".markdown")
    title_from = "the first `#` or `##` heading (or one underlined with `===`)"

    def split(self, text: str, *, file: str) -> list[Paragraph]:
        return split_markdown(text, file=file)

    def title(self, source: str) -> str:
        return markdown_title(source)


_MD_ATX_RE = re.compile(r"^\s{0,3}(#{1,2})\s+(.+?)\s*#*\s*$")
_MD_SETEXT_RE = re.compile(r"^\s{0,3}(=+|-+)\s*$")


def markdown_title(text: str) -> str:
    lines = text.splitlines()
    for i, line in enumerate(lines[:50]):
        match = _MD_ATX_RE.match(line)
        if match:
            return clean_title(match.group(2))
        if line.strip() and i + 1 < len(lines) and _MD_SETEXT_RE.match(lines[i + 1]):
            return clean_title(line)
    return ""


_MD_HEADING_RE = re.compile(r" {0,3}#{1,6}(?:[ \t]|\Z)")
_MD_LIST_ITEM_RE = re.compile(r"[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]")
_MD_FENCE_OPEN_RE = re.compile(r" {0,3}(?P<fence>`{3,}|~{3,})(?P<info>.*)\Z")


def _fence_close_re(fence: str) -> re.Pattern[str]:
    char = re.escape(fence[0])
    return re.compile(rf" {{0,3}}{char}{{{len(fence)},}}[ \t]*\Z")


def split_markdown(text: str, *, file: str) -> list[Paragraph]:
    """Blank-line blocks; headings and list items are own paragraphs; code fences kept whole."""
    lines = Lines(text)
    builder = ParagraphBuilder(file, lines)
    n = len(lines.lines)
    current: tuple[int, int] | None = None

    def flush() -> None:
        nonlocal current
        if current is not None:
            builder.add_lines(*current)
            current = None

    i = 0
    while i < n:
        line = lines.lines[i]
        if lines.is_blank(i):
            flush()
            i += 1
            continue
        fence = _MD_FENCE_OPEN_RE.match(line)
        if fence and not (fence["fence"][0] == "`" and "`" in fence["info"]):
            flush()
            closing = _fence_close_re(fence["fence"])
            j = i + 1
            while j < n and not closing.match(lines.lines[j]):
                j += 1
            last = min(j, n - 1)  # an unclosed fence runs to the end of the document
            builder.add_lines(i, last)
            i = last + 1
            continue
        if _MD_HEADING_RE.match(line):
            flush()
            builder.add_lines(i, i)
        elif _MD_LIST_ITEM_RE.match(line):
            flush()
            current = (i, i)
        elif current is None:
            current = (i, i)
        else:
            current = (current[0], i)
        i += 1
    flush()
    return builder.out
