"""Lab 4's method (issue 20): the choice on validation before any test metric, like-for-like budgets."""
import re

import nbformat
import pytest

from labutils import budgets

from conftest import SOLUTIONS

LAB4 = SOLUTIONS / "04_dog_breeds_strategies.ipynb"
CHOICE = re.compile(r"^best\s*=\s*pick_best\(results\)", re.M)
# reading a record's or a score's test entry, evaluating the test loader, or naming a test metric
# (the test dataset, splits["test"], and image counts such as LAB4_IMAGES["test"] are not metrics)
TEST_USE = re.compile(r"""(?<!splits)(?<!LAB4_IMAGES)(?<!counts)\[\s*["']test["']\s*\]|\btest_(acc|loss|scores|pass|batch)\b|["']test (acc|loss)|"""
                      r"""\btest\s+acc""", re.I)


def _code_cells(nb):
    return [(i, c.source) for i, c in enumerate(nb.cells) if c.cell_type == "code"]


def first_test_use_and_choice(nb):
    """Indices of the first code cell that touches a test metric and of the cell that makes the choice."""
    cells = _code_cells(nb)
    choice = next(i for i, src in cells if CHOICE.search(src))
    first_test = next((i for i, src in cells if TEST_USE.search(src)), None)
    return first_test, choice


def test_lab4_touches_test_only_after_the_choice():
    nb = nbformat.read(str(LAB4), as_version=4)
    first_test, choice = first_test_use_and_choice(nb)
    assert first_test is not None and first_test > choice, (
        f"cell {first_test} uses the test set before the choice in cell {choice}:\n{nb.cells[first_test].source}")
    # no output stored in the solution either (outputs would show a test metric before the choice)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")


@pytest.mark.parametrize("early", ['print(f"test acc {r[\'test\'][\'acc\']:.1%}")',
                                   'loss, acc, _, _ = run_epoch(model, loaders["test"], criterion, device)',
                                   'df["test acc"] = [r["test"]["acc"] for r in results]'])
def test_the_check_catches_a_test_metric_before_the_choice(early):
    """The first pattern is what the notebook did before issue 20 (its training cell printed test acc)."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell('loaders = {"test": DataLoader(splits["test"])}\n'
                                          'print(LAB4_IMAGES["test"], prep.counts["test"])'),
                nbformat.v4.new_code_cell(early),
                nbformat.v4.new_code_cell("best = pick_best(results)")]
    first_test, choice = first_test_use_and_choice(nb)
    assert first_test == 1 < choice == 2


def test_lab4_budgets_give_every_strategy_the_same_cap():
    assert set(budgets.LAB4_BUDGETS) == {"guide", "cpu"}
    for name, settings in budgets.LAB4_BUDGETS.items():
        assert set(settings["epochs"]) == {"freeze", "partial", "full"}, name
        assert len(set(settings["epochs"].values())) == 1, f"{name}: {settings['epochs']}"
    assert not hasattr(budgets, "LAB4_SEED")  # renamed: it clashed with the notebook's SEED


def test_lab4_budget_table_states_the_budgets():
    """The markdown table of section 1.3 says what labutils.budgets holds, and the notebook reads it from there."""
    nb = nbformat.read(str(LAB4), as_version=4)
    table = next(c.source for c in nb.cells if c.cell_type == "markdown" and "### 1.3 Бюджет" in c.source)
    for name, settings in budgets.LAB4_BUDGETS.items():
        size, cap = settings["image_size"], set(settings["epochs"].values()).pop()
        row = next(line for line in table.splitlines() if line.startswith(f'| `"{name}"`'))
        assert row.startswith(f'| `"{name}"` | {size}×{size} | {cap} | {settings["patience"]} эпох'), row
    code = "\n".join(src for _, src in _code_cells(nb))
    assert "SETTINGS = LAB4_BUDGETS[BUDGET]" in code
    assert not re.search(r"""BUDGET\s*=\s*["']seed["']""", code)  # the old budget name
    sections = [c.source.splitlines()[0] for c in nb.cells if c.cell_type == "markdown"
                and re.match(r"#+ \d", c.source)]
    numbers = [re.match(r"#+ ([\d.]+\w?)", s).group(1) for s in sections]
    assert numbers.index("1.3") < numbers.index("1.4") and "1.2a" not in numbers
