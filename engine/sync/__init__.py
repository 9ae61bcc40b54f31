"""Sync a library through any S3-compatible bucket: push, pull (merge by content), status."""

from engine.sync.remote import RemoteConfig, S3Remote, safe_relative_key
from engine.sync.sync import SyncReport, SyncStatus, ensure_original, pull, push, status

__all__ = [
    "RemoteConfig",
    "S3Remote",
    "SyncReport",
    "SyncStatus",
    "ensure_original",
    "pull",
    "push",
    "safe_relative_key",
    "status",
]
