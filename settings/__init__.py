"""Sanad's configuration: the bottom of the house, imported by every layer and importing none.

One class per concern (:mod:`settings.parts`), composed into one :class:`Settings`; every
field reads a ``SANAD_<NAME>`` environment variable and every default is written once, here.
"""

from settings.environment import apply_runtime_defaults, default_models_dir
from settings.parts import (
    DEFAULT_EMBED_MODEL,
    AnswerLogSettings,
    AnswerSettings,
    HTTPSettings,
    LLMSettings,
    RetrievalSettings,
    Settings,
    SlackSettings,
    StoreSettings,
)

__all__ = [
    "DEFAULT_EMBED_MODEL", "AnswerLogSettings", "AnswerSettings", "HTTPSettings", "LLMSettings", "RetrievalSettings", "Settings",
    "SlackSettings", "StoreSettings", "apply_runtime_defaults", "default_models_dir",
]
