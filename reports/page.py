"""Self-contained HTML pages: one template, plotly.js inline, a render check.

A page must open offline from a file, so plotly.js is embedded in the page, once,
by the first figure (`include_plotlyjs=True`); later figures reuse it.

Every page records its own health into the DOM: a script in the head collects
uncaught JavaScript errors, and a script at the end of the body counts the
figures that plotly drew after the page loaded. The result is a JSON object in
`<pre id="render-check">`, and a visible warning when a figure is missing, so a
reader and the browser test (`chromium --dump-dom`) see the same thing.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from pathlib import Path

import plotly.graph_objects as go

log = logging.getLogger(__name__)

# Plotly config for every figure: no link to an online editor, PNG export kept.
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}

STYLE = """
body { font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       margin: 0; color: #1f2933; background: #fafafa; line-height: 1.5; }
header { background: #232f3e; color: #fff; padding: 1rem 2rem; }
header h1 { margin: 0; font-size: 1.5rem; }
header p { margin: 0.25rem 0 0; color: #d5dbe1; }
nav a { color: #ffb84d; margin-right: 1.5rem; text-decoration: none; font-weight: 600; }
nav { margin-top: 0.5rem; }
main { max-width: 1200px; margin: 0 auto; padding: 1rem 2rem 3rem; }
section { background: #fff; border: 1px solid #e4e7eb; border-radius: 6px; margin: 1.5rem 0; padding: 1rem 1.5rem; }
section h2 { margin-top: 0.25rem; font-size: 1.2rem; }
.lead { color: #52606d; margin-top: 0; }
.source { display: block; color: #7b8794; font-size: 0.8rem; font-family: ui-monospace, Menlo, Consolas, monospace; }
ul.findings li { margin-bottom: 0.8rem; }
table { border-collapse: collapse; margin: 0.5rem 0; }
th, td { padding: 0.25rem 0.75rem; border-bottom: 1px solid #e4e7eb; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.warning { background: #fff3c4; border: 1px solid #f0b429; padding: 0.5rem 1rem; border-radius: 4px; }
#render-check { display: none; }
"""

# Runs before any other script, so it also records errors raised while plotly loads.
ERROR_RECORDER = """
window.nbcensusErrors = [];
window.addEventListener("error", function (event) {
  window.nbcensusErrors.push(String(event.message || event.type));
});
window.addEventListener("unhandledrejection", function (event) {
  window.nbcensusErrors.push("unhandled rejection: " + String(event.reason));
});
"""

# Runs after the page loaded: counts figure containers and those plotly drew into.
RENDER_CHECK = """
window.addEventListener("load", function () {
  var containers = document.querySelectorAll("div.plotly-graph-div");
  var missing = [];
  containers.forEach(function (div) {
    if (!div.querySelector("svg.main-svg")) { missing.push(div.id); }
  });
  var result = {
    figures_expected: containers.length,
    figures_rendered: containers.length - missing.length,
    missing: missing,
    errors: window.nbcensusErrors
  };
  document.getElementById("render-check").textContent = JSON.stringify(result);
  if (missing.length || window.nbcensusErrors.length) {
    var warning = document.createElement("p");
    warning.className = "warning";
    warning.textContent = "This page did not render completely: " +
      missing.length + " figure(s) missing, " + window.nbcensusErrors.length + " script error(s).";
    document.querySelector("main").prepend(warning);
  }
});
"""


@dataclass(frozen=True, slots=True)
class Section:
    """A titled block of a page: a figure, or ready-made HTML."""

    title: str
    anchor: str
    lead: str = ""  # one sentence under the title saying what the block shows
    figure: go.Figure | None = None
    body_html: str = ""


@dataclass(frozen=True, slots=True)
class NavLink:
    label: str
    href: str


def render_page(title: str, subtitle: str, nav: list[NavLink], sections: list[Section]) -> str:
    """Build one HTML page; plotly.js goes inline with the page's first figure."""
    plotly_embedded = False
    blocks: list[str] = []
    for section in sections:
        parts = [f'<section id="{section.anchor}">', f"<h2>{html.escape(section.title)}</h2>"]
        if section.lead:
            parts.append(f'<p class="lead">{html.escape(section.lead)}</p>')
        if section.figure is not None:
            parts.append(
                section.figure.to_html(
                    full_html=False,
                    include_plotlyjs=not plotly_embedded,
                    div_id=f"figure-{section.anchor}",
                    config=PLOTLY_CONFIG,
                )
            )
            plotly_embedded = True
        parts.append(section.body_html)
        parts.append("</section>")
        blocks.append("\n".join(parts))

    links = "".join(f'<a href="{html.escape(link.href)}">{html.escape(link.label)}</a>' for link in nav)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>{STYLE}</style>
<script>{ERROR_RECORDER}</script>
</head>
<body>
<header>
<h1>{html.escape(title)}</h1>
<p>{html.escape(subtitle)}</p>
<nav>{links}</nav>
</header>
<main>
{"".join(blocks)}
</main>
<pre id="render-check"></pre>
<script>{RENDER_CHECK}</script>
</body>
</html>
"""


def write_page(path: Path, page: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    log.info("wrote %s (%.1f MB)", path, path.stat().st_size / 1e6)
    return path
