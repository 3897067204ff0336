"""The `sanad` command as a user runs it (real processes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, assert_verbatim


def sanad(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli", *args], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, input=stdin, timeout=600)


def test_index_prints_summary_and_is_incremental(tmp_path: Path, seeds_copy: Path) -> None:
    env = {"SANAD_DATA_DIR": str(tmp_path / "d"), "SANAD_EMBED_MODEL": "hash"}
    first = sanad("index", str(seeds_copy), env=env)
    assert first.returncode == 0, first.stderr
    assert "5 added, 0 changed, 0 removed, 0 unchanged" in first.stdout
    (seeds_copy / "004_6c4078d47c6b987d.txt").unlink()
    second = sanad("index", str(seeds_copy), env=env)
    assert "0 added, 0 changed, 1 removed, 4 unchanged; 0 chunks embedded" in second.stdout


def test_errors_are_one_line_not_tracebacks(tmp_path: Path) -> None:
    env = {"SANAD_DATA_DIR": str(tmp_path / "d"), "SANAD_EMBED_MODEL": "hash"}
    missing = sanad("index", str(tmp_path / "nowhere"), env=env)
    assert missing.returncode == 1
    assert missing.stderr.startswith("error: no such file or folder") and "Traceback" not in missing.stderr
    no_model = sanad("ask", "hello", env={"SANAD_DATA_DIR": str(tmp_path / "d"),
                                          "SANAD_MODELS_DIR": str(tmp_path / "no-models")})
    assert no_model.returncode == 1
    assert "make setup" in no_model.stderr and "Traceback" not in no_model.stderr
    bad_k = sanad("ask", "hello", "--top-k", "0", env=env)
    assert bad_k.returncode == 2 and "--top-k" in bad_k.stderr


def test_ask_goes_through_the_ask_flow_and_names_errors_as_the_api(tmp_path: Path, seeds_copy: Path) -> None:
    """``sanad ask`` checks the question as ``/v1/ask`` does, with the same error codes."""
    env = {"SANAD_DATA_DIR": str(tmp_path / "d"), "SANAD_EMBED_MODEL": "hash", "SANAD_MAX_QUESTION_CHARS": "40"}
    assert sanad("index", "--quiet", str(seeds_copy), env=env).returncode == 0
    long = "x " * 30
    batch = sanad("ask", "--file", "-", "--json", env=env, stdin=f"who chaired the meeting?\n{long}\n")
    assert batch.returncode == 0, batch.stderr
    answered, refused = [json.loads(line) for line in batch.stdout.splitlines()]
    assert answered["language"] == "en" and answered["answer_id"] and answered["conversation_id"] == ""
    assert refused == {"question": long.strip(), "error": {
        "code": "question_too_long", "message": "the question is 59 characters; the limit is 40"}}
    empty = sanad("ask", "   ", env=env)
    assert (empty.returncode, empty.stdout, empty.stderr.splitlines()[-1]) == (1, "", "error: the question is empty")
    assert "Traceback" not in empty.stderr


@pytest.mark.integration
def test_ask_json_and_batch_file(seeds_settings, tmp_path: Path) -> None:  # noqa: ANN001
    env = {"SANAD_DATA_DIR": str(seeds_settings.data_dir)}
    questions = ["من ترأس اجتماع مجلس روسيا والناتو؟", "What was Russia's GDP in 2021?",
                 "Who is the new US ambassador to NATO?"]
    qfile = tmp_path / "q.txt"
    qfile.write_text("\n".join(questions) + "\n\n", encoding="utf-8")
    batch = sanad("ask", "--file", str(qfile), "--json", env=env)
    assert batch.returncode == 0, batch.stderr
    rows = [json.loads(line) for line in batch.stdout.splitlines()]
    assert len(rows) == 3
    assert [r["language"] for r in rows] == ["ar", "en", "en"]
    assert [r["answerable"] for r in rows] == [True, False, True]
    assert rows[0]["citations"][0]["line_start"] == 19
    from qa.models import Citation

    assert_verbatim([Citation(**c) for r in rows for c in r["citations"]], seeds_settings.corpus_paths[0])

    single = sanad("ask", questions[0], env=env)
    assert single.returncode == 0, single.stderr
    assert "[1] 001_60d84da894ed2980.txt ¶13 (line 19): ويترأس الاجتماع" in single.stdout
