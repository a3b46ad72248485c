"""Similar code between submissions of the same lab, for review (instructor tooling, all four labs).

The student-written cells of each submission (the code cells that are not cells of the released
notebook, :func:`labutils.grader.integrity.student_cells`) are fingerprinted with ``copydetect``
(tokens normalised, so renamed variables and functions do not matter; k-gram hashes winnowed as in
MOSS, so reordered functions do not matter either), the released notebook's code removed as
boilerplate. A pair is listed when the shared fingerprints cover at least :data:`THRESHOLD` of
either submission's code and at least :data:`MIN_TOKENS` characters of normalised code. A listed
pair is a flag for the instructor to read the two notebooks, not a score; the calibration
(independent correct solutions are not listed, a renamed and reordered copy is) is in
``tests/grader/test_similarity.py``.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from itertools import combinations

import copydetect
import numpy as np

from .integrity import released_sources

K = 25         # k-gram length in normalised characters (copydetect's default noise threshold)
WINDOW = 1     # winnowing window: guarantee threshold - noise threshold + 1 (copydetect's defaults: 25, 25)
THRESHOLD = 0.5
MIN_TOKENS = 100
_SEPARATOR = "\n\n"


@dataclass
class Pair:
    """Two submissions of one lab with similar code."""

    lab: str
    a: str
    b: str
    share_a: float        # share of a's (non-boilerplate) code found in b
    share_b: float
    cells_a: list[int]    # a's cells (index in its notebook) that hold shared code
    cells_b: list[int]


@dataclass
class _Print:
    fingerprint: copydetect.CodeFingerprint
    cells: list[tuple[int, int, int]]  # (notebook index, start, end) in the joined text


def _fingerprint(cells: list[tuple[int, str]], boilerplate: list[int]) -> _Print:
    text, spans = "", []
    for index, source in cells:
        start = len(text)
        text += source + _SEPARATOR
        spans.append((index, start, start + len(source)))
    fp = copydetect.CodeFingerprint("submission.py", K, WINDOW, boilerplate=boilerplate, fp=io.StringIO(text))
    return _Print(fp, spans)


def boilerplate_hashes(lab: str, folder=None) -> list[int]:
    """The fingerprints of the released notebook's code of ``lab`` (empty when it is not there)."""
    sources = released_sources(lab) if folder is None else released_sources(lab, folder)
    if not sources:
        return []
    text = _SEPARATOR.join(sorted(sources))
    return list(copydetect.CodeFingerprint("released.py", K, WINDOW, fp=io.StringIO(text)).hashes)


def _cells_in(slices, spans: list[tuple[int, int, int]]) -> list[int]:
    found = set()
    for start, end in zip(*slices) if len(slices[0]) else ():
        found.update(index for index, a, b in spans if start < b and end > a)
    return sorted(found)


def _worth_comparing(a: copydetect.CodeFingerprint, b: copydetect.CodeFingerprint, threshold: float,
                     min_tokens: int) -> bool:
    """False only when the pair cannot pass (a cheap upper bound, before copydetect's comparison): each
    position of a shared fingerprint covers at most K characters, so a's shared code is at most K times
    the positions in a of the fingerprints both have (and likewise for b)."""
    shared = set(a.hashes) & set(b.hashes)
    if not shared:
        return False
    most_a = K * sum(len(a.hash_idx[h]) for h in shared)
    most_b = K * sum(len(b.hash_idx[h]) for h in shared)
    share_a, share_b = most_a / max(a.token_coverage, 1), most_b / max(b.token_coverage, 1)
    return most_a >= min_tokens and max(share_a, share_b) >= threshold


def similar_pairs(lab: str, code: dict[str, list[tuple[int, str]]], boilerplate: list[int] | None = None,
                  threshold: float = THRESHOLD, min_tokens: int = MIN_TOKENS) -> list[Pair]:
    """Pairs of ``code``'s submissions (submission -> its student-written cells ``(index, source)``) of
    ``lab`` whose shared code passes the threshold, most similar first. ``boilerplate`` defaults to the
    released notebook's fingerprints."""
    boilerplate = boilerplate_hashes(lab) if boilerplate is None else boilerplate
    prints = {s: _fingerprint(cells, boilerplate) for s, cells in sorted(code.items()) if cells}
    pairs = []
    for a, b in combinations(prints, 2):
        if not _worth_comparing(prints[a].fingerprint, prints[b].fingerprint, threshold, min_tokens):
            continue
        overlap, (share_a, share_b), slices = copydetect.compare_files(prints[a].fingerprint, prints[b].fingerprint)
        if overlap >= min_tokens and max(share_a, share_b) >= threshold:
            pairs.append(Pair(lab, a, b, float(share_a), float(share_b),
                              _cells_in(np.asarray(slices[0]), prints[a].cells),
                              _cells_in(np.asarray(slices[1]), prints[b].cells)))
    return sorted(pairs, key=lambda p: -max(p.share_a, p.share_b))


def class_pairs(labs: dict[str, str | None], code: dict[str, list[tuple[int, str]]]) -> list[Pair]:
    """:func:`similar_pairs` for every lab: ``labs`` maps each submission to its lab (None: unknown)."""
    pairs = []
    for lab in sorted({lab for lab in labs.values() if lab}):
        mine = {s: code.get(s, []) for s, one in labs.items() if one == lab}
        if len(mine) > 1:
            pairs += similar_pairs(lab, mine)
    return pairs


def summary_lines(pairs: list[Pair]) -> list[str]:
    """The section of ``summary.md`` that lists the pairs (a flag for review, not a score)."""
    lines = ["", "## Similar code between submissions (for review; scores are not changed)", ""]
    if not pairs:
        return lines + [f"No pair of submissions of the same lab shares {THRESHOLD:.0%} of its student-written code."]
    lines += [f"Pairs whose shared code (copydetect, the released notebook's code ignored) covers at least "
              f"{THRESHOLD:.0%} of either's student-written code. Cells count from 0.", "",
              "| lab | submission A | cells | share of A | submission B | cells | share of B |",
              "|---|---|---|---|---|---|---|"]
    for p in pairs:
        lines.append(f"| {p.lab} | `{p.a}` | {', '.join(map(str, p.cells_a))} | {p.share_a:.0%} | `{p.b}` | "
                     f"{', '.join(map(str, p.cells_b))} | {p.share_b:.0%} |")
    return lines
