"""labutils.hosted: where a lab runs (Colab, Kaggle, local) and what the first cell sets up there."""
import os
import sys
import types

import pytest

from labutils import hosted, runtime

FOLDER_VARS = ("LABUTILS_DATA", "LABUTILS_DERIVED", "LABUTILS_CACHE")


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No folder variables, no Colab, no Kaggle; /kaggle points into the test's folder. What
    ``setup_environment`` writes into ``os.environ`` is undone afterwards, so no later test reads it."""
    saved = dict(os.environ)
    for name in (*FOLDER_VARS, hosted.KAGGLE_RUN_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.setattr(hosted, "in_colab", lambda: "google.colab" in sys.modules)
    monkeypatch.setattr(hosted, "KAGGLE_ROOT", tmp_path / "kaggle")
    monkeypatch.setattr(hosted, "KAGGLE_INPUT", tmp_path / "kaggle" / "input")
    monkeypatch.setattr(hosted, "KAGGLE_WORKING", tmp_path / "kaggle" / "working")
    monkeypatch.setattr(hosted, "COLAB_CONTENT", tmp_path / "content")
    monkeypatch.setattr(hosted, "COLAB_DRIVE", tmp_path / "content" / "drive")
    monkeypatch.setattr(hosted, "_precision", lambda: "float32")
    yield tmp_path
    os.environ.clear()
    os.environ.update(saved)


def test_platform_is_local_without_colab_or_kaggle(clean_env):
    assert hosted.platform() == "local"
    assert hosted.storage("local", drive=False) == {}


def test_kaggle_needs_both_its_folder_and_its_variable(clean_env, monkeypatch):
    monkeypatch.setenv(hosted.KAGGLE_RUN_ENV, "Interactive")
    assert hosted.platform() == "local"  # no /kaggle
    (clean_env / "kaggle").mkdir()
    assert hosted.platform() == "kaggle"
    monkeypatch.delenv(hosted.KAGGLE_RUN_ENV)
    assert hosted.platform() == "local"


def test_real_colab_detection_reads_google_colab(monkeypatch):
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    assert hosted.in_colab()
    monkeypatch.delitem(sys.modules, "google.colab")
    assert hosted.in_colab() is (hosted.importlib.util.find_spec("google") is not None
                                 and hosted.importlib.util.find_spec("google.colab") is not None)


def test_kaggle_writes_to_working_only(clean_env, monkeypatch, capsys):
    monkeypatch.setenv(hosted.KAGGLE_RUN_ENV, "Interactive")
    (clean_env / "kaggle" / "input").mkdir(parents=True)
    applied = hosted.setup_environment()
    working = clean_env / "kaggle" / "working"
    assert applied == {"LABUTILS_DATA": str(working / "data"), "LABUTILS_CACHE": str(working / "cache")}
    assert runtime.data_root() == working / "data"
    out = capsys.readouterr().out
    assert "Kaggle" in out and str(working / "data") in out and "float32" in out


def test_colab_without_drive_says_data_is_lost_and_never_mounts(clean_env, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    mounted = []
    applied = hosted.setup_environment(use_drive=False, mount=lambda: mounted.append(1) or True)
    assert not mounted and applied == {"LABUTILS_DATA": str(clean_env / "content" / "data")}
    assert "USE_DRIVE = True" in capsys.readouterr().out


def test_colab_with_drive_keeps_data_on_drive_and_derived_data_local(clean_env, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    mounted = []
    applied = hosted.setup_environment(use_drive=True, mount=lambda: mounted.append(1) or True)
    assert mounted == [1]
    drive_data = clean_env / "content" / "drive" / "MyDrive" / hosted.COURSE_FOLDER / "data"
    assert applied["LABUTILS_DATA"] == str(drive_data)
    assert applied["LABUTILS_DERIVED"] == str(clean_env / "content" / "labutils-derived")
    extracted = runtime.data_root() / "chest_xray" / "extracted"
    assert runtime.derived_path(extracted) == clean_env / "content" / "labutils-derived" / "chest_xray" / "extracted"
    assert "USE_DRIVE" not in capsys.readouterr().out


def test_a_second_run_changes_nothing_and_the_students_variables_win(clean_env, monkeypatch, tmp_path):
    monkeypatch.setenv(hosted.KAGGLE_RUN_ENV, "Interactive")
    (clean_env / "kaggle").mkdir()
    monkeypatch.setenv("LABUTILS_DATA", str(tmp_path / "mine"))
    first = hosted.setup_environment()
    assert "LABUTILS_DATA" not in first and os.environ["LABUTILS_DATA"] == str(tmp_path / "mine")
    assert hosted.setup_environment() == {}


def test_smoke_variable_turns_smoke_on_and_off_but_keeps_an_outer_setting(monkeypatch, clean_env):
    monkeypatch.delenv("LABUTILS_SMOKE", raising=False)
    hosted.set_smoke(True)
    assert runtime.is_smoke()
    hosted.set_smoke(False)
    assert not runtime.is_smoke()
    monkeypatch.setenv("LABUTILS_SMOKE", "1")  # set outside the notebook (the tests, the grader)
    hosted.set_smoke(False)
    assert runtime.is_smoke()


def test_attached_files_and_folders_are_found_nearest_first(clean_env, monkeypatch):
    base = clean_env / "kaggle" / "input"
    deep = base / "weights" / "a" / "b" / "resnet18-f37072fd.pth"
    near = base / "resnet18-f37072fd.pth"
    for path in (deep, near):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    (base / "__MACOSX" / "resnet18-f37072fd.pth").mkdir(parents=True)  # a folder, and in __MACOSX
    assert hosted.input_files("resnet18-f37072fd.pth") == [near, deep]
    assert hosted.input_folders(lambda p: p.name == "b") == [deep.parent]


def test_nothing_is_attached_outside_kaggle(clean_env):
    assert hosted.input_roots() == () and hosted.input_files("anything") == []


def test_with_drive_lab4_results_stay_in_the_data_folder_and_extractions_go_local(monkeypatch, tmp_path):
    """What the README promises for USE_DRIVE = True: checkpoints on Drive, derived data on local disk."""
    drive, local = tmp_path / "drive" / "data", tmp_path / "content" / "labutils-derived"
    monkeypatch.setenv("LABUTILS_DATA", str(drive))
    monkeypatch.setenv("LABUTILS_DERIVED", str(local))
    assert runtime.writable_root("runs", "lab4") == drive / "runs" / "lab4"
    assert runtime.derived_path(drive / "stanford_dogs" / "raw") == local / "stanford_dogs" / "raw"


def test_readme_badges_are_built_from_the_one_setting():
    from pathlib import Path

    from labutils import course

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert "## Colab and Kaggle" in readme
    for stem in course.stems():
        assert course.badges(stem) in readme, stem
    for dataset in ("paultimothymooney/chest-xray-pneumonia", "jessicali9530/stanford-dogs-dataset"):
        assert dataset in readme
