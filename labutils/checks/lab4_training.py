"""Lab 4 self-checks of training and choosing: ``make_optimizer`` (``TASK_OPTIMIZER``) and ``pick_best``
(``TASK_PICK_BEST``)."""
from __future__ import annotations

import copy

import torch

from ..messages import t
from .core import Verdict, fail, student_check
from .lab4_reference import (ARCHS, STRATEGIES, STRATEGY_PREFIXES, reference_apply_strategy, reference_model,
                              reference_params)
from .protocol import register, self_check


# ---------------------------------------------------------------------------------------------
# TASK_OPTIMIZER: make_optimizer


def _case_optimizer(seed: int) -> dict:
    arch, strategy = "resnet50", "partial"
    if seed != 0:  # never "full": there the frozen-parameter mistake would go unseen
        gen = torch.Generator().manual_seed(seed)
        arch = ARCHS[int(torch.randint(len(ARCHS), (1,), generator=gen))]
        strategy = ("freeze", "partial")[int(torch.randint(2, (1,), generator=gen))]
    return {"arch": arch, "strategy": strategy, "lr": 1e-4, "epochs": 15, "reference": True}


def _probe_optimizer(make_optimizer, case: dict, make_model=None, apply_strategy=None) -> dict:
    """Probe of ``TASK_OPTIMIZER``: the optimizer's and scheduler's types, its parameter groups as parameter names
    (with their lr) and the model's trainable names after the call."""
    arch, strategy = case["arch"], case["strategy"]
    model = (make_model or reference_model)(arch, 5)
    model = (apply_strategy or reference_apply_strategy)(model, arch, strategy)
    optimizer, scheduler = make_optimizer(model, lr=case["lr"], epochs=case["epochs"])
    names = {id(p): n for n, p in model.named_parameters()}
    groups, seen = [], set()
    for group in getattr(optimizer, "param_groups", None) or []:
        labels = []
        for p in group.get("params", []):
            if id(p) in seen:
                continue
            seen.add(id(p))
            labels.append(names.get(id(p), f"<not in the model #{len(seen)}: {tuple(getattr(p, 'shape', ()))}>"))
        lr = group.get("lr")
        try:
            lr = float(lr)
        except (TypeError, ValueError):
            lr = repr(lr)[:60]
        groups.append({"params": labels, "lr": lr})
    t_max = getattr(scheduler, "T_max", None)
    if not (t_max is None or isinstance(t_max, (int, float, str))):
        t_max = repr(t_max)[:60]
    return {"optimizer": type(optimizer).__name__, "is_adam": isinstance(optimizer, torch.optim.Adam),
            "groups": groups, "trainable": [n for n, p in model.named_parameters() if p.requires_grad],
            "scheduler": type(scheduler).__name__,
            "is_cosine": isinstance(scheduler, torch.optim.lr_scheduler.CosineAnnealingLR), "t_max": t_max}


def _judge_optimizer(data: dict, case: dict, task: str) -> str:
    if not data["is_adam"]:
        fail(task, t("lab4.adam", got=str(data["optimizer"])))
    in_opt = {str(name) for group in data["groups"] for name in group["params"]}
    if case["reference"]:  # the grader's model: the reference strategy on the reference model
        prefixes = STRATEGY_PREFIXES[case["arch"]][case["strategy"]]
        trainable = {name for name, _ in reference_params(case["arch"]) if name.startswith(prefixes)}
    else:
        trainable = {str(name) for name in data["trainable"]}
    if in_opt != trainable:
        fail(task, t("lab4.opt_params", want=len(trainable), got=len(in_opt)))
    lrs = {group["lr"] for group in data["groups"]}
    if lrs != {case["lr"]}:
        try:
            got = sorted(lrs)
        except TypeError:
            got = sorted(lrs, key=str)
        fail(task, t("lab4.lr", got=got))
    if not data["is_cosine"] or data["t_max"] != case["epochs"]:
        fail(task, t("lab4.scheduler", got=str(data["scheduler"]), tmax=data["t_max"]))
    return t("lab4.optimizer_ok", n=len(trainable))


TASK_OPTIMIZER = register(4, "check_optimizer", _case_optimizer, _probe_optimizer, _judge_optimizer)


@student_check
def check_optimizer(make_optimizer, make_model, apply_strategy, task: str = TASK_OPTIMIZER.label) -> Verdict:
    """Lab 4: Adam over exactly the trainable parameters at ``lr``, with CosineAnnealingLR(T_max=epochs).

    The notebook builds the model with the student's ``make_model`` and ``apply_strategy``; the grader
    with the references, so that only ``make_optimizer`` is graded here.
    """
    return self_check(TASK_OPTIMIZER, (make_optimizer,), task, case={**_case_optimizer(0), "reference": False},
                      make_model=make_model, apply_strategy=apply_strategy)


# ---------------------------------------------------------------------------------------------
# TASK_PICK_BEST: pick_best

# The fixed trap: the best on test ("a") is not the best on validation; "b" and "c" tie on validation.
_FIXED_RUNS = [
    {"run": "a", "best_val_acc": 0.90, "test": {"acc": 0.99}, "params": {"trainable": 10}},
    {"run": "b", "best_val_acc": 0.95, "test": {"acc": 0.91}, "params": {"trainable": 1000}},
    {"run": "c", "best_val_acc": 0.95, "test": {"acc": 0.90}, "params": {"trainable": 100}},
]


def _best_by_val(runs: list) -> dict:
    return max(runs, key=lambda r: (r["best_val_acc"], -r["params"]["trainable"]))


def _random_runs(gen) -> list:
    """A random comparison table: a tie on the best validation accuracy (fewer trainable parameters wins),
    another run best on test and another with the fewest trainable parameters overall."""
    def randint(low, high):
        return int(torch.randint(low, high, (1,), generator=gen))

    n = randint(4, 9)
    top = randint(80, 98)
    val = [top, top] + [randint(50, top) for _ in range(n - 2)]  # two runs tie at the top
    trainable = sorted({randint(10_000, 30_000_000) for _ in range(3 * n)})
    order = torch.randperm(len(trainable), generator=gen).tolist()[:n]
    params = [trainable[i] for i in order]
    small = min(range(2, n), key=lambda i: params[i])  # the fewest parameters: a run below the top
    j = params.index(min(params))
    params[small], params[j] = params[j], params[small]
    test = [randint(50, 95) for _ in range(n)]
    trap = 3 if small == 2 else 2  # best on test: another run below the top
    test[trap] = 99
    archs = ["resnet50", "efficientnet_b0"]
    ids = torch.randperm(900, generator=gen)[:n].tolist()
    runs = [{"run": f"{archs[randint(0, 2)]}_{STRATEGIES[randint(0, 3)]}_{100 + k}", "best_val_acc": val[i] / 100,
             "test": {"acc": test[i] / 100, "loss": randint(10, 200) / 100},
             "params": {"trainable": params[i], "total": 30_000_000}} for i, k in enumerate(ids)]
    return [runs[i] for i in torch.randperm(n, generator=gen).tolist()]


def _case_pick_best(seed: int) -> dict:
    tables = [copy.deepcopy(_FIXED_RUNS)]
    if seed != 0:
        gen = torch.Generator().manual_seed(seed)
        tables += [_random_runs(gen) for _ in range(3)]
    return {"tables": tables}


def _probe_pick_best(pick_best, case: dict) -> dict:
    """Probe of ``TASK_PICK_BEST``: the ``run`` of the record that ``pick_best`` returns for each table (a copy)."""
    picked = []
    for runs in case["tables"]:
        got = pick_best(copy.deepcopy(runs))
        name = got.get("run") if isinstance(got, dict) else got
        if isinstance(name, str):
            name = str(name)
        elif not (name is None or isinstance(name, (int, float, bool))):
            name = repr(name)[:80]
        picked.append(name)
    return {"picked": picked}


def _judge_pick_best(data: dict, case: dict, task: str) -> str:
    for i, runs in enumerate(case["tables"]):
        got = data["picked"][i]
        want = _best_by_val(runs)["run"]
        by_test = max(runs, key=lambda r: r["test"]["acc"])["run"]
        if got == by_test and got != want:
            fail(task, t("lab4.picked_test"))
        if got != want:
            if i == 0:
                fail(task, t("lab4.pick_wrong", got=got))
            fail(task, t("lab4.pick_wrong_run", want=want, acc=_best_by_val(runs)["best_val_acc"], got=got))
    return t("lab4.pick_ok")


TASK_PICK_BEST = register(4, "check_pick_best", _case_pick_best, _probe_pick_best, _judge_pick_best)


@student_check
def check_pick_best(pick_best, task: str = TASK_PICK_BEST.label) -> Verdict:
    """Lab 4: the winner is chosen by validation accuracy (ties: fewer trainable parameters), never by test."""
    return self_check(TASK_PICK_BEST, (pick_best,), task)
