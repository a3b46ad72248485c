"""Authoring: the student notebooks and the nbgrader course, built from ``solutions/`` (instructor tooling).

One module per step, each usable on its own; none imports the grader:

* :mod:`.regions` — the one scanner of ``### BEGIN SOLUTION`` / ``### END SOLUTION`` regions;
* :mod:`.build` — student notebooks from solutions, as a list of named steps; ``clean``;
* :mod:`.lint` — ``check``: stale or leaking student notebooks, wide lines, outputs, hints;
* :mod:`.hintlint` — the rules that find a hint giving its solution away;
* :mod:`.nbgrader` — the nbgrader course export (reads :mod:`labutils.course`);
* :mod:`.cli` — ``python -m labutils.assignments {build,check,clean,export-nbgrader}``.
"""
