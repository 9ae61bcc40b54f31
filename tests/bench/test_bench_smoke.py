"""Smoke runs of the quality benchmarks (the full runs are in docs/quality.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import ocr_quality, quality

pytestmark = pytest.mark.slow
needs_corpus = pytest.mark.skipif(not quality.CORPUS.is_dir(), reason="no ../shared/corpus")


@needs_corpus
def test_quality_smoke(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(quality, "CACHE", tmp_path / "cache")
    table = quality.bench_quality(25, quick=True, max_queries=5)
    rows = [r for r in table.splitlines() if r.startswith(("| keyword", "| semantic", "| hybrid"))]
    assert len(rows) == 6  # scans vs clean, then the injected-noise table
    for row in rows[:3]:
        values = [float(v) for v in row.strip("|").split("|")[1:]]
        assert all(0.0 <= v <= 1.0 for v in values) and values[1] > 0.3, row
    for row in rows[3:]:  # "0.783 (-0.019)" per noise rate
        values = [float(cell.split()[0]) for cell in row.strip("|").split("|")[1:]]
        assert len(values) == len(quality.NOISE_RATES) and all(0 <= v <= 1 for v in values), row


@needs_corpus
def test_ocr_quality_smoke(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = ocr_quality.datasets

    def small(quick: bool, work: Path | None = None) -> dict:  # type: ignore[type-arg]
        sets = real(True, work)
        return {name: items[:2] for name, items in sets.items()}

    monkeypatch.setattr(ocr_quality, "datasets", small)
    table = ocr_quality.bench_ocr_quality(tmp_path, quick=True)
    assert table.count("| FUNSD") == 3 and "%" in table
    assert "photographed on a desk | 2 |" in table
    assert "photographed under a shadow | 2 |" in table


def test_metrics() -> None:
    assert quality.ndcg_at_10(["a", "b"], {"a"}) == 1.0
    assert quality.ndcg_at_10(["b", "a"], {"a"}) == pytest.approx(1 / 1.5849625, rel=1e-6)
    assert quality.recall_at_100(["x"] * 5 + ["a"], {"a", "b"}) == 0.5


def test_onnx_variants_bench() -> None:
    from bench.engine_bench import onnx_variants

    figures = onnx_variants(["invoice for printer paper and toner"] * 3 +
                            ["the landlord may raise the rent once a year"] * 3)
    assert set(figures) == {"float", "int8"}
    assert all(f["chunks_per_s"] > 0 and f["cpu_ms_per_chunk"] > 0 for f in figures.values())
    assert 0.97 <= figures["int8"]["cosine_min"] <= figures["int8"]["cosine_median"] <= 1.0001
