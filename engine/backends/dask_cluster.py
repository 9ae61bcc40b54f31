"""Scale-out through Dask distributed: the executor seam's cluster implementation.

`--cluster local:N` starts a LocalCluster of N single-threaded worker processes on
loopback; `--cluster tcp://HOST:8786` joins a running scheduler. OCR tasks go to the
workers (which read the files themselves: paths on a shared filesystem); embeddings run
on the workers too, with the model loaded once per worker by a plugin. The index is
still written by one writer, in the client, document by document.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

import numpy as np

from engine.backends.minilm import MINILM_DIM, MINILM_ID
from engine.errors import ClusterLost, ClusterUnreachable, UsageError

T = TypeVar("T")
R = TypeVar("R")
WORKER_ENV = {"OMP_THREAD_LIMIT": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
_MODEL_PLUGIN = "scandex-model"


def _connect(address: str) -> tuple[Any, Any]:
    try:
        from distributed import Client, LocalCluster
    except ImportError as e:
        raise UsageError("--cluster needs Dask: pip install 'dask[distributed]'") from e
    if address.startswith("local:"):
        try:
            workers = int(address.split(":", 1)[1])
        except ValueError as e:
            raise UsageError(f"'{address}': use local:N with N worker processes") from e
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address=None, env=WORKER_ENV,
                               silence_logs=40)
        return cluster, Client(cluster)
    if not address.startswith(("tcp://", "tls://")):
        raise UsageError(f"'{address}' is no cluster: use local:N or tcp://HOST:8786")
    try:
        return None, Client(address, timeout=30)
    except OSError as e:
        raise ClusterUnreachable(address, str(e)) from e


class DaskExecutor:
    """Runs pipeline tasks on a Dask cluster; futures come back as stdlib futures."""

    def __init__(self, address: str) -> None:
        self.address = address
        self._cluster, self.client = _connect(address)
        threads = sum(w.get("nthreads", 1) for w in
                      self.client.scheduler_info().get("workers", {}).values())
        self.workers = max(1, threads)

    def submit(self, fn: Callable[[T], R], arg: T) -> Future[R]:
        """Schedule fn(arg) on the cluster (retried elsewhere if its worker dies)."""
        result: Future[R] = Future()
        if self.client.status in ("closing", "closed"):
            raise ClusterLost(self.address)
        remote = self.client.submit(fn, arg, pure=False, retries=1)

        def done(finished: Any) -> None:
            # We never cancel a task that is still wanted: a cancelled future means the
            # client lost the scheduler, which is the run's problem, not this page's.
            if finished.cancelled():
                result.set_exception(ClusterLost(self.address))
                return
            try:
                result.set_result(finished.result())
            except BaseException as e:  # noqa: BLE001 - delivered through the future
                result.set_exception(e)

        remote.add_done_callback(done)
        return result

    def restart(self) -> None:
        """Dask reschedules lost tasks itself."""

    def shutdown(self, *, cancel: bool = False) -> None:
        """Leave the cluster (and stop it when we started it)."""
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()


class _ModelPlugin:
    """Loads the embedding model once per worker process."""

    idempotent = True
    name = _MODEL_PLUGIN

    backend: str | None = None  # the client's embedder, so vectors match it exactly

    def setup(self, worker: Any) -> None:
        from engine.backends.factory import make_embedder

        # ONNX where installed: each worker loads in well under a second, without torch.
        self.embedder = make_embedder(self.backend)
        load = getattr(self.embedder, "load", None)
        if load is not None:
            load()


def _embed_on_worker(texts: list[str]) -> np.ndarray:
    from distributed import get_worker

    plugin: Any = get_worker().plugins[_MODEL_PLUGIN]
    vectors: np.ndarray = plugin.embedder.embed(texts)
    return vectors


class DaskEmbedder:
    """Embeds on the cluster's workers (the model loaded once per worker)."""

    model_id = MINILM_ID
    dim = MINILM_DIM

    def __init__(self, executor: DaskExecutor, batch: int = 64,
                 backend: str | None = None) -> None:
        self._client = executor.client
        self._address = executor.address
        self._batch = batch
        from distributed import WorkerPlugin

        plugin = type("ScandexModelPlugin", (_ModelPlugin, WorkerPlugin), {"backend": backend})()
        self._client.register_plugin(plugin, name=_MODEL_PLUGIN)

    def embed(self, texts: list[str]) -> np.ndarray:
        """Split texts into batches, embed them on the workers, check and join them."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        batches = [texts[i:i + self._batch] for i in range(0, len(texts), self._batch)]
        from concurrent.futures import CancelledError

        try:
            futures = self._client.map(_embed_on_worker, batches, pure=False, retries=2)
            parts = self._client.gather(futures)
        except (CancelledError, OSError) as e:
            raise ClusterLost(self._address) from e
        for batch, part in zip(batches, parts, strict=True):
            if part.shape != (len(batch), self.dim) or not np.isfinite(part).all():
                raise UsageError("a worker returned a malformed embedding; run the index again")
        return np.ascontiguousarray(np.vstack(parts), dtype=np.float32)


def run_worker(scheduler: str, processes: int | None = None) -> int:
    """`scandex worker`: join a scheduler with one single-threaded process per core."""
    import subprocess
    import sys

    count = processes or os.cpu_count() or 1
    env = {**os.environ, **WORKER_ENV}
    command = [sys.executable, "-m", "distributed.cli.dask_worker", scheduler,
               "--nworkers", str(count), "--nthreads", "1", "--memory-limit", "auto"]
    return subprocess.call(command, env=env)
