"""Searchable PDFs of every document under a folder (or bucket prefix), mirrored under an
output folder: `scandex export ~/Scans/2024 ~/Searchable`. One document's failure is
recorded and the rest go on; files already there are kept unless asked to replace them."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from engine.errors import ScandexError
from engine.models import DocumentInfo, DocumentState


@dataclass
class ExportReport:
    """What a folder's export did, document by document (document path, PDF path or why
    not)."""

    written: list[tuple[str, str]] = field(default_factory=list)
    kept: list[tuple[str, str]] = field(default_factory=list)  # the PDF was there already
    failed: list[tuple[str, str]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"written": [{"document": d, "pdf": p} for d, p in self.written],
                "kept": [{"document": d, "pdf": p} for d, p in self.kept],
                "failed": [{"document": d, "error": e} for d, e in self.failed]}


def _relative(path: str, folder: str) -> PurePosixPath | Path | None:
    """path below folder, relative to it (None when it is not below it)."""
    if folder.startswith("s3://"):
        prefix = folder.rstrip("/") + "/"
        return PurePosixPath(path[len(prefix):]) if path.startswith(prefix) else None
    prefix = folder.rstrip(os.sep) + os.sep
    return Path(path[len(prefix):]) if path.startswith(prefix) else None


def documents_under(documents: list[DocumentInfo], folder: str) -> list[DocumentInfo]:
    """The indexed documents below folder (a local folder or an s3:// prefix)."""
    if not folder.startswith("s3://"):
        folder = os.path.abspath(folder)
    return [d for d in documents
            if d.state == DocumentState.INDEXED and _relative(d.path, folder) is not None]


def export_targets(documents: list[DocumentInfo], folder: str, out: Path) -> dict[int, Path]:
    """Where each document's PDF goes: its place below folder, mirrored under out, named
    as it is with .pdf for its extension; two that would meet ("a.png", "a.tif") keep
    their extension too ("a.tif.pdf")."""
    if not folder.startswith("s3://"):
        folder = os.path.abspath(folder)
    targets: dict[int, Path] = {}
    taken: set[Path] = set()
    for doc in sorted(documents, key=lambda d: d.path):
        relative = _relative(doc.path, folder)
        if relative is None:
            continue
        parts = [p for p in relative.parts if p not in ("", ".", "..")]
        if not parts:
            continue
        place = out.joinpath(*parts[:-1])
        target = place / (Path(parts[-1]).stem + ".pdf")
        if target in taken:
            target = place / (parts[-1] + ".pdf")
        count = 1
        while target in taken:
            count += 1
            target = place / f"{parts[-1]}.{count}.pdf"
        taken.add(target)
        targets[doc.id] = target
    return targets


def export_folder(library: Any, folder: str, out: Path, *, replace: bool = False,
                  progress: Callable[[int, int, str], None] | None = None) -> ExportReport:
    """Every indexed document below folder as a searchable PDF under out."""
    documents = documents_under(library.documents(state=DocumentState.INDEXED.value), folder)
    targets = export_targets(documents, folder, out)
    report = ExportReport()
    by_id = {d.id: d for d in documents}
    for done, (doc_id, target) in enumerate(sorted(targets.items(),
                                                   key=lambda item: str(item[1])), start=1):
        path = by_id[doc_id].path
        if progress is not None:
            progress(done, len(targets), path)
        if target.exists() and not replace:
            report.kept.append((path, str(target)))
            continue
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            library.export_pdf(doc_id, target)
        except ScandexError as e:
            report.failed.append((path, str(e)))
            continue
        except OSError as e:
            report.failed.append((path, f"cannot write {target}: {e.strerror or e}"))
            continue
        report.written.append((path, str(target)))
    return report
