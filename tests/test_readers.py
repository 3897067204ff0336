"""The reader registry (index/readers/) is the one list of document formats."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import pytest

from api.schemas import DocumentInfo
from index.paragraphs import DocumentError, kind_for, parse_document
from index.readers import BINARY_SUFFIXES, KINDS, READERS, SUPPORTED_SUFFIXES, reader_for, reader_of_kind
from index.readers.base import ExtractingReader, TextReader
from settings import StoreSettings

ROOT = Path(__file__).resolve().parents[1]


def test_every_reader_declares_what_it_reads() -> None:
    suffixes = [s for reader in READERS for s in reader.suffixes]
    assert len(suffixes) == len(set(suffixes)) == len(SUPPORTED_SUFFIXES)  # one reader per suffix
    assert len(KINDS) == len(READERS)
    for reader in READERS:
        assert reader.kind and reader.kind == reader.kind.lower()
        assert reader.name and isinstance(reader.title_from, str)
        assert all(s.startswith(".") and s == s.lower() for s in reader.suffixes)
        assert set(reader.limits) <= set(StoreSettings.model_fields), reader.limits
        assert reader.binary == isinstance(reader, ExtractingReader)
        assert isinstance(reader, (TextReader, ExtractingReader))
        assert reader_of_kind(reader.kind) is reader
        assert all(reader_for(f"x/Name{s.upper()}") is reader for s in reader.suffixes)
    assert set(BINARY_SUFFIXES) == {s for r in READERS if r.binary for s in r.suffixes}


def test_the_formats_of_today_come_first() -> None:
    """Today's formats keep their place (a new reader is added after them)."""
    assert SUPPORTED_SUFFIXES[:7] == (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx")
    assert BINARY_SUFFIXES[:2] == (".pdf", ".docx")
    assert KINDS[:5] == ("txt", "md", "html", "pdf", "docx")
    assert DocumentInfo.model_fields["kind"].description == " | ".join(KINDS)
    assert DocumentInfo.model_fields["kind"].description.startswith("txt | md | html | pdf | docx")


def test_unknown_formats_are_refused_with_the_list() -> None:
    with pytest.raises(DocumentError, match=r"unsupported file type '\.rtf'; supported: \.txt, \.md"):
        kind_for("a.rtf")
    with pytest.raises(DocumentError, match="unsupported document kind 'rtf'"):
        parse_document(b"x", file="a.txt", kind="rtf")


def _suffix_collections(source: str, name: str) -> list[str]:
    """Tuples, lists, sets and dict keys of two or more supported-suffix literals in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        items = node.keys if isinstance(node, ast.Dict) else node.elts if isinstance(
            node, (ast.Tuple, ast.List, ast.Set)) else []
        named = [i.value for i in items if isinstance(i, ast.Constant) and i.value in SUPPORTED_SUFFIXES]
        if len(named) >= 2:
            found.append(f"{name}:{node.lineno}: {named}")
    return found


def test_no_other_module_lists_formats() -> None:
    """Outside index/readers/, no source module (tests and bench aside) writes a list of formats."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.py"],
                            cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    sources = [ROOT / p for p in listed if p.split("/")[0] in ("settings", "index", "qa", "evals", "api", "cli")
               and not p.startswith("index/readers/") and (ROOT / p).is_file()]
    assert any(p.name == "indexer.py" for p in sources)
    assert [hit for p in sources for hit in _suffix_collections(p.read_text(encoding="utf-8"), p.name)] == []


def test_the_scan_sees_a_list_of_formats() -> None:
    source = 'BINARY = (".pdf", ".docx")\nONE = ".txt"\nKIND = {".md": "md", ".markdown": "md"}\n'
    assert _suffix_collections(source, "m.py") == ["m.py:1: ['.pdf', '.docx']", "m.py:3: ['.md', '.markdown']"]
