"""The ``sanad`` command: index, ask, serve, slack, eval, feedback export.

Each command drives the layers below (``sanad ask`` the same ask flow as the API:
``api.service.asking``); any ``SanadError`` they raise is printed as one line, ``error:
<message>``, with exit status 1."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from settings import DEFAULT_HOST, DEFAULT_PORT, TOP_K_MAX, TOP_K_MIN, apply_runtime_defaults
from settings.errors import ConfigError, SanadError

if TYPE_CHECKING:
    from qa.models import Answer


class CliError(SanadError):
    """A command line that cannot be carried out (reported as one line on stderr, exit status 1)."""

    code = "invalid_usage"


def _settings():  # noqa: ANN202 - imported lazily so `sanad --help` is instant
    from pydantic import ValidationError

    from settings import Settings

    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigError(f"bad configuration: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}") from exc


def _progress_factory(console):  # noqa: ANN001, ANN202
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from index.indexer import ProgressSink

    class RichSink(ProgressSink):
        def __init__(self, total: int) -> None:
            self.progress = Progress(TextColumn("embedding"), BarColumn(), MofNCompleteColumn(),
                                     TimeRemainingColumn(), console=console, transient=False)
            self.task = self.progress.add_task("embed", total=total)
            self.progress.start()

        def advance(self, n: int) -> None:
            self.progress.advance(self.task, n)

        def close(self) -> None:
            self.progress.stop()

    return RichSink


def _collection_settings(settings, name: str | None):  # noqa: ANN001, ANN202
    """``settings`` of collection ``name`` (None: the default collection, as before collections)."""
    if name is None:
        return settings
    from index.collections import Collections

    return Collections(settings).settings_for(name)


def cmd_index(args: argparse.Namespace) -> int:
    from rich.console import Console

    from index.indexer import Indexer

    settings = _collection_settings(_settings(), args.collection)
    console = Console(stderr=True)
    paths = [Path(p) for p in args.paths] or settings.corpus_paths
    if settings.uploads_dir.is_dir():  # documents uploaded through the API are part of the corpus
        paths = [*paths, settings.uploads_dir]
    indexer = Indexer(settings)
    if args.watch:
        return _watch(args, settings, indexer, console)
    try:
        report = indexer.index(paths, prune=not args.no_prune,
                               progress=None if args.quiet else _progress_factory(console))
    finally:
        indexer.close()
    for file, message in sorted(report.errors.items()):
        console.print(f"[yellow]skipped[/] {file}: {message}", highlight=False)
    for file, message in sorted(report.warnings.items()):
        console.print(f"[yellow]warning[/] {file}: {message}", highlight=False)
    print(report.summary())
    return 0


def _watch(args: argparse.Namespace, settings, indexer, console) -> int:  # noqa: ANN001
    """``sanad index --watch``: index, then keep the folders in sync until Ctrl-C (``index.watch``)."""
    import logging

    from index.watch import FolderSync, IndexerTarget, WatchOptions

    roots = [Path(p) for p in args.paths] or settings.watch_dirs or settings.corpus_paths
    if args.no_prune:
        raise CliError("--watch keeps the index in line with the folders; it cannot be combined with --no-prune")
    for root in roots:
        if not root.is_dir():
            raise CliError(f"--watch needs folders; {root} is not one")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("sanad").setLevel(logging.WARNING if args.quiet else logging.INFO)
    sync = FolderSync(roots, IndexerTarget(indexer), options=WatchOptions.from_settings(settings),
                      also=[settings.uploads_dir], lock_path=settings.data_dir / "watch.lock")
    console.print(f"watching {', '.join(str(r) for r in roots)} (Ctrl-C stops)", highlight=False)
    try:
        sync.run()
    except KeyboardInterrupt:
        pass
    finally:
        indexer.close()
    stats = sync.stats
    print(f"{stats.files_indexed} files indexed, {stats.files_removed} removed, "
          f"{stats.chunks_embedded} chunks embedded")
    return 0


def print_answer(answer: Answer) -> None:
    print(answer.answer)
    if answer.citations:
        print()
    for c in answer.citations:
        lines = f"line {c.line_start}" if c.line_start == c.line_end else f"lines {c.line_start}-{c.line_end}"
        if c.page_start is not None:  # paged formats (.pdf, images): the page, as people find it in the file
            pages = f"{c.page_start}" if c.page_end in (None, c.page_start) else f"{c.page_start}-{c.page_end}"
            ocr = f" (OCR {100 * (c.ocr_confidence or 0):.0f}%)" if c.ocr else ""
            print(f"[{c.ref}] {c.file} p. {pages}{ocr} ¶{c.paragraph}: {c.quote}")
            continue
        print(f"[{c.ref}] {c.file} ¶{c.paragraph} ({lines}): {c.quote}")
    for claim in answer.unsupported_claims:
        print(f"unsupported (marker removed): {claim}", file=sys.stderr)
    for warning in answer.warnings:
        print(f"warning: {warning}", file=sys.stderr)


def cmd_ask(args: argparse.Namespace) -> int:
    """Through the API's ask flow (``AskService``: the same question check, language and error
    codes), with no conversation and no answer log (answers get an id only)."""
    from api.service.asking import AskService, LoadedAnswerer
    from api.service.collections import tag_answer
    from index.collections import DEFAULT_COLLECTION
    from api.service.metrics import Metrics
    from qa.answerer import QuestionError, build_answerer
    from qa.conversation import ConversationStore

    settings = _collection_settings(_settings(), args.collection)
    if args.file is None and not args.question:
        raise CliError("give a QUESTION or --file FILE")
    if args.answerer:
        settings = settings.model_copy(update={"answerer": args.answerer})
    answerer = build_answerer(settings)
    # each question stands alone (earlier_questions=[] below): the conversation store stays empty
    asking = AskService(LoadedAnswerer(answerer), conversations=ConversationStore(max_conversations=1, max_turns=1),
                        metrics=Metrics())

    def ask(question: str) -> Answer:
        answer = asking.start(question, owner="cli", earlier_questions=[], top_k=args.top_k).answer()
        return tag_answer(answer, args.collection or DEFAULT_COLLECTION)

    try:
        if args.file is None:
            answer = ask(args.question)  # a QuestionError is reported as any other error
            if args.json:
                print(answer.model_dump_json(indent=2))
            else:
                print_answer(answer)
            return 0
        source = sys.stdin if args.file == "-" else open(args.file, encoding="utf-8")  # noqa: SIM115
        with source:
            for line in source:
                question = line.strip()
                if not question:
                    continue
                try:
                    answer = ask(question)
                except QuestionError as exc:  # one line per question, with the API's error code
                    print(json.dumps({"question": question, "error": {"code": exc.code, "message": exc.message}},
                                     ensure_ascii=False), flush=True)
                    continue
                if args.json:
                    print(answer.model_dump_json(), flush=True)
                else:
                    print(f"\nQ: {question}")
                    print_answer(answer)
        return 0
    finally:
        answerer.close()


def cmd_serve(args: argparse.Namespace) -> int:
    from api.serving.server import serve

    settings = _settings()
    workers = args.workers
    if workers is None:
        from api.serving.workers import default_workers

        choice = default_workers(settings)
        workers = choice.workers
        print(f"sanad serve: {workers} worker(s) ({choice.reason}); --workers N overrides", file=sys.stderr)
    if workers < 1:
        raise CliError("--workers must be at least 1")
    return serve(host=args.host, port=args.port, settings=settings, workers=workers)


def cmd_mcp(args: argparse.Namespace) -> int:
    """The MCP server over stdin/stdout (``/mcp`` in ``sanad serve`` is the HTTP one)."""
    from api.http.app import API_VERSION
    from api.mcp.stdio import run_stdio

    return run_stdio(_settings(), version=API_VERSION)


def cmd_slack(args: argparse.Namespace) -> int:
    import logging

    from api.slack.socket import run_socket_mode

    if not args.socket:
        raise CliError("HTTP mode runs inside `sanad serve` (POST /slack/events); use `sanad slack --socket` "
                       "for Socket Mode")
    settings = _settings()
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return run_socket_mode(settings)


def cmd_eval(args: argparse.Namespace) -> int:
    from evals.runner import run_cli

    return run_cli(args, settings=_settings())


def cmd_collections(args: argparse.Namespace) -> int:
    from index.collections import Collections

    registry = Collections(_settings())
    registry.cleanup()
    if args.collections_command == "list":
        for name in registry.names():
            print(name)
    elif args.collections_command == "create":
        registry.create(args.name)
        print(f"created collection {args.name} (add documents: sanad index --collection {args.name} DIR)")
    else:
        if not args.yes:
            raise CliError(f"deleting {args.name} removes its documents, vectors and answer log: add --yes")
        registry.delete(args.name)
        print(f"deleted collection {args.name}")
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    from api.keys import KeyRing

    ring = KeyRing.for_settings(_settings())
    if args.keys_command == "create":
        token, record = ring.create(args.role, args.collections, label=args.label or "")
        print(f"key {record['id']}: role {record['role']}, collections {','.join(record['collections'])}")
        print("shown once: only its SHA-256 is stored (a running server accepts it at once):")
        print(token)
    elif args.keys_command == "list":
        for r in ring.records():
            print(f"{r.get('id')}\t{r.get('role')}\t{','.join(r.get('collections') or [])}\t{r.get('label', '')}")
    else:
        gone = ring.revoke(args.key_id)
        print(f"revoked key {gone['id']} ({gone['role']})")
    return 0


def cmd_feedback_export(args: argparse.Namespace) -> int:
    from api.answer_log.feedback_export import export, open_log, parse_since

    settings = _collection_settings(_settings(), args.collection)
    since = parse_since(args.since) if args.since else None
    if settings.chroma_url and settings.answer_log_enabled:  # server mode: the log is on the server
        from api.answer_log.shared import open_answer_log

        log = open_answer_log(settings)
    else:
        log = open_log(settings.answer_log_path, retention_days=settings.log_retention_days)
    corpus = Path(args.corpus) if args.corpus else next((p for p in settings.corpus_paths if p.is_dir()), None)
    if corpus is not None and not corpus.is_dir():
        raise CliError(f"--corpus {corpus} is not a folder")
    try:
        if args.out:
            with open(args.out, "w", encoding="utf-8") as out:
                n = export(log, out, value=args.value, since=since, corpus=corpus)
        else:
            n = export(log, sys.stdout, value=args.value, since=since, corpus=corpus)
    finally:
        log.close()
    print(f"{n} voted answers exported{' to ' + args.out if args.out else ''} "
          "(needs_review: check each line before adding it to a gold set)", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sanad", description="Cited answers over Arabic and English documents.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("index", help="index documents (incremental)")
    p.add_argument("paths", nargs="*", help="folders or files (default: seeds/ or $SANAD_CORPUS_PATHS)")
    p.add_argument("--no-prune", action="store_true", help="keep indexed files that are not under PATHS")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--watch", action="store_true",
                   help="then keep the index in sync with the folders (new, changed, renamed, deleted files) until "
                   "Ctrl-C (default folders: $SANAD_WATCH_DIRS, else $SANAD_CORPUS_PATHS)")
    p.add_argument("--collection", default=None, help="index into this collection (default: the default one)")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("ask", help="answer a question with citations")
    p.add_argument("question", nargs="?", help="the question, Arabic or English")
    p.add_argument("--json", action="store_true", help="print the /v1/ask response object")
    p.add_argument("--top-k", type=int, default=None,
                   help=f"paragraphs to consider, {TOP_K_MIN} to {TOP_K_MAX} (default: SANAD_TOP_K)")
    p.add_argument("--file", help="answer one question per line of FILE ('-' = stdin)")
    p.add_argument("--answerer", choices=["extractive", "llm"], default=None,
                   help="override SANAD_ANSWERER (llm: SANAD_LLM_BASE_URL / SANAD_LLM_MODEL)")
    p.add_argument("--collection", default=None, help="ask this collection (default: the default one)")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("serve", help="serve the HTTP API")
    p.add_argument("--host", default=DEFAULT_HOST, help=f"default {DEFAULT_HOST}")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")
    p.add_argument("--workers", type=int, default=None,
                   help="uvicorn worker processes, each with its own model (~1.5 GB RSS); default: 1 with the "
                   "embedded store, else one per SANAD_TORCH_THREADS cores that memory holds (api/serving/workers.py); "
                   "each keeps to cores of its own when they fit (SANAD_PIN_WORKERS)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("mcp", help="serve MCP over stdin/stdout for an assistant (HTTP: /mcp in `sanad serve`)")
    p.set_defaults(func=cmd_mcp)

    p = sub.add_parser("slack", help="run the Slack bot over Socket Mode (no public URL needed)")
    p.add_argument("--socket", action="store_true",
                   help="connect with SANAD_SLACK_APP_TOKEN (xapp-...) and SANAD_SLACK_BOT_TOKEN")
    p.set_defaults(func=cmd_slack)

    p = sub.add_parser("eval", help="run the evals")
    p.add_argument("--set", default="seeds", help="seeds | seeds-pdf | xquad | xquad-en | arcd-train | tydiqa-ar | PATH to a gold JSONL")
    p.add_argument("--limit", type=int, default=None, help="a fixed, seeded sample of N")
    p.add_argument("--json", dest="json_path", default=None, help="write the full report here")
    p.add_argument("--gate", action="store_true", help="fail when a metric is below evals/thresholds.toml")
    p.add_argument("--report", default=None, help="write a self-contained HTML report here (charts, every question)")
    p.add_argument("--junit", default=None, help="write JUnit XML here: a test case per question and per gated metric")
    p.add_argument("--compare", default=None, help="a previous --json report: print and report what changed")
    p.add_argument("--baseline", action="store_true", help="also run plain BM25 and plain dense")
    p.add_argument("--corpus", default=None, help="the corpus folder of a PATH gold set")
    p.add_argument("--answerer", choices=["extractive", "llm", "both"], default="extractive",
                   help="who writes the answers: extractive (default), llm (SANAD_LLM_* settings), or "
                   "both side by side (answer hit, citation precision, answers in the question's language)")
    p.add_argument("--collection", default=None,
                   help="ask this collection's index as it is (nothing indexed; the gold set must match it)")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("collections", help="named sets of documents, each its own index (docs/collections.md)")
    csub = p.add_subparsers(dest="collections_command", required=True)
    csub.add_parser("list", help="every collection, the default first")
    c = csub.add_parser("create", help="create an empty collection")
    c.add_argument("name", help="lowercase letters, digits and inner hyphens")
    c = csub.add_parser("delete", help="delete a collection with its documents, vectors and answer log")
    c.add_argument("name")
    c.add_argument("--yes", action="store_true", help="yes, delete it")
    p.set_defaults(func=cmd_collections)

    p = sub.add_parser("keys", help="scoped API keys (role and collections), stored hashed")
    ksub = p.add_subparsers(dest="keys_command", required=True)
    k = ksub.add_parser("create", help="make a key; it is printed once, alone on the last line")
    k.add_argument("--role", required=True, choices=["read", "write", "admin", "metrics"])
    k.add_argument("--collections", default="", help="comma-separated collection names, or '*' for all")
    k.add_argument("--label", default="", help="a note to tell keys apart in `sanad keys list`")
    ksub.add_parser("list", help="the keys' ids, roles, collections and labels (never the keys)")
    k = ksub.add_parser("revoke", help="revoke a key by its id (a running server refuses it at once)")
    k.add_argument("key_id")
    p.set_defaults(func=cmd_keys)

    p = sub.add_parser("feedback", help="the votes on answers (POST /v1/feedback)")
    fsub = p.add_subparsers(dest="feedback_command", required=True)
    p = fsub.add_parser("export", help="voted answers as gold-set JSONL to review (docs/evals.md)")
    p.add_argument("--value", choices=["helpful", "not_helpful"], default=None, help="only answers with such votes")
    p.add_argument("--since", default=None, help="only votes cast on or after this day (YYYY-MM-DD, UTC)")
    p.add_argument("--out", default=None, help="write here (default: stdout)")
    p.add_argument("--corpus", default=None,
                   help="the folder cited files are relative to (default: the first of SANAD_CORPUS_PATHS)")
    p.add_argument("--collection", default=None, help="the answer log of this collection (default: the default one)")
    p.set_defaults(func=cmd_feedback_export)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    apply_runtime_defaults()
    args = build_parser().parse_args(argv)
    if args.command == "ask" and args.top_k is not None and not TOP_K_MIN <= args.top_k <= TOP_K_MAX:
        print(f"error: --top-k must be between {TOP_K_MIN} and {TOP_K_MAX}", file=sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except (SanadError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
