"""A lab opens anywhere: one student notebook alone in an empty folder, as on Colab or Kaggle.

Each test makes a fresh virtual environment that has what a hosted notebook has before its first
cell runs (this interpreter's packages, minus the course itself and the instructors' tools: see
``tests/lone_env.py``), copies one student notebook alone into an empty folder, and runs, under
bubblewrap with no network and no checkout in sight, with pip allowed only a folder holding the
wheel built from this checkout (``PIP_NO_INDEX``, ``PIP_FIND_LINKS``):

1. the student notebook's first cell, twice: the first run installs the course package (pip's log
   shows one install), the second changes nothing;
2. the solution notebook of the same lab, top to bottom in a new kernel, in smoke mode chosen by
   the cell's ``SMOKE = True`` (no shell variable), with its figures and widgets.

Colab: a stub ``google.colab`` (its ``drive.mount`` makes the folder) and an empty ``/content``;
the solution runs with ``USE_DRIVE = True``. Kaggle: ``/kaggle/input`` a read-only replica of
the attached datasets, ``/kaggle/working`` writable; the locators find the replicas in full mode
with ``LABUTILS_OFFLINE=1`` and nothing under ``/kaggle/input`` changes. All four labs run the
Colab variant; the Kaggle variant runs Lab 2 (its data locators are what differ on Kaggle).
"""
from __future__ import annotations

import json
import shutil
import subprocess

import nbformat
import pytest

from conftest import NOTEBOOKS, SOLUTIONS
from lone_env import build_wheel, clean_environ, make_env, sandbox_works, sandboxed

pytestmark = pytest.mark.skipif(not sandbox_works(), reason="needs bubblewrap (bwrap) for a sandbox without network")

RUNNER = r'''
import json, sys
import nbformat
from nbclient import NotebookClient

student, solution, out, extra = sys.argv[1:5]
report = {}


def text(cell):
    return "".join(o.get("text", "") + o.get("evalue", "") for o in cell.outputs)


nb = nbformat.read(student, as_version=4)
nb.cells = nb.cells[:2] + [nbformat.v4.new_code_cell(extra)]
client = NotebookClient(nb, kernel_name="python3", timeout=900, resources={"metadata": {"path": "."}})
with client.setup_kernel():
    client.execute_cell(nb.cells[1], 1)
    report["first"] = text(nb.cells[1])
    client.execute_cell(nb.cells[1], 1)  # the same cell, a second time
    report["second"] = text(nb.cells[1])
    client.execute_cell(nb.cells[2], 2)
    report["probe"] = text(nb.cells[2])
sol = nbformat.read(solution, as_version=4)
sol.cells[1].source = (sol.cells[1].source.replace("SMOKE = False", "SMOKE = True")
                       .replace("USE_DRIVE = False", "USE_DRIVE = %s" % (sys.argv[5] == "drive")))
try:
    NotebookClient(sol, kernel_name="python3", timeout=900, resources={"metadata": {"path": "."}}).execute()
finally:
    nbformat.write(sol, out + "/solution.ipynb")
    json.dump(report, open(out + "/report.json", "w"))
'''

PROBE = r'''
import json, os, sys
import labutils
print(json.dumps({"labutils": labutils.__file__, "python": sys.executable, "data": str(labutils.data_root()),
                  "smoke": os.environ.get("LABUTILS_SMOKE")}))
'''

KAGGLE_PROBE = PROBE + r'''
os.environ["LABUTILS_SMOKE"] = "0"
os.environ["LABUTILS_OFFLINE"] = "1"
from labutils import fetch
from labutils.chest_xray import chest_xray_root
from labutils.dogs import dogs_raw_images
try:
    fetch.download("resnet18", progress=False)
except fetch.DownloadError as exc:
    weights_error = str(exc)
print(json.dumps({"chest_xray": str(chest_xray_root()), "dogs": str(dogs_raw_images(progress=False)),
                  "dogs_breeds": sorted(os.listdir(dogs_raw_images(progress=False))), "weights": weights_error}))
os.environ["LABUTILS_SMOKE"] = "1"
'''

COLAB_STUB = {
    "google/colab/__init__.py": "from . import drive\n",
    "google/colab/drive.py": ("import os\n\ndef mount(path, **kwargs):\n"
                              "    os.makedirs(os.path.join(path, 'MyDrive'), exist_ok=True)\n"
                              "    print('Mounted at', path)\n"),
}


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory):
    return build_wheel(tmp_path_factory.mktemp("lone-wheel")).parent


def _lone(tmp_path, wheelhouse, stem, *, platform, binds=(), drive=False, probe=PROBE, extra_env=None):
    """Run the student notebook's first cell twice, then the solution notebook, in a fresh sandbox;
    returns (report, executed solution notebook, pip's log)."""
    python = make_env(tmp_path / "env")
    if platform == "colab":
        stub = tmp_path / "colab-stub"
        for name, source in COLAB_STUB.items():
            (stub / name).parent.mkdir(parents=True, exist_ok=True)
            (stub / name).write_text(source)
        site = next((tmp_path / "env" / "venv" / "lib").glob("python*/site-packages"))
        (site / "colab.pth").write_text(f"{stub}\n")
    work = tmp_path / "student"  # the empty folder the student opened the notebook in
    work.mkdir()
    shutil.copy2(NOTEBOOKS / f"{stem}.ipynb", work / f"{stem}.ipynb")
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "runner.py").write_text(RUNNER)
    solution = tmp_path / "solution" / f"{stem}.ipynb"  # the instructor's copy, outside the student's folder
    solution.parent.mkdir()
    shutil.copy2(SOLUTIONS / f"{stem}.ipynb", solution)
    env = clean_environ(tmp_path / "home", PIP_NO_INDEX="1", PIP_FIND_LINKS=str(wheelhouse),
                        PIP_LOG=str(tmp_path / "pip.log"), PIP_DISABLE_PIP_VERSION_CHECK="1", **(extra_env or {}))
    argv = [str(python), str(tmp_path / "runner.py"), f"{stem}.ipynb", str(solution), str(out),
            probe, "drive" if drive else "local"]
    binds = [("--ro-bind", wheelhouse, wheelhouse), *binds]
    run = subprocess.run(sandboxed(argv, writable=[tmp_path], cwd=work, binds=binds), env=env,
                         capture_output=True, text=True, timeout=1500)
    assert run.returncode == 0, run.stderr[-6000:]
    report = json.loads((out / "report.json").read_text())
    return report, nbformat.read(str(out / "solution.ipynb"), as_version=4), (tmp_path / "pip.log").read_text()


def _outputs(nb, key):
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if key in o.get("data", {})]


def _installs(pip_log: str) -> int:
    return pip_log.count("Successfully installed resnet-transfer-course")


def _check_install(report, pip_log, tmp_path):
    probe = json.loads(report["probe"].strip().splitlines()[0])
    assert probe["labutils"].startswith(str(tmp_path / "env" / "venv")), probe  # the wheel, not a checkout
    assert probe["python"].startswith(str(tmp_path / "env" / "venv")), probe
    assert _installs(pip_log) == 1  # the second run did not install again
    assert "torch" not in pip_log.split("Successfully installed", 1)[1].splitlines()[0]  # torch never reinstalled
    return probe


@pytest.mark.parametrize("stem", ["01_residual_networks", "02_chest_xray_finetuning", "03_resnext_cifar100",
                                  "04_dog_breeds_strategies"])
def test_lone_notebook_on_colab(stem, tmp_path, wheelhouse):
    report, solution, pip_log = _lone(tmp_path, wheelhouse, stem, platform="colab", drive=True)
    assert "Google Colab" in report["first"] and "USE_DRIVE = True" in report["first"]
    assert report["second"] and report["first"].endswith(report["second"])  # the same report, nothing new
    probe = _check_install(report, pip_log, tmp_path)
    assert probe["data"] == "/content/data" and probe["smoke"] is None
    setup = "".join(o.get("text", "") for o in solution.cells[1].outputs)
    assert "Mounted at /content/drive" in setup and "MyDrive/resnet-transfer-course/data" in setup
    text = "".join(o.get("text", "") for c in solution.cells if c.cell_type == "code" for o in c.outputs)
    assert "РЕЖИМ SMOKE" in text
    assert _outputs(solution, "image/png")  # its figures
    if stem in ("01_residual_networks", "02_chest_xray_finetuning"):
        assert _outputs(solution, "application/vnd.jupyter.widget-view+json")  # its sliders


def _kaggle_inputs(base):
    """A replica of the attached Kaggle datasets: Kermany's chest X-rays, Stanford Dogs, a weight file."""
    from labutils.chest_xray import make_chest_xray_folder
    from labutils.dogs import DOG_BREEDS, MIN_BREED_IMAGES
    from labutils.standins import MARKER, make_image_folder

    xray = base / "chest-xray-pneumonia" / "chest_xray"
    for split, seed in (("train", 1), ("test", 2), ("val", 3)):
        make_chest_xray_folder(xray / split, {"NORMAL": 3, "PNEUMONIA": 4}, seed=seed)
    images = base / "stanford-dogs-dataset" / "images" / "Images"
    make_image_folder(images, {folder: MIN_BREED_IMAGES for folder in [*DOG_BREEDS, "n02085620-Chihuahua"]},
                      size_range=(64, 72), seed=5)
    (images / MARKER).unlink()
    for folder in images.iterdir():  # named as in images.tar: <wnid>_<n>.jpg
        for n, path in enumerate(sorted(folder.iterdir())):
            path.rename(folder / f"{folder.name.split('-')[0]}_{n}.jpg")
    weights = base / "resnet18-weights" / "resnet18-f37072fd.pth"
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"not the real weights")  # found, checked, rejected: the checksum decides
    return base


def _tree(folder):
    return sorted((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*"))


def test_lone_notebook_on_kaggle(tmp_path, wheelhouse):
    inputs = _kaggle_inputs(tmp_path / "kaggle-input")
    working = tmp_path / "kaggle-working"
    working.mkdir()
    before = _tree(inputs)
    stem = "02_chest_xray_finetuning"
    report, solution, pip_log = _lone(
        tmp_path, wheelhouse, stem, platform="kaggle", probe=KAGGLE_PROBE,
        binds=[("--ro-bind", inputs, "/kaggle/input"), ("--bind", working, "/kaggle/working")],
        extra_env={"KAGGLE_KERNEL_RUN_TYPE": "Interactive"})
    assert "Kaggle" in report["first"] and report["first"].endswith(report["second"])
    lines = report["probe"].strip().splitlines()
    probe = _check_install(report, pip_log, tmp_path)
    assert probe["data"] == "/kaggle/working/data"
    found = json.loads(next(line for line in lines if line.startswith('{"chest_xray"')))
    assert found["chest_xray"] == "/kaggle/input/chest-xray-pneumonia/chest_xray"
    assert found["dogs"] == "/kaggle/working/data/stanford_dogs/raw/Images" and len(found["dogs_breeds"]) == 5
    assert "python -m labutils.fetch resnet18" in found["weights"] and "LABUTILS_OFFLINE" in found["weights"]
    assert "resnet18-f37072fd.pth" in report["probe"]  # the replica was found, checked and skipped
    assert "РЕЖИМ SMOKE" in "".join(o.get("text", "") for c in solution.cells for o in c.get("outputs", []))
    assert _tree(inputs) == before  # nothing written under /kaggle/input
    assert (working / "data" / "smoke" / "chest_xray").is_dir()  # everything went to /kaggle/working
