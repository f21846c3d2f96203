"""The workspace is made from gradschool's own engine source, so the two cannot drift apart.

    reference_text(file)        the engine module as the workspace holds it, complete: imports
                                made relative, the fused fast path left out (see below)
    workspace_text(file, lang)  the same with every blank's body replaced by its docstring
                                and `raise NotImplementedError`
    solution_body(blank)        a blank's reference body, as it reads inside the workspace
    fill_in(text, blank, body)  put a body into a blank (what a learner does; the tests do it
                                with solution_body to prove the references pass)
    is_untouched(text, blank)   is this blank still as `build start` left it?

Blanks are found by the AST (a function, a method, or the `backward` defined inside a method)
and replaced line by line in the text, so comments and layout elsewhere are kept as written.
Three of the engine's backwards are lambdas (`exp`, `log`): in the workspace they become a
named `def backward(g)`, so that the learner has a body to fill in.

NOTE: the workspace leaves out `engine/fused.py`, the fast path that runs `linear`,
`cross_entropy`, `layer_norm`, the tanh GELU, attention and `conv2d` as one node each with a
hand-written backward. With it, training would run those through gradschool's code instead of
the learner's matmul, softmax, cross-entropy, convolution and attention; without it, each is
the composite it is tested equal to.
"""

from __future__ import annotations

import ast
import io
import re
import textwrap
import tokenize
from importlib import import_module
from pathlib import Path

from gradschool.track.steps import STEPS, Blank, Step, blanks_in

# The workspace package's files, each made from a module of gradschool.
MODULES: dict[str, str] = {
    "__init__.py": "gradschool.engine",
    "tensor.py": "gradschool.engine.tensor",
    "functional.py": "gradschool.engine.functional",
    "module.py": "gradschool.engine.module",
    "nn.py": "gradschool.engine.nn",
    "nn_utils.py": "gradschool.engine.nn_utils",
    "init.py": "gradschool.engine.init",
    "rng.py": "gradschool.engine.rng",
    "optim.py": "gradschool.engine.optim",
    "lr_scheduler.py": "gradschool.engine.lr_scheduler",
    "windows.py": "gradschool.engine.windows",
    "conv.py": "gradschool.engine.conv",
    "conv_layers.py": "gradschool.engine.conv_layers",
    "transformer.py": "gradschool.engine.transformer",
    "transformer_layers.py": "gradschool.engine.transformer_layers",
    "loop.py": "gradschool.track.seed_loop",
}

_STUB_SIGNATURE = "def backward(g: np.ndarray) -> tuple:"


def source_path(file: str) -> Path:
    return Path(import_module(MODULES[file]).__file__)  # type: ignore[arg-type]


def reference_text(file: str) -> str:
    """The module `file` is made from, with relative imports and without the fused path."""
    text = source_path(file).read_text(encoding="utf-8")
    text = re.sub(r"\bfrom gradschool\.engine\.(\w+) import", r"from .\1 import", text)
    text = re.sub(r"\bfrom gradschool\.engine import", "from . import", text)
    return _strip_fused(text)


def workspace_text(file: str, lang: str) -> str:
    """The workspace's `file`: the reference with its blanks emptied."""
    text = reference_text(file)
    # Bottom-up, so that the line numbers of the blanks still to do stay valid.
    todo = sorted(blanks_in(file), key=lambda sb: -_locate(text, sb[1]).start)
    for step, blank in todo:
        text = _replace_body(text, blank, _stub_body(step, blank, lang), lambda_ok=True)
    return text


def solution_body(blank: Blank) -> str:
    """The reference body of `blank`, dedented (its first line at column 0)."""
    text = reference_text(blank.file)
    spot = _locate(text, blank)
    lines = text.splitlines(keepends=True)
    if spot.lam is not None:  # a lambda: its expression becomes the returned value
        return "return " + ast.get_source_segment(text, spot.lam.body) + "\n"  # type: ignore[operator]
    return textwrap.dedent("".join(lines[spot.body_start - 1 : spot.end]))


def fill_in(text: str, blank: Blank, body: str) -> str:
    """`text` (a workspace file) with `body` (dedented source) as the blank's body."""
    return _replace_body(text, blank, body, lambda_ok=False)


def is_untouched(text: str, blank: Blank) -> bool:
    """True while the blank is only a docstring and `raise NotImplementedError(...)`."""
    try:
        spot = _locate(text, blank)
    except (SyntaxError, LookupError):
        return False
    if spot.lam is not None or not isinstance(spot.node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return False
    body = spot.node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    if len(body) != 1 or not isinstance(body[0], ast.Raise) or body[0].exc is None:
        return False
    exc = body[0].exc
    name = exc.func if isinstance(exc, ast.Call) else exc
    return isinstance(name, ast.Name) and name.id == "NotImplementedError"


def solution_listing(step: Step, lang: str = "en") -> str:
    """What `gradschool build solution STEP` prints: each blank filled in, with where it is."""
    out = []
    for blank in step.blanks:
        path = source_path(blank.file)
        spot = _locate(path.read_text(encoding="utf-8"), blank)  # lines of the file itself
        line = spot.start  # the function's first line, or the statement holding the lambda
        try:
            shown = path.relative_to(Path(__file__).parents[2])  # from the folder of gradschool/
        except ValueError:
            shown = path
        header = (
            f"# {blank.where()}  (from {shown}, line {line})"
            if lang == "en"
            else f"# {blank.where()}（取自 {shown} 第 {line} 行）"
        )
        body = textwrap.indent(solution_body(blank), "    ")
        out.append(f"{header}\n{_signature(blank)}\n{body}")
    return "\n".join(out)


# ---- finding a blank -------------------------------------------------------------------------


class _Spot:
    """Where a blank is in a text: its function node and body lines (1-based, inclusive),
    or, for a lambda backward, the statement holding it and the lambda."""

    def __init__(self, node: ast.AST, stmt: ast.stmt | None = None, lam: ast.Lambda | None = None):
        self.node, self.stmt, self.lam = node, stmt, lam
        if lam is None:
            assert isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            self.body_start = _header_end(node) + 1
            self.end = node.end_lineno
            self.start = node.lineno
        else:
            assert stmt is not None
            self.start, self.end = stmt.lineno, stmt.end_lineno


def _locate(text: str, blank: Blank) -> _Spot:
    tree = ast.parse(text)
    scope: list[ast.stmt] = tree.body
    parts = blank.path.split(".")
    node: ast.AST | None = None
    for i, part in enumerate(parts):
        found = next(
            (n for n in scope if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == part),
            None,
        )
        if found is None:
            if part == "backward" and i == len(parts) - 1 and node is not None:
                lam = _lambda_backward(node)
                if lam is not None:
                    return _Spot(node, lam[0], lam[1])
            raise LookupError(f"{blank.where()} not found")
        node, scope = found, found.body
    return _Spot(node)  # type: ignore[arg-type]


def _lambda_backward(method: ast.AST) -> tuple[ast.stmt, ast.Lambda] | None:
    """The statement `... Tensor._make(data, parents, lambda g: ..., op)` in a method."""
    for stmt in method.body:  # type: ignore[attr-defined]
        for sub in ast.walk(stmt):
            if (
                isinstance(sub, ast.Call)
                and isinstance(sub.func, ast.Attribute)
                and sub.func.attr == "_make"
                and len(sub.args) >= 3
                and isinstance(sub.args[2], ast.Lambda)
            ):
                return stmt, sub.args[2]
    return None


def _header_end(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """The line of the `:` that ends a def's header (a signature may span several lines)."""
    if node.returns is not None:
        return node.returns.end_lineno  # type: ignore[return-value]
    return node.body[0].lineno - 1


def _signature(blank: Blank) -> str:
    """The def line(s) of a blank as the workspace has them (a lambda became a def)."""
    text = workspace_text(blank.file, "en")
    spot = _locate(text, blank)
    lines = text.splitlines()
    return textwrap.dedent("\n".join(lines[spot.start - 1 : spot.body_start - 1]))


# ---- editing ---------------------------------------------------------------------------------


def _replace_body(text: str, blank: Blank, body: str, lambda_ok: bool) -> str:
    spot = _locate(text, blank)
    lines = text.splitlines(keepends=True)
    if spot.lam is None:
        indent = _indent_of(lines, spot.body_start, spot.node)
        new = textwrap.indent(body, indent, lambda line: line.strip() != "")
        lines[spot.body_start - 1 : spot.end] = [new if new.endswith("\n") else new + "\n"]
        return "".join(lines)
    if not lambda_ok:
        raise LookupError(f"{blank.where()} is still a lambda")
    # `return Tensor._make(out, (self,), lambda g: (g * out,), "exp")  # comment`
    # -> def backward(g) ... (the stub) + `return Tensor._make(out, (self,), backward, "exp")`
    stmt, lam = spot.stmt, spot.lam
    assert stmt is not None and lam.lineno == lam.end_lineno == stmt.lineno == stmt.end_lineno
    line = _strip_comment(lines[stmt.lineno - 1])
    raw = line.encode("utf-8")
    line = (raw[: lam.col_offset] + b"backward" + raw[lam.end_col_offset :]).decode("utf-8")
    indent = " " * stmt.col_offset
    stub = indent + _STUB_SIGNATURE + "\n" + textwrap.indent(body, indent + "    ")
    lines[stmt.lineno - 1] = stub + "\n" + line
    return "".join(lines)


def _indent_of(lines: list[str], body_start: int, node: ast.AST) -> str:
    for line in lines[body_start - 1 :]:
        if line.strip():
            return line[: len(line) - len(line.lstrip())]
    return " " * (node.col_offset + 4)  # type: ignore[attr-defined]


def _strip_comment(line: str) -> str:
    """A line of code without its trailing `# comment` (the comment gave the answer away)."""
    tokens = list(tokenize.generate_tokens(io.StringIO(line).readline))
    for tok in tokens:
        if tok.type == tokenize.COMMENT:
            return line[: tok.start[1]].rstrip() + "\n"
    return line


def _stub_body(step: Step, blank: Blank, lang: str) -> str:
    stop = "。" if lang == "zh" else "."
    todo = f"TODO(step {step.number}, {step.name}): {step.title[lang]}{stop}"
    see = ("See: " if lang == "en" else "参见：") + step.lecture[lang] + stop
    check = (
        f"Check it: gradschool build check {step.name}"
        if lang == "en"
        else f"检查：gradschool build check {step.name}"
    )
    doc = f"{todo}\n\n{blank.doc[lang]}\n\n{see}\n{check}\n"
    doc = doc.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    message = f"step {step.number} ({step.name}): {blank.where()} is yours to write"
    return f'"""{doc}"""\nraise NotImplementedError("{message}")\n'


# ---- the fused fast path (see the module docstring) -----------------------------------------


def _strip_fused(text: str) -> str:
    if "fused" not in text:
        return text
    tree = ast.parse(text)
    drop: set[int] = set()  # 1-based line numbers
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.ImportFrom)
            and ("fused" in (node.module or "") or any("fused" in a.name for a in node.names))
            or isinstance(node, ast.If)
            and "is_fused_enabled" in ast.dump(node.test)
        ):
            drop.update(range(node.lineno, node.end_lineno + 1))  # type: ignore[operator]
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                drop.update(_fused_paragraphs(text, first))
    lines = text.splitlines(keepends=True)
    return "".join(line for i, line in enumerate(lines, 1) if i not in drop)


def _fused_paragraphs(text: str, doc: ast.Expr) -> set[int]:
    """Lines of a docstring's paragraphs that speak of the fused path, each with the blank
    line before it."""
    lines = text.splitlines()
    drop: set[int] = set()
    paragraph: list[int] = []
    for number in range(doc.lineno + 1, doc.end_lineno + 1):  # type: ignore[operator]
        line = lines[number - 1].strip()
        if line and line != '"""':
            paragraph.append(number)
            continue
        if paragraph and any("fused" in lines[n - 1] for n in paragraph):
            drop.update(paragraph)
            drop.add(paragraph[0] - 1)  # the blank line before it
        paragraph = []
    return drop


def all_workspace_files() -> list[str]:
    return list(MODULES)


def steps_in(file: str) -> list[Step]:
    return [s for s in STEPS if any(b.file == file for b in s.blanks)]
