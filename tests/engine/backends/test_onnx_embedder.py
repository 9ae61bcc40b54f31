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
    onnx = OnnxMiniLMEmbedder(precision="float").embed(texts)
    reference = MiniLMEmbedder().embed(texts)
    cosines = (onnx * reference).sum(axis=1)
    assert onnx.shape == reference.shape == (len(texts), 384)
    assert cosines.min() >= 0.9999, cosines.min()
    assert np.allclose(np.linalg.norm(onnx, axis=1), 1.0, atol=1e-5)


@pytest.mark.slow
def test_the_export_has_no_per_layer_mask_or_nan_guard() -> None:
    """BERT's own attention: the mask made once, no NaN guard after each softmax (12 %
    of the int8 model's time when torch's fused attention was exported)."""
    import onnx

    from engine.backends.onnx_minilm import OnnxMiniLMEmbedder

    for precision in ("float", "int8"):
        embedder = OnnxMiniLMEmbedder(precision=precision)
        embedder.load()
        assert embedder.loaded is not None
        kinds = [node.op_type for node in onnx.load(str(embedder.loaded)).graph.node]
        assert "IsNaN" not in kinds and kinds.count("Softmax") == 6, precision


@pytest.mark.slow
def test_int8_vectors_stay_comparable_and_rank_alike() -> None:
    """The int8 variant (the default) against the float one: close vectors, and every
    query finds the same passage first whichever variant embedded either side."""
    from engine.backends.onnx_minilm import OnnxMiniLMEmbedder

    int8, exact = OnnxMiniLMEmbedder(), OnnxMiniLMEmbedder(precision="float")
    texts = chunk_texts() + ["", "a", "x " * 400]
    quantised, reference = int8.embed(texts), exact.embed(texts)
    assert int8.loaded is not None and int8.loaded.name.endswith(".int8.onnx")
    cosines = (quantised * reference).sum(axis=1)
    assert cosines.min() >= 0.97 and np.median(cosines) >= 0.985, cosines.min()
    assert np.allclose(np.linalg.norm(quantised, axis=1), 1.0, atol=1e-5)
    queries = ["paper and toner order", "rent increase notice", "diet for high blood pressure",
               "budget for marketing and travel", "signed lease", "permit for a shed",
               "office chair for the dentist", "antibiotics and viruses"]
    passages = {name: e.embed(SENTENCES) for name, e in (("int8", int8), ("float", exact))}
    asked = {name: e.embed(queries) for name, e in (("int8", int8), ("float", exact))}
    for docs in passages.values():
        for found in asked.values():
            assert list((found @ docs.T).argmax(axis=1)) == list(range(len(queries)))


def test_onnx_is_the_default_and_torch_stays_selectable(monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    from engine.backends.minilm import MiniLMEmbedder
    from engine.backends.onnx_minilm import OnnxMiniLMEmbedder

    monkeypatch.delenv("SCANDEX_EMBEDDER", raising=False)
    default = make_embedder()
    assert isinstance(default, OnnxMiniLMEmbedder) and default.precision == "int8"
    exact = make_embedder("onnx-float")
    assert isinstance(exact, OnnxMiniLMEmbedder) and exact.precision == "float"
    # A Dask worker makes the embedder the client names: the same variant.
    assert (default.backend, exact.backend) == ("onnx", "onnx-float")
    assert make_embedder(exact.backend).precision == "float"
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
    # An export by an older exporter (torch's fused attention, before "attention" was
    # stamped) is made again, once.
    del stamp["attention"]
    (first.parent / "source.json").write_text(json.dumps(stamp))
    module.exported_model(model_dir, tmp_path / "cache")
    module.exported_model(model_dir, tmp_path / "cache")
    assert len(exports) == 4


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


def _fake_export(tmp_path: Path) -> Path:
    """An export folder as exported_model leaves it: the float file and its stamp."""
    import engine.backends.onnx_minilm as module

    folder = tmp_path / "minilm-onnx"
    folder.mkdir(parents=True, exist_ok=True)
    model = folder / "all-MiniLM-L6-v2.onnx"
    model.write_bytes(b"float model v1")
    (folder / "source.json").write_text(json.dumps(
        {"onnx_sha256": module._file_digest(model)}))
    return model


def test_the_int8_model_is_made_once_and_again_when_its_source_changes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import engine.backends.onnx_int8 as int8
    import engine.backends.onnx_minilm as module

    made: list[bytes] = []

    def fake_quantize(source: Path, target: Path) -> None:
        made.append(source.read_bytes())
        target.write_bytes(b"int8 of " + source.read_bytes())

    monkeypatch.setattr(int8, "quantize", fake_quantize)
    model = _fake_export(tmp_path)
    first = int8.quantized_model(model)
    assert int8.quantized_model(model) == first and len(made) == 1
    assert int8.shipped_int8(model.parent) == first
    first.write_bytes(b"damaged")
    int8.quantized_model(model)
    assert len(made) == 2 and first.read_bytes() == b"int8 of float model v1"
    model.write_bytes(b"float model v2")  # exported again from new weights
    (model.parent / "source.json").write_text(json.dumps(
        {"onnx_sha256": module._file_digest(model)}))
    assert int8.shipped_int8(model.parent) is None  # made from the old float model
    int8.quantized_model(model)
    assert made[-1] == b"float model v2" and int8.shipped_int8(model.parent) == first


def test_without_an_int8_model_the_float_one_embeds(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import engine.backends.onnx_int8 as int8
    from engine.backends.onnx_minilm import _int8_beside
    from engine.errors import ModelUnavailable

    model = _fake_export(tmp_path)

    def no_onnx(source: Path, target: Path) -> None:
        raise ModelUnavailable("making the int8 embedding model needs the onnx package")

    monkeypatch.setattr(int8, "quantize", no_onnx)
    assert _int8_beside(model) == model
    assert not (model.parent / "all-MiniLM-L6-v2.int8.onnx").exists()


def test_a_shipped_folder_gives_its_int8_model_else_its_float_one(tmp_path: Path) -> None:
    import engine.backends.onnx_int8 as int8
    import engine.backends.onnx_minilm as module

    model = _fake_export(tmp_path)
    folder = model.parent
    (folder / "tokenizer.json").write_text("{}")
    stamp = json.loads((folder / "source.json").read_text())
    (folder / "source.json").write_text(json.dumps({**stamp, "model_id": module.MINILM_ID}))
    # No int8 file shipped (an older build): the float one, for either precision.
    assert module.shipped_export(folder, "int8") == (model, folder / "tokenizer.json")
    (folder / int8.INT8_NAME).write_bytes(b"int8")
    (folder / int8.INT8_STAMP).write_text(json.dumps(
        {"source_sha256": stamp["onnx_sha256"], "scheme": int8.SCHEME}))
    assert module.shipped_export(folder, "int8") == (folder / int8.INT8_NAME,
                                                     folder / "tokenizer.json")
    model.unlink()  # the bundle ships the int8 file only
    assert module.shipped_export(folder, "int8") is not None
    assert module.shipped_export(folder, "float") is None


@pytest.mark.slow
def test_the_real_quantiser_writes_a_model_that_runs(tmp_path: Path) -> None:
    from engine.backends.onnx_int8 import INT8_NAME, quantize
    from engine.backends.onnx_minilm import exported_model

    source = exported_model()
    target = tmp_path / INT8_NAME
    quantize(source, target)
    assert 0 < target.stat().st_size < source.stat().st_size
    assert not list(tmp_path.glob(".*part*"))  # no partial file left
    import onnxruntime

    session = onnxruntime.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    ids = np.array([[101, 7592, 102]], dtype=np.int64)
    out = session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids),
                             "token_type_ids": np.zeros_like(ids)})[0]
    assert out.shape == (1, 3, 384) and np.isfinite(out).all()


@pytest.mark.slow
def test_processes_making_the_int8_model_at_once_agree(tmp_path: Path) -> None:
    """The desktop, a CLI run and Dask workers may all find the int8 file missing at once."""
    import shutil

    from engine.backends.onnx_int8 import INT8_NAME
    from engine.backends.onnx_minilm import exported_model

    source = exported_model()
    folder = tmp_path / "minilm-onnx"
    folder.mkdir()
    for name in (source.name, "source.json", "tokenizer.json"):
        shutil.copyfile(source.parent / name, folder / name)
    code = ("import sys\nfrom pathlib import Path\n"
            "from engine.backends.onnx_int8 import quantized_model\n"
            "print(quantized_model(Path(sys.argv[1])))")
    runs = [subprocess.Popen([sys.executable, "-c", code, str(folder / source.name)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(3)]
    for run in runs:
        out, err = run.communicate(timeout=300)
        assert run.returncode == 0, err
        assert out.strip().endswith(INT8_NAME)
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [source.name, "source.json", "tokenizer.json", INT8_NAME, "int8.json"])
    import onnxruntime

    session = onnxruntime.InferenceSession(str(folder / INT8_NAME),
                                           providers=["CPUExecutionProvider"])
    ids = np.array([[101, 7592, 102]], dtype=np.int64)
    out = session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids),
                             "token_type_ids": np.zeros_like(ids)})[0]
    assert out.shape == (1, 3, 384) and np.isfinite(out).all()
