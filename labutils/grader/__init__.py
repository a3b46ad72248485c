"""The autograder: ``python -m labutils.grade PATH... [--out grades]`` (instructor tooling).

For each submission (a notebook, or every notebook in a folder) the grader

1. detects the lab (:mod:`.detect`: metadata written by ``labutils.assignments build``, else the file
   name, else the ``Задание N.M`` (or older ``Task N.M``) hints in its code), and reads the
   student-written code without running it (:mod:`.integrity`: a library copy of a ``from_scratch``
   task of :mod:`labutils.course` scores 0, tampering is flagged for review);
2. executes it in smoke mode in a fresh kernel (:mod:`.kernel`), started by a worker process of its
   own (:mod:`.worker`), in a throwaway working folder (also its data folder and ``TMPDIR``) removed
   afterwards; on Linux with bubblewrap the kernel runs in a sandbox (:mod:`.sandbox`), with memory
   and process limits; at the time limit the cell is interrupted, and a cell that ignores the
   interrupt for ``GRACE`` seconds has its kernel killed; errors do not stop execution, and each is
   recorded with its cell;
3. then runs one cell of its own (:mod:`.probe`): each task's probe (:mod:`labutils.checks.protocol`)
   calls what the notebook defined on inputs drawn from a seed only the grader knows, and saves plain
   data; the grader loads it with ``torch.load(weights_only=True)`` and judges it (:mod:`.judge`),
   against references it builds itself, so nothing the notebook does to its own interpreter decides a
   verdict. Each task is judged with reference implementations of everything else, so one mistake
   costs one task;
4. writes ``<out>/<submission>.md`` (:mod:`.report`) and the student's feedback page
   (:mod:`.feedback`), records it in the persistent ``<out>/gradebook.sqlite`` (:mod:`.records`: a
   regrade replaces its row and keeps the history) and rewrites ``<out>/gradebook.csv`` from the whole
   record (:mod:`.gradebook`, atomically) as each submission finishes; at the end the class summary
   ``summary.md``/``.csv``/``.png`` (:mod:`.summary`, with similar code between submissions from
   :mod:`.similarity`) and, with a roster (:mod:`.roster`), the term table (:mod:`.term`) and the LMS
   files (:mod:`.lms`).

Every submission is read into memory before any kernel starts. A hanging, crashing, malformed or
unrecognised notebook, a forged results file, or a notebook that kills its worker is reported as
such and never stops the others. When a submission ends, every process it started is killed: every
process below its worker (a child subreaper, so children that ``setsid`` or drop their environment
stay under it) and any carrying ``LABUTILS_GRADE_RUN=<id>``; rlimits set by :mod:`.limits` bound each
kernel process as well. Submissions run in
parallel, one process per CPU core (:mod:`.run`); :mod:`.cli` is the command line. The points and
titles come from :mod:`labutils.course` (:mod:`.rubric`). docs/instructors/grading.md says what is
and is not enforced.
"""
from .cli import main
from .detect import detect_lab
from .gradebook import write_reports
from .kernel import GRACE, GRADER_TIMEOUT, Settings
from .report import Report, render
from .rubric import LABS, Item
from .run import SANDBOX_MODES, collect, grade, sandbox_setting
from .sandbox import RUN_VAR, kill_run
from .summary import STATUSES, summarize, write_summary
from .worker import grade_one

__all__ = ["GRACE", "GRADER_TIMEOUT", "LABS", "RUN_VAR", "SANDBOX_MODES", "STATUSES", "Item", "Report", "Settings",
           "collect", "detect_lab", "grade", "grade_one", "kill_run", "main", "render", "sandbox_setting",
           "summarize", "write_reports", "write_summary"]
