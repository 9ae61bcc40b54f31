"""push, pull and status: one library across machines through a bucket.

The bucket's layout and manifests are in `sync/manifest.py`. Pull merges by content
hash: a union, never an overwrite. A removal travels as a tombstone (sha256, when) and
wins only over content (re-)added before it, on every machine, in any order of events.
push pulls first, so the manifest it writes holds the union of all it merged.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from engine.backends.s3 import RemoteConfig, S3Remote
from engine.content import safe_filename, sha256_file
from engine.errors import SyncError, UsageError
from engine.layout import LibraryLayout
from engine.models import DocumentInfo, DocumentState
from engine.progress import CancelToken
from engine.store.db import Store, now_iso
from engine.store.snapshot import Snapshot, open_snapshot, take_snapshot
from engine.store.tags import TagEvent, clean_tag
from engine.sync.manifest import (
    LEGACY_MANIFEST,
    MANIFEST_VERSION,
    RemoteState,
    blob_key,
    new_manifest_key,
    read_remote_state,
    snapshot_time,
    utc_stamp,
)

# Snapshots no manifest points at are deleted only after this long: a reader may still be
# downloading one that a newer push just superseded, and a concurrent push uploads its
# snapshot a moment before its manifest.
SNAPSHOT_GRACE = timedelta(hours=1)
_MERGED_META = "sync.merged_snapshots"
_SHA_LEN = 64


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
    # Stopped on request: what moved is kept; a push stopped before its manifest
    # announces nothing (its uploaded originals are reused by the next push).
    cancelled: bool = False

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


def _add(report: SyncReport, attribute: str, amount: int) -> None:
    setattr(report, attribute, getattr(report, attribute) + amount)


def _merged_snapshots(store: Store) -> set[str]:
    raw = store.get_meta(_MERGED_META)
    return set(json.loads(raw)) if raw else set()


def _remember_merged(store: Store, digests: set[str]) -> None:
    with store.transaction():
        store.set_meta(_MERGED_META, json.dumps(sorted(digests)))


def pull(store: Store, layout: LibraryLayout, config: RemoteConfig | None = None, *,
         remote: S3Remote | None = None,
         on_progress: Callable[[str], None] | None = None,
         cancel: CancelToken | None = None) -> SyncReport:
    """Merge what every machine pushed into the library (documents become searchable
    without OCR; their originals are fetched when first opened)."""
    started = time.monotonic()
    report, _state = _pull(store, layout, _remote(layout, config, remote), on_progress,
                           cancel or CancelToken())
    report.seconds = time.monotonic() - started
    return report


def _pull(store: Store, layout: LibraryLayout, s3: S3Remote,
          on_progress: Callable[[str], None] | None,
          cancel: CancelToken) -> tuple[SyncReport, RemoteState]:
    report = SyncReport()
    state = read_remote_state(s3)  # every manifest validated before anything is written
    s3.config.save(layout.sync_config)
    merged = _merged_snapshots(store)
    pending = list(state.live.values()) + ([state.legacy] if state.legacy else [])
    for manifest in pending:
        if manifest["snapshot_sha256"] in merged:
            continue
        if cancel.cancelled:  # between manifests: each one merges whole
            report.cancelled = True
            break
        _merge_manifest(store, layout, s3, manifest, report, on_progress)
        merged.add(manifest["snapshot_sha256"])
    # Only what is still published needs remembering.
    _remember_merged(store, merged & {m["snapshot_sha256"] for m in pending})
    return report, state


def _merge_manifest(store: Store, layout: LibraryLayout, s3: S3Remote,
                    manifest: dict[str, Any], report: SyncReport,
                    on_progress: Callable[[str], None] | None) -> None:
    with tempfile.TemporaryDirectory(dir=layout.root, prefix=".pull-") as tmp:
        snapshot = Path(tmp) / "snapshot.sqlite"
        s3.download_file(manifest["snapshot"], snapshot, sha256=manifest["snapshot_sha256"],
                         on_bytes=lambda n: _add(report, "downloaded_bytes", n))
        report.downloaded += 1
        _apply_tombstones(store, manifest.get("tombstones", []), report)
        _merge_tags(store, manifest.get("tags", []))
        names = {d["sha256"]: d["name"] for d in manifest.get("documents", [])}
        with open_snapshot(snapshot, manifest["snapshot"]) as source:
            _import_documents(store, layout, source, names, report, on_progress)


def _merge_tags(store: Store, events: list[dict[str, Any]]) -> None:
    """Tags from elsewhere: the later event of each (content, tag) wins, so every order
    of pushes and pulls ends with the same tags everywhere. A tag that is not a valid
    tag here is skipped, not the whole pull."""
    valid = []
    for event in events:
        try:
            tag = clean_tag(event["tag"])
        except UsageError:
            continue
        valid.append(TagEvent(event["sha256"], tag, event["present"], event["at"]))
    store.tags.merge(valid)


def _apply_tombstones(store: Store, tombstones: list[dict[str, Any]],
                      report: SyncReport) -> None:
    """Removals elsewhere: forget content that was not (re-)added here since. The removal
    keeps its own time, so it never wins over a re-add that happened after it."""
    created_here = store.content_created()
    for tomb in tombstones:
        sha, when = tomb["sha256"], str(tomb.get("removed_at", ""))
        if sha in created_here and created_here[sha] < when:
            report.removed += store.remove_documents(store.ids_with_content(sha),
                                                     removed_at=when)
        store.record_tombstone(sha, when)


def _import_documents(store: Store, layout: LibraryLayout, source: Snapshot,
                      names: dict[str, str], report: SyncReport,
                      on_progress: Callable[[str], None] | None) -> None:
    tombstones = store.tombstones()
    for sha, kind, created_at, size in source.indexed_contents():
        if len(str(sha)) != _SHA_LEN or store.content_known(sha):
            continue
        if sha in tombstones and tombstones[sha] > created_at:
            continue  # removed (here or elsewhere) after it was indexed there
        name = names.get(sha)
        if name is None:
            continue  # in the snapshot but not announced: its blob may be missing
        pages = source.pages(sha)
        chunks = source.chunks(sha)
        target = layout.blob_path(sha, safe_filename(name, f"document-{sha[:12]}"))
        store.import_content(sha256=sha, kind=str(kind), created_at=str(created_at),
                             pages=pages, chunks=chunks, path=target, size=int(size))
        report.merged += 1
        if on_progress:
            on_progress(f"merged {name}")


def push(store: Store, layout: LibraryLayout, config: RemoteConfig | None = None, *,
         remote: S3Remote | None = None,
         on_progress: Callable[[str], None] | None = None,
         snapshot_grace: timedelta = SNAPSHOT_GRACE,
         cancel: CancelToken | None = None) -> SyncReport:
    """Pull-merge first, then upload missing originals, a snapshot, and a new manifest
    that supersedes every manifest it merged."""
    started = time.monotonic()
    cancel = cancel or CancelToken()
    s3 = _remote(layout, config, remote)
    report, state = _pull(store, layout, s3, on_progress, cancel)
    announced = _upload_originals(store, s3, report, on_progress, cancel)
    if report.cancelled:
        report.seconds = time.monotonic() - started
        return report
    with tempfile.TemporaryDirectory(dir=layout.root, prefix=".push-") as tmp:
        snapshot = Path(tmp) / "snapshot.sqlite"
        take_snapshot(store.path, snapshot)
        digest = sha256_file(snapshot)
        snapshot_key = f"snapshots/{utc_stamp()}-{digest[:16]}.sqlite"
        s3.upload_file(snapshot, snapshot_key, sha256=digest,
                       on_bytes=lambda n: _add(report, "uploaded_bytes", n))
        report.uploaded += 1
    tombstones = [{"sha256": sha, "removed_at": when}
                  for sha, when in sorted(store.tombstones().items())]
    manifest = {
        "version": MANIFEST_VERSION, "snapshot": snapshot_key, "snapshot_sha256": digest,
        "created_at": now_iso(), "documents": announced, "tombstones": tombstones,
        "tags": [{"sha256": e.sha256, "tag": e.tag, "present": e.present, "at": e.at}
                 for e in store.tags.events()],
        "supersedes": sorted(state.live),
    }
    # Written after every object it names, under a name of its own: no other push can
    # overwrite it, whatever the endpoint does about concurrent writes.
    s3.put_json(new_manifest_key(), manifest)
    s3.put_json(LEGACY_MANIFEST, manifest)  # for Scandex versions that read only this
    _remember_merged(store, _merged_snapshots(store) | {digest})
    _tidy(s3, superseded=list(state.live), grace=snapshot_grace, report=report)
    report.seconds = time.monotonic() - started
    return report


def _upload_originals(store: Store, s3: S3Remote, report: SyncReport,
                      on_progress: Callable[[str], None] | None,
                      cancel: CancelToken) -> list[dict[str, Any]]:
    """Upload originals the bucket lacks; returns the documents to announce."""
    remote_blobs = s3.list("blobs/sha256")
    announced: list[dict[str, Any]] = []
    seen: set[str] = set()
    for doc in store.documents(state=DocumentState.INDEXED):
        if not doc.sha256 or doc.sha256 in seen:
            continue
        seen.add(doc.sha256)
        key = blob_key(doc.sha256)
        # The name only names the copy another machine fetches: any character a pull
        # refuses (a backslash is legal in a POSIX name) becomes "_".
        name = safe_filename(Path(doc.path).name.replace("\\", "_"), "document")
        entry = {"sha256": doc.sha256, "name": name,
                 "kind": doc.kind, "size": doc.size, "pages": doc.pages}
        if key in remote_blobs:
            report.skipped += 1
            announced.append(entry)
            continue
        if cancel.cancelled or report.cancelled:  # after the file in flight
            report.cancelled = True
            break
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
    return announced


def _tidy(s3: S3Remote, *, superseded: list[str], grace: timedelta,
          report: SyncReport) -> None:
    """Delete the manifests this push superseded, and snapshots no manifest needs any
    more once they are older than the grace period. Tidying is best effort: a failure
    here leaves garbage, never a gap."""
    try:
        for key in superseded:
            s3.delete(key)
        needed = read_remote_state(s3).snapshots
        cutoff = datetime.now(UTC) - grace
        for key in s3.list("snapshots"):
            taken = snapshot_time(key)
            if key not in needed and taken is not None and taken < cutoff:
                s3.delete(key)
    except SyncError as e:
        report.warnings.append(f"could not tidy the bucket ({e}); nothing is lost")


def status(store: Store, layout: LibraryLayout, config: RemoteConfig | None = None, *,
           remote: S3Remote | None = None) -> SyncStatus:
    """What push and pull would move, without moving anything."""
    s3 = _remote(layout, config, remote)
    state = read_remote_state(s3)
    remote_docs = state.documents
    remote_blobs = s3.list("blobs/sha256")
    local = {d.sha256: d for d in store.documents(state=DocumentState.INDEXED) if d.sha256}
    # Not announced by any manifest (a lost race, a failed push) or its blob is missing.
    to_push = [d for sha, d in local.items()
               if sha not in remote_docs or blob_key(sha) not in remote_blobs]
    remote_tombs = set(state.tombstones)
    local_tombs = set(store.tombstones())
    return SyncStatus(
        to_push=len(to_push),
        to_push_bytes=sum(d.size for d in to_push),
        to_pull=len(set(remote_docs) - set(local) - local_tombs),
        tombstones_to_send=len(local_tombs - remote_tombs),
        tombstones_to_apply=len((remote_tombs - local_tombs) & set(local)),
        remote_documents=len(remote_docs),
    )


def ensure_original(store: Store, layout: LibraryLayout, doc_id: int) -> Path:
    """The document's original on disk, fetched from the bucket (and verified) if needed:
    a pulled document into its place under blobs/, a local original deleted from disk
    into a viewing copy under cache/ (restore_original puts it back where it was)."""
    info, path = _original_of(store, doc_id)
    if path.is_file():
        return path
    assert info.sha256 is not None
    if not path.resolve().is_relative_to(layout.blobs.resolve()):
        copy = layout.cached_copy(info.sha256, safe_filename(path.name, "original"))
        if copy.is_file() and sha256_file(copy) == info.sha256:
            return copy
        path = copy
    _fetch(layout, info.sha256, path, f"{info.path} is gone from disk")
    return path


def restore_original(store: Store, layout: LibraryLayout, doc_id: int) -> Path:
    """Put a deleted original back where it was indexed from, from the bucket's copy."""
    info, path = _original_of(store, doc_id)
    if path.exists():
        raise UsageError(f"{info.path} is there; nothing to restore")
    assert info.sha256 is not None
    _fetch(layout, info.sha256, path, f"{info.path} cannot be restored")
    return path


def _original_of(store: Store, doc_id: int) -> tuple[DocumentInfo, Path]:
    info = store.document(doc_id)
    raw = store.raw_path(doc_id)
    if info is None or raw is None or not info.sha256 or info.path.startswith("s3://"):
        raise SyncError(f"document {doc_id} has no original in the sync bucket")
    return info, Path(os.fsdecode(raw))


def _fetch(layout: LibraryLayout, sha256: str, target: Path, why: str) -> None:
    """Download a blob for someone waiting on it (a preview, an open, a restore): two
    short tries, not a push's patient retries, so an unreachable bucket answers in
    seconds."""
    config = RemoteConfig.load(layout.sync_config)
    if config is None:
        raise SyncError(f"{why}, and no sync bucket is configured to fetch it from")
    remote = S3Remote(replace(config, max_attempts=2, connect_timeout_s=3.0,
                              read_timeout_s=20.0))
    if not remote.exists(blob_key(sha256)):
        raise SyncError(f"{why}, and the sync bucket s3://{config.bucket}/{remote.prefix} "
                        "has no copy of it (push it from a library that has it)")
    remote.download_file(blob_key(sha256), target, sha256=sha256)
