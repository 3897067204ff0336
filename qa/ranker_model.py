"""The learned ranker's model file and its manifest: loaded, checked, and asked.

The model is a LightGBM booster saved as text (``qa/ranker/ranker.txt``) with its training
manifest beside it (``manifest.json``: data, features, seed, library version, metrics, the
settings the candidates were made with, and the probability thresholds set on the dev data).
:func:`load_ranker` refuses (returns None, with the reason) a file that is missing, corrupt,
made for other features, or made for candidates that this index and these settings would not
produce; the retrieval rules then work as before the ranker existed.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qa.ranking_features import FEATURES, FEATURES_VERSION

log = logging.getLogger("sanad.qa")

#: where the shipped model lives (inside the package, committed)
DEFAULT_RANKER_DIR = Path(__file__).resolve().parent / "ranker"
MODEL_FILE = "ranker.txt"
MANIFEST_FILE = "manifest.json"

#: the settings that shape the candidates and their features: a model is used only when the
#: running settings have the values it was trained with
FINGERPRINT_FIELDS = ("embed_model", "embed_title", "sentence_vectors", "candidates", "lexical_weight_ar",
                      "lexical_weight_en", "sentence_weight", "source_weight", "question_cleanup")


def settings_fingerprint(settings: Any) -> dict[str, Any]:
    """The :data:`FINGERPRINT_FIELDS` of ``settings`` (any object that has them), JSON-ready."""
    return {name: _plain(getattr(settings, name, None)) for name in FINGERPRINT_FIELDS}


def _plain(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool)) or value is None else str(value)


@dataclass
class RankerModel:
    """A loaded booster with the thresholds of its manifest.

    ``abstain_below``: the answer is "not in the documents" when the best candidate's
    probability is below this; ``cite_from``: a further candidate is cited when its
    probability reaches this."""

    booster: Any
    manifest: dict[str, Any]
    path: Path
    abstain_below: float = 0.0
    cite_from: float = 1.0
    depth: int = 20
    calibration: tuple[tuple[float, float], float] = ((1.0, 0.0), 0.0)
    sha256: str = ""
    features: tuple[str, ...] = field(default_factory=tuple)

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        """The calibrated probability that each candidate of ONE question answers it: the
        ranking score and its gap to the best candidate's, through the manifest's logistic
        calibration."""
        if len(rows) == 0:
            return np.zeros(0, dtype=np.float64)
        scores = np.asarray(self.booster.predict(rows, num_threads=1), dtype=np.float64)
        coef, intercept = self.calibration
        z = coef[0] * scores + coef[1] * (scores - scores.max()) + intercept
        return 1.0 / (1.0 + np.exp(-z))


@dataclass
class RankerStatus:
    """Whether the learned ranker is in use, and why not when it is not (for logs and /readyz)."""

    active: bool
    reason: str
    model: RankerModel | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"active": self.active, "reason": self.reason}
        if self.model is not None:
            out["sha256"] = self.model.sha256[:16]
            out["trained_at"] = self.model.manifest.get("trained_at")
        return out


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_ranker(directory: Path | None, settings: Any) -> RankerStatus:
    """Load the model in ``directory`` (default: the shipped one) for ``settings``; never raises."""
    folder = Path(directory) if directory is not None else DEFAULT_RANKER_DIR
    model_path, manifest_path = folder / MODEL_FILE, folder / MANIFEST_FILE
    if not model_path.is_file() or not manifest_path.is_file():
        return RankerStatus(False, f"no ranker model at {folder} (the fixed rules rank)")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if not isinstance(manifest, dict):
            raise ValueError("the manifest is not a JSON object")
        digest = file_sha256(model_path)
    except (OSError, ValueError) as exc:
        return RankerStatus(False, f"the ranker manifest {manifest_path} cannot be read: {exc}")
    if manifest.get("model_sha256") != digest:
        return RankerStatus(False, f"{model_path} does not match its manifest (sha256 {digest[:12]}...)")
    if list(manifest.get("features") or []) != list(FEATURES) or manifest.get("features_version") != FEATURES_VERSION:
        return RankerStatus(False, "the ranker model was trained on other features (retrain it: "
                            "python -m evals.train_ranker)")
    wanted = manifest.get("settings") or {}
    running = settings_fingerprint(settings)
    differ = sorted(k for k in FINGERPRINT_FIELDS if k in wanted and wanted[k] != running[k])
    if differ:
        return RankerStatus(False, "the ranker model was trained for other settings (" + ", ".join(
            f"{k}={wanted[k]!r}, here {running[k]!r}" for k in differ) + ")")
    try:
        import lightgbm

        booster = lightgbm.Booster(model_file=str(model_path))
        if booster.num_feature() != len(FEATURES):
            raise ValueError(f"{booster.num_feature()} features, expected {len(FEATURES)}")
    except Exception as exc:  # noqa: BLE001 - a corrupt file must never stop the service
        return RankerStatus(False, f"the ranker model {model_path} cannot be loaded: {exc}")
    thresholds = manifest.get("thresholds") or {}
    try:
        cal = manifest["calibration"]
        calibration = ((float(cal["coef"][0]), float(cal["coef"][1])), float(cal["intercept"]))
    except (KeyError, IndexError, TypeError, ValueError):
        return RankerStatus(False, f"the ranker manifest {manifest_path} has no usable calibration")
    model = RankerModel(calibration=calibration, booster=booster, manifest=manifest, path=model_path, sha256=digest, features=FEATURES,
                        abstain_below=float(thresholds.get("abstain_below", 0.0)),
                        cite_from=float(thresholds.get("cite_from", 1.0)), depth=int(manifest.get("depth", 20)))
    return RankerStatus(True, f"learned ranker {digest[:12]} in use", model)


__all__ = ["DEFAULT_RANKER_DIR", "FINGERPRINT_FIELDS", "MANIFEST_FILE", "MODEL_FILE", "RankerModel", "RankerStatus",
           "file_sha256", "load_ranker", "settings_fingerprint"]
