"""``import labutils`` stays light (issue 22): a student's kernel, and the tooling that only needs the package's
root, load neither the instructor tools nor the heavy plotting and table libraries."""
import json
import subprocess
import sys

# Loaded on purpose only by the modules that need them (metrics, plots, imagefolder; the grader; the benchmarks).
KEPT_OUT = ("sklearn", "matplotlib", "pandas", "torch", "labutils.grader", "labutils.bench", "labutils.checks")


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"],
                         capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_import_labutils_loads_only_runtime_and_messages():
    loaded = _modules_after("import labutils")
    assert {"labutils", "labutils.runtime", "labutils.messages"} <= loaded
    heavy = {m for m in loaded if m.split(".")[0] in KEPT_OUT or m.startswith(KEPT_OUT)}
    assert not heavy, sorted(heavy)


def test_the_benchmark_runs_as_a_module_after_the_split():
    """``python -m labutils.bench`` (a package with ``__main__``) keeps its command line."""
    out = subprocess.run([sys.executable, "-m", "labutils.bench", "--help"], capture_output=True, text=True, check=True)
    assert all(option in out.stdout for option in ("--quick", "--json", "--notebooks", "--only"))
