"""Measure how long dating notebooks from git history takes, per 1,000 commits.

Builds a synthetic repository with `git fast-import` (by default 5,000 commits
over a few hundred notebooks that are edited, renamed, copied, deleted and
added again, with set dates), or uses an existing one, then times:
- the whole dating step (`ingest.gitdates.date_notebooks`: one `git log` with
  rename and copy detection, parsed and tracked, plus the newest-commit walk);
- the same `git log` alone, drained without parsing, to split git's share from
  Python's;
- the `git log` without `--find-copies-harder`, to show what copy detection
  against unchanged files costs.

Usage:

    .venv/bin/python bench/git_dating.py
    .venv/bin/python bench/git_dating.py --commits 20000 --notebooks 600
    .venv/bin/python bench/git_dating.py --repo path/to/clone.git

This is a benchmark, not a test: it prints figures and checks nothing.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ingest.gitdates import LOG_OPTIONS, NOTEBOOK_PATHSPEC, date_notebooks  # noqa: E402
from ingest.gitrepo import GitRepository, git_environment  # noqa: E402

log = logging.getLogger("bench.git_dating")

START_SECONDS = 1_420_070_400  # 2015-01-01T00:00:00Z
FOLDERS = ("", "lessons/", "lessons/advanced/", "labs/", "archive/", "drafts/")


class SyntheticHistory:
    """Write a `git fast-import` stream of random notebook changes with set dates."""

    def __init__(self, seed: int, notebooks: int) -> None:
        self.random = random.Random(seed)
        self.target_notebooks = notebooks
        self.files: dict[str, list[str]] = {}  # notebook path -> its cell lines
        self.next_name = 0
        self.seconds = START_SECONDS
        self.counts = {"edit": 0, "rename": 0, "copy": 0, "add": 0, "delete": 0, "other": 0}

    def new_path(self) -> str:
        self.next_name += 1
        return f"{self.random.choice(FOLDERS)}notebook {self.next_name:05d}.ipynb"

    def new_cells(self) -> list[str]:
        return [self.random_line(index) for index in range(self.random.randint(15, 45))]

    def random_line(self, index: int) -> str:
        token = self.random.getrandbits(96)
        return f"value_{index} = compute({index}, 0x{token:024x})  # step {index}"

    @staticmethod
    def render(cells: list[str]) -> bytes:
        sources = ",\n".join(
            f'  {{"cell_type": "code", "execution_count": null, "metadata": {{}}, "outputs": [], "source": ["{line}"]}}'
            for line in cells
        )
        text = (
            '{\n "cells": [\n' + sources + '\n ],\n "metadata": {"kernelspec": {"name": "python3", '
            '"language": "python"}},\n "nbformat": 4,\n "nbformat_minor": 5\n}\n'
        )
        return text.encode("utf-8")

    def edit(self, path: str) -> None:
        cells = self.files[path]
        for _ in range(self.random.randint(1, 3)):
            index = self.random.randrange(len(cells))
            cells[index] = self.random_line(index)

    def commit_operations(self) -> list[tuple[str, ...]]:
        """Pick the changes of the next commit: (op, path) or (op, source, destination)."""
        paths = sorted(self.files)
        roll = self.random.random()

        if len(paths) < self.target_notebooks // 2 or (roll < 0.06 and len(paths) < self.target_notebooks):
            path = self.new_path()
            self.files[path] = self.new_cells()
            self.counts["add"] += 1
            return [("M", path)]
        if roll < 0.68:
            chosen = self.random.sample(paths, k=min(len(paths), self.random.randint(1, 3)))
            for path in chosen:
                self.edit(path)
            self.counts["edit"] += 1
            return [("M", path) for path in chosen]
        if roll < 0.78:
            source = self.random.choice(paths)
            destination = self.new_path()
            self.files[destination] = self.files.pop(source)
            operations: list[tuple[str, ...]] = [("R", source, destination)]
            if self.random.random() < 0.5:
                self.edit(destination)
                operations.append(("M", destination))
            self.counts["rename"] += 1
            return operations
        if roll < 0.83 and len(paths) < self.target_notebooks:
            source = self.random.choice(paths)
            destination = self.new_path()
            self.files[destination] = list(self.files[source])
            self.counts["copy"] += 1
            return [("C", source, destination)]
        if roll < 0.87 and len(paths) > self.target_notebooks // 2:
            path = self.random.choice(paths)
            del self.files[path]
            self.counts["delete"] += 1
            return [("D", path)]
        self.counts["other"] += 1
        return [("README", "README.md")]

    def write_stream(self, stream, commits: int) -> None:
        for number in range(1, commits + 1):
            self.seconds += self.random.randint(600, 40_000)
            operations = self.commit_operations()
            message = f"Change {number}".encode()

            lines = [
                b"commit refs/heads/main\n",
                f"committer Bench <bench@example.com> {self.seconds} +0000\n".encode(),
                f"data {len(message)}\n".encode() + message + b"\n",
            ]
            for operation in operations:
                lines.extend(self.file_command(operation, number))
            stream.write(b"".join(lines) + b"\n")

    def file_command(self, operation: tuple[str, ...], number: int) -> list[bytes]:
        kind = operation[0]
        if kind == "M":
            content = self.render(self.files[operation[1]])
            return [f'M 100644 inline "{operation[1]}"\n'.encode(), f"data {len(content)}\n".encode(), content, b"\n"]
        if kind == "README":
            content = f"Release {number}\n".encode()
            return [b"M 100644 inline README.md\n", f"data {len(content)}\n".encode(), content, b"\n"]
        if kind == "D":
            return [f'D "{operation[1]}"\n'.encode()]
        return [f'{kind} "{operation[1]}" "{operation[2]}"\n'.encode()]


def build_repository(path: Path, commits: int, notebooks: int, seed: int) -> dict[str, int]:
    """Create a bare repository at PATH with COMMITS synthetic commits."""
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(path)], check=True, env=git_environment())
    history = SyntheticHistory(seed, notebooks)
    process = subprocess.Popen(
        ["git", f"--git-dir={path}", "fast-import", "--quiet"],
        stdin=subprocess.PIPE,
        env=git_environment(),
    )
    assert process.stdin is not None
    history.write_stream(process.stdin, commits)
    process.stdin.close()
    if process.wait() != 0:
        raise SystemExit("git fast-import failed")
    subprocess.run(["git", f"--git-dir={path}", "gc", "-q"], check=True, env=git_environment())
    return history.counts


@dataclass(frozen=True, slots=True)
class Timing:
    wall: float  # seconds of wall time
    cpu: float  # CPU seconds of this process and of the git processes it waited for


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def time_runs(action: Callable[[], object], repeat: int) -> list[Timing]:
    """Time ACTION REPEAT times; CPU time does not grow when other jobs load the machine."""
    timings = []
    for _ in range(repeat):
        wall_started, cpu_started = time.perf_counter(), cpu_seconds()
        action()
        timings.append(Timing(time.perf_counter() - wall_started, cpu_seconds() - cpu_started))
    return timings


def drain_log(repository: GitRepository, commit: str, options: tuple[str, ...]) -> None:
    process = repository.popen(["log", *options, commit, "--", NOTEBOOK_PATHSPEC])
    assert process.stdout is not None
    while process.stdout.read(1 << 20):
        pass
    process.wait()


def count_commits(repository: GitRepository, commit: str) -> int:
    return int(repository.git(["rev-list", "--count", commit]).decode().strip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, help="time an existing repository instead of building one")
    parser.add_argument("--rev", default="HEAD", help="revision to date (default: HEAD)")
    parser.add_argument("--commits", type=int, default=5_000, help="commits of the synthetic history")
    parser.add_argument("--notebooks", type=int, default=300, help="notebooks the synthetic history keeps around")
    parser.add_argument("--seed", type=int, default=7, help="random seed of the synthetic history")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each measurement; the median is shown")
    parser.add_argument("--keep", type=Path, help="build the synthetic repository here and keep it")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    with tempfile.TemporaryDirectory(prefix="git-dating-") as scratch:
        if args.repo is not None:
            path = args.repo
        else:
            path = args.keep or Path(scratch) / "synthetic.git"
            started = time.perf_counter()
            counts = build_repository(path, args.commits, args.notebooks, args.seed)
            print(f"built {path} in {time.perf_counter() - started:.1f} s: commits by kind {counts}")

        repository = GitRepository.open(path)
        commit = repository.resolve_commit(args.rev)
        notebooks = [entry.path for entry in repository.list_notebooks(commit)]
        commits = count_commits(repository, commit)

        result = date_notebooks(repository, commit, notebooks)
        dated = sum(1 for dates in result.notebooks.values() if dates.first_commit_at is not None)
        followed = sum(
            1
            for dates in result.notebooks.values()
            if dates.first_commit_at is not None and dates.first_commit_at != dates.last_commit_at
        )

        whole = time_runs(lambda: date_notebooks(repository, commit, notebooks), args.repeat)
        git_only = time_runs(lambda: drain_log(repository, commit, LOG_OPTIONS), args.repeat)
        without_harder = tuple(option for option in LOG_OPTIONS if option != "--find-copies-harder")
        git_no_harder = time_runs(lambda: drain_log(repository, commit, without_harder), args.repeat)

    def per_thousand(timings: list[Timing]) -> str:
        wall = statistics.median(timing.wall for timing in timings)
        cpu = statistics.median(timing.cpu for timing in timings)
        return (
            f"{wall:.2f} s wall ({wall / commits * 1000:.3f} s per 1,000 commits), "
            f"{cpu:.2f} s CPU ({cpu / commits * 1000:.3f} s per 1,000 commits)"
        )

    print(f"repository: {commits:,} commits reachable from {args.rev}, {len(notebooks):,} notebooks at it")
    print(f"dated: {dated:,} notebooks ({followed:,} with more than one commit); log commits parsed: {result.commits_read:,}")
    print(f"dating (git log + parse + lineage + newest commit): {per_thousand(whole)}")
    print(f"git log alone (drained, not parsed):               {per_thousand(git_only)}")
    print(f"git log without --find-copies-harder:              {per_thousand(git_no_harder)}")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; median of {args.repeat} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
