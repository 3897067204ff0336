"""The docs' configuration tables, generated from the settings' field descriptions.

A Markdown file holds a generated block between two comments::

    <!-- generated: settings -->            every part of Settings (and the test suite's knobs)
    <!-- generated: settings api_keys, rate_limit_per_minute -->   those fields only
    ...
    <!-- end generated -->

``python -m settings.docs_table`` rewrites the blocks of README.md and docs/*.md in place;
``--check`` only says which are stale (exit status 1), as tests/test_docs_tables.py does.
Blocks of other generators (``<!-- generated: formats -->``, :mod:`index.readers.docs_table`)
are left alone; :func:`update_blocks` serves them too.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Callable, Iterable

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from settings.parts import SETTINGS_PARTS, HarnessSettings, env_name

#: the repository (README.md and docs/)
ROOT = Path(__file__).resolve().parents[1]
#: the parts the configuration page lists, in order: all of Settings, then the test suite's knobs
PARTS: tuple[type[BaseSettings], ...] = (*SETTINGS_PARTS, HarnessSettings)
BLOCK_RE = re.compile(r"(?P<open><!-- generated: (?P<name>[^>]*?) -->\n)(?P<body>.*?)(?P<close><!-- end generated -->)",
                      re.S)


def shown_default(info: FieldInfo) -> str:
    """A field's default as the table shows it."""
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    if "shown_default" in extra:
        return f"`{extra['shown_default']}`"
    value = info.get_default(call_default_factory=True)
    if value is None or value == []:
        return "unset"
    if isinstance(value, bool):
        value = str(value).lower()
    elif isinstance(value, float):
        value = f"{value:g}"
    elif isinstance(value, list):
        value = ",".join(str(v) for v in value)
    return f"`{value}`"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def fields_table(fields: Iterable[tuple[str, FieldInfo]]) -> str:
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    rows += [f"| `{env_name(name)}` | {shown_default(info)} | {_cell(info.description or '')} |"
             for name, info in fields]
    return "\n".join(rows) + "\n"


def _all_fields() -> dict[str, FieldInfo]:
    return {name: info for part in PARTS for name, info in part.model_fields.items()}


def settings_table(names: Iterable[str] = ()) -> str:
    """Every part under its heading, or (``names``) one table of those fields, in that order."""
    names = list(names)
    if names:
        fields = _all_fields()
        unknown = [n for n in names if n not in fields]
        if unknown:
            raise KeyError(f"no such settings field: {', '.join(unknown)}")
        return fields_table((n, fields[n]) for n in names)
    out = []
    for part in PARTS:
        about = _cell((part.__doc__ or "").replace("``", "`"))
        out.append(f"## {part.__name__}\n\n{about}\n\n{fields_table(part.model_fields.items())}")
    return "\n".join(out)


def _settings_block(args: str) -> str:
    return settings_table([n.strip() for n in args.split(",") if n.strip()])


#: generator name -> the block's text from the words after the name
GENERATORS: dict[str, Callable[[str], str]] = {"settings": _settings_block}


def update_blocks(text: str, generators: dict[str, Callable[[str], str]]) -> str:
    """``text`` with every block of ``generators`` regenerated (other blocks untouched)."""

    def render(match: re.Match[str]) -> str:
        name, _, args = match["name"].strip().partition(" ")
        if name not in generators:
            return match[0]
        return match["open"] + generators[name](args) + match["close"]

    return BLOCK_RE.sub(render, text)


def documents(root: Path = ROOT) -> list[Path]:
    """The Markdown files that may hold generated blocks."""
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def run(generators: dict[str, Callable[[str], str]], argv: list[str] | None = None) -> int:
    """The command line of a generator module: rewrite, or with ``--check`` report, stale blocks."""
    parser = argparse.ArgumentParser(description="Regenerate the docs' generated tables.")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 naming each stale file")
    args = parser.parse_args(argv)
    stale = []
    for path in documents():
        text = path.read_text(encoding="utf-8")
        new = update_blocks(text, generators)
        if new != text:
            stale.append(path.relative_to(ROOT).as_posix())
            if not args.check:
                path.write_text(new, encoding="utf-8")
    if stale:
        verb = "stale" if args.check else "rewritten"
        print(f"{verb}: {', '.join(stale)}" + (" (python -m settings.docs_table; python -m index.readers.docs_table)"
                                              if args.check else ""), file=sys.stderr)
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(run(GENERATORS))
