"""The rehearsal's checksum bypass cannot be reached outside the kernels the rehearsal starts (labutils.rehearse).

It exists only as source text (labutils.rehearse.kernel.SETUP_TEMPLATE) that the rehearsal sends to
its own kernel: no module reads a flag or a variable for it, importing the package patches nothing,
and even inside that kernel only the exact bytes the rehearsal wrote pass.
"""
import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import torch
from torchvision import datasets as tv_datasets

import labutils
from labutils import fastpath, fetch, registry
from labutils.messages import t
from labutils.rehearse import kernel, weights

PACKAGE = Path(labutils.__file__).resolve().parent
REHEARSE = PACKAGE / "rehearse"
# variables a student might try; none may switch the bypass on
TRIED_ENV = {"LABUTILS_SMOKE": "0", "LABUTILS_FAST": "0", "LABUTILS_REHEARSE": "1", "LABUTILS_REHEARSAL": "1",
             "LABUTILS_NO_VERIFY": "1", "LABUTILS_SKIP_CHECKSUM": "1", "LABUTILS_TRUST": "1"}


def test_importing_the_rehearsal_patches_nothing():
    import labutils.rehearse.cli  # noqa: F401  every module of the package
    import labutils.rehearse.run  # noqa: F401
    assert fetch.verify.__module__ == "labutils.fetch" and fetch.verify.__qualname__ == "verify"
    assert fastpath.cpu_bf16_supported.__qualname__ == "cpu_bf16_supported"
    assert tv_datasets.CIFAR100.train_list[0][1] == "16019d7e3df5f24257cddd939b257f8d"  # torchvision's own


def test_no_module_outside_the_rehearsal_refers_to_it():
    offenders = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                 if REHEARSE not in p.parents and p.parent.name != "messages" and "rehears" in p.read_text()]
    assert offenders == []


def test_the_rehearsal_reads_no_switch_from_the_environment():
    """It copies the environment for its kernels but never reads a variable that changes what it does."""
    pattern = re.compile(r"environ\.get|environ\[|getenv")
    assert [p.name for p in REHEARSE.glob("*.py") if pattern.search(p.read_text())] == []


def _stand_in(tmp_path) -> Path:
    return weights.build(tmp_path / "data", [2])[0]


def test_stand_in_weights_fail_in_a_fresh_process_whatever_the_environment(tmp_path):
    path = _stand_in(tmp_path)
    code = ("import sys, labutils.rehearse, labutils.rehearse.cli\n"
            "from labutils import fetch, registry\n"
            "try:\n    fetch.verify(sys.argv[1], registry.get('resnet18'))\n"
            "except fetch.ChecksumError:\n    print('REJECTED')\nelse:\n    print('ACCEPTED')\n")
    env = {**os.environ, **TRIED_ENV}
    out = subprocess.run([sys.executable, "-c", code, str(path)], env=env, capture_output=True, text=True, timeout=300)
    assert out.stdout.strip().splitlines()[-1] == "REJECTED", out.stderr


def test_inside_the_kernel_only_the_rehearsals_exact_bytes_pass(tmp_path):
    """The setup code, run as the rehearsal's kernel runs it: its stand-in passes, loudly; the same file
    changed by one byte, and a wrong file it did not write, still fail."""
    path = _stand_in(tmp_path)
    other = tmp_path / "data" / "weights" / registry.get("resnet50").filename
    torch.save({"not": torch.zeros(1)}, other)
    manifest = {str(path.resolve()): hashlib.sha256(path.read_bytes()).hexdigest()}
    setup = kernel.setup_source(manifest, None, fp32=True, tiny=False)
    probe = setup + (
        "import json, sys\nfrom labutils import fastpath, fetch, registry\nresults = {}\n"
        "def attempt(key, path, name):\n"
        "    try:\n        fetch.verify(path, registry.get(name)); results[key] = 'ok'\n"
        "    except fetch.ChecksumError:\n        results[key] = 'rejected'\n"
        "attempt('stand_in', sys.argv[1], 'resnet18')\nattempt('other', sys.argv[2], 'resnet50')\n"
        "data = bytearray(open(sys.argv[1], 'rb').read()); data[-1] ^= 1; open(sys.argv[1], 'wb').write(data)\n"
        "attempt('changed', sys.argv[1], 'resnet18')\n"
        "results['bf16'] = fastpath.fast_path('cpu', scaler=False)['amp']\n"
        "print('RESULTS', json.dumps(results))\n")
    out = subprocess.run([sys.executable, "-c", probe, str(path), str(other)], capture_output=True, text=True,
                         timeout=300, env={**os.environ, "LABUTILS_LANG": "ru"})
    line = [x for x in out.stdout.splitlines() if x.startswith("RESULTS")]
    assert line, out.stderr
    assert json.loads(line[0][len("RESULTS "):]) == {"stand_in": "ok", "other": "rejected", "changed": "rejected",
                                                     "bf16": False}
    assert t("rehearse.banner", files=1, fp32=True, tiny=False) in out.stdout  # announced loudly
    assert out.stdout.count(t("rehearse.bypass_marker")) == 1


def test_the_bypass_marker_starts_the_bypass_line():
    assert t("rehearse.bypass_used", path="x").startswith(t("rehearse.bypass_marker"))
