"""What the grader reads in a submission's code without running it (used by :mod:`labutils.grader.kernel`).

The grader holds each submission's text before any kernel starts; what is found here cannot be
changed by anything the notebook does when it runs.

* :func:`student_cells`: the code the student wrote, i.e. the code cells whose text is not a cell of
  the released notebook (``notebooks/<lab>.ipynb``).
* :func:`library_copies` (Lab 1's tasks marked ``from_scratch`` in :mod:`labutils.course`): a graded
  class or factory whose own code uses torchvision's ResNet implementation (subclassing or aliasing
  ``BasicBlock``/``Bottleneck``/``ResNet``, borrowing their methods, or a factory returning
  torchvision's model). The task scores 0 with a verdict saying why.
* :func:`tamper_flags`: code that reaches into the interpreter or other processes (``sys.modules``,
  builtins, import hooks, IPython event hooks or ``set_custom_exc``, labutils' objects, signals,
  ``fork``/``setsid``, ``ctypes``) or could forge the probes' data (stack inspection, tracing or
  profiling hooks, threads, ``exec``/``eval``/``compile``, imports by computed name), read as IPython
  runs it (magics included) and inside the strings it runs. Flags do not change a score: they mark
  the submission for review.
"""
from __future__ import annotations

import ast
from pathlib import Path

import nbformat
from IPython.core.inputtransformer2 import TransformerManager

from .. import course
from ..messages import t
from . import likeness

NOTEBOOKS = course.NOTEBOOKS
# torchvision's implementation of what Lab 1 has students write, by qualified name
_TV_RESNET = ("torchvision.models.resnet.", "torchvision.models.ResNet", "torchvision.models.resnet18",
              "torchvision.models.resnet34", "torchvision.models.resnet50", "torchvision.models.resnext50_32x4d",
              "torchvision.models.get_model", "torchvision.models.resnet")


def scratch_names(lab: str) -> dict[str, str]:
    """Graded name -> its task, for the tasks of ``lab`` written without torchvision's ResNet code
    (``from_scratch`` in :mod:`labutils.course`); empty for a lab without such tasks or not in the course."""
    tasks = next((one.tasks for one in course.LABS if one.stem == lab), ())
    return {name: task.number for task in tasks if task.from_scratch for name in task.names}


def _normal(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


def released_sources(lab: str, folder: Path = NOTEBOOKS) -> set[str]:
    """The code cells' texts of the released notebook of ``lab`` (empty when it is not there)."""
    path = folder / f"{lab}.ipynb"
    if not path.is_file():
        return set()
    nb = nbformat.read(str(path), as_version=4)
    return {_normal(c.source) for c in nb.cells if c.cell_type == "code"}


def student_cells(nb, lab: str, folder: Path = NOTEBOOKS) -> list[tuple[int, str]]:
    """``(index, source)`` of the code cells that are not cells of the released notebook."""
    released = released_sources(lab, folder)
    return [(i, c.source) for i, c in enumerate(nb.cells)
            if c.cell_type == "code" and _normal(c.source) not in released and c.source.strip()]


_IPYTHON = TransformerManager()


def _parse(source: str):
    """The syntax tree of what IPython runs for the cell: its input transformers turn ``%``/``%%`` magics
    and ``!`` shell lines into ``get_ipython().run_line_magic(...)`` and similar calls first. None if it
    does not parse."""
    try:
        return ast.parse(_IPYTHON.transform_cell(source))
    except (SyntaxError, ValueError, TypeError):
        return None


class _Names:
    """What local names stand for, from the imports and simple assignments seen so far."""

    def __init__(self):
        self.aliases: dict[str, str] = {}

    def learn(self, tree) -> None:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.asname:
                        self.aliases[a.asname] = a.name
                    else:
                        self.aliases[a.name.split(".")[0]] = a.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for a in node.names:
                    self.aliases[a.asname or a.name] = f"{node.module}.{a.name}"
            elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                value = self.resolve(node.value)
                if value:
                    self.aliases[node.targets[0].id] = value

    def resolve(self, node) -> str | None:
        """The dotted name an expression stands for (``tv.BasicBlock`` -> torchvision.models.resnet.BasicBlock)."""
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id)
        if isinstance(node, ast.Attribute):
            base = self.resolve(node.value)
            return f"{base}.{node.attr}" if base else None
        return None


def _is_tv(name: str | None) -> bool:
    return bool(name) and (name.startswith(_TV_RESNET[0]) or name in _TV_RESNET[1:])


def _tv_used(node, names: _Names, skip: set[str]) -> str | None:
    """The first torchvision ResNet name used anywhere inside ``node``, other than through the names ``skip``
    (the other graded names: a factory that builds with ``ResidualBlock`` is judged apart from that class)."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        prefix = f"{node.module}." if isinstance(node, ast.ImportFrom) else ""
        found = [f"{prefix}{a.name}" for a in node.names if _is_tv(f"{prefix}{a.name}")]
        return found[0] if found else None
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and sub.id in skip:
            continue
        if isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name) and sub.value.id in skip:
            continue
        if isinstance(sub, (ast.Name, ast.Attribute)):
            name = names.resolve(sub)
            if _is_tv(name):
                return name
    return None


def _bound_names(node) -> list[str]:
    if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
        return [node.name]
    if isinstance(node, (ast.Import, ast.ImportFrom)) and not getattr(node, "level", 0):
        return [a.asname or a.name.split(".")[0] for a in node.names]
    if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return [n.id for target in targets for n in ast.walk(target) if isinstance(n, ast.Name)]
    return []


def library_copies(nb, lab: str, folder: Path = NOTEBOOKS) -> dict[str, str]:
    """Task -> verdict for each ``from_scratch`` task whose graded code the student wrote with torchvision's
    ResNet code."""
    graded = scratch_names(lab)
    if not graded:
        return {}
    names, found = _Names(), {}
    own = {i for i, _ in student_cells(nb, lab, folder)}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        tree = _parse(cell.source)
        if tree is None:
            continue
        names.learn(tree)
        if index not in own:
            continue
        for node in tree.body:
            for bound in _bound_names(node):
                task = graded.get(bound)
                used = _tv_used(node, names, set(graded) - {bound}) if task else None
                if used and task not in found:
                    found[task] = t("integrity.copy", name=bound, used=used, cell=index)
    return found


def pasted_library(nb, lab: str, folder: Path = NOTEBOOKS) -> list[str]:
    """Flags for the report: a class the student wrote (in a lab with ``from_scratch`` tasks) that is one of
    torchvision's ResNet classes pasted, renamed or not (:func:`labutils.grader.likeness.alike`)."""
    if not scratch_names(lab):
        return []
    flags = []
    for index, source in student_cells(nb, lab, folder):
        tree = _parse(source)
        for node in ast.walk(tree) if tree is not None else ():
            found = likeness.alike(node) if isinstance(node, ast.ClassDef) else None
            if found:
                flags.append(t("integrity.copy_source", name=node.name, cell=index, source=found[0], share=found[1]))
    return flags


# (what to look for, message key): attribute chains, called names, and assignment targets
_CALLS = {"set_custom_exc": "integrity.custom_exc", "register": "integrity.events", "kill": "integrity.signals",
          "killpg": "integrity.signals", "fork": "integrity.processes", "setsid": "integrity.processes",
          "signal": "integrity.signals", "reload": None}
_MODULES = {"ctypes": "integrity.ctypes"}
# forging the probes' data: looking at the caller, tracing, threads, code from strings, computed imports
_FRAMES = {"inspect.stack", "inspect.currentframe", "inspect.getouterframes", "inspect.getinnerframes",
           "inspect.trace", "inspect.getframeinfo", "sys._getframe", "sys._current_frames", "traceback.extract_stack",
           "traceback.walk_stack", "traceback.format_stack", "traceback.print_stack"}
_FRAME_ATTRS = {"f_back", "f_globals", "f_locals", "f_code", "tb_frame", "gi_frame", "cr_frame"}
_TRACING = {"sys.settrace", "sys.setprofile", "threading.settrace", "threading.setprofile",
            "threading.settrace_all_threads", "threading.setprofile_all_threads", "sys.addaudithook",
            "sys.monitoring.register_callback", "sys.monitoring.use_tool_id", "sys.monitoring.set_events"}
_THREADS = {"threading.Thread", "threading.Timer", "_thread.start_new_thread", "_thread.start_new",
            "concurrent.futures.ThreadPoolExecutor", "multiprocessing.pool.ThreadPool", "asyncio.to_thread"}
_CODE = {"exec", "eval", "compile", "builtins.exec", "builtins.eval", "builtins.compile"}
_IMPORTS = {"__import__", "builtins.__import__", "importlib.import_module", "importlib.__import__"}
_IPY_CODE = ("run_line_magic", "run_cell_magic", "run_cell", "ex", "ev", "run_code", "safe_execfile")
NESTED = 3  # code in strings scanned this many levels deep (exec of a string that execs a string ...)


def _dotted(names: _Names, node) -> str:
    """The dotted name a call's function stands for, also for names used as they are (``exec``)."""
    resolved = names.resolve(node)
    if resolved:
        return resolved
    if isinstance(node, ast.Name):
        return node.id
    return ""


def _strings(node: ast.Call) -> list[str]:
    return [a.value for a in [*node.args, *[k.value for k in node.keywords]]
            if isinstance(a, ast.Constant) and isinstance(a.value, str)]


def _forging(node, names: _Names, add) -> list[str]:
    """Add the forging flags of one node; return the strings it runs as code (to be scanned too)."""
    if isinstance(node, ast.Attribute) and node.attr in _FRAME_ATTRS:
        add("integrity.frames", node)
    if isinstance(node, ast.ClassDef) and any(_dotted(names, b) in ("threading.Thread", "threading.Timer")
                                              for b in node.bases):
        add("integrity.threads", node)
    if not isinstance(node, ast.Call):
        return []
    dotted = _dotted(names, node.func)
    name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
    if dotted in _FRAMES:
        add("integrity.frames", node)
    elif dotted in _TRACING:
        add("integrity.tracing", node)
    elif dotted in _THREADS:
        add("integrity.threads", node)
    elif dotted in _CODE:
        add("integrity.dynamic_code", node)
        return _strings(node)[:1]
    elif dotted in _IMPORTS and not (node.args and isinstance(node.args[0], ast.Constant)):
        add("integrity.dynamic_import", node)
    elif name in _IPY_CODE and isinstance(node.func, ast.Attribute):
        if name not in ("run_line_magic", "run_cell_magic"):
            add("integrity.dynamic_code", node)
        return _strings(node)[-1:]  # a magic's code, or the cell's text
    return []


def _flag_node(node, names: _Names, add) -> None:
    """The interpreter-tampering flags of one node (see :func:`tamper_flags`)."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        for module in modules:
            if module.split(".")[0] in _MODULES:
                add(_MODULES[module.split(".")[0]], node)
    elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
        targets = (node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target])
        for target in targets:
            dotted = names.resolve(target.value) if isinstance(target, (ast.Attribute, ast.Subscript)) else None
            text = ast.unparse(target)
            if dotted in ("sys.modules", "sys.meta_path", "sys.path_hooks") or "sys.modules" in text:
                add("integrity.sys_modules", node)
            elif dotted == "builtins" or text.startswith(("__builtins__", "builtins.")):
                add("integrity.builtins", node)
            elif dotted and dotted.split(".")[0] in ("labutils", "importlib", "torch", "torchvision", "json",
                                                      "numpy", "sklearn", "IPython", "threading", "sys", "inspect"):
                add("integrity.patch", node)
    elif isinstance(node, ast.Call):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        dotted = names.resolve(func) or ""
        if name in ("append", "insert", "extend") and isinstance(func, ast.Attribute) and \
                names.resolve(func.value) in ("sys.meta_path", "sys.path_hooks"):
            add("integrity.sys_modules", node)
        elif name == "set_custom_exc" or (name == "register" and "events" in ast.unparse(func)):
            add(_CALLS[name], node)
        elif dotted in ("os.kill", "os.killpg", "os.fork", "os.setsid", "signal.signal", "os.forkpty"):
            add(_CALLS[dotted.split(".")[1]] if dotted.split(".")[1] in _CALLS else "integrity.processes", node)
        elif any(k.arg == "start_new_session" for k in node.keywords):
            add("integrity.processes", node)
        elif name == "setattr" and node.args and (names.resolve(node.args[0]) or "").split(".")[0] in (
                "labutils", "builtins", "sys", "importlib", "torch", "json"):
            add("integrity.patch", node)


def _scan_tree(tree, names: _Names, add, depth: int = 0) -> None:
    names.learn(tree)
    for node in ast.walk(tree):
        _flag_node(node, names, add)
        for code in _forging(node, names, add):
            inner = _parse(code) if depth < NESTED else None
            if inner is not None:  # what exec/eval/compile or a magic runs, reported at the outer line
                _scan_tree(inner, names, lambda key, _node, at=node: add(key, at), depth + 1)


def tamper_flags(nb, lab: str, folder: Path = NOTEBOOKS) -> list[str]:
    """Lines for the report: student-written code that reaches into the interpreter or other processes,
    or that could forge the probes' data (stack inspection, tracing hooks, threads, code run from strings,
    imports by computed name). The code is read as IPython runs it (magics and ``!`` lines included), and
    strings run by ``exec``/``eval``/``compile`` or a magic are read as code too."""
    flags: list[str] = []
    for index, source in student_cells(nb, lab, folder):
        tree = _parse(source)
        if tree is None:
            continue

        def add(key: str, node, index=index) -> None:
            line = t(key, cell=index, line=getattr(node, "lineno", 0))
            if line not in flags:
                flags.append(line)

        _scan_tree(tree, _Names(), add)
    return flags
