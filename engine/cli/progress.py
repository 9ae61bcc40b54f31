"""The CLI's drawing of the progress protocol: a rich bar with pages/s and ETA."""

from __future__ import annotations

from typing import Any

from engine.progress import IndexProgress


class RichProgress:
    """A ProgressSink that draws on the terminal (stderr)."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("[bold]indexing"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} pages"),
            TextColumn("{task.fields[files]}"),
            TextColumn("{task.fields[rate]}"),
            TextColumn("ETA {task.fields[eta]}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self._task = self._progress.add_task("index", total=None, files="", rate="", eta="?")

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._progress.stop()

    def update(self, progress: IndexProgress) -> None:
        """Redraw the bar."""
        eta = progress.eta_s
        self._progress.update(
            self._task,
            completed=progress.pages_done,
            total=progress.pages_total or None,
            files=f"{progress.files_done}/{progress.files_total} files"
            + (f", {progress.files_failed} failed" if progress.files_failed else ""),
            rate=f"{progress.pages_per_s:.2f} pages/s",
            eta="?" if eta is None else f"{eta:.0f}s",
        )

    def document_done(self, path: str, ok: bool, error: str | None) -> None:
        """Print failures above the bar as they happen."""
        if not ok:
            from rich.markup import escape

            self._progress.console.print(f"[red]failed[/red] {escape(path)}: {escape(error or '')}")
