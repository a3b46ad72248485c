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
    assert "ожидалась модель ResNet(ResidualBlock, [3, 4, 6, 3])" in msg and "torchvision resnet34" in msg
    assert "параметров: 21 797 672" in msg and "получено ResNet(ResidualBlock, [2, 2, 2, 2]), параметров: 11 689 512" in msg


def test_english_verdicts_with_labutils_lang_en(lab1, monkeypatch, capsys):
    monkeypatch.setenv("LABUTILS_LANG", "en")
    msg = _verdict(checks.check_factories, {"ResNet34": lab1["ResNet18"]})
    assert msg.startswith("Task 1.4 ResNet18/34/50 and ResNeXt50_32x4d: ")
    assert "with 21,797,672 parameters" in msg and "got ResNet(ResidualBlock, [2, 2, 2, 2]) with 11,689,512" in msg
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


# ---------------------------------------------------------------------------------------------
# copying torchvision scores 0 for the task (course issue 12)


def _borrowed_make_layer(lab1):
    """The lab's ResNet with torchvision's own ``_make_layer``, given the attributes it reads."""
    from torchvision.models import resnet as tv

    class ResNet(lab1["ResNet"]):
        _make_layer = tv.ResNet._make_layer
        dilation = 1
        _norm_layer = nn.BatchNorm2d
        inplanes = property(lambda self: self.in_channels, lambda self, value: setattr(self, "in_channels", value))

    return ResNet


def _copies(lab1):
    """(check, arguments, expected verdict) for each way of handing in torchvision's code."""
    from torchvision.models import resnet as tv

    class SubBlock(tv.BasicBlock):
        pass

    class BorrowedForward(lab1["ResidualBlock"]):
        forward = tv.BasicBlock.forward

    def BuildsTorchvisionBlock(*args, **kwargs):
        return tv.BasicBlock(*args, **kwargs)

    BuildsTorchvisionBlock.expansion = 1

    class SubBottleneck(tv.Bottleneck):
        pass

    class BorrowedBottleneckForward(lab1["Bottleneck"]):
        forward = tv.Bottleneck.forward

    class SubResNet(tv.ResNet):
        pass

    tv_blocks = (tv.BasicBlock, tv.Bottleneck)  # what the grader passes to check_resnet
    block, bottleneck, resnet = "написать блок самим", "написать блок самим", "написать ResNet._make_layer самим"
    return {
        "block_alias": (checks.check_residual_block, (tv.BasicBlock,),
                        f"Задание 1.1 ResidualBlock: ResidualBlock — это torchvision.models.resnet.BasicBlock "
                        f"(или его подкласс): задание требует {block}"),
        "block_subclass": (checks.check_residual_block, (SubBlock,),
                           "ResidualBlock — это torchvision.models.resnet.BasicBlock (или его подкласс)"),
        "block_forward": (checks.check_residual_block, (BorrowedForward,),
                          "ResidualBlock.forward — это функция torchvision.models.resnet.BasicBlock.forward: "
                          f"задание требует {block}"),
        "block_factory": (checks.check_residual_block, (BuildsTorchvisionBlock,),
                          "ResidualBlock(16, 16) создаёт torchvision.models.resnet.BasicBlock"),
        "bottleneck_alias": (checks.check_bottleneck, (tv.Bottleneck,),
                             "Задание 1.2 Bottleneck: Bottleneck — это torchvision.models.resnet.Bottleneck "
                             f"(или его подкласс): задание требует {bottleneck}"),
        "bottleneck_subclass": (checks.check_bottleneck, (SubBottleneck,),
                                "Bottleneck — это torchvision.models.resnet.Bottleneck (или его подкласс)"),
        "bottleneck_forward": (checks.check_bottleneck, (BorrowedBottleneckForward,),
                               "Bottleneck.forward — это функция torchvision.models.resnet.Bottleneck.forward"),
        "resnet_alias": (checks.check_resnet, (tv.ResNet, *tv_blocks),
                         "Задание 1.3 ResNet._make_layer: ResNet — это torchvision.models.resnet.ResNet "
                         f"(или его подкласс): задание требует {resnet}"),
        "resnet_subclass": (checks.check_resnet, (SubResNet, *tv_blocks),
                            "ResNet — это torchvision.models.resnet.ResNet (или его подкласс)"),
        "resnet_make_layer": (checks.check_resnet, (_borrowed_make_layer(lab1), *tv_blocks),
                              "ResNet._make_layer — это функция torchvision.models.resnet.ResNet._make_layer: "
                              f"задание требует {resnet}"),
    }


@pytest.mark.parametrize("case", ["block_alias", "block_subclass", "block_forward", "block_factory",
                                  "bottleneck_alias", "bottleneck_subclass", "bottleneck_forward",
                                  "resnet_alias", "resnet_subclass", "resnet_make_layer"])
def test_torchvision_code_handed_in_as_ones_own_fails_with_the_reason(lab1, case):
    check, args, expected = _copies(lab1)[case]
    assert expected in _verdict(check, *args)


def test_borrowed_make_layer_would_otherwise_pass(lab1):
    """The copy above is a working one: only the copy check stops it (its outputs equal torchvision's)."""
    from torchvision.models import resnet as tv

    model = _borrowed_make_layer(lab1)(tv.BasicBlock, [1, 2, 1, 1], num_classes=10)
    reference = tv.ResNet(tv.BasicBlock, [1, 2, 1, 1], num_classes=10)
    model.load_state_dict(reference.state_dict(), strict=True)


def _fresh_lab1(**replace):
    """A new copy of the solution's namespace (its functions' globals are this dict), with names replaced."""
    from conftest import solution_namespace

    ns = solution_namespace("01_residual_networks.ipynb")
    ns.update(replace)
    return ns


def _factories(ns):
    return {k: ns[k] for k in ("ResNet18", "ResNet34", "ResNet50", "ResNeXt50_32x4d")}


def _define(ns, source):
    exec(source, ns)
    return ns


@pytest.mark.parametrize("with_lab_names", [True, False])
def test_factory_returning_torchvision_model_is_a_copy(with_lab_names):
    source = ("import torchvision\n\n"
              "def ResNet18(num_classes=1000):\n"
              "    return torchvision.models.resnet18(num_classes=num_classes)\n")
    ns = _define(_fresh_lab1() if with_lab_names else {}, source)
    msg = _verdict(checks.check_factories, {"ResNet18": ns["ResNet18"]})
    assert msg.startswith("Задание 1.4") and "ResNet18() создаёт torchvision.models.resnet.ResNet" in msg
    assert "задание требует собрать модель своим классом ResNet" in msg


def test_honest_factories_are_checked_with_reference_classes(lab1, capsys):
    assert checks.check_factories(_factories(lab1))
    out = capsys.readouterr().out
    assert "ResNet18 11 689 512" in out and "эталонными ResNet и блоками из torchvision" in out


# ---------------------------------------------------------------------------------------------
# one mistake, one task: 1.4 is checked with reference ResNet and blocks


class _WidthBug(nn.Module):
    """Task 1.2 with the width formula forgotten (``width = out_channels``): wrong only for ResNeXt."""

    expansion = 4

    def __init__(self, in_channels, out_channels, stride=1, downsample=None, groups=1, base_width=64):
        super().__init__()
        width = out_channels
        self.conv1 = nn.Conv2d(in_channels, width, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, kernel_size=3, stride=stride, padding=1, groups=groups, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_channels * self.expansion, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = self.downsample(x) if self.downsample is not None else x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + identity)


def _no_channel_update(ResNet):
    """Task 1.3 with ``self.in_channels`` never updated after the first block of a stage."""

    class NoUpdate(ResNet):
        def _make_layer(self, block, out_channels, blocks, stride=1):
            downsample = None
            if stride != 1 or self.in_channels != out_channels * block.expansion:
                downsample = nn.Sequential(
                    nn.Conv2d(self.in_channels, out_channels * block.expansion, 1, stride=stride, bias=False),
                    nn.BatchNorm2d(out_channels * block.expansion))
            layers = [block(self.in_channels, out_channels, stride, downsample, self.groups, self.base_width)]
            for _ in range(1, blocks):
                layers.append(block(self.in_channels, out_channels, groups=self.groups, base_width=self.base_width))
            return nn.Sequential(*layers)

    return NoUpdate


def test_factories_pass_when_bottleneck_width_is_wrong():
    ns = _fresh_lab1(Bottleneck=_WidthBug)
    assert "Задание 1.2" in _verdict(checks.check_bottleneck, ns["Bottleneck"])
    assert count_parameters(ns["ResNeXt50_32x4d"]()) != 25_028_904  # the student's own model is wrong
    assert checks.check_factories(_factories(ns))


def test_factories_pass_when_make_layer_forgets_in_channels():
    from torchvision.models import resnet as tv

    ns = _fresh_lab1()
    ns["ResNet"] = _no_channel_update(ns["ResNet"])
    assert "Задание 1.3" in _verdict(checks.check_resnet, ns["ResNet"], tv.BasicBlock, tv.Bottleneck)
    assert count_parameters(ns["ResNet18"]()) != 11_689_512
    assert checks.check_factories(_factories(ns))


def test_factory_with_wrong_stage_list_fails_and_names_it():
    ns = _define(_fresh_lab1(), "def ResNet50(num_classes=1000):\n"
                                "    return ResNet(Bottleneck, [3, 4, 23, 3], num_classes)\n")
    msg = _verdict(checks.check_factories, {"ResNet50": ns["ResNet50"]})
    assert msg.startswith("Задание 1.4")
    assert "ожидалась модель ResNet(Bottleneck, [3, 4, 6, 3]) — как torchvision resnet50" in msg
    assert "получено ResNet(Bottleneck, [3, 4, 23, 3])" in msg


def test_factory_with_wrong_block_fails_and_names_it():
    ns = _define(_fresh_lab1(), "def ResNet34(num_classes=1000):\n"
                                "    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes)\n")
    msg = _verdict(checks.check_factories, {"ResNet34": ns["ResNet34"]})
    assert "ожидалась модель ResNet(ResidualBlock, [3, 4, 6, 3])" in msg and "получено ResNet(Bottleneck," in msg


def test_factory_must_pass_num_classes_on():
    ns = _define(_fresh_lab1(), "def ResNet18(num_classes=1000):\n"
                                "    return ResNet(ResidualBlock, [2, 2, 2, 2])\n")
    msg = _verdict(checks.check_factories, {"ResNet18": ns["ResNet18"]})
    assert "ResNet18(10): ожидалось 10 выходов у fc" in msg and "получено 1000" in msg


def test_lab_names_are_restored_after_the_check():
    ns = _fresh_lab1()
    before = {k: ns[k] for k in ("ResNet", "ResidualBlock", "Bottleneck")}
    seen = []
    _define(ns, "def ResNet18(num_classes=1000):\n"
                "    SEEN.append((ResNet, ResidualBlock, Bottleneck))\n"
                "    return ResNet(ResidualBlock, [2, 2, 2, 2], num_classes)\n")
    ns["SEEN"] = seen
    assert checks.check_factories({"ResNet18": ns["ResNet18"]})
    assert seen and seen[0][0] is not before["ResNet"] and seen[0][1] is not before["ResidualBlock"]
    assert {k: ns[k] for k in before} == before


def test_lab_names_are_restored_when_the_factory_raises():
    ns = _fresh_lab1()
    before = {k: ns[k] for k in ("ResNet", "ResidualBlock", "Bottleneck")}
    seen = ns["SEEN"] = []
    _define(ns, "def ResNet18(num_classes=1000):\n"
                "    SEEN.append(ResNet)\n"
                "    ResNet(ResidualBlock, [2, 2, 2, 2], num_classes)\n"
                "    raise RuntimeError('boom')\n\n"
                "def ResNet34(num_classes=1000):\n"
                "    raise NotImplementedError('Задание 1.4')\n")
    with pytest.raises(RuntimeError, match="boom"):
        checks.check_factories({"ResNet18": ns["ResNet18"]})
    assert seen and seen[0] is not before["ResNet"]  # the reference was in place while it ran
    assert {k: ns[k] for k in before} == before
    assert "ещё не выполнено" in _verdict(checks.check_factories, {"ResNet34": ns["ResNet34"]})
    assert {k: ns[k] for k in before} == before


def test_absent_names_are_not_added_and_such_a_factory_is_checked_as_a_whole(lab1, capsys):
    """A factory whose globals lack the lab's names runs unchanged; its own model is counted."""
    ResNet, Block = lab1["ResNet"], lab1["ResidualBlock"]

    def ResNet18(num_classes=1000):
        return ResNet(Block, [2, 2, 2, 2], num_classes)

    assert not {"ResNet", "ResidualBlock", "Bottleneck"} & set(ResNet18.__globals__)
    assert checks.check_factories({"ResNet18": ResNet18})
    assert not {"ResNet", "ResidualBlock", "Bottleneck"} & set(ResNet18.__globals__)
    assert "число параметров совпадает с torchvision: ResNet18 11 689 512" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------
# mistakes the hints warn about, and what later cells do with the result: each with its own verdict


def test_1_5_rejects_squeeze(lab1):
    def extract_embedding(model, x):  # squeeze() also drops the batch dimension of a single image
        x = model.maxpool(model.relu(model.bn1(model.conv1(x))))
        x = model.layer4(model.layer3(model.layer2(model.layer1(x))))
        return model.avgpool(x).squeeze()

    msg = _verdict(checks.check_embedding, extract_embedding, lab1["ResNet18"]())
    assert "для батча из одного изображения (1, 3, 64, 64)" in msg and "(1, 512)" in msg, msg
    assert "torch.flatten(x, 1)" in msg and "получено (512,)" in msg, msg


def test_1_3_downsample_condition_without_expansion_names_the_reason(lab1):
    import torch.nn as nn

    ResNet = lab1["ResNet"]

    class NoExpansion(ResNet):
        def _make_layer(self, block, out_channels, blocks, stride=1):
            downsample = None
            if stride != 1 or self.in_channels != out_channels:  # block.expansion forgotten
                downsample = nn.Sequential(
                    nn.Conv2d(self.in_channels, out_channels * block.expansion, 1, stride=stride, bias=False),
                    nn.BatchNorm2d(out_channels * block.expansion))
            layers = [block(self.in_channels, out_channels, stride, downsample, self.groups, self.base_width)]
            self.in_channels = out_channels * block.expansion
            for _ in range(1, blocks):
                layers.append(block(self.in_channels, out_channels, groups=self.groups, base_width=self.base_width))
            return nn.Sequential(*layers)

    msg = _verdict(checks.check_resnet, NoExpansion, lab1["ResidualBlock"], lab1["Bottleneck"])
    assert "у layer1.0 нет модуля downsample" in msg and "block.expansion" in msg, msg
    assert "имена параметров отличаются" not in msg, msg


def test_shape_mismatch_says_which_side_is_expected(lab1):
    import torch.nn as nn

    class Narrow(lab1["Bottleneck"]):  # conv3 keeps out_channels instead of out_channels * expansion
        def __init__(self, in_channels, out_channels, stride=1, downsample=None, groups=1, base_width=64):
            super().__init__(in_channels, out_channels, stride, downsample, groups, base_width)
            self.conv3 = nn.Conv2d(self.conv3.in_channels, out_channels, 1, bias=False)

    msg = _verdict(checks.check_bottleneck, Narrow)
    assert "у conv3.weight получено [16, 16, 1, 1], ожидалось [64, 16, 1, 1]" in msg, msg
