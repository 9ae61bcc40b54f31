"""`scandex similar` (more like this), `duplicates` (copies and rescans), and tags:
`tag`, `untag`, `tags` and `suggest` (tags learnt from the ones given so far)."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from engine.cli.output import shown
from engine.errors import ExitCode

if TYPE_CHECKING:
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
    for name, verb in (("tag", "put tags on"), ("untag", "take tags off")):
        p = sub.add_parser(name, parents=[common], help=f"{verb} a document")
        p.add_argument("doc", metavar="DOC", help="document id or path")
        p.add_argument("tag_names", nargs="+", metavar="TAG")
        p.add_argument("--json", action="store_true")
    p = sub.add_parser("tags", parents=[common], help="every tag and how many documents have it")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("suggest", parents=[common],
                       help="tags for a document, learnt from the ones you gave")
    p.add_argument("doc", metavar="DOC", help="document id or path")
    p.add_argument("--limit", type=arg.bounded_int("--limit", 1, 100), default=5)
    p.add_argument("--json", action="store_true")


def run_tags(library: Library, args: argparse.Namespace) -> ExitCode:
    """tag, untag, tags and suggest."""
    if args.command in ("tag", "untag"):
        changed = library.tag(args.doc, args.tag_names, present=args.command == "tag")
        now = sorted(library.tags(args.doc), key=str.casefold)
        if args.json:
            print(json.dumps({"changed": changed, "tags": now}, ensure_ascii=False))
        else:
            print(f"{changed} changed; tags now: {', '.join(shown(t) for t in now) or '-'}")
        return ExitCode.OK
    if args.command == "tags":
        counts = library.tags()
        if args.json:
            print(json.dumps({"tags": [{"tag": t, "documents": n} for t, n in counts.items()]},
                             ensure_ascii=False, indent=2))
        else:
            for tag, count in counts.items():
                print(f"{count:>6}  {shown(tag)}")
            if not counts:
                print("no tags yet; add some with 'scandex tag DOC TAG...'")
        return ExitCode.OK
    suggestions = library.suggest_tags(args.doc, limit=args.limit)
    if args.json:
        print(json.dumps({"suggestions": [asdict(s) for s in suggestions]},
                         ensure_ascii=False, indent=2))
    else:
        for s in suggestions:
            print(f"{s.score:.2f}  {shown(s.tag)}")
        if not suggestions:
            print("no suggestions: tag a few documents first")
    return ExitCode.OK


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
