"""Dask distributed behind the executor seam: same results as the local pool, and a
worker killed mid-run loses nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("distributed")

from engine import Library  # noqa: E402
from engine.testing import HashingEmbedder  # noqa: E402
from tests.scans import save_text_page  # noqa: E402

pytestmark = pytest.mark.slow
TOPICS = ["harbour pilot licence", "orchard frost insurance", "violin repair invoice",
          "glacier survey notes", "bakery oven permit", "tram timetable change"]


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cluster") / "docs"
    folder.mkdir()
    for i, topic in enumerate(TOPICS):
        save_text_page(folder / f"doc{i}.png", [f"Record {i}: {topic}", f"Filed about {topic}"])
    return folder


def snapshot(lib: Library) -> dict[str, tuple[str, np.ndarray]]:
    out = {}
    for doc in lib.documents():
        text = " ".join(p.text for p in lib.document(doc.id).pages)
        rows = lib.store.db.execute("SELECT vector FROM chunks WHERE sha256 = ? ORDER BY id",
                                    (doc.sha256,)).fetchall()
        out[Path(doc.path).name] = (text, np.vstack([np.frombuffer(r[0], "<f4") for r in rows]))
    return out


def test_local_cluster_matches_the_local_pool(docs: Path, tmp_path: Path,
                                              real_embedder: object) -> None:
    from engine.cluster import DaskEmbedder, DaskExecutor

    pool = Library.open(tmp_path / "pool", embedder=real_embedder)  # type: ignore[arg-type]
    pool.add([docs])
    executor = DaskExecutor("local:2")
    try:
        cluster = Library.open(tmp_path / "dask", embedder=DaskEmbedder(executor),
                               executor=executor)
        report = cluster.add([docs])
    finally:
        executor.shutdown()
    assert report.indexed == len(TOPICS) and not report.failed
    mine, theirs = snapshot(pool), snapshot(cluster)
    assert mine.keys() == theirs.keys()
    for name, (text, vectors) in mine.items():
        assert theirs[name][0] == text
        np.testing.assert_allclose(theirs[name][1], vectors, atol=1e-5)
    cluster = Library.open(tmp_path / "dask", embedder=real_embedder)  # type: ignore[arg-type]
    for topic in TOPICS:
        assert ([h.path for h in cluster.search(topic)] == [h.path for h in pool.search(topic)])


def test_a_killed_worker_loses_nothing(tmp_path: Path) -> None:
    from engine.cluster import DaskExecutor

    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(16):
        save_text_page(folder / f"p{i:02}.png", [f"Page {i} survives a worker crash"] * 6)
    executor = DaskExecutor("local:2")
    killed: list[int] = []

    class KillAWorkerEarly:
        def update(self, progress: object) -> None:
            if not killed and getattr(progress, "pages_done", 0) >= 2:
                pids = executor.client.run(os.getpid)
                killed.append(sorted(pids.values())[0])
                os.kill(killed[0], signal.SIGKILL)  # mid-run: 14 pages still to go

        def document_done(self, path: str, ok: bool, error: str | None) -> None:
            pass

    try:
        lib = Library.open(tmp_path / "lib", embedder=HashingEmbedder(), executor=executor)
        report = lib.add([folder], progress=KillAWorkerEarly())
    finally:
        executor.shutdown()
    assert killed, "no worker was killed"
    assert report.indexed == 16 and not report.failed
    texts = [" ".join(p.text for p in lib.document(d.id).pages) for d in lib.documents()]
    assert len(texts) == 16 and all("survives" in t for t in texts)
    counts = lib.store.db.execute("SELECT COUNT(*), COUNT(DISTINCT sha256) FROM documents"
                                  ).fetchone()
    assert counts == (16, 16)  # nothing indexed twice


def test_cli_cluster_flag(docs: Path, tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "engine", "--library", str(tmp_path / "lib"),
                          "index", str(docs), "--cluster", "local:2", "--json"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert '"indexed": 6' in out.stdout
    bad = subprocess.run([sys.executable, "-m", "engine", "--library", str(tmp_path / "lib2"),
                          "index", str(docs), "--cluster", "nonsense"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "local:N" in bad.stderr
