"""Tests for index.paragraphs: documents, paragraph numbering and verbatim offsets."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from index.paragraphs import (
    SUPPORTED_SUFFIXES,
    DocumentError,
    Paragraph,
    ParsedDocument,
    decode_text,
    extract_html_text,
    is_boilerplate,
    kind_for,
    load_document,
    parse_document,
    split_markdown,
    split_paragraphs,
    split_txt,
)

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
SEED_FILES = sorted(SEEDS.glob("*.txt"))
SEED_001 = SEEDS / "001_60d84da894ed2980.txt"


def check_invariants(text: str, paragraphs: list[Paragraph] | tuple[Paragraph, ...]) -> None:
    """Verbatim, stripped, non-empty, ordered, non-overlapping, numbered, lines consistent."""
    prev_end = 0
    for number, p in enumerate(paragraphs, start=1):
        assert p.paragraph == number
        assert text[p.char_start : p.char_end] == p.text
        assert p.text and p.text == p.text.strip()
        assert p.char_start >= prev_end
        assert p.char_start < p.char_end
        assert p.line_start == text.count("\n", 0, p.char_start) + 1
        assert p.line_end == text.count("\n", 0, p.char_end - 1) + 1
        assert p.line_start <= p.line_end
        prev_end = p.char_end


def uncovered_non_space(text: str, paragraphs: list[Paragraph]) -> str:
    """Characters outside every paragraph that are not whitespace (should be none)."""
    covered = [False] * len(text)
    for p in paragraphs:
        for i in range(p.char_start, p.char_end):
            covered[i] = True
    return "".join(ch for ch, c in zip(text, covered) if not c and not ch.isspace())


# --------------------------------------------------------------------------- seeds


def test_seeds_present() -> None:
    assert len(SEED_FILES) == 5


@pytest.mark.parametrize("path", SEED_FILES, ids=lambda p: p.name)
def test_seed_paragraphs(path: Path) -> None:
    raw = path.read_bytes()
    doc = load_document(path, root=SEEDS)
    assert isinstance(doc, ParsedDocument)
    assert doc.file == path.name
    assert doc.kind == "txt"
    assert doc.sha256 == hashlib.sha256(raw).hexdigest()
    check_invariants(doc.text, doc.paragraphs)

    # Expected paragraphs computed independently: non-blank lines of the file.
    lines = raw.decode("utf-8").split("\n")
    expected = [(n, line.strip()) for n, line in enumerate(lines, start=1) if line.strip()]
    assert len(doc.paragraphs) == len(expected)
    for p, (line_no, line_text) in zip(doc.paragraphs, expected):
        assert p.line_start == p.line_end == line_no
        assert p.text == line_text
    assert [p.paragraph for p in doc.paragraphs] == list(range(1, len(expected) + 1))
    assert doc.title and len(doc.title) <= 200


def test_seed_001_known_facts() -> None:
    doc = load_document(SEED_001, root=SEEDS)
    by_line = {p.line_start: p for p in doc.paragraphs}
    assert "ويترأس الاجتماع أمين عام حلف" in by_line[19].text
    assert by_line[19].paragraph == 13  # the example citation of docs/http-api.md
    assert "سفيرة واشنطن الجديدة لدى حلف شمال الأطلسي" in by_line[25].text
    assert "جوليان سميث" in by_line[25].text

    flagged = {p.text for p in doc.paragraphs if p.boilerplate}
    assert {"+A", "-A", "thumbs_b_c_27dc507299fec098143f244caffa6bdb.jpg"} <= flagged
    assert {"icon", "التغطية الحية", "حجم الخط"} <= flagged
    # Boilerplate is still numbered: +A is on line 11, the 8th non-blank line.
    assert by_line[11].text == "+A" and by_line[11].paragraph == 8
    assert not by_line[19].boilerplate
    assert not by_line[6].boilerplate  # date line "2022.01.12 | 15:11 دمشق"
    assert doc.title.startswith("روسيا تجري مباحثات في بروكسل")


def test_seed_001_is_not_hard_wrapped() -> None:
    text = decode_text(SEED_001.read_bytes())
    paragraphs = split_txt(text, file=SEED_001.name)
    assert all(p.line_start == p.line_end for p in paragraphs)
    assert len(paragraphs) == 20


def test_seed_000_last_line_boilerplate() -> None:
    doc = load_document(SEEDS / "000_51f39cb05999d58c.txt", root=SEEDS)
    assert doc.paragraphs[-1].text == "التعليقات"
    assert doc.paragraphs[-1].boilerplate
    assert not any(p.boilerplate for p in doc.paragraphs[:-1])


# --------------------------------------------------------------------------- decoding


def test_crlf_lone_cr_and_bom_match_lf_version() -> None:
    lf = "icon\n\nأول فقرة هنا\n  ثانية  \n\n\nthird line\n"
    lf_doc = parse_document(lf.encode(), file="a.txt")
    variants = [
        lf.replace("\n", "\r\n").encode(),
        lf.replace("\n", "\r").encode(),
        b"\xef\xbb\xbf" + lf.encode(),
        b"\xef\xbb\xbf" + lf.replace("\n", "\r\n").encode(),
    ]
    for data in variants:
        doc = parse_document(data, file="a.txt")
        assert doc.text == lf
        check_invariants(doc.text, doc.paragraphs)
        assert [(p.paragraph, p.text, p.line_start, p.char_start) for p in doc.paragraphs] == [
            (p.paragraph, p.text, p.line_start, p.char_start) for p in lf_doc.paragraphs
        ]
        assert doc.sha256 == hashlib.sha256(data).hexdigest()
    assert [p.text for p in lf_doc.paragraphs] == ["icon", "أول فقرة هنا", "ثانية", "third line"]
    assert lf_doc.paragraphs[2].char_start == lf.index("ثانية")


def test_decode_text_rules() -> None:
    assert decode_text(b"\xef\xbb\xbfabc") == "abc"
    assert decode_text(b"a\r\r\nb\rc\r\n") == "a\n\nb\nc\n"
    # Nothing else changes: other whitespace, bidi marks and a non-leading BOM stay.
    s = "\u200fعربي\u200e\t x\u2028y\x0c\ufeffz"
    assert decode_text(s.encode()) == s


def test_binary_file_rejected() -> None:
    with pytest.raises(DocumentError, match="binary file"):
        decode_text(b"abc\x00def")
    with pytest.raises(DocumentError, match="binary file"):
        parse_document("hi".encode("utf-16"), file="x.txt")


def test_invalid_utf8_rejected() -> None:
    with pytest.raises(DocumentError, match=r"not valid UTF-8 \(byte 3\)"):
        decode_text(b"abc\xff\xfe")
    with pytest.raises(DocumentError, match="not valid UTF-8"):
        parse_document("مرحبا".encode("cp1256"), file="x.txt")
    try:
        decode_text(b"ok\xc3")
    except DocumentError as exc:
        assert "\n" not in str(exc)
        assert isinstance(exc, ValueError)


# --------------------------------------------------------------------------- txt


HARD_WRAPPED = (
    "The North Atlantic Council met in Brussels on Wednesday to discuss\n"
    "the security situation in Europe and the proposals put forward by\n"
    "Moscow in December.\n"
    "\n"
    "Officials said the talks were frank and that both sides agreed to\n"
    "continue the dialogue, although no breakthrough was expected soon.\n"
    "\n"
    "    A third paragraph, indented, also wrapped\n"
    "    at a short width.  \n"
)


def test_hard_wrapped_txt_split_on_blank_lines() -> None:
    paragraphs = split_txt(HARD_WRAPPED, file="w.txt")
    check_invariants(HARD_WRAPPED, paragraphs)
    assert len(paragraphs) == 3
    first, second, third = paragraphs
    assert (first.line_start, first.line_end) == (1, 3)
    assert (second.line_start, second.line_end) == (5, 6)
    assert (third.line_start, third.line_end) == (8, 9)
    assert first.text.startswith("The North") and first.text.endswith("December.")
    assert "\n" in first.text
    assert third.text == "A third paragraph, indented, also wrapped\n    at a short width."


def test_hard_wrapped_with_crlf() -> None:
    doc = parse_document(HARD_WRAPPED.replace("\n", "\r\n").encode(), file="w.txt")
    assert len(doc.paragraphs) == 3
    check_invariants(doc.text, doc.paragraphs)


@pytest.mark.parametrize(
    "text",
    [
        # One block only: per-line.
        "line one\nline two\nline three\n",
        # Blank-line separated single lines (news style): per-line.
        "first paragraph\n\nsecond paragraph\n\nthird paragraph\n",
        # Multi-line blocks but long lines (p90 > 100): per-line.
        ("x" * 150 + "\n") * 2 + "\n" + ("y" * 150 + "\n") * 3,
        # Under 60% of lines in multi-line blocks: per-line.
        "a\nb\n\nc\n\nd\n\ne\n\nf\n",
    ],
    ids=["one-block", "single-lines", "long-lines", "few-multiline"],
)
def test_not_hard_wrapped(text: str) -> None:
    paragraphs = split_txt(text, file="n.txt")
    check_invariants(text, paragraphs)
    nonblank = [line for line in text.split("\n") if line.strip()]
    assert len(paragraphs) == len(nonblank)
    assert all(p.line_start == p.line_end for p in paragraphs)


def test_whitespace_only_lines_are_blank_and_offsets_strip() -> None:
    text = "  \t\n \u00a0 lead and trail \t \n\x0c\n\u200fمرحبا\n"
    paragraphs = split_txt(text, file="s.txt")
    check_invariants(text, paragraphs)
    assert [p.text for p in paragraphs] == ["lead and trail", "\u200fمرحبا"]
    assert [p.line_start for p in paragraphs] == [2, 4]


def test_empty_and_whitespace_only_documents() -> None:
    for data in (b"", b"   \n\t\r\n  \r", b"\xef\xbb\xbf"):
        for file in ("e.txt", "e.md", "e.html"):
            doc = parse_document(data, file=file)
            assert doc.paragraphs == ()
            assert doc.title == ""
            assert doc.sha256 == hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- markdown


def test_markdown_headings_lists_and_blocks() -> None:
    text = (
        "# Title\n"
        "Intro line one\n"
        "intro line two\n"
        "\n"
        "## Section\n"
        "- item one\n"
        "  continued\n"
        "* item two\n"
        "+ item three\n"
        "1. numbered\n"
        "2) other numbered\n"
        "\n"
        "#hashtag is not a heading\n"
        "####### seven is not a heading\n"
    )
    paragraphs = split_markdown(text, file="d.md")
    check_invariants(text, paragraphs)
    assert [p.text for p in paragraphs] == [
        "# Title",
        "Intro line one\nintro line two",
        "## Section",
        "- item one\n  continued",
        "* item two",
        "+ item three",
        "1. numbered",
        "2) other numbered",
        "#hashtag is not a heading\n####### seven is not a heading",
    ]
    assert [(p.line_start, p.line_end) for p in paragraphs][:4] == [(1, 1), (2, 3), (5, 5), (6, 7)]


def test_markdown_fenced_code_kept_whole() -> None:
    text = (
        "Before\n"
        "```python\n"
        "x = 1\n"
        "\n"
        "# not a heading\n"
        "- not a list\n"
        "```\n"
        "After\n"
        "\n"
        "~~~\n"
        "tilde\n"
        "\n"
        "~~~\n"
    )
    paragraphs = split_markdown(text, file="c.md")
    check_invariants(text, paragraphs)
    assert [p.text for p in paragraphs] == [
        "Before",
        "```python\nx = 1\n\n# not a heading\n- not a list\n```",
        "After",
        "~~~\ntilde\n\n~~~",
    ]
    assert (paragraphs[1].line_start, paragraphs[1].line_end) == (2, 7)


def test_markdown_unclosed_fence_runs_to_end() -> None:
    text = "para\n\n```\ncode\n\nmore code\n\n\n"
    paragraphs = split_markdown(text, file="u.md")
    check_invariants(text, paragraphs)
    assert [p.text for p in paragraphs] == ["para", "```\ncode\n\nmore code"]
    assert paragraphs[1].line_end == 6


def test_markdown_via_parse_document() -> None:
    doc = parse_document("# عنوان\r\n\r\nنص الفقرة\r\n".encode(), file="notes/a.MARKDOWN")
    assert doc.kind == "md"
    assert [p.text for p in doc.paragraphs] == ["# عنوان", "نص الفقرة"]
    assert doc.title == "عنوان" and doc.own_title == "عنوان"  # the heading, without its marks
    check_invariants(doc.text, doc.paragraphs)


# --------------------------------------------------------------------------- html


def test_html_extraction() -> None:
    html = """<!doctype html>
<html><head><title>Page title</title>
<style>p { color: red }</style><script>var s = "<p>hidden</p>";</script></head>
<body>
<h1>Main   heading</h1>
<ul><li><p>First &amp; <b>bold</b></p>tail text</li><li>Second
   item</li></ul>
<noscript><p>no script</p></noscript>
<template><p>template</p></template>
<script>document.write("x")</script>
<table><tr><th>Head</th><td>Cell&nbsp;1</td><td>  </td><td>&#x627;&#1604;&eacute;</td></tr></table>
<blockquote>Quoted</blockquote>
<div>Div text<br>after break</div>
<pre>code   line
second</pre>
<p>   </p>
</body></html>"""
    text = extract_html_text(html)
    assert text.split("\n") == [
        "Main heading",
        "First & bold",
        "tail text",
        "Second item",
        "Head",
        "Cell 1",
        "الé",
        "Quoted",
        "Div text",
        "after break",
        "code line second",
    ]
    for hidden in ("hidden", "Page title", "color", "no script", "template", "document"):
        assert hidden not in text


def test_html_parse_document_uses_extracted_text() -> None:
    html = "<p>icon</p><p>Real  title</p>\n<li><p>nested</p></li><td>x.png</td>"
    data = ("\ufeff" + html).encode()
    doc = parse_document(data, file="site/page.HTM")
    assert doc.kind == "html"
    assert doc.text == "icon\nReal title\nnested\nx.png"
    check_invariants(doc.text, doc.paragraphs)
    assert [(p.paragraph, p.line_start, p.text, p.boilerplate) for p in doc.paragraphs] == [
        (1, 1, "icon", True),
        (2, 2, "Real title", False),
        (3, 3, "nested", False),
        (4, 4, "x.png", True),
    ]
    assert doc.title == "Real title"
    assert doc.sha256 == hashlib.sha256(data).hexdigest()


def test_split_paragraphs_dispatch() -> None:
    text = "a\nb\n\nc\nd\n"
    assert [p.text for p in split_paragraphs(text, file="f", kind="md")] == ["a\nb", "c\nd"]
    assert [p.text for p in split_paragraphs(text, file="f", kind="html")] == ["a", "b", "c", "d"]
    with pytest.raises(DocumentError):
        split_paragraphs(text, file="f", kind="pdf")


# --------------------------------------------------------------------------- boilerplate


@pytest.mark.parametrize(
    "line",
    ["+A", "-A", "icon", "حجم الخط", "التعليقات", "التغطية الحية", "طباعة", "شارك",
     "photo.JPG", "a_b.jpeg", "x.png", "anim.gif", "pic.webp", "logo.svg",
     "---", "* * *", "|", "\u200f", "\u064b", "  +A  ", "\u200fشارك\u200f"],
)  # fmt: skip
def test_is_boilerplate_true(line: str) -> None:
    assert is_boilerplate(line)


@pytest.mark.parametrize(
    "line",
    ["A", "2022", "روسيا تجري مباحثات", "see photo.jpg for details", "شارك الوزير في الاجتماع",
     "icons", "التعليقات على القرار", "2022.01.12 | 15:11 دمشق"],
)  # fmt: skip
def test_is_boilerplate_false(line: str) -> None:
    assert not is_boilerplate(line)


# --------------------------------------------------------------------------- kinds and files


def test_kind_for() -> None:
    assert kind_for("a.txt") == "txt"
    assert kind_for("dir/B.MD") == "md"
    assert kind_for("x.markdown") == "md"
    assert kind_for("x.Html") == "html"
    assert kind_for("x.htm") == "html"
    assert kind_for("r/Report.PDF") == "pdf"
    assert kind_for("memo.docx") == "docx"
    assert {".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx"} <= set(SUPPORTED_SUFFIXES)
    for bad in ("x.doc", "README", "archive.txt.gz", ".txt"):
        with pytest.raises(DocumentError, match="unsupported"):
            kind_for(bad)


def test_parse_document_unsupported_suffix() -> None:
    with pytest.raises(DocumentError, match="unsupported"):
        parse_document(b"hello", file="x.rtf")


def test_load_document_relative_posix_path(tmp_path: Path) -> None:
    sub = tmp_path / "news" / "ar"
    sub.mkdir(parents=True)
    target = sub / "one.txt"
    target.write_bytes("سطر\n\nآخر\n".encode())
    doc = load_document(target, root=tmp_path)
    assert doc.file == "news/ar/one.txt"
    assert all(p.file == "news/ar/one.txt" for p in doc.paragraphs)
    assert [p.text for p in doc.paragraphs] == ["سطر", "آخر"]


def test_load_document_too_large(tmp_path: Path) -> None:
    target = tmp_path / "big.txt"
    target.write_bytes(b"x" * 101)
    with pytest.raises(DocumentError) as info:
        load_document(target, root=tmp_path, max_bytes=100)
    assert "101" in str(info.value) and "100" in str(info.value)
    assert load_document(target, root=tmp_path, max_bytes=101).paragraphs[0].text == "x" * 101


def test_load_document_outside_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    outside = tmp_path / "outside.txt"
    outside.write_text("secret\n", encoding="utf-8")
    with pytest.raises(DocumentError, match="outside"):
        load_document(outside, root=root)
    with pytest.raises(DocumentError, match="outside"):
        load_document(root / ".." / "outside.txt", root=root)


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks")
def test_load_document_symlink_escaping_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    outside = tmp_path / "outside.txt"
    outside.write_text("secret\n", encoding="utf-8")
    link = root / "link.txt"
    link.symlink_to(outside)
    with pytest.raises(DocumentError, match="outside"):
        load_document(link, root=root)


def test_load_document_unreadable(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match="cannot read"):
        load_document(tmp_path / "missing.txt", root=tmp_path)
    (tmp_path / "dir.txt").mkdir()
    with pytest.raises(DocumentError):
        load_document(tmp_path / "dir.txt", root=tmp_path)


def test_load_document_unsupported_and_binary(tmp_path: Path) -> None:
    (tmp_path / "a.rtf").write_bytes(b"{\\rtf1 hello}")
    with pytest.raises(DocumentError, match="unsupported"):
        load_document(tmp_path / "a.rtf", root=tmp_path)
    (tmp_path / "a.pdf").write_bytes(b"%PDF-1.4")
    with pytest.raises(DocumentError, match="not a valid PDF"):
        load_document(tmp_path / "a.pdf", root=tmp_path)
    (tmp_path / "b.txt").write_bytes(b"ab\x00cd")
    with pytest.raises(DocumentError, match="binary"):
        load_document(tmp_path / "b.txt", root=tmp_path)
    (tmp_path / "c.md").write_bytes(b"ok \xe9 latin-1")
    with pytest.raises(DocumentError, match="UTF-8"):
        load_document(tmp_path / "c.md", root=tmp_path)


def test_paragraph_is_frozen() -> None:
    p = split_txt("hello\n", file="h.txt")[0]
    with pytest.raises(AttributeError):
        p.text = "changed"  # type: ignore[misc]


# --------------------------------------------------------------------------- properties

_PIECES = st.sampled_from(
    [
        "مرحبا", "ب", "حلف شمال", "abc", "Z", "42", "٣", " ", "  ", "\t", "\xa0",
        "\n", "\n", "\n\n", "\r\n", "\r", "\u200f", "\u200e", "\u200d", "\u064b", "\u0301",
        "\u2028", "\x0c", "# ", "## ", "- ", "* ", "+ ", "1. ", "2) ", "```", "~~~",
        "+A", "x.jpg", "|",
    ]
)  # fmt: skip
_CHARS = st.text(
    alphabet=st.sampled_from(list("ابتثجحخ عربي abcXYZ0123456789 \n\r\u200f\u200e\u200d\u064b\u0301")),
    max_size=20,
)
_DOCS = st.lists(st.one_of(_PIECES, _CHARS), max_size=40).map("".join)


@settings(max_examples=200, deadline=None)
@given(raw=_DOCS, kind=st.sampled_from(["txt", "md"]))
def test_property_offsets_verbatim(raw: str, kind: str) -> None:
    text = decode_text(raw.encode())
    assert "\r" not in text
    paragraphs = split_paragraphs(text, file=f"p.{kind}", kind=kind)
    check_invariants(text, paragraphs)
    assert uncovered_non_space(text, paragraphs) == ""
    doc = parse_document(raw.encode(), file=f"p.{kind}")
    assert doc.paragraphs == tuple(paragraphs)


@settings(max_examples=100, deadline=None)
@given(raw=_DOCS)
def test_property_crlf_equivalent(raw: str) -> None:
    lf = decode_text(raw.encode())
    crlf = lf.replace("\n", "\r\n")
    for kind in ("txt", "md"):
        a = parse_document(lf.encode(), file=f"a.{kind}")
        b = parse_document(crlf.encode(), file=f"a.{kind}")
        assert a.text == b.text
        assert a.paragraphs == b.paragraphs
