"""The package's layout: one module per dataset, and no import cycle between labutils' modules."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "labutils"


def _imports() -> dict[str, set[str]]:
    """Module -> the labutils modules it imports (relative imports, at any depth of the file)."""
    graph = {}
    for path in PACKAGE.glob("*.py"):
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
                deps.add(node.module.split(".")[0])
            elif isinstance(node, ast.ImportFrom) and node.level == 1:
                deps.update(a.name for a in node.names)
        graph[path.stem] = deps - {path.stem}
    return graph


def test_no_import_cycle():
    graph = _imports()
    state: dict[str, str] = {}

    def visit(name, path):
        state[name] = "open"
        for dep in graph.get(name, ()):
            assert state.get(dep) != "open", " -> ".join(path + [dep])
            if dep not in state:
                visit(dep, path + [dep])
        state[name] = "done"

    for name in graph:
        if name not in state:
            visit(name, [name])


def test_each_dataset_has_its_own_module():
    graph = _imports()
    for dataset in ("chest_xray", "cifar100", "dogs"):
        assert dataset in graph
        assert dataset not in graph["imagefolder"] and dataset not in graph["standins"]
    assert not (PACKAGE / "datasets.py").exists()
