"""The settings classes, one per concern, and :class:`Settings`, which is all of them.

Each part is a pydantic-settings class of its own (``RetrievalSettings()`` reads just the
retrieval variables), and :class:`Settings` combines their fields under the same flat
``SANAD_<NAME>`` variables, so ``settings.top_k`` works wherever a part or the whole is
passed. Code that needs one concern takes that part's type.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from settings.environment import default_cache_dir, default_models_dir

#: the name that means "the verified EmbeddingGemma folder assembled by index.model_fetch"
DEFAULT_EMBED_MODEL = "embeddinggemma-300m"
#: the largest document read (``SANAD_MAX_FILE_BYTES``, and the reader's own default)
MAX_FILE_BYTES = 10_000_000
#: the bounds of ``top_k`` (``SANAD_TOP_K``, the API's ``top_k`` and ``sanad ask --top-k``)
TOP_K_MIN, TOP_K_MAX = 1, 50
#: where ``sanad serve`` (and ``make run``) listens unless ``--host`` / ``--port`` say otherwise
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8000
#: the Ollama server used when ``SANAD_LLM_PROVIDER=ollama`` and ``SANAD_LLM_BASE_URL`` is unset
DEFAULT_OLLAMA_URL = "http://localhost:11434"
#: the folder under the data dir that holds documents uploaded through the API
UPLOADS_FOLDER = "uploads"
#: the answer log's file under the data dir
ANSWER_LOG_FILE = "answers.sqlite3"
#: the shared evaluation data read when ``SANAD_EVALDATA_DIR`` is unset: ``../shared/evaldata``
#: beside the repository (a development checkout's layout)
SHARED_EVALDATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "evaldata"

ENV_PREFIX = "SANAD_"
_CONFIG = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")


def env_name(field: str) -> str:
    """The environment variable of the settings field ``field`` (``top_k`` -> ``SANAD_TOP_K``)."""
    return ENV_PREFIX + field.upper()



def _split(value: object, *, strip: bool) -> object:
    if isinstance(value, str):
        return [p.strip() if strip else p for p in value.split(",") if p.strip()]
    return value


class StoreSettings(BaseSettings):
    """State, corpus, the embedding model and the vector store."""

    model_config = _CONFIG

    data_dir: Path = Field(Path(".sanad"), description=(
            "index state: `catalog.sqlite3`, `chroma/`, `lexical/`, `index.lock`; also the "
            "`uploads/` folder and the answer log (`answers.sqlite3`)"))
    corpus_paths: Annotated[list[Path], NoDecode] = Field(
        default_factory=lambda: [Path("seeds")],
        description="comma-separated folders or files `sanad index` reads when given none",
    )
    watch_dirs: Annotated[list[Path], NoDecode] = Field(
        default_factory=list, description=(
            "comma-separated folders `sanad serve` keeps the index in sync with, in the background: "
            "new, changed, renamed and deleted files are indexed or removed within seconds (with the "
            "uploads, they are the corpus, as for `sanad index`; see Folder sync)"))
    watch_settle_s: float = Field(1.0, gt=0, le=60, description=(
        "folder sync: a changed file is read once its size and modification time have stayed the "
        "same this long (a file still being written waits)"))
    watch_reconcile_s: float = Field(300.0, ge=0, description=(
        "folder sync: the watched folders are compared in full with the index's hashes at start-up "
        "and this often (seconds; 0 = at start-up only), so a missed event is caught"))
    watch_max_removed_share: float = Field(0.5, gt=0, le=1, description=(
        "folder sync: when more than this share of the indexed documents vanish at once (a deleted "
        "folder, a lost mount), nothing is removed: sync pauses, logs a warning and `/readyz` says "
        "so, until the files are back or `sanad index` removes them"))
    max_file_bytes: int = Field(MAX_FILE_BYTES, gt=0, description="larger files are skipped with a message")
    max_pages: int = Field(2000, gt=0, description="PDFs with more pages are skipped with a message")
    extract_time_limit_s: float = Field(
        120.0, gt=0, description=(
            "a PDF whose text takes longer to extract is skipped with a message (checked between "
            "pages)"),
    )
    max_unpacked_bytes: int = Field(
        200_000_000, gt=0, description=(
            "`.docx` files that would unpack to more (and members packed over 200-fold and over "
            "10 MB: zip bombs) are skipped with a message"),
    )
    ocr: bool = Field(True, description=(
        "read pages without a usable text layer (scans) and image files (`.png .jpg .tiff`) with "
        "Tesseract (apt `tesseract-ocr tesseract-ocr-ara tesseract-ocr-eng`; `make test` installs "
        "them); off: such pages are reported and image files refused"))
    ocr_languages: str = Field("ara+eng", description=(
        "Tesseract's language models, `+`-separated (`tesseract --list-langs` shows those installed)"))
    ocr_dpi: int = Field(300, ge=72, le=600, description=(
        "the resolution a PDF page is rendered at for OCR (300: Arabic needs it; 200 reads Latin "
        "text well and takes about half the time)"))
    ocr_page_time_limit_s: float = Field(60.0, gt=0, description=(
        "a page whose OCR takes longer is stopped and reported; the rest of the file is read"))
    ocr_max_pages: int = Field(200, gt=0, description=(
        "pages read by OCR per file at most (in page order); the rest are reported, so one long "
        "scan cannot hold up the indexing worker for hours"))
    ocr_min_confidence: float = Field(0.6, ge=0, le=1, description=(
        "a page whose words Tesseract reads with less mean confidence (0 to 1) is reported as "
        "unreadable instead of indexed, and so is a paragraph read with less (clean 200-300 dpi "
        "scans read at 0.85-0.95; a 50 dpi one at about 0.55)"))
    embed_model: str = Field(
        DEFAULT_EMBED_MODEL,
        description=(
            "`embeddinggemma-300m`: the verified default (assembled from pinned PyPI wheels: see "
            "the embedding model page); or a sentence-transformers folder; or a hub name already "
            "in the local HF cache; `hash` = a deterministic no-semantics embedder for smoke "
            "tests"),
    )
    models_dir: Path = Field(
        default_factory=default_models_dir, json_schema_extra={"shown_default": "~/.cache/sanad/models"},
        description=(
            "where the default model is assembled and verified (`$XDG_CACHE_HOME/sanad/models` "
            "when `XDG_CACHE_HOME` is set)"))
    embed_batch_size: int = Field(16, gt=0, description="passages per model batch when indexing")
    index_group_size: int = Field(
        128, gt=0, description=(
            "indexing: the new chunks of consecutive files (and their sentences) encoded in one "
            "model call, sorted by length there so small files share batches; each file is still "
            "stored and committed on its own (see Indexing throughput in the benchmarks)"),
    )
    embed_title: Literal["off", "document", "file_name"] = Field(
        "document", description=(
            "the title in the model's document prompt (`title: {title} | text: ...`): `off` "
            "(always `title: none`), `document` (the title a document states, when it reads as a "
            "title: each format's reader says where it is, e.g. the first Markdown heading, HTML "
            "`<title>`, the PDF/DOCX metadata title; `index/titles.py`), `file_name` (that, else "
            "the file name when it reads as a title: `Albert_Einstein.txt` yes, `scan0003.pdf` "
            "no). Unchanged files are not embedded again, so after changing it build a fresh "
            "index (another `SANAD_DATA_DIR`)"),
    )
    sentence_vectors: Literal["separate", "late"] = Field(
        "separate", description=(
            "how the sentence vectors stored with each multi-sentence chunk (sentence rescoring, "
            "quotes) are made: `separate` (each sentence encoded on its own: about twice the "
            "encoding of the chunks alone on long paragraphs) or `late` (mean-pooled from the "
            'chunk\'s own forward pass, "late chunking": each text encoded once, but the quotes '
            "chosen are worse: see Indexing throughput in the benchmarks). Files already indexed "
            "keep their vectors: build a fresh index after changing it"),
    )
    torch_threads: int = Field(1, ge=1, description=(
            "intra-op threads for encoding (one thread: 45-52 ms/query vs ~550 ms with two on a "
            "busy 2-core box)"))
    pin_workers: bool = Field(
        True, description=(
            "with `sanad serve --workers N`, each worker keeps to `SANAD_TORCH_THREADS` cores of "
            "its own when N × threads fit the cores the server may use and no cgroup CPU quota (a"
            " container's CPU limit) says those cores are shared (`api/serving/worker_affinity.py`; 8-11 "
            "% more requests/s measured on 2 cores, see Throughput); `false` leaves placement to "
            "the OS, e.g. when other busy processes share the cores"),
    )
    device: Literal["cpu", "cuda", "mps"] = Field(
        "cpu", description=(
            "where the embedding model runs: `cpu`, or `cuda` / `mps` in bfloat16 (EmbeddingGemma"
            " overflows float16), e.g. a GPU machine running `sanad index` against the same "
            "Chroma server while CPU replicas serve; asking for a device this machine lacks stops"
            " with a one-line error"),
    )
    query_batch_max: int = Field(
        32, ge=1, description=(
            "questions that arrive together are encoded in one model call, at most this many (see"
            " Throughput); 1 = one at a time; batch sizes in `sanad_query_batch_size`"),
    )
    query_batch_window_ms: float = Field(
        40.0, ge=0, le=1000, description=(
            "under load (a question queued behind a batch, or one that finds the encoder idle "
            "within this long, or within what the last batch took, after a batch of several), how"
            " long a batch waits for as many questions as the batch before it held plus those "
            "queued behind it; a lone question never waits; 0 = never wait (see Throughput)"),
    )
    query_lanes: int = Field(
        0, ge=0, description=(
            "how many question batches may be encoded at once, each in its own thread on its own "
            "core (questions that queue behind a batch start the next one on an idle core); 0 = "
            "as many as the cores this process may run on (one with `sanad serve --workers N` "
            "pinned to a core each)"),
    )
    chroma_url: str | None = Field(None, description="`http://host:port` of a Chroma server instead of the embedded store (server mode)")
    chroma_collection: str = Field("sanad", description=(
            "the Chroma collection of the chunk vectors; in server mode the catalog and the "
            "answer log are the collections of that name plus a suffix"))
    chroma_auth_token: str | None = Field(
        None, repr=False, description=(
            "bearer token for a Chroma server that needs one (sent as `Authorization: Bearer "
            "...`)")
    )

    @field_validator("corpus_paths", "watch_dirs", mode="before")
    @classmethod
    def _split_paths(cls, value: object) -> object:
        return _split(value, strip=False)

    @property
    def catalog_path(self) -> Path:
        return self.data_dir / "catalog.sqlite3"

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def lexical_path(self) -> Path:
        return self.data_dir / "lexical"

    @property
    def lock_path(self) -> Path:
        return self.data_dir / "index.lock"

    @property
    def uploads_dir(self) -> Path:
        """Documents uploaded through the API (``sanad index`` reads them too)."""
        return self.data_dir / UPLOADS_FOLDER

    @property
    def answer_log_path(self) -> Path:
        """The answer log (:class:`AnswerLogSettings` says whether it is kept)."""
        return self.data_dir / ANSWER_LOG_FILE


class RetrievalSettings(BaseSettings):
    """Hybrid retrieval: candidates, fusion weights, rescoring."""

    model_config = _CONFIG

    top_k: int = Field(5, ge=TOP_K_MIN, le=TOP_K_MAX, description=(
            "chunks retrieved per question (1 to 50; the API's `top_k` and `sanad ask --top-k` "
            "set it per question)"))
    candidates: int = Field(30, ge=1, le=500, description="candidates each retriever (dense, BM25) returns before fusion")
    lexical_weight_ar: float = Field(0.15, ge=0, description="BM25 bonus weight (of the relative BM25 score) for Arabic questions")
    lexical_weight_en: float = Field(0.05, ge=0, description="BM25 bonus weight (of the relative BM25 score) for English questions")
    sentence_weight: float = Field(
        0.5, ge=0, le=1, description=(
            "leading candidates are rescored as `(1-a)·cos(chunk) + a·max cos(sentence)` "
            "(sentence vectors are stored at index time); 0 = off"),
    )
    question_cleanup: bool = Field(
        False, description=(
            "search with the question tidied as people type it (list dashes, run-together "
            "ماهو/ماهي) and without question words on the BM25 side (`qa/question_text.py`); "
            "measured neutral on ARCD-train and TyDi, so off"),
    )
    source_weight: float = Field(
        0.05, ge=0, description=(
            'a question that names its source ("بحسب تقرير إيلاف", "according to North Pulse") '
            "gives this bonus to the chunks of the documents whose first 400 characters name it "
            "(`qa/sources.py`); 0 = off"),
    )
    postprocessors: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["source_bonus", "sentence_rescore"],
        description="the retrieval stages after fusion, in order (comma-separated): `source_bonus`, "
        "`sentence_rescore`, and `learned_ranker` (off by default: it wins on the native and XQuAD dev sets "
        "but loses on the seeds; docs/evals.md); leave one out to turn it off",
    )
    ranker_path: Path | None = Field(
        None, description="a folder with a learned ranker model (`ranker.txt` and `manifest.json`, made by "
        "`python -m evals.train_ranker`); default: the model shipped with Sanad. A missing, corrupt or "
        "mismatched model is not used: the fixed rules rank, with a warning in the log and in /readyz",
    )

    @field_validator("postprocessors", mode="before")
    @classmethod
    def _split_postprocessors(cls, value: object) -> object:
        return _split(value, strip=True)


class AnswerSettings(BaseSettings):
    """What is cited and when Sanad abstains (both answerers)."""

    model_config = _CONFIG

    min_similarity: float = Field(
        0.46, description=(
            "abstain when the best paragraph's cosine similarity is below this, unless one of the"
            " two rules below answers")
    )
    answer_margin: float = Field(
        0.15, ge=0, description=(
            "...unless the best paragraph is a clear winner: its cosine beats the mean of the "
            "next five by this margin and reaches `SANAD_MARGIN_FLOOR` (0 = off)"),
    )
    margin_floor: float = Field(0.30, description="...the cosine similarity a clear winner must still reach")
    support_floor: float = Field(
        0.33, ge=0, description=(
            "...or unless the best paragraph's quote reaches this and the paragraph holds "
            "`SANAD_SUPPORT_COVERAGE` of the question's IDF-weighted terms (question words left "
            "out); it is then cited alone (0 = off)"),
    )
    support_coverage: float = Field(0.4, ge=0, le=1, description="...the share of the question's IDF-weighted terms that paragraph must hold")
    max_citations: int = Field(3, ge=1, le=10, description="paragraphs cited per answer, at most")
    citation_margin: float = Field(
        0.10, ge=0, description=(
            "unless the best paragraph is a clear winner, also cite the next ones whose fused "
            "score and quote score are within this of the best; the LLM writer is given the "
            "paragraphs within this of the best"),
    )
    answer_type_check: bool = Field(
        True, description=(
            'abstain when an Arabic count question ("كم عدد X") is quoted only with text that '
            "names X without a number within five words (`qa/answer_type.py`)"),
    )
    sentence_gap: float = Field(
        0.05, ge=0, description=(
            "a long paragraph's quote stretches from its best sentence to the runner-up when that"
            " scores within this (at most 3 sentences; 0 = one sentence)"),
    )
    max_question_chars: int = Field(1000, ge=10, description="longer questions are refused (`422 question_too_long`)")
    answer_cache_size: int = Field(
        1000, ge=0, description=(
            "extractive answers kept for repeated questions (same standalone question, language, "
            "`top_k`): a repeat is answered without encoding; cleared whenever the index changes "
            "(a commit, a server-mode sync, a rebuilt BM25 index); hits and misses in "
            "`sanad_answer_cache_total`; 0 = off"),
    )
    answerer: Literal["extractive", "llm"] = Field(
        "extractive", description=(
            "`extractive` (embedded, no LLM) or `llm` (an OpenAI-compatible or Ollama endpoint "
            "writes the answer: see Generative answers)")
    )


class LLMSettings(BaseSettings):
    """The optional LLM writer (``SANAD_ANSWERER=llm``)."""

    model_config = _CONFIG

    llm_base_url: str | None = Field(
        None, description=(
            f"e.g. `http://127.0.0.1:8080/v1` (OpenAI-compatible) or `http://127.0.0.1:11434` "
            f"(Ollama); unset with `ollama` = Ollama's default, `{DEFAULT_OLLAMA_URL}`; unset with"
            f" `openai` = OpenAI's own API (then `SANAD_LLM_API_KEY` is needed)")
    )
    llm_model: str | None = Field(None, description="the model name the endpoint serves (required)")
    llm_api_key: str | None = Field(None, repr=False, description="sent as the bearer key, if the endpoint needs one")
    llm_provider: Literal["openai", "ollama"] = Field(
        "openai", description=(
            "`openai`: any OpenAI-compatible server (vLLM, llama.cpp's server, a hosted API), "
            "through llama-index's `OpenAILike`; `ollama`: an Ollama server, through "
            "llama-index's `Ollama`")
    )
    llm_timeout_s: float = Field(60.0, gt=0, description=(
            "the whole answer must arrive within this (checked between tokens; a connection that "
            "says nothing is dropped after it too), else the extractive answer is given"))
    llm_max_evidence_chars: int = Field(
        6000, gt=0, description=(
            "evidence text given to the LLM, trimmed to this; `300` (about one paragraph) for the"
            " local 1.5B model")
    )

    @property
    def ollama_url(self) -> str:
        """The Ollama server (``SANAD_LLM_PROVIDER=ollama``): the base URL, else Ollama's default."""
        return self.llm_base_url or DEFAULT_OLLAMA_URL


class HTTPSettings(BaseSettings):
    """The HTTP API: keys, limits, CORS."""

    model_config = _CONFIG

    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list, repr=False,
        description=(
            "comma-separated admin keys (every collection); when these or scoped keys (`sanad keys`) "
            "are set, every `/v1` route needs `Authorization: Bearer KEY` (`401` otherwise) and "
            "`/metrics` an admin or metrics key; `/healthz` and `/readyz` stay open"),
    )
    api_key_file: Path | None = Field(
        None, description=(
            "the scoped keys' file (`sanad keys create|list|revoke`; SHA-256 hashes only, re-read "
            "when it changes); unset: `keys.json` in the data dir"),
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description=(
            "comma-separated origins allowed to call the API from a browser (`*` for any); no "
            "CORS headers when unset")
    )
    rate_limit_per_minute: int = Field(
        120, ge=0, description=(
            "requests per key (per client IP without keys) over a sliding minute on `/v1` routes;"
            " `429` with `Retry-After`; `0` = off. Behind a proxy all clients share its IP: set "
            "keys or limit at the proxy")
    )
    auth_failures_per_minute: int = Field(
        10, ge=0, description=(
            "with keys set: requests with a missing or wrong key allowed per client IP over a "
            "sliding minute; past it every `/v1` request from that IP (right key or not) gets "
            "`429` with `Retry-After` until the oldest failure is a minute old; `0` = off")
    )
    max_body_bytes: int = Field(2_000_000, gt=0, description=(
            "larger request bodies get `413` (before they are read, when `Content-Length` says "
            "so)"))
    max_upload_bytes: int = Field(10_000_000, gt=0, description=(
            "largest uploaded document, `POST /v1/documents` (`413`); the upload route's body "
            "limit is this plus `SANAD_MAX_BODY_BYTES`"))
    max_json_depth: int = Field(
        64, ge=1, le=500, description="JSON bodies (the API's, uploads', chat's, Slack's and its form `payload`) "
        "nested deeper than this get `400 invalid_json`, before anything parses them",
    )
    upload_embedder: Literal["separate", "shared"] = Field(
        "separate", description=(
            "`separate`: uploads are embedded by a second copy of the model (about 1.4 GB more "
            "memory), so questions are answered meanwhile; `shared`: one model, and questions "
            "wait while an upload is embedded"),
    )
    max_pending_questions: int = Field(
        64, ge=0, description=(
            "questions answered or waiting at once; past it `/v1/ask` and `/v1/chat/completions` "
            "answer `503 overloaded` with `Retry-After` at once instead of letting every client "
            "time out; 0 = no bound"),
    )
    max_conversations: int = Field(1000, ge=1, description=(
            "conversations kept in memory when the answer log is off (least recently used "
            "dropped)"))
    max_conversation_turns: int = Field(20, ge=1, description="turns kept (read back from the log) per conversation")

    @field_validator("api_keys", "cors_origins", mode="before")
    @classmethod
    def _split_words(cls, value: object) -> object:
        return _split(value, strip=True)


class SlackSettings(BaseSettings):
    """The Slack bot (routes are off unless the bot token and signing secret are set)."""

    model_config = _CONFIG

    slack_bot_token: str | None = Field(None, repr=False, description=(
            "`xoxb-...` bot token; the Slack routes are off unless it and the signing secret are "
            "set"))
    slack_signing_secret: str | None = Field(None, repr=False, description="signing secret of the Slack app (HTTP mode)")
    slack_app_token: str | None = Field(None, repr=False, description="`xapp-...` app-level token (Socket Mode)")
    slack_command: str = Field("/ask", description="the slash command answered; change the manifest to match")
    public_url: str = Field(
        f"http://{DEFAULT_HOST}:{DEFAULT_PORT}", description=(
            'base of the citation links and of the "Open in Sanad" link (`/?q=...`) in Slack '
            "messages")
    )
    slack_api_url: str = Field(
        "https://slack.com/api/",
        description=(
            "the Slack Web API base for every call the bot makes (`auth.test`, "
            "`chat.postMessage`, `apps.connections.open`, ...); GovSlack: "
            "`https://slack-gov.com/api/`; `HTTPS_PROXY` is honoured"),
    )
    slack_thread_replies: bool = Field(
        False, description=(
            "`true`: a reply in a channel thread Sanad answered is a follow-up without a new "
            "mention (needs `message.channels` + `channels:history`)"),
    )
    slack_channels: str = Field(
        "", description=(
            "which collections each Slack channel asks: `C0123=legal,hr;C0456=support` (channel "
            "ids); once this or `SANAD_SLACK_CHANNELS_FILE` is set, a channel with no mapping is "
            "answered with a notice instead; unset: every channel asks the default collection"))
    slack_channels_file: Path | None = Field(
        None, description=(
            'the same mapping as a JSON file, `{"C0123": ["legal", "hr"]}`, read again when it changes'))
    slack_dm_collections: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["default"], description="the collections a direct message to the bot asks")
    slack_ask_visibility: Literal["ephemeral", "in_channel"] = Field(
        "ephemeral", description=(
            "`ephemeral`: `/ask` answers privately with a *Share with channel* button; "
            "`in_channel`: posted for everyone at once"),
    )

    @field_validator("slack_dm_collections", mode="before")
    @classmethod
    def _split_dm(cls, value: object) -> object:
        return _split(value, strip=True)


class AnswerLogSettings(BaseSettings):
    """The answer log: every answer, its conversation and its feedback, kept in SQLite."""

    model_config = _CONFIG

    answer_log: Literal["on", "off"] = Field(
        "on", description=(
            "`on`: keep every answer, its conversation and its feedback in `<data "
            "dir>/answers.sqlite3` (in server mode: on the Chroma server); `off`: keep nothing "
            "(answers still get an id)"),
    )
    log_retention_days: int = Field(
        90, ge=0, description="answers (and their feedback) older than this are deleted; `0` = the log is off",
    )

    @property
    def answer_log_enabled(self) -> bool:
        return self.answer_log == "on" and self.log_retention_days > 0


def _unset_if_empty(value: object) -> object:
    return None if value == "" else value


class EvalSettings(BaseSettings):
    """Where ``sanad eval`` finds its data."""

    model_config = _CONFIG

    evaldata_dir: Path | None = Field(
        None, description="the folder of the shared eval sets (`xquad/`, `arcd-train/`, `tydiqa-ar/`); unset: "
        "`../shared/evaldata` beside the repository",
    )
    eval_corpus: Path | None = Field(
        None, description="the corpus folder of a gold JSONL (`sanad eval --set PATH`), before the items' "
        "`corpus` field and a folder named like the file",
    )
    eval_cache_dir: Path = Field(
        default_factory=lambda: default_cache_dir() / "evaldata",
        description="where eval data derived from the shared sets is written once (XQuAD's English paragraphs "
        "as articles, for `--set xquad-en`)",
    )

    @field_validator("evaldata_dir", "eval_corpus", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return _unset_if_empty(value)


class HarnessSettings(BaseSettings):
    """The test suite's own knobs: not part of ``Settings``, not for deployments."""

    model_config = _CONFIG

    test_crash_at: str | None = Field(
        None, description="`point[:n]`: the indexer SIGKILLs itself the n-th time it passes `point` "
        "(index.indexer.CRASH_POINTS; tests/test_crash_safety.py)",
    )
    test_chromium: Path = Field(Path("/usr/bin/chromium"), description="the browser tests' Chromium")
    schemathesis_examples: int = Field(30, ge=1, description="examples per operation, stateless API fuzzing")
    schemathesis_stateful_examples: int = Field(15, ge=1, description="examples of the stateful API fuzzing")
    hostile_examples: int = Field(60, ge=1, description="examples per property of the hostile-input tests")
    crash_rounds: int = Field(20, ge=1, description="random-point kills of tests/test_upload_crash.py")

    @field_validator("test_crash_at", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return _unset_if_empty(value)


#: the parts of :class:`Settings`, in the order the docs list them
SETTINGS_PARTS: tuple[type[BaseSettings], ...] = (
    StoreSettings, RetrievalSettings, AnswerSettings, LLMSettings, HTTPSettings, SlackSettings, AnswerLogSettings,
    EvalSettings,
)


class Settings(*SETTINGS_PARTS):  # type: ignore[misc] - the parts, side by side
    """All of Sanad's settings (env prefix ``SANAD_``): the parts above, side by side."""

    model_config = _CONFIG
