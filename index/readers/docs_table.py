"""The formats table of README.md and docs/formats.md, generated from the reader registry.

``python -m index.readers.docs_table`` rewrites every ``<!-- generated: formats -->`` block;
``--check`` only says which are stale (tests/test_docs_tables.py). The block format and the
rewriting are :mod:`settings.docs_table`'s.
"""

from __future__ import annotations

import sys
from typing import Callable

from index.readers import READERS
from settings import env_name
from settings.docs_table import run


def formats_table(args: str = "") -> str:  # noqa: ARG001 - the block takes no arguments
    """One row per reader: suffixes, kind, how it is uploaded, its title and its limits."""
    rows = ["| format | files | kind | upload | title from | limits |", "| --- | --- | --- | --- | --- | --- |"]
    for reader in READERS:
        suffixes = " ".join(f"`{s}`" for s in reader.suffixes)
        upload = "file (multipart)" if reader.binary else "file or JSON text"
        limits = ", ".join(f"`{env_name(f)}`" for f in reader.limits)
        rows.append(f"| {reader.name} | {suffixes} | `{reader.kind}` | {upload} | {reader.title_from or 'none'} "
                    f"| {limits} |")
    return "\n".join(rows) + "\n"


GENERATORS: dict[str, Callable[[str], str]] = {"formats": formats_table}


if __name__ == "__main__":
    sys.exit(run(GENERATORS))
