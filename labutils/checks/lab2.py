"""Lab 2 self-checks: the new head, freezing, the training and evaluation loops, medical metrics.

The loop checks run the student's function on a tiny model and dataset built here, so they can
see inside it: whether ``forward`` ran in train or eval mode, whether gradients were enabled, and
whether each optimizer step used the gradient of its own batch only (a loop that forgets
``zero_grad`` accumulates gradients across batches, and the check names that).
"""
from __future__ import annotations

from ..messages import t
from .core import Verdict, fail, passed, student_check


def _is_task_function(obj) -> bool:
    """True for the student's function (e.g. ``replace_head``) rather than a model it built."""
    from torch import nn

    return callable(obj) and not isinstance(obj, nn.Module)


def _returned_model(task: str, function, model, *args):
    """Call the student's ``function(model, *args)``; it must return the model it changed."""
    result = function(model, *args)
    if result is None:
        fail(task, t("lab2.returns_none", name=getattr(function, "__name__", "function")))
    return result


@student_check
def check_head(model, num_classes: int = 2, in_features: int = 512,
               task: str = "Task 2.1 replace_head") -> Verdict:
    """Lab 2 (and 3, 4): ``model.fc`` is a fresh ``Linear(in_features, num_classes)``.

    ``model`` may also be the student's ``replace_head(model, num_classes)`` itself (Lab 2): the
    check then applies it to a fresh ResNet-50 and a fresh ResNet-18 (random weights), so the
    number of inputs must be read from the model, and an unfinished TODO is reported in one line.
    """
    from torch import nn
    from torchvision.models import resnet18, resnet50

    if _is_task_function(model):
        replace_head = model
        for build, width in ((resnet50, 2048), (resnet18, 512)):   # ends with the ResNet-18 one
            model = _returned_model(task, replace_head, build(weights=None), num_classes)
            fc = getattr(model, "fc", None)
            if isinstance(fc, nn.Linear) and fc.in_features != width:
                fail(task, t("lab2.head_inputs", want=width, got=fc.in_features))
        in_features = 512
    fc = getattr(model, "fc", None)
    if not isinstance(fc, nn.Linear):
        fail(task, t("lab2.head_type", got=type(fc).__name__))
    if fc.out_features != num_classes:
        fail(task, t("lab2.head_outputs", want=num_classes, got=fc.out_features))
    if fc.in_features != in_features:
        fail(task, t("lab2.head_inputs", want=in_features, got=fc.in_features))
    return passed(task, f"model.fc = Linear({fc.in_features}, {fc.out_features})")


def _require_trainable(model, prefixes: tuple[str, ...], task: str) -> None:
    """Fail unless exactly the parameters named with one of ``prefixes`` have requires_grad=True."""
    names = ", ".join(p.rstrip(".") for p in prefixes)
    wrong = [n for n, p in model.named_parameters() if p.requires_grad and not n.startswith(prefixes)]
    frozen = [n for n, p in model.named_parameters() if n.startswith(prefixes) and not p.requires_grad]
    if wrong:
        fail(task, t("lab2.only_these_train", names=names, count=len(wrong), first=wrong[0]))
    if frozen:
        fail(task, t("lab2.frozen_wrong", names=names, first=frozen[0]))


@student_check
def check_trainable(model, prefixes: tuple[str, ...], task: str) -> Verdict:
    """Exactly the parameters whose names start with one of ``prefixes`` are trainable (Labs 2, 4)."""
    from ..models import count_parameters

    _require_trainable(model, prefixes, task)
    trainable = count_parameters(model, trainable_only=True)
    return passed(task, t("lab2.trainable_ok", trainable=trainable, total=count_parameters(model),
                          names=", ".join(p.rstrip(".") for p in prefixes)))


@student_check
def check_frozen_backbone(model, task: str = "Task 2.2 freeze_backbone") -> Verdict:
    """Lab 2: only the head ``fc`` trains.

    ``model`` may also be the student's ``freeze_backbone(model)`` itself: the check then applies
    it to a fresh ResNet-18 with a 2-class head (random weights).
    """
    if _is_task_function(model):
        from torch import nn
        from torchvision.models import resnet18

        fresh = resnet18(weights=None)
        fresh.fc = nn.Linear(512, 2)
        model = _returned_model(task, model, fresh)
    return check_trainable(model, ("fc.",), task)


# ---------------------------------------------------------------------------------------------
# loops


class _ModeProbe:
    """Records, at every forward call, whether the module was in train mode and grads were on."""

    def __init__(self, module):
        import torch

        self.calls: list[tuple[bool, bool]] = []
        module.register_forward_pre_hook(lambda m, inp: self.calls.append((m.training, torch.is_grad_enabled())))


def _toy_problem(seed: int = 0, n: int = 48, batch: int = 8):
    """A learnable 2-class problem with a small MLP; rows are unique, so a batch can be found again."""
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    gen = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=gen)
    x = torch.randn(n, 4, generator=gen) + y[:, None].float() * 1.5
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
    loader = DataLoader(TensorDataset(x, y), batch_size=batch, shuffle=False)
    return model, loader, x, y


class _StepAudit:
    """Wraps ``optimizer.step`` to compare each step's gradients with the current batch's own gradient."""

    def __init__(self, model, optimizer, criterion, x_all, y_all):
        import torch

        self.steps = 0
        self.accumulated = False
        self._last_input = None
        model.register_forward_pre_hook(lambda m, inp: setattr(self, "_last_input", inp[0].detach()))
        step = optimizer.step

        def audited_step(*args, **kwargs):
            self.steps += 1
            xb = self._last_input
            idx = (xb[:, None, :] == x_all[None]).all(-1).float().argmax(1)
            params = [p for p in model.parameters() if p.requires_grad]
            with torch.enable_grad():  # this batch's gradient, computed without touching .grad
                grads = torch.autograd.grad(criterion(model(xb), y_all[idx]), params)
            for p, g in zip(params, grads):
                if p.grad is None or not torch.allclose(p.grad, g, atol=1e-6, rtol=1e-4):
                    self.accumulated = True
            return step(*args, **kwargs)

        optimizer.step = audited_step


@student_check
def check_train_loop(train_one_epoch, task: str = "Task 2.3 train_one_epoch") -> Verdict:
    """Lab 2 (reused by Lab 3): train mode, zero_grad per batch, one step per batch, loss goes down."""
    import math

    import torch
    from torch import nn

    model, loader, x, y = _toy_problem()
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    probe = _ModeProbe(model)
    audit = _StepAudit(model, optimizer, criterion, x, y)
    model.eval()  # the loop itself must switch to train mode
    losses = []
    for _ in range(8):
        result = train_one_epoch(model, loader, criterion, optimizer, torch.device("cpu"))
        if not (isinstance(result, tuple) and len(result) == 2):
            fail(task, t("lab2.loop_return", got=result))
        losses.append(float(result[0]))
    if not probe.calls:
        fail(task, t("lab2.never_called_forward"))
    if not all(training for training, _ in probe.calls[: len(loader)]):
        fail(task, t("lab2.train_mode"))
    batches = 8 * len(loader)
    if audit.steps != batches:
        fail(task, t("lab2.steps", want=batches, got=audit.steps))
    if audit.accumulated:
        fail(task, t("lab2.accumulate"))
    if not all(math.isfinite(v) for v in losses) or not losses[-1] < 0.7 * losses[0]:
        fail(task, t("lab2.loss_fall", first=losses[0], last=losses[-1]))
    acc = float(result[1])
    if not 0.0 <= acc <= 1.0:
        fail(task, t("lab2.acc_fraction", acc=acc))
    return passed(task, t("lab2.train_ok", first=losses[0], last=losses[-1], acc=acc))


@student_check
def check_eval_loop(evaluate, task: str = "Task 2.4 evaluate") -> Verdict:
    """Lab 2: eval mode, no gradients, parameters untouched, correct loss/accuracy and class-1 probabilities."""
    import numpy as np
    import torch
    from torch import nn

    model, loader, x, y = _toy_problem(seed=1)
    criterion = nn.CrossEntropyLoss()
    probe = _ModeProbe(model)
    before = [p.detach().clone() for p in model.parameters()]
    model.train()  # the function itself must switch to eval mode
    result = evaluate(model, loader, criterion, torch.device("cpu"))
    if not (isinstance(result, tuple) and len(result) == 4):
        fail(task, t("lab2.eval_return"))
    loss, acc, labels, probs = result
    if not probe.calls:
        fail(task, t("lab2.never_called"))
    if any(training for training, _ in probe.calls):
        fail(task, t("lab2.eval_mode"))
    if any(grad for _, grad in probe.calls):
        fail(task, t("lab2.eval_no_grad"))
    if any(not torch.equal(a, b) for a, b in zip(before, model.parameters())):
        fail(task, t("lab2.eval_changed"))
    with torch.no_grad():
        logits = model(x)
    want_probs = torch.softmax(logits, 1)[:, 1].numpy()
    want_loss = float(criterion(logits, y))
    want_acc = float((logits.argmax(1) == y).float().mean())
    labels, probs = np.asarray(labels), np.asarray(probs)
    if labels.shape != (len(y),) or not np.array_equal(labels, y.numpy()):
        fail(task, t("lab2.eval_labels", n=len(y), shape=labels.shape))
    if probs.shape != (len(y),) or not np.allclose(probs, want_probs, atol=1e-5):
        fail(task, t("lab2.eval_probs"))
    if abs(float(loss) - want_loss) > 1e-4:
        fail(task, t("lab2.eval_loss", want=want_loss, got=float(loss)))
    if abs(float(acc) - want_acc) > 1e-6:
        fail(task, t("lab2.eval_acc", want=want_acc, got=float(acc)))
    return passed(task, t("lab2.eval_ok", loss=float(loss), acc=float(acc), n=len(probs)))


@student_check
def check_finetune_optimizer(make_optimizer, model, head_lr: float = 1e-3, backbone_lr: float = 1e-4,
                             task: str = "Task 2.5 fine-tuning optimizer") -> Verdict:
    """Lab 2: layer4 and fc train, in two parameter groups, the backbone with the smaller learning rate."""
    optimizer = make_optimizer(model, head_lr=head_lr, backbone_lr=backbone_lr)
    _require_trainable(model, ("layer4.", "fc."), task)
    groups = optimizer.param_groups
    if len(groups) != 2:
        fail(task, t("lab2.groups", got=len(groups)))
    ids = {name: {id(p) for p in getattr(model, name).parameters()} for name in ("layer4", "fc")}
    lrs = {}
    for g in groups:
        members = {id(p) for p in g["params"]}
        owner = next((name for name, s in ids.items() if members == s), None)
        if owner is None:
            fail(task, t("lab2.group_members"))
        lrs[owner] = g["lr"]
    if lrs.get("layer4") != backbone_lr or lrs.get("fc") != head_lr:
        fail(task, t("lab2.group_lrs", backbone=backbone_lr, head=head_lr, got=lrs))
    return passed(task, t("lab2.optimizer_ok", backbone=backbone_lr, head=head_lr))


@student_check
def check_sensitivity_specificity(sens_spec, task: str = "Task 2.6 sensitivity_specificity") -> Verdict:
    """Lab 2: sensitivity = TP / (TP + FN) and specificity = TN / (TN + FP) for several label vectors."""
    import numpy as np

    rng = np.random.default_rng(0)
    cases = [([1, 1, 1, 1, 0, 0, 0, 0, 0, 0], [1, 1, 1, 0, 1, 0, 0, 0, 0, 0], (0.75, 5 / 6))]
    for _ in range(3):
        y = rng.integers(0, 2, 50)
        p = np.where(rng.random(50) < 0.8, y, 1 - y)
        tp, fn = int(((p == 1) & (y == 1)).sum()), int(((p == 0) & (y == 1)).sum())
        tn, fp = int(((p == 0) & (y == 0)).sum()), int(((p == 1) & (y == 0)).sum())
        cases.append((y, p, (tp / (tp + fn), tn / (tn + fp))))
    for y, p, (sens, spec) in cases:
        got = sens_spec(np.asarray(y), np.asarray(p))
        if not (isinstance(got, tuple) and len(got) == 2):
            fail(task, t("lab2.pair", got=got))
        if abs(got[0] - sens) > 1e-9 or abs(got[1] - spec) > 1e-9:
            fail(task, t("lab2.sens_spec", y=[int(v) for v in list(y)[:10]], p=[int(v) for v in list(p)[:10]],
                         sens=sens, spec=spec, got_sens=got[0], got_spec=got[1]))
    return passed(task, t("lab2.sens_ok", n=len(cases)))


@student_check
def check_class_weights(fn, task: str = "Task 2.7 class_weights") -> Verdict:
    """Lab 2: weights n_samples / (n_classes * count_c), as scikit-learn's 'balanced' rule."""
    import numpy as np
    import torch
    from sklearn.utils.class_weight import compute_class_weight

    for targets in ([0] * 10 + [1] * 30, [0, 1, 1, 2, 2, 2]):
        classes = np.unique(targets)
        want = compute_class_weight("balanced", classes=classes, y=np.asarray(targets))
        got = fn(list(targets), len(classes))
        got = got.detach().cpu().numpy() if isinstance(got, torch.Tensor) else np.asarray(got)
        if got.shape != want.shape or not np.allclose(got, want, atol=1e-6):
            fail(task, t("lab2.weights", counts=np.bincount(targets).tolist(), want=np.round(want, 4).tolist(),
                         got=np.round(got, 4).tolist() if got.size else got))
    return passed(task, t("lab2.weights_ok"))
