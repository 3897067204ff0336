"""The file-name guard: which document names the service accepts (uploads, reads, deletes).

A refused name is a :class:`FileNameError` (``invalid_file_name``); the routes are in
``api.http.routes.documents``."""

from __future__ import annotations

import re
import unicodedata
from pathlib import PurePosixPath

from index.readers import SUPPORTED_SUFFIXES
from settings.errors import SanadError

MAX_NAME_CHARS = 255
MAX_PATH_CHARS = 1024
#: file systems limit each path component to 255 bytes (Linux NAME_MAX; UTF-8 bytes, not characters)
MAX_COMPONENT_BYTES = 255
#: an upload is first written to ``.{name}.{pid}.{tid}.part`` beside its target
#: (api.service.upload_paths.temp_path): 1 + 1 + 20 + 1 + 20 + 5 bytes on top of the name at most
TEMP_NAME_OVERHEAD = len(".." + "9" * 20 + "." + "9" * 20 + ".part")
#: so the file's own name (the last component) gets what remains of the 255 bytes
MAX_FILE_NAME_BYTES = MAX_COMPONENT_BYTES - TEMP_NAME_OVERHEAD
#: the whole name, in UTF-8 bytes (the data dir's path comes on top; Linux PATH_MAX is 4096)
MAX_PATH_BYTES = 1024
#: Unicode categories refused anywhere in a name: controls (Cc: NUL, U+0085...), format
#: characters (Cf: bidi overrides such as U+202E, ZWJ, BOM), line and paragraph separators,
#: and lone surrogates (Cs: not encodable as UTF-8, so no file system can hold them)
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
_DRIVE_RE = re.compile(r"^[A-Za-z]:")


class FileNameError(SanadError, ValueError):
    """A document name that must not be used (message says why)."""

    code = "invalid_file_name"


def validate_filename(name: str) -> str:
    """Return ``name`` if it is a safe relative POSIX path of a supported document.

    The one place that decides what a document name may be. Refused: empty names, control
    and format characters (:data:`REFUSED_CATEGORIES`: NUL, U+0085, bidi overrides, ZWJ,
    BOM, line separators, lone surrogates), backslashes, absolute paths (``/x``,
    ``C:...``), ``.`` / ``..`` / empty / hidden (``.x``) components, names longer than a
    file system holds (a component over 255 UTF-8 bytes, the file's own name over
    :data:`MAX_FILE_NAME_BYTES` so that its temporary upload file fits too, the whole over
    :data:`MAX_PATH_BYTES`), and suffixes other than those the indexer reads."""
    if not isinstance(name, str) or not name or not name.strip():
        raise FileNameError("the file name is empty")
    if "\x00" in name:
        raise FileNameError("the file name contains a NUL byte")
    refused = next((ch for ch in name if unicodedata.category(ch) in REFUSED_CATEGORIES), None)
    if refused is not None:
        raise FileNameError(f"the file name contains a control or format character (U+{ord(refused):04X})")
    if "\\" in name:
        raise FileNameError("the file name contains a backslash; use '/' between folders")
    if name.startswith("/") or _DRIVE_RE.match(name):
        raise FileNameError("the file name must be relative, not an absolute path")
    if len(name) > MAX_PATH_CHARS:
        raise FileNameError(f"the file name is longer than {MAX_PATH_CHARS} characters")
    if len(name.encode("utf-8")) > MAX_PATH_BYTES:
        raise FileNameError(f"the file name is longer than {MAX_PATH_BYTES} bytes in UTF-8")
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
        if len(part.encode("utf-8")) > MAX_COMPONENT_BYTES:
            raise FileNameError(f"a part of the file name is longer than {MAX_COMPONENT_BYTES} bytes in UTF-8")
    if len(parts[-1].encode("utf-8")) > MAX_FILE_NAME_BYTES:
        raise FileNameError(f"the file's own name is {len(parts[-1].encode('utf-8'))} bytes in UTF-8; "
                            f"the limit is {MAX_FILE_NAME_BYTES} (file systems hold 255, and an upload "
                            f"is first written to a temporary file with a longer name)")
    suffix = PurePosixPath(parts[-1]).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        shown = suffix or "(none)"
        raise FileNameError(f"unsupported file type {shown}; supported: {', '.join(SUPPORTED_SUFFIXES)}")
    return name

