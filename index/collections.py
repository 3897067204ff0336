"""Collections: named sets of documents, each a whole index of its own (paragraphs, vectors,
BM25 statistics, answer log), served by one process with one model in memory.

Layout. The **default** collection is the data dir itself, exactly as before collections
existed (a data folder made by an older Sanad is its default collection, unchanged). A named
collection ``NAME`` is a data dir of its own at ``<data dir>/collections/NAME/`` (its own
``catalog.sqlite3``, ``chroma/``, ``lexical/``, ``uploads/``, ``answers.sqlite3``). In server
mode (``SANAD_CHROMA_URL``) its Chroma collections are ``<SANAD_CHROMA_COLLECTION>--NAME``
(plus the usual ``_catalog`` / ``_answers`` suffixes), and the list of collections is a record
per collection in ``<SANAD_CHROMA_COLLECTION>_collections`` on the server, shared by replicas.

Crash safety (kill -9 at any point): a collection is created in a temporary folder
(``.creating-NAME-<random>``) holding its ``collection.json`` and renamed onto ``NAME`` in one
``rename(2)``; it is deleted by renaming it aside (``.deleting-NAME-<random>``) in one rename,
then removing that folder. Leftovers of either are removed at the next :meth:`Collections.cleanup`
(every server start and every ``sanad collections`` command): a collection exists whole or
not at all. In server mode the registry record is the existence: added last on create,
removed first on delete.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, TypeVar

from settings import StoreSettings
from settings.errors import SanadError

#: the collection every call that names none uses: the data dir itself
DEFAULT_COLLECTION = "default"
#: the folder under the data dir that holds the named collections
COLLECTIONS_FOLDER = "collections"
#: the file that marks a folder as a whole collection
MARKER_FILE = "collection.json"
#: the server-mode registry collection's suffix (``sanad_collections``)
REGISTRY_SUFFIX = "_collections"
#: the separator between the base Chroma collection and a collection's name
CHROMA_SEPARATOR = "--"
#: the server-mode answer log's suffix (``api.answer_log.shared.ANSWERS_SUFFIX``, an upper layer)
SERVER_ANSWERS_SUFFIX = "_answers"
MAX_NAME_CHARS = 48
#: lowercase letters, digits and inner hyphens: safe as a folder name on every file system and
#: as part of a Chroma collection name (no ``_``: the store's own suffixes start with one)
_NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")

S = TypeVar("S", bound=StoreSettings)


class CollectionNameError(SanadError, ValueError):
    """A collection name that cannot be used (the message says why)."""

    code = "invalid_collection_name"


class CollectionNotFound(SanadError, LookupError):
    """No such collection (or none this caller may see: the message is the same)."""

    code = "not_found"


class CollectionBusy(SanadError):
    """The collection is being indexed (its index lock is held); retry when that ends."""

    code = "index_busy"
    retry_after_s = 10


class CollectionExists(SanadError):
    """A collection of that name exists already."""

    code = "conflict"


def validate_collection_name(name: str) -> str:
    """``name`` if it is a usable collection name, else :class:`CollectionNameError`."""
    if not isinstance(name, str) or not name:
        raise CollectionNameError("a collection name cannot be empty")
    if len(name) > MAX_NAME_CHARS:
        raise CollectionNameError(f"a collection name has at most {MAX_NAME_CHARS} characters")
    if name != DEFAULT_COLLECTION and not _NAME_RE.fullmatch(name):
        raise CollectionNameError(
            f"invalid collection name {name[:60]!r}: use lowercase letters a-z, digits and inner hyphens "
            "(e.g. legal, support-2)")
    return name


def collection_settings(settings: S, name: str) -> S:
    """The settings of collection ``name``: the same settings with its own data dir (a data dir
    laid out as the default's, its Chroma store included), and, in server mode, its own Chroma
    collections. The default collection's are ``settings`` itself."""
    validate_collection_name(name)
    if name == DEFAULT_COLLECTION:
        return settings
    update: dict[str, Any] = {"data_dir": settings.data_dir / COLLECTIONS_FOLDER / name}
    if settings.chroma_url:  # the embedded store is the collection's own folder; a server needs its own names
        update["chroma_collection"] = f"{settings.chroma_collection}{CHROMA_SEPARATOR}{name}"
    return settings.model_copy(update=update)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def _crash_point(name: str) -> None:
    from index.indexer import crash_point  # the indexer's test hook (SANAD_TEST_CRASH_AT)

    crash_point(name)


class Collections:
    """The collections of one data dir (and, in server mode, of one Chroma server)."""

    _lock = threading.Lock()  # one writer at a time in this process (folders are the truth across processes)

    def __init__(self, settings: StoreSettings) -> None:
        self.settings = settings
        self.root = settings.data_dir / COLLECTIONS_FOLDER
        self._registry: Any = None

    # ------------------------------------------------------------------ reading
    def names(self) -> list[str]:
        """Every collection, the default first, then the named ones in order."""
        return [DEFAULT_COLLECTION, *sorted(self._named())]

    def exists(self, name: str) -> bool:
        try:
            validate_collection_name(name)
        except CollectionNameError:
            return False
        return name == DEFAULT_COLLECTION or name in self._named()

    def require(self, name: str) -> str:
        """``name`` if it is a collection; :class:`CollectionNameError` / :class:`CollectionNotFound`."""
        validate_collection_name(name)
        if not self.exists(name):
            raise CollectionNotFound(f"no such collection: {name}")
        return name

    def settings_for(self, name: str) -> StoreSettings:
        return collection_settings(self.settings, self.require(name))

    def info(self, name: str) -> dict[str, Any]:
        """What ``collection.json`` says (name, created_at); the default's is made up."""
        self.require(name)
        if name == DEFAULT_COLLECTION:
            return {"name": name, "created_at": None}
        try:
            return json.loads((self.root / name / MARKER_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {"name": name, "created_at": None}

    def _named(self) -> set[str]:
        if self.settings.chroma_url:
            return set(self._server_registry().get(include=[])["ids"])
        found: set[str] = set()
        if not self.root.is_dir():
            return found
        for entry in self.root.iterdir():
            if entry.name.startswith(".") or not _NAME_RE.fullmatch(entry.name) or entry.name == DEFAULT_COLLECTION:
                continue
            if (entry / MARKER_FILE).is_file():
                found.add(entry.name)
        return found

    # ------------------------------------------------------------------ writing
    def create(self, name: str) -> str:
        """Create an empty collection; :class:`CollectionExists` when it is there already."""
        validate_collection_name(name)
        if name == DEFAULT_COLLECTION:
            raise CollectionExists("the default collection always exists")
        with self._lock:
            self.cleanup()
            if name in self._named():
                raise CollectionExists(f"collection {name} exists already")
            self.root.mkdir(parents=True, exist_ok=True)
            final = self.root / name
            if final.exists():  # a folder without a marker: not a collection; refuse to touch it
                raise CollectionExists(f"{final} exists and is not a collection; move it away first")
            tmp = self.root / f".creating-{name}-{secrets.token_hex(4)}"
            tmp.mkdir()
            marker = {"name": name, "created_at": time.time()}
            with open(tmp / MARKER_FILE, "w", encoding="utf-8") as out:
                json.dump(marker, out)
                out.flush()
                os.fsync(out.fileno())
            _fsync_dir(tmp)
            _crash_point("collection_tmp_ready")
            os.rename(tmp, final)  # the one step that makes the collection exist
            _fsync_dir(self.root)
            _crash_point("collection_renamed")
            if self.settings.chroma_url:
                self._drop_server_collections(name)  # leftovers of an earlier collection of that name
                self._server_registry().upsert(ids=[name], documents=[json.dumps(marker)], embeddings=[[0.0]])
        return name

    def delete(self, name: str) -> None:
        """Delete a collection and everything in it (documents, vectors, answer log);
        :class:`CollectionBusy` while it is being indexed."""
        validate_collection_name(name)
        if name == DEFAULT_COLLECTION:
            raise CollectionExists("the default collection cannot be deleted")
        from index.indexer import IndexerError, index_lock

        with self._lock:
            if name not in self._named():
                raise CollectionNotFound(f"no such collection: {name}")
            final = self.root / name
            lock_path = collection_settings(self.settings, name).lock_path
            try:  # held through the rename: no indexer starts on it meanwhile
                with index_lock(lock_path) if final.exists() else _nothing():
                    if self.settings.chroma_url:
                        self._server_registry().delete(ids=[name])  # gone for every replica at once
                    if final.exists():
                        aside = self.root / f".deleting-{name}-{secrets.token_hex(4)}"
                        os.rename(final, aside)  # the one step that makes it not exist
                        _fsync_dir(self.root)
                        _crash_point("collection_set_aside")
                        shutil.rmtree(aside, ignore_errors=True)
            except IndexerError:
                raise CollectionBusy(f"collection {name} is being indexed; delete it when that finishes") from None
            if self.settings.chroma_url:
                self._drop_server_collections(name)

    def cleanup(self) -> list[str]:
        """Remove what a killed create or delete left (``.creating-*``, ``.deleting-*``)."""
        removed: list[str] = []
        if not self.root.is_dir():
            return removed
        for entry in self.root.iterdir():
            if entry.name.startswith((".creating-", ".deleting-")):
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry.name)
        return removed

    # ------------------------------------------------------------------ server mode
    def _client(self) -> Any:
        from index.vectors import chroma_client

        return chroma_client(self.settings)

    def _server_registry(self) -> Any:
        if self._registry is None:
            self._registry = self._client().get_or_create_collection(
                self.settings.chroma_collection + REGISTRY_SUFFIX, embedding_function=None)
        return self._registry

    def _drop_server_collections(self, name: str) -> None:
        """Delete the Chroma collections of ``name`` (vectors, catalog, answer log) if any."""
        from index.shared_catalog import CATALOG_SUFFIX

        base = collection_settings(self.settings, name).chroma_collection
        client = self._client()
        for suffix in ("", CATALOG_SUFFIX, SERVER_ANSWERS_SUFFIX):
            try:
                client.delete_collection(base + suffix)
            except Exception:  # noqa: BLE001 - not there (chromadb raises its own NotFound types)
                pass

    def __repr__(self) -> str:
        return f"Collections({self.root})"
