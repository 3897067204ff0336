"""settings/ is the one place a ``SANAD_*`` variable is read from the environment.

Every Python file of the repository is scanned (the five packages, tests/, bench/ and any
other), settings/ alone excepted; nothing else is left out. A read is, with a ``SANAD_...``
name given as a string literal or as a module-level string constant:

- ``<x>.get(NAME)`` / ``<x>.setdefault(NAME)`` on anything (``os.environ``, an environment
  mapping passed in, a copy of it), ``os.getenv(NAME)`` / ``getenv(NAME)``, and
  ``<x>.pop(NAME)`` whose value is used;
- ``environ[NAME]`` read and ``NAME in environ`` / ``NAME not in environ``, where ``environ`` is
  ``os.environ`` or any name or attribute called ``environ``.

Setting or unsetting variables for the app (tests/ and bench/ start subprocesses so) is not a
read: ``env = {**os.environ, "SANAD_X": "1"}``, ``env.pop("SANAD_X", None)`` as a statement,
``monkeypatch.setenv("SANAD_X", ...)``, ``<x>[NAME] = ...``, nor is reading back such a dict
(``cluster.index_env["SANAD_CHROMA_COLLECTION"]``) or a ``SANAD_`` name in a message
(``"SANAD_X" in err``). The names of the server's private
hand-off to its worker processes start with ``_SANAD_SERVE_`` (api/serving/worker_readiness.py,
api/serving/worker_affinity.py): they are not configuration and not ``SANAD_`` names.
Test-suite knobs (``SANAD_TEST_CHROMIUM``, ``SANAD_HOSTILE_EXAMPLES`` ...) live in
``settings.HarnessSettings`` like every other variable.
"""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

from settings import EvalSettings, HarnessSettings, Settings, env_name

ROOT = Path(__file__).resolve().parents[1]
NAME = re.compile(r"SANAD_[A-Z0-9_]+\Z")
READ_METHODS = {"get", "setdefault", "getenv"}


def _python_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.py"],
                            cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    return [ROOT / p for p in listed if not p.startswith("settings/") and (ROOT / p).is_file()]


def _constants(tree: ast.Module) -> dict[str, str]:
    """Module-level ``NAME = "literal"`` assignments."""
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            out.update({t.id: node.value.value for t in node.targets if isinstance(t, ast.Name)})
    return out


def sanad_reads(source: str) -> list[str]:
    """``line: NAME`` for every read of a ``SANAD_*`` variable in ``source``."""
    tree = ast.parse(source)
    constants = _constants(tree)

    def sanad_name(node: ast.AST | None) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            value = node.value
        elif isinstance(node, ast.Name):
            value = constants.get(node.id, "")
        else:
            return None
        return value if NAME.match(value) else None

    def is_environ(node: ast.AST) -> bool:
        return (isinstance(node, ast.Attribute) and node.attr == "environ") or (
            isinstance(node, ast.Name) and node.id == "environ")

    discarded = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr)}
    found = []
    for node in ast.walk(tree):
        name = None
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if called in READ_METHODS or (called == "pop" and id(node) not in discarded):
                name = sanad_name(node.args[0])
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and is_environ(node.value):
            name = sanad_name(node.slice)
        elif (isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], (ast.In, ast.NotIn))
              and is_environ(node.comparators[0])):
            name = sanad_name(node.left)
        if name:
            found.append(f"{node.lineno}: {name}")
    return found


def test_no_sanad_variable_is_read_outside_settings() -> None:
    files = _python_files()
    assert any(p.parts[-2:] == ("index", "indexer.py") for p in files)  # the scan sees the project
    assert not any("settings" == p.relative_to(ROOT).parts[0] for p in files)
    offenders = [f"{p.relative_to(ROOT)}:{hit}" for p in files
                 for hit in sanad_reads(p.read_text(encoding="utf-8"))]
    assert offenders == []


def test_the_scan_finds_every_kind_of_read() -> None:
    source = '''
import os
from os import getenv
CRASH = "SANAD_TEST_CRASH_AT"
a = os.environ.get("SANAD_A")
b = getenv("SANAD_B", "1")
c = os.environ["SANAD_C"]
d = "SANAD_D" in os.environ
e = os.environ.get(CRASH)
f = env.pop("SANAD_F", None)
g = "SANAD_G" not in environ
'''
    assert sanad_reads(source) == ["5: SANAD_A", "6: SANAD_B", "7: SANAD_C", "8: SANAD_D", "9: SANAD_TEST_CRASH_AT",
                                   "10: SANAD_F", "11: SANAD_G"]


def test_setting_variables_for_the_app_is_not_a_read() -> None:
    source = '''
import os
env = {**os.environ, "SANAD_DATA_DIR": "/tmp/x"}
os.environ["SANAD_X"] = "1"
monkeypatch.setenv("SANAD_Y", "2")
env.pop("SANAD_API_KEYS", None)
collection = cluster.index_env["SANAD_CHROMA_COLLECTION"]
assert "SANAD_SLACK_BOT_TOKEN" in err
ready = os.environ.get("_SANAD_SERVE_READY_DIR")
home = os.environ.get("HOME")
'''
    assert sanad_reads(source) == []


def test_every_variable_has_its_field() -> None:
    """The names the project reads through settings/ are fields there (settings names kept)."""
    fields = {env_name(f) for cls in (Settings, EvalSettings, HarnessSettings) for f in cls.model_fields}
    assert {"SANAD_EVALDATA_DIR", "SANAD_EVAL_CORPUS", "SANAD_TEST_CRASH_AT", "SANAD_CANDIDATES", "SANAD_TOP_K",
            "SANAD_MODELS_DIR", "SANAD_TEST_CHROMIUM", "SANAD_HOSTILE_EXAMPLES"} <= fields
