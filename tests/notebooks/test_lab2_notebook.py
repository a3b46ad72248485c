"""Promises Lab 2's text makes about itself: the task table, the hints, mixed precision only on the
forward pass, no fixed tolerances, uniform colour maps, and the content check of the split."""
from __future__ import annotations

import ast
import re

import nbformat
import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from labutils.fastpath import fast_path
from labutils.grade import LABS

from conftest import SOLUTIONS

LAB = "02_chest_xray_finetuning"


@pytest.fixture(scope="module")
def cells():
    return nbformat.read(str(SOLUTIONS / f"{LAB}.ipynb"), as_version=4).cells


def _code(cells) -> str:
    return "\n".join(c.source for c in cells if c.cell_type == "code")


def _defs(cell_source: str, **namespace) -> dict:
    """The functions a notebook cell defines, without running the rest of the cell."""
    tree = ast.parse(cell_source)
    tree.body = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    exec(compile(tree, "cell", "exec"), namespace)
    return namespace


def test_task_table_matches_the_grader(cells):
    rows = re.findall(r"^\| (\d\.\d) \| .* \| (\d+) \|$", cells[0].source, flags=re.M)
    assert rows == [(item.task, str(item.points)) for item in LABS[LAB]]
    total = re.search(r"\*\*всего\*\* \| \*\*(\d+)\*\*", cells[0].source)
    assert total and int(total.group(1)) == sum(item.points for item in LABS[LAB])


@pytest.mark.parametrize("task", [item.task for item in LABS[LAB]])
def test_every_task_statement_has_a_details_hint(cells, task):
    statements = [c.source for c in cells if c.cell_type == "markdown" and f"**Задание {task}" in c.source]
    assert statements, f"no statement of task {task}"
    assert any("<details>" in s and "</details>" in s for s in statements), task


def test_grad_cam_statement_asks_for_a_detached_map_and_a_grad_input(cells):
    statement = next(c.source for c in cells if "**Задание 2.8" in c.source)
    assert "detach()" in statement and "requires_grad_(True)" in statement


def test_student_loop_is_handed_the_autocast_wrapper_not_wrapped_in_autocast(cells):
    code = _code(cells)
    assert "fast_path(device, scaler=False)" in code
    assert "fast.autocast()" not in code  # the student's loop (backward, step) never inside autocast
    assert "fast.autocast_forward(ft_trainer)" in code
    calls = re.findall(r"(?<!def )train_one_epoch\((\w+),", code)
    assert calls and set(calls) <= {"head", "ft_step", "timing_step"}, calls


def test_the_lab_loop_runs_backward_and_step_outside_autocast(lab2):
    """What the notebook's table promises: forward under autocast, loss/backward/step in float32."""
    seen = {}

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 2)

        def forward(self, x):
            seen["forward"] = torch.is_autocast_enabled("cpu")
            return self.fc(x)

    def criterion(outputs, labels):
        seen["loss"] = (torch.is_autocast_enabled("cpu"), outputs.dtype)
        return nn.functional.cross_entropy(outputs, labels)

    class Recording(torch.optim.SGD):
        def step(self, closure=None):
            seen["step"] = torch.is_autocast_enabled("cpu")
            return super().step(closure)

    net = Net()
    fast = fast_path("cpu", amp=True, scaler=False)  # forced on: bfloat16 autocast on any CPU
    wrapped = fast.autocast_forward(net)
    loader = DataLoader(TensorDataset(torch.randn(8, 4), torch.tensor([0, 1] * 4)), batch_size=4)
    lab2["train_one_epoch"](wrapped, loader, criterion, Recording(net.parameters(), lr=0.1), "cpu")
    assert seen == {"forward": True, "loss": (False, torch.float32), "step": False}


def test_no_fixed_tolerance_decides_a_comparison(cells):
    code = _code(cells)
    assert not re.search(r"\bTOL\b", code)
    assert "bootstrap_difference(" in code and "groups=val_patients" in code


def test_overlays_use_uniform_colour_maps(cells):
    code = _code(cells)
    assert not re.search(r"""["'](jet|rainbow|RdYlGn|hsv)["']""", code)
    assert 'CAM_CMAP = "inferno"' in code and code.count("colorbar(") >= 2


def test_one_channel_section_is_an_appendix_after_the_summary(cells):
    heads = [c.source.splitlines()[0] for c in cells if c.cell_type == "markdown" and c.source]
    summary = heads.index("## Итоги")
    appendix = next(i for i, h in enumerate(heads) if h.startswith("## Приложение А"))
    assert appendix > summary
    assert not any(h.startswith("### 1.4") for h in heads)


def _split_helpers(cells):
    source = next(c.source for c in cells if "def merge_identical" in c.source)
    import hashlib

    return _defs(source, hashlib=hashlib)


def test_identical_files_merge_their_patients(cells):
    merge = _split_helpers(cells)["merge_identical"]
    groups = ["A", "A", "B", "C", "D", "E"]
    digests = ["x", "y", "x", "z", "y", "w"]  # A-B share x, A-D share y: one group A, B, D
    merged = merge(groups, digests)
    assert merged[0] == merged[1] == merged[2] == merged[4]
    assert len({merged[0], merged[3], merged[5]}) == 3


def test_a_copy_never_lands_on_both_sides_of_the_split(cells, tmp_path):
    from labutils.imagefolder import grouped_split

    helpers = _split_helpers(cells)
    samples, groups = [], []
    for i in range(40):  # 40 patients, one file each; patient 2k+1's file is a copy of 2k's
        path = tmp_path / f"p{i}.bin"
        path.write_bytes(bytes([i // 2]) * 16)
        samples.append((str(path), i % 2))
        groups.append(f"p{i}")
    digests = [helpers["content_digest"](p) for p, _ in samples]
    assert digests[0] == digests[1] and digests[0] != digests[2]
    merged = helpers["merge_identical"](groups, digests)
    train, val = grouped_split(samples, merged, val_fraction=0.2, seed=0)
    digest_of = dict(zip((p for p, _ in samples), digests))
    assert not {digest_of[p] for p, _ in train} & {digest_of[p] for p, _ in val}
    # without merging, the same split would separate some copies
    train, val = grouped_split(samples, groups, val_fraction=0.2, seed=0)
    assert {digest_of[p] for p, _ in train} & {digest_of[p] for p, _ in val}
