"""Where the checks' work units run: in this process, or on the workers of a Dask cluster.

A *batch* is a list of tasks ``(function, argument)`` whose results are used together: a check
group's units (``CheckGroup.tasks``) or one grid point of a sweep. ``Executor.run(batches)``
yields one ``Outcome`` per batch as soon as its last task is done (for the local executor's second
thread, below: at the end of the main thread's task then running): the results in task order, or
the exception of a task that failed. A task's result does not depend on the process that computed
it (every random stream is keyed by (seed, replicate), rng.py), and the caller combines a batch's
results in task order, so every scheduler gives the same numbers, bit for bit.

Schedulers (``mla-check --scheduler``, ``executor(scheduler)``):

- ``local``: this process (the default; Dask is never imported), one task after another in the
  main thread, except that when other batches are there to share the cores with, the batches
  marked *single-core* (``CheckGroup.single_core``: tasks that compute on one core in a solver
  that releases the GIL, as Clarabel does) run one after another in a second thread, from the
  start; while it works, the main thread's numba kernels run on one thread fewer, so the two
  share the cores instead of slowing each other down (the engine's results do not depend on the
  thread count: one replicate per parallel task, ``tests/test_engine.py``);
- ``processes:N``: a ``distributed.LocalCluster`` of N single-threaded worker processes on this
  machine, started for the run and closed after it;
- ``tcp://HOST:PORT``: the scheduler of a running cluster (``dask scheduler``, ``dask worker``;
  docs/distributed.md). Its workers must run this package's exact sources: checked on connecting.

Failures (Dask's own machinery, no home-made scheduler): a worker that dies takes its running task
with it and the scheduler runs the task again on another worker (up to
``distributed.scheduler.allowed-failures`` deaths); a task that raises is run once more
(``retries=1``), and if it raises again its batch fails with that exception and the batch's other
tasks are cancelled. Ctrl-C cancels every future and re-raises.

Numba: a worker process compiles the kernels on its first task (or loads them from numba's cache,
``NUMBA_CACHE_DIR`` when set, shared by every worker that sees the folder) and keeps them for the
next. On a LocalCluster each task runs its kernels on one thread (``numba.set_num_threads(1)``):
one single-threaded worker per core. (Not through ``NUMBA_NUM_THREADS`` in the workers'
environment: a spawned worker imports the main module, and with it numba, before Dask sets that
environment, and numba refuses a thread count that changes after its threads start.) Workers of a
running cluster keep the threads they were started with (docs/distributed.md).
"""
from __future__ import annotations

import atexit
import contextlib
import hashlib
import logging
import queue
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, TypeVar

if TYPE_CHECKING:
    from distributed import Client, Future

__all__ = ["Outcome", "Local", "Cluster", "executor", "check_scheduler", "SchedulerError", "source_digest",
           "stop_event", "STOP_REQUESTED"]

# Set by a signal handler whose KeyboardInterrupt Python may have dropped (raised inside a callback
# where exceptions are ignored, such as llvmlite's while numba loads a kernel): a local run stops
# with KeyboardInterrupt at its next task boundary.
STOP_REQUESTED = threading.Event()

RETRIES = 1  # a task that raises is run once more; a second exception fails its batch
_PROCESSES = re.compile(r"processes:([1-9][0-9]*)")
_ADDRESS = re.compile(r"tcp://[^\s:/]+:[0-9]+")

Task: TypeAlias = tuple[Callable[[Any], Any], Any]  # (function, argument): its result is function(argument)
Batch: TypeAlias = Sequence[Task]  # tasks whose results are used together
_Argument = TypeVar("_Argument")
_Result = TypeVar("_Result")


class SchedulerError(RuntimeError):
    """A scheduler that cannot be used (extra not installed, unreachable, other sources): one line."""


@dataclass
class Outcome:
    """One batch: its index, and either its results (task order) with each task's seconds, or the error."""

    index: int
    results: list[Any] | None = None
    seconds: list[float] | None = None
    error: BaseException | None = None


@lru_cache(maxsize=1)
def source_digest() -> str:
    """Hash of the package's source files, read once per process: the code that computes the numbers."""
    root = Path(__file__).parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def check_scheduler(scheduler: str) -> str:
    """``scheduler`` if it is ``local``, ``processes:N`` (N >= 1) or ``tcp://HOST:PORT``; else ValueError."""
    if scheduler == "local" or _PROCESSES.fullmatch(scheduler) or _ADDRESS.fullmatch(scheduler):
        return scheduler
    raise ValueError(f"--scheduler must be local, processes:N (N >= 1) or tcp://HOST:PORT, got {scheduler!r}")


def executor(scheduler: str = "local") -> Local | Cluster:
    """The executor of ``scheduler`` (see the module docstring), to use as a context manager."""
    return Local() if check_scheduler(scheduler) == "local" else Cluster(scheduler)


def _timed(function: Callable[[_Argument], _Result], argument: _Argument,
           threads: int | None = None) -> tuple[_Result, float]:
    """(function(argument), seconds it took), where the task runs; on ``threads`` numba threads if given."""
    if threads is not None:
        import numba

        numba.set_num_threads(threads)
    start = time.perf_counter()
    result = function(argument)
    return result, time.perf_counter() - start


class _Bar:
    """A progress bar that advances by each batch's weight / its number of tasks per completed task
    (weights: the batches' expected costs; default one per task)."""

    def __init__(self, batches: Sequence[Batch], weights: Sequence[float] | None, progress: bool | None,
                 desc: str) -> None:
        from tqdm import tqdm

        weights = [len(tasks) for tasks in batches] if weights is None else weights
        self.steps = [weight / max(len(tasks), 1) for weight, tasks in zip(weights, batches, strict=True)]
        self.tqdm = tqdm(total=sum(weights), desc=desc, leave=False, bar_format="{l_bar}{bar}| {elapsed}<{remaining}",
                         disable=None if progress is None else not progress)  # on a terminal unless told

    def done(self, index: int, tasks: int = 1) -> None:
        self.tqdm.update(self.steps[index] * tasks)

    def __enter__(self) -> _Bar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.tqdm.close()


class Local:
    """Every task in this process: batches in order, the single-core ones in a second thread."""

    scheduler = "local"

    def __enter__(self) -> Local:
        return self

    def __exit__(self, *exc: object) -> Literal[False]:
        return False

    def run(self, batches: Sequence[Batch], progress: bool | None = None, desc: str = "mla-check",
            weights: Sequence[float] | None = None, single_core: Sequence[bool] | None = None) -> Iterator[Outcome]:
        """Yield an ``Outcome`` per batch (see the module docstring); ``weights``: the batches'
        expected costs, for the progress bar; ``single_core``: which batches run in the second
        thread (their outcomes come after the main thread's task during which they completed).
        When the generator ends, however (done, Ctrl-C, closed, garbage-collected), it stops the
        second thread and waits for it (``_SecondThread.finish``)."""
        import numba

        beside = [index for index, flag in enumerate(single_core or ()) if flag and batches[index]]
        here = [index for index in range(len(batches)) if index not in beside]
        if not here:  # nothing to share the cores with
            beside, here = [], beside
        threads = numba.get_num_threads()
        second = _SecondThread(batches, beside)
        left = len(beside)
        with _Bar(batches, weights, progress, desc) as bar:

            def arrived(wait: bool = False) -> Iterator[Outcome]:
                """The second thread's outcomes so far, or (``wait``) all of them; its tasks advance the bar."""
                nonlocal left
                while left and (wait or not second.news.empty()):
                    index, outcome = second.news.get()
                    if index == _ENDED:
                        raise RuntimeError(f"the single-core thread ended with {left} batch(es) not done")
                    if outcome is None:
                        bar.done(index)
                        continue
                    left -= 1
                    if isinstance(outcome.error, MemoryError):
                        raise outcome.error
                    yield outcome

            try:
                if beside:
                    second.start()
                for index in here:
                    results, seconds, error = [], [], None
                    for function, argument in batches[index]:
                        shared = second.is_alive() and threads > 1
                        try:
                            result, took = _timed(function, argument, threads - 1 if shared else threads)
                        except MemoryError:
                            raise
                        except Exception as failure:  # the batch could not run: the caller reports it
                            error = failure
                            break
                        if STOP_REQUESTED.is_set():
                            raise KeyboardInterrupt
                        results.append(result)
                        seconds.append(took)
                        bar.done(index)
                        yield from arrived()
                    if error is None:
                        yield Outcome(index, results, seconds)
                    else:
                        bar.done(index, len(batches[index]) - len(results))
                        yield Outcome(index, error=error)
                yield from arrived(wait=True)
            finally:
                try:
                    second.finish()
                finally:
                    numba.set_num_threads(threads)


_ENDED = -1  # the second thread's last news: it has ended


class _SecondThread(threading.Thread):
    """The single-core batches ``indices`` of ``Local.run``, task after task. News in ``news``:
    (batch, None) per task done, (batch, Outcome) per batch, then (_ENDED, None). ``stop`` ends it
    before its next task, or within a task that polls ``stop_event()``. It writes no file."""

    def __init__(self, batches: Sequence[Batch], indices: Sequence[int]) -> None:
        super().__init__(name="mla-numeric single-core tasks", daemon=True)
        self.batches, self.indices = batches, indices
        self.news: queue.SimpleQueue[tuple[int, Outcome | None]] = queue.SimpleQueue()
        self.stop = threading.Event()
        self.ended = threading.Event()  # set last: no code of its tasks runs after it

    def run(self) -> None:
        try:
            for index in self.indices:
                results, seconds = [], []
                try:
                    for function, argument in self.batches[index]:
                        if self.stop.is_set():
                            return
                        result, took = _timed(function, argument)
                        results.append(result)
                        seconds.append(took)
                        self.news.put((index, None))
                except BaseException as error:  # noqa: BLE001 (handed to the main thread, which decides)
                    for _ in range(len(self.batches[index]) - len(results)):
                        self.news.put((index, None))
                    self.news.put((index, Outcome(index, error=error)))
                    continue
                self.news.put((index, Outcome(index, results, seconds)))
        finally:
            self.news.put((_ENDED, None))
            self.ended.set()

    def finish(self) -> None:
        """Stop it and wait until it has ended: before its next task, or within one Clarabel
        iteration (``pep_clarabel`` polls ``stop``); a task that does not poll (PEPit building a
        problem) runs to its end. A Ctrl-C meanwhile is held until then: leaving earlier could let
        Python shut down with the thread inside Clarabel, and Python 3.11 aborts the process (exit
        134) when it stops a thread in Rust code."""
        self.stop.set()
        if self.ident is None or self is threading.current_thread():  # not started; or closing from itself
            return
        pressed = False
        while not self.ended.is_set():
            try:
                self.ended.wait()
            except KeyboardInterrupt:
                pressed = True
        if pressed:
            raise KeyboardInterrupt


@atexit.register
def _finish_second_threads() -> None:
    """At exit (before Python stops daemon threads), finish the second threads of runs whose
    generators were never closed."""
    for thread in threading.enumerate():
        if isinstance(thread, _SecondThread):
            with contextlib.suppress(KeyboardInterrupt):
                thread.finish()


def stop_event() -> threading.Event | None:
    """The event that asks the local executor's second thread to stop, when called in that thread
    (else None): a long single-core computation polls it to end early (``pep_clarabel``)."""
    thread = threading.current_thread()
    return thread.stop if isinstance(thread, _SecondThread) else None


class _CtrlC:
    """Ctrl-C (SIGINT) while a cluster is in use: raised as KeyboardInterrupt at once, as Python
    does, except while the cluster starts (``holding_until_started``: a LocalCluster interrupted half-way
    cannot be closed, and Dask's exit hook then prints a traceback), and remembered: Python drops
    a KeyboardInterrupt raised where exceptions are ignored, such as Dask's garbage-collection
    callback, so ``raise_if_pressed`` is called between units. Outside the main thread, or where
    SIGINT is not Python's default (ignored by a background job, or the caller's own handler),
    nothing changes."""

    def __init__(self) -> None:
        self.pressed = self.holding = False
        self._previous: Any = None

    def __enter__(self) -> _CtrlC:
        if (threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> Literal[False]:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
        return False

    def _handle(self, signum: int, frame: object) -> None:
        self.pressed = True
        if not self.holding:
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def holding_until_started(self) -> Iterator[None]:
        """Hold a Ctrl-C until the block (a cluster's start) ends, then raise it."""
        self.holding = True
        try:
            yield
        finally:
            self.holding = False
        self.raise_if_pressed()

    def raise_if_pressed(self) -> None:
        if self.pressed:
            raise KeyboardInterrupt


class Cluster:
    """Tasks on the workers of a Dask cluster: a LocalCluster of N processes, or a running scheduler.

    The cluster is started (or connected to) at the first ``run`` with work to do, and closed
    (or disconnected from) on leaving the ``with`` block.
    """

    def __init__(self, scheduler: str) -> None:
        self.scheduler = check_scheduler(scheduler)
        self._client: Any = None
        self._cluster: Any = None
        self._futures: list[Future] = []
        self._ctrl_c = _CtrlC()

    def __enter__(self) -> Cluster:
        self._ctrl_c.__enter__()
        return self

    def __exit__(self, *exc: object) -> Literal[False]:
        self._ctrl_c.__exit__(*exc)
        # Leaving on an exception (Ctrl-C while the cluster starts, say), a cluster that cannot
        # close cleanly must not replace that exception with its own.
        with contextlib.suppress(Exception) if exc[0] is not None else contextlib.nullcontext():
            if self._client is not None:
                self._client.cancel(self._futures)  # e.g. Ctrl-C while a finished group was being written
                self._client.close()
            if self._cluster is not None:
                self._cluster.close()
        self._client = self._cluster = None
        if exc[0] is None:
            self._ctrl_c.raise_if_pressed()  # one that Python dropped after the last unit
        return False

    def client(self) -> Client:
        """The connected ``distributed.Client``, started on first use."""
        if self._client is None:
            try:
                from distributed import Client, LocalCluster
            except ImportError:
                raise SchedulerError(f"--scheduler {self.scheduler} needs Dask's distributed, not installed: "
                                     f"pip install 'mla-numeric[dask]'") from None
            with self._ctrl_c.holding_until_started():
                if self.scheduler.startswith("processes:"):
                    self._cluster = LocalCluster(n_workers=int(self.scheduler.split(":")[1]), threads_per_worker=1,
                                                 processes=True, dashboard_address=None,
                                                 silence_logs=logging.CRITICAL)
                try:
                    self._client = Client(self.scheduler if self._cluster is None else self._cluster, timeout=30)
                except OSError as error:
                    raise SchedulerError(f"cannot reach the Dask scheduler at {self.scheduler} ({error})") from None
            self._check_sources()
        return self._client

    def _check_sources(self) -> None:
        """Refuse workers whose sources differ from ours: they would compute other numbers."""
        try:
            digests = self._client.run(source_digest)
        except Exception as error:  # e.g. a worker without mla-numeric
            raise SchedulerError(f"the workers of {self.scheduler} cannot run mla-numeric "
                                 f"({type(error).__name__}: {error})") from None
        if not digests:
            raise SchedulerError(f"the Dask scheduler at {self.scheduler} has no workers")
        other = sorted(worker for worker, digest in digests.items() if digest != source_digest())
        if other:
            raise SchedulerError(f"{len(other)} worker(s) of {self.scheduler} run other mla-numeric sources "
                                 f"(first: {other[0]}); install the same version on every worker")

    def run(self, batches: Sequence[Batch], progress: bool | None = None, desc: str = "mla-check",
            weights: Sequence[float] | None = None, single_core: Sequence[bool] | None = None) -> Iterator[Outcome]:
        """Yield an ``Outcome`` per batch as its last task completes (see the module docstring);
        ``single_core`` changes nothing here: the workers share the cores among all tasks."""
        if not any(batches):  # nothing to compute: no cluster to start
            yield from Local().run(batches, progress, desc, weights)
            return
        client = self.client()
        from distributed import as_completed

        where: dict[str, tuple[int, int]] = {}  # a future's key: (its batch, its task in the batch)
        futures: list[Future] = []
        self._futures = futures  # cancelled on leaving the with block, however it is left
        threads = None if self._cluster is None else 1  # numba's, in a LocalCluster's workers
        for index, tasks in enumerate(batches):
            for position, (function, argument) in enumerate(tasks):
                future = client.submit(_timed, function, argument, threads, retries=RETRIES, pure=False)
                where[future.key] = (index, position)
                futures.append(future)
        results: list[list[Any]] = [[None] * len(tasks) for tasks in batches]
        left = [len(tasks) for tasks in batches]
        try:
            yield from (Outcome(index, [], []) for index, tasks in enumerate(batches) if not tasks)
            with _Bar(batches, weights, progress, desc) as bar:
                for future in as_completed(futures):
                    self._ctrl_c.raise_if_pressed()
                    index, position = where[future.key]
                    bar.done(index)
                    if left[index] < 0:  # its batch has failed already
                        continue
                    if future.status == "error":
                        left[index] = -1
                        client.cancel([f for f in futures if where[f.key][0] == index and not f.done()])
                        yield Outcome(index, error=future.exception())
                        continue
                    results[index][position] = future.result()
                    left[index] -= 1
                    if left[index] == 0:
                        yield Outcome(index, [r for r, _ in results[index]], [s for _, s in results[index]])
        except BaseException:  # Ctrl-C, or the caller gave up: nothing keeps running for us
            client.cancel(futures)
            raise
