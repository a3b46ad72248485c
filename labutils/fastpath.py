"""The speed settings every lab trains with: mixed precision and channels_last (Labs 2-4, benchmarks).

* CUDA: automatic mixed precision and the channels_last memory format: bfloat16 where the GPU
  computes it natively (compute capability 8.0 and newer: A100, RTX 30xx, H100; never the emulated
  bfloat16 that ``torch.cuda.is_bf16_supported()`` also counts on a T4 or a V100), else float16,
  which needs a GradScaler: only a loop that has one (Lab 4's :func:`labutils.training.fit`) gets
  float16; a loop without one (``scaler=False``: the students' own loops in Labs 2 and 3) runs in
  float32 there.
* CPU: channels_last, plus bfloat16 autocast on CPUs with native bfloat16 (AVX512-BF16 or AMX on
  x86, the BF16 extension on Arm: :func:`cpu_bf16_supported`); elsewhere the CPU stays float32.
* Apple MPS: float32, contiguous.

On by default; ``LABUTILS_FAST=0`` switches it off everywhere (float32, contiguous), and the
``amp``/``channels_last`` arguments force either way for one call. The first use in a process
prints one line saying what is on and how to switch it off.

Autocast wraps only the forward pass and the loss, as PyTorch's AMP documentation says; backward
and the optimizer step run outside it. The students' own loops (Labs 2 and 3) stay plain PyTorch:
the notebook hands them :meth:`FastPath.autocast_forward` (the model whose forward runs under
autocast and returns float32), so their ``loss.backward()`` and ``optimizer.step()`` run outside
autocast. Lab 4's :func:`labutils.training.run_epoch` enters :meth:`FastPath.autocast` around its
forward and loss itself.
"""
from __future__ import annotations

import contextlib
import os
import platform

import torch
from torch import nn

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
    """True when this CPU computes bfloat16 natively (all labs).

    torch's oneDNN query (``torch.ops.mkldnn._is_mkldnn_bf16_supported()``) also answers True on
    x86 CPUs with plain AVX-512 (Skylake, Cascade Lake), where oneDNN only emulates bfloat16 and
    runs slower than float32; on x86 the CPU must also have AVX512-BF16 or AMX (torch's own
    ``torch.cpu`` queries). On Arm the oneDNN query itself reads the BF16 extension.
    """
    try:
        onednn = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a torch build without oneDNN
        return False
    if not onednn or platform.machine().lower() not in ("x86_64", "amd64", "i386", "i686", "x86"):
        return onednn
    queries = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return any(q is not None and bool(q()) for q in queries)


def cuda_bf16_native(device=None) -> bool:
    """True when the GPU computes bfloat16 natively: compute capability 8.0+ (or ROCm) (Labs 2-4).

    ``torch.cuda.is_bf16_supported()`` also answers True where bfloat16 is only emulated (a T4, a
    V100), which trains slower than float16, so the capability is read directly.
    """
    if torch.version.hip:
        return True
    try:
        major, _minor = torch.cuda.get_device_capability(device)
    except (AssertionError, RuntimeError):  # no usable CUDA device
        return False
    return major >= 8


class AutocastForward(nn.Module):
    """``module`` whose forward runs under autocast and returns float32 (Labs 2 and 3).

    Hand it to a training loop written without mixed precision: the forward pass runs in the
    autocast dtype, the loss the loop computes from the float32 output, ``backward()`` and
    ``optimizer.step()`` run outside autocast. It holds ``module`` as its only child, so it shares
    its parameters, and ``train()``/``eval()`` reach it.
    """

    def __init__(self, module: nn.Module, device_type: str, dtype):
        super().__init__()
        self.module = module
        self.device_type = device_type
        self.dtype = dtype

    def forward(self, *args, **kwargs):
        with torch.autocast(device_type=self.device_type, dtype=self.dtype):
            out = self.module(*args, **kwargs)
        return out.float() if torch.is_tensor(out) and out.is_floating_point() else out


class FastPath(dict):
    """The settings for one device: ``device``, ``amp``, ``dtype``, ``channels_last``, ``grad_scaler``.

    A dict (``run_epoch`` and older code read its keys) with helpers for the labs' own loops.
    """

    def autocast(self):
        """A context manager for the forward pass and the loss only (never backward), or nothing."""
        if not self["amp"]:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self["device"].type, dtype=self["dtype"])

    def autocast_forward(self, model: nn.Module) -> nn.Module:
        """``model`` wrapped so its forward runs under autocast (:class:`AutocastForward`), or ``model``
        itself when autocast is off (Labs 2 and 3: the students' loops)."""
        if not self["amp"]:
            return model
        return AutocastForward(model, self["device"].type, self["dtype"])

    def prepare(self, model):
        """``model`` in channels_last memory format when that is on (in place; returns the model)."""
        if self["channels_last"]:
            model.to(memory_format=torch.channels_last)
        return model

    def inputs(self, x):
        """A batch moved to the device, channels_last for 4-d image batches when that is on."""
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
        if self["device"].type == "cuda" and not self["amp"] and self.get("own_loop_fp32"):
            return t("fastpath.cuda_no_scaler", device=self["device"], layout=layout, var=FAST_ENV)
        if not self["amp"]:
            return t("fastpath.float32", device=self["device"], layout=layout, var=FAST_ENV)
        return t("fastpath.on", device=self["device"], dtype=dtype, layout=layout, var=FAST_ENV)

    def announce(self) -> None:
        """Print :meth:`describe` once per process and device type."""
        key = self["device"].type
        if key not in _announced:
            _announced.add(key)
            print(self.describe(), flush=True)


def fast_path(device, amp="auto", channels_last="auto", scaler: bool = True) -> FastPath:
    """The speed settings on ``device`` (see the module docstring); ``"auto"`` follows ``LABUTILS_FAST``.

    ``scaler=False`` says the caller's loop has no GradScaler (the students' loops in Labs 2 and
    3): float16 is then never chosen, and a GPU without native bfloat16 runs float32.
    """
    dev = torch.device(device)
    on = fast_enabled()
    if dev.type == "cuda":
        native_bf16 = cuda_bf16_native(dev if dev.index is not None else None)
        auto_amp, auto_cl = on and (scaler or native_bf16), on
    elif dev.type == "cpu":
        native_bf16 = cpu_bf16_supported()
        auto_amp, auto_cl = on and native_bf16, on
    else:
        native_bf16, auto_amp, auto_cl = False, False, False
    use_amp = auto_amp if amp == "auto" else bool(amp)
    dtype = None
    if use_amp:
        if dev.type != "cuda" or native_bf16:
            dtype = torch.bfloat16
        elif scaler:
            dtype = torch.float16
        else:
            raise ValueError(t("fastpath.fp16_without_scaler", device=dev))
    return FastPath(device=dev, amp=use_amp, dtype=dtype,
                    channels_last=auto_cl if channels_last == "auto" else bool(channels_last),
                    grad_scaler=bool(use_amp and dtype == torch.float16),
                    own_loop_fp32=bool(dev.type == "cuda" and on and not use_amp and not scaler))
