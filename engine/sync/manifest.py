"""The bucket's layout and its manifests: what a push publishes and a pull trusts.

Under the prefix:
    blobs/sha256/<2 hex>/<sha256>      originals (content-addressed, never overwritten)
    snapshots/<time>-<digest>.sqlite   index snapshots (SQLite backup API)
    manifests/<time>-<random>.json     one per push, immutable: a snapshot, the documents
                                       it announces, every removal it knows, and the
                                       manifests it merged first ("supersedes")
    manifest.json                      the latest push, for Scandex versions that read
                                       only this one (it is also read, never trusted alone)

Every push writes a new manifest under a name no other push can choose, so concurrent
pushes never overwrite each other: correctness does not depend on the endpoint offering
conditional writes. A pull merges every manifest that no other one supersedes.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from engine.backends.s3 import S3Remote, safe_relative_key
from engine.errors import UnsafeRemote

LEGACY_MANIFEST = "manifest.json"
MANIFESTS = "manifests"
MANIFEST_VERSION = 1
_SHA = re.compile(r"^[0-9a-f]{64}$")
_NAME_BAD = re.compile(r"[\\/\x00]")
_MANIFEST_KEY = re.compile(r"^manifests/[0-9TZ]+-[0-9a-f]{12,32}\.json$")
_SNAPSHOT_TIME = re.compile(r"^snapshots/(\d{8}T\d{6})")


def blob_key(sha256: str) -> str:
    """Where an original lives in the bucket."""
    return f"blobs/sha256/{sha256[:2]}/{sha256}"


def utc_stamp(now: datetime | None = None) -> str:
    """A sortable UTC time for object names, to the microsecond."""
    return f"{(now or datetime.now(UTC)):%Y%m%dT%H%M%S%fZ}"


def new_manifest_key() -> str:
    """A manifest name no other push can pick (time first, so names sort by time)."""
    return f"{MANIFESTS}/{utc_stamp()}-{secrets.token_hex(8)}.json"


def snapshot_time(key: str) -> datetime | None:
    """When a snapshot was taken, from its name."""
    match = _SNAPSHOT_TIME.match(key)
    if not match:
        return None
    return datetime.strptime(match.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=UTC)


def validate_manifest(manifest: Any) -> dict[str, Any]:
    """Refuse anything that is not a well-formed manifest, before writing anything."""
    if not isinstance(manifest, dict) or manifest.get("version") != MANIFEST_VERSION:
        raise UnsafeRemote("a manifest in the bucket is not a Scandex manifest (version 1)")
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
    for event in manifest.get("tags", []):
        if (not isinstance(event, dict) or not _SHA.match(str(event.get("sha256", "")))
                or not isinstance(event.get("tag"), str) or not isinstance(event.get("at"), str)
                or not isinstance(event.get("present"), bool)):
            raise UnsafeRemote(f"refusing the tag entry {event!r}")
    supersedes = manifest.get("supersedes", [])
    if not isinstance(supersedes, list) or not all(
            isinstance(k, str) and _MANIFEST_KEY.match(k) for k in supersedes):
        raise UnsafeRemote("refusing the manifest's 'supersedes' list")
    return manifest


@dataclass(frozen=True)
class RemoteState:
    """The manifests a pull must merge: every one that no other supersedes."""

    live: dict[str, dict[str, Any]]  # key -> validated manifest, oldest first
    legacy: dict[str, Any] | None  # manifest.json, when it holds something new
    legacy_snapshot: str | None = None  # what manifest.json points at (old readers need it)

    @property
    def documents(self) -> dict[str, dict[str, Any]]:
        """Every announced document, by sha256."""
        return {d["sha256"]: d for m in self._all() for d in m.get("documents", [])}

    @property
    def tombstones(self) -> dict[str, str]:
        """Every removal any live manifest knows, by sha256 (the latest time)."""
        out: dict[str, str] = {}
        for m in self._all():
            for t in m.get("tombstones", []):
                when = str(t.get("removed_at", ""))
                out[t["sha256"]] = max(out.get(t["sha256"], ""), when)
        return out

    @property
    def snapshots(self) -> set[str]:
        """Snapshot keys that a reader may still need."""
        kept = {m["snapshot"] for m in self._all()}
        return kept | ({self.legacy_snapshot} if self.legacy_snapshot else set())

    def _all(self) -> list[dict[str, Any]]:
        return [*self.live.values(), *([self.legacy] if self.legacy else [])]


def read_remote_state(s3: S3Remote) -> RemoteState:
    """List and validate the manifests; those superseded by another are left out.

    A manifest deleted between listing and reading was superseded by a push that merged
    it, and that push's manifest is (or will be at the next pull) in the listing.
    """
    found: dict[str, dict[str, Any]] = {}
    for key in sorted(s3.list(MANIFESTS)):
        if not _MANIFEST_KEY.match(key):
            continue  # not ours (or a temporary object of some tool): ignore
        manifest = s3.get_json(key)
        if manifest is not None:
            found[key] = validate_manifest(manifest)
    superseded = {k for m in found.values() for k in m.get("supersedes", [])}
    live = {k: m for k, m in found.items() if k not in superseded}
    legacy = s3.get_json(LEGACY_MANIFEST)
    legacy_snapshot = None
    if legacy is not None:
        legacy = validate_manifest(legacy)
        legacy_snapshot = str(legacy["snapshot"])
        known = {m["snapshot_sha256"] for m in found.values()}
        if legacy["snapshot_sha256"] in known:
            legacy = None  # a copy of one of ours: nothing new in it
    return RemoteState(live, legacy, legacy_snapshot)
