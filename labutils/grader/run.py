"""The grading run: collect the submissions, read them all, grade them in parallel, write as they finish."""
from __future__ import annotations

import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import nbformat

from . import feedback, lms, records, sandbox, similarity
from .gradebook import new_name, write_gradebook, write_report
from .integrity import student_cells
from .kernel import Settings
from .report import Report
from .roster import Matching, compile_pattern, match, read_roster
from .summary import write_summary
from .term import build_term, write_term
from .worker import read_submission, run_isolated

SANDBOX_MODES = ("auto", "bwrap", "none")


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


def sandbox_setting(mode: str = "auto") -> tuple[bool, str]:
    """Whether to use the bubblewrap sandbox for ``mode`` (auto: when it works here), and why not.

    ``bwrap`` requires it and raises ``RuntimeError`` naming the reason when it cannot start.
    """
    if mode not in SANDBOX_MODES:
        raise ValueError(f"--sandbox {mode!r}: expected one of {', '.join(SANDBOX_MODES)}")
    if mode == "none":
        return False, "switched off (--sandbox none)"
    works, why = sandbox.bwrap_status()
    if mode == "bwrap" and not works:
        raise RuntimeError(f"--sandbox bwrap: {why}")
    return works, why


def _check_options(memory_gb: float, processes: int, sandbox_mode: str) -> None:
    if not memory_gb > 0:
        raise ValueError(f"--memory-gb {memory_gb}: expected a positive number of GiB")
    if processes < 1:
        raise ValueError(f"--max-processes {processes}: expected at least 1")
    if sandbox_mode not in SANDBOX_MODES:
        raise ValueError(f"--sandbox {sandbox_mode!r}: expected one of {', '.join(SANDBOX_MODES)}")


def grade(paths: list[str], out: Path, *, timeout: float = 600.0, workers: int | None = None,
          sandbox_mode: str = "auto", memory_gb: float = 6.0, processes: int = 256,
          run_one: Callable[..., Report] | None = None, roster: Path | None = None, pattern: str | None = None,
          feedback_lang: str = "ru", exports: tuple[str, ...] = ()) -> list[Report]:
    """Grade submissions in parallel and write the reports (see :mod:`labutils.grader`).

    Every submission is read into memory before any kernel starts. As each submission finishes, its
    report and its student feedback (``feedback/``, in ``feedback_lang``) are written, it is recorded in
    the persistent gradebook (``gradebook.sqlite``: a regrade replaces its row and keeps the history)
    and ``gradebook.csv`` is rewritten from the whole record, each atomically, so an interrupted run
    keeps what it graded. At the end, also when the run is interrupted, the class summary (with the
    similar-code pairs) is written from the whole record, and with a ``roster`` the term table
    (``term.csv``/``term.md``) and the LMS files of ``exports``. ``pattern`` maps file names to roster
    ids (default: a folder named by the id). Without the sandbox (``sandbox_mode``), one warning says
    so on stderr. ``run_one(path, text, settings, cancel)`` grades one submission (default
    :func:`labutils.grader.worker.run_isolated`; tests replace it).
    """
    _check_options(memory_gb, processes, sandbox_mode)
    feedback.check_language(feedback_lang)
    for fmt in exports:
        lms.check_format(fmt)
    if exports and roster is None:
        raise ValueError(f"--export {', '.join(exports)}: needs --roster (the LMS files list the roster's students)")
    students = read_roster(roster) if roster is not None else None
    compile_pattern(pattern)
    run_one = run_one or run_isolated
    files = collect(paths)
    if not files:
        raise FileNotFoundError(f"no notebooks found in {', '.join(paths)}")
    matching = match(files, students, pattern) if students is not None else Matching()
    texts = {f: read_submission(f) for f in files}  # before any kernel starts: a notebook cannot rewrite a classmate's
    out.mkdir(parents=True, exist_ok=True)
    names = records.assign_names(out, files, new_name)  # also refuses a gradebook of a newer grader, before kernels
    use_sandbox, why = sandbox_setting(sandbox_mode)
    if not use_sandbox:
        print(f"warning: submissions run WITHOUT a sandbox: {why}. A notebook can then read and write "
              "everything the grading user can (see docs/instructors/grading.md).", file=sys.stderr)
    cores = max(1, os.cpu_count() or 1)
    workers = min(workers or cores, len(files))
    hidden = sorted({str(Path(f).resolve().parent) for f in files} | {str(out.resolve())})
    settings = Settings(timeout=timeout, threads=max(1, cores // workers), sandbox=use_sandbox,
                        hidden=tuple(hidden), memory_gb=memory_gb, processes=processes)
    done: dict[str, Report] = {}
    cancel = threading.Event()

    def finished(f: str, report: Report) -> None:
        done[f] = report
        write_report(report, names, out)
        owner = matching.owner.get(f)
        feedback.write_feedback(report, names[f], out / "feedback" / owner if owner else out / "feedback",
                                feedback_lang)
        with records.locked(out):
            records.record(out, report, _code(texts[f], report.lab))
            write_gradebook(records.reports(out), records.names(out), out)

    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        futures = {}
        for f in files:
            if isinstance(texts[f], Report):
                finished(f, texts[f])
            else:
                futures[pool.submit(run_one, f, texts[f], settings, cancel)] = f
        for future in as_completed(futures):
            finished(futures[future], future.result())
    finally:
        cancel.set()  # on an interruption, running workers are killed within a second
        pool.shutdown(wait=True, cancel_futures=True)
        with records.locked(out):
            _write_class(out, students, pattern, exports, {r.lab for r in done.values() if r.lab})
    return [done[f] for f in files if f in done]


def _code(text, lab: str | None) -> list[tuple[int, str]]:
    """The student-written code cells of a submission's text (none when it is not a notebook or its lab
    is unknown), for the similarity scan."""
    if not isinstance(text, str) or not lab:
        return []
    try:
        return student_cells(nbformat.reads(text, as_version=4), lab)
    except Exception:  # an unreadable notebook has no code to compare
        return []


def _write_class(out: Path, students, pattern: str | None, exports: tuple[str, ...], graded_labs: set[str]) -> None:
    """From the whole record: ``gradebook.csv``, the class summary with the similar-code pairs (compared
    again for the labs this run graded), and with a roster the term table and the LMS files."""
    reports = records.reports(out)
    write_gradebook(reports, records.names(out), out)
    stored = records.load_pairs(out)
    code = records.code(out)
    for lab in sorted({r.lab for r in reports if r.lab and (r.lab in graded_labs or r.lab not in stored)}):
        mine = {r.submission: code.get(r.submission, []) for r in reports if r.lab == lab}
        records.save_pairs(out, lab, [asdict(p) for p in similarity.similar_pairs(lab, mine)])
    pairs = [similarity.Pair(**p) for lab, found in sorted(records.load_pairs(out).items()) for p in found]
    write_summary(reports, out, extra=similarity.summary_lines(pairs))
    if students is not None:
        term = build_term(reports, students, match([r.submission for r in reports], students, pattern))
        write_term(term, out)
        for fmt in exports:
            lms.export(term, fmt, out)
