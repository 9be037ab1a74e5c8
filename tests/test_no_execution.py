"""Nothing runs: nbcensus reads notebook code but never executes it, imports it, or acts on it.

The main test runs `nbcensus ingest` on notebooks whose code would create
files, import a canary package, open sockets and run shell commands if any of
it ran, and on archives whose entry names try to escape their folder. Every
process of the run (the driver, the fork server and the workers) loads a
`sitecustomize` module that installs an audit hook (PEP 578). The hook logs
the events that would betray execution: network connections, name lookups,
process starts, imports, and files opened for writing. The tests then check
the files on disk and the log.
"""

from __future__ import annotations

import io
import json
import tempfile
import os
import socket
import sys
import tarfile
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from hostile_inputs import NBCENSUS, code_cell, notebook_bytes, plain_notebook_bytes, run_ingest

from ingest.extract import extract_notebook
from ingest.notebook import read_notebook

REPO_ROOT = Path(__file__).resolve().parent.parent

# Packages the study counts; nbcensus must find their imports without importing them.
COUNTED_PACKAGES = ("boto3", "sagemaker", "mxnet", "botocore")

# Logs, in every Python process that imports it, the audit events that code
# execution, network use or a stray write would raise. Each process appends
# JSON lines to the file named by NBCENSUS_AUDIT_LOG.
AUDIT_SITECUSTOMIZE = r'''
import json
import os
import sys

_path = os.environ.get("NBCENSUS_AUDIT_LOG")
if _path:
    _log = open(_path, "a", buffering=1, encoding="utf-8")
    _busy = [False]
    _seen = set()
    _WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

    def _describe(event, args):
        if event == "import":
            return {"module": str(args[0])}
        if event == "open":
            path, mode, flags = args
            writes = any(letter in mode for letter in "wax+") if isinstance(mode, str) else bool(flags & _WRITE_FLAGS)
            if not writes or not isinstance(path, (str, bytes)):
                return None
            return {"path": os.fsdecode(path)}
        if event in ("socket.connect", "socket.bind", "socket.sendto"):
            return {"family": int(args[0].family), "address": repr(args[1])}
        if event.startswith("socket."):
            return {"args": repr(args)[:300]}
        if event == "exec":
            code = args[0]
            filename = getattr(code, "co_filename", "")
            if filename.startswith("<"):
                # Code made from a string (dataclasses and namedtuple do this): keep what it refers to.
                return {"filename": filename, "text": repr((code.co_names, code.co_consts))[:4000]}
            return {"filename": filename}
        return {"args": repr(args)[:500]}

    def _hook(event, args):
        if _busy[0]:
            return
        if not (event in ("import", "open", "exec", "os.system", "subprocess.Popen", "os.posix_spawn")
                or event.startswith(("socket.", "os.exec", "os.spawn"))):
            return
        _busy[0] = True
        try:
            record = _describe(event, args)
            if record is not None:
                record["event"] = event
                key = json.dumps(record, sort_keys=True)
                if key not in _seen:
                    _seen.add(key)
                    record["pid"] = os.getpid()
                    _log.write(json.dumps(record) + "\n")
        finally:
            _busy[0] = False

    sys.addaudithook(_hook)
'''


@dataclass(frozen=True)
class Trap:
    """The notebooks and archives of the test, and every name their code would create if run."""

    sources: list[str]
    markers: list[Path]  # absolute paths that code in the notebooks would create
    relative_markers: list[str]  # names that code would create in the working directory
    canary: str  # a package whose import writes canary_marker
    canary_marker: Path
    escape_names: list[str]  # file names that archive entries would be written to if extracted


def write_trap(root: Path) -> Trap:
    token = uuid.uuid4().hex[:12]
    markers_dir = root / "markers"
    markers = [markers_dir / f"{name}_{token}" for name in ("open", "system", "bang", "bash", "script", "eval", "pathlib")]
    relative = [f"writefile_{token}.py", f"writefile_{token}.txt", f"relative_{token}"]
    canary = f"nbcensus_canary_{token}"
    canary_marker = root / f"imported_{token}"

    # A real, importable package: importing it, anywhere, leaves canary_marker behind.
    package = root / "site" / canary
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(f"open({str(canary_marker)!r}, 'w').close()\n", encoding="utf-8")

    open_marker, system_marker, bang_marker, bash_marker, script_marker, eval_marker, pathlib_marker = markers
    cells = [
        code_cell(f"import {canary}\nfrom {canary} import anything\nimport boto3, sagemaker\nimport mxnet as mx\n"),
        code_cell(f"open({str(open_marker)!r}, 'w').write('ran')\nopen({relative[2]!r}, 'w').close()\n"),
        code_cell(f"import os\nos.system('touch {system_marker}')\n"),
        code_cell(f"!touch {bang_marker}\nfiles = !touch {bang_marker}\n%sx touch {bang_marker}\n"),
        code_cell(f"%%bash\ntouch {bash_marker}\n"),
        code_cell(f"%%script python3\nopen({str(script_marker)!r}, 'w').close()\n"),
        code_cell(f"%%writefile {relative[0]}\nimport {canary}\nprint('training')\n"),
        code_cell(f"%%writefile {relative[1]}\nnotes\n"),
        code_cell(f"eval(\"open({str(eval_marker)!r}, 'w')\")\nexec(\"import {canary}\")\n__import__({canary!r})\n"),
        code_cell(f"import importlib\nimportlib.import_module({canary!r})\n"),
        code_cell(f"import pathlib\npathlib.Path({str(pathlib_marker)!r}).touch()\n"),
        code_cell(
            "import socket\nsocket.create_connection(('127.0.0.1', 9))\n"
            "import urllib.request\nurllib.request.urlopen('http://127.0.0.1:9/')\n"
            "sm = boto3.client('sagemaker', endpoint_url='http://127.0.0.1:9')\nsm.list_training_jobs()\n"
        ),
        code_cell(f"%run {relative[0]}\n%load_ext {canary}\n%pip install {canary}\n"),
    ]
    folder = root / "notebooks"
    folder.mkdir()
    (folder / "trap.ipynb").write_bytes(notebook_bytes(cells))

    # Archives nested three folders deep, so that `../../` lands inside root and is visible to the test.
    deep = root / "a" / "b" / "c"
    deep.mkdir(parents=True)
    escape_names = [f"escape_zip_{token}.ipynb", f"abs_zip_{token}.ipynb", f"escape_tar_{token}.ipynb", f"abs_tar_{token}.ipynb"]
    with zipfile.ZipFile(deep / "escape.zip", "w") as archive:
        archive.writestr(f"../../{escape_names[0]}", plain_notebook_bytes("zip escape"))
        archive.writestr(f"/tmp/{escape_names[1]}", plain_notebook_bytes("zip absolute"))
        archive.writestr("safe/inside.ipynb", plain_notebook_bytes("zip safe"))
    with tarfile.open(deep / "escape.tar", "w") as archive:
        for name, data in (
            (f"../../{escape_names[2]}", plain_notebook_bytes("tar escape")),
            (f"/tmp/{escape_names[3]}", plain_notebook_bytes("tar absolute")),
            ("safe/inside.ipynb", plain_notebook_bytes("tar safe")),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("link.ipynb")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        archive.addfile(link)

    sources = [str(folder), str(deep / "escape.zip"), str(deep / "escape.tar")]
    return Trap(sources, markers, relative, canary, canary_marker, escape_names)


def files_under(root: Path) -> set[str]:
    found = set()
    for directory, _, filenames in os.walk(root):
        for filename in filenames:
            found.add(os.path.relpath(os.path.join(directory, filename), root))
    return found


def names_under(root: Path, skipped: frozenset[str] = frozenset()) -> set[str]:
    """Every file name under root, without descending into the skipped folder names."""
    names: set[str] = set()
    for _, subdirectories, filenames in os.walk(root):
        subdirectories[:] = [name for name in subdirectories if name not in skipped]
        names.update(filenames)
    return names


@dataclass(frozen=True)
class TrapRun:
    trap: Trap
    root: Path
    cwd: Path
    warehouse: Path
    returncode: int
    stderr: str
    files_before: set[str]
    files_after: set[str]
    events: list[dict[str, object]]


@pytest.fixture(scope="module")
def trap_run(tmp_path_factory: pytest.TempPathFactory) -> TrapRun:
    root = tmp_path_factory.mktemp("no_execution")
    trap = write_trap(root)
    hooks = root / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(AUDIT_SITECUSTOMIZE, encoding="utf-8")
    cwd = root / "cwd"
    cwd.mkdir()
    output = root / "output"
    output.mkdir()
    warehouse = output / "warehouse.duckdb"
    audit_log = root / "audit.jsonl"
    files_before = files_under(root)

    environment = {
        "NBCENSUS_AUDIT_LOG": str(audit_log),
        # The canary package is importable in every process of the run.
        "PYTHONPATH": os.pathsep.join([str(hooks), str(root / "site")]),
    }
    result = run_ingest(trap.sources, warehouse, "--jobs", "2", cwd=cwd, environment=environment)

    files_after = files_under(root)
    events = [json.loads(line) for line in audit_log.read_text(encoding="utf-8").splitlines()]
    return TrapRun(trap, root, cwd, warehouse, result.returncode, result.stderr, files_before, files_after, events)


def events_of(run: TrapRun, *names: str) -> list[dict[str, object]]:
    """Return the logged events named, or in a named family (`socket` matches `socket.connect`)."""
    return [
        event
        for event in run.events
        if event["event"] in names or str(event["event"]).startswith(tuple(name + "." for name in names))
    ]


# --- the run and its rows ----------------------------------------------------------


def test_trap_run_succeeds(trap_run: TrapRun) -> None:
    assert trap_run.returncode == 0, trap_run.stderr[-3000:]


def test_audit_hook_was_active(trap_run: TrapRun) -> None:
    """The log contains imports from the driver and from workers, so the hook ran in every process."""
    processes = {event["pid"] for event in trap_run.events if event["event"] == "import"}

    assert len(processes) >= 3, f"imports logged by {len(processes)} process(es)"
    assert any(event["event"] == "import" and event["module"] == "libcst" for event in trap_run.events)


def test_trap_imports_counted(trap_run: TrapRun) -> None:
    """The imports the code would run are found, so the test reads what it claims to read."""
    with duckdb.connect(str(trap_run.warehouse), read_only=True) as connection:
        packages = {row[0] for row in connection.execute("select distinct package from raw.imports").fetchall()}

    assert trap_run.trap.canary in packages
    for package in ("boto3", "sagemaker", "mxnet"):
        assert package in packages


def test_escaping_entries_skipped(trap_run: TrapRun) -> None:
    with duckdb.connect(str(trap_run.warehouse), read_only=True) as connection:
        rows = connection.execute("select member, outcome, reason from raw.outcomes where member is not null").fetchall()

    by_member = {member: (outcome, reason) for member, outcome, reason in rows}
    assert by_member.pop("safe/inside.ipynb") == ("ingested", None)
    assert sorted(by_member.values()) == [("skipped", "unsafe_member_path")] * 4


# --- nothing executed ----------------------------------------------------------------


def test_no_marker_files(trap_run: TrapRun) -> None:
    for marker in trap_run.trap.markers:
        assert not marker.exists(), marker
    assert not trap_run.trap.canary_marker.exists(), "the canary package was imported"


def test_nothing_written_in_working_directory(trap_run: TrapRun) -> None:
    assert list(trap_run.cwd.iterdir()) == []
    for name in trap_run.trap.relative_markers:
        assert not (REPO_ROOT / name).exists(), name


def test_only_warehouse_files_added(trap_run: TrapRun) -> None:
    """The run adds the warehouse and the audit log, and no extracted archive entry anywhere."""
    added = trap_run.files_after - trap_run.files_before
    removed = trap_run.files_before - trap_run.files_after

    assert removed == set()
    assert added == {"audit.jsonl", os.path.join("output", "warehouse.duckdb")}


def test_archive_entries_not_extracted(trap_run: TrapRun) -> None:
    everywhere = names_under(trap_run.root) | names_under(Path("/tmp"), frozenset({"pytest-of-root"}))

    for name in trap_run.trap.escape_names:
        assert name not in everywhere
        assert not Path("/tmp", name).exists()


def test_no_counted_package_imported(trap_run: TrapRun) -> None:
    imported = {str(event["module"]).split(".")[0] for event in events_of(trap_run, "import")}

    assert trap_run.trap.canary not in imported
    for package in COUNTED_PACKAGES:
        assert package not in imported


def test_no_network_use(trap_run: TrapRun) -> None:
    """Only local (AF_UNIX) sockets are used, by the worker pool; no name lookup, no TCP or UDP."""
    socket_events = events_of(trap_run, "socket")
    inet = [event for event in socket_events if event.get("family") in (socket.AF_INET, socket.AF_INET6)]
    lookups = [event for event in socket_events if event["event"] in ("socket.getaddrinfo", "socket.gethostbyname")]

    assert inet == []
    assert lookups == []


def test_no_shell_or_program_started(trap_run: TrapRun) -> None:
    """No shell, no notebook command: the only program started is this Python, for the fork server."""
    started = events_of(trap_run, "os.system", "subprocess.Popen", "os.posix_spawn", "os.exec", "os.spawn")

    for event in started:
        assert event["event"] == "subprocess.Popen", event
        assert sys.executable in str(event["args"]), event


def test_no_code_executed_from_text(trap_run: TrapRun) -> None:
    """Code run from strings never contains the notebook's text, and code run from files comes from modules."""
    token = trap_run.trap.canary.rsplit("_", 1)[1]
    executed = events_of(trap_run, "exec")
    files = {str(event["filename"]) for event in executed if not str(event["filename"]).startswith("<")}

    assert executed, "no exec events logged"
    for event in executed:
        assert token not in json.dumps(event), event
    for filename in files:
        assert filename.endswith(".py") or filename == str(NBCENSUS), filename


def test_writes_only_to_warehouse_and_logs(trap_run: TrapRun) -> None:
    """Python code opens for writing only the audit log and temporary files it removes again.

    The `tempfile` module writes and deletes one probe file in the system's
    temporary folder the first time it is used (the worker pool uses it).
    DuckDB writes the warehouse from C++, which raises no audit events.
    """
    written = {str(event["path"]) for event in events_of(trap_run, "open")}
    written.discard(str(trap_run.root / "audit.jsonl"))

    for path in written:
        assert os.path.dirname(path) == tempfile.gettempdir(), path
        assert not os.path.exists(path), path


# --- in this process -----------------------------------------------------------------


@pytest.fixture
def inet_sockets_blocked(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Make creating a TCP or UDP socket raise in this process."""
    original = socket.socket

    class GuardedSocket(original):  # type: ignore[misc, valid-type]
        def __init__(self, family: int = socket.AF_INET, *args: object, **kwargs: object) -> None:
            if family in (socket.AF_INET, socket.AF_INET6):
                raise AssertionError("nbcensus tried to open a network socket")
            super().__init__(family, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "socket", GuardedSocket)
    yield


def test_extraction_imports_no_counted_package(tmp_path: Path, inet_sockets_blocked: None) -> None:
    trap = write_trap(tmp_path)
    sys.path.insert(0, str(tmp_path / "site"))
    try:
        data = (tmp_path / "notebooks" / "trap.ipynb").read_bytes()
        before = set(sys.modules)

        doc = read_notebook(data)
        rows = extract_notebook("trap", doc.cells)

        added = {name.split(".")[0] for name in set(sys.modules) - before}
    finally:
        sys.path.remove(str(tmp_path / "site"))

    assert {row["package"] for row in rows.imports} >= {trap.canary, "boto3", "sagemaker", "mxnet"}
    assert trap.canary not in added
    for package in COUNTED_PACKAGES:
        assert package not in added
    assert not trap.canary_marker.exists()
