"""Lab 2 self-checks of the loops: ``train_one_epoch`` (``TASK_TRAIN_LOOP``, reused by Lab 3's
``TASK_CIFAR_TRAIN_LOOP``) and ``evaluate`` (``TASK_EVAL_LOOP``).

The loop probes run the student's function on a tiny model and dataset taken from the case, so they can
see inside it: whether ``forward`` ran in train or eval mode, whether gradients were enabled, and
whether each optimizer step used the gradient of its own batch only (a loop that forgets
``zero_grad`` accumulates gradients across batches, and the check names that). The judges replay
the reference training loop from the case."""
from __future__ import annotations

import math
import numbers

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from ..messages import t
from .common import Raw, as_array, max_param_diff, repr_of
from .core import Verdict, fail, student_check
from .protocol import register, self_check


# ---------------------------------------------------------------------------------------------
# loops


class _ModeProbe:
    """Records, at every forward call, whether the module was in train mode and grads were on."""

    def __init__(self, module):
        self.calls: list[tuple[bool, bool]] = []
        module.register_forward_pre_hook(lambda m, inp: self.calls.append((m.training, torch.is_grad_enabled())))


def _toy_problem(seed: int = 0, n: int = 48, batch: int = 8):
    """A learnable 2-class problem with a small MLP; rows are unique, so a batch can be found again."""
    gen = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=gen)
    x = torch.randn(n, 4, generator=gen) + y[:, None].float() * 1.5
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
    loader = DataLoader(TensorDataset(x, y), batch_size=batch, shuffle=False)
    return model, loader, x, y


def _toy_case(seed: int, n: int = 48, batch: int = 8) -> dict:
    """:func:`_toy_problem` as plain data: inputs ``x``, labels ``y``, the MLP's initial weights ``init``
    and the batch size; the global random state is left as it was."""
    gen = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=gen)
    x = torch.randn(n, 4, generator=gen) + y[:, None].float() * 1.5
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
    init = {name: value.detach().clone() for name, value in model.state_dict().items()}
    return {"x": x, "y": y, "init": init, "batch": batch}


def _toy_model(case: dict):
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
    model.load_state_dict(case["init"], strict=True)
    return model


def _toy_loader(case: dict):
    return DataLoader(TensorDataset(case["x"], case["y"]), batch_size=int(case["batch"]), shuffle=False)


class _StepAudit:
    """Wraps ``optimizer.step`` to see, at each step, what the gradients hold.

    Hooks record whether ``backward`` reached the parameters since the batch's forward pass. At each
    step it tells apart: a step before ``backward`` (``before_backward``: the batch's gradient is not
    there yet), gradients zeroed between ``backward`` and ``step`` (``zeroed``: the step sees none),
    and gradients that are not the batch's own (``accumulated``: ``zero_grad`` forgotten).
    """

    def __init__(self, model, optimizer, criterion, x_all, y_all):
        self.steps = 0
        self.accumulated = self.before_backward = self.zeroed = False
        self._last_input = None
        self._backward_seen = self.any_backward = False
        self._auditing = False
        model.register_forward_pre_hook(self._saw_forward)
        params = [p for p in model.parameters() if p.requires_grad]
        for p in params:
            p.register_hook(self._saw_backward)
        step = optimizer.step

        def audited_step(*args, **kwargs):
            if self._auditing:
                return step(*args, **kwargs)
            self.steps += 1
            grads_now = [p.grad for p in params]
            if not self._backward_seen:
                self.before_backward = True
            elif all(g is None or not bool(g.any()) for g in grads_now):
                self.zeroed = True
            else:
                xb = self._last_input
                idx = (xb[:, None, :] == x_all[None]).all(-1).float().argmax(1)
                self._auditing = True
                try:
                    with torch.enable_grad():  # this batch's gradient, computed without touching .grad
                        grads = torch.autograd.grad(criterion(model(xb), y_all[idx]), params)
                finally:
                    self._auditing = False
                for g_now, g in zip(grads_now, grads):
                    if g_now is None or not torch.allclose(g_now, g, atol=1e-6, rtol=1e-4):
                        self.accumulated = True
            return step(*args, **kwargs)

        optimizer.step = audited_step

    def _saw_forward(self, module, inputs):
        if not self._auditing:
            self._last_input = inputs[0].detach()
            self._backward_seen = False

    def _saw_backward(self, grad):
        if not self._auditing:
            self._backward_seen = self.any_backward = True
        return None


# ---------------------------------------------------------------------------------------------
# TASK_TRAIN_LOOP: train_one_epoch (Lab 3's ``TASK_CIFAR_TRAIN_LOOP`` reuses the three halves)

PARAM_TOL = 1e-4  # final parameters of the student's loop vs the reference loop's
LOSS_RTOL, LOSS_ATOL = 1e-2, 1e-3  # per-epoch returned mean loss vs the reference's (a loose match)


def _case_train_loop(seed: int) -> dict:
    """Toy data and initial weights from ``seed``, and the hyper-parameters of the reference loop."""
    return {**_toy_case(seed), "lr": 0.05, "momentum": 0.9, "epochs": 8}


def _probe_train_loop(train_one_epoch, case: dict) -> dict:
    """Probe of ``TASK_TRAIN_LOOP`` and ``TASK_CIFAR_TRAIN_LOOP``: run the student's loop for the case's epochs on
    the toy MLP (starting in
    eval mode), with SGD and CrossEntropyLoss; returns what it returned each epoch, the final
    parameters, and what the hooks saw: the train/eval mode of the first batches' forward calls,
    the number of optimizer steps and whether a step used gradients accumulated over batches."""
    model, loader = _toy_model(case), _toy_loader(case)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=case["lr"], momentum=case["momentum"])
    probe = _ModeProbe(model)
    audit = _StepAudit(model, optimizer, criterion, case["x"], case["y"])
    model.eval()  # the loop itself must switch to train mode
    data = {"losses": [], "accs": []}
    for _ in range(int(case["epochs"])):
        result = train_one_epoch(model, loader, criterion, optimizer, torch.device("cpu"))
        if not (isinstance(result, tuple) and len(result) == 2):
            data["bad_return"] = repr_of(result)
            break
        kinds = [_number_kind(value) for value in result]
        if any(kinds):  # a tensor where a number belongs: float() of it would warn, the curves cell fails
            data["not_numbers"] = kinds
            break
        data["losses"].append(float(result[0]))
        data["accs"].append(float(result[1]))
    data.update(calls=len(probe.calls), train_flags=[bool(training) for training, _ in probe.calls[: len(loader)]],
                steps=audit.steps, accumulated=bool(audit.accumulated), batches=len(loader),
                before_backward=bool(audit.before_backward), zeroed=bool(audit.zeroed),
                any_backward=bool(audit.any_backward),
                params={name: value.detach().clone() for name, value in model.state_dict().items()})
    return data


def _number_kind(value) -> str:
    """'' for a plain number (int, float, NumPy scalar; not bool), else what it is: ``"tensor+grad"`` for a
    tensor still attached to the graph, ``"tensor"``, or the type's name."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return ""
    if isinstance(value, torch.Tensor):
        return "tensor+grad" if value.requires_grad else "tensor"
    return type(value).__name__[:40]


def _reference_train_loop(case: dict):
    """The reference loop on the case: final state_dict, per-epoch mean loss over samples and accuracy."""
    model, loader = _toy_model(case), _toy_loader(case)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=case["lr"], momentum=case["momentum"])
    losses, accs = [], []
    for _ in range(int(case["epochs"])):
        model.train()
        total, correct, seen = 0.0, 0, 0
        for xb, yb in loader:
            optimizer.zero_grad()
            out = model(xb)
            loss = criterion(out, yb)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(xb)
            correct += int((out.argmax(1) == yb).sum())
            seen += len(xb)
        losses.append(total / seen)
        accs.append(correct / seen)
    return model.state_dict(), losses, accs


def _judge_train_loop(data: dict, case: dict, task: str) -> str:
    if "bad_return" in data:
        fail(task, t("lab2.loop_return", got=Raw(data["bad_return"])))
    for index, kind in enumerate(data.get("not_numbers") or []):
        if kind:
            what = t("lab2.loop_what_loss" if index == 0 else "lab2.loop_what_acc")
            key = "lab2.loop_tensor" if str(kind).startswith("tensor") else "lab2.loop_not_number"
            fail(task, t(key, what=what, got=str(kind).replace("+grad", ", requires_grad=True"),
                         fix=t("lab2.loop_fix_loss" if index == 0 else "lab2.loop_fix_acc")))
    if not data["calls"]:
        fail(task, t("lab2.never_called_forward"))
    if not all(data["train_flags"]):
        fail(task, t("lab2.train_mode"))
    epochs = int(case["epochs"])
    batches = epochs * len(_toy_loader(case))
    if data["steps"] != batches:
        fail(task, t("lab2.steps", want=batches, got=data["steps"]))
    if data.get("before_backward"):
        fail(task, t("lab2.step_before_backward" if data.get("any_backward", True) else "lab2.no_backward"))
    if data.get("zeroed"):
        fail(task, t("lab2.zero_before_step"))
    if data["accumulated"]:
        fail(task, t("lab2.accumulate"))
    want_params, want_losses, _ = _reference_train_loop(case)
    losses = [float(v) for v in data["losses"]]
    if len(losses) != epochs:
        raise ValueError(f"{len(losses)} epochs of losses, expected {epochs}")
    close = [abs(got - want) <= LOSS_ATOL + LOSS_RTOL * abs(want) for got, want in zip(losses, want_losses)]
    if not all(close) and (not all(math.isfinite(v) for v in losses) or not losses[-1] < 0.7 * losses[0]):
        fail(task, t("lab2.loss_fall", first=losses[0], last=losses[-1]))
    diff = max_param_diff(data["params"], want_params)
    if not diff <= PARAM_TOL:
        fail(task, t("lab2.params_differ", epochs=epochs, diff=diff))
    if not all(close):
        epoch = close.index(False)
        fail(task, t("lab2.loss_mean", epoch=epoch + 1, want=want_losses[epoch], got=losses[epoch]))
    acc = float(data["accs"][-1])
    if not 0.0 <= acc <= 1.0:
        fail(task, t("lab2.acc_fraction", acc=acc))
    return t("lab2.train_ok", first=losses[0], last=losses[-1], acc=acc)


TASK_TRAIN_LOOP = register(2, "check_train_loop", _case_train_loop, _probe_train_loop, _judge_train_loop)


@student_check
def check_train_loop(train_one_epoch, task: str = TASK_TRAIN_LOOP.label) -> Verdict:
    """Lab 2 (reused by Lab 3): train mode, zero_grad per batch, one step per batch, the reference's
    parameters and mean loss after 8 epochs."""
    return self_check(TASK_TRAIN_LOOP, (train_one_epoch,), task)


def _case_eval_loop(seed: int) -> dict:
    return _toy_case(seed + 1)  # seed 0: the toy problem of seed 1, as before


def _probe_eval_loop(evaluate, case: dict) -> dict:
    """Probe of ``TASK_EVAL_LOOP``: call the student's ``evaluate`` on the toy MLP (starting in train mode);
    returns its four results, the mode and grad flag of every forward call and the parameters after."""
    model, loader = _toy_model(case), _toy_loader(case)
    probe = _ModeProbe(model)
    model.train()  # the function itself must switch to eval mode
    result = evaluate(model, loader, nn.CrossEntropyLoss(), torch.device("cpu"))
    data = {"calls": [[bool(a), bool(b)] for a, b in probe.calls],
            "params": {name: value.detach().clone() for name, value in model.state_dict().items()}}
    if not (isinstance(result, tuple) and len(result) == 4):
        data["bad_return"] = repr_of(result)
        return data
    loss, acc, labels, probs = result
    data["labels_shape"], data["labels"] = as_array(labels)
    data["probs_shape"], data["probs"] = as_array(probs)
    data.update(loss=float(loss), acc=float(acc))
    return data


def _judge_eval_loop(data: dict, case: dict, task: str) -> str:
    if "bad_return" in data:
        fail(task, t("lab2.eval_return"))
    calls = data["calls"]
    if not calls:
        fail(task, t("lab2.eval_never_called"))
    if any(training for training, _ in calls):
        fail(task, t("lab2.eval_mode"))
    if any(grad for _, grad in calls):
        fail(task, t("lab2.eval_no_grad"))
    if max_param_diff(data["params"], case["init"]) != 0.0:
        fail(task, t("lab2.eval_changed"))
    model, y = _toy_model(case).eval(), case["y"]
    with torch.no_grad():
        logits = model(case["x"])
    want_probs = torch.softmax(logits, 1)[:, 1].double()
    want_loss = float(nn.CrossEntropyLoss()(logits, y))
    want_acc = float((logits.argmax(1) == y).float().mean())
    n = len(y)
    labels, probs = data["labels"], data["probs"]
    if list(data["labels_shape"]) != [n] or labels is None or not torch.equal(labels, y.double()):
        fail(task, t("lab2.eval_labels", n=n, shape=tuple(data["labels_shape"])))
    if list(data["probs_shape"]) != [n] or probs is None or not torch.allclose(probs, want_probs, atol=1e-5, rtol=1e-5):
        fail(task, t("lab2.eval_probs"))
    loss, acc = float(data["loss"]), float(data["acc"])
    if not abs(loss - want_loss) <= 1e-4:
        fail(task, t("lab2.eval_loss", want=want_loss, got=loss))
    if not abs(acc - want_acc) <= 1e-6:
        fail(task, t("lab2.eval_acc", want=want_acc, got=acc))
    return t("lab2.eval_ok", loss=loss, acc=acc, n=n)


TASK_EVAL_LOOP = register(2, "check_eval_loop", _case_eval_loop, _probe_eval_loop, _judge_eval_loop)


@student_check
def check_eval_loop(evaluate, task: str = TASK_EVAL_LOOP.label) -> Verdict:
    """Lab 2: eval mode, no gradients, parameters untouched, correct loss/accuracy and class-1 probabilities."""
    return self_check(TASK_EVAL_LOOP, (evaluate,), task)
