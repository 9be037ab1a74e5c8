"""A process pool that survives its workers crashing or hanging, and reports which input caused it.

`concurrent.futures.ProcessPoolExecutor` breaks for good when one worker dies,
and cannot tell which task killed it. Notebook parsing can do both: libcst's
native parser overflows its stack (and the process dies with SIGSEGV) on
expressions nested a few thousand deep, and takes minutes on some long
attribute chains. So each worker here gets its own pipe and one task at a time, and
reports on that pipe when it starts each file of its chunk (the task function
is called as `task_function(items, on_start)` and calls `on_start(i)` before
item i), so the driver always knows which file every worker is on:
- a worker that dies is replaced; the file it was on is retried alone, and
  reported as `worker_crashed` if it kills a worker again; the other files of
  the chunk are retried as one task;
- a file that runs past the per-file timeout has its worker killed and is
  reported as `timed_out` at once (a retry would take as long again); the
  other files of the chunk are retried as one task;
- a task that raises is retried file by file, and a single file that raises
  is reported as `internal_error`.
A chunk that crashes or times out before its first `on_start` message is
retried one file per task, each with its own deadline.

Workers are started from a fork server (`multiprocessing` "forkserver"), so they
do not inherit the driver's open DuckDB connection and threads.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from types import TracebackType
from typing import Any, Generic, TypeVar

from ingest import reasons

log = logging.getLogger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")

# task_function(items, on_start) -> result, where on_start(i) reports item i.
TaskFunction = Callable[[list[Item], Callable[[int], None]], Result]

# How long the driver waits for a worker to exit after asking it to stop.
SHUTDOWN_SECONDS = 5.0
# Maximum pause, in seconds, between two checks of the deadlines.
POLL_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class TaskFailure(Generic[Item]):
    """One item that could not be processed by any worker, with the reason code."""

    item: Item
    reason: str  # worker_crashed / timed_out / internal_error
    detail: str


@dataclass(slots=True)
class _Task(Generic[Item]):
    items: list[Item]
    isolated: bool  # retried alone after its chunk failed


@dataclass(slots=True)
class _Worker:
    process: BaseProcess
    connection: Connection
    task: _Task[Any] | None = None
    current: int | None = None  # index in task.items of the file being processed
    deadline: float = 0.0


def _worker_main(
    connection: Connection,
    initializer: Callable[..., None],
    initargs: tuple[Any, ...],
    task_function: Callable[[list[Any], Callable[[int], None]], Any],
) -> None:
    """Run tasks received on the pipe until the driver sends None or closes it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    initializer(*initargs)

    def report_start(index: int) -> None:
        connection.send(("start", index))

    while True:
        try:
            items = connection.recv()
        except (EOFError, OSError):
            return
        if items is None:
            return

        try:
            reply: tuple[str, Any] = ("ok", task_function(items, report_start))
        except Exception:  # noqa: BLE001 - reported to the driver, which retries or records it
            reply = ("error", traceback.format_exc())
        try:
            connection.send(reply)
        except (TypeError, ValueError, AttributeError, RecursionError):
            # The result could not be pickled.
            connection.send(("error", traceback.format_exc()))


class CrashTolerantPool(Generic[Item, Result]):
    """Run `task_function(items, on_start)` on chunks of items in worker processes; see the module docstring."""

    def __init__(
        self,
        jobs: int,
        task_function: TaskFunction[Item, Result],
        initializer: Callable[..., None],
        initargs: tuple[Any, ...],
        item_timeout: float,
        preload: Iterable[str] = (),
    ) -> None:
        if jobs < 1:
            raise ValueError(f"jobs must be at least 1, got {jobs}")
        self.jobs = jobs
        self.task_function = task_function
        self.initializer = initializer
        self.initargs = initargs
        self.item_timeout = item_timeout
        self.context = multiprocessing.get_context("forkserver")
        self.context.set_forkserver_preload(list(preload))
        self.workers: list[_Worker] = []
        self.restarts = 0

    def __enter__(self) -> CrashTolerantPool[Item, Result]:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback_: TracebackType | None
    ) -> None:
        self.close(graceful=kind is None)

    def run(self, chunks: Iterable[list[Item]]) -> Iterator[Result | TaskFailure[Item]]:
        """Yield one result per chunk, or one TaskFailure per item that failed alone, as they finish."""
        pending = iter(chunks)
        retries: deque[_Task[Item]] = deque()
        while len(self.workers) < self.jobs:
            self.workers.append(self._start_worker())

        while True:
            self._assign_idle_workers(pending, retries)
            busy = [worker for worker in self.workers if worker.task is not None]
            if not busy:
                return

            timeout = max(0.0, min(POLL_SECONDS, min(worker.deadline for worker in busy) - time.monotonic()))
            waitables: list[Any] = [worker.connection for worker in busy] + [worker.process.sentinel for worker in busy]
            ready = set(wait(waitables, timeout=timeout))

            finished: list[Result | TaskFailure[Item]] = []
            for worker in busy:
                if worker.connection in ready or worker.process.sentinel in ready:
                    finished.extend(self._collect(worker, retries))
                elif time.monotonic() > worker.deadline:
                    finished.extend(self._expire(worker, retries))

            # Workers that just finished get their next task before the caller
            # handles the results, because the caller may spend a while
            # writing them to the warehouse and the workers would sit idle.
            self._assign_idle_workers(pending, retries)
            yield from finished

    def _assign_idle_workers(self, pending: Iterator[list[Item]], retries: deque[_Task[Item]]) -> None:
        """Send every idle worker a task: a retry first, else the next chunk, while any is left."""
        for worker in self.workers:
            if worker.task is not None:
                continue
            if retries:
                task = retries.popleft()
            else:
                chunk = next(pending, None)
                if chunk is None:
                    return
                task = _Task(list(chunk), isolated=False)
            self._send(worker, task)

    def _send(self, worker: _Worker, task: _Task[Item]) -> None:
        if not worker.process.is_alive():
            worker = self._replace(worker)
        try:
            worker.connection.send(task.items)
        except (BrokenPipeError, ConnectionResetError):
            # The worker died while idle, after the check above.
            worker = self._replace(worker)
            worker.connection.send(task.items)
        worker.task = task
        worker.current = None
        # Until the first start message arrives, the whole chunk shares one deadline.
        worker.deadline = time.monotonic() + self.item_timeout * len(task.items)

    def _collect(self, worker: _Worker, retries: deque[_Task[Item]]) -> Iterator[Result | TaskFailure[Item]]:
        """Read what a ready worker sent: start messages, then at most one result."""
        task = worker.task
        assert task is not None
        while True:
            try:
                status, payload = worker.connection.recv()
            except (EOFError, OSError):
                yield from self._crashed(worker, task, retries)
                return
            if status != "start":
                break
            worker.current = int(payload)
            worker.deadline = time.monotonic() + self.item_timeout
            if not worker.connection.poll():
                return

        worker.task = None
        worker.current = None
        if status == "ok":
            yield payload
            return
        log.error("a worker task raised an exception:\n%s", payload)
        last_line = str(payload).strip().splitlines()[-1] if str(payload).strip() else "unknown error"
        yield from self._split_or_fail(task, reasons.INTERNAL_ERROR, last_line[:1000], retries)

    def _crashed(self, worker: _Worker, task: _Task[Item], retries: deque[_Task[Item]]) -> Iterator[TaskFailure[Item]]:
        """Handle a worker that died before it replied."""
        worker.process.join(SHUTDOWN_SECONDS)
        detail = f"worker process died ({_exit_description(worker.process.exitcode)})"
        current = worker.current
        self._replace(worker)
        if current is None or len(task.items) == 1:
            yield from self._split_or_fail(task, reasons.WORKER_CRASHED, detail, retries)
            return

        culprit = task.items[current]
        log.warning("%s while processing one file; retrying that file alone", detail)
        others = task.items[:current] + task.items[current + 1 :]
        # The suspect goes first, so a crash is attributed before new chunks start.
        retries.appendleft(_Task(others, isolated=False))
        retries.appendleft(_Task([culprit], isolated=True))

    def _expire(self, worker: _Worker, retries: deque[_Task[Item]]) -> Iterator[TaskFailure[Item]]:
        """Stop a worker that passed its deadline."""
        task = worker.task
        assert task is not None
        current = worker.current
        log.warning("a worker passed the timeout of %g s per file; stopping it", self.item_timeout)
        worker.process.kill()
        worker.process.join(SHUTDOWN_SECONDS)
        self._replace(worker)
        detail = f"processing took more than the timeout of {self.item_timeout:g} s"
        if current is None or len(task.items) == 1:
            yield from self._split_or_fail(task, reasons.TIMED_OUT, detail, retries)
            return

        yield TaskFailure(task.items[current], reasons.TIMED_OUT, detail)
        others = task.items[:current] + task.items[current + 1 :]
        retries.appendleft(_Task(others, isolated=False))

    def _split_or_fail(
        self, task: _Task[Item], reason: str, detail: str, retries: deque[_Task[Item]]
    ) -> Iterator[TaskFailure[Item]]:
        """Fail a single-file task, or retry the files of a larger one one per task."""
        if len(task.items) == 1:
            yield TaskFailure(task.items[0], reason, detail)
            return
        log.info("retrying the %d files of a failed chunk one at a time (%s)", len(task.items), reason)
        retries.extendleft(_Task([item], isolated=True) for item in reversed(task.items))

    def _start_worker(self) -> _Worker:
        driver_end, worker_end = self.context.Pipe(duplex=True)
        process = self.context.Process(
            target=_worker_main,
            args=(worker_end, self.initializer, self.initargs, self.task_function),
            daemon=True,
        )
        process.start()
        worker_end.close()
        return _Worker(process=process, connection=driver_end)

    def _replace(self, worker: _Worker) -> _Worker:
        worker.connection.close()
        index = self.workers.index(worker)
        replacement = self._start_worker()
        self.workers[index] = replacement
        self.restarts += 1
        return replacement

    def close(self, graceful: bool = True) -> None:
        """Stop every worker: ask them to exit when graceful, else kill them."""
        for worker in self.workers:
            if graceful and worker.task is None:
                try:
                    worker.connection.send(None)
                except (OSError, ValueError):
                    pass
            else:
                worker.process.kill()
        for worker in self.workers:
            worker.process.join(SHUTDOWN_SECONDS)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(SHUTDOWN_SECONDS)
            worker.connection.close()
        self.workers = []


def _exit_description(exitcode: int | None) -> str:
    if exitcode is None:
        return "still running"
    if exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"
