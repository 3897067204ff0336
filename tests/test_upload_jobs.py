"""Uploads that need OCR are accepted (202) and indexed by the service's OCR worker in the
background (issue 30: "Uploads stay non-blocking"); a job a killed server left is read again
at the next start (``api.service.upload_jobs``).

The unit tests use the job store on a temporary folder and real processes for the claims; the
integration tests run a real ``sanad serve`` (hashing embedder) and real Tesseract.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from api.service.upload_jobs import JobStore
from index.extracted import ExtractLimits
from index.paragraphs import needs_ocr

OFFICE = Path(__file__).resolve().parent / "fixtures" / "office"


# ------------------------------------------------------------------------------ units
@pytest.mark.parametrize(("name", "data", "expected"), [
    ("scan.png", (OFFICE / "scan_en.png").read_bytes(), True),
    ("scan_pages.pdf", (OFFICE / "scan_pages.pdf").read_bytes(), True),  # page 2 has no text layer
    ("columns.pdf", (OFFICE / "lo_ar_columns_kacst.pdf").read_bytes(), False),
    ("notes.txt", "نص عربي".encode(), False),
    ("bad.png", b"not an image", False),  # refused at once by its reader, not queued
    ("bad.pdf", b"not a pdf", False),
])
def test_needs_ocr(name: str, data: bytes, expected: bool) -> None:
    assert needs_ocr(data, file=name, limits=ExtractLimits()) is expected
    assert needs_ocr(data, file=name, limits=ExtractLimits(ocr=False)) is False


def test_a_job_is_kept_on_disk_claimed_once_and_finished(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs")
    job = store.submit("scans/a.png", b"bytes")
    assert store.latest("scans/a.png").state == "queued" and store.data(job) == b"bytes"
    claimed = store.claim_next()
    assert claimed is not None and claimed.id == job.id
    assert store.claim_next() is None  # this process holds it
    store.finish(claimed, "indexed", paragraphs=3, warnings=["page 1 read by OCR"])
    again = store.get(job.id)
    assert again.state == "indexed" and again.paragraphs == 3 and again.warnings == ["page 1 read by OCR"]
    assert sorted(p.name for p in (tmp_path / "jobs").iterdir()) == [f"{job.id}.json"]  # data and claim gone
    assert store.pending() == [] and store.claim_next() is None


def test_a_live_process_keeps_its_claim_and_a_dead_ones_is_taken_over(tmp_path: Path) -> None:
    """Of several server processes, one reads a job; one killed mid-read leaves it to the next."""
    store = JobStore(tmp_path / "jobs")
    job = store.submit("a.png", b"x")
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / "jobs" / f"{job.id}.claim").write_text(str(other.pid))
        assert store.claim_next() is None
    finally:
        other.kill()
        other.wait()
    taken = store.claim_next()
    assert taken is not None and taken.id == job.id
    assert (tmp_path / "jobs" / f"{job.id}.claim").read_text() == str(os.getpid())


def test_a_claim_with_this_processs_pid_it_does_not_hold_is_stale(tmp_path: Path) -> None:
    """After a restart in a container the new server may get the killed one's PID."""
    store = JobStore(tmp_path / "jobs")
    job = store.submit("a.png", b"x")
    (tmp_path / "jobs" / f"{job.id}.claim").write_text(str(os.getpid()))
    assert store.claim_next().id == job.id


def test_finished_statuses_are_pruned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import api.service.upload_jobs as jobs

    monkeypatch.setattr(jobs, "KEEP_FINISHED", 2)
    store = JobStore(tmp_path / "jobs")
    for k in range(4):
        j = store.submit(f"{k}.png", b"x")
        store.finish(j, "failed", error="no")
    store.submit("last.png", b"x")
    files = sorted(j.file for j in store.jobs())
    assert files == ["2.png", "3.png", "last.png"]


# ------------------------------------------------------------------------ integration
def tiff(pages: int) -> bytes:
    """A multi-page TIFF of the English scan (each page the same)."""
    from PIL import Image

    frame = Image.open(OFFICE / "scan_en.png").convert("L")
    buf = io.BytesIO()
    frame.save(buf, format="TIFF", save_all=True, append_images=[frame] * (pages - 1), dpi=(300, 300),
               compression="tiff_lzw")
    return buf.getvalue()


def wait_state(url: str, name: str, states: set[str], timeout: float = 240.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        r = httpx.get(f"{url}/v1/documents/{name}/upload", timeout=30)
        if r.status_code == 200 and r.json()["state"] in states:
            return r.json()
        assert time.monotonic() < deadline, r.text
        time.sleep(0.1)


@pytest.mark.integration
def test_an_ocr_upload_returns_at_once_and_questions_go_on(tmp_path: Path) -> None:
    """A real server: a 6-page scan is accepted in well under its reading time; while it is read
    questions are answered, the document is not listed, and text uploads are indexed in their
    request as before; then it is listed with its OCR'd paragraphs."""
    from tests.test_upload_crash import Server

    server = Server(tmp_path / "data", tmp_path / "server.log").start()
    try:
        data = tiff(6)
        started = time.monotonic()
        r = httpx.post(server.url + "/v1/documents", files={"file": ("scans/long.tiff", data, "image/tiff")},
                       timeout=60)
        accepted_s = time.monotonic() - started
        assert r.status_code == 202, r.text
        body = r.json()
        assert body["state"] == "queued" and body["file"] == "scans/long.tiff" and body["size"] == len(data)
        assert accepted_s < 5, accepted_s
        wait_state(server.url, "scans/long.tiff", {"reading", "indexed"})
        text = httpx.post(server.url + "/v1/documents", json={"file": "notes.txt", "text": "The harbour has 40 berths."},
                          timeout=120)
        assert text.status_code == 201, text.text
        ask = httpx.post(server.url + "/v1/ask", json={"question": "How many berths has the harbour?"}, timeout=120)
        assert ask.status_code == 200, ask.text
        listed = {d["file"] for d in httpx.get(server.url + "/v1/documents", timeout=30).json()["documents"]}
        status = httpx.get(server.url + "/v1/documents/scans/long.tiff/upload", timeout=30).json()
        assert status["state"] == "indexed" or "scans/long.tiff" not in listed  # visible only once complete
        done = wait_state(server.url, "scans/long.tiff", {"indexed", "failed"})
        assert done["state"] == "indexed", done
        assert done["warnings"][0].startswith("pages 1-6 read by OCR") and done["pages_read"] == 6
        doc = httpx.get(server.url + "/v1/documents/scans/long.tiff", timeout=30).json()
        assert doc["kind"] == "image" and doc["uploaded"] and doc["paragraphs"] == done["paragraphs"]
        para = httpx.get(server.url + "/v1/documents/scans/long.tiff/paragraphs/1", timeout=30).json()
        assert para["ocr"] is True
        assert (server.data / "uploads" / "scans" / "long.tiff").read_bytes() == data
        assert [p.name for p in (server.data / "upload_jobs").iterdir()] == [f"{done['job']}.json"]
        # errors are clear: a corpus name, a bad image, and no upload of that name
        bad = httpx.post(server.url + "/v1/documents", files={"file": ("bad.png", b"not an image")}, timeout=60)
        assert bad.status_code == 400 and "not a readable image" in bad.json()["error"]["message"]
        none = httpx.get(server.url + "/v1/documents/never.png/upload", timeout=30)
        assert none.status_code == 404 and none.json()["error"]["code"] == "not_found"
    finally:
        server.stop()


@pytest.mark.integration
def test_a_scan_being_read_when_the_server_is_killed_is_indexed_after_the_restart(tmp_path: Path) -> None:
    """kill -9 while the OCR worker reads a scan: at the next start the job is taken up again
    and completes; nothing is lost or left behind."""
    from tests.test_upload_crash import Server, check_recovered

    server = Server(tmp_path / "data", tmp_path / "server.log").start()
    data = tiff(4)
    try:
        r = httpx.post(server.url + "/v1/documents", files={"file": ("scan.tiff", data, "image/tiff")}, timeout=60)
        assert r.status_code == 202, r.text
        job = r.json()["job"]
        wait_state(server.url, "scan.tiff", {"reading"})
        server.kill()
        state = json.loads((server.data / "upload_jobs" / f"{job}.json").read_text())
        assert state["state"] == "reading" and (server.data / "upload_jobs" / f"{job}.data").exists()
        server.start()
        done = wait_state(server.url, "scan.tiff", {"indexed", "failed"})
        assert done["state"] == "indexed" and done["job"] == job, done
        check_recovered(server, [])
        assert (server.data / "uploads" / "scan.tiff").read_bytes() == data
        assert sorted(p.name for p in (server.data / "upload_jobs").iterdir()) == [f"{job}.json"]
        assert "reading them now" in server.log.read_text()
    finally:
        server.stop()


def test_start_up_recovery_leaves_a_queued_scan_to_its_job(hash_settings, caplog: pytest.LogCaptureFixture,  # noqa: ANN001
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A scan's file in uploads/ that no commit lists, while its OCR job is unfinished (a server
    killed between moving the file into place and its commit): recovery runs no OCR before
    /readyz; the job indexes it again."""
    from api.service.recovery import recover

    data = (OFFICE / "scan_en.png").read_bytes()
    hash_settings.uploads_dir.mkdir(parents=True)
    (hash_settings.uploads_dir / "scan.png").write_bytes(data)
    JobStore(hash_settings.data_dir / "upload_jobs").submit("scan.png", data)
    import api.service.recovery as recovery

    def no_parsing(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("recovery read the scan")

    monkeypatch.setattr(recovery, "parse_document", no_parsing)
    with caplog.at_level("WARNING", logger="sanad.recovery"):
        report = recover(hash_settings)
    assert report.uploads_left == ["scan.png"] and not report.uploads_committed
    assert "left to its queued OCR upload" in caplog.text
