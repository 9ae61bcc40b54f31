"""`scandex sync push|pull|status`: the CLI face of engine.sync."""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from typing import Any

from engine.cli.output import shown
from engine.errors import ExitCode


def _config(args: argparse.Namespace) -> Any:
    from engine.backends.s3 import RemoteConfig

    if not args.bucket:
        return None  # the remote saved by the last push or pull
    return RemoteConfig(bucket=args.bucket, prefix=args.prefix, endpoint_url=args.endpoint_url,
                        region=args.region, profile=args.profile)


def _progress_printer(args: argparse.Namespace) -> Any:
    """Each object as it moves, on a terminal (quiet with --json or when piped)."""
    import sys

    if args.json or not sys.stderr.isatty():
        return None
    started = time.monotonic()
    count = [0]

    def show(message: str) -> None:
        count[0] += 1
        print(f"  [{count[0]:>5}] {time.monotonic() - started:6.1f} s  {shown(message)}",
              file=sys.stderr, flush=True)

    return show


def run_sync(library: Any, args: argparse.Namespace) -> ExitCode:
    """Run one sync action and print its summary (bytes, objects, speed)."""
    config = _config(args)
    if args.action == "status":
        result = library.sync_status(config)
        if args.json:
            print(json.dumps(asdict(result), indent=2))
        else:
            print(f"to push: {result.to_push} original(s), {result.to_push_bytes / 1e6:.1f} MB; "
                  f"removals to send: {result.tombstones_to_send}")
            print(f"to pull: {result.to_pull} document(s) of {result.remote_documents} in the "
                  f"bucket; removals to apply: {result.tombstones_to_apply}")
        return ExitCode.OK
    action = library.push if args.action == "push" else library.pull
    report = action(config, on_progress=_progress_printer(args))
    if args.json:
        print(json.dumps({**asdict(report), "speed_mb_s": round(report.speed_mb_s, 2)},
                         indent=2))
    else:
        print(f"{args.action}: uploaded {report.uploaded} object(s) "
              f"({report.uploaded_bytes / 1e6:.1f} MB), downloaded {report.downloaded} "
              f"({report.downloaded_bytes / 1e6:.1f} MB), already there {report.skipped}, "
              f"merged {report.merged} document(s), removed {report.removed}; "
              f"{report.seconds:.1f} s, {report.speed_mb_s:.1f} MB/s")
        for warning in report.warnings:
            print(f"  warning: {shown(warning)}")
    return ExitCode.OK
