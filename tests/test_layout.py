"""The package's layout: one module per dataset, no import cycle between labutils' modules (sub-packages
included), the grader's modules small, and the course's task facts only in labutils.course."""
import ast
import re
from pathlib import Path

from labutils import course

PACKAGE = Path(__file__).resolve().parent.parent / "labutils"

# What the grader's refactor (issue 22) owns; the lead extends these checks to the whole package.
GRADER_FILES = sorted([*(PACKAGE / "grader").glob("*.py"), PACKAGE / "grade.py", PACKAGE / "atomic.py"])


def _module_name(path: Path) -> str:
    """``grader/kernel.py`` -> ``grader.kernel``, ``grader/__init__.py`` -> ``grader``, ``grade.py`` -> ``grade``;
    the package's own ``__init__.py`` is ``__init__``."""
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def _target(base: str, name: str) -> str:
    """``base.name`` when that is a module or sub-package of labutils, else ``base`` (``name`` is an object)."""
    dotted = f"{base}.{name}" if base else name
    path = PACKAGE.joinpath(*dotted.split("."))
    return dotted if path.with_suffix(".py").is_file() or (path / "__init__.py").is_file() else base


def _imports() -> dict[str, set[str]]:
    """Module -> the labutils modules it imports (relative and absolute imports, at any depth of the file)."""
    graph = {}
    for path in PACKAGE.rglob("*.py"):
        name = _module_name(path)
        # the package a relative import starts from: the module's own, or the package an __init__.py is
        package = list(path.relative_to(PACKAGE).parent.parts)
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level:
                base_parts = package[: len(package) - (node.level - 1)]
                base = ".".join(base_parts + (node.module.split(".") if node.module else []))
                deps.update(_target(base, a.name) for a in node.names)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("labutils."):
                base = node.module.removeprefix("labutils.")
                deps.update(_target(base, a.name) for a in node.names)
            elif isinstance(node, ast.Import):
                deps.update(a.name.removeprefix("labutils.") for a in node.names if a.name.startswith("labutils."))
        graph[name] = {d for d in deps if d} - {name}
    return graph


def test_no_import_cycle():
    graph = _imports()
    assert {"grader", "grader.kernel", "checks.protocol", "course"} <= set(graph)  # sub-packages are covered
    assert "grader.judge" in graph["grader.kernel"] and "course" in graph["grader.rubric"]
    state: dict[str, str] = {}

    def visit(name, path):
        state[name] = "open"
        for dep in graph.get(name, ()):
            assert state.get(dep) != "open", " -> ".join(path + [dep])
            if dep not in state:
                visit(dep, path + [dep])
        state[name] = "done"

    for name in graph:
        if name not in state:
            visit(name, [name])


def test_each_dataset_has_its_own_module():
    graph = _imports()
    for dataset in ("chest_xray", "cifar100", "dogs"):
        assert dataset in graph
        assert dataset not in graph["imagefolder"] and dataset not in graph["standins"]
    assert not (PACKAGE / "datasets.py").exists()


def test_only_the_grader_and_its_facade_import_the_grader():
    """A student's kernel imports labutils and its checks; neither reaches into the grader's package."""
    graph = _imports()
    for name, deps in graph.items():
        if not name.startswith("grader") and name not in ("grade",):
            assert not {d for d in deps if d == "grader" or d.startswith("grader.")}, name


def test_grader_modules_are_small():
    assert GRADER_FILES and all(len(p.read_text(encoding="utf-8").splitlines()) < 400 for p in GRADER_FILES)


def _strings(path: Path) -> list[str]:
    return [node.value for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)]


# Where a task number is a fact rather than a format: "Task 1.1", "задание 1.3", "tasks 1.1-1.3", "1.4"
# in quotes, or an identifier such as TASK_1_4. Floats in code (a tolerance of 1.5) are none of these.
_NUMBER = r"(?<![\d.])({numbers})(?![\d])"
_CONTEXT = (r"(?i)(tasks?|задани[еяйю]\w*|§)\s*(\d\.\d[–-])?" + _NUMBER, r"[\"'`]" + _NUMBER + r"[\"'`:]",
            r"TASK_\d_\d")


def _task_number_mentions(path: Path) -> list[str]:
    numbers = "|".join(re.escape(t.number) for t in course.tasks())
    text = path.read_text(encoding="utf-8")
    return [m.group(0) for pattern in _CONTEXT for m in re.finditer(pattern.format(numbers=numbers), text)]


def test_task_numbers_live_only_in_the_course_table():
    """No module but labutils.course names a task by its number, in code, docstrings or comments; the
    message tables take a task's number as a placeholder."""
    checked = [p for p in PACKAGE.rglob("*.py") if p != PACKAGE / "course.py"]
    assert PACKAGE / "messages" / "ru.py" in checked and PACKAGE / "checks" / "lab1.py" in checked
    found = {str(p.relative_to(PACKAGE)): _task_number_mentions(p) for p in checked}
    assert not {name: hits for name, hits in found.items() if hits}


def test_the_literal_test_sees_what_it_should():
    numbers = "|".join(re.escape(t.number) for t in course.tasks())
    hits = lambda text: [m.group(0) for p in _CONTEXT for m in re.finditer(p.format(numbers=numbers), text)]
    assert hits('register("1.1", a)') and hits("Probe of task 1.4") and hits("заданий 1.1–1.3")
    assert hits("TASK_2_3 = x") and hits("Задание 2.8")
    assert not hits("tol = 1.5 * eps") and not hits("torch 2.4") and not hits("version 1.10")


def test_task_titles_live_only_in_the_course_table():
    titles = {t.title for t in course.tasks()}
    for path in GRADER_FILES + sorted((PACKAGE / "authoring").glob("*.py")):
        for text in _strings(path):
            assert text not in titles, (path.name, text)


def test_tests_are_grouped_like_the_package():
    """tests/ mirrors labutils: a folder per sub-package (tests of top-level modules at the top), plus
    tests/notebooks for promises the solution notebooks make about themselves."""
    tests = Path(__file__).resolve().parent
    subpackages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    folders = {p.name for p in tests.iterdir() if p.is_dir() and not p.name.startswith((".", "__"))}
    assert folders == subpackages | {"notebooks"}, folders ^ (subpackages | {"notebooks"})
    for folder in folders:
        assert list((tests / folder).glob("test_*.py")), folder
    names = [p.name for p in tests.rglob("test_*.py")]
    assert len(names) == len(set(names))  # pytest's default import mode needs unique test file names
