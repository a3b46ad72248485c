"""Similar code between submissions (issue 26), calibrated on several genuinely different correct solutions
written independently (tests/grader/similarity_cases.py): a renamed and reordered copy is found, with its
cells; no two different correct solutions are flagged; the released notebook's code does not count."""
import itertools
import re

import nbformat
import pytest

from labutils.grader import similarity
from labutils.grader.integrity import student_cells

from conftest import NOTEBOOKS, SOLUTIONS
from similarity_cases import COPY_LAB2, LAB2, SOLUTIONS as CASES

REGION = re.compile(r"(### BEGIN SOLUTION\n)(.*?)(\s*### END SOLUTION)", re.S)
AUTHORS = ("confusion", "masks", "loop")


def _cell(lab, marker, bodies):
    """(index, source) of the solution cell holding ``marker``, its regions replaced by ``bodies``."""
    nb = nbformat.read(str(SOLUTIONS / f"{lab}.ipynb"), as_version=4)
    index = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and marker in c.source)
    bodies = iter(bodies)
    return index, REGION.sub(lambda m: m.group(1) + next(bodies).rstrip("\n") + m.group(3), nb.cells[index].source)


def _class(lab):
    return {author: [_cell(lab, marker, versions[author]) for (one, marker), versions in CASES.items() if one == lab]
            for author in AUTHORS}


@pytest.mark.parametrize("lab", sorted({lab for lab, _ in CASES}))
def test_different_correct_solutions_are_not_flagged(lab):
    assert similarity.similar_pairs(lab, _class(lab)) == []


def test_a_renamed_and_reordered_copy_is_found_with_its_cells():
    code = _class(LAB2)
    code["copier"] = [(99, COPY_LAB2)]
    pairs = similarity.similar_pairs(LAB2, code)
    assert [(p.a, p.b) for p in pairs] == [("copier", "masks")]
    pair = pairs[0]
    assert min(pair.share_a, pair.share_b) > similarity.THRESHOLD
    assert pair.cells_a == [99] and pair.cells_b == sorted(i for i, _ in code["masks"])
    lines = "\n".join(similarity.summary_lines(pairs))
    assert "`copier`" in lines and "`masks`" in lines and "for review" in lines


def test_the_released_code_is_boilerplate():
    """Two submissions that only ran the released notebook (plus identical outputs) share nothing flaggable;
    the full solution compared with itself is flagged (the scan does see code)."""
    lab = LAB2
    released = nbformat.read(str(NOTEBOOKS / f"{lab}.ipynb"), as_version=4)
    assert student_cells(released, lab) == []
    solution = student_cells(nbformat.read(str(SOLUTIONS / f"{lab}.ipynb"), as_version=4), lab)
    assert similarity.similar_pairs(lab, {"a": [], "b": []}) == []
    assert len(similarity.similar_pairs(lab, {"a": solution, "b": solution})) == 1


def test_class_pairs_compare_within_a_lab_only():
    code = _class(LAB2)
    code["copier"] = [(99, COPY_LAB2)]
    labs = {name: LAB2 for name in code} | {"other": "03_resnext_cifar100"}
    code["other"] = code["masks"]
    assert [(p.a, p.b) for p in similarity.class_pairs(labs, code)] == [("copier", "masks")]


def test_the_class_summary_lists_the_pair_and_keeps_it_when_another_lab_is_regraded(tmp_path):
    from labutils.grader.run import grade
    from test_term_records import stub

    released = nbformat.read(str(NOTEBOOKS / f"{LAB2}.ipynb"), as_version=4)
    original = COPY_LAB2.replace("labels_list", "targets").replace("n_cls", "num_classes")  # the "masks" author
    for who, extra in (("anna", original), ("boris", COPY_LAB2.replace("hist", "tally").replace("se, sp", "s1, s2"))):
        nb = nbformat.from_dict(released)
        nb.cells.append(nbformat.v4.new_code_cell(extra))
        (tmp_path / "class" / who).mkdir(parents=True)
        nbformat.write(nb, str(tmp_path / "class" / who / f"{LAB2}.ipynb"))
    out = tmp_path / "grades"
    grade([str(tmp_path / "class")], out, run_one=stub(lambda p: True), sandbox_mode="none")
    section = (out / "summary.md").read_text(encoding="utf-8").split("## Similar code")[1]
    assert "class/anna/" in section and "class/boris/" in section and f"| {LAB2} |" in section
    lab1 = tmp_path / "late" / "01_residual_networks.ipynb"
    lab1.parent.mkdir()
    lab1.write_bytes((NOTEBOOKS / lab1.name).read_bytes())
    grade([str(lab1)], out, run_one=stub(lambda p: True), sandbox_mode="none")  # another lab: pairs kept, not redone
    assert (out / "summary.md").read_text(encoding="utf-8").split("## Similar code")[1] == section


@pytest.mark.parametrize("threshold, min_tokens", [(0.5, 100), (0.2, 40), (0.05, 10)])
def test_the_cheap_first_look_never_skips_a_pair_that_would_pass(threshold, min_tokens):
    import copydetect
    for lab in sorted({lab for lab, _ in CASES}):
        code = _class(lab)
        if lab == LAB2:
            code["copier"] = [(99, COPY_LAB2)]
        boilerplate = similarity.boilerplate_hashes(lab)
        prints = {s: similarity._fingerprint(cells, boilerplate).fingerprint for s, cells in code.items()}
        for a, b in itertools.combinations(prints, 2):
            overlap, shares, _ = copydetect.compare_files(prints[a], prints[b])
            passes = overlap >= min_tokens and max(shares) >= threshold
            assert not passes or similarity._worth_comparing(prints[a], prints[b], threshold, min_tokens), (lab, a, b)
