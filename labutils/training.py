"""Training-time utilities: timing steps to estimate an epoch before committing to it (Lab 3 onward)."""
from __future__ import annotations

import time
from typing import Callable


def time_steps(step: Callable[[], object], n_steps: int = 3, warmup: int = 1, sync: Callable[[], None] | None = None):
    """Median wall time of ``step()`` in seconds over ``n_steps`` calls after ``warmup`` untimed calls (Lab 3).

    ``sync`` (e.g. ``torch.cuda.synchronize``) is called before each clock reading, so GPU work is
    counted when it finishes rather than when it is queued.
    """
    import statistics

    if n_steps < 1:
        raise ValueError(f"n_steps must be at least 1, got {n_steps}")
    for _ in range(warmup):
        step()
    times = []
    for _ in range(n_steps):
        if sync:
            sync()
        start = time.perf_counter()
        step()
        if sync:
            sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def format_duration(seconds: float) -> str:
    """``'2 h 05 min'``, ``'3 min 20 s'`` or ``'12.5 s'``: durations as students read them (Labs 3-4)."""
    seconds = float(seconds)
    if seconds >= 3600:
        hours, rest = divmod(round(seconds), 3600)
        return f"{hours} h {rest // 60:02d} min"
    if seconds >= 60:
        minutes, rest = divmod(round(seconds), 60)
        return f"{minutes} min {rest:02d} s"
    return f"{seconds:.1f} s"
