"""Git repositories as notebook sources: listing, reading and dating at a revision."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
from conftest import run_study
from gitrepos import RepoBuilder, build_history, clone, git, make_notebook, when, write_equivalent_manifest

from ingest import gitsource, pipeline, reasons
from ingest.errors import NotebookError
from ingest.gitdates import (
    NOTE_SHALLOW_CLONE,
    Change,
    LineageTracker,
    date_notebooks,
    parse_log,
)
from ingest.gitrepo import (
    BlobReader,
    GitError,
    GitRepository,
    github_blob_url,
    looks_like_repository,
    repository_name_from_url,
)
from ingest.limits import DEFAULT_LIMITS, Limits
from ingest.pipeline import ingest_sources
from ingest.sources import iter_inputs, read_input
from reports.queries import MARTS


def dates_of(repository: GitRepository, rev: str = "HEAD") -> dict[str, tuple[datetime | None, datetime | None]]:
    commit = repository.resolve_commit(rev)
    paths = [entry.path for entry in repository.list_notebooks(commit)]
    history = date_notebooks(repository, commit, paths)
    return {path: (dates.first_commit_at, dates.last_commit_at) for path, dates in history.notebooks.items()}


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory):
    return build_history(tmp_path_factory.mktemp("history") / "alpha")


# --- dating -------------------------------------------------------------------


def test_dates_follow_renames_and_copies(history) -> None:
    repository = GitRepository.open(history.path)

    assert dates_of(repository) == history.expected


def test_repo_last_commit_is_newest(history) -> None:
    repository = GitRepository.open(history.path)
    commit = repository.resolve_commit("HEAD")

    result = date_notebooks(repository, commit, ["c.ipynb"])

    assert result.repo_last_commit_at == history.repo_last_commit_at
    assert result.note is None
    assert result.repo_last_commit_at.utcoffset().total_seconds() == 0


def test_bare_clone_gives_same_dates(history, tmp_path: Path) -> None:
    bare = clone(history.path, tmp_path / "alpha.git", "--bare")
    repository = GitRepository.open(bare)

    assert repository.is_bare
    assert dates_of(repository) == history.expected


def test_shallow_clone_leaves_dates_null(history, tmp_path: Path) -> None:
    shallow = clone(history.path, tmp_path / "shallow", "--depth", "2")
    repository = GitRepository.open(shallow)
    commit = repository.resolve_commit("HEAD")
    paths = [entry.path for entry in repository.list_notebooks(commit)]

    result = date_notebooks(repository, commit, paths)

    assert result.note == NOTE_SHALLOW_CLONE
    assert sorted(result.notebooks) == sorted(history.expected)
    for dates in result.notebooks.values():
        assert dates.first_commit_at is None
        assert dates.last_commit_at is None
        assert dates.note == NOTE_SHALLOW_CLONE
    assert result.repo_last_commit_at is None


def test_older_rev_dates_its_own_history(history) -> None:
    repository = GitRepository.open(history.path)
    rev = history.commits["copy"]

    dates = dates_of(repository, rev)

    copy_date = when(2017, 4, 4)
    assert dates == {
        "dir/b.ipynb": (when(2014, 1, 1), when(2016, 3, 3)),
        "c.ipynb": (when(2014, 1, 1), copy_date),
        "keep.ipynb": (when(2014, 1, 1), copy_date),
    }


def test_dates_in_utc_from_offset_dates(tmp_path: Path) -> None:
    repo = RepoBuilder(tmp_path / "offsets")
    repo.write("x.ipynb", make_notebook("x"))
    first = datetime.fromisoformat("2016-01-01T03:00:00+05:00")
    repo.commit("Add x", first)
    repo.write("x.ipynb", make_notebook("x", extra_lines=1))
    last = datetime.fromisoformat("2016-06-30T20:00:00-07:00")
    repo.commit("Edit x", last)

    dates = dates_of(GitRepository.open(repo.path))

    assert dates == {"x.ipynb": (first, last)}
    assert dates["x.ipynb"][0].isoformat() == "2015-12-31T22:00:00+00:00"


def test_merged_branch_commits_count(tmp_path: Path) -> None:
    repo = RepoBuilder(tmp_path / "merge")
    repo.write("main.ipynb", make_notebook("main"))
    repo.write("side.ipynb", make_notebook("side"))
    repo.commit("Start", when(2018, 1, 1))
    git(repo.path, "checkout", "-q", "-b", "feature")
    repo.write("side.ipynb", make_notebook("side", extra_lines=1))
    repo.commit("Edit side on a branch", when(2018, 3, 1))
    git(repo.path, "checkout", "-q", "main")
    repo.write("main.ipynb", make_notebook("main", extra_lines=1))
    repo.commit("Edit main", when(2018, 2, 1))
    stamp = when(2018, 4, 1).isoformat()
    git(
        repo.path,
        "merge",
        "-q",
        "--no-ff",
        "-m",
        "Merge feature",
        "feature",
        env={"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp},
    )
    repository = GitRepository.open(repo.path)

    dates = dates_of(repository)

    # The merge commit itself is not part of any lineage, but it is the newest commit.
    assert dates == {
        "main.ipynb": (when(2018, 1, 1), when(2018, 2, 1)),
        "side.ipynb": (when(2018, 1, 1), when(2018, 3, 1)),
    }
    commit = repository.resolve_commit("HEAD")
    assert date_notebooks(repository, commit, []).repo_last_commit_at == when(2018, 4, 1)


def test_odd_paths_keep_their_bytes(tmp_path: Path) -> None:
    repo = RepoBuilder(tmp_path / "odd")
    names = ["commit 1 2.ipynb", "new\nline.ipynb", "  lead/é, \"q\".ipynb", "-dash.ipynb"]
    for name in names:
        repo.write(name, make_notebook(name))
    repo.commit("Add odd names", when(2019, 1, 1))
    (repo.path / "caf\udce9.ipynb").write_bytes(make_notebook("latin-1 name"))
    repo.commit("Add a name that is not UTF-8", when(2019, 2, 1))
    repository = GitRepository.open(repo.path)

    dates = dates_of(repository)

    assert sorted(dates) == sorted([*names, "caf\udce9.ipynb"])
    assert dates["caf\udce9.ipynb"] == (when(2019, 2, 1), when(2019, 2, 1))
    for name in names:
        assert dates[name] == (when(2019, 1, 1), when(2019, 1, 1))


# --- lineage tracker ------------------------------------------------------------


def test_tracker_swap_by_renames() -> None:
    tracker = LineageTracker(["a", "b"])

    tracker.add_commit(300, [Change("R", "a", "b"), Change("R", "b", "a")])
    tracker.add_commit(200, [Change("M", "a")])  # the old a is today's b
    tracker.add_commit(100, [Change("A", "a"), Change("A", "b")])

    assert tracker.first == [100, 100]
    assert tracker.last == [300, 300]
    assert tracker.is_done


def test_tracker_copy_keeps_source_lineage() -> None:
    tracker = LineageTracker(["src", "copy"])

    tracker.add_commit(300, [Change("M", "src")])
    tracker.add_commit(200, [Change("C", "copy", "src")])
    tracker.add_commit(100, [Change("A", "src")])

    # The copy does not take the source's later edit (300), only its past.
    assert tracker.first == [100, 100]
    assert tracker.last == [300, 200]


def test_tracker_readded_path_starts_again() -> None:
    tracker = LineageTracker(["x"])

    tracker.add_commit(300, [Change("A", "x")])
    tracker.add_commit(200, [Change("D", "x")])
    tracker.add_commit(100, [Change("A", "x")])

    assert tracker.first == [300]
    assert tracker.last == [300]


# --- log parsing ----------------------------------------------------------------


def test_parse_log_split_across_chunks() -> None:
    output = (
        b"commit " + b"a" * 40 + b" 1500000000\0\nM\0x.ipynb\0R087\0old.ipynb\0commit 1.ipynb\0"
        b"commit " + b"b" * 40 + b" 1400000000\0\nA\0old.ipynb\0"
    )
    chunks = [output[index : index + 7] for index in range(0, len(output), 7)]

    commits = list(parse_log(chunks))

    assert [commit.committed_at for commit in commits] == [1500000000, 1400000000]
    assert commits[0].changes == [Change("M", "x.ipynb"), Change("R", "commit 1.ipynb", "old.ipynb")]
    assert commits[1].changes == [Change("A", "old.ipynb")]


def test_parse_log_rejects_headerless_output() -> None:
    with pytest.raises(ValueError, match="not a commit header"):
        list(parse_log([b"M\0x.ipynb\0"]))


# --- repository basics ------------------------------------------------------------


def test_older_rev_reads_older_bytes(history) -> None:
    repository = GitRepository.open(history.path)
    commit = repository.resolve_commit(history.commits["add"])

    entries = {entry.path: entry for entry in repository.list_notebooks(commit)}
    with BlobReader(repository) as reader:
        content = reader.read(entries["a.ipynb"].object_id)

    expected = git(history.path, "show", f"{commit}:a.ipynb").encode("utf-8")
    assert sorted(entries) == ["a.ipynb", "keep.ipynb"]
    assert content == expected
    assert entries["a.ipynb"].size == len(expected)
    assert content != history.builder.read("dir/b.ipynb")


def test_listing_skips_links_checkpoints_submodules(tmp_path: Path) -> None:
    inner = RepoBuilder(tmp_path / "inner")
    inner.write("sub.ipynb", make_notebook("sub"))
    inner.commit("Inner", when(2020, 1, 1))
    repo = RepoBuilder(tmp_path / "outer")
    repo.write("real.ipynb", make_notebook("real"))
    repo.write(".ipynb_checkpoints/real-checkpoint.ipynb", make_notebook("real"))
    repo.write("deep/.ipynb_checkpoints/x.ipynb", make_notebook("x"))
    repo.write("data.json", "{}")
    (repo.path / "link.ipynb").symlink_to("real.ipynb")
    git(repo.path, "-c", "protocol.file.allow=always", "submodule", "add", "-q", f"file://{inner.path}", "mod.ipynb")
    repo.commit("Add files", when(2020, 2, 1))
    repository = GitRepository.open(repo.path)

    entries = repository.list_notebooks(repository.resolve_commit("HEAD"))

    assert [entry.path for entry in entries] == ["real.ipynb"]


def test_unknown_rev_raises(history) -> None:
    repository = GitRepository.open(history.path)

    with pytest.raises(GitError, match="not a commit"):
        repository.resolve_commit("no-such-branch")
    with pytest.raises(GitError, match="not a commit"):
        repository.resolve_commit("--output=/tmp/x")


def test_missing_blob_raises(history) -> None:
    repository = GitRepository.open(history.path)

    with BlobReader(repository) as reader, pytest.raises(GitError, match="missing"):
        reader.read("0" * 40)


def test_plain_folder_is_not_repository(history, tmp_path: Path) -> None:
    assert looks_like_repository(history.path)
    assert not looks_like_repository(history.path / "dir")
    assert not looks_like_repository(tmp_path)
    with pytest.raises(GitError, match="not a git repository"):
        GitRepository.open(tmp_path)


def test_name_from_origin_or_folder(history, tmp_path: Path) -> None:
    assert GitRepository.open(history.path).repository_name() == "alpha"

    named = clone(history.path, tmp_path / "owner" / "project.git", "--bare")
    git(named, "remote", "set-url", "origin", "https://github.com/someone/project.git")

    assert GitRepository.open(named).repository_name() == "someone/project"


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://github.com/owner/name.git", "owner/name"),
        ("https://github.com/owner/name", "owner/name"),
        ("git@github.com:owner/name.git", "owner/name"),
        ("ssh://git@example.org:2222/group/sub/name.git", "sub/name"),
        ("file:///srv/git/owner/name.git", "owner/name"),
        ("/srv/git/owner/name/.git", "owner/name"),
        ("name.git", "name"),
    ],
)
def test_repository_name_from_url(url: str, name: str) -> None:
    assert repository_name_from_url(url) == name


def test_github_blob_url_quotes_path() -> None:
    url = github_blob_url("git@github.com:owner/name.git", "abc", "a dir/é.ipynb")

    assert url == "https://github.com/owner/name/blob/abc/a%20dir/%C3%A9.ipynb"
    assert github_blob_url("https://gitlab.com/owner/name.git", "abc", "x.ipynb") is None


# --- the git source kind ----------------------------------------------------------


@pytest.fixture
def revision():
    """Reset the process-wide revision after a test that changes it."""
    yield gitsource.use_revision
    gitsource.use_revision(None)


def test_source_lists_dated_inputs(history) -> None:
    inputs = list(iter_inputs(history.path))

    assert sorted(item.member for item in inputs) == sorted(history.expected)
    for item in inputs:
        assert item.source_kind == "git"
        assert item.error is None
        assert item.repo == "alpha"
        assert item.date_origin == "git"
        assert (item.first_commit_at, item.last_commit_at) == history.expected[item.member]
        assert item.repo_last_commit_at == history.repo_last_commit_at
        assert item.metadata["head_commit"] == history.commits["readme"]
        assert read_input(item, DEFAULT_LIMITS) == history.builder.read(item.member)


def test_source_reads_older_revision(history, revision) -> None:
    revision(history.commits["add"])

    inputs = {item.member: item for item in iter_inputs(history.path)}

    expected = git(history.path, "show", f"{history.commits['add']}:a.ipynb").encode("utf-8")
    assert sorted(inputs) == ["a.ipynb", "keep.ipynb"]
    assert read_input(inputs["a.ipynb"], DEFAULT_LIMITS) == expected
    assert inputs["a.ipynb"].metadata["rev"] == history.commits["add"]


def test_source_missing_revision_is_outcome(history, revision) -> None:
    revision("no-such-tag")

    inputs = list(iter_inputs(history.path))

    assert len(inputs) == 1
    assert inputs[0].member is None
    assert inputs[0].error[0] == reasons.REVISION_NOT_FOUND
    with pytest.raises(NotebookError):
        read_input(inputs[0], DEFAULT_LIMITS)


def test_source_shallow_clone_notes_reason(history, tmp_path: Path) -> None:
    shallow = clone(history.path, tmp_path / "shallow", "--depth", "1")

    inputs = list(iter_inputs(shallow))

    assert len(inputs) == len(history.expected)
    for item in inputs:
        assert item.date_origin == "none"
        assert item.first_commit_at is None
        assert item.last_commit_at is None
        assert item.repo_last_commit_at is None
        assert item.metadata["date_note"] == NOTE_SHALLOW_CLONE


def test_source_github_origin_gives_urls(history, tmp_path: Path) -> None:
    bare = clone(history.path, tmp_path / "bare.git", "--bare")
    git(bare, "remote", "set-url", "origin", "git@github.com:owner/alpha.git")

    inputs = {item.member: item for item in iter_inputs(bare)}

    item = inputs["moved dir/keep 2.ipynb"]
    assert item.repo == "owner/alpha"
    assert item.html_url == f"https://github.com/owner/alpha/blob/{history.commits['readme']}/moved%20dir/keep%202.ipynb"


def test_source_subfolder_stays_folder(history) -> None:
    inputs = list(iter_inputs(history.path / "dir"))

    assert [item.source_kind for item in inputs] == ["folder"]


def test_source_blob_over_limit_skipped(history) -> None:
    item = next(iter(iter_inputs(history.path)))

    with pytest.raises(NotebookError) as raised:
        read_input(item, Limits(max_file_bytes=100))

    assert raised.value.reason == "too_large"
    # The reader stays usable after dropping the large blob.
    assert read_input(item, DEFAULT_LIMITS) == history.builder.read(item.member)


def test_folder_of_repositories_reads_each(history, tmp_path: Path) -> None:
    folder = tmp_path / "clones"
    clone(history.path, folder / "alpha.git", "--bare")
    clone(history.path, folder / "nested" / "alpha-tree")
    (folder / "loose").mkdir()
    (folder / "loose" / "plain.ipynb").write_bytes(make_notebook("plain"))

    inputs = list(iter_inputs(folder))

    kinds = sorted({(item.source_kind, item.path) for item in inputs})
    assert kinds == [
        ("folder", str(folder / "loose" / "plain.ipynb")),
        ("git", str(folder / "alpha.git")),
        ("git", str(folder / "nested" / "alpha-tree")),
    ]
    git_inputs = [item for item in inputs if item.source_kind == "git"]
    assert len(git_inputs) == 2 * len(history.expected)
    for item in git_inputs:
        assert item.source == str(folder)
        assert (item.first_commit_at, item.last_commit_at) == history.expected[item.member]


# --- a study on repositories equals a study on the equivalent manifest -------------


def mart_rows(warehouse: Path) -> dict[str, list[tuple]]:
    """Every mart's rows, sorted, with the date origin's name made neutral.

    A notebook dated from git has `date_origin` `git` and one dated by a manifest
    has `manifest`; that label is the only difference the two studies may show.
    """
    rows: dict[str, list[tuple]] = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for mart in MARTS:
            result = con.execute(f"select * from marts.{mart}")
            columns = [column[0] for column in result.description]
            values = []
            for row in result.fetchall():
                record = dict(zip(columns, row, strict=True))
                if mart == "ingest_coverage" and record["section"] == "trend_dates":
                    record["item"] = "dated_by_source" if record["item"] in ("git", "manifest") else record["item"]
                values.append(tuple(record.values()))
            rows[mart] = sorted(values, key=repr)
    return rows


@pytest.mark.slow
def test_run_on_repositories_equals_manifest(tmp_path: Path) -> None:
    repos = tmp_path / "repos"
    histories = {
        "acme/alpha": build_history(repos / "alpha", label="alpha", year=2014),
        "acme/beta": build_history(repos / "beta", label="beta", year=2017),
    }
    for name, history in histories.items():
        history.builder.set_origin(f"https://github.com/{name}.git")
    # A shallow clone in the folder: its notebooks are read but left undated.
    histories["acme/gamma"] = build_history(tmp_path / "sources" / "gamma", label="gamma", year=2019)
    shallow = clone(histories["acme/gamma"].path, repos / "gamma", "--depth", "1")
    git(shallow, "remote", "set-url", "origin", "https://github.com/acme/gamma.git")
    manifest = write_equivalent_manifest(histories, tmp_path / "manifest", undated=frozenset({"acme/gamma"}))

    from_git = run_study(repos, tmp_path / "git_study")
    from_manifest = run_study(manifest, tmp_path / "manifest_study")

    git_rows = mart_rows(from_git.warehouse)
    manifest_rows = mart_rows(from_manifest.warehouse)
    for mart in MARTS:
        assert git_rows[mart], f"marts.{mart} is empty, so the comparison would prove nothing"
        assert git_rows[mart] == manifest_rows[mart], f"marts.{mart} differs"
    with duckdb.connect(str(from_git.warehouse), read_only=True) as con:
        origins = con.execute(
            "select date_origin, source_kind, json_extract_string(metadata, '$.date_note'), count(*) "
            "from raw.notebooks group by all order by all"
        ).fetchall()
        coverage = con.execute(
            "select item, detail, value from marts.ingest_coverage where section = 'trend_dates' order by item"
        ).fetchall()
    assert origins == [("git", "git", None, 8), ("none", "git", NOTE_SHALLOW_CLONE, 4)]
    assert coverage == [("git", "dated", 8), ("none", "undated", 4)]


def test_cli_ingest_rev_reads_older_commit(history, tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    command = [
        str(Path(sys.executable).parent / "nbcensus"),
        "ingest",
        str(history.path),
        "--rev",
        history.commits["rename"],
        "--warehouse",
        str(warehouse),
        "--jobs",
        "1",
        "--quiet",
    ]

    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)

    assert result.returncode == 0, result.stderr
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "select member, first_commit_at, last_commit_at, repo_last_commit_at from raw.notebooks order by member"
        ).fetchall()
    rename_date = when(2016, 3, 3)
    assert rows == [
        ("dir/b.ipynb", when(2014, 1, 1), rename_date, rename_date),
        ("keep.ipynb", when(2014, 1, 1), when(2014, 1, 1), rename_date),
    ]


# --- re-runs ----------------------------------------------------------------------------


def test_rerun_reads_blobs_after_new_commit(history, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A re-run at the same commit reads no blob; a new commit changes every notebook's head_commit and URL."""
    work = clone(history.path, tmp_path / "work")
    builder = RepoBuilder(work)  # sets the author in the clone
    warehouse = tmp_path / "warehouse.duckdb"
    sent: list[str] = []
    read_in_workers = pipeline._read_in_workers

    def recording(inputs, *arguments):
        sent.extend(item.member for item in inputs)
        return read_in_workers(inputs, *arguments)

    monkeypatch.setattr(pipeline, "_read_in_workers", recording)

    ingest_sources([work], warehouse=warehouse, jobs=1, quiet=True)
    read_first = sorted(sent)
    sent.clear()
    rerun = ingest_sources([work], warehouse=warehouse, jobs=1, quiet=True)
    read_rerun = list(sent)
    sent.clear()
    builder.write("notes.txt", "changed\n")
    head = builder.commit("Edit the notes", when(2030, 1, 1))
    ingest_sources([work], warehouse=warehouse, jobs=1, quiet=True)

    assert read_first == sorted(history.expected)
    assert read_rerun == []
    assert rerun.reused == len(history.expected)
    assert sorted(sent) == read_first
    with duckdb.connect(str(warehouse), read_only=True) as con:
        heads = con.execute("select distinct json_extract_string(metadata, '$.head_commit') from raw.notebooks").fetchall()
    assert heads == [(head,)]
