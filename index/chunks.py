"""Paragraphs to chunks: the units that are embedded and retrieved.

A chunk is one paragraph, or a short paragraph (a heading such as "سحب قوات") joined with
the paragraph right under it. Boilerplate paragraphs are left out. A chunk's id is
``file#first-last#hash`` so re-indexing an unchanged paragraph yields the same id.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from index.paragraphs import Paragraph, ParsedDocument

#: a paragraph shorter than this (characters) is joined with the next one
SHORT_PARAGRAPH_CHARS = 60
#: at most this many paragraphs in one chunk
MAX_PARAGRAPHS_PER_CHUNK = 3


@dataclass(frozen=True, slots=True)
class Chunk:
    id: str
    file: str
    paragraphs: tuple[int, ...]
    text: str  # the paragraphs' texts joined by newlines (what is embedded and searched)


def chunk_id(file: str, paragraphs: tuple[int, ...], text: str) -> str:
    digest = hashlib.sha256(f"{file}\0{text}".encode()).hexdigest()[:16]
    return f"{file}#{paragraphs[0]}-{paragraphs[-1]}#{digest}"


def build_chunks(doc: ParsedDocument) -> list[Chunk]:
    """Group a document's retrievable paragraphs into chunks, in reading order."""
    retrievable = [p for p in doc.paragraphs if not p.boilerplate]
    chunks: list[Chunk] = []
    group: list[Paragraph] = []
    for para in retrievable:
        if group and (
            para.paragraph != group[-1].paragraph + 1
            or len(group[-1].text) >= SHORT_PARAGRAPH_CHARS
            or len(group) >= MAX_PARAGRAPHS_PER_CHUNK
        ):
            chunks.append(_make_chunk(doc.file, group))
            group = []
        group.append(para)
    if group:
        chunks.append(_make_chunk(doc.file, group))
    return chunks


def _make_chunk(file: str, group: list[Paragraph]) -> Chunk:
    numbers = tuple(p.paragraph for p in group)
    text = "\n".join(p.text for p in group)
    return Chunk(id=chunk_id(file, numbers, text), file=file, paragraphs=numbers, text=text)
