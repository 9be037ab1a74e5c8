"""Run the read and extract steps of an ingest on a Dask distributed cluster.

`nbcensus ingest --executor dask --scheduler tcp://HOST:8786 SOURCE...` lists
the input files in the driver as the local pool does, sends chunks of
`InputFile` records to the cluster, and writes the Arrow tables that the
workers return through the same warehouse writer. Only the executor changes, so
the warehouse ends up with the same rows as after a local ingest. Files that a
re-run reuses unread (see `ingest.fingerprint`) are not sent, and a run with
no file left to read does not connect to the scheduler at all.

Every worker must read the files at the paths the driver lists (a shared file
system, or the same archives copied to the same path on every node), and must
have nbcensus installed, because tasks call `ingest.worker` by reference.

Tasks run one at a time per worker process, because parsing holds the GIL and
the per-process archive cache is not thread-safe; start workers with
`--nthreads 1` and one process per core (`dask worker ADDRESS --nworkers N
--nthreads 1`).

Failures follow the rules of `ingest.pool` as far as Dask allows:
- a chunk whose task raised, or whose worker died, is retried file by file; a
  file that fails alone is `internal_error` when it raised, and
  `worker_crashed` when Dask gave up on it with `KilledWorker` twice (Dask
  itself first retries the task `distributed.scheduler.allowed-failures` times,
  3 by default; a task merely placed on a worker as it died counts too, hence
  the second chance);
- a chunk that runs past the per-file timeout times its number of files is
  cancelled, its worker restarted (this needs a nanny, the default), and its
  files retried alone; a file over the timeout alone is `timed_out`.

This module imports Dask when it is imported, and `ingest.pipeline` imports it
only for `--executor dask`, so the base install does not need Dask
(`pip install nbcensus[dask]` adds it).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ingest import reasons
from ingest.errors import NbcensusError
from ingest.pool import TaskFailure

try:
    from distributed import Client, KilledWorker, WorkerPlugin
except ImportError as error:
    raise NbcensusError(
        "the dask executor needs dask[distributed]: install nbcensus with `pip install nbcensus[dask]`"
    ) from error

if TYPE_CHECKING:
    from distributed import Future, Worker

log = logging.getLogger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")

# Seconds the driver waits to connect to the scheduler and for a first worker.
CONNECT_SECONDS = 60.0
# Longest pause between checks of the deadlines.
POLL_SECONDS = 1.0
# Seconds between checks of how many workers the cluster has.
WORKER_COUNT_SECONDS = 10.0
# Seconds the driver waits to fetch a finished task's result before it runs the task again.
RESULT_SECONDS = 120.0
# Times a chunk is run again because its result was lost before the files count as crashed.
MAX_LOST_RESULTS = 3
# Times a single file's task may end in KilledWorker before the file counts as crashed:
# a task that was only waiting on a dying worker gets KilledWorker too.
MAX_KILLED = 2


@dataclass(slots=True)
class _Task(Generic[Item]):
    items: list[Item]
    deadline: float
    lost_results: int = 0  # times the result was lost with its worker before the driver fetched it
    killed: int = 0  # times Dask gave up on this task with KilledWorker


# --- worker side ------------------------------------------------------------

_worker_lock = threading.Lock()
_worker_run: str | None = None
_run_initargs: dict[str, tuple[Any, ...]] = {}  # run id -> initargs, filled by RunArgumentsPlugin


class RunArgumentsPlugin(WorkerPlugin):
    """Hand one run's initializer arguments to every worker, including workers that start or restart later.

    The scheduler keeps registered plugins and sets them up on each new worker,
    so a large argument such as the set of loaded notebook ids travels once per
    worker, not with every task, and survives a worker's restart.
    """

    def __init__(self, run_id: str, initargs: tuple[Any, ...]) -> None:
        self.run_id = run_id
        self.initargs = initargs

    def setup(self, worker: Worker) -> None:
        _run_initargs[self.run_id] = self.initargs

    def teardown(self, worker: Worker) -> None:
        _run_initargs.pop(self.run_id, None)


def run_task(
    run_id: str,
    initializer: Callable[..., None],
    task_function: Callable[[list[Any]], Any],
    items: list[Any],
) -> Any:
    """Run one chunk on a Dask worker, setting up the process for the run on its first task.

    The lock runs one task at a time per process; see the module docstring.
    """
    global _worker_run
    with _worker_lock:
        if _worker_run != run_id:
            initargs = _run_initargs.get(run_id)
            if initargs is None:
                raise RuntimeError(f"the arguments of run {run_id} were not set up on this worker")
            initializer(*initargs)
            _worker_run = run_id
        return task_function(items)


# --- driver side ------------------------------------------------------------


class DaskExecutor(Generic[Item, Result]):
    """Run `task_function(list_of_items)` on a Dask cluster, with the interface of `CrashTolerantPool`.

    `initializer(*initargs)` runs once per worker process and run, in a task
    thread, so it must not set signal handlers (`ingest.worker.init_state`
    fits, `init_worker` does not).
    """

    def __init__(
        self,
        scheduler: str,
        task_function: Callable[[list[Item]], Result],
        initializer: Callable[..., None],
        initargs: tuple[Any, ...],
        item_timeout: float,
    ) -> None:
        if not scheduler:
            raise NbcensusError("the dask executor needs a scheduler address: use --scheduler tcp://HOST:PORT")
        self.scheduler = scheduler
        self.task_function = task_function
        self.initializer = initializer
        self.initargs = initargs
        self.item_timeout = item_timeout
        self.run_id = uuid.uuid4().hex
        self.restarts = 0
        self.client: Client | None = None
        self.workers: _WorkerCount | None = None

    def __enter__(self) -> DaskExecutor[Item, Result]:
        self.client = _connect(self.scheduler)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback_: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Disconnect from the scheduler; the cluster itself keeps running."""
        if self.client is not None:
            self.client.close()
            self.client = None

    def run(self, chunks: Iterable[list[Item]]) -> Iterator[Result | TaskFailure[Item]]:
        """Yield one result per chunk, or one TaskFailure per item that failed alone, as they finish."""
        client = self._require_client()
        plugin_name = f"nbcensus-run-{self.run_id}"
        client.register_plugin(RunArgumentsPlugin(self.run_id, self.initargs), name=plugin_name)
        workers = self.workers = _WorkerCount(client, self.scheduler)
        log.info("running on the Dask cluster at %s with %d worker processes", self.scheduler, workers.get())

        pending = iter(chunks)
        retries: deque[_Task[Item]] = deque()
        in_flight: dict[Future, _Task[Item]] = {}
        # Dask calls done-callbacks from its own thread; the queue hands the futures over.
        finished: queue.SimpleQueue[Future] = queue.SimpleQueue()
        exhausted = False
        try:
            while True:
                # One task per worker process: a task that kills its worker then
                # takes no queued task with it, and deadlines count from the start.
                while len(in_flight) < workers.get():
                    task = retries.popleft() if retries else None
                    if task is None and not exhausted:
                        chunk = next(pending, None)
                        exhausted = chunk is None
                        task = None if chunk is None else _Task(list(chunk), 0.0)
                    if task is None:
                        break
                    future = client.submit(
                        run_task,
                        self.run_id,
                        self.initializer,
                        self.task_function,
                        task.items,
                        pure=False,
                    )
                    task.deadline = self._deadline(len(task.items))
                    in_flight[future] = task
                    future.add_done_callback(finished.put)

                if not in_flight:
                    return

                for future in _drain(finished, POLL_SECONDS):
                    task = in_flight.pop(future, None)
                    if task is not None:  # None: an overdue task already handled
                        yield from self._collect(future, task, retries)
                yield from self._expire_overdue(in_flight, retries)
        finally:
            if in_flight:
                client.cancel(list(in_flight), force=True)
            client.unregister_worker_plugin(plugin_name)

    def _require_client(self) -> Client:
        if self.client is None:
            raise RuntimeError("DaskExecutor.run() must be called inside a `with` block")
        return self.client

    def _deadline(self, items: int) -> float:
        return time.monotonic() + self.item_timeout * items

    def _collect(self, future: Future, task: _Task[Item], retries: deque[_Task[Item]]) -> Iterator[Result | TaskFailure[Item]]:
        if future.status == "finished":
            try:
                result = future.result(timeout=RESULT_SECONDS)
            except TimeoutError:
                # The worker holding the result died before the driver fetched it.
                # Dask then computes it again, but distributed 2026.8 was seen to
                # wait forever on such a key, so the driver runs a new task instead.
                client = self._require_client()
                client.cancel([future], force=True)
                yield from self._run_again(task, retries)
                return
            except Exception as error:  # noqa: BLE001 - a result that cannot be fetched is retried like a failed task
                reason, detail = reasons.INTERNAL_ERROR, f"{type(error).__name__}: {error}"
            else:
                yield result
                return
        else:
            error = future.exception() if future.status == "error" else None
            if isinstance(error, KilledWorker):
                self._worker_died()
                task.killed += 1
                if len(task.items) == 1 and task.killed < MAX_KILLED:
                    log.info("a Dask task on one file ended in KilledWorker; running it alone once more")
                    retries.appendleft(task)
                    return
                reason, detail = reasons.WORKER_CRASHED, f"Dask gave up on the task: {error}"
            elif error is not None:
                log.error("a Dask task raised %s: %s", type(error).__name__, error)
                reason, detail = reasons.INTERNAL_ERROR, f"{type(error).__name__}: {error}"
            else:
                reason, detail = reasons.WORKER_CRASHED, f"the Dask task ended as {future.status}"
        yield from self._retry_or_fail(task, reason, detail[:1000], retries)

    def _expire_overdue(
        self, in_flight: dict[Future, _Task[Item]], retries: deque[_Task[Item]]
    ) -> Iterator[TaskFailure[Item]]:
        now = time.monotonic()
        overdue = [future for future, task in in_flight.items() if now > task.deadline]
        if not overdue:
            return

        client = self._require_client()
        processing = {key: worker for worker, keys in client.processing().items() for key in keys}
        for future in overdue:
            task = in_flight[future]
            worker = processing.get(future.key)
            if worker is None:
                # NOTE: deadlines count from submission; a task still waiting for
                # a free worker gets a new deadline instead of being stopped.
                task.deadline = self._deadline(len(task.items))
                continue

            del in_flight[future]
            seconds = self.item_timeout * len(task.items)
            log.warning("a Dask task took more than %.0f s on %d file(s); restarting worker %s", seconds, len(task.items), worker)
            client.cancel([future], force=True)
            self._restart_worker(worker)
            detail = f"processing took more than the timeout of {self.item_timeout:g} s"
            yield from self._retry_or_fail(task, reasons.TIMED_OUT, detail, retries)

    def _restart_worker(self, worker: str) -> None:
        """Restart a worker whose task overran, since a running Python task cannot be interrupted."""
        try:
            self._require_client().restart_workers([worker])
        except Exception as error:  # noqa: BLE001 - logged; the file is still recorded as timed out
            log.error("could not restart Dask worker %s (%s); its task may keep running", worker, error)
            return
        self._worker_died()

    def _worker_died(self) -> None:
        self.restarts += 1
        if self.workers is not None:
            self.workers.refresh()

    def _run_again(self, task: _Task[Item], retries: deque[_Task[Item]]) -> Iterator[TaskFailure[Item]]:
        task.lost_results += 1
        if task.lost_results > MAX_LOST_RESULTS:
            detail = f"the result was lost with its worker {task.lost_results} times"
            yield from self._retry_or_fail(task, reasons.WORKER_CRASHED, detail, retries)
            return
        log.warning("the result of a Dask task on %d file(s) was lost with its worker; running it again", len(task.items))
        retries.appendleft(task)

    def _retry_or_fail(
        self, task: _Task[Item], reason: str, detail: str, retries: deque[_Task[Item]]
    ) -> Iterator[TaskFailure[Item]]:
        if len(task.items) == 1:
            yield TaskFailure(task.items[0], reason, detail)
            return
        log.info("retrying the %d files of a failed Dask task one at a time (%s)", len(task.items), reason)
        retries.extendleft(_Task([item], 0.0) for item in reversed(task.items))


def _drain(finished: queue.SimpleQueue[Future], timeout: float) -> list[Future]:
    """Return the futures finished so far, waiting up to `timeout` seconds for the first."""
    try:
        futures = [finished.get(timeout=timeout)]
    except queue.Empty:
        return []
    while True:
        try:
            futures.append(finished.get_nowait())
        except queue.Empty:
            return futures


class _WorkerCount:
    """The number of worker processes, asked of the scheduler at most every WORKER_COUNT_SECONDS.

    Raises NbcensusError when the cluster has had no worker for CONNECT_SECONDS,
    instead of waiting for ever: a Dask nanny does not restart a worker that
    dies while it is still starting, so a cluster can lose all its workers.
    """

    def __init__(self, client: Client, scheduler: str) -> None:
        self.client = client
        self.scheduler = scheduler
        self.count = 1
        self.checked_at = float("-inf")
        self.empty_since: float | None = None

    def refresh(self) -> None:
        """Ask again on the next `get`, after a worker died."""
        self.checked_at = float("-inf")

    def get(self) -> int:
        now = time.monotonic()
        interval = POLL_SECONDS if self.empty_since is not None else WORKER_COUNT_SECONDS
        if now - self.checked_at < interval:
            return self.count

        self.checked_at = now
        workers = len(self.client.nthreads())
        if workers:
            self.empty_since = None
            self.count = workers
            return self.count

        if self.empty_since is None:
            log.warning("the Dask cluster at %s has no workers; waiting up to %.0f s", self.scheduler, CONNECT_SECONDS)
            self.empty_since = now
        elif now - self.empty_since > CONNECT_SECONDS:
            raise NbcensusError(
                f"the Dask cluster at {self.scheduler} has had no workers for {CONNECT_SECONDS:.0f} s; "
                "restart its workers and run the ingest again (files already written are not parsed again)"
            )
        self.count = 1  # keep one task queued for the next worker that registers
        return self.count


def _connect(scheduler: str) -> Client:
    """Connect to the scheduler and wait for a worker, raising NbcensusError with the address on failure."""
    try:
        client = Client(scheduler, timeout=CONNECT_SECONDS, set_as_default=False)
    except (OSError, TimeoutError) as error:
        raise NbcensusError(f"cannot connect to the Dask scheduler at {scheduler}: {error}") from None

    try:
        client.wait_for_workers(1, timeout=CONNECT_SECONDS)
    except TimeoutError:
        client.close()
        raise NbcensusError(
            f"the Dask scheduler at {scheduler} has no workers after {CONNECT_SECONDS:.0f} s: start some with "
            f"`dask worker {scheduler} --nthreads 1`"
        ) from None
    return client
