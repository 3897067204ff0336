"""The errors the service raises (every face shows them its own way; ``api.http.errors`` maps
their codes to HTTP status codes). The service also lets the lower layers' errors through:
``qa.answerer.QuestionError``, ``index.document_model.DocumentError``,
``api.service.file_names.FileNameError``.
"""

from __future__ import annotations

from settings.errors import SanadError


class NotReady(SanadError):
    """The model and index (or the upload indexer) are still loading; retry shortly."""

    code = "not_ready"
    retry_after_s = 5


class LoadFailed(SanadError):
    """The service failed to load; the message says why."""

    code = "load_failed"


class Overloaded(SanadError):
    """More questions are in flight than the service takes (``SANAD_MAX_PENDING_QUESTIONS``)."""

    code = "overloaded"
    retry_after_s = 2


class IndexBusy(SanadError):
    """Another writer (a ``sanad index`` run, another replica) holds the index."""

    code = "index_busy"
    retry_after_s = 10


class NotFound(SanadError):
    """No such document, paragraph, answer or conversation (for this caller)."""

    code = "not_found"


class Forbidden(SanadError):
    """The caller's key lacks the role this action needs (``api.keys``)."""

    code = "forbidden"


class Conflict(SanadError):
    """The write clashes with what is there (a corpus document, a file or folder of that name,
    a write of another process)."""

    code = "conflict"


class DocumentTooLarge(SanadError):
    """The document is larger than the upload limit."""

    code = "payload_too_large"


class AlreadyVoted(SanadError):
    """The voter has voted on this answer already (the first vote stands)."""

    code = "already_voted"


class AnswerLogOff(SanadError):
    """No answers are kept on this server, so there is nothing to vote on."""

    code = "answer_log_off"


__all__ = ["AlreadyVoted", "AnswerLogOff", "Conflict", "DocumentTooLarge", "Forbidden", "IndexBusy", "LoadFailed", "NotFound",
           "NotReady", "Overloaded"]
