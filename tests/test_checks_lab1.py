"""Lab 1 self-checks: full marks for the instructor's code, a precise verdict for each typical mistake."""
import pytest
import torch
from torch import nn

from labutils import checks
from labutils.models import count_parameters


def test_solution_passes_every_check(lab1, capsys):
    ns = lab1
    assert checks.check_residual_block(ns["ResidualBlock"])
    assert checks.check_bottleneck(ns["Bottleneck"])
    assert checks.check_resnet(ns["ResNet"], ns["ResidualBlock"], ns["Bottleneck"])
    assert checks.check_factories({k: ns[k] for k in ("ResNet18", "ResNet34", "ResNet50", "ResNeXt50_32x4d")})
    assert checks.check_embedding(ns["extract_embedding"], ns["ResNet18"]())
    out = capsys.readouterr().out
    assert out.count("✅") == 5 and "❌" not in out


def test_parameter_counts_match_the_published_ones(lab1):
    assert count_parameters(lab1["ResNet18"]()) == 11_689_512
    assert count_parameters(lab1["ResNet50"]()) == 25_557_032
    assert count_parameters(lab1["ResNeXt50_32x4d"]()) == 25_028_904


@pytest.mark.parametrize("arch, factory", [("resnet18", "ResNet18"), ("resnet50", "ResNet50"),
                                            ("resnext50_32x4d", "ResNeXt50_32x4d")])
def test_hand_built_models_equal_torchvision(lab1, arch, factory):
    from torchvision.models import get_model

    torch.manual_seed(1)
    assert checks.check_same_as_torchvision(lab1[factory](), get_model(arch, weights=None), arch, image_size=96)


def _verdict(fn, *args):
    with pytest.raises(checks.CheckFailed) as info:
        fn(*args)
    return str(info.value)


def test_block_without_skip_is_named(lab1):
    class NoSkip(lab1["ResidualBlock"]):
        def forward(self, x):
            return self.relu(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))))

    msg = _verdict(checks.check_residual_block, NoSkip)
    assert msg.startswith("Задание 1.1 ResidualBlock") and "нет skip-соединения" in msg


def test_relu_before_addition_is_named(lab1):
    class ReluFirst(lab1["ResidualBlock"]):
        def forward(self, x):
            shortcut = self.downsample(x) if self.downsample is not None else x
            return self.relu(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))) + shortcut

    assert "ReLU применяется до сложения" in _verdict(checks.check_residual_block, ReluFirst)


def test_renamed_layers_are_reported(lab1):
    class Renamed(lab1["ResidualBlock"]):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.shortcut = self.downsample
            del self.downsample
            self.downsample = None

        def forward(self, x):
            shortcut = self.shortcut(x) if self.shortcut is not None else x
            return self.relu(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))) + shortcut)

    msg = _verdict(checks.check_residual_block, Renamed)
    assert "имена параметров отличаются" in msg and "shortcut.0.weight" in msg


def test_bottleneck_without_groups_is_reported(lab1):
    class NoGroups(lab1["Bottleneck"]):
        def __init__(self, in_channels, out_channels, stride=1, downsample=None, groups=1, base_width=64):
            super().__init__(in_channels, out_channels, stride, downsample, 1, 64)

    msg = _verdict(checks.check_bottleneck, NoGroups)
    assert msg.startswith("Задание 1.2 Bottleneck")


def test_downsample_with_wrong_stride_is_reported(lab1):
    ResNet = lab1["ResNet"]

    class WrongStride(ResNet):
        def _make_layer(self, block, out_channels, blocks, stride=1):
            layer = ResNet._make_layer(self, block, out_channels, blocks, stride)
            if layer[0].downsample is not None:
                layer[0].downsample[0].stride = (1, 1)
            return layer

    msg = _verdict(checks.check_resnet, WrongStride, lab1["ResidualBlock"], lab1["Bottleneck"])
    assert msg.startswith("Задание 1.3") and "основного пути и shortcut" in msg


def test_wrong_factory_reports_expected_count(lab1):
    msg = _verdict(checks.check_factories, {"ResNet34": lab1["ResNet18"]})
    assert "ожидалось параметров: 21 797 672" in msg and "получено 11 689 512" in msg


def test_english_verdicts_with_labutils_lang_en(lab1, monkeypatch, capsys):
    monkeypatch.setenv("LABUTILS_LANG", "en")
    msg = _verdict(checks.check_factories, {"ResNet34": lab1["ResNet18"]})
    assert msg.startswith("Task 1.4 ResNet18/34/50 and ResNeXt50_32x4d: ")
    assert "expected 21,797,672 parameters" in msg and "got 11,689,512" in msg
    assert checks.check_residual_block(lab1["ResidualBlock"])
    assert capsys.readouterr().out.startswith("✅ Task 1.1 ResidualBlock: ok — same output as torchvision's BasicBlock")


def test_embedding_must_feed_fc(lab1):
    def max_pooled(model, x):
        x = model.maxpool(model.relu(model.bn1(model.conv1(x))))
        return model.layer4(model.layer3(model.layer2(model.layer1(x)))).amax((2, 3))

    assert "model.fc(embedding) равно model(x)" in _verdict(checks.check_embedding, max_pooled, lab1["ResNet18"]())


def test_failed_verdict_renders_as_one_line():
    err = checks.CheckFailed("Задание 9 demo: ожидалось 1, получено 2")
    assert err._render_traceback_() == ["❌ Задание 9 demo: ожидалось 1, получено 2"]


def test_passing_verdict_is_russian_by_default(lab1, capsys):
    assert checks.check_residual_block(lab1["ResidualBlock"])
    assert capsys.readouterr().out.startswith("✅ Задание 1.1 ResidualBlock: верно — тот же выход, что у BasicBlock")
