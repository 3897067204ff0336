"""``sanad collections``, ``sanad keys`` and ``--collection`` (issue 31) as a user runs them (real
processes, hashing embedder): each collection indexes, answers, evaluates and exports its own."""

from __future__ import annotations

import json
from pathlib import Path

from tests.test_cli import sanad

LEGAL = "The aardvark ledger keeps the alpha contracts for seven years."


def test_collections_and_their_own_index(tmp_path: Path, seeds_copy: Path) -> None:
    env = {"SANAD_DATA_DIR": str(tmp_path / "d"), "SANAD_EMBED_MODEL": "hash"}
    corpus = tmp_path / "legal"
    corpus.mkdir()
    (corpus / "ledger.txt").write_text(LEGAL, encoding="utf-8")
    assert sanad("collections", "list", env=env).stdout.split() == ["default"]
    made = sanad("collections", "create", "legal", env=env)
    assert made.returncode == 0 and "created collection legal" in made.stdout
    again = sanad("collections", "create", "legal", env=env)
    assert again.returncode == 1 and again.stderr.strip() == "error: collection legal exists already"
    bad = sanad("collections", "create", "Legal_Team", env=env)
    assert bad.returncode == 1 and bad.stderr.startswith("error: invalid collection name") and "Traceback" not in bad.stderr
    missing = sanad("index", "--collection", "nope", str(corpus), env=env)
    assert missing.returncode == 1 and missing.stderr.strip() == "error: no such collection: nope"
    assert sanad("index", "--quiet", "--collection", "legal", str(corpus), env=env).returncode == 0
    assert sanad("index", "--quiet", str(seeds_copy), env=env).returncode == 0  # the default one, as before
    legal = json.loads(sanad("ask", "--json", "--collection", "legal", LEGAL, env=env).stdout)
    assert legal["answerable"] and [(c["collection"], c["file"]) for c in legal["citations"]] == [("legal", "ledger.txt")]
    default = json.loads(sanad("ask", "--json", LEGAL, env=env).stdout)
    assert all(c["file"] != "ledger.txt" and c["collection"] == "default" for c in default["citations"])
    # sanad eval --collection asks that collection's index as it is: the seeds' gold set does not match legal
    evaluated = sanad("eval", "--collection", "legal", "--set", "seeds", "--limit", "3", env=env)
    assert evaluated.returncode == 2 and "does not match the indexed corpus" in evaluated.stderr
    exported = sanad("feedback", "export", "--collection", "legal", env=env)  # its own log (none yet)
    assert exported.returncode == 1 and "collections/legal/answers.sqlite3" in exported.stderr
    refused = sanad("collections", "delete", "legal", env=env)
    assert refused.returncode == 1 and "--yes" in refused.stderr
    assert sanad("collections", "delete", "legal", "--yes", env=env).returncode == 0
    assert sanad("collections", "list", env=env).stdout.split() == ["default"]
    assert not (tmp_path / "d" / "collections" / "legal").exists()


def test_eval_within_a_collection(tmp_path: Path, seeds_copy: Path) -> None:
    env = {"SANAD_DATA_DIR": str(tmp_path / "d"), "SANAD_EMBED_MODEL": "hash"}
    assert sanad("collections", "create", "news", env=env).returncode == 0
    assert sanad("index", "--quiet", "--collection", "news", str(seeds_copy), env=env).returncode == 0
    out = tmp_path / "report.json"
    run = sanad("eval", "--collection", "news", "--set", "seeds", "--limit", "5", "--json", str(out), env=env)
    assert run.returncode == 0, run.stderr
    report = json.loads(out.read_text())
    assert report["collection"] == "news" and report["corpus"]["documents"] == 5
    assert report["seconds"]["index"] < 5  # nothing was indexed


def test_keys_create_list_revoke(tmp_path: Path) -> None:
    env = {"SANAD_DATA_DIR": str(tmp_path / "d"), "SANAD_EMBED_MODEL": "hash"}
    made = sanad("keys", "create", "--role", "write", "--collections", "legal,hr", "--label", "legal team", env=env)
    assert made.returncode == 0, made.stderr
    key = made.stdout.splitlines()[-1]
    assert key.startswith("sk-sanad-") and key == key.strip()
    stored = (tmp_path / "d" / "keys.json").read_text()
    assert key not in stored and "legal team" in stored
    listed = sanad("keys", "list", env=env).stdout
    key_id = listed.split("\t")[0]
    assert "write\tlegal,hr\tlegal team" in listed and key not in listed
    bad_role = sanad("keys", "create", "--role", "owner", "--collections", "a", env=env)
    assert bad_role.returncode == 2
    bad_name = sanad("keys", "create", "--role", "read", "--collections", "../x", env=env)
    assert bad_name.returncode == 1 and "invalid collection name" in bad_name.stderr
    no_names = sanad("keys", "create", "--role", "read", env=env)
    assert no_names.returncode == 1 and "collections" in no_names.stderr
    assert sanad("keys", "revoke", key_id, env=env).returncode == 0
    assert sanad("keys", "list", env=env).stdout == ""
    unknown = sanad("keys", "revoke", key_id, env=env)
    assert unknown.returncode == 1 and "no key with id" in unknown.stderr
