"""Run one solution notebook end to end in full mode through nbclient, cell by cell, timed (rehearsal).

The notebook is read from ``solutions/`` and executed as it is, in a fresh Jupyter kernel whose
working folder is ``solutions/`` (as nbval runs it) and whose environment says full mode
(``LABUTILS_SMOKE=0``) with the rehearsal's data and cache folders. Before its first cell the
kernel runs the setup code of :mod:`labutils.rehearse.kernel`; the notebook's cells follow
unchanged. Each cell's wall time, phase (:mod:`labutils.rehearse.phases`) and peak memory of the
kernel's process tree (:mod:`labutils.rehearse.monitor`) are recorded; the executed copy, with its
outputs, is written beside the report.
"""
from __future__ import annotations

import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from ..messages import t
from .monitor import PeakSampler, now
from .phases import phase_of, totals

MIB = 1 << 20
CLEARED = ("LABUTILS_CHEST_XRAY", "LABUTILS_FAST", "LABUTILS_DEVICE", "LABUTILS_GRADE_RUN")


def kernel_env(data: Path, cache: Path) -> dict[str, str]:
    """The kernel's environment: this one in full mode, with the rehearsal's folders and nothing of the
    user's own data locations or speed switches (``--precision`` decides the precision)."""
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    env.update(LABUTILS_SMOKE="0", LABUTILS_DATA=str(data), LABUTILS_CACHE=str(cache),
               TORCH_HOME=str(cache / "torch"), MPLBACKEND="Agg", PYTHONUNBUFFERED="1")
    return env


def _text(cell) -> str:
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            parts.append(output.get("text", ""))
    return "".join(parts)


def _kernel_pid(client: NotebookClient) -> int:
    provisioner = getattr(client.km, "provisioner", None)
    pid = getattr(provisioner, "pid", None)
    if pid is None:
        pid = client.km.provisioner.process.pid
    return int(pid)


def run_notebook(path: Path, setup: str, env: dict[str, str], executed: Path | None = None,
                 cell_timeout: int = 3600, progress: bool = True) -> dict:
    """Execute ``path`` after ``setup``; return its record (status, times, phases, memory, cells).

    ``progress`` prints one line per finished cell (its index in the notebook, seconds, phase)."""
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(setup))  # in memory only: the file is not touched
    client = NotebookClient(nb, timeout=cell_timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    record = {"notebook": path.name, "status": "ok", "error": None, "cells": []}
    start = now()
    with client.setup_kernel(env=env):
        with PeakSampler(_kernel_pid(client)) as sampler:
            record["kernel_start_s"] = round(now() - start, 2)
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                began = now()
                try:
                    client.execute_cell(cell, index)
                    failed = None
                except CellExecutionError as exc:
                    failed = exc
                seconds = now() - began
                pss, rss = sampler.window()
                if index == 0:
                    record["setup_s"] = round(seconds, 2)
                    record["setup_output"] = _text(cell)
                else:
                    record["cells"].append({"index": index - 1, "phase": phase_of(cell.source),
                                            "seconds": round(seconds, 3), "peak_pss_mib": round(pss / MIB, 1),
                                            "peak_rss_mib": round(rss / MIB, 1),
                                            "first_line": (cell.source.strip().splitlines() or [""])[0][:80]})
                if index and progress:
                    last = record["cells"][-1]
                    print(f"  [{last['index']}] {last['seconds']:8.1f} s  {last['phase']:<11} "
                          f"{last['first_line'][:60]}", flush=True)
                if failed is not None:
                    record.update(status="failed", failed_cell=index - 1, error=str(failed)[-3000:])
                    break
            record["wall_s"] = round(now() - start, 2)
            record["peak_pss_mib"] = round(sampler.peak[0] / MIB, 1)
            record["peak_rss_mib"] = round(sampler.peak[1] / MIB, 1)
    record["phases_s"] = {k: round(v, 2) for k, v in totals(record["cells"]).items()}
    record["bypassed"] = sum(_text(c).count(t("rehearse.bypass_marker")) for c in nb.cells if c.cell_type == "code")
    code_cells = sum(1 for c in nb.cells[1:] if c.cell_type == "code")
    record["cells_run"], record["code_cells"] = len(record["cells"]), code_cells
    if executed is not None:
        nb.cells.pop(0)
        executed.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, executed)
    return record
