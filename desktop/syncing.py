"""Sync in the window: push (after pulling) through the bucket set in Settings, with
progress in the status line and Cancel, queued with drops on the engine's writer."""

from __future__ import annotations

from typing import Any


class SyncActions:
    """Mixed into MainWindow (which provides bridge, settings, the progress widgets and
    refresh_library)."""

    bridge: Any
    settings: Any
    progress_label: Any
    progress_bar: Any
    cancel_button: Any

    def connect_syncing(self) -> None:
        """Wire the bridge's sync signals."""
        self.bridge.syncProgress.connect(self.progress_label.setText)
        self.bridge.syncFinished.connect(self._sync_done)
        self.bridge.syncFailed.connect(self._sync_failed)

    def sync_now(self) -> None:
        """Push (after pulling) through the S3 bucket set in Settings, in the background."""
        from engine import RemoteConfig, ScandexError

        s = self.settings
        if not s.s3_bucket:
            self.progress_label.setText("Set an S3 bucket in File → Settings to sync.")
            return
        try:
            config = RemoteConfig(bucket=s.s3_bucket, prefix=s.s3_prefix or "scandex",
                                  endpoint_url=s.s3_endpoint or None,
                                  profile=s.s3_profile or None)
        except ScandexError as e:
            self.progress_label.setText(f"Sync settings: {e}")
            return
        self.progress_label.setText(f"Syncing with s3://{s.s3_bucket}/{config.prefix} …")
        self.progress_bar.setRange(0, 0)
        self.cancel_button.setEnabled(True)
        self.bridge.sync(config)

    def _sync_done(self, report: Any) -> None:
        self._sync_ended()
        moved = (f"{report.merged} document(s) in, {report.uploaded} object(s) out "
                 f"({report.uploaded_bytes / 1e6:.1f} MB), {report.removed} removed")
        if report.cancelled:
            self.progress_label.setText(f"Sync cancelled: {moved}; the rest goes next time.")
        else:
            self.progress_label.setText(f"Synced: {moved}, {report.seconds:.1f} s")
        self.refresh_library()  # type: ignore[attr-defined]

    def _sync_failed(self, error: Exception) -> None:
        self._sync_ended()
        self.progress_label.setText(f"Sync failed: {error}")

    def _sync_ended(self) -> None:
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(1)
        self.cancel_button.setEnabled(self.bridge.indexing)
