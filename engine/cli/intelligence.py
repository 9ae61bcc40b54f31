"""`scandex similar` (more like this) and `scandex duplicates` (copies and rescans)."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Any

from engine.cli.output import shown
from engine.errors import ExitCode
from engine.library import Library


def add_intelligence_parsers(sub: Any, common: argparse.ArgumentParser, arg: Any) -> None:
    """The subcommands' options."""
    p = sub.add_parser("similar", parents=[common],
                       help="documents like one document (more like this)")
    p.add_argument("doc", metavar="DOC", help="document id or path")
    p.add_argument("--limit", type=arg.bounded_int("--limit", 1, 1000), default=10)
    p.add_argument("--json", action="store_true", help="the same result shape as search")
    p = sub.add_parser("duplicates", parents=[common],
                       help="groups of documents holding the same paper (copies, rescans)")
    p.add_argument("--json", action="store_true")


def run_similar(library: Library, args: argparse.Namespace) -> ExitCode:
    """Print the documents most like DOC."""
    info = library.resolve(args.doc)
    hits = library.similar(info.id, limit=args.limit)
    if args.json:
        print(json.dumps({"document": {"id": info.id, "path": info.path}, "mode": "similar",
                          "results": [asdict(h) for h in hits]}, ensure_ascii=False, indent=2))
        return ExitCode.OK
    if not hits:
        print("nothing alike")
    for rank, hit in enumerate(hits, 1):
        print(f"{rank:>2}. {shown(hit.path)}  page {hit.page}  similarity {hit.score:.3f}  "
              f"id {hit.id}")
    return ExitCode.OK


def run_duplicates(library: Library, args: argparse.Namespace) -> ExitCode:
    """Print the groups; nothing is removed."""
    found = library.duplicates()
    if args.json:
        print(json.dumps({"groups": [
            {"documents": [{"id": d.id, "path": d.path} for d in g.documents],
             "similarity": g.similarity} for g in found]}, ensure_ascii=False, indent=2))
        return ExitCode.OK
    if not found:
        print("no duplicates")
    for number, group in enumerate(found, 1):
        kind = "copies" if group.similarity >= 1.0 else f"similarity {group.similarity:.2f}"
        print(f"group {number} ({len(group.documents)} documents, {kind})")
        for doc in group.documents:
            print(f"  {doc.id:>6}  {shown(doc.path)}")
    if found:
        print("nothing was removed; remove what you do not want with 'scandex remove DOC'")
    return ExitCode.OK
