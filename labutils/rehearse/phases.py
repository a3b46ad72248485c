"""Which phase of a lab a code cell belongs to: a rule on the cell's source (rehearsal report).

The first rule whose words appear in the source wins, in this order:

1. **training**: it trains or times training steps (``train_one_epoch(``, ``fit(``, ``.backward()``,
   ``train_digits_net(``, ``time_steps(``, ``estimate_phases(``, ``for epoch in range(``); a cell
   that computes a feature cache and then trains on it (Lab 2's head, Lab 4's six runs) counts here;
2. **caching**: the cell computes a cache (``extract_features(``, ``.preload(``, ``cached``);
3. **preparation and decoding**: it finds, extracts, scans or decodes data, loads weights or sets
   up (``chest_xray_root(``, ``cifar100(``, ``dogs_raw_images(``, ``prepare_dogs(``,
   ``scan_image_folder(``, ``load_pretrained(``, ``DataLoader(``, ``get_device(``);
4. **evaluation**: it predicts and scores (``evaluate(``, ``run_epoch(``, ``predict``, ``roc_``,
   ``confusion_matrix``, ``classification_report``, ``bootstrap``, ``f1_score``);
5. otherwise **analysis/export** (plots, Grad-CAM, ONNX, tables, text).

A rule on words is coarse (a cell that defines a training loop counts as training), so the report
lists every cell with its time and phase: a reader can regroup them.
"""
from __future__ import annotations

PHASES = ("preparation", "caching", "training", "evaluation", "analysis")
RULES = (
    ("training", ("train_one_epoch(", "fit(", ".backward()", "train_digits_net(", "time_steps(",
                  "estimate_phases(", "for epoch in range(")),
    ("caching", ("extract_features(", ".preload(", "cached")),
    ("preparation", ("chest_xray_root(", "cifar100(", "dogs_raw_images(", "prepare_dogs(", "scan_image_folder(",
                     "load_pretrained(", "DataLoader(", "get_device(")),
    ("evaluation", ("evaluate(", "run_epoch(", "predict", "roc_", "confusion_matrix", "classification_report",
                    "bootstrap", "f1_score")),
)


def phase_of(source: str) -> str:
    """The phase of a code cell with this source (see the module docstring for the rule)."""
    for phase, words in RULES:
        if any(word in source for word in words):
            return phase
    return "analysis"


def totals(cells: list[dict]) -> dict[str, float]:
    """Seconds per phase over ``cells`` (dicts with ``phase`` and ``seconds``), every phase present."""
    out = dict.fromkeys(PHASES, 0.0)
    for cell in cells:
        out[cell["phase"]] += cell["seconds"]
    return out
