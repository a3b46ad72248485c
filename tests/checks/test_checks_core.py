"""What a student sees when a check runs unfinished or broken code: one Russian line for an unfilled
TODO, and for any other error the student's own traceback, without labutils' frames."""
import re
from pathlib import Path

import nbformat
import pytest
import torch
from torch import nn

import labutils
from labutils import checks

from conftest import ROOT

PACKAGE = str(Path(labutils.__file__).resolve().parent)


class UnfinishedBlock(nn.Module):
    expansion = 1

    def __init__(self, *args, **kwargs):
        super().__init__()
        raise NotImplementedError("Задание 1.1: впишите решение")


def test_unfilled_todo_is_one_russian_line():
    with pytest.raises(checks.CheckFailed) as info:
        checks.check_residual_block(UnfinishedBlock)
    text = str(info.value)
    assert text == ("Задание 1.1 ResidualBlock: ещё не выполнено — замените raise NotImplementedError своим кодом "
                    "в ячейке с UnfinishedBlock.__init__")
    assert info.value._render_traceback_() == ["❌ " + text]


def test_unfilled_todo_of_an_older_notebook_and_in_english(monkeypatch):
    def train_one_epoch(model, loader, criterion, optimizer, device):
        raise NotImplementedError("Task 3.3 (train mode) — switch the model to training mode")

    with pytest.raises(checks.CheckFailed) as info:
        checks.check_train_loop(train_one_epoch, task="Task 3.3 training loop")
    assert str(info.value).startswith("Задание 3.3 цикл обучения: ещё не выполнено")
    monkeypatch.setenv("LABUTILS_LANG", "en")
    with pytest.raises(checks.CheckFailed) as info:
        checks.check_train_loop(train_one_epoch, task="Task 3.3 training loop")
    assert str(info.value) == ("Task 3.3 training loop: not done yet — replace raise NotImplementedError with your code "
                               "in the cell with test_unfilled_todo_of_an_older_notebook_and_in_english.<locals>."
                               "train_one_epoch")


def test_todo_of_another_task_names_that_task():
    class ResNet(nn.Module):  # the student's ResNet whose _make_layer (Task 1.3) is still a TODO
        def __init__(self):
            super().__init__()
            self.layer1 = self._make_layer()

        def _make_layer(self):
            raise NotImplementedError("Задание 1.3: впишите решение")

    def ResNet18():  # Task 1.4 itself is done
        return ResNet()

    with pytest.raises(checks.CheckFailed) as info:
        checks.check_factories({"ResNet18": ResNet18})
    assert str(info.value) == ("Задание 1.4 ResNet18/34/50 и ResNeXt50_32x4d: сначала выполните задание 1.3 — "
                               "в test_todo_of_another_task_names_that_task.<locals>.ResNet._make_layer ещё стоит "
                               "raise NotImplementedError")
    assert len(info.value._render_traceback_()) == 1


def _student_sens_spec(y_true, y_pred):
    tp = ((y_pred == 1) & (y_true == 1)).sum()
    return tp / y_true[:3].reshape(2, 2)  # the student's slip: a reshape that cannot work


def test_student_error_keeps_type_and_message_and_hides_library_frames():
    with pytest.raises(ValueError) as info:
        checks.check_sensitivity_specificity(_student_sens_spec)
    assert type(info.value) is ValueError and "cannot reshape array of size 3" in str(info.value)
    lines = info.value._render_traceback_()
    text = "\n".join(lines)
    assert PACKAGE not in text and "check_sensitivity_specificity(y_true" not in text
    assert f'File "{__file__}"' in text and "_student_sens_spec" in text and "reshape(2, 2)" in text
    assert lines[-1].startswith("ValueError: cannot reshape array of size 3")


def test_library_not_implemented_error_is_not_a_todo():
    def extract_embedding(model, x):
        return nn.Module()(x)  # torch raises NotImplementedError: the module has no forward

    from torchvision.models import resnet18

    with pytest.raises(NotImplementedError, match="forward") as info:
        checks.check_embedding(extract_embedding, resnet18(num_classes=2))
    assert not isinstance(info.value, checks.CheckFailed)
    assert PACKAGE not in "\n".join(info.value._render_traceback_())


def test_traceback_is_kept_whole_when_every_frame_is_inside_labutils():
    from labutils.checks.core import student_traceback
    from labutils.data import normalize

    with pytest.raises(ValueError) as info:
        normalize(torch.rand(1, 8, 8))
    error = info.value.with_traceback(info.value.__traceback__.tb_next)  # drop this test's frame: only labutils' remain
    text = "\n".join(student_traceback(error))
    assert str(Path(PACKAGE) / "data.py") in text and __file__ not in text


def test_in_jupyter_the_todo_is_one_line_and_a_student_error_points_at_the_student(tmp_path):
    """End to end in a real kernel: what the notebook shows (and what nbval sees as an error)."""
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(src) for src in (
        "from labutils import checks\nfrom torch import nn",
        "class ResidualBlock(nn.Module):\n    expansion = 1\n\n    def __init__(self, *args, **kwargs):\n"
        "        super().__init__()\n        raise NotImplementedError('Задание 1.1: впишите решение')",
        "checks.check_residual_block(ResidualBlock)",
        "import numpy as np\n\ndef sensitivity_specificity(y_true, y_pred):\n"
        "    return np.zeros(3).reshape(2, 2)",
        "checks.check_sensitivity_specificity(sensitivity_specificity)",
    )]
    NotebookClient(nb, kernel_name="python3", allow_errors=True, timeout=120,
                   resources={"metadata": {"path": str(ROOT)}}).execute()
    todo = [o for o in nb.cells[2].outputs if o.output_type == "error"]
    assert len(todo) == 1 and todo[0].ename == "CheckFailed"
    assert todo[0].traceback == ["❌ Задание 1.1 ResidualBlock: ещё не выполнено — замените raise "
                                 "NotImplementedError своим кодом в ячейке с ResidualBlock.__init__"]
    error = [o for o in nb.cells[4].outputs if o.output_type == "error"]
    assert len(error) == 1 and error[0].ename == "ValueError"
    assert error[0].evalue == "cannot reshape array of size 3 into shape (2,2)"
    shown = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(error[0].traceback))  # without IPython's colours
    assert "labutils" not in shown and "interactiveshell" not in shown
    assert "reshape(2, 2)" in shown and "check_sensitivity_specificity(sensitivity_specificity)" in shown


def test_every_checks_module_is_reloaded_after_those_it_imports():
    """``checks.MODULES`` (the grader's probe cell reloads them in this order) lists every module of the
    package once, each after the modules of the package it imports; each is under 400 lines."""
    import ast
    from pathlib import Path

    from labutils import checks

    folder = Path(checks.__file__).parent
    files = {p.stem for p in folder.glob("*.py")} - {"__init__"}
    assert sorted(checks.MODULES) == sorted(files) and len(set(checks.MODULES)) == len(checks.MODULES)
    for position, name in enumerate(checks.MODULES):
        source = (folder / f"{name}.py").read_text(encoding="utf-8")
        assert len(source.splitlines()) < 400, name
        imported = {node.module.split(".")[0] for node in ast.walk(ast.parse(source))
                    if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module}
        assert imported <= set(checks.MODULES[:position]), (name, imported - set(checks.MODULES[:position]))
