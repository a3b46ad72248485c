"""Student-written classes that are torchvision's own ``models/resnet.py`` classes pasted and renamed
(used by :mod:`labutils.grader.kernel` for Lab 1's ``from_scratch`` tasks; flags for review).

Each class is reduced to a token sequence of its code with docstrings, comments and annotations
dropped and every identifier replaced by its order of first appearance (``self.conv1(x)`` and
``self.c_a(inp)`` read the same); two classes are alike when most of their overlapping runs of
:data:`SHINGLE` tokens match: :data:`THRESHOLD` of the smaller side's runs. A class written from
the lab's description shares short runs with the library, never most of its long ones.
"""
from __future__ import annotations

import ast
import functools
import inspect
import io
import tokenize

import torchvision.models.resnet as resnet
from torch import nn

SHINGLE = 10  # tokens per compared run
THRESHOLD = 0.6  # share of the runs of the smaller of the two classes found in the other
MIN_TOKENS = 60  # classes shorter than this are not compared (too little code to tell)


class _Strip(ast.NodeTransformer):
    """Drops docstrings and annotations, which a paste keeps or loses without changing the code."""

    def visit_FunctionDef(self, node):
        node.returns = None
        for a in [*node.args.args, *node.args.kwonlyargs, *node.args.posonlyargs]:
            a.annotation = None
        if node.args.vararg:
            node.args.vararg.annotation = None
        if node.args.kwarg:
            node.args.kwarg.annotation = None
        return self._body(node)

    def visit_ClassDef(self, node):
        return self._body(node)

    def visit_AnnAssign(self, node):
        if node.value is None:
            return None
        return ast.copy_location(ast.Assign(targets=[node.target], value=node.value), node)

    def _body(self, node):
        self.generic_visit(node)
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
            body = body[1:]
        node.body = body or [ast.Pass()]
        return node


def tokens(node: ast.AST) -> list[str]:
    """The class's normalised tokens: names numbered by first appearance, strings and numbers kept."""
    code = ast.unparse(ast.fix_missing_locations(_Strip().visit(ast.parse(ast.unparse(node)))))
    seen: dict[str, str] = {}
    out = []
    for tok in tokenize.generate_tokens(io.StringIO(code).readline):
        if tok.type == tokenize.NAME and not tok.string.isidentifier():
            continue
        if tok.type == tokenize.NAME and tok.string not in _KEYWORDS:
            out.append(seen.setdefault(tok.string, f"n{len(seen)}"))
        elif tok.type in (tokenize.NAME, tokenize.OP, tokenize.NUMBER, tokenize.STRING):
            out.append(tok.string)
    return out


_KEYWORDS = {"if", "else", "elif", "for", "while", "return", "def", "class", "in", "not", "and", "or", "is",
             "None", "True", "False", "raise", "pass", "lambda", "with", "as", "try", "except", "finally",
             "import", "from", "yield", "del", "assert", "break", "continue", "global", "nonlocal"}


def _runs(seq: list[str]) -> set[tuple[str, ...]]:
    return {tuple(seq[i:i + SHINGLE]) for i in range(max(0, len(seq) - SHINGLE + 1))}


@functools.lru_cache(maxsize=1)
def library_runs() -> dict[str, set[tuple[str, ...]]]:
    """Name -> token runs of torchvision's ResNet classes (:func:`classes`), from its installed source."""
    try:
        tree = ast.parse(inspect.getsource(resnet))
    except (OSError, TypeError, SyntaxError):
        return {}
    names = classes()
    return {node.name: _runs(tokens(node)) for node in tree.body
            if isinstance(node, ast.ClassDef) and node.name in names}


def classes() -> set[str]:
    """The names of the module classes torchvision's ``models/resnet.py`` defines (its blocks and network)."""
    return {name for name, obj in vars(resnet).items() if isinstance(obj, type) and issubclass(obj, nn.Module)
            and obj.__module__ == resnet.__name__}


def alike(node: ast.ClassDef) -> tuple[str, float] | None:
    """``(library class, share of runs that match)`` when ``node`` is one of torchvision's ResNet classes
    pasted (renamed or not), else None."""
    own = tokens(node)
    if len(own) < MIN_TOKENS:
        return None
    mine = _runs(own)
    best = None
    for name, theirs in library_runs().items():
        share = len(mine & theirs) / max(1, min(len(mine), len(theirs)))
        if share >= THRESHOLD and (best is None or share > best[1]):
            best = (name, share)
    return best
