"""The int8 variant of the exported MiniLM: its matrix products' weights quantised to
8-bit integers (ONNX Runtime's dynamic quantisation), activations quantised per run.

Measured here (docs/benchmarks.md, "The int8 embedder"): 2.0x less CPU per chunk than the
float export, cosine >= 0.985 to its vectors, and SciFact nDCG@10 0.6502 against 0.6451
(0.6455-0.6515 when a library's vectors and its queries come from different variants),
so the variants stay comparable and a library needs no re-index.

The scheme: per-channel scales (one per output column: MiniLM's columns differ by orders
of magnitude) and 7-bit weights (`reduce_range`): ONNX Runtime's advice for CPUs without
VNNI, whose 8-bit products can saturate (this machine has VNNI; none without it was
measured). Only MatMul nodes are quantised; the token embedding table stays float
(stored as float16, like the float export's weights).
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from engine.errors import ModelUnavailable

INT8_NAME = "all-MiniLM-L6-v2.int8.onnx"
INT8_STAMP = "int8.json"
SCHEME = "matmul-per-channel-7bit/1"


def _float_digest(folder: Path) -> str | None:
    """The SHA-256 the float export's stamp records for it (None without one)."""
    from engine.backends.onnx_minilm import _read_stamp

    digest = _read_stamp(folder / "source.json").get("onnx_sha256")
    return digest if isinstance(digest, str) else None


def shipped_int8(folder: Path) -> Path | None:
    """The int8 file in an export folder when it was made from the float file there by
    this scheme (compared by the digests the stamps record: nothing is hashed)."""
    from engine.backends.onnx_minilm import _read_stamp

    target = folder / INT8_NAME
    recorded = _read_stamp(folder / INT8_STAMP)
    source = _float_digest(folder)
    if (target.is_file() and source is not None and recorded.get("source_sha256") == source
            and recorded.get("scheme") == SCHEME):
        return target
    return None


def quantized_model(float_model: Path) -> Path:
    """The int8 file beside float_model, quantising it first when missing or stale (the
    float export changed, the scheme changed, or the file was damaged)."""
    from engine.backends.onnx_minilm import (
        _file_digest,
        _read_stamp,
        _stat_of,
        _stat_trusted,
        _write_stamp,
    )

    folder = float_model.parent
    target, stamp = folder / INT8_NAME, folder / INT8_STAMP
    source = _float_digest(folder) or _file_digest(float_model)
    recorded = _read_stamp(stamp)
    expected = {"source_sha256": source, "scheme": SCHEME}
    if (target.is_file() and all(recorded.get(k) == v for k, v in expected.items())
            and _stat_trusted(recorded, [target])):
        return target
    if not (target.is_file() and all(recorded.get(k) == v for k, v in expected.items())
            and recorded.get("int8_sha256") == _file_digest(target)):
        quantize(float_model, target)
    _write_stamp(stamp, {**expected, "int8_sha256": _file_digest(target),
                         "files_stat": [_stat_of(target)], "hashed_at_ns": time.time_ns()})
    return target


def _as_float32(model: Any) -> Any:
    """The float export with its float16-stored weights back in float32 and their Casts
    gone: the quantiser finds MatMul weights only among the graph's initializers."""
    import numpy as np
    from onnx import numpy_helper

    graph = model.graph
    stored = {weight.name: weight for weight in graph.initializer}
    for node in list(graph.node):
        if node.op_type == "Cast" and node.input[0] in stored and \
                node.input[0].endswith(".f16"):
            values = numpy_helper.to_array(stored[node.input[0]]).astype(np.float32)
            graph.initializer.remove(stored.pop(node.input[0]))
            graph.initializer.append(numpy_helper.from_array(values, node.output[0]))
            graph.node.remove(node)
    return model


def quantize(float_model: Path, target: Path) -> None:
    """Write the int8 variant of float_model to target (whole or not at all)."""
    from engine.backends.onnx_minilm import store_weights_as_float16

    try:
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as e:
        raise ModelUnavailable(
            f"making the int8 embedding model needs the onnx package ({e.name}); install "
            "it, or use the float model (--embedder onnx-float)") from e
    # One partial file per process: the desktop, a CLI run and Dask workers may all
    # find the int8 file missing at once; each writes its own and the renames agree.
    partial = target.with_name(f".{target.stem}.{os.getpid()}.part.onnx")
    try:
        model = _as_float32(onnx.load(str(float_model)))
        # The quantiser logs advice for image models to the root logger: not for users.
        logging.disable(logging.WARNING)
        try:
            quantize_dynamic(model, partial, per_channel=True, reduce_range=True,
                             weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"])
        finally:
            logging.disable(logging.NOTSET)
        # The embedding tables only: the quantiser's scales (up to 1,536 a node) stay exact.
        store_weights_as_float16(partial, min_size=65_536)
        partial.replace(target)
    except Exception as e:  # noqa: BLE001 - any failure here means the same to the user
        partial.unlink(missing_ok=True)
        raise ModelUnavailable(f"cannot make the int8 embedding model: {e}; use the float "
                               "model (--embedder onnx-float)") from e
