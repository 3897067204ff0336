"""The file-name guard: which document names the API accepts (uploads, reads, deletes).

The routes are in ``api.routes.documents``."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from api.errors import ApiError
from index.paragraphs import SUPPORTED_SUFFIXES

MAX_NAME_CHARS = 255
MAX_PATH_CHARS = 1024
_DRIVE_RE = re.compile(r"^[A-Za-z]:")


class FileNameError(ValueError):
    """A document name that must not be used (message says why)."""


def validate_filename(name: str) -> str:
    """Return ``name`` if it is a safe relative POSIX path of a supported document.

    Refused: empty names, NUL and other control characters, backslashes, absolute paths
    (``/x``, ``C:...``), ``.`` / ``..`` / empty / hidden (``.x``) components, over-long
    names, and suffixes other than those the indexer reads."""
    if not isinstance(name, str) or not name or not name.strip():
        raise FileNameError("the file name is empty")
    if "\x00" in name:
        raise FileNameError("the file name contains a NUL byte")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name):
        raise FileNameError("the file name contains control characters")
    if "\\" in name:
        raise FileNameError("the file name contains a backslash; use '/' between folders")
    if name.startswith("/") or _DRIVE_RE.match(name):
        raise FileNameError("the file name must be relative, not an absolute path")
    if len(name) > MAX_PATH_CHARS:
        raise FileNameError(f"the file name is longer than {MAX_PATH_CHARS} characters")
    parts = name.split("/")
    for part in parts:
        if part in ("", ".", ".."):
            raise FileNameError(f"the file name has an empty, '.' or '..' component: {name!r}")
        if part.startswith("."):
            raise FileNameError(f"hidden names (starting with '.') are not allowed: {part!r}")
        if part != part.strip():
            raise FileNameError("a file name component starts or ends with a space")
        if len(part) > MAX_NAME_CHARS:
            raise FileNameError(f"a file name component is longer than {MAX_NAME_CHARS} characters")
    suffix = PurePosixPath(parts[-1]).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        shown = suffix or "(none)"
        raise FileNameError(f"unsupported file type {shown}; supported: {', '.join(SUPPORTED_SUFFIXES)}")
    return name


def checked_name(name: str) -> str:
    try:
        return validate_filename(name)
    except FileNameError as exc:
        raise ApiError(400, str(exc), code="invalid_file_name") from None
