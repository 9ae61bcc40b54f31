"""The `scandex` command. Heavy work is imported lazily so --help is instant."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from types import FrameType
from typing import Any

import engine.cli.arguments as arg
from engine.cli.intelligence import (
    add_intelligence_parsers,
    run_duplicates,
    run_similar,
    run_tags,
)
from engine.cli.output import shown
from engine.cli.watch import add_watch_parser
from engine.errors import ExitCode, LibraryBusy, ScandexError, UsageError
from engine.layout import LibraryLayout, default_library_dir
from engine.models import SearchMode
from engine.version import __version__

EPILOG = "exit codes:\n" + "".join(
    "\n".join(textwrap.wrap(code.meaning, 74, initial_indent=f"  {int(code):<5}",
                             subsequent_indent=" " * 7)) + "\n"
    for code in ExitCode) + """
library: --library DIR, else $SCANDEX_LIBRARY, else the user data folder.
"""


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--library",
        metavar="DIR",
        type=arg.library_dir,
        default=argparse.SUPPRESS,
        help="library folder (default: $SCANDEX_LIBRARY or user data)",
    )
    parser = argparse.ArgumentParser(
        prog="scandex",
        description="Local-first search over scanned paper: OCR, embeddings, hybrid search.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"scandex {__version__}")
    parser.add_argument("--embedder", choices=["onnx", "onnx-float", "torch"],
                        help="how the model runs: onnx (ONNX Runtime, int8: the default), "
                             "onnx-float (ONNX Runtime, float) or torch (sentence-transformers, "
                             "the reference); their vectors are comparable: no re-index")
    parser.add_argument("--ocr", choices=["tesserocr", "tesseract"],
                        help="how Tesseract runs: tesserocr (in-process, the default when "
                             "installed) or tesseract (the command-line program)")
    parser.add_argument("--self-test", action="store_true",
                        help="OCR, embed, index and search a bundled sample; print a JSON "
                             "report; exit 0 when everything works")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("index", parents=[common],
                       help="index files, folders and s3://BUCKET/PREFIX locations")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--lang", default="eng", help="Tesseract languages, e.g. eng+deu")
    p.add_argument("--workers", type=arg.bounded_int("--workers", 1, 256), default=None,
                   help="OCR processes (default: cores)")
    p.add_argument("--page-timeout", type=arg.seconds("--page-timeout", 86_400), default=300.0,
                   help="seconds per page (300)")
    p.add_argument("--retry-failed", action="store_true", help="retry unchanged failed files")
    p.add_argument("--no-rotation", action="store_true", help="skip sideways-page detection")
    p.add_argument("--executor", default="local", help="where OCR runs: local (pool) or inline")
    p.add_argument("--cluster", metavar="ADDRESS", type=arg.scheduler_address,
                   help="Dask cluster for OCR and embeddings: local:N or tcp://HOST:8786")
    p.add_argument("--s3-endpoint", metavar="URL", type=arg.endpoint_url,
                   help="S3-compatible endpoint for s3://BUCKET/PREFIX paths "
                        "(default: $SCANDEX_S3_ENDPOINT, else AWS)")
    p.add_argument("--wait", type=arg.seconds("--wait", 86_400), default=600.0,
                   metavar="SECONDS", help="while another Scandex process (e.g. 'scandex "
                   "watch') indexes into the library, wait this long for it (600)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")

    add_watch_parser(sub, common, arg)
    add_intelligence_parsers(sub, common, arg)

    p = sub.add_parser("search", parents=[common], help="search the library")
    p.add_argument("query")
    p.add_argument("--mode", default=SearchMode.HYBRID.value, choices=[m.value for m in SearchMode])
    p.add_argument("--limit", type=arg.bounded_int("--limit", 1, 1000), default=10)
    p.add_argument("--type", dest="kinds", action="append", default=[],
                   help="a file type (png, jpeg, tiff, heif, pdf...) or an extension (jpg, "
                   "heic, pgm...); repeat for several")
    p.add_argument("--path", dest="path_prefix", help="only documents under this folder")
    p.add_argument("--since", type=arg.date, help="modified on or after (YYYY-MM-DD)")
    p.add_argument("--until", type=arg.date, help="modified on or before (YYYY-MM-DD)")
    p.add_argument("--tag", dest="tags", action="append", default=[], metavar="TAG",
                   help="only documents with this tag (repeat: with every one)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("worker", parents=[common], help="join a Dask cluster as OCR worker")
    p.add_argument("--scheduler", required=True, metavar="tcp://HOST:8786",
                   type=arg.scheduler_address)
    p.add_argument("--processes", type=arg.bounded_int("--processes", 1, 256),
                   help="worker processes (default: cores)")

    p = sub.add_parser("status", parents=[common], help="counts and failed files")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("show", parents=[common], help="a document's details and text")
    p.add_argument("doc", metavar="DOC", help="document id or path")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("serve", parents=[common], help="run the HTTP API (FastAPI)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (non-loopback needs SCANDEX_API_TOKEN)")
    p.add_argument("--port", type=arg.bounded_int("--port", 1, 65535), default=8765)
    p.add_argument("--lang", default="eng", help="Tesseract languages for uploads")
    p.add_argument("--sync-bucket", type=arg.bucket_name,
                   help="pull this bucket at start, push after indexing")
    p.add_argument("--sync-prefix", default="scandex")
    p.add_argument("--sync-endpoint-url", type=arg.endpoint_url)
    p.add_argument("--watch", action="append", default=[], metavar="PATH",
                   help="also index files as they land in PATH, like 'scandex watch' "
                        "(repeatable; e.g. a scanner inbox)")
    p.add_argument("--watch-poll", type=arg.seconds("--watch-poll", 86_400), default=None,
                   metavar="SECONDS", help="poll watched folders every SECONDS (network "
                                           "shares; chosen by itself on one)")

    p = sub.add_parser("sync", parents=[common], help="push/pull/status through an S3 bucket")
    p.add_argument("action", choices=["push", "pull", "status"])
    p.add_argument("--bucket", type=arg.bucket_name,
                   help="bucket name (default: the last one used)")
    p.add_argument("--prefix", default="scandex", help="key prefix in the bucket (scandex)")
    p.add_argument("--endpoint-url", type=arg.endpoint_url,
                   help="for MinIO, Ceph RGW, R2... (default: AWS)")
    p.add_argument("--region")
    p.add_argument("--profile", help="AWS profile (default: the standard credential chain)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("export", parents=[common],
                       help="save a document, or every document under a folder, as "
                            "searchable PDFs (the pages with their text laid over them)")
    p.add_argument("doc", metavar="DOC|FOLDER",
                   help="document id or path, or a folder (or s3:// prefix) indexed")
    p.add_argument("output", metavar="OUTPUT", type=Path,
                   help="the PDF to write (a folder: a folder's documents mirrored in it)")
    p.add_argument("--force", action="store_true", help="replace PDFs that exist")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("restore", parents=[common],
                       help="put an original deleted from disk back, from the sync bucket")
    p.add_argument("doc", metavar="DOC", help="document id or path")

    p = sub.add_parser("remove", parents=[common], help="forget a document or a folder")
    p.add_argument("ref", metavar="PATH|DOC")
    p.add_argument("--json", action="store_true")
    return parser


def _print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `scandex` command; returns the exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["--self-test"]:
        return _self_test()
    try:
        args = _parser().parse_args(arguments)
    except SystemExit as e:
        return int(e.code or 0)
    if args.embedder:
        # Through the environment, so OCR and cluster workers started from here agree.
        os.environ["SCANDEX_EMBEDDER"] = args.embedder
    if args.ocr:
        os.environ["SCANDEX_OCR"] = args.ocr
    try:
        return int(_dispatch(args))
    except ScandexError as e:
        print(f"scandex: error: {shown(str(e))}", file=sys.stderr)
        return int(e.exit_code)
    except KeyboardInterrupt:
        print("scandex: interrupted", file=sys.stderr)
        return int(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        return 0


def _self_test() -> int:
    from engine.service.selftest import run_self_test

    try:
        report = run_self_test("cli")
    except ScandexError as e:
        _print_json({"frontend": "cli", "ok": False, "error": str(e)})
        return int(e.exit_code)
    except Exception as e:  # noqa: BLE001 - the report must say what broke, whatever it is
        _print_json({"frontend": "cli", "ok": False, "error": f"{type(e).__name__}: {e}"})
        return 1
    _print_json(report)
    return 0 if report["ok"] else 1


def _dispatch(args: argparse.Namespace) -> ExitCode:
    from engine.library import Library

    command = args.command
    if command == "worker":
        from engine.backends.dask_cluster import run_worker

        return ExitCode(run_worker(args.scheduler, args.processes) and 1)
    if command == "serve":
        from engine.server.app import serve

        library_dir = getattr(args, "library", None)
        sync = None
        if args.sync_bucket:
            from engine.backends.s3 import RemoteConfig

            sync = RemoteConfig(bucket=args.sync_bucket, prefix=args.sync_prefix,
                                endpoint_url=args.sync_endpoint_url)
        watch = [Path(p).expanduser().absolute() for p in args.watch]
        if watch and not any(p.is_dir() for p in watch):
            raise UsageError(f"nothing to watch: {', '.join(map(str, watch))} not found")
        serve(Path(library_dir) if library_dir else default_library_dir(), host=args.host,
              port=args.port, lang=args.lang, sync=sync, watch=watch,
              watch_poll_s=args.watch_poll)
        return ExitCode.OK
    read_only = command in ("search", "status", "show", "restore", "similar", "duplicates",
                            "tags", "suggest", "export")
    where = Path(args.library).expanduser() if getattr(args, "library", None) else None
    if not read_only and not LibraryLayout(where or default_library_dir()).index.exists():
        # A mistyped --library would otherwise become a new, empty library unnoticed.
        print(f"scandex: no library at {shown(str(where or default_library_dir()))} yet; "
              "creating a new one there", file=sys.stderr)
    library = Library.open(where, read_only=read_only)
    try:
        if command == "index":
            return _index(library, args)
        if command == "search":
            return _search(library, args)
        if command == "status":
            return _status(library, args)
        if command == "show":
            return _show(library, args)
        if command == "watch":
            from engine.cli.watch import run_watch

            return run_watch(library, args)
        if command == "similar":
            return run_similar(library, args)
        if command == "duplicates":
            return run_duplicates(library, args)
        if command in ("tag", "untag", "tags", "suggest"):
            return run_tags(library, args)
        if command == "sync":
            from engine.cli.sync import run_sync

            return run_sync(library, args)
        if command == "restore":
            print(f"restored {shown(str(library.restore_original(args.doc)))}")
            return ExitCode.OK
        if command == "export":
            return _export(library, args)
        if command == "remove":
            count = library.remove(args.ref)
            if args.json:
                _print_json({"removed": count})
            else:
                print(f"removed {count} document(s) from the library")
            return ExitCode.OK
        raise UsageError(f"unknown command {command}")
    finally:
        library.close()


def _index(library: Any, args: argparse.Namespace) -> ExitCode:
    from engine.cli.progress import RichProgress
    from engine.progress import CancelToken, NullProgress

    cancel = CancelToken()

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        if cancel.cancelled:
            raise KeyboardInterrupt
        print("\nscandex: stopping after the current pages; Ctrl-C again to quit now",
              file=sys.stderr)
        cancel.cancel()

    if args.s3_endpoint:
        # Through the environment, so OCR workers spawned from here see it too.
        os.environ["SCANDEX_S3_ENDPOINT"] = args.s3_endpoint
    previous = signal.signal(signal.SIGINT, on_sigint)
    interactive = sys.stderr.isatty() and not args.json
    sink: Any = RichProgress() if interactive else NullProgress()
    try:
        with sink if interactive else contextlib.nullcontext():
            def add(wait_s: float) -> Any:
                return library.add(
                    args.paths, lang=args.lang, progress=sink, cancel=cancel,
                    workers=args.workers, page_timeout_s=args.page_timeout,
                    retry_failed=args.retry_failed, detect_rotation=not args.no_rotation,
                    executor=args.cluster or args.executor, wait_s=wait_s)

            try:
                report = add(0.0)
            except LibraryBusy as e:
                if not args.wait:
                    raise
                print(f"scandex: {e}; waiting up to {args.wait:g} s (Ctrl-C to stop)",
                      file=sys.stderr)
                try:
                    report = add(args.wait)
                except LibraryBusy:
                    if cancel.cancelled:
                        return ExitCode.INTERRUPTED
                    raise
    finally:
        signal.signal(signal.SIGINT, previous)
    if args.json:
        _print_json(asdict(report))
    else:
        print(
            f"indexed {report.indexed}, reused {report.reused}, "
            f"unchanged {report.skipped_unchanged}, removed {report.removed}, "
            f"failed {len(report.failed)}; "
            f"{report.pages} pages in {report.seconds:.1f} s"
            + (f"; {report.skipped_not_scans} other file(s) skipped (not scans)"
               if report.skipped_not_scans else "")
        )
        if report.skipped_failed_before:
            print(f"  {report.skipped_failed_before} unchanged file(s) had failed before and "
                  "were left as they are: 'scandex status' says why, "
                  "'scandex index --retry-failed' tries them again", file=sys.stderr)
        for failure in report.failed:
            print(f"  failed: {shown(failure.path)}: {shown(failure.error)}", file=sys.stderr)
    if report.cancelled:
        return ExitCode.INTERRUPTED
    return ExitCode.SOME_FILES_FAILED if report.failed else ExitCode.OK


def _search(library: Any, args: argparse.Namespace) -> ExitCode:
    hits = library.search(
        args.query, mode=args.mode, limit=args.limit, kinds=args.kinds,
        path_prefix=args.path_prefix, since=args.since, until=args.until, tags=args.tags,
    )
    if args.json:
        _print_json({"query": args.query, "mode": args.mode, "results": [asdict(h) for h in hits]})
        return ExitCode.OK
    from rich.console import Console

    console = Console(highlight=False)
    if not hits:
        console.print("no matches")
    for rank, hit in enumerate(hits, 1):
        console.print(
            f"[bold]{rank:>2}. {_escape(shown(hit.path))}[/bold]  page {hit.page}  "
            f"[dim]score {hit.score:.4f} ({'+'.join(hit.matched_by)}) id {hit.id}[/dim]"
            + (f"  [cyan]{_escape(shown(', '.join(hit.tags)))}[/cyan]" if hit.tags else "")
        )
        console.print("    " + _snippet_markup(hit.snippet))
    return ExitCode.OK


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _snippet_markup(snippet: str) -> str:
    import html

    parts = snippet.split("<mark>")
    out = [_escape(shown(html.unescape(parts[0])))]
    for part in parts[1:]:
        marked, _, rest = part.partition("</mark>")
        out.append(f"[bold yellow]{_escape(shown(html.unescape(marked)))}[/bold yellow]")
        out.append(_escape(shown(html.unescape(rest))))
    return "".join(out)


def _status(library: Any, args: argparse.Namespace) -> ExitCode:
    status = library.status()
    if args.json:
        _print_json(asdict(status))
        return ExitCode.OK
    print(f"library   {shown(status.path)}")
    print(f"documents {status.documents} ({status.indexed} indexed, {status.failed} failed)")
    print(f"pages     {status.pages}   chunks {status.chunks}")
    print(f"model     {status.model_id}   schema {status.schema_version}")
    for failure in status.failures:
        print(f"  failed: {shown(failure.path)}: {shown(failure.error)}")
    if status.review:
        print(f"review these: {len(status.review)} page(s) OCR read with low confidence "
              "(a better scan, or another --lang, may help)")
        for page in status.review:
            print(f"  review: {shown(page.path)} page {page.page} "
                  f"(confidence {page.confidence:.0f})")
    return ExitCode.OK


def _export(library: Any, args: argparse.Namespace) -> ExitCode:
    from engine.service.exporting import documents_under, export_folder

    output: Path = args.output.expanduser()
    try:
        info = library.resolve(args.doc)
    except UsageError:
        if not documents_under(library.documents(), args.doc):
            raise
        info = None
    if info is None:  # a folder's documents, mirrored under output
        if output.suffix.lower() == ".pdf" or output.is_file():
            raise UsageError(f"the documents under {args.doc} go to a folder; give one, "
                             f"not {output}")
        report = export_folder(library, args.doc, output, replace=args.force)
        if args.json:
            _print_json(report.as_json())
        else:
            print(f"wrote {len(report.written)} searchable PDF(s) under {shown(str(output))}")
            if report.kept:
                print(f"kept {len(report.kept)} that were there already (--force replaces "
                      "them)")
            for document, error in report.failed:
                print(f"failed: {shown(document)}: {error}", file=sys.stderr)
        return ExitCode.SOME_FILES_FAILED if report.failed else ExitCode.OK
    if output.is_dir():
        output = output / f"{Path(info.path).stem or f'document-{info.id}'}.pdf"
    if output.suffix.lower() != ".pdf":
        raise UsageError(f"{output} does not end in .pdf; name the PDF to write")
    if output.exists() and not args.force:
        raise UsageError(f"{output} exists; choose another name or add --force")
    pages = library.export_pdf(info.id, output)
    if args.json:
        _print_json({"written": [{"document": info.path, "pdf": str(output),
                                  "pages": pages}], "kept": [], "failed": []})
    else:
        print(f"wrote {shown(str(output))} ({pages} page{'s' if pages != 1 else ''}, "
              "searchable)")
    return ExitCode.OK


def _show(library: Any, args: argparse.Namespace) -> ExitCode:
    detail = library.document(args.doc)
    info = detail.info
    day, candidates = library.document_dates(info.id)
    if args.json:
        _print_json(
            {
                **asdict(info), "document_date": day, "date_candidates": candidates,
                "tags": list(library.tags(info.id)),
                "pages": [
                    {"page": p.page_no, "width": p.width, "height": p.height, "source": p.source,
                     "rotation": p.rotation, "text": p.text}
                    for p in detail.pages
                ],
            }
        )
        return ExitCode.OK
    print(f"{shown(info.path)}\n  id {info.id}  {info.kind}  {info.state}  {info.pages} page(s)  "
          f"sha256 {info.sha256 or '-'}")
    if day:
        print(f"  dated {day} (read on the paper)")
    if info.error:
        print(f"  error: {shown(info.error)}")
    for page in detail.pages:
        turned = f", turned {page.rotation}°" if page.rotation else ""
        print(f"\n--- page {page.page_no} ({page.source}{turned}) ---\n{page.text}")
    return ExitCode.OK


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    sys.exit(main())
