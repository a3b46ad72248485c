"""The speed settings every lab trains with: mixed precision and channels_last (Labs 2-4, benchmarks).

* CUDA: automatic mixed precision (bfloat16 where the GPU supports it, else float16 with a
  GradScaler) and the channels_last memory format.
* CPU: channels_last, plus bfloat16 autocast on CPUs with native bfloat16 support, detected with
  torch's own query (``torch.ops.mkldnn._is_mkldnn_bf16_supported()``: oneDNN finds AVX512-BF16 or
  AMX); elsewhere the CPU stays float32.
* Apple MPS: float32, contiguous.

On by default; ``LABUTILS_FAST=0`` switches it off everywhere (float32, contiguous), and the
``amp``/``channels_last`` arguments force either way for one call. The first use in a process
prints one line saying what is on and how to switch it off.

The labs' own training loops (written by students in Labs 2 and 3) run under
:meth:`FastPath.autocast`, entered by the notebook around the call, so the student's loop stays
plain PyTorch; Lab 4's :func:`labutils.training.run_epoch` uses the same settings.
"""
from __future__ import annotations

import contextlib
import os

from .messages import t

FAST_ENV = "LABUTILS_FAST"
_announced: set[str] = set()


def fast_enabled() -> bool:
    """``False`` when ``LABUTILS_FAST`` is 0/false/no/off, else ``True``; another value raises naming it."""
    raw = os.environ.get(FAST_ENV, "").strip().lower()
    if raw in ("", "1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ValueError(t("fastpath.bad_env", var=FAST_ENV, value=os.environ[FAST_ENV]))


def cpu_bf16_supported() -> bool:
    """True when this CPU computes bfloat16 natively, by torch's own oneDNN query (all labs)."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a torch build without oneDNN
        return False


class FastPath(dict):
    """The settings for one device: ``device``, ``amp``, ``dtype``, ``channels_last``, ``grad_scaler``.

    A dict (``run_epoch`` and older code read its keys) with helpers for the labs' own loops.
    """

    def autocast(self):
        """A context manager: mixed precision around a forward pass (or a whole loop), or nothing."""
        import torch

        if not self["amp"]:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self["device"].type, dtype=self["dtype"])

    def prepare(self, model):
        """``model`` in channels_last memory format when that is on (in place; returns the model)."""
        import torch

        if self["channels_last"]:
            model.to(memory_format=torch.channels_last)
        return model

    def inputs(self, x):
        """A batch moved to the device, channels_last for 4-d image batches when that is on."""
        import torch

        if self["channels_last"] and x.dim() == 4:
            return x.to(self["device"], non_blocking=True, memory_format=torch.channels_last)
        return x.to(self["device"], non_blocking=True)

    def describe(self) -> str:
        """One line in the current language: what is on, and how to switch it off."""
        dtype = str(self["dtype"]).replace("torch.", "") if self["amp"] else "float32"
        layout = "channels_last" if self["channels_last"] else t("fastpath.contiguous")
        if not fast_enabled():
            return t("fastpath.off_env", device=self["device"], var=FAST_ENV)
        if self["device"].type == "cpu" and not self["amp"] and not cpu_bf16_supported():
            return t("fastpath.cpu_no_bf16", layout=layout, var=FAST_ENV)
        if not self["amp"]:
            return t("fastpath.float32", device=self["device"], layout=layout, var=FAST_ENV)
        return t("fastpath.on", device=self["device"], dtype=dtype, layout=layout, var=FAST_ENV)

    def announce(self) -> None:
        """Print :meth:`describe` once per process and device type."""
        key = self["device"].type
        if key not in _announced:
            _announced.add(key)
            print(self.describe(), flush=True)


def fast_path(device, amp="auto", channels_last="auto") -> FastPath:
    """The speed settings on ``device`` (see the module docstring); ``"auto"`` follows ``LABUTILS_FAST``."""
    import torch

    dev = torch.device(device)
    on = fast_enabled()
    if dev.type == "cuda":
        auto_amp, auto_cl = on, on
    elif dev.type == "cpu":
        auto_amp, auto_cl = on and cpu_bf16_supported(), on
    else:
        auto_amp, auto_cl = False, False
    use_amp = auto_amp if amp == "auto" else bool(amp)
    dtype = None
    if use_amp:
        dtype = torch.bfloat16 if (dev.type != "cuda" or torch.cuda.is_bf16_supported()) else torch.float16
    return FastPath(device=dev, amp=use_amp, dtype=dtype,
                    channels_last=auto_cl if channels_last == "auto" else bool(channels_last),
                    grad_scaler=bool(use_amp and dev.type == "cuda" and dtype == torch.float16))
