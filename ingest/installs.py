"""Read package installs out of shell commands: `pip install`, `conda install`, `mamba install`.

Notebooks install their dependencies with `!pip install ...`, `%pip install ...`,
`%conda install ...` or inside `%%bash` cells. Those lines name distributions
that the notebook needs but does not import, so they are recorded apart from
imports, one row per requirement.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

# Options that take a value as the next argument (or attached with `=`).
_PIP_OPTIONS_WITH_VALUE = frozenset(
    {
        "-r", "--requirement", "-c", "--constraint", "-i", "--index-url",
        "--extra-index-url", "-f", "--find-links", "-t", "--target", "--prefix", "--root",
        "--upgrade-strategy", "--trusted-host", "--platform", "--python-version",
        "--implementation", "--abi", "--src", "--log", "--cache-dir", "--progress-bar",
        "--no-binary", "--only-binary", "-C", "--config-settings", "--global-option",
        "--install-option", "--proxy", "--retries", "--timeout", "--exists-action", "--cert",
        "--client-cert", "--report", "--root-user-action", "--python", "--use-feature",
        "--use-deprecated", "--log-file", "--keyring-provider", "--group",
    }
)
_CONDA_OPTIONS_WITH_VALUE = frozenset(
    {
        "-c", "--channel", "-n", "--name", "-p", "--prefix", "--file", "--solver",
        "--repodata-fn", "--experimental", "--strict-channel-priority", "--platform",
        "--subdir",
    }
)

_PYTHON_RE = re.compile(r"^(?:\S*/)?(?:python[\d.]*|py|\{sys\.executable\}|\$\{?PYTHON\}?|\{sys\.executable!?r?\})$")
_PIP_RE = re.compile(r"^(?:\S*/)?pip[\d.]*$")
_CONDA_RE = re.compile(r"^(?:\S*/)?(conda|mamba|micromamba)$")
# A shell comment starts with `#` at the start of a word (`#egg=` inside a URL is not one).
_COMMENT_RE = re.compile(r"(?:^|(?<=\s))#.*$")
_REDIRECTION_RE = re.compile(r"^\d?>")
_SEPARATORS = frozenset({"&&", "||", ";", "|", "&"})
_NAME_RE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)")
_EGG_RE = re.compile(r"[#&]egg=([A-Za-z0-9][A-Za-z0-9._-]*)")
_ARCHIVE_RE = re.compile(r"([A-Za-z0-9][A-Za-z0-9._]*?)-\d[^/]*\.(?:whl|tar\.gz|tar\.bz2|zip|tgz)$")


@dataclass(frozen=True, slots=True)
class Install:
    """One requirement of an install command."""

    installer: str  # pip / conda / mamba / micromamba
    requirement: str  # the argument as written, quotes removed
    package: str  # normalised distribution name


def normalise_name(name: str) -> str:
    """Normalise a distribution name the way PyPI compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _split_commands(command: str) -> list[list[str]]:
    """Split a shell line into simple commands at `&&`, `||`, `;` and pipes."""
    command = _COMMENT_RE.sub("", command)
    try:
        lexer = shlex.shlex(command, posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        lexer.commenters = ""
        tokens = list(lexer)
    except ValueError:
        # NOTE: an unbalanced quote makes shlex fail; a plain split still finds most names.
        tokens = command.split()

    commands: list[list[str]] = [[]]
    for token in tokens:
        if token in _SEPARATORS:
            commands.append([])
        else:
            commands[-1].append(token)
    return [words for words in commands if words]


def _installer_arguments(words: list[str]) -> tuple[str, list[str]] | None:
    """Return the installer and the words after `install`, or None for other commands."""
    index = 0
    while index < len(words) and (words[index] in ("sudo", "env", "time") or "=" in words[index].split("/")[0]):
        index += 1
    words = words[index:]
    if not words:
        return None

    if _PYTHON_RE.match(words[0]) and len(words) >= 3 and words[1] == "-m" and _PIP_RE.match(words[2]):
        words = words[2:]
    if _PIP_RE.match(words[0]):
        installer = "pip"
        options = _PIP_OPTIONS_WITH_VALUE
    else:
        match = _CONDA_RE.match(words[0])
        if not match:
            return None
        installer = match.group(1)
        options = _CONDA_OPTIONS_WITH_VALUE

    # Global options may precede the subcommand, e.g. `pip -q install x`.
    rest = words[1:]
    while rest and rest[0].startswith("-"):
        option = rest.pop(0)
        if option in options and rest:
            rest.pop(0)
    if not rest or rest[0] != "install":
        return None
    return installer, rest[1:]


def _package_name(requirement: str, installer: str) -> str | None:
    """Return the distribution name in a requirement, or None when it names no package."""
    if "$" in requirement or "{" in requirement:
        return None  # a template filled in by IPython at run time

    egg = _EGG_RE.search(requirement)
    if egg:
        return normalise_name(egg.group(1))
    if "@" in requirement:
        # A PEP 508 direct reference: `name @ https://...` or `name[extra]@ git+https://...`.
        name = requirement.split("@", 1)[0].strip().split("[")[0]
        if _NAME_RE.fullmatch(name):
            return normalise_name(name)

    if "://" in requirement or requirement.startswith((".", "/", "~")) or "/" in requirement:
        archive = _ARCHIVE_RE.search(requirement)
        if archive:
            return normalise_name(archive.group(1))
        if "://" in requirement and "git" in requirement:
            tail = requirement.rstrip("/").split("/")[-1].split("@")[0]
            tail = tail.removesuffix(".git")
            if _NAME_RE.fullmatch(tail):
                return normalise_name(tail)
        return None  # a local path or an unrecognised URL

    if installer != "pip" and "::" in requirement:
        requirement = requirement.split("::", 1)[1]  # conda channel::package
    match = _NAME_RE.match(requirement)
    if not match:
        return None
    name = match.group(1)
    # Conda specs pin versions with a single `=` (numpy=1.26); pip uses ==, >= ...
    name = re.split(r"[=<>!~;,\[ ]", name, maxsplit=1)[0]
    name = name.rstrip(".-_")
    return normalise_name(name) if name else None


def parse_install_command(command: str) -> list[Install]:
    """Return the requirements installed by a shell line (empty when it installs nothing).

    Requirements files (`-r`), local paths and IPython templates (`$pkg`, `{pkg}`)
    name no package that can be read here, so they give no row.
    """
    if "install" not in command:
        return []  # most shell lines are not installs; skip the shell lexer for them

    installs: list[Install] = []
    for words in _split_commands(command):
        parsed = _installer_arguments(words)
        if parsed is None:
            continue
        installer, arguments = parsed
        options = _PIP_OPTIONS_WITH_VALUE if installer == "pip" else _CONDA_OPTIONS_WITH_VALUE

        skip_next = False
        for word in arguments:
            if skip_next:
                skip_next = False
                continue
            if word in ("-e", "--editable"):
                continue  # the editable path or URL that follows is a requirement
            if word.startswith("-"):
                # An option; its value is the next word unless attached (`--target=x`, `-rfile`).
                skip_next = word in options
                continue
            if _REDIRECTION_RE.match(word):
                break
            if word == "@":
                skip_next = True  # `name @ url` written without quotes: the name came before
                continue
            package = _package_name(word, installer)
            if package is not None:
                installs.append(Install(installer, word, package))
    return installs

