"""The report pages in a real browser: headless Chromium loads each page from a file.

Each page carries a render check (reports/page.py): once loaded, it writes the
number of figures found and drawn, and every uncaught JavaScript error, as JSON
into `<pre id="render-check">`. Chromium's `--dump-dom` prints the DOM after
the page settled, and its console log on stderr shows uncaught errors raised
after the check ran. Both must be clean.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import StudyRun

from reports.build import FIGURES_PAGE, FINDINGS_PAGE

CHROMIUM = Path(os.environ.get("NBCENSUS_CHROMIUM", "/usr/bin/chromium"))

# Flags for a headless Chromium on a machine without a display or network:
# no sandbox (tests run as root), and no background connections to Google.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
    # Virtual time lets timers and promises run out before the DOM is dumped.
    "--virtual-time-budget=10000",
]

EXPECTED_FIGURES = {FIGURES_PAGE: 7, FINDINGS_PAGE: 0}


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.is_file():
        pytest.skip(f"Chromium not found at {CHROMIUM}: install Debian's chromium (make test does, as root)")
    return CHROMIUM


@pytest.fixture(
    params=["examples", pytest.param("corpus", marks=[pytest.mark.corpus, pytest.mark.slow])],
)
def study(request: pytest.FixtureRequest) -> StudyRun:
    return request.getfixturevalue(f"{request.param}_study")


def load_page(chromium: Path, page: Path, profile: Path) -> tuple[dict[str, Any], list[str]]:
    """Load a page headless; return its render check and the uncaught errors Chromium logged."""
    result = subprocess.run(
        [str(chromium), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.resolve().as_uri()],
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )
    assert result.returncode == 0, f"chromium exited {result.returncode}:\n{result.stderr[-3000:]}"

    match = re.search(r'<pre id="render-check">(.*?)</pre>', result.stdout, re.DOTALL)
    assert match is not None, f"no render check in the DOM of {page.name}"
    assert match.group(1), f"the render check of {page.name} never ran (the load event did not fire)"
    check = json.loads(match.group(1))

    console_errors = [line for line in result.stderr.splitlines() if "CONSOLE" in line and "Uncaught" in line]
    return check, console_errors


@pytest.mark.parametrize("page_name", [FIGURES_PAGE, FINDINGS_PAGE])
def test_page_renders_without_errors(chromium: Path, study: StudyRun, page_name: str, tmp_path: Path) -> None:
    check, console_errors = load_page(chromium, study.out / page_name, tmp_path / "profile")

    assert check["errors"] == []
    assert console_errors == []
    assert check["figures_expected"] == EXPECTED_FIGURES[page_name]
    assert check["missing"] == []
    assert check["figures_rendered"] == EXPECTED_FIGURES[page_name]


def test_render_check_catches_broken_page(chromium: Path, examples_study: StudyRun, tmp_path: Path) -> None:
    """A page whose plot call throws is reported: the check can fail."""
    page = (examples_study.out / FIGURES_PAGE).read_text(encoding="utf-8")
    broken_page = tmp_path / "broken.html"
    broken, replaced = re.subn(r'Plotly\.newPlot\(\s*"figure-adoption"', 'Plotly.notAFunction("figure-adoption"', page)
    assert replaced == 1
    broken_page.write_text(broken, encoding="utf-8")

    check, console_errors = load_page(chromium, broken_page, tmp_path / "profile")

    assert check["figures_rendered"] == EXPECTED_FIGURES[FIGURES_PAGE] - 1
    assert check["missing"] == ["figure-adoption"]
    assert any("notAFunction" in error for error in [*check["errors"], *console_errors])
