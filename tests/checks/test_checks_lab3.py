"""Lab 3 self-checks: the instructor's code passes, typical mistakes get their own verdict."""
import pytest
import torch
from torchvision import transforms
from torchvision.models import resnext50_32x4d

from labutils import checks
from labutils.data import IMAGENET_MEAN, IMAGENET_STD


def _verdict(fn, *args, **kwargs):
    with pytest.raises(checks.CheckFailed) as info:
        fn(*args, **kwargs)
    return str(info.value)


def test_solution_passes(lab3, capsys):
    assert checks.check_train_loop(lab3["train_one_epoch"], task="Task 3.3")
    assert checks.check_predict(lab3["predict"])
    assert checks.check_denormalize(lab3["denormalize"])
    good = transforms.Compose([transforms.Resize((64, 64)), transforms.ToTensor(),
                               transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    assert checks.check_transform(good, 64)
    out = capsys.readouterr().out
    assert out.count("✅") == 4 and "❌" not in out


def test_model_must_be_resnext50_32x4d():
    from torchvision.models import resnet50, resnext101_32x8d

    good = resnext50_32x4d()
    good.fc = torch.nn.Linear(2048, 100)
    assert checks.check_resnext50_32x4d(good)
    plain = resnet50()
    plain.fc = torch.nn.Linear(2048, 100)
    assert "кардинальность 32 с 4 каналами на группу" in _verdict(checks.check_resnext50_32x4d, plain)
    with torch.device("meta"):
        deep = resnext101_32x8d()
    assert "[3, 4, 6, 3], получено [3, 4, 23, 3]" in _verdict(checks.check_resnext50_32x4d, deep)
    assert "ожидалось fc = Linear(2048, 100)" in _verdict(checks.check_resnext50_32x4d, resnext50_32x4d())
    msg = _verdict(checks.check_resnext50_32x4d, plain, task="Task 3.1 model")  # the notebook's English label
    assert msg.startswith("Задание 3.1 модель: ")


def test_head_with_wrong_number_of_outputs():
    model = resnext50_32x4d()
    model.fc = torch.nn.Linear(2048, 10)
    assert "ожидалось выходов у головы: 100, получено 10" in _verdict(checks.check_head, model, 100, 2048)


def test_transform_without_normalization():
    tf = transforms.Compose([transforms.Resize((64, 64)), transforms.ToTensor()])
    assert "добавьте Normalize" in _verdict(checks.check_transform, tf, 64)


def test_transform_with_wrong_size():
    tf = transforms.Compose([transforms.Resize((32, 32)), transforms.ToTensor(),
                             transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    assert "формы (3, 64, 64)" in _verdict(checks.check_transform, tf, 64)


def test_predict_left_in_train_mode(lab3):
    def predict(model, loader, device):
        model.eval = lambda: model  # forgot model.eval()
        return lab3["predict"](model, loader, device)

    assert "ожидался режим eval" in _verdict(checks.check_predict, predict)


def test_predict_returning_tensors():
    def predict(model, loader, device):
        x, y = loader.dataset.tensors
        model.eval()
        with torch.no_grad():
            return y, model(x).argmax(1)

    assert "ожидались массивы NumPy" in _verdict(checks.check_predict, predict)


def test_denormalize_that_is_not_the_inverse(lab3):
    def swapped(tensor, mean=IMAGENET_MEAN, std=IMAGENET_STD):
        return lab3["denormalize"](tensor, mean=std, std=mean)

    def normalize_again(tensor, mean=IMAGENET_MEAN, std=IMAGENET_STD):
        m, s = torch.tensor(mean).view(3, 1, 1), torch.tensor(std).view(3, 1, 1)
        return (tensor - m) / s

    assert "mean и std перепутаны" in _verdict(checks.check_denormalize, swapped)
    assert "denormalize(normalize(x)) == x" in _verdict(checks.check_denormalize, normalize_again)


def test_training_loop_without_train_mode(lab3):
    def loop(model, loader, criterion, optimizer, device):
        model.train = lambda mode=True: model  # the manual's slip: no train() inside the loop
        return lab3["train_one_epoch"](model, loader, criterion, optimizer, device)

    msg = _verdict(checks.check_train_loop, loop, task="Task 3.3 training loop")  # the label grade.py passes
    assert msg.startswith("Задание 3.3 цикл обучения: ") and "сначала вызовите model.train()" in msg


# ---------------------------------------------------------------------------------------------
# the grader's round trip: probe in the notebook's namespace, data through torch.save/load, judge here


def _round_trip(result):
    import io

    buffer = io.BytesIO()
    torch.save(result, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def _grade(number, ns, case):
    from labutils.checks.protocol import judge_for_grader, probe_for_grader

    return judge_for_grader(number, _round_trip(probe_for_grader(number, ns, case)), case)


def _resnext_on_meta(build=resnext50_32x4d, num_classes=100):
    with torch.device("meta"):  # the probe reads names and shapes only
        model = build()
        model.fc = torch.nn.Linear(2048, num_classes)
    return model


def _good_transform(size):
    return transforms.Compose([transforms.Resize((size, size)), transforms.ToTensor(),
                               transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)])


def _lab3_namespace(lab3):
    return {**lab3, "model": _resnext_on_meta(), "transform": _good_transform(64), "IMAGE_SIZE": 64}


@pytest.mark.parametrize("number", ["3.1", "3.2", "3.3", "3.4", "3.5"])
def test_grader_round_trip_passes_the_solution(lab3, number):
    from labutils.checks.protocol import TASKS

    case = TASKS[number].make_case(12345)
    ok, line = _grade(number, _lab3_namespace(lab3), case)
    assert ok, line


@pytest.mark.parametrize("number", ["3.2", "3.3", "3.4", "3.5"])
def test_grader_rejects_data_of_another_seed(lab3, number):
    """The data the solution gives on the notebook's seed-0 case fails against the grader's case."""
    from labutils.checks.protocol import TASKS, judge_for_grader, probe_for_grader

    ns = _lab3_namespace(lab3)
    forged = _round_trip(probe_for_grader(number, ns, TASKS[number].make_case(0)))
    assert "data" in forged
    ok, line = judge_for_grader(number, forged, TASKS[number].make_case(12345))
    assert not ok, line


def test_grader_rejects_resnext_claims_over_resnet_shapes(lab3):
    """A model reported with ResNeXt's stages, groups and head but ResNet-50's state_dict fails on the shapes."""
    from torchvision.models import resnet50

    from labutils.checks.protocol import TASKS, judge_for_grader, probe_for_grader

    case = TASKS["3.1"].make_case(12345)
    good = probe_for_grader("3.1", {"model": _resnext_on_meta()}, case)["data"]
    plain = probe_for_grader("3.1", {"model": _resnext_on_meta(resnet50)}, case)
    assert not judge_for_grader("3.1", _round_trip(plain), case)[0]
    claims = {key: good[key] for key in ("stages", "conv2", "fc")}
    forged = {"data": {**plain["data"], **claims}}
    ok, line = judge_for_grader("3.1", _round_trip(forged), case)
    assert not ok and "формы параметров отличаются от resnext50_32x4d из torchvision" in line
    forged["data"]["shapes"] = {k: v for k, v in good["shapes"].items() if k != "fc.bias"}
    ok, line = judge_for_grader("3.1", _round_trip(forged), case)
    assert not ok and "fc.bias" in line


def test_grader_rejects_a_wrong_head(lab3):
    from labutils.checks.protocol import TASKS

    case = TASKS["3.1"].make_case(7)
    ok, line = _grade("3.1", {"model": _resnext_on_meta(num_classes=10)}, case)
    assert not ok and "ожидалось fc = Linear(2048, 100), получено (2048, 10)" in line


def test_grader_rejects_predict_in_train_mode_even_with_forged_observations(lab3):
    """The model of task 3.4 has BatchNorm: predictions made in train mode are wrong whatever the hook says."""
    from labutils.checks.protocol import TASKS, judge_for_grader, probe_for_grader

    def predict(model, loader, device):
        model.eval = lambda: model  # forgot model.eval()
        return lab3["predict"](model, loader, device)

    case = TASKS["3.4"].make_case(12345)
    result = _round_trip(probe_for_grader("3.4", {"predict": predict}, case))
    ok, line = judge_for_grader("3.4", result, case)
    assert not ok and "ожидался режим eval" in line
    result["data"]["calls"] = [[False, False] for _ in result["data"]["calls"]]  # claims eval mode and no_grad
    ok, line = judge_for_grader("3.4", result, case)
    assert not ok and "индексы максимального логита" in line


def test_grader_rejects_forged_predictions_and_inverse(lab3):
    from labutils.checks.protocol import TASKS, judge_for_grader, probe_for_grader

    case = TASKS["3.4"].make_case(12345)
    result = _round_trip(probe_for_grader("3.4", lab3, case))
    result["data"]["y_pred"] = torch.zeros_like(result["data"]["y_pred"])
    assert not judge_for_grader("3.4", result, case)[0]

    case = TASKS["3.5"].make_case(12345)
    result = _round_trip(probe_for_grader("3.5", lab3, case))
    result["data"]["image"]["out"] = result["data"]["image"]["out"] + 1e-3
    ok, line = judge_for_grader("3.5", result, case)
    assert not ok and "одного изображения" in line


def test_grader_judges_the_transform_at_the_notebooks_image_size(lab3):
    from labutils.checks.protocol import TASKS, judge_for_grader, probe_for_grader

    case = TASKS["3.2"].make_case(12345)
    ns = {"transform": _good_transform(32), "IMAGE_SIZE": 32}
    assert _grade("3.2", ns, case)[0]
    ok, line = _grade("3.2", {"transform": _good_transform(32), "IMAGE_SIZE": 64}, case)
    assert not ok and "формы (3, 64, 64)" in line
    result = _round_trip(probe_for_grader("3.2", ns, case))
    result["data"]["out"] = result["data"]["out"] * 0.99  # close, but not the reference's numbers
    ok, line = judge_for_grader("3.2", result, case)
    assert not ok and "max |diff|" in line


# ---------------------------------------------------------------------------------------------
# mistakes the hints warn about: each with its own verdict


def test_3_2_rejects_resize_with_one_number():
    one_number = transforms.Compose([transforms.Resize(64), transforms.ToTensor(),
                                     transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    msg = _verdict(checks.check_transform, one_number, 64)
    assert "для неквадратного изображения 24×40" in msg and "Resize((64, 64))" in msg, msg


def _loop_3_3(order=("zero_grad", "forward", "backward", "step"), loss_item=True):
    """Task 3.3's loop with its steps in ``order``, summing ``loss.item()`` or the tensor ``loss``."""
    def train_one_epoch(model, train_loader, criterion, optimizer, device):
        model.train()
        running_loss, correct = 0.0, 0
        for inputs, labels in train_loader:
            outputs = loss = None
            for step in order:
                if step == "zero_grad":
                    optimizer.zero_grad()
                elif step == "forward":
                    outputs = model(inputs)
                    loss = criterion(outputs, labels)
                elif step == "backward":
                    loss.backward()
                else:
                    optimizer.step()
            running_loss += (loss.item() if loss_item else loss) * inputs.size(0)
            correct += (torch.max(outputs, 1)[1] == labels).sum().item()
        return running_loss / len(train_loader.dataset), correct / len(train_loader.dataset)
    return train_one_epoch


def test_3_3_rejects_loss_summed_as_tensor_without_a_warning():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        msg = _verdict(checks.check_train_loop, _loop_3_3(loss_item=False), task="Task 3.3 training loop")
    assert msg.startswith("Задание 3.3 цикл обучения:") and "вернула средний loss тензором" in msg, msg


def test_3_3_zero_grad_after_backward_has_its_own_verdict():
    msg = _verdict(checks.check_train_loop, _loop_3_3(order=("forward", "backward", "zero_grad", "step")),
                   task="Task 3.3 training loop")
    assert "zero_grad() вызван между loss.backward() и optimizer.step()" in msg, msg
