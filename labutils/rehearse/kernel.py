"""The code the rehearsal runs in each notebook's kernel before the notebook's first cell (rehearsal only).

It is the rehearsal's only bypass, and it exists only as source text that :mod:`labutils.rehearse.run`
sends to the kernel it started itself; nothing in :mod:`labutils` reads a flag or an environment
variable that would switch it on, and importing this module changes nothing. In that kernel:

* ``labutils.fetch.verify`` still checks every file as before; only when that check fails on a file
  whose path *and* SHA-256 are listed in the rehearsal's manifest (the exact stand-in bytes it has
  just written) is the file accepted, with a loud banner. Any other file, or a stand-in changed by a
  single byte, still fails.
* torchvision's CIFAR-100 integrity check compares the extracted files with the stand-in's MD5s
  instead of the real files' (its check itself runs unchanged).
* ``--precision fp32``: :func:`labutils.fastpath.cpu_bf16_supported` answers False, so the fast path
  chooses float32 + channels_last, as on a CPU without native bfloat16.
* ``--scale tiny``: the CPU budgets' epoch caps (and Lab 3's subset sizes) shrink to one epoch on the
  few stand-in images; every other setting and every line of the notebooks stay as in full mode.
"""
from __future__ import annotations

SETUP_TEMPLATE = '''
def _rehearsal_setup(manifest, cifar_md5, fp32, tiny):
    import hashlib
    from pathlib import Path

    from labutils import budgets, fastpath, fetch
    from labutils.messages import t
    from torchvision import datasets as tv_datasets

    original = fetch.verify
    accepted = set()

    def sha256(path):
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
        return digest.hexdigest()

    def verify(path, resource):
        try:
            return original(path, resource)
        except fetch.ChecksumError:
            resolved = Path(path).resolve()
            stat = resolved.stat()
            stamp = (str(resolved), stat.st_size, stat.st_mtime_ns)
            if stamp not in accepted:
                if manifest.get(str(resolved)) != sha256(resolved):
                    raise
                accepted.add(stamp)
                print(t("rehearse.bypass_used", path=resolved), flush=True)
            return Path(path)

    fetch.verify = verify
    if cifar_md5:
        tv = tv_datasets.CIFAR100
        tv.train_list = [["train", cifar_md5["train"]]]
        tv.test_list = [["test", cifar_md5["test"]]]
        tv.meta = {**tv.meta, "md5": cifar_md5["meta"]}
    if fp32:
        fastpath.cpu_bf16_supported = lambda: False
    if tiny:
        budgets.LAB3_CPU.update(train_images=200, test_images=100, epochs=1)
        for settings in budgets.LAB4_BUDGETS.values():
            settings["epochs"].update(dict.fromkeys(settings["epochs"], 1))
    print(t("rehearse.banner", files=len(manifest), fp32=fp32, tiny=tiny), flush=True)


_rehearsal_setup(@MANIFEST@, @CIFAR_MD5@, @FP32@, @TINY@)
del _rehearsal_setup
'''


def setup_source(manifest: dict[str, str], cifar_md5: dict[str, str] | None, *, fp32: bool, tiny: bool) -> str:
    """The setup cell's source: ``manifest`` maps each stand-in file's resolved path to its SHA-256."""
    values = {"@MANIFEST@": dict(manifest), "@CIFAR_MD5@": dict(cifar_md5 or {}), "@FP32@": bool(fp32),
              "@TINY@": bool(tiny)}
    source = SETUP_TEMPLATE
    for key, value in values.items():
        source = source.replace(key, repr(value))
    return source
