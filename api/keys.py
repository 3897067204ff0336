"""Scoped API keys: who may do what, in which collections.

A key has a **role** and the **collections** it may use:

- ``read``: ask, read its collections' documents and its own conversations, vote;
- ``write``: also upload and delete documents in its collections;
- ``admin``: also create and delete collections, manage keys, read ``/metrics``;
- ``metrics``: ``/metrics`` only (a Prometheus scraper's key).

Keys live in a JSON file (``SANAD_API_KEY_FILE``, default ``<data dir>/keys.json``), one
record per key with only the SHA-256 of the key (keys are 256 random bits, so a fast hash is
enough: there is nothing to guess), written atomically. The file is read again whenever it
changes (its size, mtime or inode), so a key made by ``sanad keys create`` works on a running
server at once, and a revoked one stops. Keys given by ``SANAD_API_KEYS`` are admin keys over
every collection, as before.

:func:`KeyRing.check` (or :func:`check_key`) is the one key check: given a bearer token, the
:class:`Grant` of its key, or None. Every face (HTTP, MCP) goes through it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Literal

from index.collections import validate_collection_name
from settings import Settings
from settings.errors import SanadError

Role = Literal["read", "write", "admin", "metrics"]
ROLES: tuple[Role, ...] = ("read", "write", "admin", "metrics")
#: what each role may do, cumulative for read < write < admin
_RANK = {"metrics": -1, "read": 0, "write": 1, "admin": 2}
#: the collections entry that means every collection (present and future)
ALL = "*"
KEY_PREFIX = "sk-sanad-"
KEYS_FILE = "keys.json"


class KeyRequestError(SanadError, ValueError):
    """A key request that cannot be carried out (unknown role, bad collection name, no such key)."""

    code = "invalid_request"


@dataclass(frozen=True)
class Grant:
    """What one key may do: its role and collections (``("*",)`` = all), and its id."""

    role: Role
    collections: tuple[str, ...] = (ALL,)
    key_id: str = ""
    owner: str = field(default="http", compare=False)

    @property
    def all_collections(self) -> bool:
        return ALL in self.collections

    def sees(self, collection: str) -> bool:
        """Whether this key may see ``collection`` at all (else it is answered as absent: 404)."""
        return self.role != "metrics" and (self.all_collections or collection in self.collections)

    def can(self, role: Role) -> bool:
        """Whether this key's role includes ``role`` (read < write < admin; metrics alone)."""
        if role == "metrics":
            return self.role in ("metrics", "admin")
        return _RANK[self.role] >= _RANK[role]


#: the grant of every caller of a server without keys: everything, as before keys existed
OPEN = Grant(role="admin", collections=(ALL,), key_id="", owner="http")


def hash_key(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def owner_of(token: str) -> str:
    """The owner of a key's conversations and answers (``api.service.asking.caller_owner``)."""
    return "key:" + hash_key(token)[:24]


def key_file(settings: Settings) -> Path:
    return settings.api_key_file or settings.data_dir / KEYS_FILE


def parse_collections(value: str | Iterable[str]) -> tuple[str, ...]:
    names = [v.strip() for v in (value.split(",") if isinstance(value, str) else value) if v.strip()]
    if not names:
        raise KeyRequestError("give the key's collections: names separated by commas, or '*' for all")
    if ALL in names:
        return (ALL,)
    for name in names:
        validate_collection_name(name)
    return tuple(dict.fromkeys(names))


class KeyRing:
    """The keys of one server: ``SANAD_API_KEYS`` (admin) and the key file, re-read on change."""

    def __init__(self, path: Path, *, admin_keys: Iterable[str] = ()) -> None:
        self.path = path
        self._admin = {hash_key(k): k for k in admin_keys if k}
        self._records: dict[str, dict] = {}  # sha256 -> record
        self._stamp: tuple[int, int, int] | None = None
        self._lock = threading.Lock()

    @classmethod
    def for_settings(cls, settings: Settings) -> KeyRing:
        return cls(key_file(settings), admin_keys=settings.api_keys)

    # ------------------------------------------------------------------ reading
    def _reload(self) -> None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._records, self._stamp = {}, None
            return
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        if stamp == self._stamp:
            return
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            records = {r["sha256"]: r for r in data.get("keys", []) if isinstance(r, dict) and "sha256" in r}
        except (OSError, ValueError, AttributeError) as exc:  # keep the last good keys; say why
            import logging

            logging.getLogger("sanad.api").error("cannot read the key file %s (%s); keeping the keys read "
                                                 "before", self.path, exc)
            return
        self._records, self._stamp = records, stamp

    def has_keys(self) -> bool:
        """Whether any key is configured (then every ``/v1`` call needs one)."""
        with self._lock:
            self._reload()
            return bool(self._admin or self._records)

    def check(self, token: str | None) -> Grant | None:
        """The grant of ``token``'s key, or None when it is no key of this server."""
        if not token:
            return None
        digest = hash_key(token)
        with self._lock:
            self._reload()
            for known in self._admin:
                if hmac.compare_digest(known, digest):
                    return Grant(role="admin", collections=(ALL,), key_id="env", owner=owner_of(token))
            record = self._records.get(digest)
        if record is None or not hmac.compare_digest(record["sha256"], digest):
            return None
        role = record.get("role")
        if role not in ROLES:
            return None
        return Grant(role=role, collections=tuple(record.get("collections") or ()), key_id=str(record.get("id", "")),
                     owner=owner_of(token))

    def records(self) -> list[dict]:
        """The key file's records (no key in them: ids, roles, collections, labels, times)."""
        with self._lock:
            self._stamp = None
            self._reload()
            return sorted(self._records.values(), key=lambda r: r.get("created_at", 0))

    # ------------------------------------------------------------------ writing
    def create(self, role: str, collections: str | Iterable[str], *, label: str = "") -> tuple[str, dict]:
        """A new key: (the key, shown once; its record, as stored: hashed)."""
        if role not in ROLES:
            raise KeyRequestError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
        names = (ALL,) if role == "metrics" else parse_collections(collections)
        token = KEY_PREFIX + secrets.token_urlsafe(32)
        record = {"id": "k_" + secrets.token_hex(6), "sha256": hash_key(token), "role": role,
                  "collections": list(names), "label": label[:200], "created_at": time.time()}
        with self._lock:
            data = self._read_file()
            data["keys"].append(record)
            self._write_file(data)
            self._stamp = None
        return token, record

    def revoke(self, key_id: str) -> dict:
        with self._lock:
            data = self._read_file()
            kept = [r for r in data["keys"] if r.get("id") != key_id]
            if len(kept) == len(data["keys"]):
                raise KeyRequestError(f"no key with id {key_id!r} (sanad keys list shows them)", code="not_found")
            gone = next(r for r in data["keys"] if r.get("id") == key_id)
            data["keys"] = kept
            self._write_file(data)
            self._stamp = None
        return gone

    def _read_file(self) -> dict:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"keys": []}
        except ValueError as exc:
            raise KeyRequestError(f"the key file {self.path} is not valid JSON ({exc}); fix or move it") from None
        if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
            raise KeyRequestError(f"the key file {self.path} has no \"keys\" list; fix or move it")
        return data

    def _write_file(self, data: dict) -> None:
        """Atomically (a temporary file renamed over the old one), readable by its owner only."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=1)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.path)


_rings: dict[tuple[str, tuple[str, ...]], KeyRing] = {}
_rings_lock = threading.Lock()


def check_key(settings: Settings, token: str | None) -> Grant | None:
    """The public key check for any face (HTTP, MCP): the :class:`Grant` of ``token``, or None.
    When the server has no keys at all, every caller gets :data:`OPEN` (as before keys existed)."""
    ring = keyring_for(settings)
    if not ring.has_keys():
        return OPEN
    return ring.check(token)


def keyring_for(settings: Settings) -> KeyRing:
    """One :class:`KeyRing` per key file and env keys (so the file is re-read only on change)."""
    ident = (str(key_file(settings)), tuple(sorted(settings.api_keys)))
    with _rings_lock:
        ring = _rings.get(ident)
        if ring is None:
            ring = _rings[ident] = KeyRing.for_settings(settings)
        return ring


__all__ = ["ALL", "OPEN", "ROLES", "Grant", "KeyRing", "check_key", "hash_key", "key_file", "keyring_for",
           "owner_of", "parse_collections"]
