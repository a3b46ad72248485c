"""Authoring lint of hints: rules that find a hint giving a task's solution away (all labs).

``python -m labutils.assignments check`` runs them on ``solutions/``. A hint is the ``# TODO:``
comment above a solution region, or the ``<details>`` block of a markdown cell that follows the
task's mention (``Задание N.M``). A hint says what to build and why; these rules catch what a
program can see of one that says which code to write:

* :func:`repeated_pieces` — a solution line (or its right side, or its return value) repeated
  verbatim, ignoring whitespace and quote style, or a code span of the hint that is the same line
  with a few characters changed (a renamed variable);
* :func:`spelled_expressions` — an expression of the solution written out in the hint, such as
  ``r["params"]["trainable"]`` or ``image.unsqueeze(0)`` (not a bare name, a path into an object the
  student is given, or an argument-free call such as ``model.eval()`` inside a longer line), or the
  constant arguments of a call, such as the shape ``(3, 1, 1)`` of ``.view(3, 1, 1)``;
* :func:`unpacking_orders` — the names a solution line unpacks, in that order (``tn, fp, fn, tp``);
* :func:`walkthrough` — numbered steps that name the calls of (nearly) every statement of the
  solution, one step after another.

Each returns plain findings; :func:`region_problems` words them for ``assignments check``
(:mod:`labutils.authoring.lint` applies them to every hint of a notebook).
"""
from __future__ import annotations

import ast
import difflib
import re
import textwrap

MIN_REPEAT = 10  # non-space characters: a shorter solution piece in a hint is not counted as giving it away
NEAR = 0.85  # similarity (difflib ratio) from which a code span counts as the same line, slightly changed
WALK_SHARE = 0.75  # share of the solution's statements named step by step from which a hint walks through it
MIN_STEPS = 3  # fewer numbered steps (or solution statements) than this are not a walk-through
# module aliases a hint may name freely: naming them tells nothing about the solution
GENERIC_NAMES = frozenset({"self", "torch", "np", "nn", "F", "pd", "plt"})

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SPAN = re.compile(r"```(?:[a-z]*\n)?(?P<fenced>.*?)```|`(?P<inline>[^`\n]+)`", re.S)
_STEP = re.compile(r"^\s*(?:\d+[.)]|\(\d+\))\s+", re.M)  # in markdown: at the start of a line
_INLINE_STEP = re.compile(r"(?:^|\s)(?:\d+\)|\(\d+\))\s")  # in a TODO comment, joined into one line
_STRINGS = re.compile(r"'([^'\n]*)'|\"([^\"\n]*)\"")


def flat(text: str) -> str:
    """``text`` without whitespace and with one quote style: how hints and solutions are compared."""
    return re.sub(r"\s+", "", text).replace('"', "'")


def code_spans(markdown: str) -> list[str]:
    """The inline (`...`) and fenced (```...```) code of a markdown text."""
    return [(m.group("fenced") if m.group("fenced") is not None else m.group("inline")).strip()
            for m in _SPAN.finditer(markdown)]


def parse_region(body: list[str]) -> ast.Module | None:
    """The solution lines of one region as a module (dedented), or ``None`` when they do not parse alone."""
    try:
        return ast.parse(textwrap.dedent("\n".join(body)))
    except SyntaxError:
        return None


def giveaways(line: str) -> list[str]:
    """Pieces of a solution line that a hint must not repeat: the line, an assignment's right side, a return value."""
    code = line.split("  #", 1)[0].strip().rstrip(",")
    pieces = [code]
    match = re.match(r"^[\w.\[\], ]+?\s*(?:[-+*/@%]|//)?=(?!=)\s*(?P<rhs>.+)$", code)
    if match:
        pieces.append(match.group("rhs"))
    if code.startswith("return "):
        pieces.append(code[len("return "):])
    # A bare (dotted) name such as `downsample` or `model.fc.in_features` is a concept a hint may name,
    # and so is the opening of a call that continues on the next lines (`nn.Sequential(`);
    # expressions and calls are what gives a solution away.
    return [p for p in pieces if len(flat(p)) >= MIN_REPEAT
            and not re.fullmatch(r"(?:return\s+)?[\w.]+\s*[(\[{]*", p.strip())]


def statement_pieces(tree: ast.Module) -> list[str]:
    """Whole simple statements of a region, however many lines each spans (and their right sides)."""
    pieces = []
    for node in _statements(tree):
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Return, ast.Expr)):
            text = ast.unparse(node)
            if "\n" not in text:
                pieces += giveaways(text)
    return pieces


def repeated_pieces(hint: str, body: list[str], tree: ast.Module | None = None,
                    spans: list[str] | None = None) -> list[tuple[str, str]]:
    """``(piece, how)`` for each solution piece the hint repeats: ``how`` is ``"verbatim"`` or the
    hint's code span that repeats it nearly verbatim (``spans``: the hint's code, for markdown)."""
    text = flat(hint)
    pieces = [p for line in body for p in giveaways(line)]
    pieces += statement_pieces(tree) if tree is not None else []
    found, seen = [], set()
    for piece in pieces:
        key = flat(piece)
        if key in seen:
            continue
        seen.add(key)
        if key in text:
            found.append((piece, "verbatim"))
            continue
        for span in spans or []:
            other = flat(span)
            if len(other) >= 0.8 * len(key) and difflib.SequenceMatcher(None, key, other).ratio() >= NEAR:
                found.append((piece, span))
                break
    return found


def _statements(tree: ast.Module) -> list[ast.stmt]:
    out: list[ast.stmt] = []

    def visit(nodes):
        for node in nodes:
            out.append(node)
            for field in ("body", "orelse", "finalbody"):
                sub = getattr(node, field, None)
                if isinstance(sub, list):
                    visit(sub)
            for handler in getattr(node, "handlers", []):
                visit(handler.body)

    visit(tree.body)
    return out


def bound_names(tree: ast.Module) -> set[str]:
    """Names the solution itself introduces: assignment and loop targets, lambda and function arguments."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
    return names


def _is_path(node: ast.expr, given: set[str]) -> bool:
    """``model.classifier[1]``, ``HEAD_MODULES[arch]``: attributes and constant or given subscripts
    from a name the student is given — where to look, not what to compute."""
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        if isinstance(node, ast.Subscript):
            index = node.slice
            if not (isinstance(index, ast.Constant) or (isinstance(index, ast.Name) and index.id in given)):
                return False
        node = node.value
    return isinstance(node, ast.Name) and node.id in given


def _candidates(node: ast.expr, given: set[str]) -> list[str]:
    """What of one expression node a hint must not write out: the expression itself (unless trivial)
    and, for a call with three or more constant positional arguments, their tuple (a shape such as
    ``(3, 1, 1)``)."""
    out = []
    if isinstance(node, ast.Call) and len(node.args) >= 3 and all(isinstance(a, ast.Constant) for a in node.args):
        out.append("(" + ", ".join(ast.unparse(a) for a in node.args) + ")")
    if isinstance(node, (ast.Name, ast.Constant, ast.Attribute)):
        return out
    if isinstance(node, ast.Call) and not node.args and not node.keywords:
        return out  # `model.eval()`, `torch.no_grad()`: naming a method, not computing anything
    if isinstance(node, ast.Subscript) and _is_path(node, given):
        return out
    text = ast.unparse(node)
    return out + [text] if len(flat(text)) >= MIN_REPEAT else out


def spelled_expressions(hint_code: list[str], tree: ast.Module, given: set[str]) -> list[tuple[str, str]]:
    """``(expression, code)`` for each expression of the solution written out in one of ``hint_code``
    (the hint's code spans, or the whole text of a TODO comment); an expression inside one already
    found is not reported again. ``given``: names the student's cell already shows (the signature,
    the code around the region)."""
    found: list[tuple[str, str]] = []
    codes = [(code, flat(code)) for code in hint_code]
    for node in ast.walk(tree):  # outer expressions first
        if not isinstance(node, ast.expr):
            continue
        for text in _candidates(node, given):
            key = flat(text)
            if any(key in flat(done) for done, _ in found):
                continue
            match = next((code for code, flat_code in codes if key in flat_code), None)
            if match is not None:
                found.append((text, match))
    return found


def unpacking_orders(hint: str, tree: ast.Module) -> list[tuple[str, list[str]]]:
    """``(statement, names)`` for each solution line unpacking three or more names whose order the hint
    lists (the same names one after another, case aside): the order is what the student finds out."""
    words = [w.lower() for w in _IDENT.findall(hint)]
    found = []
    for node in _statements(tree):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.For) else []
        for target in targets:
            if not isinstance(target, ast.Tuple):
                continue
            names = [e.id.lower() for e in target.elts if isinstance(e, ast.Name)]
            if len(names) >= 3 and any(words[i:i + len(names)] == names for i in range(len(words))):
                found.append((ast.unparse(node).split("\n", 1)[0], names))
    return found


def _header(node: ast.stmt) -> list[ast.AST]:
    """The parts of a statement without the statements nested in it."""
    if isinstance(node, (ast.For, ast.AsyncFor)):
        return [node.target, node.iter]
    if isinstance(node, (ast.While, ast.If)):
        return [node.test]
    if isinstance(node, (ast.With, ast.AsyncWith)):
        return [part for item in node.items for part in (item.context_expr, item.optional_vars) if part]
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Try)):
        return []
    return [node]


def statement_tokens(node: ast.stmt, known: set[str]) -> set[str]:
    """What a statement calls and reads that the student has to find: functions, attributes, keyword
    names and strings, lower-cased; minus ``known`` names (given or introduced by the solution)."""
    tokens = set()
    for part in _header(node):
        for sub in ast.walk(part):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load):
                tokens.add(sub.id)
            elif isinstance(sub, ast.Attribute):
                tokens.add(sub.attr)
            elif isinstance(sub, ast.keyword) and sub.arg:
                tokens.add(sub.arg)
            elif isinstance(sub, ast.Constant) and isinstance(sub.value, str) and sub.value.strip():
                tokens.add(sub.value)
    return {tok.lower() for tok in tokens if tok not in known and tok not in GENERIC_NAMES}


def text_tokens(text: str) -> set[str]:
    """The identifiers and quoted strings of a hint's text, lower-cased (Cyrillic prose ignored)."""
    tokens = set(_IDENT.findall(text))
    for single, double in _STRINGS.findall(text):
        tokens.update(s for s in (single, double) if s)
    return {tok.lower() for tok in tokens}


def numbered_steps(text: str, inline: bool = False) -> list[str]:
    """The items of a numbered list in ``text``: ``1.``, ``2)`` or ``(3)`` at the start of a line, or
    (``inline``, a TODO comment read as one line) ``2)`` or ``(3)`` anywhere after a space."""
    starts = [m.start() for m in (_INLINE_STEP if inline else _STEP).finditer(text)]
    return [text[a:b] for a, b in zip(starts, starts[1:] + [len(text)])]


def walkthrough(text: str, tree: ast.Module, given: set[str],
                inline: bool = False) -> tuple[int, int, int] | None:
    """``(steps, named, statements)`` when the numbered steps of ``text`` name the calls of at least
    ``WALK_SHARE`` of the solution's statements (a statement counts as named when one step names two
    of its tokens, or all when it has fewer); ``None`` otherwise."""
    steps = numbered_steps(text, inline)
    known = given | bound_names(tree)
    statements = [tok for tok in (statement_tokens(n, known) for n in _statements(tree)) if tok]
    if len(steps) < MIN_STEPS or len(statements) < MIN_STEPS:
        return None
    step_tokens = [text_tokens(step) for step in steps]
    named = sum(1 for tok in statements if any(len(tok & s) >= min(2, len(tok)) for s in step_tokens))
    if named >= WALK_SHARE * len(statements):
        return len(steps), named, len(statements)
    return None


def given_names(student_source: str) -> set[str]:
    """Identifiers a student's cell shows in code (not comments): naming them in a hint gives nothing away."""
    code = "\n".join(line.split("#", 1)[0] for line in student_source.splitlines())
    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", code))


def region_problems(what: str, task: str, hint: str, body: list[str], tree, given: set[str],
                     spans: list[str] | None = None, inline_steps: bool = False) -> list[str]:
    """The give-away findings of one hint, worded for ``python -m labutils.assignments check``:
    ``what`` names the hint (notebook, cell), ``task`` its task; ``body``/``tree``: the solution's
    lines and statements; ``spans``: the hint's code spans (markdown); ``inline_steps``: a TODO."""
    problems = []
    for piece, how in repeated_pieces(hint, body, tree, spans):
        if how == "verbatim":
            problems.append(f"{what} of {task} gives away the solution {piece!r}; "
                            "say what to build and why, not the code")
        else:
            problems.append(f"{what} of {task} gives away the solution {piece!r} nearly verbatim as "
                            f"{how!r}; say what to build and why, not the code")
    if tree is None:
        return problems
    # code spans first, so a finding names the span; then the whole text (code written without backticks)
    for expr, code in spelled_expressions((spans or []) + [hint], tree, given):
        where = f" (in {code!r})" if code != hint and flat(code) != flat(expr) else ""
        problems.append(f"{what} of {task} spells out the solution's expression {expr!r}{where}; "
                        "name the idea or the function, and let the student write the expression")
    for line, names in unpacking_orders(hint, tree):
        problems.append(f"{what} of {task} gives away the order of {', '.join(names)} that {line!r} "
                        "unpacks; let the student find the order (from the documentation or a small example)")
    walk = walkthrough(hint, tree, given, inline=inline_steps)
    if walk:
        steps, named, total = walk
        problems.append(f"{what} of {task} walks through the solution: its {steps} numbered steps name "
                        f"the calls of {named} of its {total} statements; say what each part achieves and "
                        "why, not which call comes next")
    return problems
