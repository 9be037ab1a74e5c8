"""`nbcensus collect`: list files, bare clones in a cache, fetches, failed clones.

Every repository is made on the fly and cloned over file://; no test reaches
the network.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from gitrepos import DatedHistory, RepoBuilder, build_history, git, make_notebook, when

from ingest.clones import (
    CLONE_FAILED,
    CLONED,
    FETCHED,
    INVALID_ENTRY,
    cache_folder_name,
    collect,
    entry_url,
    parse_list,
)
from ingest.gitrepo import GitRepository


@pytest.fixture(scope="module")
def histories(tmp_path_factory: pytest.TempPathFactory) -> dict[str, DatedHistory]:
    """Two source repositories at `<root>/acme/<name>`, keyed by owner/name."""
    root = tmp_path_factory.mktemp("origins")
    return {
        "acme/alpha": build_history(root / "acme" / "alpha", label="alpha", year=2014),
        "acme/beta": build_history(root / "acme" / "beta", label="beta", year=2016),
    }


@pytest.fixture(scope="module")
def origins(histories: dict[str, DatedHistory]) -> Path:
    """The folder that holds `acme/alpha` and `acme/beta`."""
    return histories["acme/alpha"].path.parent.parent


# --- list files -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "url"),
    [
        ("owner/name", "https://github.com/owner/name.git"),
        ("owner/name.git", "https://github.com/owner/name.git"),
        ("https://example.org/group/name.git", "https://example.org/group/name.git"),
        ("git@example.org:owner/name.git", "git@example.org:owner/name.git"),
        ("file:///srv/owner/name.git", "file:///srv/owner/name.git"),
        ("/srv/owner/name", "/srv/owner/name"),
        ("just-a-word", None),
        ("two words/here", None),
        ("-upload-pack=touch/x", None),
        ("ext::sh -c touch% /tmp/x", None),
    ],
)
def test_entry_url_forms(text: str, url: str | None) -> None:
    assert entry_url(text) == url


def test_list_skips_comments_and_duplicates() -> None:
    lines = [
        "# repositories to study",
        "",
        "owner/one",
        "   owner/two   # trailing comment",
        "owner/one",
        "not valid",
    ]

    entries = parse_list(lines)

    assert [entry.text for entry in entries] == ["owner/one", "owner/two", "not valid"]
    assert [entry.line_number for entry in entries] == [3, 4, 6]
    assert [entry.name for entry in entries] == ["owner/one", "owner/two", None]


def test_cache_folder_name_is_safe() -> None:
    assert cache_folder_name("owner/name") == "owner__name.git"
    assert cache_folder_name("../x") == "__x.git"
    assert cache_folder_name("a b/c?d") == "a_b__c_d.git"
    assert "/" not in cache_folder_name("a/b/c")
    assert not cache_folder_name("../..").startswith(".")


# --- cloning and fetching -----------------------------------------------------------


def test_collect_clones_bare(origins: Path, tmp_path: Path) -> None:
    entries = parse_list([f"file://{origins / 'acme' / 'alpha'}", f"file://{origins / 'acme' / 'beta'}"])

    results = collect(entries, tmp_path / "cache", jobs=2)

    assert [result.status for result in results] == [CLONED, CLONED]
    assert [result.path.name for result in results] == ["acme__alpha.git", "acme__beta.git"]
    for result in results:
        repository = GitRepository.open(result.path)
        assert repository.is_bare
        assert repository.repository_name() == result.entry.name
    assert sorted(path.name for path in (tmp_path / "cache").iterdir()) == ["acme__alpha.git", "acme__beta.git"]


def test_collect_fetches_new_commits(tmp_path: Path) -> None:
    origin = RepoBuilder(tmp_path / "acme" / "moving")
    origin.write("first.ipynb", make_notebook("first"))
    origin.commit("First", when(2020, 1, 1))
    entries = parse_list([f"file://{origin.path}"])
    cache = tmp_path / "cache"
    collect(entries, cache)

    origin.write("second.ipynb", make_notebook("second"))
    new_head = origin.commit("Second", when(2020, 2, 1))
    results = collect(entries, cache)

    assert results[0].status == FETCHED
    repository = GitRepository.open(results[0].path)
    assert repository.resolve_commit("HEAD") == new_head
    assert [entry.path for entry in repository.list_notebooks(new_head)] == ["first.ipynb", "second.ipynb"]


def test_collect_failed_clone_is_result(origins: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nobody" / "missing"
    entries = parse_list([f"file://{missing}", "not a repository", f"file://{origins / 'acme' / 'alpha'}"])

    results = collect(entries, tmp_path / "cache")

    assert [result.status for result in results] == [CLONE_FAILED, INVALID_ENTRY, CLONED]
    assert "does not appear to be a git repository" in results[0].detail
    assert "not a clone URL" in results[1].detail
    # A failed clone leaves no folder behind, so the next run tries again.
    assert sorted(path.name for path in (tmp_path / "cache").iterdir()) == ["acme__alpha.git"]


def test_collect_same_name_twice_fails_second(origins: Path, tmp_path: Path) -> None:
    other = tmp_path / "mirror" / "acme" / "alpha"
    git(tmp_path, "clone", "-q", str(origins / "acme" / "alpha"), str(other))
    entries = parse_list([f"file://{origins / 'acme' / 'alpha'}", f"file://{other}"])

    results = collect(entries, tmp_path / "cache", jobs=2)

    assert [result.status for result in results] == [CLONED, CLONE_FAILED]
    assert "share the cache folder" in results[1].detail


def test_collect_cache_of_other_remote_fails(origins: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    collect(parse_list([f"file://{origins / 'acme' / 'alpha'}"]), cache)
    imposter = tmp_path / "elsewhere" / "acme" / "alpha"
    git(tmp_path, "clone", "-q", str(origins / "acme" / "alpha"), str(imposter))

    results = collect(parse_list([f"file://{imposter}"]), cache)

    assert results[0].status == CLONE_FAILED
    assert "is a clone of" in results[0].detail


# --- nbcensus collect, end to end ----------------------------------------------------


def run_collect(list_file: Path, workdir: Path, *options: str) -> subprocess.CompletedProcess[str]:
    command = [
        str(Path(sys.executable).parent / "nbcensus"),
        "collect",
        str(list_file),
        "--cache",
        str(workdir / "cache"),
        "--warehouse",
        str(workdir / "warehouse.duckdb"),
        "--jobs",
        "2",
        "--quiet",
        *options,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)


def query(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_cli_collect_ingests_dated(histories: dict[str, DatedHistory], origins: Path, tmp_path: Path) -> None:
    list_file = tmp_path / "repos.txt"
    missing = tmp_path / "nobody" / "missing"
    list_file.write_text(
        "# two repositories, one that does not exist, one bad line\n"
        f"file://{origins / 'acme' / 'alpha'}\n"
        f"file://{origins / 'acme' / 'beta'}\n"
        f"file://{missing}\n"
        "not a repository\n",
        encoding="utf-8",
    )

    result = run_collect(list_file, tmp_path)

    assert result.returncode == 0, result.stderr
    assert "clone_failed" in result.stdout
    warehouse = tmp_path / "warehouse.duckdb"
    rows = query(
        warehouse,
        "select repo, member, first_commit_at, last_commit_at, repo_last_commit_at, date_origin "
        "from raw.notebooks order by repo, member",
    )
    for name, history in histories.items():
        expected = [
            (name, path, first, last, history.repo_last_commit_at, "git")
            for path, (first, last) in sorted(history.expected.items())
        ]
        assert [row for row in rows if row[0] == name] == expected
    failures = query(warehouse, "select reason, detail from raw.outcomes where outcome = 'failed' order by reason")
    assert [reason for reason, _ in failures] == ["clone_failed", "invalid_list_entry"]
    assert "does not appear to be a git repository" in failures[0][1]
    ingested = query(warehouse, "select count(*) from raw.outcomes where outcome = 'ingested'")
    assert ingested == [(8,)]


def test_cli_collect_again_replaces_rows(tmp_path: Path) -> None:
    origin = RepoBuilder(tmp_path / "acme" / "growing")
    origin.write("first.ipynb", make_notebook("first"))
    origin.commit("First", when(2020, 1, 1))
    list_file = tmp_path / "repos.txt"
    list_file.write_text(f"file://{origin.path}\n", encoding="utf-8")
    assert run_collect(list_file, tmp_path).returncode == 0

    origin.write("second.ipynb", make_notebook("second"))
    origin.commit("Second", when(2021, 1, 1))
    result = run_collect(list_file, tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("fetched")
    rows = query(
        tmp_path / "warehouse.duckdb",
        "select member, first_commit_at, repo_last_commit_at from raw.notebooks order by member",
    )
    assert rows == [
        ("first.ipynb", when(2020, 1, 1), when(2021, 1, 1)),
        ("second.ipynb", when(2021, 1, 1), when(2021, 1, 1)),
    ]


def test_cli_collect_rev_reads_tag(tmp_path: Path) -> None:
    origin = RepoBuilder(tmp_path / "acme" / "tagged")
    origin.write("old.ipynb", make_notebook("old"))
    origin.commit("Old", when(2019, 1, 1))
    git(origin.path, "tag", "v1")
    origin.remove("old.ipynb")
    origin.write("new.ipynb", make_notebook("new"))
    origin.commit("New", when(2020, 1, 1))
    list_file = tmp_path / "repos.txt"
    list_file.write_text(f"file://{origin.path}\n", encoding="utf-8")

    result = run_collect(list_file, tmp_path, "--rev", "v1")

    assert result.returncode == 0, result.stderr
    rows = query(tmp_path / "warehouse.duckdb", "select member, last_commit_at, metadata from raw.notebooks")
    assert [row[:2] for row in rows] == [("old.ipynb", when(2019, 1, 1))]
    assert json.loads(rows[0][2])["rev"] == "v1"


def test_cli_collect_empty_list_fails(tmp_path: Path) -> None:
    list_file = tmp_path / "repos.txt"
    list_file.write_text("# nothing yet\n\n", encoding="utf-8")

    result = run_collect(list_file, tmp_path)

    assert result.returncode == 1
    assert "Error: no repositories listed" in result.stderr
