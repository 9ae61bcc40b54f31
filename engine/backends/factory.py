"""Backends by name: a new OCR engine, embedder or executor is one file plus one line here."""

from __future__ import annotations

import os
from typing import Any

from engine.errors import UsageError
from engine.protocols import Embedder, OcrEngine

OCR_ENV = "SCANDEX_OCR"


def make_ocr(name: str | None = None) -> OcrEngine:
    """Tesseract, 'tesserocr' (in-process through the tesserocr wheel: the default when it
    imports and finds language models) or 'tesseract' (the CLI through pytesseract: the
    frozen app's, and the fallback). Both read with the same adaptive strategy.
    name, else $SCANDEX_OCR, else the default."""
    import sys

    choice = (name or os.environ.get(OCR_ENV) or "").strip().lower()
    if choice in ("", "auto"):
        from engine.backends.tesserocr_ocr import tesserocr_usable

        # The frozen app ships the tesseract CLI and its models; it stays on that.
        # A tesseract program named by $SCANDEX_TESSERACT is the one the user wants run.
        frozen = getattr(sys, "frozen", False) or bool(os.environ.get("SCANDEX_TESSERACT"))
        choice = "tesserocr" if not frozen and tesserocr_usable() else "tesseract"
    if choice == "tesserocr":
        from engine.backends.tesserocr_ocr import TesserocrOcr, tesserocr_usable

        if not tesserocr_usable():
            raise UsageError("the tesserocr OCR engine needs the tesserocr package and "
                             "Tesseract's language models; use --ocr tesseract")
        return TesserocrOcr()
    if choice in ("tesseract", "cli"):
        from engine.backends.tesseract import TesseractOcr

        return TesseractOcr()
    raise UsageError(f"unknown OCR engine '{choice}'; use tesserocr or tesseract")


EMBEDDER_ENV = "SCANDEX_EMBEDDER"


def make_embedder(name: str | None = None) -> Embedder:
    """all-MiniLM-L6-v2 through 'onnx' (ONNX Runtime, the int8 variant: the default when
    installed, no torch at query time, half the CPU of float), 'onnx-float' (ONNX Runtime,
    float: cosine >= 0.9999 to the reference) or 'torch' (sentence-transformers: the
    reference, and the exporter). Their vectors are comparable (int8: cosine >= 0.985,
    the same SciFact nDCG@10), so a library needs no re-index when the choice changes.
    name, else $SCANDEX_EMBEDDER, else onnx when onnxruntime is installed."""
    import importlib.util

    choice = (name or os.environ.get(EMBEDDER_ENV) or "").strip().lower()
    if choice in ("", "auto"):
        choice = "onnx" if importlib.util.find_spec("onnxruntime") else "torch"
    if choice in ("onnx", "onnx-float"):
        from engine.backends.onnx_minilm import OnnxMiniLMEmbedder

        return OnnxMiniLMEmbedder(precision="int8" if choice == "onnx" else "float")
    if choice in ("torch", "minilm"):
        from engine.backends.minilm import MiniLMEmbedder

        return MiniLMEmbedder()
    raise UsageError(f"unknown embedder '{choice}'; use onnx, onnx-float or torch")


def make_executor(spec: str | None = None, workers: int | None = None) -> Any:
    """An executor for a spec: None/'local' (pool), 'inline', 'local:N' or 'tcp://...' (Dask)."""
    # The pool's module brings multiprocessing: a one-shot search never needs it.
    from engine.backends.pool import InlineExecutor, LocalPoolExecutor

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
