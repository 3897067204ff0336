"""Where an upload is written on disk, and the file-system clashes that must not become 500s.

An upload named ``a/b.txt`` is written to ``uploads/a/.b.txt.{pid}.{tid}.part`` first and
moved over ``uploads/a/b.txt`` once its vectors are stored, just before the catalog commit
that lists it (a ``.part`` left by a killed process is removed at the next start:
``api.service.recovery``). Names themselves are checked by
``api.service.file_names.validate_filename`` (which leaves room for that temporary name); what a
name cannot tell is the state of the folder: ``c2.txt`` cannot be stored while
``c2.txt/inner.txt`` is (``uploads/c2.txt`` is a folder), nor ``c2.txt/inner.txt`` while
``c2.txt`` is (a file where a folder would have to be). :func:`write_temp` finds such a
clash *before* anything is indexed and raises :class:`~api.service.errors.Conflict`; any other
file-system refusal of a name (a file system with a shorter name limit) is a
:class:`~api.service.file_names.FileNameError`.
On every failure the temporary file and the folders made for it are removed again.

The service calls, in order: :func:`write_temp` (before indexing), then :func:`commit`
(from the indexer, between storing the vectors and the commit) or :func:`discard` (when
indexing failed). A delete moves the file to a ``.part`` name with :func:`set_aside` just
before the commit that removes the document, then discards it (or :func:`restore`\ s it
when that commit did not happen): a file in ``uploads/`` is always a listed document's.
"""

from __future__ import annotations

import errno
import os
import re
import threading
from pathlib import Path

from api.service.errors import Conflict
from api.service.file_names import FileNameError

#: errno values meaning "a file and a folder of the same name" (or a file where a folder must be)
_CLASH_ERRNOS = frozenset({errno.EEXIST, errno.EISDIR, errno.ENOTDIR, errno.ENOTEMPTY})


#: a temporary upload file's name: ``.NAME.PID.TID.part`` (:func:`temp_path`)
TEMP_NAME = re.compile(r"\.(?P<name>.+)\.(?P<pid>[0-9]+)\.(?P<tid>[0-9]+)\.part")


def temp_path(path: Path) -> Path:
    """The temporary file an upload to ``path`` is written to first (hidden, so never a document)."""
    return path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.part")


def clash(root: Path, path: Path) -> str | None:
    """Why ``path`` (inside the uploads folder ``root``) cannot hold a file now, or None."""
    if path.is_dir():
        return f"{_rel(root, path)} is a folder of uploaded documents; upload under another name"
    folder = path.parent
    while folder != root and root in folder.parents:
        if folder.exists() and not folder.is_dir():
            return (f"{_rel(root, folder)} is an uploaded document, so it cannot be a folder of "
                    f"{_rel(root, path)}; upload under another name")
        folder = folder.parent
    return None


def write_temp(root: Path, path: Path, data: bytes) -> Path:
    """Write ``data`` to :func:`temp_path` of ``path`` (making its folders); returns it.

    :class:`Conflict` when the name clashes with an uploaded file or folder, :class:`FileNameError`
    when the file system refuses the name; nothing is left behind then."""
    root = root.resolve()
    try:
        reason = clash(root, path)
    except OSError as exc:
        raise _as_domain_error(exc, root, path) from None
    if reason:
        raise Conflict(reason)
    root.mkdir(parents=True, exist_ok=True)
    made = _missing_folders(root, path.parent)
    tmp = temp_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
    except OSError as exc:
        _remove(tmp)
        _prune(made)
        raise _as_domain_error(exc, root, path) from None
    return tmp


def commit(root: Path, tmp: Path, path: Path) -> None:
    """Move the indexed upload's temporary file onto its name (the temporary file is gone after)."""
    try:
        os.replace(tmp, path)
    except OSError as exc:
        discard(root, tmp)
        raise _as_domain_error(exc, root.resolve(), path) from None


def set_aside(path: Path) -> Path:
    """Move an uploaded file to its :func:`temp_path` (a delete does, just before its commit)."""
    tmp = temp_path(path)
    os.replace(path, tmp)
    return tmp


def restore(tmp: Path, path: Path) -> None:
    """Undo :func:`set_aside` (the delete's commit did not happen)."""
    os.replace(tmp, path)


def discard(root: Path, tmp: Path) -> None:
    """Remove a temporary upload file and the folders left empty by it (up to ``root``)."""
    _remove(tmp)
    prune_empty_dirs(root, tmp.parent)


def prune_empty_dirs(root: Path, folder: Path) -> None:
    """Remove ``folder`` and its parents while they are empty, never ``root`` or above it."""
    root = root.resolve()
    while folder != root and root in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def _as_domain_error(exc: OSError, root: Path, path: Path) -> Exception:
    if exc.errno == errno.ENAMETOOLONG:
        return FileNameError("the file name is longer than this server's file system holds")
    if exc.errno in _CLASH_ERRNOS:
        return Conflict(f"{_rel(root, path)} clashes with an uploaded file or folder of that name; "
                        "upload under another name")
    return exc


def _missing_folders(root: Path, folder: Path) -> list[Path]:
    """The folders between ``root`` and ``folder`` that do not exist yet, deepest first."""
    missing = []
    while folder != root and root in folder.parents and not folder.exists():
        missing.append(folder)
        folder = folder.parent
    return missing


def _prune(folders: list[Path]) -> None:
    for folder in folders:  # deepest first
        try:
            folder.rmdir()
        except OSError:
            return


def _remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass


def _rel(root: Path, path: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.name
