"""HTML (``.html``, ``.htm``): the text of block elements, one paragraph each (scripts, styles
and the head left out). The stored text is that extracted text, one block per line; the title
is ``<title>``, else the first ``<h1>``."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from index.document_model import Lines, Paragraph, ParagraphBuilder
from index.readers.base import TextReader
from index.titles import clean_title


class HtmlReader(TextReader):
    kind = "html"
    name = "HTML"
    suffixes = (".html", ".htm")
    title_from = "`<title>`, else the first `<h1>`"

    def title(self, source: str) -> str:
        return html_title(source)

    def stored_text(self, source: str) -> str:
        return extract_html_text(source)

    def split(self, text: str, *, file: str) -> list[Paragraph]:
        """One paragraph per line of the extracted text."""
        lines = Lines(text)
        builder = ParagraphBuilder(file, lines)
        for i in range(len(lines.lines)):
            if not lines.is_blank(i):
                builder.add_lines(i, i)
        return builder.out


_HTML_TITLE_RE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)
_HTML_H1_RE = re.compile(r"<h1[^>]*>(.*?)</h1\s*>", re.IGNORECASE | re.DOTALL)


def html_title(text: str) -> str:
    for pattern in (_HTML_TITLE_RE, _HTML_H1_RE):
        match = pattern.search(text[:200_000])
        if match and clean_title(match.group(1)):
            return clean_title(match.group(1))
    return ""


_HTML_BLOCK_TAGS: frozenset[str] = frozenset(
    {"p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "td", "th", "pre"}
)
_HTML_BREAK_TAGS: frozenset[str] = frozenset(
    {
        "div", "section", "article", "tr", "br", "hr", "ul", "ol", "dl", "dt", "dd",
        "table", "thead", "tbody", "tfoot", "caption", "header", "footer", "main", "nav",
        "aside", "figure", "figcaption", "form", "address", "details", "summary", "body",
    }
)  # fmt: skip
_HTML_SKIP_TAGS: frozenset[str] = frozenset({"script", "style", "head", "template", "noscript"})
_WS_RUN_RE = re.compile(r"\s+")


class _TextExtractor(HTMLParser):
    """Collects the text of block elements, one block per entry."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = []
        self._buffer: list[str] = []
        self._skip: list[str] = []

    def _flush(self) -> None:
        block = _WS_RUN_RE.sub(" ", "".join(self._buffer)).strip()
        self._buffer.clear()
        if block:
            self.blocks.append(block)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body" and "head" in self._skip:
            # <head> is often left unclosed; <body> ends it.
            del self._skip[self._skip.index("head") :]
        if tag in _HTML_SKIP_TAGS:
            self._skip.append(tag)
        elif tag in _HTML_BLOCK_TAGS or tag in _HTML_BREAK_TAGS:
            self._flush()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HTML_BLOCK_TAGS or tag in _HTML_BREAK_TAGS:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag in _HTML_SKIP_TAGS:
            if tag in self._skip:
                idx = len(self._skip) - 1 - self._skip[::-1].index(tag)
                del self._skip[idx:]
        elif tag in _HTML_BLOCK_TAGS or tag in _HTML_BREAK_TAGS:
            self._flush()

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self._buffer.append(data)

    def close(self) -> None:
        super().close()
        self._flush()


def extract_html_text(html: str) -> str:
    """Text of the HTML's blocks, whitespace collapsed, one block per line (joined by ``\\n``)."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    return "\n".join(parser.blocks)
