"""The rehearsal's report: one JSON document and a table for the terminal (rehearsal).

The JSON holds the machine (CPU, cores, native bfloat16, load average at start and end), the
settings (scale, precision), the stand-ins' build time and size, and per lab: status, wall time,
seconds per phase, peak memory of the kernel's process tree, disk written, and every cell with
its time, phase and peak memory.
"""
from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import torch

from .. import fastpath
from ..messages import t
from .phases import PHASES


def load_average() -> float | None:
    """The 1-minute load average (other processes slow every timing), or None where unknown."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    """What the figures were measured on."""
    return {"cpu": _cpu_name(), "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "cpu_bf16_native": fastpath.cpu_bf16_supported(), "torch": torch.__version__,
            "python": platform.python_version(), "cuda": torch.cuda.is_available()}


def write_json(report: dict, path: Path) -> Path:
    """Write ``report`` as indented JSON (UTF-8) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
    return path


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(round(seconds % 60)):02d}"


def table(report: dict) -> str:
    """The per-lab summary as a plain-text table in the current language, then the slowest cells."""
    header = [t("rehearse.col_lab"), t("rehearse.col_status"), t("rehearse.col_wall"),
              *(t(f"rehearse.phase.{p}") for p in PHASES), t("rehearse.col_pss"), t("rehearse.col_disk")]
    rows = [header]
    for lab, rec in report["labs"].items():
        status = t("rehearse.ok") if rec["status"] == "ok" else t("rehearse.failed", cell=rec.get("failed_cell"))
        rows.append([lab, status, _minutes(rec["wall_s"]),
                     *(_minutes(rec["phases_s"][p]) for p in PHASES),
                     f"{rec['peak_pss_mib'] / 1024:.2f}", f"{rec['disk_written_mib']:.0f}"])
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(header))]
    lines = ["  ".join(str(cell).rjust(w) for cell, w in zip(row, widths)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    if "machine" in report:
        m = report["machine"]
        lines.insert(0, t("rehearse.machine", cpu=m["cpu"], cores=m["cores"], bf16=m["cpu_bf16_native"],
                          scale=report.get("scale"), precision=report.get("precision"),
                          load=f"{report.get('load_average_start')} → {report.get('load_average_end')}"))
    for lab, rec in report["labs"].items():
        slowest = sorted(rec["cells"], key=lambda c: -c["seconds"])[:3]
        lines.append(t("rehearse.slowest", lab=lab, cells="; ".join(
            f"[{c['index']}] {c['seconds']:.1f} s {c['first_line'][:40]}" for c in slowest)))
    return "\n".join(lines)
