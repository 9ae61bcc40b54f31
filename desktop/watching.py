"""Watched folders in the window: followed in the background while the app runs (the
engine's FolderWatcher on the bridge's watcher thread), their state in the Library tab."""

from __future__ import annotations

import time
from typing import Any

from engine.service.watch import WatchBatch


class WatchActions:
    """Mixed into MainWindow (which provides bridge, settings, library_tab, progress
    widgets, refresh_library, run_search and sync_now)."""

    bridge: Any
    settings: Any
    library_tab: Any
    progress_label: Any
    progress_bar: Any
    search_input: Any

    def connect_watching(self) -> None:
        """Wire the bridge's watch signals and start following the watched folders."""
        self.bridge.watchBatch.connect(self._watch_batch)
        self.bridge.waiting.connect(self.progress_label.setText)
        self.rewatch()

    def rewatch(self) -> None:
        """(Re)start watching the folders the settings name."""
        folders = self.settings.watched()
        self.bridge.watch(folders, self.settings.poll_seconds())
        self._show_watch_state(None)

    def _watch_batch(self, batch: WatchBatch) -> None:
        self._show_watch_state(batch)
        report = batch.report
        if report is None:
            return
        changed = report.indexed or report.reused or report.removed or report.failed
        if changed:
            self.progress_bar.setRange(0, 1)
            self.progress_bar.setValue(1)
            self.progress_label.setText(f"Watched folders: {watch_summary(batch)}.")
            self.refresh_library()  # type: ignore[attr-defined]
            if self.search_input.text().strip():
                self.run_search()  # type: ignore[attr-defined]
            if self.settings.sync_after_indexing and (report.indexed or report.removed):
                self.sync_now()  # type: ignore[attr-defined]

    def _show_watch_state(self, batch: WatchBatch | None) -> None:
        label = self.library_tab.watch_status
        folders = self.settings.watched()
        if not folders:
            label.setVisible(False)
            return
        label.setVisible(True)
        if self.bridge.read_only:
            label.setText("Watched folders are not followed: this library is read-only.")
            return
        forced = self.settings.poll_seconds()
        polling = self.bridge.watch_polling
        how = (f"looking every {forced:g} s" if forced else
               "looking every 2 s (network share)" if polling else "on file-system events")
        lines = [f"Watching {len(folders)} folder(s), {how}: "
                 + ", ".join(str(f) for f in folders)]
        if batch is not None:
            stamp = time.strftime("%H:%M")
            if batch.report is not None:
                lines.append(f"Last pass {stamp}: {watch_summary(batch)}.")
            for root in batch.offline:
                lines.append(f"{root} is not there; its documents are kept until it is back.")
            if batch.note:
                lines.append(f"{stamp}: {batch.note}")
        label.setText("\n".join(lines))


def watch_summary(batch: WatchBatch) -> str:
    """What a pass did, in words."""
    report = batch.report
    if report is None:
        return "waiting"
    parts = [f"{report.indexed} indexed"]
    for count, word in ((report.reused, "moved or copied"), (report.removed, "removed"),
                        (len(report.failed), "failed")):
        if count:
            parts.append(f"{count} {word}")
    return ", ".join(parts)
