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
