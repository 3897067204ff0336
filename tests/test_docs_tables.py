"""The docs say what the code does: generated tables are current, the README stays short, and
no project file points at files outside the repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

from index.readers import READERS
from index.readers.docs_table import GENERATORS as FORMAT_GENERATORS
from settings import EvalSettings, HarnessSettings, Settings, env_name
from settings.docs_table import GENERATORS as SETTINGS_GENERATORS
from settings.docs_table import documents, settings_table, update_blocks

ROOT = Path(__file__).resolve().parents[1]
GENERATORS = {**SETTINGS_GENERATORS, **FORMAT_GENERATORS}


def test_generated_tables_are_current() -> None:
    """Run `make docs-tables` (python -m settings.docs_table; python -m index.readers.docs_table)."""
    stale = [p.relative_to(ROOT).as_posix() for p in documents()
             if update_blocks(p.read_text(encoding="utf-8"), GENERATORS) != p.read_text(encoding="utf-8")]
    assert stale == []


def test_the_configuration_page_lists_every_variable() -> None:
    page = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    names = [env_name(f) for cls in (Settings, EvalSettings, HarnessSettings) for f in cls.model_fields]
    assert "SANAD_CANDIDATES" in names
    assert [n for n in names if f"| `{n}` |" not in page] == []
    assert all(info.description for info in Settings.model_fields.values())  # every row says something


def test_a_stale_table_is_found_and_rewritten() -> None:
    text = "intro\n<!-- generated: settings top_k, candidates -->\n| old |\n<!-- end generated -->\nafter\n"
    new = update_blocks(text, GENERATORS)
    assert new != text and new.startswith("intro\n") and new.endswith("<!-- end generated -->\nafter\n")
    assert "| `SANAD_TOP_K` | `5` |" in new and "| `SANAD_CANDIDATES` | `30` |" in new
    assert update_blocks(new, GENERATORS) == new
    other = "<!-- generated: something-else -->\nkept\n<!-- end generated -->\n"
    assert update_blocks(other, GENERATORS) == other


def test_the_formats_tables_follow_the_registry() -> None:
    for path in (ROOT / "README.md", ROOT / "docs" / "formats.md"):
        text = path.read_text(encoding="utf-8")
        assert "<!-- generated: formats -->" in text, path
        assert all(f"| {r.name} |" in text and f"`{r.kind}`" in text for r in READERS), path


def test_defaults_are_shown_as_set() -> None:
    table = settings_table(["data_dir", "min_similarity", "pin_workers", "api_keys", "models_dir", "corpus_paths"])
    assert "| `SANAD_DATA_DIR` | `.sanad` |" in table
    assert "| `SANAD_MIN_SIMILARITY` | `0.46` |" in table
    assert "| `SANAD_PIN_WORKERS` | `true` |" in table
    assert "| `SANAD_API_KEYS` | unset |" in table
    assert "| `SANAD_MODELS_DIR` | `~/.cache/sanad/models` |" in table
    assert "| `SANAD_CORPUS_PATHS` | `seeds` |" in table


def test_the_readme_is_short() -> None:
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 300




def test_no_project_file_points_outside_the_repository() -> None:
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    pointing = set()
    for name in listed:
        path = ROOT / name
        if not path.is_file() or path.suffix in {".png", ".pdf", ".docx", ".jsonl"} or name == __file__:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if any(ref in text for ref in ("DESIGN.md", "MODELS.md", "../shared/DESIGN", "../shared/MODELS")):
            pointing.add(name)
    pointing.discard(Path(__file__).relative_to(ROOT).as_posix())
    assert pointing == set()
