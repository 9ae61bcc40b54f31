"""Every seam between the engine and the outside: OCR, embedding, task execution.

Each has a real implementation in `engine.backends` and a fast fake in `engine.testing`.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from engine.models import Word

if TYPE_CHECKING:
    import numpy as np  # loaded where used: keyword-only processes never need it

T = TypeVar("T")
R = TypeVar("R")
Image = Any  # a PIL.Image.Image; PIL is not imported here so the seams stay light


@dataclass(frozen=True)
class OcrOptions:
    """How to OCR a page."""

    lang: str = "eng"
    timeout_s: float = 300.0
    detect_rotation: bool = True
    psm: int = 3


@dataclass(frozen=True)
class OcrResult:
    """Words in the coordinates of the upright page, and how it was turned."""

    words: list[Word]
    width: int
    height: int
    rotation: int = 0


class OcrEngine(Protocol):
    """Anything that turns a page image into words (Tesseract; a fake in tests)."""

    def ocr(self, image: Image, options: OcrOptions) -> OcrResult:
        """Recognise the words on image."""
        ...

    def check(self, lang: str) -> None:
        """Raise a MissingDependency error if lang cannot be read."""
        ...


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of one fixed model."""

    model_id: str
    dim: int

    def embed(self, texts: list[str]) -> np.ndarray:
        """An (n, dim) float32 array, each row of unit length."""
        ...


class TaskExecutor(Protocol):
    """Runs picklable functions on picklable arguments somewhere."""

    workers: int

    def submit(self, fn: Callable[[T], R], arg: T) -> Future[R]:
        """Schedule fn(arg)."""
        ...

    def restart(self) -> None:
        """Replace broken workers (after a worker process died)."""
        ...

    def shutdown(self, *, cancel: bool = False) -> None:
        """Stop the workers; with cancel, drop tasks that have not started."""
        ...
