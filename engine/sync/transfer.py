"""push, pull and status: one library across machines through a bucket.

Layout under the prefix: blobs/sha256/<2 hex>/<hash> (originals), snapshots/ (index
snapshots made with SQLite's backup API), manifest.json (written last, pointing at the
latest snapshot). Pull merges by content hash: a union, never an overwrite; removals
travel as tombstones. push pulls first, so the manifest it writes is that union.
"""

from __future__ import annotations

import os
import re
import sqlite3
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.backends.s3 import RemoteConfig, S3Remote, safe_relative_key
from engine.content import safe_filename, sha256_file
from engine.errors import SyncError, UnsafeRemote
from engine.layout import LibraryLayout
from engine.models import DocumentState
from engine.store.db import Store

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
_SHA = re.compile(r"^[0-9a-f]{64}$")
_NAME_BAD = re.compile(r"[\\/\x00]")


@dataclass
class SyncReport:
    """What a push or pull moved."""

    uploaded: int = 0
    uploaded_bytes: int = 0
    downloaded: int = 0
    downloaded_bytes: int = 0
    skipped: int = 0
    merged: int = 0
    removed: int = 0
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def speed_mb_s(self) -> float:
        """Bytes moved per second, in MB/s."""
        moved = self.uploaded_bytes + self.downloaded_bytes
        return moved / 1e6 / self.seconds if self.seconds > 0 else 0.0


@dataclass
class SyncStatus:
    """What a push and a pull would move."""

    to_push: int
    to_push_bytes: int
    to_pull: int
    tombstones_to_send: int
    tombstones_to_apply: int
    remote_documents: int


def blob_key(sha256: str) -> str:
    """Where an original lives in the bucket."""
    return f"blobs/sha256/{sha256[:2]}/{sha256}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _validate_manifest(manifest: Any) -> dict[str, Any]:
    """Refuse anything that is not a well-formed manifest, before writing anything."""
    if not isinstance(manifest, dict) or manifest.get("version") != MANIFEST_VERSION:
        raise UnsafeRemote("manifest.json in the bucket is not a Scandex manifest (version 1)")
    snapshot = manifest.get("snapshot")
    if not isinstance(snapshot, str) or not snapshot.startswith("snapshots/"):
        raise UnsafeRemote(f"refusing the manifest's snapshot entry {snapshot!r}")
    safe_relative_key(snapshot)
    if not _SHA.match(str(manifest.get("snapshot_sha256", ""))):
        raise UnsafeRemote("the manifest's snapshot_sha256 is not a SHA-256")
    for doc in manifest.get("documents", []):
        if not isinstance(doc, dict) or not _SHA.match(str(doc.get("sha256", ""))):
            raise UnsafeRemote(f"refusing the manifest entry {doc!r}: bad sha256")
        name = str(doc.get("name", ""))
        if not name or _NAME_BAD.search(name) or name in (".", "..") or ".." in name.split("/"):
            raise UnsafeRemote(f"refusing the manifest entry name {name!r}: no '..', "
                               "separators or NUL allowed; nothing was written")
    for tomb in manifest.get("tombstones", []):
        if not isinstance(tomb, dict) or not _SHA.match(str(tomb.get("sha256", ""))):
            raise UnsafeRemote(f"refusing the tombstone {tomb!r}")
    return manifest


def _remote(layout: LibraryLayout, config: RemoteConfig | None,
            remote: S3Remote | None) -> S3Remote:
    if remote is not None:
        return remote
    if config is None:
        config = RemoteConfig.load(layout.sync_config)
        if config is None:
            raise SyncError("no bucket configured: pass --bucket (and --endpoint-url for "
                            "MinIO, R2, Ceph...)")
    return S3Remote(config)


def pull(store: Store, layout: LibraryLayout, config: RemoteConfig | None = None, *,
         remote: S3Remote | None = None,
         on_progress: Callable[[str], None] | None = None) -> SyncReport:
    """Merge the bucket's latest snapshot into the library (documents become searchable
    without OCR; their originals are fetched when first opened)."""
    started = time.monotonic()
    s3 = _remote(layout, config, remote)
    report = SyncReport()
    manifest = s3.get_json(MANIFEST)
    if manifest is None:
        report.seconds = time.monotonic() - started
        return report
    manifest = _validate_manifest(manifest)
    with tempfile.TemporaryDirectory(dir=layout.root, prefix=".pull-") as tmp:
        snapshot = Path(tmp) / "snapshot.sqlite"
        s3.download_file(manifest["snapshot"], snapshot, sha256=manifest["snapshot_sha256"],
                         on_bytes=lambda n: _add(report, "downloaded_bytes", n))
        report.downloaded += 1
        created_here = store.content_created()
        # Removals elsewhere: forget content that was not (re-)added here since.
        for tomb in manifest.get("tombstones", []):
            sha, when = tomb["sha256"], str(tomb.get("removed_at", ""))
            if sha in created_here and created_here[sha] <= when:
                report.removed += store.remove_documents(store.ids_with_content(sha))
            store.record_tombstone(sha, when)
        tombstones = store.tombstones()
        names = {d["sha256"]: d["name"] for d in manifest.get("documents", [])}
        source = sqlite3.connect(f"{snapshot.as_uri()}?mode=ro", uri=True)
        try:
            rows = source.execute(
                "SELECT c.sha256, c.kind, c.created_at, d.size FROM contents c "
                "JOIN documents d ON d.sha256 = c.sha256 AND d.state = 'indexed' "
                "GROUP BY c.sha256").fetchall()
            for sha, kind, created_at, size in rows:
                if not _SHA.match(str(sha)) or store.content_known(sha):
                    continue
                if sha in tombstones and tombstones[sha] >= created_at:
                    continue  # removed here after it was indexed there
                name = names.get(sha)
                if name is None:
                    continue  # in the snapshot but not announced: its blob may be missing
                pages = source.execute(
                    "SELECT page_no, width, height, source, rotation, words FROM pages "
                    "WHERE sha256 = ? ORDER BY page_no", (sha,)).fetchall()
                chunks = source.execute(
                    "SELECT page_no, ordinal, word_start, word_end, text, model_id, vector "
                    "FROM chunks WHERE sha256 = ? ORDER BY id", (sha,)).fetchall()
                target = layout.blob_path(sha, safe_filename(name, f"document-{sha[:12]}"))
                store.import_content(sha256=sha, kind=str(kind), created_at=str(created_at),
                                     pages=pages, chunks=chunks, path=target, size=int(size))
                report.merged += 1
                if on_progress:
                    on_progress(f"merged {name}")
        finally:
            source.close()
    s3.config.save(layout.sync_config)
    report.seconds = time.monotonic() - started
    return report


def _add(report: SyncReport, attribute: str, amount: int) -> None:
    setattr(report, attribute, getattr(report, attribute) + amount)


def push(store: Store, layout: LibraryLayout, config: RemoteConfig | None = None, *,
         remote: S3Remote | None = None,
         on_progress: Callable[[str], None] | None = None) -> SyncReport:
    """Pull-merge first, then upload missing originals, a snapshot, and the manifest last."""
    started = time.monotonic()
    s3 = _remote(layout, config, remote)
    report = pull(store, layout, remote=s3, on_progress=on_progress)
    remote_blobs = s3.list("blobs/sha256")
    announced: list[dict[str, Any]] = []
    seen: set[str] = set()
    for doc in store.documents(state=DocumentState.INDEXED):
        if not doc.sha256 or doc.sha256 in seen:
            continue
        seen.add(doc.sha256)
        key = blob_key(doc.sha256)
        entry = {"sha256": doc.sha256, "name": Path(doc.path).name or "document",
                 "kind": doc.kind, "size": doc.size, "pages": doc.pages}
        if key in remote_blobs:
            report.skipped += 1
            announced.append(entry)
            continue
        if doc.path.startswith("s3://"):
            report.warnings.append(f"{doc.path}: indexed from a bucket; the original stays "
                                   "there and is not copied")
            continue
        raw = store.raw_path(doc.id)
        path = Path(os.fsdecode(raw)) if raw else None
        if path is None or not path.is_file():
            report.warnings.append(f"{doc.path}: the original is gone; not pushed")
            continue
        if sha256_file(path) != doc.sha256:
            report.warnings.append(f"{doc.path}: changed since it was indexed; index it again")
            continue
        s3.upload_file(path, key, sha256=doc.sha256,
                       on_bytes=lambda n: _add(report, "uploaded_bytes", n))
        report.uploaded += 1
        announced.append(entry)
        if on_progress:
            on_progress(f"uploaded {doc.path}")
    with tempfile.TemporaryDirectory(dir=layout.root, prefix=".push-") as tmp:
        snapshot = Path(tmp) / "snapshot.sqlite"
        take_snapshot(store.path, snapshot)
        digest = sha256_file(snapshot)
        snapshot_key = f"snapshots/{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{digest[:16]}.sqlite"
        s3.upload_file(snapshot, snapshot_key, sha256=digest,
                       on_bytes=lambda n: _add(report, "uploaded_bytes", n))
        report.uploaded += 1
    tombstones = [{"sha256": sha, "removed_at": when}
                  for sha, when in sorted(store.tombstones().items())]
    # Written last: a reader never sees a manifest that points at missing objects.
    s3.put_json(MANIFEST, {
        "version": MANIFEST_VERSION, "snapshot": snapshot_key, "snapshot_sha256": digest,
        "created_at": _now(), "documents": announced, "tombstones": tombstones,
    })
    s3.config.save(layout.sync_config)
    report.seconds = time.monotonic() - started
    return report


def take_snapshot(index: Path, target: Path) -> None:
    """A consistent copy of the index with SQLite's backup API (safe while indexing runs)."""
    source = sqlite3.connect(f"{index.as_uri()}?mode=ro", uri=True)
    dest = sqlite3.connect(target)
    try:
        source.backup(dest)
    finally:
        dest.close()
        source.close()


def status(store: Store, layout: LibraryLayout, config: RemoteConfig | None = None, *,
           remote: S3Remote | None = None) -> SyncStatus:
    """What push and pull would move, without moving anything."""
    s3 = _remote(layout, config, remote)
    manifest = s3.get_json(MANIFEST)
    if manifest is not None:
        manifest = _validate_manifest(manifest)
    remote_blobs = s3.list("blobs/sha256")
    local = {d.sha256: d for d in store.documents(state=DocumentState.INDEXED) if d.sha256}
    to_push = [d for sha, d in local.items() if blob_key(sha) not in remote_blobs]
    remote_docs = {d["sha256"] for d in (manifest or {}).get("documents", [])}
    remote_tombs = {t["sha256"] for t in (manifest or {}).get("tombstones", [])}
    local_tombs = set(store.tombstones())
    return SyncStatus(
        to_push=len(to_push),
        to_push_bytes=sum(d.size for d in to_push),
        to_pull=len(remote_docs - set(local) - local_tombs),
        tombstones_to_send=len(local_tombs - remote_tombs),
        tombstones_to_apply=len((remote_tombs - local_tombs) & set(local)),
        remote_documents=len(remote_docs),
    )


def ensure_original(store: Store, layout: LibraryLayout, doc_id: int) -> Path:
    """The document's original on disk, fetched from the bucket (and verified) if needed."""
    info = store.document(doc_id)
    raw = store.raw_path(doc_id)
    if info is None or raw is None or not info.sha256:
        raise SyncError(f"document {doc_id} has no original to fetch")
    path = Path(os.fsdecode(raw))
    if path.is_file():
        return path
    blobs = layout.blobs.resolve()
    if not path.resolve().is_relative_to(blobs):
        raise SyncError(f"{path} is missing and was not synced; it cannot be fetched")
    s3 = _remote(layout, None, None)
    s3.download_file(blob_key(info.sha256), path, sha256=info.sha256)
    return path
