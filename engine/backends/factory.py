"""Backends by name: a new OCR engine, embedder or executor is one file plus one line here."""

from __future__ import annotations

from typing import Any

from engine.backends.pool import InlineExecutor, LocalPoolExecutor
from engine.errors import UsageError
from engine.protocols import Embedder, OcrEngine


def make_ocr(name: str | None = None) -> OcrEngine:
    """The OCR engine: 'tesseract' (the default and, today, the only real one)."""
    if name in (None, "", "tesseract"):
        from engine.backends.tesseract import TesseractOcr

        return TesseractOcr()
    raise UsageError(f"unknown OCR engine '{name}'; use tesseract")


def make_embedder(name: str | None = None) -> Embedder:
    """The embedder: 'minilm' (all-MiniLM-L6-v2 through sentence-transformers)."""
    if name in (None, "", "minilm", "torch"):
        from engine.backends.minilm import MiniLMEmbedder

        return MiniLMEmbedder()
    raise UsageError(f"unknown embedder '{name}'; use minilm")


def make_executor(spec: str | None = None, workers: int | None = None) -> Any:
    """An executor for a spec: None/'local' (pool), 'inline', 'local:N' or 'tcp://...' (Dask)."""
    if spec in (None, "", "local"):
        return LocalPoolExecutor(workers)
    if spec == "inline":
        return InlineExecutor()
    if is_cluster_address(spec):
        from engine.backends.dask_cluster import DaskExecutor

        return DaskExecutor(spec)
    raise UsageError(f"unknown executor '{spec}'; use local, inline, local:N or tcp://HOST:PORT")


def is_cluster_address(spec: str) -> bool:
    """Whether an executor spec names a Dask scheduler ('local:N', tcp://, tls://)."""
    return spec.startswith(("local:", "tcp://", "tls://"))
