"""The course in one table: its labs and their graded tasks (all four labs; read by the instructor tooling).

Every fact about a graded task is written once, here: its number, title and points, the notebook
names the grader's probe reads, and the self-check the notebook calls. The grader's rubric
(:mod:`labutils.grader.rubric`), its lab detection, its probe cell and its code scan
(:mod:`labutils.grader.integrity`) read this table; the checks, the authoring tool, the budgets
and the nbgrader export can read it through the same accessors.

Adding a task is one row below plus its check (``labutils.checks.labN``) and its notebook cells;
adding a lab is one :func:`_lab` entry. ``tests/test_course.py`` keeps the table and the registered
checks (:data:`labutils.checks.protocol.TASKS`) in agreement.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import __version__

# The folder that holds the ``labutils`` package: the course checkout in an editable install,
# ``site-packages`` in an installed copy. The grader mounts it into the sandbox and puts it on the
# worker's PYTHONPATH.
ROOT = Path(__file__).resolve().parent.parent
PACKAGED_NOTEBOOKS = Path(__file__).resolve().parent / "released"  # filled by setup.py's build step


def released_notebooks() -> Path:
    """The folder of the released student notebooks, which the grader's code scan compares a
    submission with: the copy shipped inside an installed package (``labutils/released/``, see
    ``setup.py``), else the checkout's ``notebooks/``."""
    return PACKAGED_NOTEBOOKS if PACKAGED_NOTEBOOKS.is_dir() else ROOT / "notebooks"


NOTEBOOKS = released_notebooks()

# Where a lone notebook installs the course from, and what its badges open: set here once, read by
# ``python -m labutils.assignments build`` (the first cell of every notebook, the Colab and Kaggle
# badges) and by the README's test. ``INSTALL_SOURCE`` is a pip requirement: the distribution on
# PyPI (below), or the release tag of the repository, e.g.
# f"{DISTRIBUTION}[labs] @ git+https://github.com/{REPOSITORY}@{RELEASE_TAG}".
DISTRIBUTION = "resnet-transfer-course"
REPOSITORY = "resnet-transfer-course/resnet-transfer-course"  # owner/name of the public GitHub repository
RELEASE_TAG = f"v{__version__}"
INSTALL_SOURCE = f"{DISTRIBUTION}[labs]=={__version__}"


def notebook_url(stem: str) -> str:
    """The released student notebook ``stem`` on GitHub, at the release tag."""
    return f"https://github.com/{REPOSITORY}/blob/{RELEASE_TAG}/notebooks/{stem}.ipynb"


def colab_url(stem: str) -> str:
    """Google Colab's link that opens the released notebook ``stem``."""
    return f"https://colab.research.google.com/github/{REPOSITORY}/blob/{RELEASE_TAG}/notebooks/{stem}.ipynb"


def kaggle_url(stem: str) -> str:
    """Kaggle's link that imports the released notebook ``stem`` into a new notebook."""
    return f"https://kaggle.com/kernels/welcome?src={notebook_url(stem)}"


def badges(stem: str) -> str:
    """The "Open in Colab" and "Open in Kaggle" badges of notebook ``stem``, in Markdown."""
    return (f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(stem)}) "
            f"[![Open In Kaggle](https://kaggle.com/static/images/open-in-kaggle.svg)]({kaggle_url(stem)})")


@dataclass(frozen=True)
class Task:
    """One graded task of a lab notebook."""

    number: str               # "1.1": the lab's number, a dot, the task's position in the lab
    title: str                # what the task builds, in English ("ResidualBlock", "training loop")
    points: int               # points in the gradebook (the grader's and nbgrader's)
    names: tuple[str, ...]    # notebook globals the grader's probe reads, in the order it passes them
    check: str                # the self-check the notebook calls, a function of ``labutils.checks``
    from_scratch: bool = False  # written without torchvision's ResNet code (else the code scan scores 0)

    @property
    def label(self) -> str:
        """The task's English label, e.g. ``"Task 1.1 ResidualBlock"`` (see ``messages.task_label``)."""
        return f"Task {self.number} {self.title}"

    @property
    def lab_id(self) -> str:
        """The id of the lab the task belongs to: ``"1.4"`` -> ``"01"``."""
        return f"{int(self.number.split('.')[0]):02d}"


@dataclass(frozen=True)
class Lab:
    """One lab: its notebook and its graded tasks, in notebook order."""

    id: str                   # "01"
    stem: str                 # notebook file name without ``.ipynb``, in solutions/ and notebooks/
    title: str                # in English
    checks: str               # module of ``labutils.checks`` that registers the lab's tasks ("lab1")
    tasks: tuple[Task, ...]

    @property
    def points(self) -> int:
        """The lab's full marks."""
        return sum(task.points for task in self.tasks)

    @property
    def graded_names(self) -> dict[str, str]:
        """Notebook name -> the task that grades it."""
        return {name: task.number for task in self.tasks for name in task.names}

    def checked_by(self, check: str) -> Task | None:
        """The lab's task whose self-check is the function ``check`` (one check may serve two labs'
        tasks, e.g. ``check_train_loop``), or None."""
        return next((task for task in self.tasks if task.check == check), None)


def _task(number: str, title: str, points: int, names: str | tuple[str, ...], check: str, *,
          from_scratch: bool = False) -> Task:
    return Task(number, title, points, (names,) if isinstance(names, str) else tuple(names), check, from_scratch)


def _lab(number: int, name: str, title: str, *tasks: Task) -> Lab:
    return Lab(f"{number:02d}", f"{number:02d}_{name}", title, f"lab{number}", tuple(tasks))


_FACTORIES = ("ResNet18", "ResNet34", "ResNet50", "ResNeXt50_32x4d")

LABS: tuple[Lab, ...] = (
    _lab(1, "residual_networks", "Residual networks (ResNet)",
         _task("1.1", "ResidualBlock", 2, "ResidualBlock", "check_residual_block", from_scratch=True),
         _task("1.2", "Bottleneck", 2, "Bottleneck", "check_bottleneck", from_scratch=True),
         _task("1.3", "ResNet._make_layer", 2, "ResNet", "check_resnet", from_scratch=True),
         _task("1.4", "ResNet18/34/50 and ResNeXt50_32x4d", 1, _FACTORIES, "check_factories", from_scratch=True),
         _task("1.5", "extract_embedding", 1, "extract_embedding", "check_embedding")),
    _lab(2, "chest_xray_finetuning", "Healthy or ill: fine-tuning ResNet-18 on chest X-rays",
         _task("2.1", "replace_head", 1, "replace_head", "check_head"),
         _task("2.2", "freeze_backbone", 1, "freeze_backbone", "check_frozen_backbone"),
         _task("2.3", "train_one_epoch", 2, "train_one_epoch", "check_train_loop"),
         _task("2.4", "evaluate", 2, "evaluate", "check_eval_loop"),
         _task("2.5", "fine-tuning optimizer", 1, "make_finetune_optimizer", "check_finetune_optimizer"),
         _task("2.6", "sensitivity_specificity", 1, "sensitivity_specificity", "check_sensitivity_specificity"),
         _task("2.7", "class_weights", 1, "class_weights", "check_class_weights"),
         _task("2.8", "grad_cam", 2, "grad_cam", "check_grad_cam")),
    _lab(3, "resnext_cifar100", "Fine-tuning a pretrained ResNeXt on CIFAR-100",
         _task("3.1", "model and new head", 1, "model", "check_resnext50_32x4d"),
         _task("3.2", "transform", 1, ("transform", "IMAGE_SIZE"), "check_transform"),
         _task("3.3", "training loop", 2, "train_one_epoch", "check_train_loop"),
         _task("3.4", "predict", 2, "predict", "check_predict"),
         _task("3.5", "denormalize", 1, "denormalize", "check_denormalize")),
    _lab(4, "dog_breeds_strategies", "Freeze, unfreeze partly or fine-tune all: ResNet-50 and EfficientNet-B0 "
                                     "on five dog breeds",
         _task("4.1", "make_model", 1, "make_model", "check_make_model"),
         _task("4.2", "apply_strategy", 2, "apply_strategy", "check_strategies"),
         _task("4.3", "make_optimizer", 1, "make_optimizer", "check_optimizer"),
         _task("4.4", "pick_best", 1, "pick_best", "check_pick_best"),
         _task("4.5", "onnx_max_abs_diff", 1, "onnx_max_abs_diff", "check_onnx_parity")),
)


def lab(key: str | int) -> Lab:
    """The lab named by its notebook stem (``"01_residual_networks"``), its id (``"01"``) or number (``1``).

    An unknown key raises ``KeyError`` naming the known labs.
    """
    text = str(key)
    for one in LABS:
        if text in (one.stem, one.id) or (text.isdigit() and int(text) == int(one.id)):
            return one
    raise KeyError(f"no lab {key!r} in labutils.course; known: {', '.join(one.stem for one in LABS)}")


def tasks() -> tuple[Task, ...]:
    """Every graded task of the course, lab by lab, in notebook order."""
    return tuple(task for one in LABS for task in one.tasks)


def task(number: str) -> Task:
    """The task ``number`` (``"2.3"``); an unknown number raises ``KeyError`` naming the known ones."""
    for one in tasks():
        if one.number == number:
            return one
    raise KeyError(f"no task {number!r} in labutils.course; known: {', '.join(t.number for t in tasks())}")


def lab_of(number: str) -> Lab:
    """The lab that task ``number`` belongs to."""
    return lab(task(number).lab_id)


def stems() -> tuple[str, ...]:
    """The labs' notebook stems, in course order."""
    return tuple(one.stem for one in LABS)


def check_modules() -> tuple[str, ...]:
    """The modules of ``labutils.checks`` that register graded tasks (``"lab1"`` ...), in course order."""
    return tuple(dict.fromkeys(one.checks for one in LABS))
