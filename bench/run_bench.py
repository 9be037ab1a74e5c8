"""Benchmark nbcensus on a corpus and write the figures to bench/RESULTS.md and a JSON file.

One run measures, each step in a subprocess whose process tree is sampled
(wall time, CPU seconds, peak resident memory):
1. the stdlib-`ast` baseline (`bench/ast_baseline.py`) over the corpus, on one core;
2. `nbcensus ingest` into a fresh warehouse with --jobs 1 and with --jobs 2;
3. the same ingest again with nothing changed;
4. `nbcensus ingest --jobs 2` of every 4th and every 2nd manifest row, for the
   peak memory at 1/4, 1/2 and the whole corpus, with the default cell cache
   and with a small one (driver and largest worker apart);
5. `nbcensus run` on the corpus, with the wall time of each step;
6. `dbt build` on synthetic warehouses (`bench/synthetic.py`) of N copies of
   the ingested corpus, for each N of --scales, and a linear extrapolation of
   time and memory to --target-notebooks.

Other processes share the machine, so every step also records the load
average before it and the share of the machine's CPU time that processes
outside the step used while it ran.

Usage:

    .venv/bin/python bench/run_bench.py
    .venv/bin/python bench/run_bench.py --scales 1,10,100,500 --workdir /tmp/nbcensus-bench

Needs psutil (installed with the `dask` or `test` extras). This is a
benchmark, not a test: it checks nothing and takes tens of minutes.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psutil

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bench.synthetic import scale_warehouse  # noqa: E402
from ingest.cellcache import DEFAULT_MAX_ENTRIES  # noqa: E402
from ingest.dbt import PROJECT_DIR, dbt_executable  # noqa: E402
from ingest.warehouse import WAREHOUSE_ENV  # noqa: E402

log = logging.getLogger("bench.run_bench")

DEFAULT_MANIFEST = REPO_ROOT.parent / "shared" / "corpus" / "manifest.csv"
DEFAULT_WORKDIR = Path("/tmp/nbcensus-bench")
# A cell cache small enough to fill on a quarter of the corpus, for the memory-by-size runs.
SMALL_CACHE_ENTRIES = 1_000
# Read by macros/duckdb_settings.sql.
MEMORY_LIMIT_ENV = "NBCENSUS_MEMORY_LIMIT"
RESULTS_PAGE = REPO_ROOT / "bench" / "RESULTS.md"
RESULTS_JSON = REPO_ROOT / "bench" / "results.json"
BIN = Path(sys.executable).parent

SAMPLE_SECONDS = 0.2
# Proportional set sizes are read on every 5th sample only. Reading them parses
# /proc/PID/smaps (6 ms for a 300 MB process on the 2-core benchmark machine),
# so reading them at every sample would take an estimated tenth of a core from
# a run of four processes.
PSS_EVERY_SAMPLES = 5
GIB = 1024**3
MIB = 1024**2

# The page keeps any text outside these markers, so notes written by hand survive a new run.
FIGURES_START = "<!-- figures:start (written by bench/run_bench.py) -->"
FIGURES_END = "<!-- figures:end -->"

SUMMARY_LINE = re.compile(
    r"in (?P<seconds>[0-9.]+) s: (?P<files>[0-9,]+) files .*?, (?P<parsed>[0-9,]+) notebooks parsed, "
    r"(?P<cells>[0-9,]+) code cells"
)
CACHE_LINE = re.compile(r"Cell cache: (?P<rate>[0-9.]+)% hit rate \((?P<hits>[0-9,]+) of (?P<lookups>[0-9,]+)")
STEP_TIME_LINE = re.compile(r"^\s+(?P<step>[a-z][a-z ]*):\s+(?P<seconds>[0-9.]+) s$")


# --- measuring a process tree -------------------------------------------------


@dataclass(slots=True)
class Measurement:
    """Wall time, CPU time and peak memory of one command and all its descendants."""

    command: str
    wall_seconds: float
    cpu_seconds: float  # user + system of every process in the tree
    root_cpu_seconds: float  # user + system of the command's own process (the ingest's driver)
    peak_rss_bytes: int  # maximum over samples of the summed resident set sizes
    peak_pss_bytes: int  # the same with proportional set sizes (shared pages split), sampled once a second
    peak_root_rss_bytes: int  # maximum resident set size of the command's own process (the driver)
    peak_child_rss_bytes: int  # maximum resident set size of any one descendant (a worker)
    load_before: float  # 1-minute load average when the step started
    other_cpu_share: float  # share of the machine's CPU time used by processes outside the tree
    returncode: int
    stdout: str = field(default="", repr=False)
    stderr: str = field(default="", repr=False)

    def summary(self) -> dict[str, object]:
        record = asdict(self)
        record.pop("stdout")
        record.pop("stderr")
        for key in ("wall_seconds", "cpu_seconds", "root_cpu_seconds", "load_before", "other_cpu_share"):
            record[key] = round(record[key], 3)
        return record


class TreeSampler:
    """Sample a process and its descendants in a background thread until stopped."""

    def __init__(self, root: psutil.Process) -> None:
        self.root = root
        self.cpu_by_pid: dict[int, float] = {}
        self.peak_rss = 0
        self.peak_pss = 0
        self.peak_root_rss = 0
        self.peak_child_rss = 0
        self.samples = 0
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join()

    @property
    def cpu_seconds(self) -> float:
        return sum(self.cpu_by_pid.values())

    def _loop(self) -> None:
        while not self.stopped.is_set():
            self._sample()
            self.stopped.wait(SAMPLE_SECONDS)

    def _sample(self) -> None:
        try:
            processes = [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            return
        with_pss = self.samples % PSS_EVERY_SAMPLES == 0
        self.samples += 1
        rss = pss = 0
        for process in processes:
            try:
                with process.oneshot():
                    times = process.cpu_times()
                    memory = process.memory_full_info() if with_pss else process.memory_info()
            except psutil.Error:
                continue
            # NOTE: CPU time a process spends after its last sample is lost,
            # at most SAMPLE_SECONDS per process.
            self.cpu_by_pid[process.pid] = times.user + times.system
            rss += memory.rss
            if process.pid == self.root.pid:
                self.peak_root_rss = max(self.peak_root_rss, memory.rss)
            else:
                self.peak_child_rss = max(self.peak_child_rss, memory.rss)
            pss += getattr(memory, "pss", memory.rss)
        self.peak_rss = max(self.peak_rss, rss)
        if with_pss:
            self.peak_pss = max(self.peak_pss, pss)


def measure(command: Sequence[str], env: Mapping[str, str] | None = None, check: bool = True) -> Measurement:
    """Run a command, sampling its process tree, and return what it cost."""
    text = shlex.join(str(part) for part in command)
    log.info("running: %s", text)
    load_before = os.getloadavg()[0]
    machine_before = _machine_cpu_seconds()
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(part) for part in command],
        cwd=REPO_ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    sampler = TreeSampler(psutil.Process(process.pid))
    sampler.start()
    stdout, stderr = process.communicate()
    wall = time.perf_counter() - started
    sampler.stop()

    machine_cpu = _machine_cpu_seconds() - machine_before
    other_share = max(0.0, machine_cpu - sampler.cpu_seconds) / max(machine_cpu, 1e-9)
    measurement = Measurement(
        command=text,
        wall_seconds=wall,
        cpu_seconds=sampler.cpu_seconds,
        root_cpu_seconds=sampler.cpu_by_pid.get(process.pid, 0.0),
        peak_rss_bytes=sampler.peak_rss,
        peak_pss_bytes=sampler.peak_pss,
        peak_root_rss_bytes=sampler.peak_root_rss,
        peak_child_rss_bytes=sampler.peak_child_rss,
        load_before=load_before,
        other_cpu_share=other_share,
        returncode=process.returncode,
        stdout=stdout,
        stderr=stderr,
    )
    log.info(
        "done in %.1f s wall, %.1f s CPU, peak %.0f MiB PSS (other processes used %.0f%% of the CPU)",
        wall,
        measurement.cpu_seconds,
        measurement.peak_pss_bytes / MIB,
        other_share * 100,
    )
    if check and process.returncode != 0:
        raise RuntimeError(f"{text} exited with {process.returncode}:\n{stderr[-3000:]}")
    return measurement


def _machine_cpu_seconds() -> float:
    """Return the CPU seconds all cores spent busy since boot."""
    times = psutil.cpu_times()
    return times.user + times.nice + times.system + getattr(times, "irq", 0.0) + getattr(times, "softirq", 0.0)


# --- the steps ----------------------------------------------------------------


def ingest_figures(measurement: Measurement) -> dict[str, object]:
    """Add the counts of the ingest's closing summary to its measurement."""
    figures = measurement.summary()
    summary = SUMMARY_LINE.search(measurement.stderr)
    cache = CACHE_LINE.search(measurement.stderr)
    if summary is None or cache is None:
        raise RuntimeError(f"no ingest summary in the output of {measurement.command}:\n{measurement.stderr[-2000:]}")

    files = int(summary["files"].replace(",", ""))
    cells = int(summary["cells"].replace(",", ""))
    wall = max(measurement.wall_seconds, 1e-9)
    cpu = max(measurement.cpu_seconds, 1e-9)
    figures.update(
        files=files,
        notebooks_parsed=int(summary["parsed"].replace(",", "")),
        code_cells=cells,
        files_per_second=round(files / wall, 1),
        code_cells_per_second=round(cells / wall, 1),
        code_cells_per_cpu_second=round(cells / cpu, 1),
        cache_hit_rate=round(float(cache["rate"]) / 100, 4),
        cache_hits=int(cache["hits"].replace(",", "")),
        cache_lookups=int(cache["lookups"].replace(",", "")),
    )
    return figures


def run_ingest(sources: Sequence[Path], warehouse: Path, jobs: int, cache_entries: int | None = None) -> dict[str, object]:
    command = [BIN / "nbcensus", "ingest", *sources, "--warehouse", warehouse, "--jobs", str(jobs), "--quiet"]
    if cache_entries is not None:
        command += ["--cache-entries", str(cache_entries)]
    return ingest_figures(measure(command))


def run_baseline(manifest: Path, workdir: Path) -> dict[str, object]:
    output = workdir / "ast_baseline.json"
    measurement = measure([sys.executable, REPO_ROOT / "bench" / "ast_baseline.py", manifest, "--json", output])
    figures = measurement.summary()
    figures.update(json.loads(output.read_text(encoding="utf-8")))
    return figures


def write_slice(manifest: Path, target: Path, every: int) -> int:
    """Write every `every`-th row of a manifest, with absolute archive and notebook paths; return the rows written."""
    with manifest.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fields = list(reader.fieldnames or [])
        rows = [row for number, row in enumerate(reader) if number % every == 0]
    for row in rows:
        for column in ("archive", "notebook_path"):
            if row.get(column):
                row[column] = str(manifest.parent / row[column])
    with target.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def run_study(manifest: Path, workdir: Path) -> dict[str, object]:
    folder = fresh_folder(workdir / "study")
    command = [
        BIN / "nbcensus",
        "run",
        manifest,
        "--warehouse",
        folder / "warehouse.duckdb",
        "--out",
        folder / "report",
        "--target-path",
        folder / "target",
        "--jobs",
        "2",
        "--quiet",
    ]
    measurement = measure(command)
    figures = measurement.summary()
    steps = {}
    in_times = False
    for line in measurement.stdout.splitlines():
        if line.strip() == "wall time:":
            in_times = True
            continue
        match = STEP_TIME_LINE.match(line) if in_times else None
        if match and match["step"] != "total":
            steps[match["step"]] = float(match["seconds"])
    figures["steps"] = steps
    return figures


def run_dbt_build(warehouse: Path, target: Path, memory_limit: str | None) -> dict[str, object]:
    """Run `dbt build` on a warehouse and return its cost and its slowest nodes."""
    env = {
        WAREHOUSE_ENV: str(warehouse),
        "DBT_PROFILES_DIR": str(PROJECT_DIR),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    if memory_limit:
        env[MEMORY_LIMIT_ENV] = memory_limit
    command = [dbt_executable(), "build", "--target-path", target, "--log-path", target / "logs"]
    measurement = measure(command, env=env)
    figures = measurement.summary()
    results = json.loads((target / "run_results.json").read_text(encoding="utf-8"))["results"]
    slowest = sorted(results, key=lambda result: -result["execution_time"])[:5]
    figures["slowest_nodes"] = [
        {"node": result["unique_id"], "seconds": round(result["execution_time"], 2)} for result in slowest
    ]
    figures["warehouse_bytes"] = warehouse.stat().st_size
    return figures


def run_scales(
    template: Path, workdir: Path, scales: Sequence[int], keep: bool, memory_limit: str | None
) -> list[dict[str, object]]:
    figures = []
    for factor in scales:
        folder = fresh_folder(workdir / f"scale_{factor}")
        warehouse = folder / "warehouse.duckdb"
        started = time.perf_counter()
        counts = scale_warehouse(template, warehouse, factor)
        seconds = time.perf_counter() - started
        raw_bytes = warehouse.stat().st_size
        log.info("synthetic warehouse of %dx written in %.1f s (%.0f MiB)", factor, seconds, raw_bytes / MIB)

        build = run_dbt_build(warehouse, folder / "target", memory_limit)
        build.update(
            factor=factor,
            notebooks=counts["notebooks"],
            rows=counts,
            synthesis_seconds=round(seconds, 1),
            raw_warehouse_bytes=raw_bytes,
            free_disk_bytes=shutil.disk_usage(folder).free,
        )
        figures.append(build)
        if not keep:
            shutil.rmtree(folder)
    return figures


def extrapolate(scales: Sequence[Mapping[str, object]], notebooks: int) -> dict[str, float] | None:
    """Fit time and memory as a + b * notebooks over the scaled runs of 10x and up; return the fit at `notebooks`."""
    points = [scale for scale in scales if int(scale["factor"]) >= 10]  # type: ignore[call-overload]
    if len(points) < 2:
        return None
    estimate: dict[str, float] = {"notebooks": notebooks}
    for key in ("wall_seconds", "peak_pss_bytes", "warehouse_bytes"):
        xs = [float(point["notebooks"]) for point in points]  # type: ignore[arg-type]
        ys = [float(point[key]) for point in points]  # type: ignore[arg-type]
        mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
        slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / sum((x - mean_x) ** 2 for x in xs)
        estimate[key] = mean_y + slope * (notebooks - mean_x)
    return estimate


def fresh_folder(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


# --- the report ---------------------------------------------------------------


def machine_description() -> dict[str, object]:
    cpu_model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for package in ("duckdb", "libcst", "pyarrow", "dbt-core", "dbt-duckdb", "distributed"):
        try:
            from importlib.metadata import version

            versions[package] = version(package)
        except Exception:  # noqa: BLE001 - a missing package is reported as such
            versions[package] = "not installed"
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "cpu": cpu_model,
        "cores": psutil.cpu_count(logical=True),
        "memory_gib": round(psutil.virtual_memory().total / GIB, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "versions": versions,
        "commit": commit,
    }


def ratios(results: Mapping[str, object]) -> dict[str, float]:
    ast_run = results["ast_baseline"]
    one = results["ingest_jobs_1"]
    two = results["ingest_jobs_2"]
    rerun = results["ingest_rerun"]
    return {
        "ingest_2_over_ast_wall": _ratio(two["wall_seconds"], ast_run["wall_seconds"], 2),  # type: ignore[index]
        "ingest_cpu_over_ast_cpu": _ratio(two["cpu_seconds"], ast_run["cpu_seconds"], 2),  # type: ignore[index]
        "speedup_2_over_1": _ratio(one["wall_seconds"], two["wall_seconds"], 2),  # type: ignore[index]
        "rerun_over_first": _ratio(rerun["wall_seconds"], two["wall_seconds"], 3),  # type: ignore[index]
    }


def _ratio(numerator: float, denominator: float, digits: int) -> float:
    # A run over a few notebooks can end before the sampler records any CPU time.
    return round(numerator / max(denominator, 0.001), digits)


def render_figures(results: Mapping[str, object]) -> str:
    """Return the Markdown of the figures section."""
    machine = results["machine"]
    ratio = results["ratios"]
    lines = [
        FIGURES_START,
        "",
        f"Measured {results['date']} on {machine['cpu']}, {machine['cores']} cores, {machine['memory_gib']} GiB, "  # type: ignore[index]
        f"{machine['os']}, Python {machine['python']}, commit `{machine['commit']}`.",  # type: ignore[index]
        "Versions: " + ", ".join(f"{name} {version}" for name, version in machine["versions"].items()) + ".",  # type: ignore[index]
        "",
        f"Command: `{results['command']}`",
        "",
        "### Targets",
        "",
        "| target | measured | met |",
        "| --- | --- | --- |",
    ]
    for row in target_rows(results, ratio):  # type: ignore[arg-type]
        lines.append("| " + " | ".join(row) + " |")

    lines += [
        "",
        "### Ingest of the corpus",
        "",
        "Wall and CPU seconds cover the whole process tree; memory is the peak of the summed proportional set size "
        "(PSS) of the tree, with resident set size (RSS) beside it. `other CPU` is the share of the machine's CPU "
        "time that processes outside the step used while it ran.",
        "",
        "| run | wall s | CPU s | driver CPU s | files/s | code cells/s | cells per CPU s | cache hit rate | "
        "peak PSS MiB | peak RSS MiB | load before | other CPU |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, key in (
        ("ingest --jobs 1", "ingest_jobs_1"),
        ("ingest --jobs 2", "ingest_jobs_2"),
        ("re-run, nothing changed", "ingest_rerun"),
    ):
        run = results[key]
        lines.append(
            f"| {label} | {run['wall_seconds']:.1f} | {run['cpu_seconds']:.1f} | {run['root_cpu_seconds']:.1f} | "  # type: ignore[index]
            f"{run['files_per_second']:,.1f} | "  # type: ignore[index]
            f"{run['code_cells_per_second']:,.0f} | {run['code_cells_per_cpu_second']:,.0f} | "  # type: ignore[index]
            f"{run['cache_hit_rate']:.1%} | {run['peak_pss_bytes'] / MIB:,.0f} | {run['peak_rss_bytes'] / MIB:,.0f} | "  # type: ignore[index]
            f"{run['load_before']:.1f} | {run['other_cpu_share']:.0%} |"  # type: ignore[index]
        )
    ast_run = results["ast_baseline"]
    lines.append(
        f"| stdlib `ast` baseline, 1 core | {ast_run['wall_seconds']:.1f} | {ast_run['cpu_seconds']:.1f} | n/a | "  # type: ignore[index]
        f"{ast_run['files'] / ast_run['wall_seconds']:,.1f} | {ast_run['code_cells'] / ast_run['wall_seconds']:,.0f} | "  # type: ignore[index]
        f"{ast_run['code_cells'] / ast_run['cpu_seconds']:,.0f} | n/a | {ast_run['peak_pss_bytes'] / MIB:,.0f} | "  # type: ignore[index]
        f"{ast_run['peak_rss_bytes'] / MIB:,.0f} | {ast_run['load_before']:.1f} | {ast_run['other_cpu_share']:.0%} |"  # type: ignore[index]
    )
    lines += [
        "",
        f"The baseline counts every code cell of every Python notebook ({ast_run['code_cells']:,}); the ingest counts "  # type: ignore[index]
        f"the code cells of the notebooks it parsed ({results['ingest_jobs_2']['code_cells']:,}), since identical "  # type: ignore[index]
        "files are parsed once. The baseline's parse alone took "
        f"{ast_run['parse_cpu_seconds']:.1f} CPU s ({ast_run['parse_code_cells_per_second']:,.0f} cells/s); the rest "  # type: ignore[index]
        "is reading, JSON decoding and neutralising IPython syntax.",
        "",
        "### Ingest memory by corpus size (--jobs 2)",
        "",
        "Each worker keeps a cell cache of at most `--cache-entries` parses; the runs with a cache of "
        f"{SMALL_CACHE_ENTRIES:,} entries show the memory once every cache is full.",
        "",
        "| cell cache entries | share of the corpus | files | peak PSS MiB | peak RSS MiB | driver peak RSS MiB "
        "| largest worker peak RSS MiB | wall s |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for memory_run in results["memory_by_size"]:  # type: ignore[attr-defined]
        lines.append(
            f"| {memory_run['cache_entries']:,} | {memory_run['share']} | {memory_run['files']:,} | "
            f"{memory_run['peak_pss_bytes'] / MIB:,.0f} | {memory_run['peak_rss_bytes'] / MIB:,.0f} | "
            f"{memory_run['peak_root_rss_bytes'] / MIB:,.0f} | {memory_run['peak_child_rss_bytes'] / MIB:,.0f} | "
            f"{memory_run['wall_seconds']:.1f} |"
        )

    study = results["study"]
    lines += [
        "",
        "### `nbcensus run` on the corpus (--jobs 2)",
        "",
        "| step | wall s | share |",
        "| --- | ---: | ---: |",
    ]
    total = sum(study["steps"].values()) or 1.0  # type: ignore[index]
    for step, seconds in study["steps"].items():  # type: ignore[index]
        lines.append(f"| {step} | {seconds:.1f} | {seconds / total:.0%} |")
    lines.append(f"| whole command | {study['wall_seconds']:.1f} | peak PSS {study['peak_pss_bytes'] / MIB:,.0f} MiB |")  # type: ignore[index]

    lines += [
        "",
        "### `dbt build` on synthetic warehouses",
        "",
        "N copies of the ingested corpus with new notebook and file ids (`bench/synthetic.py`), "
        f"built with {MEMORY_LIMIT_ENV}={results.get('dbt_memory_limit') or '(unset)'}.",
        "",
        "| copies | notebooks | uses rows | raw MiB | after build MiB | wall s | CPU s | peak PSS MiB | slowest node |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for scale in results["dbt_scales"]:  # type: ignore[attr-defined]
        slowest = scale["slowest_nodes"][0]
        lines.append(
            f"| {scale['factor']} | {scale['notebooks']:,} | {scale['rows']['uses']:,} | "
            f"{scale['raw_warehouse_bytes'] / MIB:,.0f} | {scale['warehouse_bytes'] / MIB:,.0f} | "
            f"{scale['wall_seconds']:.1f} | {scale['cpu_seconds']:.1f} | {scale['peak_pss_bytes'] / MIB:,.0f} | "
            f"`{slowest['node']}` {slowest['seconds']:.1f} s |"
        )
    estimate = results.get("extrapolation")
    if estimate:
        lines += [
            "",
            f"Linear fit over the runs of 10 copies and more, at {estimate['notebooks']:,.0f} notebooks "  # type: ignore[index]
            f"(an estimate): `dbt build` {estimate['wall_seconds']:.0f} s, peak PSS "  # type: ignore[index]
            f"{estimate['peak_pss_bytes'] / GIB:.1f} GiB, warehouse {estimate['warehouse_bytes'] / GIB:.1f} GiB.",  # type: ignore[index]
        ]
    lines += ["", FIGURES_END]
    return "\n".join(lines)


def target_rows(results: Mapping[str, object], ratio: Mapping[str, float]) -> list[list[str]]:
    rows = [
        [
            "ingest on 2 cores <= 3x the 1-core `ast` baseline (wall)",
            f"{ratio['ingest_2_over_ast_wall']:.2f}x (CPU: {ratio['ingest_cpu_over_ast_cpu']:.2f}x)",
            _met(ratio["ingest_2_over_ast_wall"] <= 3),
        ],
        ["2 processes >= 1.8x one process", f"{ratio['speedup_2_over_1']:.2f}x", _met(ratio["speedup_2_over_1"] >= 1.8)],
        [
            "re-run with nothing changed < 10 % of the first ingest",
            f"{ratio['rerun_over_first']:.1%}",
            _met(ratio["rerun_over_first"] < 0.10),
        ],
    ]
    largest = max(results["dbt_scales"], key=lambda scale: scale["notebooks"])  # type: ignore[arg-type, index]
    estimate = results.get("extrapolation")
    target_notebooks = results["target_notebooks"]
    if largest["notebooks"] >= 0.95 * target_notebooks:  # type: ignore[operator]
        seconds, memory, basis = largest["wall_seconds"], largest["peak_pss_bytes"], f"measured at {largest['factor']} copies"
    elif estimate:
        seconds, memory, basis = estimate["wall_seconds"], estimate["peak_pss_bytes"], "extrapolated"  # type: ignore[index]
    else:
        return rows
    rows.append(
        [
            f"`dbt build` for {target_notebooks:,} notebooks < 5 min and < 8 GiB",
            f"{seconds:.0f} s, {memory / GIB:.1f} GiB ({basis})",
            _met(seconds < 300 and memory < 8 * GIB),
        ]
    )
    return rows


def _met(condition: bool) -> str:
    return "yes" if condition else "no"


def write_page(path: Path, figures: str) -> None:
    """Replace the figures section of the page, keeping the text around it."""
    if path.is_file():
        text = path.read_text(encoding="utf-8")
        if FIGURES_START in text and FIGURES_END in text:
            before = text[: text.index(FIGURES_START)]
            after = text[text.index(FIGURES_END) + len(FIGURES_END) :]
            path.write_text(before + figures + after, encoding="utf-8")
            return
    header = "# Benchmark results\n\nFigures of one run of `bench/run_bench.py`; the notes below them are written by hand.\n\n"
    path.write_text(header + figures + "\n", encoding="utf-8")


# --- main ---------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST, help="manifest CSV of the corpus")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help="folder for warehouses (emptied first)")
    parser.add_argument("--scales", default="1,10,100", help="copies of the corpus for the dbt runs, comma-separated")
    parser.add_argument("--target-notebooks", type=int, default=4_000_000, help="notebooks to extrapolate dbt build to")
    parser.add_argument("--keep", action="store_true", help="keep the synthetic warehouses")
    parser.add_argument(
        "--dbt-memory-limit",
        default="6GB",
        help=f"DuckDB memory limit for the dbt builds, passed as {MEMORY_LIMIT_ENV}; empty for DuckDB's default",
    )
    parser.add_argument("--json", type=Path, default=RESULTS_JSON, help=f"JSON output (default: {RESULTS_JSON})")
    parser.add_argument("--page", type=Path, default=RESULTS_PAGE, help=f"Markdown page (default: {RESULTS_PAGE})")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)

    manifest = args.manifest.resolve()
    if not manifest.is_file():
        print(f"Error: manifest not found: {manifest}", file=sys.stderr)
        return 1
    scales = [int(part) for part in args.scales.split(",") if part.strip()]
    workdir = fresh_folder(args.workdir)

    results: dict[str, object] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": shlex.join([".venv/bin/python", "bench/run_bench.py", *(argv if argv is not None else sys.argv[1:])]),
        "machine": machine_description(),
        "manifest": str(manifest),
        "target_notebooks": args.target_notebooks,
    }

    results["ast_baseline"] = run_baseline(manifest, workdir)
    results["ingest_jobs_1"] = run_ingest([manifest], workdir / "jobs1.duckdb", jobs=1)
    results["ingest_jobs_2"] = run_ingest([manifest], workdir / "jobs2.duckdb", jobs=2)
    results["ingest_rerun"] = run_ingest([manifest], workdir / "jobs2.duckdb", jobs=2)

    memory_by_size = []
    for cache_entries in (None, SMALL_CACHE_ENTRIES):
        for every, share in ((4, "1/4"), (2, "1/2"), (1, "all")):
            if every == 1 and cache_entries is None:
                run = results["ingest_jobs_2"]
                files = run["files"]  # type: ignore[index]
            else:
                sliced = workdir / f"slice_{every}.csv"
                files = write_slice(manifest, sliced, every)
                warehouse = workdir / f"slice_{every}_{cache_entries or 'default'}.duckdb"
                run = run_ingest([sliced], warehouse, jobs=2, cache_entries=cache_entries)
            memory_by_size.append({"share": share, "cache_entries": cache_entries or DEFAULT_MAX_ENTRIES, "files": files, **run})  # type: ignore[dict-item]
    results["memory_by_size"] = memory_by_size

    results["study"] = run_study(manifest, workdir)
    results["dbt_memory_limit"] = args.dbt_memory_limit
    results["dbt_scales"] = run_scales(workdir / "jobs2.duckdb", workdir, scales, args.keep, args.dbt_memory_limit)
    results["extrapolation"] = extrapolate(results["dbt_scales"], args.target_notebooks)  # type: ignore[arg-type]
    results["ratios"] = ratios(results)

    args.json.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    write_page(args.page, render_figures(results))
    print(json.dumps(results["ratios"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
