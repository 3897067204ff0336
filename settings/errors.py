"""The one base of Sanad's errors, in the bottom layer so that every layer can raise a subclass.

A :class:`SanadError` is a failure the user can act on: its message is one clear line (no
stack trace) and its ``code`` a stable, machine-readable name. Each layer defines the errors
it raises as subclasses (``index.indexer.IndexerError``, ``qa.answerer.QuestionError``,
``api.service.errors.NotFound``, ...). No error knows HTTP: the HTTP edge maps codes to status
codes in one table (``api.http.errors.STATUS``), and the command line prints any
:class:`SanadError` as ``error: <message>`` (exit status 1).
"""

from __future__ import annotations


class SanadError(Exception):
    """A failure with a stable ``code`` and a one-line message.

    ``code`` is the class's unless given; ``retry_after_s`` says when trying again may work
    (a service still loading, or busy), None when it would not.
    """

    code: str = "error"
    retry_after_s: int | None = None

    def __init__(self, message: str = "", *, code: str | None = None, retry_after_s: int | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        if retry_after_s is not None:
            self.retry_after_s = retry_after_s

    @property
    def message(self) -> str:
        return str(self)


class ConfigError(SanadError):
    """The configuration (``SANAD_*`` variables, a ``.env`` file) is invalid; the message says which."""

    code = "invalid_configuration"


__all__ = ["ConfigError", "SanadError"]
