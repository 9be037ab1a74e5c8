"""Tests of the crash-tolerant pool: results, crashes, hangs and exceptions each end the right way."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import pytest

from ingest import reasons
from ingest.pool import CrashTolerantPool, TaskFailure

# Items are strings, and these ones make the task misbehave in the worker.
CRASH = "crash"
HANG = "hang"
RAISE = "raise"

_prefix = ""


def set_prefix(prefix: str) -> None:
    global _prefix
    _prefix = prefix


def echo_task(items: list[str], on_start: Callable[[int], None]) -> list[str]:
    """Return the items with the initializer's prefix, misbehaving on the special ones."""
    done = []
    for index, item in enumerate(items):
        on_start(index)
        if item == CRASH:
            os.abort()
        if item == HANG:
            time.sleep(3600)
        if item == RAISE:
            raise ValueError("bad item")
        done.append(_prefix + item)
    return done


def silent_task(items: list[str], on_start: Callable[[int], None]) -> list[str]:
    """Like echo_task, but never reports which item it is on."""
    return echo_task(items, lambda index: None)


def run_pool(
    chunks: list[list[str]],
    jobs: int = 2,
    timeout: float = 30.0,
    task: Callable[[list[str], Callable[[int], None]], list[str]] = echo_task,
) -> tuple[list[str], list[TaskFailure[str]], int]:
    done: list[str] = []
    failures: list[TaskFailure[str]] = []
    pool: CrashTolerantPool[str, list[str]] = CrashTolerantPool(
        jobs=jobs, task_function=task, initializer=set_prefix, initargs=("ok:",), item_timeout=timeout
    )
    with pool:
        for result in pool.run(chunks):
            if isinstance(result, TaskFailure):
                failures.append(result)
            else:
                done.extend(result)
        restarts = pool.restarts
    return done, failures, restarts


def test_every_item_processed_once() -> None:
    chunks = [[f"{chunk}-{item}" for item in range(5)] for chunk in range(7)]

    done, failures, restarts = run_pool(chunks)

    assert sorted(done) == sorted(f"ok:{item}" for chunk in chunks for item in chunk)
    assert failures == []
    assert restarts == 0


def test_crash_blames_only_the_crashing_item() -> None:
    done, failures, restarts = run_pool([["a", "b", CRASH, "c"], ["d", "e"]])

    assert sorted(done) == ["ok:a", "ok:b", "ok:c", "ok:d", "ok:e"]
    assert [(failure.item, failure.reason) for failure in failures] == [(CRASH, reasons.WORKER_CRASHED)]
    assert "SIGABRT" in failures[0].detail
    assert restarts == 2  # the first crash in its chunk, then again when retried alone


def test_hang_times_out_without_retry() -> None:
    started = time.monotonic()

    done, failures, _ = run_pool([["a", HANG, "b"], ["c"]], timeout=2.0)

    assert sorted(done) == ["ok:a", "ok:b", "ok:c"]
    assert [(failure.item, failure.reason) for failure in failures] == [(HANG, reasons.TIMED_OUT)]
    assert time.monotonic() - started < 30


def test_exception_retried_item_by_item() -> None:
    done, failures, restarts = run_pool([["a", RAISE, "b"]], jobs=1)

    assert sorted(done) == ["ok:a", "ok:b"]
    assert [(failure.item, failure.reason) for failure in failures] == [(RAISE, reasons.INTERNAL_ERROR)]
    assert "ValueError: bad item" in failures[0].detail
    assert restarts == 0


def test_crash_without_start_messages_isolates_items() -> None:
    done, failures, _ = run_pool([["a", CRASH, "b"]], jobs=1, task=silent_task)

    assert sorted(done) == ["ok:a", "ok:b"]
    assert [(failure.item, failure.reason) for failure in failures] == [(CRASH, reasons.WORKER_CRASHED)]


def test_invalid_jobs_rejected() -> None:
    with pytest.raises(ValueError, match="jobs must be at least 1"):
        CrashTolerantPool(jobs=0, task_function=echo_task, initializer=set_prefix, initargs=("",), item_timeout=1.0)
