"""Autograde student notebooks: ``python -m labutils.grade PATH... [--out grades]``.

For each submission (a notebook, or every notebook in a folder) the grader

1. detects the lab (metadata written by ``labutils.assignments build``, else the file name, else
   the ``Задание N.M`` (or older ``Task N.M``) hints in its code);
2. executes it in smoke mode in a fresh kernel, in its own temporary data folder, under a time
   limit; errors do not stop execution, and each is recorded with its cell;
3. runs the lab's checks from here, not the notebook's check cells: deleting or editing those
   cells changes nothing, and ``labutils.checks`` is reloaded first so a submission cannot patch
   it. Each check is isolated where possible (for example ``_make_layer`` is checked with
   torchvision's blocks), so one mistake costs exactly the points of its own task;
4. writes ``<out>/<submission>.md`` and, for all submissions together, ``<out>/gradebook.csv``.

A hanging, crashing, malformed or unrecognised notebook is reported as such and never stops the
others. Submissions run in parallel, one process per CPU core.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import re
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

MARKER = "<<LABUTILS-GRADE>>"


@dataclass(frozen=True)
class Item:
    """One graded TODO: its task id, title, points and the check code run in the student's kernel."""

    task: str
    title: str
    points: int
    code: str


# The checks run against the names the notebook defined. ``checks`` is the freshly reloaded module.
LABS: dict[str, list[Item]] = {
    "01_residual_networks": [
        Item("1.1", "ResidualBlock", 2, "checks.check_residual_block(ResidualBlock)"),
        Item("1.2", "Bottleneck", 2, "checks.check_bottleneck(Bottleneck)"),
        Item("1.3", "ResNet._make_layer", 2,
             "from torchvision.models.resnet import BasicBlock as _Basic, Bottleneck as _Bottle\n"
             "checks.check_resnet(ResNet, _Basic, _Bottle)"),
        Item("1.4", "factories", 1,
             "checks.check_factories({'ResNet18': ResNet18, 'ResNet34': ResNet34, 'ResNet50': ResNet50, "
             "'ResNeXt50_32x4d': ResNeXt50_32x4d})"),
        Item("1.5", "extract_embedding", 1,
             "from torchvision.models import resnet18 as _r18\nchecks.check_embedding(extract_embedding, _r18())"),
    ],
    "02_chest_xray_finetuning": [
        Item("2.1", "replace_head", 1, "checks.check_head(replace_head)"),
        Item("2.2", "freeze_backbone", 1, "checks.check_frozen_backbone(freeze_backbone)"),
        Item("2.3", "train_one_epoch", 2, "checks.check_train_loop(train_one_epoch)"),
        Item("2.4", "evaluate", 2, "checks.check_eval_loop(evaluate)"),
        Item("2.5", "make_finetune_optimizer", 1,
             "import torch.nn as _nn\nfrom torchvision.models import resnet18 as _r18\n_m = _r18(); _m.fc = _nn.Linear(512, 2)\n"
             "for _n, _p in _m.named_parameters(): _p.requires_grad = _n.startswith('fc.')\n"
             "checks.check_finetune_optimizer(make_finetune_optimizer, _m)"),
        Item("2.6", "sensitivity_specificity", 1, "checks.check_sensitivity_specificity(sensitivity_specificity)"),
        Item("2.7", "class_weights", 1, "checks.check_class_weights(class_weights)"),
    ],
    "03_resnext_cifar100": [
        Item("3.1", "model and new head", 1, "checks.check_resnext50_32x4d(model, 100)"),
        Item("3.2", "transform", 1, "checks.check_transform(transform, IMAGE_SIZE)"),
        Item("3.3", "training loop", 2, "checks.check_train_loop(train_one_epoch, task='Task 3.3 training loop')"),
        Item("3.4", "predict", 2, "checks.check_predict(predict)"),
        Item("3.5", "denormalize", 1, "checks.check_denormalize(denormalize)"),
    ],
    "04_dog_breeds_strategies": [
        Item("4.1", "make_model", 1, "checks.check_make_model(make_model)"),
        Item("4.2", "apply_strategy", 2, "checks.check_strategies(apply_strategy, _ref_make_model)"),
        Item("4.3", "make_optimizer", 1, "checks.check_optimizer(make_optimizer, _ref_make_model, _ref_apply_strategy)"),
        Item("4.4", "pick_best", 1, "checks.check_pick_best(pick_best)"),
        Item("4.5", "onnx_max_abs_diff", 1, "checks.check_onnx_parity(onnx_max_abs_diff)"),
    ],
}

# Reference helpers the Lab 4 checks use, so that a wrong make_model costs only Task 4.1's points.
_LAB4_REFERENCE = '''
def _ref_make_model(arch, num_classes=5):
    import torch.nn as _nn
    from torchvision.models import get_model as _get
    _m = _get(arch, weights=None)
    if arch == "resnet50":
        _m.fc = _nn.Linear(2048, num_classes)
    else:
        _m.classifier[1] = _nn.Linear(1280, num_classes)
    return _m

def _ref_apply_strategy(model, arch, strategy):
    from labutils.checks.lab4 import STRATEGY_PREFIXES as _P
    for _n, _p in model.named_parameters():
        _p.requires_grad = _n.startswith(_P[arch][strategy])
    return model
'''


def _grader_cell(items: list[Item]) -> str:
    payload = json.dumps([asdict(i) for i in items])
    return f'''
import importlib as _importlib, json as _json, io as _io, contextlib as _ctx
import labutils.checks.core, labutils.checks.lab1, labutils.checks.lab2, labutils.checks.lab3, labutils.checks.lab4
import labutils.checks
for _mod in (labutils.checks.core, labutils.checks.lab1, labutils.checks.lab2, labutils.checks.lab3,
             labutils.checks.lab4, labutils.checks):
    _importlib.reload(_mod)
checks = labutils.checks
{_LAB4_REFERENCE}
_grade = []
for _item in _json.loads({payload!r}):
    _sink = _io.StringIO()
    try:
        with _ctx.redirect_stdout(_sink), _ctx.redirect_stderr(_io.StringIO()):
            exec(_item["code"], globals())
        _lines = [l for l in _sink.getvalue().splitlines() if l.startswith("✅")]
        _grade.append({{"task": _item["task"], "ok": True, "message": _lines[-1] if _lines else "ok"}})
    except BaseException as _exc:
        _text = str(_exc).strip().splitlines()[0] if str(_exc).strip() else ""
        _name = "" if isinstance(_exc, checks.CheckFailed) else type(_exc).__name__ + ": "
        _grade.append({{"task": _item["task"], "ok": False, "message": (_name + _text)[:300]}})
print({MARKER!r} + _json.dumps(_grade))
'''


# ---------------------------------------------------------------------------------------------
# lab detection


def detect_lab(path: Path, nb) -> str | None:
    """The lab's notebook stem (e.g. ``01_residual_networks``), or None when it cannot be told."""
    stamped = nb.metadata.get("labutils", {}).get("lab")
    if stamped in LABS:
        return stamped
    for stem in LABS:
        if path.stem.startswith(stem) or stem in path.stem:
            return stem
    numbers = re.findall(r"# TODO: (?:Task|Задание) (\d+)\.", "\n".join(c.source for c in nb.cells if c.cell_type == "code"))
    if numbers:
        most = max(set(numbers), key=numbers.count)
        matches = [stem for stem in LABS if stem.startswith(f"{int(most):02d}_")]
        if matches:
            return matches[0]
    return None


# ---------------------------------------------------------------------------------------------
# grading one submission (runs in a worker process)


@dataclass
class Report:
    """The outcome for one submission."""

    submission: str
    lab: str | None = None
    status: str = "ok"  # ok, timeout, crashed, invalid, unknown-lab, error
    detail: str = ""
    tasks: list[dict] = field(default_factory=list)  # task, title, points, max_points, ok, message
    errors: list[dict] = field(default_factory=list)  # cell, ename, evalue
    seconds: float = 0.0

    @property
    def points(self) -> int:
        return sum(t["points"] for t in self.tasks)

    @property
    def max_points(self) -> int:
        return sum(i.points for i in LABS.get(self.lab, []))


def _cell_errors(nb) -> list[dict]:
    errors = []
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                errors.append({"cell": index, "ename": out.get("ename", ""),
                               "evalue": str(out.get("evalue", "")).strip().splitlines()[0][:200]
                               if str(out.get("evalue", "")).strip() else ""})
    return errors


def grade_one(path: str, timeout: float = 600.0, threads: int | None = None) -> Report:
    """Execute and grade one notebook; never raises (problems become the report's status).

    ``threads`` caps the kernel's CPU threads (``OMP_NUM_THREADS``): parallel kernels that each use
    every core slow each other down many times over.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    start = time.monotonic()
    report = Report(submission=str(path))
    try:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
    except Exception as exc:  # invalid JSON, not a notebook, unreadable file
        report.status, report.detail = "invalid", f"not a readable notebook: {str(exc).splitlines()[0][:200]}"
        return report
    report.lab = detect_lab(Path(path), nb)
    if report.lab is None:
        report.status, report.detail = "unknown-lab", "cannot tell which lab this notebook is (no known Task N.M hints)"
        return report
    items = LABS[report.lab]
    submitted = len(nb.cells)
    grader = nbformat.v4.new_code_cell(_grader_cell(items))  # runs after the submission's own cells
    nb.cells.append(grader)
    with tempfile.TemporaryDirectory(prefix="labutils-grade-") as work:
        env = {**os.environ, "LABUTILS_SMOKE": "1", "MPLBACKEND": "Agg",
               "LABUTILS_DATA": str(Path(work) / "data")}  # no sharing between parallel submissions
        if threads:
            env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
        client = NotebookClient(nb, kernel_name="python3", allow_errors=True, interrupt_on_timeout=True,
                                timeout=int(timeout), resources={"metadata": {"path": work}})
        deadline = start + timeout
        try:
            with client.setup_kernel(env=env):
                for index, cell in enumerate(nb.cells[:submitted]):
                    if cell.cell_type != "code":
                        continue
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        report.status, report.detail = "timeout", f"time limit of {timeout:.0f} s reached before cell {index}"
                        break
                    client.timeout = max(1, int(remaining))
                    try:
                        client.execute_cell(cell, index)
                    except CellTimeoutError:
                        interrupted = True
                    else:  # with interrupt_on_timeout, nbclient interrupts the cell instead of raising
                        interrupted = any(o.get("ename") == "KeyboardInterrupt" for o in cell.get("outputs", []))
                    if interrupted:
                        report.status, report.detail = "timeout", f"cell {index} ran past the {timeout:.0f} s limit and was interrupted"
                        break
                client.timeout = 300
                client.execute_cell(grader, submitted)
        except DeadKernelError as exc:
            report.status, report.detail = "crashed", f"the kernel died ({str(exc).splitlines()[0][:120]})"
        except Exception as exc:  # a kernel that never started, a broken client
            report.status, report.detail = "error", f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
    nb.cells.pop()  # the grader's cell is not the student's
    report.errors = _cell_errors(nb)
    verdicts = {}
    for out in grader.get("outputs", []):
        text = out.get("text", "") if out.get("output_type") == "stream" else ""
        for line in text.splitlines():
            if line.startswith(MARKER):
                verdicts = {v["task"]: v for v in json.loads(line[len(MARKER):])}
    for item in items:
        v = verdicts.get(item.task, {"ok": False, "message": "not graded: " + (report.detail or "the grader's checks did not run")})
        report.tasks.append({"task": item.task, "title": item.title, "points": item.points if v["ok"] else 0,
                             "max_points": item.points, "ok": v["ok"], "message": v["message"]})
    report.seconds = round(time.monotonic() - start, 1)
    return report


# ---------------------------------------------------------------------------------------------
# reports


def render(report: Report) -> str:
    """The per-student Markdown report."""
    lines = [f"# Grade report: {Path(report.submission).name}", ""]
    lines.append(f"- submission: `{report.submission}`")
    lines.append(f"- lab: {report.lab or 'unknown'}")
    lines.append(f"- status: **{report.status}**" + (f" — {report.detail}" if report.detail else ""))
    if report.lab:
        lines.append(f"- points: **{report.points} / {report.max_points}**")
    lines.append(f"- time: {report.seconds:.1f} s")
    if report.tasks:
        lines += ["", "| task | points | verdict |", "|---|---|---|"]
        for t in report.tasks:
            mark = "✅" if t["ok"] else "❌"
            message = t["message"].replace("|", "\\|").removeprefix("✅ ")
            lines.append(f"| {t['task']} {t['title']} | {t['points']} / {t['max_points']} | {mark} {message} |")
    if report.errors:
        lines += ["", "Execution errors (cell numbers count from 0):", ""]
        lines += [f"- cell {e['cell']}: {e['ename']}: {e['evalue']}" for e in report.errors]
    return "\n".join(lines) + "\n"


def _safe_name(path: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(path).stem) or "submission"
    parent = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(path).parent.name)
    name = base if base not in taken else f"{parent}__{base}"
    n = 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    taken.add(name)
    return name


def write_reports(reports: list[Report], out: Path) -> Path:
    """One Markdown report per submission and ``gradebook.csv``; returns the gradebook's path."""
    out.mkdir(parents=True, exist_ok=True)
    taken: set[str] = set()
    task_ids = sorted({t["task"] for r in reports for t in r.tasks}, key=lambda s: [int(p) for p in s.split(".")])
    gradebook = out / "gradebook.csv"
    with open(gradebook, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["submission", "report", "lab", "status", "points", "max_points", "errors", *task_ids])
        for r in reports:
            name = _safe_name(r.submission, taken)
            (out / f"{name}.md").write_text(render(r), encoding="utf-8")
            per_task = {t["task"]: t["points"] for t in r.tasks}
            writer.writerow([r.submission, f"{name}.md", r.lab or "", r.status, r.points if r.lab else "",
                             r.max_points if r.lab else "", len(r.errors), *[per_task.get(t, "") for t in task_ids]])
    return gradebook


def collect(paths: list[str]) -> list[str]:
    """Notebook files named directly, plus every ``*.ipynb`` inside named folders (sorted)."""
    found = []
    for p in map(Path, paths):
        if p.is_dir():
            found += sorted(str(q) for q in p.rglob("*.ipynb") if ".ipynb_checkpoints" not in q.parts)
        elif p.exists():
            found.append(str(p))
        else:
            raise FileNotFoundError(f"{p} does not exist")
    return found


def grade(paths: list[str], out: Path, *, timeout: float = 600.0, workers: int | None = None) -> list[Report]:
    """Grade submissions in parallel and write the reports (see the module docstring)."""
    files = collect(paths)
    if not files:
        raise FileNotFoundError(f"no notebooks found in {', '.join(paths)}")
    cores = max(1, os.cpu_count() or 1)
    workers = min(workers or cores, len(files))
    threads = max(1, cores // workers)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        reports = list(pool.map(grade_one, files, [timeout] * len(files), [threads] * len(files)))
    write_reports(reports, out)
    return reports


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labutils.grade", description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", help="notebooks or folders of notebooks")
    parser.add_argument("--out", type=Path, default=Path("grades"), help="folder for the reports (default: grades/)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds allowed per notebook (default 600)")
    parser.add_argument("--workers", type=int, default=None, help="parallel notebooks (default: CPU count)")
    args = parser.parse_args(argv)
    try:
        reports = grade(args.paths, args.out, timeout=args.timeout, workers=args.workers)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    width = max(len(r.submission) for r in reports)
    for r in reports:
        score = f"{r.points:>2} / {r.max_points:<2}" if r.lab else "  -    "
        print(f"{r.submission:<{width}}  {r.lab or '?':<26} {score}  {r.status:<11} {len(r.errors)} error(s)  {r.seconds:.0f} s")
    print(f"reports and gradebook.csv written to {args.out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
