"""Plain text (``.txt``): one paragraph per non-blank line, or per blank-line block when the
file is hard-wrapped prose."""

from __future__ import annotations

from index.document_model import Lines, Paragraph, ParagraphBuilder
from index.readers.base import TextReader


class TxtReader(TextReader):
    kind = "txt"
    name = "Plain text"
    suffixes = (".txt",)

    def split(self, text: str, *, file: str) -> list[Paragraph]:
        return split_txt(text, file=file)


def _blocks(lines: Lines) -> list[tuple[int, int]]:
    """Runs of consecutive non-blank lines as (first, last) 0-based inclusive indices."""
    blocks: list[tuple[int, int]] = []
    first: int | None = None
    for i in range(len(lines.lines)):
        if lines.is_blank(i):
            if first is not None:
                blocks.append((first, i - 1))
                first = None
        elif first is None:
            first = i
    if first is not None:
        blocks.append((first, len(lines.lines) - 1))
    return blocks


HARD_WRAP_MIN_BLOCKS = 2
HARD_WRAP_MIN_MULTILINE_SHARE = 0.6
HARD_WRAP_MAX_P90_LINE_LENGTH = 100


def _is_hard_wrapped(lines: Lines, blocks: list[tuple[int, int]]) -> bool:
    """Conservative detection of hard-wrapped prose (blank lines between short-line blocks)."""
    if len(blocks) < HARD_WRAP_MIN_BLOCKS:
        return False
    nonblank = sum(last - first + 1 for first, last in blocks)
    in_multiline = sum(last - first + 1 for first, last in blocks if last > first)
    if in_multiline < HARD_WRAP_MIN_MULTILINE_SHARE * nonblank:
        return False
    lengths = sorted(
        len(lines.lines[i].strip()) for first, last in blocks for i in range(first, last + 1)
    )
    # Nearest-rank 90th percentile.
    rank = max(1, -(-9 * len(lengths) // 10))
    return lengths[rank - 1] <= HARD_WRAP_MAX_P90_LINE_LENGTH


def split_txt(text: str, *, file: str) -> list[Paragraph]:
    """One paragraph per non-blank line; hard-wrapped files are split on blank lines instead."""
    lines = Lines(text)
    blocks = _blocks(lines)
    builder = ParagraphBuilder(file, lines)
    if _is_hard_wrapped(lines, blocks):
        for first, last in blocks:
            builder.add_lines(first, last)
    else:
        for first, last in blocks:
            for i in range(first, last + 1):
                builder.add_lines(i, i)
    return builder.out
