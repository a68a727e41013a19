"""Where batches run: in this process, or in a pool of worker processes.

The processing steps are a function over one batch of Arrow records that returns only results
(Arrow tables and a few small lists). An executor maps that function over a stream of batches
and yields the results *in order*, holding only a bounded number of batches in flight, so a
table of any size streams through in constant memory.

* `LocalExecutor`: one process; no start-up cost (tests, small runs, debugging).
* `PoolExecutor`: worker processes started with "spawn" (never "fork": the parent runs
  delta-rs/tokio and Arrow threads, and forking a threaded process can deadlock the child).
  Each worker builds its step objects (spaCy, language model, labeler) once, in `init`, and
  keeps them for every batch; the parent sends records and receives results, nothing else.
  Given a `local` factory, this process is one of the `workers`: it starts one process fewer
  and, whenever the oldest batch in flight is not back yet, runs the next batch itself instead
  of waiting (a worker's start-up, ~5 s of CPU with the label model, is saved, and this
  process, which holds the model already, does not sit idle).
  spaCy's own `nlp.pipe(n_process=...)` is 3-5x slower than one process for light pipelines
  (DESIGN.md), hence processes over whole batches.

An engine for more than one machine (Dask, Spark) maps the same function over partitions.
"""
from __future__ import annotations

import gc
import multiprocessing as mp
import os
from collections import deque
from contextlib import contextmanager
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, Callable, Iterable, Iterator

_WORKER_STATE: Any = None


def _single_threaded() -> None:
    """One thread per worker: the pool already uses every core, so the libraries' own thread
    pools (BLAS, the Hugging Face tokenizer's Rayon pool) would only compete with the other
    workers."""
    os.environ["TOKENIZERS_PARALLELISM"] = "false"  # read by `tokenizers` at each call
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)  # BLAS/OpenMP libraries loaded already (numpy, scipy)
    except Exception:  # pragma: no cover - threadpoolctl comes with scikit-learn
        pass


# Batches allocate millions of small acyclic objects (dicts of labels, strings, floats) while
# the process holds large long-lived ones (vocabularies, models, caches). With Python's default
# thresholds the cyclic collector runs every 700 net allocations and keeps re-walking those:
# ~9% of a worker's CPU on the process benchmark. Collecting far less often frees the same
# garbage (reference counting frees everything that is not in a cycle at once).
GC_THRESHOLD = (50_000, 20, 20)


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Run the body with the collector's thresholds raised (restored afterwards)."""
    before = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLD)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _init_worker(factory: Callable[[], Any]) -> None:
    global _WORKER_STATE
    _single_threaded()
    _WORKER_STATE = factory()
    gc.collect()
    gc.freeze()  # what the worker loaded lives as long as the worker: never walk it again
    gc.set_threshold(*GC_THRESHOLD)


def _run_in_worker(task: Any) -> Any:
    return _WORKER_STATE(task)


def default_workers() -> int:
    """Every core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class LocalExecutor:
    """Runs every batch in this process, in order."""

    workers = 1

    def __init__(self, factory: Callable[[], Callable[[Any], Any]]):
        self._fn = factory()

    def imap(self, tasks: Iterable[Any]) -> Iterator[Any]:
        for task in tasks:
            yield self._fn(task)

    def close(self) -> None:
        pass

    def __enter__(self) -> "LocalExecutor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class PoolExecutor:
    """Runs batches in `workers` spawned processes; results come back in submission order.

    `factory` is pickled to each worker and called there once; it returns the callable that
    handles one task. At most `max_in_flight` tasks are submitted ahead of the consumer."""

    def __init__(self, factory: Callable[[], Callable[[Any], Any]], workers: int, max_in_flight: int | None = None,
                 local: Callable[[], Callable[[Any], Any]] | None = None):
        if local is not None and workers < 2:
            raise ValueError("a pool that this process helps needs workers >= 2")
        self.workers = workers
        self.max_in_flight = max_in_flight or 2 * workers + 1
        self._local_factory = local
        self._local_fn: Callable[[Any], Any] | None = None  # built the first time it is needed
        self.local_tasks = 0
        processes = workers - 1 if local is not None else workers
        self._pool = ProcessPoolExecutor(max_workers=processes, mp_context=mp.get_context("spawn"),
                                         initializer=_init_worker, initargs=(factory,))

    def _run_here(self, task: Any) -> Future:
        if self._local_fn is None:
            self._local_fn = self._local_factory()
        fut: Future = Future()
        fut.set_result(self._local_fn(task))
        self.local_tasks += 1
        return fut

    def imap(self, tasks: Iterable[Any]) -> Iterator[Any]:
        queue: deque[Future] = deque()  # in task order: results are yielded in that order
        it = iter(tasks)
        exhausted = False
        try:
            while True:
                while not exhausted and len(queue) < self.max_in_flight:
                    try:
                        task = next(it)
                    except StopIteration:
                        exhausted = True
                        break
                    queue.append(self._pool.submit(_run_in_worker, task))
                if not queue:
                    return
                if (self._local_factory is not None and not exhausted and not queue[0].done()
                        and len(queue) < 2 * self.max_in_flight):
                    try:
                        task = next(it)
                    except StopIteration:
                        exhausted = True
                    else:
                        queue.append(self._run_here(task))
                        continue
                yield queue.popleft().result()
        finally:
            for fut in queue:
                fut.cancel()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> "PoolExecutor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def make_executor(factory: Callable[[], Callable[[Any], Any]], workers: int | None = None,
                  tasks_expected: int | None = None, local: Callable[[], Callable[[Any], Any]] | None = None):
    """A pool when there is more than one worker and more than one task to share; otherwise
    the local executor (a pool's start-up would cost more than it saves). `local`, if given,
    is the factory used in-process (e.g. one that reuses objects the caller already built);
    with a pool, this process then counts as one of the workers and runs batches too."""
    workers = default_workers() if not workers or workers < 1 else workers
    if workers == 1 or (tasks_expected is not None and tasks_expected <= 1):
        return LocalExecutor(local or factory)
    if tasks_expected is not None:
        workers = min(workers, tasks_expected)
    return PoolExecutor(factory, workers, local=local)
