"""Which collections a Slack conversation asks (issue 31).

``SANAD_SLACK_CHANNELS`` (``C0123=legal,hr;C0456=support``) and/or ``SANAD_SLACK_CHANNELS_FILE``
(JSON ``{"C0123": ["legal", "hr"]}``, read again when it changes) map channel ids to
collections; a direct message asks ``SANAD_SLACK_DM_COLLECTIONS`` (the default collection
unless set). With no mapping configured at all, every channel asks the default collection, as
before collections; once one is configured, a channel it does not name is answered with a
notice, never with every document."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

from index.collections import DEFAULT_COLLECTION, validate_collection_name
from settings import Settings
from settings.errors import ConfigError

log = logging.getLogger("sanad.slack")


def parse_channels(value: str) -> dict[str, list[str]]:
    """``C1=a,b;C2=c`` as ``{"C1": ["a", "b"], "C2": ["c"]}``; :class:`ConfigError` when malformed."""
    out: dict[str, list[str]] = {}
    for entry in filter(None, (e.strip() for e in value.split(";"))):
        channel, sep, names = entry.partition("=")
        collections = [n.strip() for n in names.split(",") if n.strip()]
        if not sep or not channel.strip() or not collections:
            raise ConfigError(f"SANAD_SLACK_CHANNELS: {entry!r} is not CHANNEL=collection[,collection]")
        for name in collections:
            validate_collection_name(name)
        out[channel.strip()] = collections
    return out


class ChannelMap:
    """The collections of a channel (or DM); None for a channel the mapping leaves out."""

    def __init__(self, settings: Settings) -> None:
        self.inline = parse_channels(settings.slack_channels)
        self.path: Path | None = settings.slack_channels_file
        self.dm = list(settings.slack_dm_collections) or [DEFAULT_COLLECTION]
        self._file: dict[str, list[str]] = {}
        self._stamp: tuple[int, int] | None = None
        self._lock = threading.Lock()

    @property
    def configured(self) -> bool:
        return bool(self.inline) or self.path is not None

    def _from_file(self) -> dict[str, list[str]]:
        if self.path is None:
            return {}
        with self._lock:
            try:
                st = self.path.stat()
                stamp = (st.st_ino, st.st_mtime_ns)
                if stamp != self._stamp:
                    data = json.loads(self.path.read_text(encoding="utf-8"))
                    self._file = {str(k): [str(n) for n in v] for k, v in data.items() if isinstance(v, list)}
                    self._stamp = stamp
            except (OSError, ValueError, AttributeError) as exc:
                log.error("cannot read SANAD_SLACK_CHANNELS_FILE %s (%s); using the mapping read before",
                          self.path, exc)
            return self._file

    def collections_for(self, channel: str, *, direct: bool) -> list[str] | None:
        if direct:
            return self.dm
        if not self.configured:
            return [DEFAULT_COLLECTION]
        return self.inline.get(channel) or self._from_file().get(channel) or None


__all__ = ["ChannelMap", "parse_channels"]
