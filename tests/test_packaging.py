"""labutils as a real package: declared dependencies match the imports, one version, a wheel that installs.

The dependency test reads every ``import`` of the package and of the solution notebooks (AST, at
any depth, optional imports included) and maps each to its distribution; the wheel test builds the
wheel from a copy of the checkout, installs it with ``--no-index --no-deps`` into a clean virtual
environment (the checkout's editable install hidden) and imports every module there.
"""
from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import labutils
from lone_env import COURSE, build_wheel, clean_environ, make_env

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
# Import names whose distribution is named otherwise, for when it is not installed here.
DISTRIBUTION_OF = {"PIL": "pillow", "sklearn": "scikit-learn", "pytorch_grad_cam": "grad-cam", "cv2": "opencv-python"}
# Declared but never imported by name: what they are for.
USED_WITHOUT_IMPORT = {
    "onnxscript": "torch.onnx's exporter imports it (Lab 4's ONNX export)",
    "ipykernel": "the notebooks' kernel; the grader starts it",
    "nbgrader": "python -m labutils.assignments export-nbgrader writes a course for the nbgrader CLI",
    "pytest": "runs the tests",
    "nbval": "executes the solution notebooks under pytest",
    "packaging": "this test reads the requirement specifiers with it",
}


def _declared(*groups: str) -> set[str]:
    """Canonical distribution names of the core dependencies plus the extras ``groups``."""
    lines = list(PROJECT["dependencies"])
    for group in groups:
        lines += PROJECT["optional-dependencies"][group]
    return {canonicalize_name(Requirement(line).name) for line in lines}


def _top_level_imports(source: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in ("labutils", "google", "__future__")}


def _package_imports(folder: str = "") -> set[str]:
    return {name for path in (ROOT / "labutils" / folder).rglob("*.py")
            for name in _top_level_imports(path.read_text(encoding="utf-8"))}


def _notebook_imports() -> set[str]:
    found = set()
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        for cell in nbformat.read(str(path), as_version=4).cells:
            if cell.cell_type == "code":
                code = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
                found |= _top_level_imports(code)
    return found


def _distribution(module: str) -> str:
    installed = importlib.metadata.packages_distributions().get(module)
    name = installed[0] if installed else DISTRIBUTION_OF.get(module, module)
    return canonicalize_name(name)


def _undeclared(modules: set[str], declared: set[str]) -> dict[str, str]:
    return {m: _distribution(m) for m in sorted(modules) if _distribution(m) not in declared}


def test_every_import_of_the_package_is_declared():
    all_groups = tuple(PROJECT["optional-dependencies"])
    assert not _undeclared(_package_imports(), _declared(*all_groups))
    assert not _undeclared(_package_imports("grader"), _declared("labs", "grader"))


def test_what_the_notebooks_import_comes_with_the_labs_extra():
    """A lone notebook's first cell installs ``[labs]``: that must cover every notebook import."""
    imports = _notebook_imports()
    assert {"torch", "sklearn", "ipywidgets", "onnxruntime"} <= imports  # the scan sees the notebooks
    assert not _undeclared(imports, _declared("labs"))


def test_every_declared_dependency_is_used():
    used = {_distribution(m) for m in _package_imports() | _notebook_imports()}
    used |= {canonicalize_name(name) for name in USED_WITHOUT_IMPORT}
    declared = _declared(*PROJECT["optional-dependencies"])
    assert declared <= used, sorted(declared - used)


def test_distribution_name_is_distinctive_and_the_version_is_written_once():
    assert PROJECT["name"] == "resnet-transfer-course" and "version" not in PROJECT
    assert PROJECT["dynamic"] == ["version"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "labutils.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", labutils.__version__)
    written = [path for path in [*ROOT.glob("*.py"), *ROOT.glob("*.toml"), *(ROOT / "labutils").rglob("*.py")]
               if re.search(rf"""["']{re.escape(labutils.__version__)}["']""", path.read_text(encoding="utf-8"))]
    assert written == [ROOT / "labutils" / "__init__.py"], written


def test_lower_bounds_are_met_by_colab_and_kaggle():
    """Colab's preinstalled versions (ipywidgets 7.7.1, an older torch) satisfy the bounds, so the
    first cell never reinstalls them; torch is bounded from below only."""
    requirements = {canonicalize_name(Requirement(line).name): Requirement(line)
                    for line in PROJECT["dependencies"] + PROJECT["optional-dependencies"]["labs"]}
    preinstalled = {"torch": "2.2.0", "torchvision": "0.17.0", "ipywidgets": "7.7.1", "numpy": "1.26.4",
                    "pillow": "10.4.0", "pandas": "2.2.2", "matplotlib": "3.8.0", "scikit-learn": "1.3.2",
                    "seaborn": "0.13.2", "tqdm": "4.66.4", "ipykernel": "5.5.6", "nbformat": "5.10.4"}
    for name, version in preinstalled.items():
        assert requirements[name].specifier.contains(version), (name, str(requirements[name].specifier))
    assert all(spec.operator == ">=" for spec in requirements["torch"].specifier)


def test_requirements_install_the_checkout_with_every_extra():
    lines = [line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    extras = ",".join(PROJECT["optional-dependencies"])
    assert f"-e .[{extras}]" in lines
    assert any(line.startswith("jupyterlab") for line in lines)


def test_released_notebooks_are_found_in_the_checkout():
    from labutils import course

    assert course.NOTEBOOKS == ROOT / "notebooks" and not course.PACKAGED_NOTEBOOKS.exists()


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A clean environment with the wheel installed: (its python, the wheel)."""
    base = tmp_path_factory.mktemp("wheel")
    wheel = build_wheel(base)
    python = make_env(base / "env", hidden=COURSE)
    env = clean_environ(base / "home")
    subprocess.run([str(python), "-m", "pip", "install", "--no-index", "--no-deps", "--quiet",
                    "--disable-pip-version-check", str(wheel)], check=True, env=env, cwd=base, timeout=300)
    return python, wheel, env, base


IMPORT_ALL = """
import importlib, json, pathlib, sys
import labutils
from labutils import course
base = pathlib.Path(labutils.__file__).parent
names = sorted(".".join(("labutils", *p.relative_to(base).with_suffix("").parts)).removesuffix(".__init__")
               for p in base.rglob("*.py") if p.name != "__main__.py")  # importing an entry point runs it
failed = {}
for name in names:
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed[name] = repr(exc)
print(json.dumps({"file": labutils.__file__, "version": labutils.__version__, "modules": names, "failed": failed,
                  "notebooks": str(course.NOTEBOOKS), "released": sorted(p.name for p in course.NOTEBOOKS.glob("*.ipynb"))}))
"""


def test_the_wheel_installs_in_a_clean_environment_and_imports_every_module(installed):
    python, wheel, env, base = installed
    out = subprocess.run([str(python), "-c", IMPORT_ALL], capture_output=True, text=True, env=env, cwd=base,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    site = Path(report["file"]).parent.parent
    assert "venv" in report["file"] and str(ROOT) not in report["file"], report["file"]
    assert report["version"] == labutils.__version__
    expected = sorted(f"labutils.{p.relative_to(ROOT / 'labutils').with_suffix('').as_posix().replace('/', '.')}"
                      .removesuffix(".__init__") for p in (ROOT / "labutils").rglob("*.py")
                      if p.name != "__main__.py" and p.parent.name != "__pycache__")
    assert set(expected) == set(report["modules"]), sorted(set(expected) ^ set(report["modules"]))
    assert not report["failed"]
    assert report["notebooks"] == str(site / "labutils" / "released")
    assert report["released"] == sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    for name in report["released"]:
        assert (site / "labutils" / "released" / name).read_bytes() == (ROOT / "notebooks" / name).read_bytes()
