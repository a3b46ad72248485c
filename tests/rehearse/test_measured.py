"""The full-mode figures docs/students.md shows are the committed reports of full rehearsals (issue 25).

``docs/measurements/rehearsal/full-<precision>-lab<NN>.json`` is the ``report.json`` of
``python -m labutils.rehearse --scale full --lab NN --precision <precision>`` on the reference
machine (each cell's phase by the rule of ``labutils/rehearse/phases.py``). Every lab must have run
to its last cell both ways within 30 min and 8 GiB, and the table must show those figures.
"""
import json
import re

import pytest

from labutils import course

MEASURED = course.ROOT / "docs" / "measurements" / "rehearsal"
STUDENTS = course.ROOT / "docs" / "students.md"
PRECISIONS = ("auto", "fp32")
LIMIT_S, LIMIT_MIB = 30 * 60, 8 * 1024
LABS = [one.id for one in course.LABS]


def report(lab: str, precision: str) -> dict:
    return json.loads((MEASURED / f"full-{precision}-lab{lab}.json").read_text(encoding="utf-8"))


def wall(seconds: float) -> str:
    """How the table writes a wall time: ``15 min 53 s``."""
    seconds = round(seconds)
    return f"{seconds // 60} min {seconds % 60:02d} s"


def memory(mib: float) -> str:
    return f"{mib / 1024:.1f} GiB"


def table_row(lab: str) -> str:
    section = STUDENTS.read_text(encoding="utf-8").split("## What each lab needs", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if re.match(rf"\|\s*{int(lab)}\s*\|", line)]
    assert len(rows) == 1, f"docs/students.md: one row for lab {lab} in 'What each lab needs', found {len(rows)}"
    return rows[0]


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("lab", LABS)
def test_the_full_rehearsal_ran_to_the_end_and_fits(lab, precision):
    rep = report(lab, precision)
    record = rep["labs"][lab]
    assert rep["scale"] == "full" and rep["precision"] == precision
    assert record["status"] == "ok" and record["cells_run"] == record["code_cells"]
    assert rep["machine"]["cores"] == 2 and not rep["machine"]["cuda"]
    # fp32 means "as on a CPU without native bfloat16": only meaningful where the fast path had it to turn off
    assert rep["machine"]["cpu_bf16_native"]
    assert record["wall_s"] <= LIMIT_S, f"lab {lab} ({precision}): {wall(record['wall_s'])} > 30 min"
    assert record["peak_pss_mib"] <= LIMIT_MIB, f"lab {lab} ({precision}): {memory(record['peak_pss_mib'])} > 8 GiB"
    assert abs(sum(record["phases_s"].values()) - sum(c["seconds"] for c in record["cells"])) < 1


@pytest.mark.parametrize("lab", LABS)
def test_the_students_table_shows_the_measured_figures(lab):
    row = table_row(lab)
    for precision in PRECISIONS:
        record = report(lab, precision)["labs"][lab]
        assert wall(record["wall_s"]) in row, f"lab {lab} ({precision}): {wall(record['wall_s'])} not in {row}"
        assert memory(record["peak_pss_mib"]) in row, f"lab {lab} ({precision}): {memory(record['peak_pss_mib'])}"


def test_the_format_is_the_tables():
    assert wall(953.2) == "15 min 53 s" and wall(40.4) == "0 min 40 s" and memory(8529.0) == "8.3 GiB"
