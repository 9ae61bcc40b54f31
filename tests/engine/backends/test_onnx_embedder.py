"""The ONNX Runtime embedder: the same vectors as sentence-transformers, chosen by
default, and a query path that never imports torch."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine import UsageError
from engine.backends.factory import make_embedder

pytest.importorskip("onnxruntime")

SENTENCES = [
    "Invoice number 2024-0173 for twelve boxes of printer paper and four toner cartridges",
    "The landlord may increase the monthly rent once a year with three months notice",
    "Patients with elevated blood pressure were given a low sodium diet for six weeks",
    "Quarterly budget review: marketing spend rose while travel costs fell sharply",
    "Please return the signed lease agreement before the end of the month",
    "The council approved the building permit for a garden shed behind the house",
    "Ergonomic desk chair, adjustable armrests, delivered to Riverside Dental Clinic",
    "Antibiotics are not effective against viral infections such as the common cold",
]


def chunk_texts(count: int = 240, seed: int = 11) -> list[str]:
    """OCR-like chunks: sentences mixed, cut, and sprinkled with scanner noise."""
    rng = random.Random(seed)
    words = " ".join(SENTENCES).split()
    out = []
    for _ in range(count):
        start = rng.randrange(len(words))
        piece = [w if rng.random() > 0.05 else w.replace("o", "0") for w in
                 (words[start:] + words)[: rng.randint(3, 120)]]
        out.append(" ".join(piece))
    return out


@pytest.mark.slow
def test_onnx_vectors_match_sentence_transformers() -> None:
    from engine.backends.minilm import MiniLMEmbedder
    from engine.backends.onnx_minilm import OnnxMiniLMEmbedder

    texts = chunk_texts() + ["", "a", "x " * 400]  # empty, tiny and over the token limit
    onnx = OnnxMiniLMEmbedder().embed(texts)
    reference = MiniLMEmbedder().embed(texts)
    cosines = (onnx * reference).sum(axis=1)
    assert onnx.shape == reference.shape == (len(texts), 384)
    assert cosines.min() >= 0.9999, cosines.min()
    assert np.allclose(np.linalg.norm(onnx, axis=1), 1.0, atol=1e-5)


def test_onnx_is_the_default_and_torch_stays_selectable(monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    from engine.backends.minilm import MiniLMEmbedder
    from engine.backends.onnx_minilm import OnnxMiniLMEmbedder

    monkeypatch.delenv("SCANDEX_EMBEDDER", raising=False)
    assert isinstance(make_embedder(), OnnxMiniLMEmbedder)
    assert isinstance(make_embedder("torch"), MiniLMEmbedder)
    monkeypatch.setenv("SCANDEX_EMBEDDER", "torch")
    assert isinstance(make_embedder(), MiniLMEmbedder)
    assert make_embedder("onnx").model_id == make_embedder("torch").model_id  # no re-index
    with pytest.raises(UsageError):
        make_embedder("word2vec")


def test_a_stale_export_is_redone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import engine.backends.onnx_minilm as module

    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "model.safetensors").write_bytes(b"weights v1")
    exports: list[Path] = []

    def fake_export(_model_dir: Path, target: Path) -> None:
        exports.append(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"onnx of " + (_model_dir / "model.safetensors").read_bytes())

    monkeypatch.setattr(module, "export", fake_export)
    first = module.exported_model(model_dir, tmp_path / "cache")
    assert module.exported_model(model_dir, tmp_path / "cache") == first and len(exports) == 1
    (model_dir / "model.safetensors").write_bytes(b"weights v2")  # a new package version
    module.exported_model(model_dir, tmp_path / "cache")
    first.write_bytes(b"tampered")  # a damaged cache
    module.exported_model(model_dir, tmp_path / "cache")
    assert len(exports) == 3
    stamp = json.loads((first.parent / "source.json").read_text())
    assert stamp["model_id"] == "sentence-transformers/all-MiniLM-L6-v2"


def test_an_export_unchanged_since_it_was_hashed_is_not_hashed_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    import engine.backends.onnx_minilm as module

    model_dir = tmp_path / "model"
    model_dir.mkdir()
    weights = model_dir / "model.safetensors"
    weights.write_bytes(b"weights v1")
    exports: list[Path] = []

    def fake_export(_model_dir: Path, target: Path) -> None:
        exports.append(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"onnx of " + (_model_dir / "model.safetensors").read_bytes())
        os.utime(target, (1_600_000_000, 1_600_000_000))  # as if exported long ago

    monkeypatch.setattr(module, "export", fake_export)
    os.utime(weights, (1_600_000_000, 1_600_000_000))
    target = module.exported_model(model_dir, tmp_path / "cache")
    hashed: list[Path] = []
    real_digest = module._file_digest
    monkeypatch.setattr(module, "_file_digest", lambda p: hashed.append(p) or real_digest(p))
    monkeypatch.setattr(module, "_weights_digest",
                        lambda d: hashed.append(d) or real_digest(d / "model.safetensors"))
    assert module.exported_model(model_dir, tmp_path / "cache") == target
    assert hashed == [] and len(exports) == 1
    # A new package version: its stat changed, so the digests are taken again.
    weights.write_bytes(b"weights v2")
    module.exported_model(model_dir, tmp_path / "cache")
    assert hashed and len(exports) == 2
    assert target.read_bytes() == b"onnx of weights v2"


@pytest.mark.slow
def test_one_shot_search_never_imports_torch(tmp_path: Path) -> None:
    from engine import Library
    from engine.backends.pool import InlineExecutor
    from engine.testing import FakeOcr, write_fake_scan

    with Library.open(tmp_path / "lib", ocr=FakeOcr(), executor=InlineExecutor()) as lib:
        lib.add([write_fake_scan(tmp_path / "a.png", "monthly rent for the flat")])
    code = ("import sys\nfrom engine.cli.main import main\n"
            f"code = main(['--library', {str(tmp_path / 'lib')!r}, 'search', 'rent', "
            "'--json'])\nprint('TORCH', 'torch' in sys.modules, code)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert out.returncode == 0, out.stderr
    assert "TORCH False 0" in out.stdout and "a.png" in out.stdout
