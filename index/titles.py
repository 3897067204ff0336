"""A document's own title, for the embedding model's document prompt.

EmbeddingGemma's documented document prompt is ``title: {title} | text: {text}``; without a
title it is ``title: none | text: {text}``. A title is taken only where the document states
one, and only when it reads as a title:

- where each format states it, its reader says (``title_from`` in :mod:`index.readers`):
  Markdown's first level-1 or level-2 heading, HTML's ``<title>``, the metadata title of a PDF
  or DOCX (which often holds junk such as ``page.html`` or ``Microsoft Word - doc1.docx``:
  refused);
- the file name, only with ``SANAD_EMBED_TITLE=file_name`` and only when it reads as a title
  (``Albert_Einstein.txt`` yes; ``000_51f39cb05999d58c.txt``, ``scan0003.pdf`` no).

:func:`reads_as_title` is the one rule every candidate passes through.
"""

from __future__ import annotations

import html
import re
from pathlib import PurePosixPath

#: a title longer than this is not a title (a first paragraph, a sentence)
TITLE_MAX_CHARS = 120
TITLE_MAX_WORDS = 14

_FILE_SUFFIX_RE = re.compile(r"\.[A-Za-z0-9]{2,5}$")
_WORD_RE = re.compile(r"[^\W\d_]{2,}")
_JUNK_RE = re.compile(
    r"^(untitled|document|doc|new document|microsoft word\b.*|page|scan|img|image|draft|final|copy|"
    r"sans titre|بدون عنوان|مستند|none)\s*\d*$", re.IGNORECASE)
_HEXISH_RE = re.compile(r"\b[0-9a-f]{8,}\b", re.IGNORECASE)
_TAG_RE = re.compile(r"<[^>]+>")


def clean_title(text: str) -> str:
    return " ".join(html.unescape(_TAG_RE.sub(" ", text)).split())


def reads_as_title(text: str) -> bool:
    """A short line of words: not a file name, a hash, a number or a placeholder."""
    text = text.strip()
    if not text or len(text) > TITLE_MAX_CHARS or len(text.split()) > TITLE_MAX_WORDS:
        return False
    if _FILE_SUFFIX_RE.search(text) or _HEXISH_RE.search(text) or _JUNK_RE.match(text):
        return False
    if text.endswith((".", "؟", "?", ":")) and len(text.split()) > 6:
        return False  # a sentence, not a title
    words = _WORD_RE.findall(text)
    letters = sum(len(w) for w in words)
    digits = sum(ch.isdigit() for ch in text)
    return bool(words) and letters >= 3 and letters >= 2 * digits


def file_name_title(file: str) -> str:
    """``Albert_Einstein.txt`` -> ``Albert Einstein`` (underscores and dashes to spaces)."""
    stem = PurePosixPath(file.replace("\\", "/")).name
    stem = _FILE_SUFFIX_RE.sub("", stem)
    return " ".join(re.sub(r"[_\-]+", " ", stem).split())


def embedding_title(own: str, file: str, *, mode: str) -> str:
    """The title sent in the document prompt under ``SANAD_EMBED_TITLE=mode``; '' = ``none``.

    ``off``: never; ``document``: the document's own title; ``file_name``: the document's own
    title, else its file name when that reads as a title."""
    if mode == "off":
        return ""
    if own:
        return own
    if mode == "file_name":
        name = file_name_title(file)
        return name if reads_as_title(name) else ""
    return ""
