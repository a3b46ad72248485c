"""Lab 2 self-checks: the instructor's functions pass, typical mistakes get their own verdict."""
import numpy as np
import pytest
import torch
from torchvision.models import resnet18

from labutils import checks


def _verdict(fn, *args, **kwargs):
    with pytest.raises(checks.CheckFailed) as info:
        fn(*args, **kwargs)
    return str(info.value)


def test_solution_passes_every_check(lab2, capsys):
    ns = lab2
    model = ns["replace_head"](resnet18(), num_classes=2)
    assert checks.check_head(model)
    assert checks.check_frozen_backbone(ns["freeze_backbone"](model))
    assert checks.check_train_loop(ns["train_one_epoch"])
    assert checks.check_eval_loop(ns["evaluate"])
    assert checks.check_finetune_optimizer(ns["make_finetune_optimizer"], model)
    assert checks.check_sensitivity_specificity(ns["sensitivity_specificity"])
    assert checks.check_class_weights(ns["class_weights"])
    out = capsys.readouterr().out
    assert out.count("✅") == 7 and "❌" not in out


def test_head_with_wrong_outputs(lab2):
    msg = _verdict(checks.check_head, lab2["replace_head"](resnet18(), 3))
    assert msg == "Задание 2.1 replace_head: ожидалось выходов у головы: 2, получено 3"


def test_freeze_that_leaves_backbone_trainable(lab2):
    msg = _verdict(checks.check_frozen_backbone, lab2["replace_head"](resnet18()))
    assert "ожидалось, что обучаются только fc" in msg and "conv1.weight" in msg


def _loop_without(step_to_drop):
    def train_one_epoch(model, loader, criterion, optimizer, device):
        if step_to_drop != "train":
            model.train()
        total, correct, seen = 0.0, 0, 0
        for x, y in loader:
            if step_to_drop != "zero_grad":
                optimizer.zero_grad()
            out = model(x)
            loss = criterion(out, y)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(x)
            correct += (out.argmax(1) == y).sum().item()
            seen += len(x)
        return total / seen, correct / seen
    return train_one_epoch


def test_loop_that_forgets_zero_grad():
    assert "градиенты накапливаются между батчами" in _verdict(checks.check_train_loop, _loop_without("zero_grad"))


def test_loop_that_forgets_train_mode():
    assert "сначала вызовите model.train()" in _verdict(checks.check_train_loop, _loop_without("train"))


def test_evaluation_left_in_train_mode(lab2):
    def evaluate(model, loader, criterion, device):
        was = model.eval
        model.eval = lambda: model  # the student forgot model.eval()
        try:
            return lab2["evaluate"](model, loader, criterion, device)
        finally:
            model.eval = was

    assert "при оценке ожидался режим eval" in _verdict(checks.check_eval_loop, evaluate)


def test_evaluation_with_gradients(lab2):
    def evaluate(model, loader, criterion, device):
        with torch.enable_grad():
            model.eval()
            x, y = loader.dataset.tensors
            out = model(x)
            return (criterion(out, y).item(), (out.argmax(1) == y).float().mean().item(), y.numpy(),
                    torch.softmax(out, 1)[:, 1].detach().numpy())

    assert "torch.no_grad()" in _verdict(checks.check_eval_loop, evaluate)


def test_single_learning_rate_is_reported(lab2):
    def one_group(model, head_lr, backbone_lr):
        lab2["make_finetune_optimizer"](model, head_lr, backbone_lr)
        return torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=head_lr)

    model = lab2["freeze_backbone"](lab2["replace_head"](resnet18()))
    msg = _verdict(checks.check_finetune_optimizer, one_group, model)
    assert msg.startswith("Задание 2.5 оптимизатор дообучения: ожидались 2 группы параметров")


def test_swapped_sensitivity_and_specificity(lab2):
    swapped = lambda y, p: lab2["sensitivity_specificity"](y, p)[::-1]  # noqa: E731
    assert "положительный класс 1 (болен)" in _verdict(checks.check_sensitivity_specificity, swapped)


def test_inverted_class_weights(lab2):
    inverted = lambda t, k: 1 / lab2["class_weights"](t, k)  # noqa: E731
    assert "ожидалось [2.0, 0.6667]" in _verdict(checks.check_class_weights, inverted)


def test_sensitivity_matches_labutils_metrics(lab2):
    from labutils.metrics import binary_metrics

    rng = np.random.default_rng(3)
    y, s = rng.integers(0, 2, 200), rng.random(200)
    sens, spec = lab2["sensitivity_specificity"](y, (s >= 0.5).astype(int))
    m = binary_metrics(y, s, 0.5)
    assert sens == pytest.approx(m["sensitivity"]) and spec == pytest.approx(m["specificity"])
