"""The grader's code scan (labutils.grader.integrity): library copies in Lab 1 and tampering flags, read from
the submission's text, with no false alarm on the instructor's solutions."""
import nbformat
import pytest

from labutils.grader import integrity

from conftest import SOLUTIONS

LAB1 = "01_residual_networks"


def _nb(*sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    return nb


@pytest.mark.parametrize("lab", ["01_residual_networks", "02_chest_xray_finetuning", "03_resnext_cifar100",
                                 "04_dog_breeds_strategies"])
def test_the_solutions_raise_no_alarm(lab):
    nb = nbformat.read(str(SOLUTIONS / f"{lab}.ipynb"), as_version=4)
    assert integrity.library_copies(nb, lab) == {}
    assert integrity.tamper_flags(nb, lab) == []
    assert integrity.pasted_library(nb, lab) == []
    # the solution cells are what a student writes: the scan reads them, and only them
    own = integrity.student_cells(nb, lab)
    assert own and all("### BEGIN SOLUTION" in source for _, source in own)


COPIES = {
    "import alias": (["from torchvision.models.resnet import BasicBlock as ResidualBlock"], "1.1"),
    "assigned alias": (["import torchvision\nResidualBlock = torchvision.models.resnet.BasicBlock"], "1.1"),
    "type() subclass": (["import torchvision\n"
                         "ResidualBlock = type('ResidualBlock', (torchvision.models.resnet.BasicBlock,), {})"], "1.1"),
    "empty subclass": (["from torchvision.models import resnet as R\nclass Bottleneck(R.Bottleneck):\n    pass"], "1.2"),
    "borrowed method": (["import torchvision.models.resnet as tvr\nimport torch.nn as nn\n"
                         "class ResNet(nn.Module):\n    _make_layer = tvr.ResNet._make_layer"], "1.3"),
    "factory returning torchvision's": (["from torchvision.models import resnet18\n"
                                         "def ResNet18(num_classes=1000):\n    return resnet18(num_classes=num_classes)"],
                                        "1.4"),
}


@pytest.mark.parametrize("name", list(COPIES))
def test_library_copies_are_found_for_their_own_task(name):
    sources, task = COPIES[name]
    found = integrity.library_copies(_nb(*sources), LAB1)
    assert set(found) == {task}, found
    assert "0 баллов" in found[task] and "torchvision.models" in found[task]


def test_a_factory_is_not_blamed_for_the_class_it_builds_with():
    nb = _nb("from torchvision.models.resnet import BasicBlock as ResidualBlock",
             "def ResNet18(num_classes=1000):\n    return ResNet(ResidualBlock, [2, 2, 2, 2], num_classes)")
    assert set(integrity.library_copies(nb, LAB1)) == {"1.1"}
    assert integrity.library_copies(nb, "04_dog_breeds_strategies") == {}  # Lab 4 uses torchvision by design


FLAGS = {
    "import sys, types\nsys.modules['json'] = types.ModuleType('json')": "sys.modules",
    "import builtins\nbuiltins.print = lambda *a: None": "встроенные",
    "import sys\nsys.meta_path.insert(0, object())": "sys.meta_path",
    "get_ipython().set_custom_exc((Exception,), lambda *a: None)": "set_custom_exc",
    "get_ipython().events.register('post_run_cell', print)": "IPython",
    "import importlib\nimportlib.reload = lambda m: m": "меняет объекты библиотек",
    "from labutils import checks\nchecks.check_head = print": "меняет объекты библиотек",
    "import os\nos.kill(os.getppid(), 9)": "сигналы",
    "import subprocess\nsubprocess.Popen(['sleep', '9'], start_new_session=True)": "fork/setsid",
    "import ctypes": "ctypes",
}


@pytest.mark.parametrize("source", list(FLAGS))
def test_tampering_is_flagged_with_cell_and_line(source):
    flags = integrity.tamper_flags(_nb("x = 1", source), LAB1)
    assert len(flags) == 1 and FLAGS[source] in flags[0] and flags[0].startswith("ячейка 1, строка "), flags


def test_a_cell_that_does_not_parse_is_skipped():
    assert integrity.tamper_flags(_nb("def broken(:\n", "%timeit 1", "!ls"), LAB1) == []


# issue 23: what could forge the probes' data, and code the scan used to miss (magics, strings run as code)
FORGING = {
    "import inspect\nif any('probe' in f.function for f in inspect.stack()):\n    pass": ["стек вызовов"],
    "import sys\nframe = sys._getframe(1)": ["стек вызовов"],
    "def f(frame):\n    return frame.f_back.f_globals": ["стек вызовов"],
    "import sys\nsys.settrace(lambda *a: None)": ["трассировку"],
    "import threading\nthreading.setprofile(print)": ["трассировку"],
    "import threading\nthreading.Thread(target=print, daemon=True).start()": ["потоки"],
    "from threading import Thread\nclass Swapper(Thread):\n    pass": ["потоки"],
    "exec('x = 1')": ["из строки"],
    "code = compile('x = 1', 'f', 'exec')": ["из строки"],
    "import importlib\nname = 'o' + 's'\nmod = importlib.import_module(name)": ["вычисленному имени"],
    "mod = __import__('o' + 's')": ["вычисленному имени"],
    "%time import sys; sys.modules['json'] = None": ["sys.modules"],
    "%%time\nget_ipython().set_custom_exc((Exception,), print)\n": ["set_custom_exc"],
    "get_ipython().run_line_magic('time', \"import sys; sys.modules['x'] = 1\")": ["sys.modules"],
    "exec(\"import builtins\\nbuiltins.print = None\")": ["из строки", "встроенные"],
    "exec(\"exec('import ctypes')\")": ["из строки", "ctypes"],
}


@pytest.mark.parametrize("source", list(FORGING))
def test_forging_and_hidden_code_are_flagged(source):
    flags = integrity.tamper_flags(_nb("x = 1", source), LAB1)
    assert len(flags) == len(FORGING[source]), flags
    for flag, expected in zip(flags, FORGING[source]):
        assert expected in flag and flag.startswith("ячейка 1, строка "), flags


def test_plain_uses_are_not_flagged():
    harmless = ("import importlib, re\nmod = importlib.import_module('math')\npattern = re.compile('a+')\n"
                "model = None\nif model is not None:\n    model.eval()\n")
    assert integrity.tamper_flags(_nb(harmless), LAB1) == []
