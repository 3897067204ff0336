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

    ``abstain_below``: per question language, the answer is "not in the documents" when the
    best candidate's probability is below it; ``overrule_from``: below this probability the fixed
    rules' abstention still stands; ``cite_from``: a further candidate is cited when its
    probability reaches this."""

    booster: Any
    manifest: dict[str, Any]
    path: Path
    abstain_below: dict[str, float] = field(default_factory=dict)
    cite_from: float = 1.0
    overrule_from: dict[str, float] = field(default_factory=dict)
    depth: int = 20
    calibration: tuple[tuple[float, float], float] = ((1.0, 0.0), 0.0)
    sha256: str = ""

    def abstain_threshold(self, language: str) -> float:
        """The probability below which a question in ``language`` is abstained on."""
        return self.abstain_below.get(language, max(self.abstain_below.values(), default=0.0))

    def overrules(self, language: str, probability: float) -> bool:
        """Whether a best candidate this probable is cited even when the fixed rules abstain."""
        return probability >= self.overrule_from.get(language, 1.01)

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


def check_model_text(text: str) -> None:
    """ValueError unless ``text`` is a whole LightGBM text model for :data:`FEATURES`: its header
    names those features, each tree sits where ``tree_sizes`` says, and the trees end. (LightGBM
    itself may bring the process down on a malformed file, so nothing malformed reaches it.)"""
    header, sep, _ = text.partition("\nTree=0\n")
    if not text.startswith("tree\n") or not sep:
        raise ValueError("not a LightGBM text model")
    fields = dict(line.split("=", 1) for line in header.splitlines() if "=" in line)
    if fields.get("feature_names", "").split() != list(FEATURES):
        raise ValueError("the model's feature names are not this version's")
    try:
        sizes = [int(n) for n in fields["tree_sizes"].split()]
    except (KeyError, ValueError) as exc:
        raise ValueError("the model has no usable tree_sizes") from exc
    pos = len(header) + 1
    for k, size in enumerate(sizes):
        if not text.startswith(f"Tree={k}\n", pos):
            raise ValueError(f"tree {k} is not where tree_sizes says")
        pos += size
    if not text.startswith("end of trees", pos):
        raise ValueError("the model's trees do not end where tree_sizes says")


def _per_language(value: Any) -> dict[str, float]:
    """A threshold of the manifest: one number for both languages, or ``{"ar": x, "en": y}``."""
    if isinstance(value, dict):
        return {str(k): float(v) for k, v in value.items()}
    return {"ar": float(value), "en": float(value)}


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
        text = model_path.read_text(encoding="utf-8")
        check_model_text(text)
        import lightgbm

        booster = lightgbm.Booster(model_str=text)
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
    try:
        abstain = _per_language(thresholds.get("abstain_below", 0.0))
        overrule = _per_language(thresholds.get("overrule_from", 1.01))
    except (TypeError, ValueError, AttributeError):
        return RankerStatus(False, f"the ranker manifest {manifest_path} has unusable thresholds")
    model = RankerModel(calibration=calibration, booster=booster, manifest=manifest, path=model_path, sha256=digest,
                        abstain_below=abstain,
                        cite_from=float(thresholds.get("cite_from", 1.0)),
                        overrule_from=overrule, depth=int(manifest.get("depth", 20)))
    return RankerStatus(True, f"learned ranker {digest[:12]} in use", model)


__all__ = ["DEFAULT_RANKER_DIR", "check_model_text", "FINGERPRINT_FIELDS", "MANIFEST_FILE", "MODEL_FILE", "RankerModel", "RankerStatus",
           "file_sha256", "load_ranker", "settings_fingerprint"]
