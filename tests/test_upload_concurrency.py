"""Uploads do not stall questions (``SANAD_UPLOAD_EMBEDDER=separate``, the default): while a
document is being embedded by the upload indexer's own model, ``/v1/ask`` is answered."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import httpx
import pytest

from qa.answerer import Answerer
from tests.api_fixtures import HTTP_DEFAULTS, LiveServer

pytestmark = pytest.mark.integration

Q_EN = "Roughly how many troops had Russia massed on Ukraine's border?"


def _long_document(paragraphs: int) -> str:
    return "\n".join(
        f"Field note {i}: the survey team counted {i * 37 + 11} olive trees in orchard {i} near the river bend, "
        f"and recorded that irrigation channel {i * 3 + 1} was repaired in week {i % 52 + 1} of the season."
        for i in range(1, paragraphs + 1)) + "\n"


def test_questions_are_answered_while_an_upload_is_embedded(seeds_settings, real_embedder, tmp_path: Path) -> None:  # noqa: ANN001
    data = tmp_path / "data"
    shutil.copytree(seeds_settings.data_dir, data)
    settings = seeds_settings.model_copy(update={**HTTP_DEFAULTS, "data_dir": data, "upload_embedder": "separate"})
    server = LiveServer(settings, answerer=Answerer(settings, embedder=real_embedder)).start()
    try:
        service = server.app.state.service
        assert service.require_indexer().embedder is not real_embedder  # its own model
        text = _long_document(60)
        result: dict[str, object] = {}

        def upload() -> None:
            r = httpx.post(server.url + "/v1/documents", json={"file": "orchards.txt", "text": text}, timeout=600)
            result["status"] = r.status_code

        uploader = threading.Thread(target=upload)
        uploader.start()
        deadline = time.monotonic() + 60
        while not list((data / "uploads").glob(".orchards.txt.*.part")) and time.monotonic() < deadline:
            time.sleep(0.05)  # the upload is being indexed once its .part file is written
        asked = httpx.post(server.url + "/v1/ask", json={"question": Q_EN}, timeout=600)
        upload_still_running = uploader.is_alive()
        uploader.join(600)
        assert asked.status_code == 200 and asked.json()["answerable"], asked.text
        assert upload_still_running, "the question waited for the whole upload"
        assert result["status"] == 201
        after = httpx.post(server.url + "/v1/ask", json={"question": "How many olive trees were counted in orchard 12?"},
                           timeout=600).json()
        assert any(c["file"] == "orchards.txt" for c in after["citations"]), after
    finally:
        server.stop()
