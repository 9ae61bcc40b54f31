"""`scandex watch`: keep a library in step with folders until stopped. A line per batch
on a terminal (or one JSON object per batch with --json); SIGTERM and Ctrl-C stop after
the pages in flight, with finished documents kept."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from dataclasses import asdict
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from engine.cli.output import shown
from engine.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from engine.library import Library
    from engine.service.watch import WatchBatch


def add_watch_parser(sub: Any, common: argparse.ArgumentParser, arg: Any) -> None:
    """The `watch` subcommand's options."""
    p = sub.add_parser("watch", parents=[common],
                       help="index folders as files land in them, until stopped")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--poll", type=arg.seconds("--poll", 86_400), default=None, metavar="SECONDS",
                   help="look every SECONDS instead of waiting for file-system events (for "
                        "network shares; chosen by itself when a folder is on one)")
    p.add_argument("--settle", type=arg.seconds("--settle", 3_600), default=2.0,
                   metavar="SECONDS", help="index once nothing has changed for this long (2)")
    p.add_argument("--lang", default="eng", help="Tesseract languages, e.g. eng+deu")
    p.add_argument("--json", action="store_true", help="one JSON object per batch")


def run_watch(library: Library, args: argparse.Namespace) -> ExitCode:
    """Watch until SIGTERM (exit 0) or Ctrl-C (exit 130)."""
    roots = [Path(p).expanduser().absolute() for p in args.paths]
    missing = [str(r) for r in roots if not r.exists()]
    if len(missing) == len(roots):
        raise UsageError(f"nothing to watch: {', '.join(missing)} not found")
    failed = False

    def report(batch: WatchBatch) -> None:
        nonlocal failed
        stamp = time.strftime("%H:%M:%S")
        if args.json:
            body = {"time": stamp, "offline": batch.offline, "note": batch.note,
                    "report": asdict(batch.report) if batch.report else None}
            print(json.dumps(body, ensure_ascii=False), flush=True)
        else:
            if batch.report is not None:
                r = batch.report
                print(f"{stamp} indexed {r.indexed}, reused {r.reused}, removed {r.removed}, "
                      f"failed {len(r.failed)}, unchanged {r.skipped_unchanged} "
                      f"({r.seconds:.1f} s)", flush=True)
                for failure in r.failed:
                    print(f"  failed: {shown(failure.path)}: {shown(failure.error)}",
                          file=sys.stderr)
            for root in batch.offline:
                print(f"{stamp} {shown(root)} is not there; its documents are kept until it "
                      "is back", file=sys.stderr)
            if batch.note:
                print(f"{stamp} {shown(batch.note)}", file=sys.stderr)
        failed = failed or bool(batch.report and batch.report.failed)

    from engine.service.watch import FolderWatcher

    watcher = FolderWatcher(library, roots, poll_s=args.poll, settle_s=args.settle,
                            lang=args.lang, on_batch=report)
    interrupted = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal interrupted
        interrupted = interrupted or signum == signal.SIGINT
        watcher.stop()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    how = f"every {watcher.interval_s:g} s" if watcher.polling else "on file-system events"
    if not args.json:
        print(f"watching {', '.join(shown(str(r)) for r in roots)} ({how}); "
              "Ctrl-C to stop", file=sys.stderr, flush=True)
    try:
        watcher.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if interrupted:
        return ExitCode.INTERRUPTED
    return ExitCode.SOME_FILES_FAILED if failed else ExitCode.OK
