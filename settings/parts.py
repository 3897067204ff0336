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

from settings.environment import default_models_dir

#: the name that means "the verified EmbeddingGemma folder assembled by index.model_fetch"
DEFAULT_EMBED_MODEL = "embeddinggemma-300m"

_CONFIG = SettingsConfigDict(env_prefix="SANAD_", extra="ignore")


def _split(value: object, *, strip: bool) -> object:
    if isinstance(value, str):
        return [p.strip() if strip else p for p in value.split(",") if p.strip()]
    return value


class StoreSettings(BaseSettings):
    """State, corpus, the embedding model and the vector store."""

    model_config = _CONFIG

    data_dir: Path = Field(Path(".sanad"), description="where the index and its catalog live")
    corpus_paths: Annotated[list[Path], NoDecode] = Field(
        default_factory=lambda: [Path("seeds")],
        description="folders or files `sanad index` reads when given no path",
    )
    max_file_bytes: int = Field(10_000_000, gt=0, description="larger files are skipped with a message")
    max_pages: int = Field(2000, gt=0, description="PDFs with more pages are skipped with a message")
    extract_time_limit_s: float = Field(
        120.0, gt=0, description="a PDF whose text takes longer to extract is skipped with a message (checked per page)",
    )
    max_unpacked_bytes: int = Field(
        200_000_000, gt=0, description=".docx files that would unpack to more bytes (zip bombs) are skipped with a message",
    )
    embed_model: str = Field(
        DEFAULT_EMBED_MODEL,
        description="`embeddinggemma-300m` (verified PyPI transport), a sentence-transformers "
        "folder path or hub name (needs the model in the local HF cache), or `hash` "
        "(deterministic, no semantics: smoke tests only)",
    )
    models_dir: Path = Field(default_factory=default_models_dir)
    embed_batch_size: int = Field(16, gt=0)
    index_group_size: int = Field(
        128, gt=0, description="indexing: new chunks of consecutive files encoded in one model call (sorted by "
        "length there, so small files share batches); files are still written and committed one by one",
    )
    embed_title: Literal["off", "document", "file_name"] = Field(
        "document", description="the title in the model's document prompt: `off` (`title: none`), `document` "
        "(the title a document states: Markdown heading, HTML <title>, PDF/DOCX metadata) or `file_name` "
        "(that, else a file name that reads as a title); files already indexed keep their vectors: build a "
        "fresh index after changing it",
    )
    sentence_vectors: Literal["separate", "late"] = Field(
        "separate", description="how the sentence vectors stored with each chunk are made: `separate` (each "
        "sentence encoded on its own) or `late` (pooled from the chunk's own forward pass: indexing encodes "
        "each text once); files already indexed keep their vectors: build a fresh index after changing it",
    )
    torch_threads: int = Field(1, ge=1, description="intra-op threads for encoding (1 is fastest here)")
    pin_workers: bool = Field(
        True, description="with `sanad serve --workers N`, keep each worker to SANAD_TORCH_THREADS cores of its own "
        "when N x threads fit the cores (8-11 % more requests/s measured on 2 cores); false leaves placement to "
        "the OS",
    )
    device: Literal["cpu", "cuda", "mps"] = Field(
        "cpu", description="where the embedding model runs: `cpu`, or `cuda` / `mps` (half precision; an "
        "error at start-up when that device is absent), e.g. for a GPU worker running `sanad index`",
    )
    query_batch_max: int = Field(
        32, ge=1, description="at most this many questions that arrive together are encoded in one batch "
        "(1 = one at a time)",
    )
    query_batch_window_ms: float = Field(
        40.0, ge=0, le=1000, description="under load (right after a batch of several questions), how long the "
        "next batch waits for as many questions as that one held plus those queued behind it before it is "
        "encoded (a lone question never waits); 0 = not at all",
    )
    chroma_url: str | None = Field(None, description="http://host:port of a Chroma server; embedded if unset")
    chroma_collection: str = "sanad"
    chroma_auth_token: str | None = Field(
        None, repr=False, description="token sent to the Chroma server (Authorization: Bearer), if it needs one"
    )

    @field_validator("corpus_paths", mode="before")
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


class RetrievalSettings(BaseSettings):
    """Hybrid retrieval: candidates, fusion weights, rescoring."""

    model_config = _CONFIG

    top_k: int = Field(5, ge=1, le=50, description="citations considered per answer")
    candidates: int = Field(30, ge=1, le=500, description="candidates each retriever returns before fusion")
    lexical_weight_ar: float = Field(0.15, ge=0, description="weight of the relative BM25 score for Arabic questions")
    lexical_weight_en: float = Field(0.05, ge=0, description="weight of the relative BM25 score for English questions")
    sentence_weight: float = Field(
        0.5, ge=0, le=1, description="weight of a chunk's best sentence against the whole chunk when "
        "the leading candidates are rescored (0 = chunk vectors only)",
    )
    question_cleanup: bool = Field(
        False, description="search with the question tidied as people type it (list dashes, run-together "
        "question words such as ماهو) and without question words on the BM25 side (qa.question_text)",
    )
    source_weight: float = Field(
        0.05, ge=0, description="bonus for the chunks of the documents whose header names the source a "
        "question cites (\"according to Elaph\"); 0 = off",
    )


class AnswerSettings(BaseSettings):
    """What is cited and when Sanad abstains (both answerers)."""

    model_config = _CONFIG

    min_similarity: float = Field(
        0.46, description="abstain when the best paragraph's cosine similarity is below this"
    )
    answer_margin: float = Field(
        0.15, ge=0, description="answer below min_similarity when the best paragraph's cosine beats the "
        "mean of the next five by this much (0 = off)",
    )
    margin_floor: float = Field(0.30, description="...but never below this cosine similarity")
    support_floor: float = Field(
        0.33, ge=0, description="answer below min_similarity when the best quote reaches this and the best "
        "paragraph holds support_coverage of the question's terms (IDF-weighted); 0 = off",
    )
    support_coverage: float = Field(0.4, ge=0, le=1, description="...the share of the question's IDF weight needed")
    max_citations: int = Field(3, ge=1, le=10, description="at most this many paragraphs cited per answer")
    citation_margin: float = Field(
        0.10, ge=0, description="unless the best paragraph is a clear winner (answer_margin), also cite "
        "paragraphs whose fused score, and quote score, are within this of the best; the LLM is given "
        "the paragraphs within this of the best as its evidence",
    )
    answer_type_check: bool = Field(
        True, description="abstain when an Arabic count question (كم عدد X) is quoted only with text "
        "that names X without a number near it",
    )
    sentence_gap: float = Field(
        0.05, ge=0, description="a quote stretches from the best sentence of a long paragraph to the "
        "runner-up when that scores within this of it (0 = one sentence)",
    )
    max_question_chars: int = Field(1000, ge=10)
    answer_cache_size: int = Field(
        1000, ge=0, description="extractive answers kept for repeated questions (cleared whenever the index "
        "changes); 0 = off",
    )
    answerer: Literal["extractive", "llm"] = Field(
        "extractive", description="`extractive` (embedded, no LLM) or `llm` (OpenAI-compatible or Ollama endpoint)"
    )


class LLMSettings(BaseSettings):
    """The optional LLM writer (``SANAD_ANSWERER=llm``)."""

    model_config = _CONFIG

    llm_base_url: str | None = Field(
        None, description="OpenAI-compatible base URL (e.g. http://127.0.0.1:8080/v1) or an Ollama URL"
    )
    llm_model: str | None = Field(None, description="model name the LLM endpoint serves")
    llm_api_key: str | None = Field(None, repr=False, description="API key for the LLM endpoint, if it needs one")
    llm_provider: Literal["openai", "ollama"] = Field(
        "openai", description="`openai` (any OpenAI-compatible server: vLLM, llama.cpp, hosted) or `ollama`"
    )
    llm_timeout_s: float = Field(60.0, gt=0, description="give up on the LLM after this long and answer extractively")
    llm_max_evidence_chars: int = Field(
        6000, gt=0, description="evidence text given to the LLM is trimmed to this many characters"
    )


class HTTPSettings(BaseSettings):
    """The HTTP API: keys, limits, CORS."""

    model_config = _CONFIG

    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list, repr=False,
        description="comma-separated bearer keys; when set, every /v1 route needs "
        "`Authorization: Bearer KEY` (/healthz, /readyz, /metrics stay open)",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="comma-separated origins allowed by CORS (`*` = any); none if unset"
    )
    rate_limit_per_minute: int = Field(
        120, ge=0, description="requests per minute per API key (or client IP) on /v1 routes; 0 = off"
    )
    auth_failures_per_minute: int = Field(
        10, ge=0, description="requests with a missing or wrong API key allowed per client IP per minute; "
        "past it every /v1 request from that IP gets 429 until the minute has passed; 0 = off"
    )
    max_body_bytes: int = Field(2_000_000, gt=0, description="larger request bodies get 413 (uploads excepted)")
    max_upload_bytes: int = Field(10_000_000, gt=0, description="largest document POST /v1/documents accepts")
    max_json_depth: int = Field(
        64, ge=1, le=500, description="JSON bodies (the API's, uploads', chat's, Slack's and its form `payload`) "
        "nested deeper than this get 400 `invalid_json`, before anything parses them",
    )
    upload_embedder: Literal["separate", "shared"] = Field(
        "separate", description="`separate`: uploads are embedded by a second copy of the model (about 1.4 GB "
        "more memory), so questions are answered while a document is indexed; `shared`: one model, and "
        "questions wait while an upload is embedded",
    )
    max_pending_questions: int = Field(
        64, ge=0, description="questions being answered or waiting at once; past it /v1/ask and the chat "
        "endpoint answer 503 `overloaded` with Retry-After at once instead of queueing; 0 = no bound",
    )
    max_conversations: int = Field(1000, ge=1, description="conversations kept in memory when the answer log is "
                                   "off (least recent dropped)")
    max_conversation_turns: int = Field(20, ge=1, description="turns kept per conversation")

    @field_validator("api_keys", "cors_origins", mode="before")
    @classmethod
    def _split_words(cls, value: object) -> object:
        return _split(value, strip=True)


class SlackSettings(BaseSettings):
    """The Slack bot (routes are off unless the bot token and signing secret are set)."""

    model_config = _CONFIG

    slack_bot_token: str | None = Field(None, repr=False, description="xoxb-... bot token")
    slack_signing_secret: str | None = Field(None, repr=False, description="signing secret of the Slack app")
    slack_app_token: str | None = Field(None, repr=False, description="xapp-... app-level token (Socket Mode)")
    slack_command: str = Field("/ask", description="slash command the bot answers")
    public_url: str = Field(
        "http://127.0.0.1:8000", description="base URL citation links point at (Slack messages, etc.)"
    )
    slack_api_url: str = Field(
        "https://slack.com/api/",
        description="Slack Web API base the bot calls (GovSlack: https://slack-gov.com/api/); outbound "
        "calls honour HTTPS_PROXY",
    )
    slack_thread_replies: bool = Field(
        False, description="answer replies in channel threads Sanad answered without a new mention "
        "(needs the message.channels event and channels:history scope)",
    )
    slack_ask_visibility: Literal["ephemeral", "in_channel"] = Field(
        "ephemeral", description="who sees a slash-command answer first: only the asker (with a Share "
        "button) or the whole channel",
    )


class AnswerLogSettings(BaseSettings):
    """The answer log: every answer, its conversation and its feedback, kept in SQLite."""

    model_config = _CONFIG

    answer_log: Literal["on", "off"] = Field(
        "on", description="`on`: every answer is kept in `<data_dir>/answers.sqlite3` (answer ids, feedback, "
        "conversations that survive a restart); `off`: nothing is kept (answers still get an id)",
    )
    log_retention_days: int = Field(
        90, ge=0, description="answers (and their feedback) older than this many days are deleted; 0 = the log "
        "is off, as with SANAD_ANSWER_LOG=off",
    )

    @property
    def answer_log_enabled(self) -> bool:
        return self.answer_log == "on" and self.log_retention_days > 0


class Settings(StoreSettings, RetrievalSettings, AnswerSettings, LLMSettings, HTTPSettings, SlackSettings,
               AnswerLogSettings):
    """All of Sanad's settings (env prefix ``SANAD_``): the parts above, side by side."""

    model_config = _CONFIG
