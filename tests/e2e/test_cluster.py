"""Dask distributed behind the executor seam: same results as the local pool, and a
worker killed mid-run loses nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

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
    from engine.backends.dask_cluster import DaskEmbedder, DaskExecutor

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
    from engine.backends.dask_cluster import DaskExecutor

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


def _start_scheduler(port: int) -> subprocess.Popen[bytes]:
    from tests.s3_servers import _wait_port

    proc = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler",
                             "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_port(port, timeout_s=60)
    return proc


def _start_worker(port: int) -> subprocess.Popen[bytes]:
    from engine.backends.dask_cluster import WORKER_ENV

    return subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker",
                             f"tcp://127.0.0.1:{port}", "--nworkers", "1", "--nthreads", "1",
                             "--no-dashboard", "--host", "127.0.0.1"],
                            env={**os.environ, **WORKER_ENV},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _executor_with_a_worker(port: int) -> object:
    import time

    from engine.backends.dask_cluster import DaskExecutor

    executor = DaskExecutor(f"tcp://127.0.0.1:{port}")
    deadline = time.monotonic() + 60
    while not executor.client.scheduler_info().get("workers"):
        assert time.monotonic() < deadline, "the worker never joined"
        time.sleep(0.2)
    return executor


def test_scheduler_gone_is_a_clear_error_and_a_rerun_resumes(tmp_path: Path) -> None:
    from engine.errors import ClusterLost, ExitCode
    from tests.http_helpers import free_port

    folder = tmp_path / "pages"
    folder.mkdir()
    # Enough pages that the worker is still reading when the scheduler dies.
    pages = 40
    for i in range(pages):
        save_text_page(folder / f"p{i:02}.png", [f"Page {i} outlives its scheduler"] * 4)
    port = free_port()
    scheduler, worker = _start_scheduler(port), _start_worker(port)
    try:
        executor: Any = _executor_with_a_worker(port)

        class KillTheSchedulerAfterOneDocument:
            def update(self, progress: object) -> None:
                pass

            def document_done(self, path: str, ok: bool, error: str | None) -> None:
                if scheduler.poll() is None:
                    scheduler.kill()

        lib = Library.open(tmp_path / "lib", embedder=HashingEmbedder(), executor=executor)
        with pytest.raises(ClusterLost) as lost:
            lib.add([folder], progress=KillTheSchedulerAfterOneDocument())
        executor.shutdown()
        assert lost.value.exit_code == ExitCode.REMOTE
        assert "run the same command" in str(lost.value)
        kept = lib.documents()
        assert 1 <= len(kept) < pages
        assert all(d.state == "indexed" for d in kept)  # nothing blamed on the files
        assert lib.store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

        worker.kill()
        worker.wait()
        scheduler = _start_scheduler(port)
        worker = _start_worker(port)
        executor = _executor_with_a_worker(port)
        lib._executor = executor
        try:
            report = lib.add([folder])
        finally:
            executor.shutdown()
        assert report.skipped_unchanged == len(kept)
        assert report.indexed == pages - len(kept) and not report.failed
        assert len(lib.search("outlives", mode="keyword", limit=50)) == pages
    finally:
        for proc in (scheduler, worker):
            proc.kill()
            proc.wait()
