"""The README and ``docs/`` keep their promises: every command is run, every link leads somewhere.

* Every shell command in a fenced ``bash``/``sh``/``shell``/``console`` block of ``README.md`` or
  ``docs/**/*.md`` is either run here (:data:`RUN`) or listed in :data:`COVERED` with the test or CI
  file that runs it and a string that file must contain; a new command in the docs that is in
  neither fails :func:`test_every_documented_command_is_run_or_covered`.
* Every ``python -m labutils.X ...`` the docs mention (fenced or inline) names a real command line:
  its ``--help`` runs, and each of its ``--flags`` and subcommands is in that help; so does every
  lone ```--option``` of a page about one command line (:data:`OPTIONS_OF`).
* README stays a front door: the install and test commands, the Russian quick start, a link to
  every page of ``docs/``.
* Every relative link (and ``#anchor``) resolves; every ``LABUTILS_*`` variable the package reads
  has a row in ``docs/environment.md``; every module of ``labutils/`` is named in the architecture map.
"""
from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import re
import runpy
import shlex
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
SHELL = {"bash", "sh", "shell", "console"}
ENV_PREFIX = re.compile(r"^((?:[A-Z_][A-Z0-9_]*=\S*\s+)+)")
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.S | re.M)

# Commands covered elsewhere: command -> (file that runs it, a string that file must contain, how).
COVERED = {
    "python -m pip install -r requirements.txt": (
        ".ci/run", "pip install --quiet --disable-pip-version-check -r requirements.txt", "CI installs them"),
    "python -m pytest": (".ci/run", "python -m pytest", "CI runs the whole suite"),
    "python -m labutils.assignments build": (
        "tests/authoring/test_assignments.py", "def test_fresh_build_passes_check", "build() into a temporary course"),
    "python -m labutils.assignments clean": (
        "tests/authoring/test_assignments.py", "clean(sol)", "clean() on a temporary solutions folder"),
    "python -m labutils.grade submissions/": (
        "tests/grader/test_grade.py", "def test_cli_reports_missing_path",
        "the CLI on a path; folders are collected by grade() in the other tests"),
    "python -m labutils.grade solutions notebooks": (
        "tests/grader/test_grade.py", "def test_solutions_score_full_marks_and_student_notebooks_zero",
        "grade() on solutions/ and notebooks/, 8 reports and gradebook.csv"),
    "python -m labutils.grade submitted/ --roster roster.csv --out grades": (
        "tests/grader/test_term_e2e.py", "def test_a_class_graded_twice_with_a_roster",
        "grade() with a roster on a class folder, the real grader; the CLI's options in tests/grader/test_roster.py"),
    "python -m labutils.grade submitted/ --roster roster.csv --match '^(?P<id>[a-z0-9]+)_' --out grades": (
        "tests/grader/test_roster.py", "def test_a_file_name_pattern_maps_instead_of_folders",
        "the file-name pattern; the CLI's --match in test_the_command_line_passes_the_term_options"),
    "python -m labutils.grade submitted/petrova/01_residual_networks.ipynb --roster roster.csv --out grades": (
        "tests/grader/test_term_e2e.py", "second = grade([str(boris", "one corrected file regraded into the same out"),
    "python -m labutils.grade submitted/ --roster roster.csv --feedback-lang en --out grades": (
        "tests/grader/test_feedback.py", "def test_english_feedback_and_html_escaping", "feedback rendered in English"),
    "python -m labutils.grade submitted/ --roster roster.csv --export moodle --export canvas --out grades": (
        "tests/grader/test_lms.py", "def test_canvas_file_has_its_columns_and_a_points_possible_row",
        "both files from a term table; the CLI's --export in tests/grader/test_roster.py"),
    "python -m labutils.assignments export-nbgrader course/": (
        "tests/authoring/test_nbgrader.py", '"export-nbgrader"', "the export, then the real nbgrader on it"),
    "cd course": ("tests/authoring/test_nbgrader.py", "cwd=course", "nbgrader runs in the exported course"),
    "nbgrader generate_assignment 01_residual_networks --force": (
        "tests/authoring/test_nbgrader.py", '"generate_assignment"', "for every lab"),
    "nbgrader autograde 01_residual_networks --create": (
        "tests/authoring/test_nbgrader.py", '"autograde"', "with LABUTILS_SMOKE=1, for every lab"),
    "nbgrader export": ("tests/authoring/test_nbgrader.py", '"export"', "grades.csv compared with labutils.grade"),
    "python -m labutils.fetch --all": (
        "tests/test_fetch.py", "def test_download_over_http_checks_and_places_file",
        "the download path on a local HTTP server; --all itself needs the internet and is not run"),
    "python -m labutils.fetch cifar100": (
        "tests/test_fetch.py", 'fetch.main(["chest_xray"])', "fetch NAME from the CLI (offline and online)"),
    "python -m labutils.bench": (
        "tests/bench/test_bench.py", "def test_fit_overhead_benchmark_reports_both_loops",
        "each benchmark on small sizes; the full run takes minutes and is not run"),
    "python -m labutils.bench --quick": (
        "tests/bench/test_bench.py", "def test_bench_json_has_the_figures_the_course_reports", "main(['--json', '--quick'])"),
    "python -m labutils.bench --json": (
        "tests/bench/test_bench.py", 'bench.main(["--json", "--quick"])', "with the measurements stubbed"),
    "python -m labutils.bench --notebooks": (
        ".ci/run", "python -m pytest",
        "not run as such: it times nbval over solutions/, which CI runs through `python -m pytest`"),
    "python -m labutils.rehearse --scale tiny": (
        "tests/rehearse/test_rehearse_tiny.py", '"--scale", "tiny"', "every lab, one test each, in CI"),
    "python -m labutils.rehearse --scale full --lab 02 --out /tmp/rehearsal": (
        "tests/rehearse/test_rehearse_tiny.py", '"--lab", lab',
        "the same paths at tiny scale; the full counts take the better part of an hour and are not run"),
    "python -m labutils.rehearse --scale full --precision fp32": (
        "tests/rehearse/test_rehearse_bypass.py", "fp32=True",
        "the fp32 switch in the rehearsal's kernel; a full run is not run in CI"),
}


def run_module(command: str) -> tuple[int, str]:
    """Run ``python -m labutils.X ARGS`` in this process, as ``python -m`` does (:func:`runpy.run_module`).

    In-process, so the test pays for importing torch once, not once per command. Returns the exit
    status and what the command printed (stdout and stderr together).
    """
    words = shlex.split(command)
    assert words[:2] == ["python", "-m"], command
    out, argv = io.StringIO(), sys.argv
    sys.argv = [words[2], *words[3:]]
    status = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # "found in sys.modules": imported by earlier tests
            runpy.run_module(words[2], run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = argv
    return status, out.getvalue()


def _run_fetch_list(env):
    status, out = run_module("python -m labutils.fetch --list")
    assert status == 0, out
    assert all(name in out for name in ("chest_xray", "cifar100", "stanford_dogs", "resnet18")), out


def _run_assignments_check(env):
    status, out = run_module("python -m labutils.assignments check")
    assert status == 0, out
    assert out.startswith("ok: 4 student notebook(s)"), out


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run_jupyter_lab(env):
    """Start ``jupyter lab notebooks/`` for real and list, through its API, the four notebooks it serves."""
    port, token = _free_port(), "test-docs"
    extra = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, **env, "JUPYTER_RUNTIME_DIR": home, "JUPYTER_CONFIG_DIR": home}
        server = subprocess.Popen(
            ["jupyter", "lab", "notebooks/", "--no-browser", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
             "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}", *extra],
            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            listing, deadline = None, time.monotonic() + 60
            while listing is None and time.monotonic() < deadline and server.poll() is None:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents?token={token}", timeout=2) as r:
                        listing = json.load(r)
                except OSError:
                    time.sleep(0.25)
        finally:
            server.terminate()
            try:
                _, err = server.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                _, err = server.communicate()
    assert listing is not None, f"jupyter lab notebooks/ did not serve its API:\n{err.decode()[-3000:]}"
    served = sorted(item["name"] for item in listing["content"] if item["name"].endswith(".ipynb"))
    assert served == sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb")) and len(served) == 4, served


# Commands run here: command (without its VAR=value prefixes) -> runner(env).
RUN = {
    "python -m labutils.fetch --list": _run_fetch_list,
    "python -m labutils.assignments check": _run_assignments_check,
    "jupyter lab notebooks/": _run_jupyter_lab,
}


def _strip_code(text: str) -> str:
    """``text`` without its fenced blocks (links and inline spans are read from the prose only)."""
    return FENCE.sub("", text)


def shell_commands(text: str) -> list[str]:
    """The commands of the shell blocks in ``text``: comments and ``$`` prompts removed, continuations joined."""
    commands = []
    for lang, body in FENCE.findall(text):
        if lang not in SHELL:
            continue
        body = body.replace("\\\n", " ")
        for line in body.splitlines():
            if lang == "console":
                if not line.startswith("$ "):
                    continue  # output
                line = line[2:]
            line = re.sub(r"(^|\s)#.*$", "", line).strip()
            if line:
                commands.append(" ".join(line.split()))
    return commands


def split_env(command: str) -> tuple[dict, str]:
    """``("A=1 B=2 cmd")`` -> ``({"A": "1", "B": "2"}, "cmd")``."""
    match = ENV_PREFIX.match(command)
    if not match:
        return {}, command
    env = dict(part.split("=", 1) for part in match.group(1).split())
    return env, command[match.end():]


DOCUMENTED = [(path.relative_to(ROOT).as_posix(), cmd) for path in DOCS for cmd in shell_commands(path.read_text())]


def _covering_file(name: str) -> Path | None:
    """The file named in :data:`COVERED`, also after ``tests/`` is regrouped into sub-folders."""
    path = ROOT / name
    if path.is_file():
        return path
    found = sorted((ROOT / "tests").rglob(Path(name).name)) if name.startswith("tests/") else []
    return found[0] if found else None


def test_the_docs_have_shell_commands_to_check():
    assert len(DOCUMENTED) >= 15 and {"README.md"} < {doc for doc, _ in DOCUMENTED}


@pytest.mark.parametrize("doc,command", DOCUMENTED, ids=[f"{d}:{c}" for d, c in DOCUMENTED])
def test_every_documented_command_is_run_or_covered(doc, command):
    _, bare = split_env(command)
    assert bare in RUN or bare in COVERED, (
        f"{doc}: `{command}` is run by no test: run it in tests/test_docs.py (RUN) or name the test or CI "
        "file that runs it (COVERED)")


@pytest.mark.parametrize("command", sorted(COVERED))
def test_covered_commands_name_a_file_that_runs_them(command):
    name, marker, _ = COVERED[command]
    path = _covering_file(name)
    assert path is not None, f"`{command}` is said to be covered by {name}, which does not exist"
    assert marker in path.read_text(), f"`{command}`: {name} no longer contains {marker!r}"


def test_the_lists_name_only_documented_commands():
    documented = {split_env(cmd)[1] for _, cmd in DOCUMENTED}
    assert set(RUN) | set(COVERED) <= documented, sorted((set(RUN) | set(COVERED)) - documented)


@pytest.mark.parametrize("command", sorted(RUN))
def test_documented_command_runs(command):
    envs = [split_env(cmd)[0] for _, cmd in DOCUMENTED if split_env(cmd)[1] == command]
    env = {k: v for e in envs for k, v in e.items() if k == "LABUTILS_SMOKE"}  # the smoke variant (paths are examples)
    RUN[command](env)


def _labutils_commands() -> list[tuple[str, str]]:
    """Every ``python -m labutils.X ...`` in the docs: shell blocks and inline code spans."""
    found = [(doc, split_env(cmd)[1]) for doc, cmd in DOCUMENTED]
    for path in DOCS:
        for span in re.findall(r"`([^`\n]+)`", _strip_code(path.read_text())):
            found.append((path.relative_to(ROOT).as_posix(), split_env(span.strip())[1]))
    return sorted({(doc, " ".join(cmd.split())) for doc, cmd in found if cmd.startswith("python -m labutils.")})


@functools.lru_cache(maxsize=None)
def _help(module: str) -> str:
    status, out = run_module(f"python -m {module} --help")
    assert status == 0, f"python -m {module} --help failed:\n{out[-2000:]}"
    return out


LABUTILS_COMMANDS = _labutils_commands()


@pytest.mark.parametrize("doc,command", LABUTILS_COMMANDS, ids=[f"{d}:{c}" for d, c in LABUTILS_COMMANDS])
def test_documented_labutils_command_lines_exist(doc, command):
    words = shlex.split(re.sub(r"\.\.\.|[\[\]]", " ", command))
    module, args = words[2], words[3:]
    usage = _help(module)
    for word in args:
        if word.startswith("--"):
            assert word.split("=")[0] in usage, f"{doc}: `{command}`: {word} is not an option of python -m {module}"
    if module == "labutils.assignments" and args and not args[0].startswith("-"):
        commands = re.search(r"\{([a-z,-]+)\}", usage).group(1).split(",")
        assert args[0].strip("{}").split(",")[0] in commands, f"{doc}: `{command}`: no such subcommand"


# The command line each page's lone ``--option`` spans belong to.
OPTIONS_OF = {"docs/instructors/grading.md": "labutils.grade", "docs/instructors/term.md": "labutils.grade",
              "docs/instructors/nbgrader.md": "labutils.assignments",
              "docs/instructors/offline-classroom.md": "labutils.fetch", "docs/performance.md": "labutils.bench"}


@pytest.mark.parametrize("doc", sorted(OPTIONS_OF))
def test_options_named_in_the_prose_exist(doc):
    spans = re.findall(r"`(--[a-z][\w-]*)[^`]*`", _strip_code((ROOT / doc).read_text()))
    assert spans, f"{doc} names no option: update OPTIONS_OF"
    usage = _help(OPTIONS_OF[doc])
    assert not [o for o in spans if o not in usage], f"{doc}: not options of python -m {OPTIONS_OF[doc]}"


def _slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    return {_slug(h) for h in re.findall(r"^#{1,6}\s+(.*)$", _strip_code(path.read_text()), re.M)}


LINKS = [(path, target) for path in DOCS
         for target in re.findall(r"!?\[[^\]]*\]\(([^)\s]+)\)", _strip_code(path.read_text()))
         if not re.match(r"[a-z]+:", target)]


@pytest.mark.parametrize("path,target", LINKS, ids=[f"{p.relative_to(ROOT)}->{t}" for p, t in LINKS])
def test_relative_links_resolve(path, target):
    file, _, anchor = target.partition("#")
    dest = (path.parent / file).resolve() if file else path
    assert dest.exists(), f"{path.relative_to(ROOT)}: link to {target} leads to no file"
    if anchor and dest.suffix == ".md":
        assert anchor in _anchors(dest), f"{path.relative_to(ROOT)}: {target}: no heading with that anchor"


def test_the_readme_is_a_front_door():
    """The two commands stay visible (CI runs the README's test command), the Russian quick start stays,
    every page of docs/ is linked from the README, and the detail stays out of it."""
    text = (ROOT / "README.md").read_text()
    commands = shell_commands(text)
    assert "python -m pip install -r requirements.txt" in commands and "python -m pytest" in commands
    assert "### Быстрый старт (по-русски)" in text
    linked = {(ROOT / t.partition("#")[0]).resolve() for p, t in LINKS if p.name == "README.md" and p.parent == ROOT}
    assert {p.resolve() for p in DOCS[1:]} <= linked, [str(p) for p in DOCS[1:] if p.resolve() not in linked]
    assert len(text.encode()) < 8000, "README.md is the front door: put the detail in docs/"


def test_every_environment_variable_is_documented():
    table = (ROOT / "docs" / "environment.md").read_text()
    used = {v for f in (ROOT / "labutils").rglob("*.py") for v in re.findall(r"LABUTILS_[A-Z_]+[A-Z]", f.read_text())}
    used |= {k for _, cmd in DOCUMENTED for k in split_env(cmd)[0] if k.startswith("LABUTILS_")}
    assert used, "no LABUTILS_* variable found"
    missing = sorted(v for v in used if f"`{v}" not in table)
    assert not missing, f"docs/environment.md has no row for {missing}"


def test_the_architecture_map_names_every_module():
    text = (ROOT / "docs" / "architecture.md").read_text()
    package = ROOT / "labutils"
    names = {p.stem for p in package.glob("*.py") if p.stem != "__init__"}
    names |= {f"{p.name}/" for p in package.iterdir() if (p / "__init__.py").is_file()}
    names |= {p.stem for sub in package.iterdir() if (sub / "__init__.py").is_file()
              for p in sub.glob("*.py") if p.stem not in ("__init__", "__main__")}
    missing = sorted(n for n in names if not re.search(rf"(?<![\w.]){re.escape(n)}(?![\w])", text))
    assert not missing, f"docs/architecture.md does not name {missing}"
