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
    assert msg == "Задание 2.1 replace_head: ожидалось выходов у головы: 2, получено 3: второй аргумент nn.Linear — num_classes"


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


def test_loop_returning_summed_loss_is_named():
    def summed(model, loader, criterion, optimizer, device):
        model.train()
        total, correct, seen = 0.0, 0, 0
        for x, y in loader:
            optimizer.zero_grad()
            out = model(x)
            loss = criterion(out, y)
            loss.backward()
            optimizer.step()
            total += loss.item()  # the sum of the batch means, not the mean over the samples
            correct += (out.argmax(1) == y).sum().item()
            seen += len(x)
        return total, correct / seen

    assert "ожидался средний loss эпохи 1" in _verdict(checks.check_train_loop, summed)


def test_loop_that_changes_the_learning_rate_differs_from_the_reference():
    inner = _loop_without(None)

    def train_one_epoch(model, loader, criterion, optimizer, device):
        for group in optimizer.param_groups:
            group["lr"] = 0.01
        return inner(model, loader, criterion, optimizer, device)

    assert "параметры модели отличаются от эталонного цикла" in _verdict(checks.check_train_loop, train_one_epoch)


def test_head_function_that_returns_none():
    def replace_head(model, num_classes=2):
        model.fc = torch.nn.Linear(model.fc.in_features, num_classes)

    assert "replace_head должна вернуть изменённую модель" in _verdict(checks.check_head, replace_head)


def test_check_trainable_and_require_trainable_still_work(lab2):
    from labutils.checks.lab2 import _require_trainable

    model = lab2["freeze_backbone"](lab2["replace_head"](resnet18()))
    assert checks.check_trainable(model, ("fc.",), "Task 4.2 apply_strategy")
    _require_trainable(model, ("fc.",), "Task 4.2 apply_strategy")
    with pytest.raises(checks.CheckFailed, match="layer4"):
        _require_trainable(model, ("layer4.", "fc."), "Task 4.2 apply_strategy")


def test_self_check_case_is_the_old_toy_problem():
    from labutils.checks.lab2_loops import _case_train_loop, _toy_problem

    model, _, x, y = _toy_problem(0)
    case = _case_train_loop(0)
    assert torch.equal(case["x"], x) and torch.equal(case["y"], y)
    assert all(torch.equal(case["init"][k], v) for k, v in model.state_dict().items())


# ---------------------------------------------------------------------------------------------
# the grader's round trip: probe in the kernel, torch.save/torch.load(weights_only=True), judge


LAB2_TASKS = ["2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "2.7"]  # 2.8: see its own section


def _round_trip(result):
    import io

    buffer = io.BytesIO()
    torch.save(result, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def _probe(number, ns, seed):
    from labutils.checks.protocol import TASKS, probe_for_grader

    case = TASKS[number].make_case(seed)
    result = _round_trip(probe_for_grader(number, ns, case))
    assert "data" in result, result
    return case, result


@pytest.mark.parametrize("number", LAB2_TASKS)
def test_grader_round_trip_passes_the_solution(lab2, number):
    from labutils.checks.protocol import TASKS, judge_for_grader

    case, result = _probe(number, lab2, 12345)
    ok, line = judge_for_grader(number, result, _round_trip(case))
    assert ok, line
    assert TASKS[number].names[0] in lab2


@pytest.mark.parametrize("number", ["2.3", "2.4", "2.6", "2.7"])
def test_result_for_another_seed_fails(lab2, number):
    from labutils.checks.protocol import TASKS, judge_for_grader

    _, result = _probe(number, lab2, 0)
    ok, line = judge_for_grader(number, result, TASKS[number].make_case(12345))
    assert not ok, line


def _judge_forged(number, ns, edit):
    from labutils.checks.protocol import judge_for_grader

    case, result = _probe(number, ns, 12345)
    edit(result["data"], case)
    return judge_for_grader(number, result, case)


def test_forged_head_fails(lab2):
    def edit(data, case):
        data["fcs"][-1]["out"] = 3

    ok, line = _judge_forged("2.1", lab2, edit)
    assert not ok and "получено 3" in line


def test_forged_freeze_fails(lab2):
    def edit(data, case):
        for row in data["params"]:
            row[1] = True

    ok, line = _judge_forged("2.2", lab2, edit)
    assert not ok and "conv1.weight" in line


def test_forged_training_claims_fail(lab2):
    def edit(data, case):  # the observations claim a perfect loop, the parameters are the initial ones
        data.update(steps=8 * 6, accumulated=False, train_flags=[True] * 6)
        data["params"] = {k: v.clone() for k, v in case["init"].items()}

    ok, line = _judge_forged("2.3", lab2, edit)
    assert not ok and "параметры модели отличаются" in line


def test_forged_training_loss_fails(lab2):
    def edit(data, case):
        data["losses"] = [0.0] * len(data["losses"])

    ok, line = _judge_forged("2.3", lab2, edit)
    assert not ok


def test_forged_evaluation_fails(lab2):
    def edit(data, case):
        data["probs"] = data["probs"].flip(0)
        data["loss"] = 0.0

    ok, line = _judge_forged("2.4", lab2, edit)
    assert not ok and "вероятности класса 1" in line


def test_forged_optimizer_groups_fail(lab2):
    def edit(data, case):
        data["groups"] = [{"params": data["groups"][0]["params"] + data["groups"][1]["params"], "lr": 1e-3}]

    ok, line = _judge_forged("2.5", lab2, edit)
    assert not ok and "ожидались 2 группы" in line


def test_forged_metrics_fail(lab2):
    def edit(data, case):
        data["pairs"][-1] = [0.9, 0.9]

    ok, _ = _judge_forged("2.6", lab2, edit)
    assert not ok

    def edit_weights(data, case):
        data["results"][-1]["values"] = torch.ones_like(data["results"][-1]["values"])

    ok, _ = _judge_forged("2.7", lab2, edit_weights)
    assert not ok


def test_malformed_data_is_a_verdict_not_a_crash(lab2):
    def edit(data, case):
        del data["params"]

    ok, line = _judge_forged("2.3", lab2, edit)
    assert not ok and "2.3" in line


# ---------------------------------------------------------------------------------------------
# 2.8 grad_cam: the reference is pytorch-grad-cam; each typical mistake gets its own verdict


def _grad_cam_with(mistake=None):
    """The solution's Grad-CAM with one typical mistake switched on."""
    import torch.nn.functional as F

    def grad_cam(model, image, target_class):
        store = {}
        layer = model.layer3 if mistake == "layer3" else model.layer4
        handles = [layer.register_forward_hook(lambda m, i, out: store.update(act=out)),
                   layer.register_full_backward_hook(lambda m, gi, go: store.update(grad=go[0]))]
        try:
            logits = model(image.unsqueeze(0).clone().requires_grad_(True))
            scores = {"argmax": logits[0].max(), "sum": logits[0].sum()}
            score = scores.get(mistake, logits[0, target_class])
            score.backward()
        finally:
            if mistake != "hooks":
                for handle in handles:
                    handle.remove()
        act, grad = store["act"][0].detach(), store["grad"][0]
        weights = grad if mistake == "noavg" else grad.mean((1, 2), keepdim=True)
        cam = (weights * act).sum(0)
        if mistake != "norelu":
            cam = cam.relu()
        cam = F.interpolate(cam[None, None], size=image.shape[-2:], mode="nearest")[0, 0]
        return (cam - cam.min()) / (cam.max() - cam.min())
    return grad_cam


def test_grad_cam_solution_and_a_variant_pass(lab2, capsys):
    assert checks.check_grad_cam(lab2["grad_cam"])
    assert checks.check_grad_cam(_grad_cam_with(None))  # nearest upsampling, normalised after: also right
    assert capsys.readouterr().out.count("✅") == 2


@pytest.mark.parametrize("mistake, words", [
    ("norelu", "без ReLU"),
    ("noavg", "поэлементно"),
    ("layer3", "по layer3"),
    ("argmax", "для предсказанного класса"),
    ("sum", "по сумме логитов"),
    ("hooks", "остались хуки"),
])
def test_grad_cam_mistakes_get_their_own_verdict(mistake, words):
    msg = _verdict(checks.check_grad_cam, _grad_cam_with(mistake))
    assert msg.startswith("Задание 2.8 grad_cam:") and words in msg, msg


def test_grad_cam_of_wrong_size_is_named():
    def small(model, image, target_class):
        return _grad_cam_with(None)(model, image, target_class)[::2, ::2]

    assert "ожидалась карта размера изображения (160, 224)" in _verdict(checks.check_grad_cam, small)


def test_grad_cam_case_target_is_not_the_prediction():
    from labutils.checks import gradcam_reference as impl

    for run in impl.case_grad_cam(3)["runs"]:
        model, image = impl.cam_model(run["pool"], run["weights"]), impl.cam_image(run["image"])
        impl.set_bias(model, run["bias"])
        with torch.no_grad():
            assert int(model(image[None]).argmax()) != run["target"]


def test_grad_cam_round_trip_and_forgery(lab2):
    from labutils.checks.protocol import judge_for_grader

    case, result = _probe("2.8", lab2, 7)
    ok, line = judge_for_grader("2.8", result, _round_trip(case))
    assert ok, line
    result["data"]["runs"][0]["values"] = result["data"]["runs"][0]["values"].flip(0)  # a forged map
    ok, line = judge_for_grader("2.8", result, case)
    assert not ok and line.startswith("Задание 2.8 grad_cam:"), line


# ---------------------------------------------------------------------------------------------
# mistakes that the tasks' text, hints and later cells warn about: each rejected with its own verdict


def _loop(order=("zero_grad", "forward", "backward", "step"), loss_item=True, acc_item=True):
    """A training loop with its steps in ``order`` (a step left out is not done), summing ``loss.item()`` or
    the tensor ``loss``, and counting correct answers with ``.item()`` or as a tensor."""
    def train_one_epoch(model, loader, criterion, optimizer, device):
        model.train()
        total, correct, seen = 0.0, 0, 0
        for x, y in loader:
            out = loss = None
            for step in order:
                if step == "zero_grad":
                    optimizer.zero_grad()
                elif step == "forward":
                    out = model(x)
                    loss = criterion(out, y)
                elif step == "backward":
                    loss.backward()
                elif step == "step":
                    optimizer.step()
            total += (loss.item() if loss_item else loss) * len(x)
            hits = (out.argmax(1) == y).sum()
            correct += hits.item() if acc_item else hits
            seen += len(x)
        return total / seen, correct / seen
    return train_one_epoch


def test_2_3_rejects_loss_summed_as_tensor_without_a_warning():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no torch warning leaks out of the check
        msg = _verdict(checks.check_train_loop, _loop(loss_item=False))
    assert "вернула средний loss тензором" in msg and "loss.item()" in msg, msg


def test_2_3_rejects_accuracy_counted_as_tensor():
    msg = _verdict(checks.check_train_loop, _loop(acc_item=False))
    assert "долю верных ответов (accuracy) тензором" in msg and ".sum().item()" in msg, msg


def test_2_3_step_before_backward_has_its_own_verdict():
    msg = _verdict(checks.check_train_loop, _loop(order=("zero_grad", "forward", "step", "backward")))
    assert "optimizer.step() вызван до loss.backward()" in msg and "накапливаются" not in msg, msg


def test_2_3_zero_grad_between_backward_and_step_has_its_own_verdict():
    msg = _verdict(checks.check_train_loop, _loop(order=("forward", "backward", "zero_grad", "step")))
    assert "zero_grad() вызван между loss.backward() и optimizer.step()" in msg, msg
    assert "накапливаются" not in msg, msg


def test_2_3_forgotten_zero_grad_still_named_as_accumulation():
    msg = _verdict(checks.check_train_loop, _loop(order=("forward", "backward", "step")))
    assert "накапливаются между батчами" in msg, msg


def test_2_3_zero_grad_after_step_is_right():
    assert checks.check_train_loop(_loop(order=("forward", "backward", "step", "zero_grad")))


def test_2_5_rejects_sgd(lab2):
    def sgd(model, head_lr, backbone_lr):
        for p in model.layer4.parameters():
            p.requires_grad = True
        return torch.optim.SGD([{"params": model.layer4.parameters(), "lr": backbone_lr},
                                {"params": model.fc.parameters(), "lr": head_lr}])

    model = lab2["freeze_backbone"](lab2["replace_head"](resnet18()))
    msg = _verdict(checks.check_finetune_optimizer, sgd, model)
    assert "ожидался torch.optim.Adam" in msg and "получено SGD" in msg, msg


def test_2_6_rejects_confusion_matrix_without_labels():
    from sklearn.metrics import confusion_matrix

    def sens_spec(y_true, y_pred):
        tn, fp, fn, tp = confusion_matrix(y_true, y_pred).ravel()
        return tp / (tp + fn), tn / (tn + fp)

    msg = _verdict(checks.check_sensitivity_specificity, sens_spec)
    assert "только из больных" in msg and "labels=[0, 1]" in msg and "ValueError" in msg, msg


def test_2_6_solution_passes_without_a_warning(lab2):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert checks.check_sensitivity_specificity(lab2["sensitivity_specificity"])


def test_2_7_rejects_bincount_without_minlength():
    def class_weights(targets, num_classes):
        counts = torch.bincount(torch.as_tensor(targets)).float()
        return len(targets) / (num_classes * counts)

    msg = _verdict(checks.check_class_weights, class_weights)
    assert "не встретился" in msg and "minlength=num_classes" in msg, msg


def test_2_7_rejects_weights_that_are_not_a_float_tensor(lab2):
    as_numpy = lambda t, k: lab2["class_weights"](t, k).numpy()  # noqa: E731
    msg = _verdict(checks.check_class_weights, as_numpy)
    assert "ожидался тензор torch с плавающей точкой" in msg and "ndarray" in msg, msg


def test_2_8_rejects_attached_map():
    def attached(model, image, target_class):  # the solution without detach(): the map keeps its graph
        store = {}
        handles = [model.layer4.register_forward_hook(lambda m, i, out: store.update(act=out)),
                   model.layer4.register_full_backward_hook(lambda m, gi, go: store.update(grad=go[0]))]
        try:
            logits = model(image.unsqueeze(0).clone().requires_grad_(True))
            logits[0, target_class].backward()
        finally:
            for handle in handles:
                handle.remove()
        cam = (store["grad"][0].mean((1, 2), keepdim=True) * store["act"][0]).sum(0).relu()
        cam = torch.nn.functional.interpolate(cam[None, None], size=image.shape[-2:], mode="bilinear")[0, 0]
        return (cam - cam.min()) / (cam.max() - cam.min())

    msg = _verdict(checks.check_grad_cam, attached)
    assert "связана с графом вычислений" in msg and ".detach()" in msg, msg


def test_2_8_rejects_input_without_requires_grad():
    def no_input_grad(model, image, target_class):
        store = {}
        handles = [model.layer4.register_forward_hook(lambda m, i, out: store.update(act=out)),
                   model.layer4.register_full_backward_hook(lambda m, gi, go: store.update(grad=go[0]))]
        try:
            model(image.unsqueeze(0))[0, target_class].backward()
        finally:
            for handle in handles:
                handle.remove()
        act, grad = store["act"][0].detach(), store["grad"][0].detach()
        cam = (grad.mean((1, 2), keepdim=True) * act).sum(0).relu()
        cam = torch.nn.functional.interpolate(cam[None, None], size=image.shape[-2:], mode="bilinear")[0, 0]
        return (cam - cam.min()) / (cam.max() - cam.min())

    msg = _verdict(checks.check_grad_cam, no_input_grad)
    assert "с замороженным телом" in msg and "KeyError" in msg and "requires_grad_(True)" in msg, msg


def test_2_8_rejects_a_numpy_map():
    msg = _verdict(checks.check_grad_cam, lambda m, i, c: _grad_cam_with(None)(m, i, c).numpy())
    assert "ожидался тензор torch" in msg and "ndarray" in msg, msg


def test_2_8_case_draws_are_pre_verified():
    """Every draw a case can pick is well posed (each typical mistake separable), so no case searches."""
    from labutils.checks import gradcam_reference as impl

    for pool, trainable in impl._CAM_RUNS:
        for weight_seed in impl._CAM_POOL[pool]:
            assert impl._run_well_posed(impl._cam_run(pool, trainable, weight_seed)), (pool, weight_seed)


def test_2_8_cases_differ_between_seeds_and_repeat_for_one():
    from labutils.checks import gradcam_reference as impl

    cases = [impl.case_grad_cam(seed) for seed in range(6)]
    assert impl.case_grad_cam(3) == cases[3]
    assert len({str(case["runs"]) for case in cases}) > 3
    assert cases[0]["runs"][-1]["trainable"] == ["fc."]  # the last run freezes the whole body


def test_2_3_loop_without_backward_is_named():
    msg = _verdict(checks.check_train_loop, _loop(order=("zero_grad", "forward", "step")))
    assert "loss.backward() ни разу не вызван" in msg, msg
