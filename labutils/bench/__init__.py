"""Benchmarks for the shared training path: ``python -m labutils.bench [--quick] [--notebooks]``.

Prints, for the CPU always and for CUDA when present:

1. ``fit`` loop overhead: images/s of labutils' training pass (the one ``fit`` runs) against a
   minimal hand-written PyTorch loop, same model, data and batch size (target ratio >= 0.97);
2. the frozen-backbone feature cache: 10 epochs of head training on cached features against
   running the frozen backbone every epoch, and the largest difference between the two heads
   (target: >= 10x faster, same head);
3. CUDA only: mixed precision + channels_last against float32, ResNet-50 at 224 px (target >= 2x);
4. image loading: decoded-and-resized images cached in memory against decoding JPEGs each time;
5. with ``--notebooks``: the nbval time of each solution notebook in smoke mode (target: all four
   within 180 s on a 2-core CPU);
6. the time of Lab 2's Grad-CAM self-check (``TASK_GRAD_CAM``), first call and rerun (target: each <= 5 s);
   ``--only checks`` measures only this.

These are measurements, not tests: nothing here fails when a target is missed; it says so.

One module per group of benchmarks (instructor tooling; a student's kernel never imports it):

- ``loops``      fit's training pass against a minimal loop; the frozen-backbone feature cache
- ``precision``  CUDA mixed precision, the CPU fast path and the fast path's agreement with float32
- ``loading``    the in-memory image cache; the solution notebooks under nbval
- ``selfchecks`` the time of Lab 2's Grad-CAM self-check
- ``cli``        the runner: ``main`` (``python -m labutils.bench``) and ``collect_json`` (``--json``)
"""
from .cli import collect_json, main, print_checks
from .loading import bench_image_cache, bench_notebooks
from .loops import bench_feature_cache, bench_fit_overhead
from .precision import bench_cpu_fast_path, bench_fast_path_agreement, bench_mixed_precision
from .selfchecks import bench_checks

__all__ = ["bench_checks", "bench_cpu_fast_path", "bench_fast_path_agreement", "bench_feature_cache",
           "bench_fit_overhead", "bench_image_cache", "bench_mixed_precision", "bench_notebooks", "collect_json",
           "main", "print_checks"]
