"""Build git repositories on the fly for tests: commits with set dates, real notebooks.

The histories here are made with the `git` command in temporary folders and
cloned over `file://`; nothing is fetched from the network.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote


def git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run git in CWD and return its output; fail the test on a non-zero exit."""
    full_env = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
    full_env.update(env or {})
    completed = subprocess.run(
        ["git", "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, f"git {' '.join(args)} failed: {completed.stderr}"
    return completed.stdout


# Extra uses per first import, so that the marts about clients and training calls get rows.
USE_LINES = {
    "boto3": ["sm = boto3.client('sagemaker')\n", "sm.create_training_job(TrainingJobName='job')\n"],
    "sagemaker": ["estimator = sagemaker.estimator.Estimator('image')\n", "estimator.fit()\n"],
}


def make_notebook(name: str, extra_lines: int = 0, imports: tuple[str, ...] = ("numpy",)) -> bytes:
    """Return the bytes of a Python notebook: its imports and uses, then 20 distinct code cells.

    The cells are long enough that adding EXTRA_LINES small lines keeps the file
    above git's 50 % similarity threshold, so an edited move is still a rename.
    Most of the bytes are text unique to NAME, so that notebooks of other names
    stay below that threshold and a new one is not taken for a copy.
    """
    cells = [
        {
            "cell_type": "code",
            "execution_count": None,
            "metadata": {},
            "outputs": [],
            "source": [f"import {module}\n" for module in imports] + [f"print('{name}')\n"],
        },
        {
            "cell_type": "code",
            "execution_count": None,
            "metadata": {},
            "outputs": [],
            "source": [f"{module}.tools.helper('{name}')\n" for module in imports] + USE_LINES.get(imports[0], []),
        },
    ]
    for index in range(20):
        cells.append(
            {
                "cell_type": "code",
                "execution_count": None,
                "metadata": {},
                "outputs": [],
                "source": [
                    f"value_{index} = {index} * 2  # {name} cell {index}\n",
                    f"text_{index} = '{hashlib.sha256(f'{name}:{index}'.encode()).hexdigest() * 3}'\n",
                    f"print(value_{index}, text_{index})\n",
                ],
            }
        )
    for index in range(extra_lines):
        cells.append({"cell_type": "markdown", "metadata": {}, "source": [f"Edit {index} of {name}."]})

    notebook = {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return (json.dumps(notebook, indent=1) + "\n").encode("utf-8")


@dataclass
class RepoBuilder:
    """A work tree in which a test writes files and commits them at set dates."""

    path: Path

    def __post_init__(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        git(self.path, "init", "-q")
        git(self.path, "config", "user.name", "Test Author")
        git(self.path, "config", "user.email", "author@example.com")

    def write(self, relative: str, content: bytes | str) -> None:
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)

    def read(self, relative: str) -> bytes:
        return (self.path / relative).read_bytes()

    def remove(self, relative: str) -> None:
        git(self.path, "rm", "-q", "--", relative)

    def move(self, source: str, destination: str) -> None:
        (self.path / destination).parent.mkdir(parents=True, exist_ok=True)
        git(self.path, "mv", "--", source, destination)

    def commit(self, message: str, when: datetime) -> str:
        """Commit every change with WHEN as author and committer date; return the id."""
        stamp = when.isoformat()
        git(self.path, "add", "-A")
        git(
            self.path,
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            message,
            env={"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp},
        )
        return git(self.path, "rev-parse", "HEAD").strip()

    def set_origin(self, url: str) -> None:
        git(self.path, "remote", "add", "origin", url)


def clone(source: Path, destination: Path, *options: str) -> Path:
    """Clone SOURCE over file:// into DESTINATION with extra git clone OPTIONS."""
    git(source.parent, "clone", "-q", *options, f"file://{source}", str(destination))
    return destination


def when(year: int, month: int, day: int, hour: int = 12) -> datetime:
    """A commit date in UTC."""
    return datetime(year, month, day, hour, tzinfo=UTC)


@dataclass
class DatedHistory:
    """A repository built by `build_history`, with the dates each notebook must get."""

    builder: RepoBuilder
    commits: dict[str, str]  # step name -> commit id
    expected: dict[str, tuple[datetime, datetime]]  # notebook path at HEAD -> (first, last)
    repo_last_commit_at: datetime

    @property
    def path(self) -> Path:
        return self.builder.path


def build_history(path: Path, label: str = "alpha", year: int = 2014) -> DatedHistory:
    """Build a linear history that adds, edits, renames, copies and re-adds notebooks.

    LABEL goes into the notebooks' text so that two histories built with
    different labels share no notebook content; YEAR shifts every date.
    """
    repo = RepoBuilder(path)
    dates = {
        "add": when(year, 1, 1),
        "edit": when(year + 1, 2, 2),
        "rename": when(year + 2, 3, 3),
        "copy": when(year + 3, 4, 4),
        "edit_copy": when(year + 4, 5, 5),
        "add_gone": when(year + 5, 6, 6),
        "delete_gone": when(year + 6, 7, 7),
        "readd_gone": when(year + 7, 8, 8),
        "move_edited": when(year + 8, 9, 9),
        "readme": when(year + 9, 10, 10),
    }
    commits: dict[str, str] = {}

    repo.write("a.ipynb", make_notebook(f"{label}-a", imports=("numpy", "pandas")))
    repo.write("keep.ipynb", make_notebook(f"{label}-keep", imports=("boto3",)))
    repo.write("notes.txt", "first\n")
    commits["add"] = repo.commit("Add two notebooks", dates["add"])

    repo.write("a.ipynb", make_notebook(f"{label}-a", extra_lines=1, imports=("numpy", "pandas")))
    commits["edit"] = repo.commit("Edit a", dates["edit"])

    repo.move("a.ipynb", "dir/b.ipynb")
    commits["rename"] = repo.commit("Move a into dir", dates["rename"])

    # An unchanged copy of an unchanged file: only --find-copies-harder detects it.
    repo.write("c.ipynb", repo.read("dir/b.ipynb"))
    repo.write("keep.ipynb", make_notebook(f"{label}-keep", extra_lines=1, imports=("boto3",)))
    commits["copy"] = repo.commit("Copy b and edit keep", dates["copy"])

    repo.write("c.ipynb", make_notebook(f"{label}-a", extra_lines=2, imports=("numpy", "pandas", "sklearn")))
    commits["edit_copy"] = repo.commit("Edit the copy", dates["edit_copy"])

    repo.write("gone.ipynb", make_notebook(f"{label}-gone-1", imports=("mxnet",)))
    commits["add_gone"] = repo.commit("Add gone", dates["add_gone"])

    repo.remove("gone.ipynb")
    commits["delete_gone"] = repo.commit("Delete gone", dates["delete_gone"])

    repo.write("gone.ipynb", make_notebook(f"{label}-gone-2", imports=("sagemaker",)))
    commits["readd_gone"] = repo.commit("Add gone again", dates["readd_gone"])

    repo.move("keep.ipynb", "moved dir/keep 2.ipynb")
    repo.write("moved dir/keep 2.ipynb", make_notebook(f"{label}-keep", extra_lines=2, imports=("boto3",)))
    commits["move_edited"] = repo.commit("Move keep with an edit", dates["move_edited"])

    repo.write("notes.txt", "second\n")
    commits["readme"] = repo.commit("Edit notes", dates["readme"])

    expected = {
        "dir/b.ipynb": (dates["add"], dates["rename"]),
        "c.ipynb": (dates["add"], dates["edit_copy"]),
        "gone.ipynb": (dates["readd_gone"], dates["readd_gone"]),
        "moved dir/keep 2.ipynb": (dates["add"], dates["move_edited"]),
    }
    return DatedHistory(repo, commits, expected, repo_last_commit_at=dates["readme"])


MANIFEST_COLUMNS = (
    "notebook_path",
    "repo",
    "repo_path",
    "first_commit_at",
    "last_commit_at",
    "repo_last_commit_at",
    "html_url",
)


def write_equivalent_manifest(
    histories: dict[str, DatedHistory], folder: Path, undated: frozenset[str] = frozenset()
) -> Path:
    """Write the notebooks of HISTORIES (keyed by owner/name) as files plus a manifest.

    The dates come from the histories' expected values, not from the git
    reader, so a study on the manifest is an independent reference for a study
    on the repositories. Repositories named in UNDATED get blank dates, as a
    shallow clone of them does.
    """
    folder.mkdir(parents=True, exist_ok=True)
    manifest = folder / "manifest.csv"
    with manifest.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=MANIFEST_COLUMNS)
        writer.writeheader()
        for repo, history in sorted(histories.items()):
            head = history.commits["readme"]
            for path, (first, last) in sorted(history.expected.items()):
                relative = Path("notebooks") / repo.replace("/", "__") / path
                (folder / relative).parent.mkdir(parents=True, exist_ok=True)
                (folder / relative).write_bytes(history.builder.read(path))
                dates = {
                    "first_commit_at": first.isoformat(),
                    "last_commit_at": last.isoformat(),
                    "repo_last_commit_at": history.repo_last_commit_at.isoformat(),
                }
                if repo in undated:
                    dates = dict.fromkeys(dates, "")
                writer.writerow(
                    {
                        "notebook_path": relative.as_posix(),
                        "repo": repo,
                        "repo_path": path,
                        **dates,
                        "html_url": f"https://github.com/{repo}/blob/{head}/{quote(path)}",
                    }
                )
    return manifest
