"""What the answer log adds to each question: writing an answer and reading a conversation back.

SQLite (``api.answer_log.local``, the default) and the Chroma server (``api.answer_log.shared``,
server mode; a local ``chroma run`` started here, as tests/chroma_fixtures.py does). Answers
of about the real size (three 300-character quotes, a 600-character answer), 50 conversations.

    .venv/bin/python bench/answer_log_latency.py
"""

import statistics
import sys
import tempfile
import time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.answer_log.local import AnswerLog, new_answer_id
from qa.models import Answer, Citation
from tests.chroma_fixtures import start_chroma, stop_chroma
from api.answer_log.shared import SharedAnswerLog
from settings import Settings

def answer(cid):
    c = Citation(ref=1, file="a.txt", paragraph=1, line_start=1, line_end=1, char_start=0, char_end=5, quote="x"*300, score=0.5, url="/u")
    return Answer(answer="y"*600, language="ar", answerable=True, citations=[c, c, c], conversation_id=cid, answer_id=new_answer_id(), timings_ms={"total": 1.0})

def bench(log, label, n=300):
    rec, rd = [], []
    for i in range(n):
        a = answer(f"c{i % 50}")
        t = time.perf_counter(); log.record(a, owner="key:x", question="q"*100, standalone="q"*100, index_version="v"); rec.append(time.perf_counter() - t)
        t = time.perf_counter(); log.turns("key:x", f"c{i % 50}"); rd.append(time.perf_counter() - t)
    q = lambda xs: (statistics.median(xs) * 1000, sorted(xs)[int(len(xs) * .95)] * 1000)
    print(f"{label}: record p50 {q(rec)[0]:.2f} ms p95 {q(rec)[1]:.2f} ms; turns (<=6 turns) p50 {q(rd)[0]:.2f} ms p95 {q(rd)[1]:.2f} ms (n={n})")

d = Path(tempfile.mkdtemp())
bench(AnswerLog(d / "a.sqlite3", retention_days=30), "sqlite")
srv = start_chroma(d / "chroma")
try:
    bench(SharedAnswerLog(Settings(data_dir=d / "x", chroma_url=srv.url, chroma_collection="bench"), retention_days=30), "chroma server", n=150)
finally:
    stop_chroma(srv)
