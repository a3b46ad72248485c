"""Lab 4's graded checks as probe (student's process) and judge (grader's process): round trips and forgeries."""
import copy
import io

import pytest
import torch
from torch import nn

from labutils import checks
from labutils.checks.lab4 import (STRATEGY_PREFIXES, TASK_MAKE_MODEL, TASK_STRATEGIES, TASK_OPTIMIZER, TASK_PICK_BEST, TASK_ONNX,
                                  reference_apply_strategy, reference_model)
from labutils.checks.protocol import TASKS, judge_for_grader, probe_for_grader

SEED = 12345


def _through_disk(result):
    buffer = io.BytesIO()
    torch.save(result, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def _grade(number, ns, seed=SEED, case=None):
    case = TASKS[number].make_case(seed) if case is None else case
    result = _through_disk(probe_for_grader(number, ns, case))
    return result, case


@pytest.fixture(scope="module")
def results(lab4):
    """The solution's probe results for the grader's seed, each task probed once."""
    return {n: _grade(n, lab4) for n in ("4.1", "4.2", "4.3", "4.4", "4.5")}


@pytest.mark.parametrize("number", ["4.1", "4.2", "4.3", "4.4", "4.5"])
def test_solution_round_trip_passes(number, results):
    result, case = results[number]
    assert "data" in result, result
    ok, line = judge_for_grader(number, result, case)
    assert ok, line


def test_tasks_are_registered():
    assert [TASKS[n] for n in ("4.1", "4.2", "4.3", "4.4", "4.5")] == [TASK_MAKE_MODEL, TASK_STRATEGIES, TASK_OPTIMIZER, TASK_PICK_BEST,
                                                                        TASK_ONNX]
    assert TASK_STRATEGIES.names == ("apply_strategy",) and TASK_OPTIMIZER.names == ("make_optimizer",)
    assert TASK_ONNX.names == ("onnx_max_abs_diff",)


def test_make_case_is_deterministic_and_seeded():
    for number in ("4.1", "4.4", "4.5"):
        a, b = TASKS[number].make_case(SEED), TASKS[number].make_case(SEED)
        assert _through_disk(a).keys() == a.keys()
        assert str(a) == str(b)
    assert TASK_PICK_BEST.make_case(SEED)["tables"] != TASK_PICK_BEST.make_case(SEED + 1)["tables"]


# ----------------------------------------------------------------------------- 4.1 make_model


def test_make_model_forged_from_seed_0_fails(lab4, results):
    stale, _ = _grade("4.1", lab4, seed=0)
    assert not judge_for_grader("4.1", stale, TASK_MAKE_MODEL.make_case(SEED))[0]
    result, case = results["4.1"]
    forged = copy.deepcopy(result)
    forged["data"]["efficientnet_b0"]["out"] = torch.zeros_like(forged["data"]["efficientnet_b0"]["out"])
    ok, line = judge_for_grader("4.1", forged, case)
    assert not ok and "efficientnet_b0" in line


def test_make_model_that_ignores_num_classes_fails_in_the_grader(lab4):
    case = TASK_MAKE_MODEL.make_case(SEED)
    assert case["num_classes"] != 5
    five = lambda arch, num_classes=5: lab4["make_model"](arch, 5)  # noqa: E731
    ok, line = judge_for_grader("4.1", _through_disk(probe_for_grader("4.1", {"make_model": five}, case)), case)
    assert not ok and f"Linear(2048, {case['num_classes']})" in line


def test_make_model_with_a_changed_body_fails():
    def body_changed(arch, num_classes=5):
        model = reference_model(arch, num_classes)
        if arch == "resnet50":
            model.layer4[2].relu = nn.Identity()  # same parameters, another function
        return model

    with pytest.raises(checks.CheckFailed, match="resnet50: .*torchvision"):
        checks.check_make_model(body_changed)

    def extra_layer(arch, num_classes=5):
        model = reference_model(arch, num_classes)
        model.extra = nn.Linear(2, 2)
        return model

    with pytest.raises(checks.CheckFailed, match="extra.weight"):
        checks.check_make_model(extra_layer)


def test_make_model_wrong_head_and_reference_passes():
    def no_head(arch, num_classes=5):
        model = reference_model(arch, num_classes)
        if arch == "efficientnet_b0":
            model.classifier = nn.Linear(1280, num_classes)  # no classifier[1]
        return model

    with pytest.raises(checks.CheckFailed, match=r"efficientnet_b0: .*classifier.1 = Linear\(1280, 5\).* classifier = Linear"):
        checks.check_make_model(no_head)
    assert checks.check_make_model(reference_model, num_classes=7)


# ----------------------------------------------------------------------------- 4.2 apply_strategy


def test_strategies_grader_uses_the_reference_model(results):
    result, case = results["4.2"]
    runs = result["data"]["resnet50"]
    assert len(runs) == 3 and all(r["same"] for r in runs)
    assert runs[0]["names"] == [n for n, _ in reference_model("resnet50").named_parameters()]
    assert case["order"] != {arch: ["freeze", "partial", "full"] for arch in case["order"]} or SEED == 0


def test_strategies_forged_flags_fail(results):
    result, case = results["4.2"]
    forged = copy.deepcopy(result)
    run = forged["data"]["efficientnet_b0"][case["order"]["efficientnet_b0"].index("partial")]
    i = run["names"].index("features.8.0.weight")
    run["flags"][i] = False
    ok, line = judge_for_grader("4.2", forged, case)
    assert not ok and "features.8.0.weight" in line
    short = copy.deepcopy(result)  # names left out of the data count as frozen
    run = short["data"]["resnet50"][case["order"]["resnet50"].index("full")]
    keep = [k for k, n in enumerate(run["names"]) if n.startswith("fc.")]
    for key in ("names", "flags", "numel"):
        run[key] = [run[key][k] for k in keep]
    assert not judge_for_grader("4.2", short, case)[0]


def test_strategies_in_another_order_catch_a_flag_never_reset(lab4):
    def only_set_true(model, arch, strategy):  # never freezes what an earlier strategy unfroze
        if strategy == "full":
            for p in model.parameters():
                p.requires_grad = True
        else:
            for name, p in model.named_parameters():
                if name.startswith(STRATEGY_PREFIXES[arch][strategy]):
                    p.requires_grad = True
                elif strategy == "freeze":
                    p.requires_grad = False
        return model

    case = TASK_STRATEGIES.make_case(SEED)
    assert any(order.index("full") < order.index("partial") for order in case["order"].values())
    result = _through_disk(probe_for_grader("4.2", {"apply_strategy": only_set_true}, case))
    ok, line = judge_for_grader("4.2", result, case)
    assert not ok and "partial" in line


def test_strategies_returning_a_copy():
    def copying(model, arch, strategy):
        return copy.deepcopy(reference_apply_strategy(model, arch, strategy))

    case = TASK_STRATEGIES.make_case(SEED)
    ok, line = judge_for_grader("4.2", _through_disk(probe_for_grader("4.2", {"apply_strategy": copying}, case)), case)
    assert not ok and "resnet50/" in line


# ----------------------------------------------------------------------------- 4.3 make_optimizer


def test_optimizer_forged_groups_fail(results):
    result, case = results["4.3"]
    assert case["strategy"] in ("freeze", "partial")
    forged = copy.deepcopy(result)
    forged["data"]["groups"][0]["params"].pop()
    ok, line = judge_for_grader("4.3", forged, case)
    assert not ok and str(len(result["data"]["groups"][0]["params"]) - 1) in line
    other = TASK_OPTIMIZER.make_case(1)
    for seed in range(1, 50):
        other = TASK_OPTIMIZER.make_case(seed)
        if (other["arch"], other["strategy"]) != (case["arch"], case["strategy"]):
            break
    assert not judge_for_grader("4.3", result, other)[0]


def test_optimizer_mistakes_in_the_grader():
    case = TASK_OPTIMIZER.make_case(SEED)

    def verdict(fn):
        ok, line = judge_for_grader("4.3", _through_disk(probe_for_grader("4.3", {"make_optimizer": fn}, case)), case)
        assert not ok
        return line

    def sgd(model, lr, epochs):
        opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr)
        return opt, torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)

    def wrong_lr(model, lr, epochs):
        opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=10 * lr)
        return opt, torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)

    def step_lr(model, lr, epochs):
        opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
        return opt, torch.optim.lr_scheduler.StepLR(opt, step_size=5)

    def unfreeze_all(model, lr, epochs):  # changes the freezing to fit its optimizer
        for p in model.parameters():
            p.requires_grad = True
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        return opt, torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)

    assert "SGD" in verdict(sgd)
    assert "0.001" in verdict(wrong_lr)
    assert "StepLR" in verdict(step_lr)
    assert "Adam" not in verdict(unfreeze_all).split(":", 1)[1][:20]


# ----------------------------------------------------------------------------- 4.4 pick_best


def test_pick_best_forged_from_seed_0_fails(lab4, results):
    stale, _ = _grade("4.4", lab4, seed=0)
    ok, line = judge_for_grader("4.4", stale, TASK_PICK_BEST.make_case(SEED))
    assert not ok
    result, case = results["4.4"]
    assert len(case["tables"]) == 4 and result["data"]["picked"][0] == "c"


def test_pick_best_random_tables_catch_mistakes():
    case = TASK_PICK_BEST.make_case(SEED)

    def verdict(fn):
        ok, line = judge_for_grader("4.4", _through_disk(probe_for_grader("4.4", {"pick_best": fn}, case)), case)
        return ok, line

    fixed_only = lambda runs: next((r for r in runs if r["run"] == "c"), runs[0])  # noqa: E731
    ok, line = verdict(fixed_only)
    assert not ok and "val acc" in line
    no_tie_break = lambda runs: max(runs, key=lambda r: r["best_val_acc"])  # noqa: E731
    no_tie_break_last = lambda runs: max(reversed(runs), key=lambda r: r["best_val_acc"])  # noqa: E731
    assert not verdict(no_tie_break)[0] or not verdict(no_tie_break_last)[0]
    ok, line = verdict(lambda runs: max(runs, key=lambda r: r["test"]["acc"]))
    assert not ok and "тест" in line
    ok, line = verdict(lambda runs: min(runs, key=lambda r: r["params"]["trainable"]))
    assert not ok
    for table in case["tables"][1:]:
        best = max(runs["best_val_acc"] for runs in table)
        assert sum(r["best_val_acc"] == best for r in table) >= 2  # a tie at the top in each table


def test_pick_best_odd_return_value():
    with pytest.raises(checks.CheckFailed, match="получено 2"):
        checks.check_pick_best(lambda runs: 2)


# ----------------------------------------------------------------------------- 4.5 onnx_max_abs_diff


def test_onnx_forged_numbers_fail(lab4, results):
    result, case = results["4.5"]
    stale, _ = _grade("4.5", lab4, seed=0)
    assert not judge_for_grader("4.5", stale, case)[0]
    forged = copy.deepcopy(result)
    forged["data"]["got"] = {"float": True, "value": 0.0, "repr": "0.0"}
    forged["data"]["got_other"] = {"float": True, "value": 1.0, "repr": "1.0"}
    assert judge_for_grader("4.5", forged, case)[0]  # these two alone are guessable...
    forged["data"]["got_changed"] = {"float": True, "value": 1.0, "repr": "1.0"}
    ok, line = judge_for_grader("4.5", forged, case)
    assert not ok and "ONNX" in line  # ...the difference to a model with other weights is not


def test_onnx_that_returns_a_tensor():
    import numpy as np

    def as_tensor(path, model, batch):
        import onnxruntime as ort

        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        out = session.run(None, {session.get_inputs()[0].name: batch.numpy()})[0]
        with torch.no_grad():
            return torch.tensor(np.abs(out - model.eval()(batch).numpy()).max())

    with pytest.raises(checks.CheckFailed, match=r"получено tensor\("):
        checks.check_onnx_parity(as_tensor)


def test_malformed_data_is_a_verdict(results):
    result, case = results["4.4"]
    ok, line = judge_for_grader("4.4", {"data": {"picked": []}}, case)
    assert not ok and "4.4" in line


# ----------------------------------------------------------------------------- mistakes the tasks warn about


def _make_model_without_value_error(arch, num_classes=5):
    model = load_pretrained(arch)  # noqa: F821 (the notebook's global; the check stands it in for the call)
    if arch == "resnet50":
        model.fc = nn.Linear(model.fc.in_features, num_classes)
    elif arch == "efficientnet_b0":
        model.classifier[1] = nn.Linear(model.classifier[1].in_features, num_classes)
    return model


def test_4_1_rejects_missing_value_error(monkeypatch):
    from labutils.models import load_pretrained

    monkeypatch.setitem(globals(), "load_pretrained", load_pretrained)
    msg = str(pytest.raises(checks.CheckFailed, checks.check_make_model, _make_model_without_value_error).value)
    assert "make_model('unknown_arch', 5) вернула модель" in msg and "raise ValueError" in msg, msg
    assert globals()["load_pretrained"] is load_pretrained  # the stand-in is gone after the check


def test_4_1_rejects_another_error_than_value_error(lab4):
    def key_error(arch, num_classes=5):
        if arch not in ("resnet50", "efficientnet_b0"):
            raise KeyError(arch)
        return lab4["make_model"](arch, num_classes)

    msg = str(pytest.raises(checks.CheckFailed, checks.check_make_model, key_error).value)
    assert "подняла KeyError" in msg and "ожидалась ValueError" in msg, msg


def test_4_2_full_left_to_the_default_names_every_parameter(lab4):
    def full_by_default(model, arch, strategy):  # "full" relies on the model's flags as they are
        if strategy != "full":
            reference_apply_strategy(model, arch, strategy)
        return model

    msg = str(pytest.raises(checks.CheckFailed, checks.check_strategies, full_by_default, lab4["make_model"]).value)
    assert "ожидалось, что обучаются все параметры" in msg and "conv1.weight" in msg, msg
    assert "  " not in msg and "requires_grad" in msg, msg


def _onnx_diff(eval_mode=True, no_grad=True):
    import contextlib

    import numpy as np
    import onnxruntime as ort

    def onnx_max_abs_diff(onnx_path, model, batch):
        session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
        onnx_out = session.run(None, {session.get_inputs()[0].name: batch.numpy().astype(np.float32)})[0]
        if eval_mode:
            model.eval()
        with torch.no_grad() if no_grad else contextlib.nullcontext():
            torch_out = model(batch).detach().numpy()
        return float(np.abs(onnx_out - torch_out).max())
    return onnx_max_abs_diff


def test_4_5_rejects_missing_eval():
    msg = str(pytest.raises(checks.CheckFailed, checks.check_onnx_parity, _onnx_diff(eval_mode=False)).value)
    assert "режиме train, а ожидался eval" in msg and "model.eval()" in msg, msg


def test_4_5_rejects_missing_no_grad():
    msg = str(pytest.raises(checks.CheckFailed, checks.check_onnx_parity, _onnx_diff(no_grad=False)).value)
    assert "torch.no_grad()" in msg, msg


def test_4_5_right_function_passes():
    assert checks.check_onnx_parity(_onnx_diff())
