"""CI's dress rehearsal: every lab's solution notebook end to end in full mode on tiny stand-ins (labutils.rehearse).

``python -m labutils.rehearse --scale tiny --lab NN`` runs each notebook unchanged with
``LABUTILS_SMOKE=0`` (the suite's own smoke setting must not leak into its kernel): the real
archives' structure, extraction, weight loading through the registry, every full-mode branch. A
real-mode line that breaks fails here. Minutes per lab; see docs/performance.md#dress-rehearsal.
"""
import json
import os
import re
import subprocess
import sys

import nbformat
import pytest

from labutils import course
from labutils.messages import t
from labutils.rehearse.phases import PHASES


def _mode_full_start() -> str:
    return re.split(r"\{", t("runtime.mode_full", var="LABUTILS_SMOKE"))[0][:40]


@pytest.mark.parametrize("lab", [one.id for one in course.LABS])
def test_tiny_rehearsal_runs_every_full_mode_line(lab, tmp_path):
    out = tmp_path / "rehearsal"
    env = {**os.environ, "LABUTILS_SMOKE": "1"}  # as under the suite: the rehearsal's kernel must still be full mode
    done = subprocess.run([sys.executable, "-m", "labutils.rehearse", "--scale", "tiny", "--lab", lab,
                           "--out", str(out), "--workers", "1"],
                          env=env, capture_output=True, text=True, timeout=3000)
    assert done.returncode == 0, (done.stdout + done.stderr)[-6000:]
    result = json.loads((out / "report.json").read_text(encoding="utf-8"))
    record = result["labs"][lab]
    assert record["status"] == "ok" and record["cells_run"] == record["code_cells"] > 5
    assert set(record["phases_s"]) == set(PHASES) and record["wall_s"] > 0
    assert abs(sum(record["phases_s"].values()) - sum(c["seconds"] for c in record["cells"])) < 1
    assert t("rehearse.banner", files=len(json.loads((out / "standins.json").read_text())["manifest"]),
             fp32=False, tiny=True) in record["setup_output"]
    assert record["bypassed"] >= 1  # the random weights went through the bypass, loudly
    executed = nbformat.read(out / "executed" / f"{lab}.ipynb", as_version=4)
    source = nbformat.read(course.ROOT / "solutions" / f"{course.lab(lab).stem}.ipynb", as_version=4)
    assert [c.source for c in executed.cells] == [c.source for c in source.cells]  # run unchanged
    printed = "".join(o.get("text", "") for c in executed.cells if c.cell_type == "code" for o in c.outputs)
    assert _mode_full_start() in printed
    assert "[РЕЖИМ SMOKE]" not in printed and "[SMOKE MODE]" not in printed
    if os.path.isdir("/proc"):
        assert record["peak_pss_mib"] > 100
