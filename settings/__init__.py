"""Sanad's configuration: the bottom of the house, imported by every layer and importing none.

One class per concern (:mod:`settings.parts`), composed into one :class:`Settings`; every
field reads a ``SANAD_<NAME>`` environment variable and every default is written once, here.
No module outside this package reads a ``SANAD_*`` variable (tests/test_settings_source.py).
"""

from settings.environment import apply_runtime_defaults, default_models_dir
from settings.parts import (
    ANSWER_LOG_FILE,
    DEFAULT_EMBED_MODEL,
    DEFAULT_HOST,
    DEFAULT_OLLAMA_URL,
    DEFAULT_PORT,
    ENV_PREFIX,
    MAX_FILE_BYTES,
    SHARED_EVALDATA_DIR,
    TOP_K_MAX,
    TOP_K_MIN,
    UPLOADS_FOLDER,
    AnswerLogSettings,
    AnswerSettings,
    EvalSettings,
    HarnessSettings,
    HTTPSettings,
    LLMSettings,
    RetrievalSettings,
    Settings,
    SlackSettings,
    StoreSettings,
    env_name,
)

__all__ = [
    "ANSWER_LOG_FILE", "DEFAULT_EMBED_MODEL", "DEFAULT_HOST", "DEFAULT_OLLAMA_URL", "DEFAULT_PORT", "ENV_PREFIX",
    "MAX_FILE_BYTES", "SHARED_EVALDATA_DIR", "TOP_K_MAX", "TOP_K_MIN", "UPLOADS_FOLDER",
    "AnswerLogSettings", "AnswerSettings", "EvalSettings", "HTTPSettings", "HarnessSettings", "LLMSettings",
    "RetrievalSettings", "Settings", "SlackSettings", "StoreSettings", "apply_runtime_defaults",
    "default_models_dir", "env_name",
]
