"""The layers of gradschool, read from its imports: cycles, upward imports, private names.

    python scripts/check_imports.py            # the table; exit status 1 on a new problem
    python scripts/check_imports.py --graph    # also every import between modules

gradschool is built in layers (docs/architecture.md). A module may import its own layer and
the layers below it, never one above: the engine knows nothing of training, the training loop
knows nothing of the applications built on it, and only the CLI sees everything. This script
reads every module's imports with `ast` (those inside functions too: a lazy import is still a
dependency) and reports:

- **cycles**: modules that import each other, directly or round a loop. An import under
  `if TYPE_CHECKING:` is for type hints only, never runs, and does not count.
- **upward imports**: a module importing one in a higher layer.
- **private names**: `from gradschool.x import _name` or `x._name` in another module. A
  leading underscore says "this module's own business"; a piece that two modules share is
  made public, in the module where it belongs.

`ALLOWED` lists the exceptions, each with its reason. Anything else fails, and
tests/test_architecture.py runs this check in the suite, so a knot cannot come back unseen.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "gradschool"

# Bottom to top. A module belongs to the first layer whose prefix names it or a package above
# it (the longest prefix wins).
LAYERS: list[tuple[str, list[str]]] = [
    (
        "base",
        [
            "gradschool",
            "version",
            "errors",
            "text",
            "threads",
            "settings",
            "checkpoint",
            "precision",
        ],
    ),
    ("engine", ["engine", "gradcheck"]),
    (
        "data/models/backends",
        ["data", "models", "backends", "distributed", "config", "plots", "generation"],
    ),
    ("train", ["train"]),
    ("experiments/apps/trust", ["experiments", "apps", "trust", "bench", "export", "loading"]),
    ("course", ["course", "track"]),
    ("cli", ["cli", "__main__"]),
]

# (importer, imported module or private name) -> why it is allowed. Keep this list short:
# every entry is a knot someone means to untie.
ALLOWED: dict[tuple[str, str], str] = {
    # The package's front door: `gradschool.load_run(RUN)` for scripts and notebooks, imported
    # lazily (PEP 562 __getattr__) only when asked for. The one upward import, by design.
    ("gradschool", "gradschool.loading"): "the package's front door (gradschool.load_run)",
}

# Cycles that are known, each as its modules joined by " <-> " (sorted), with the reason.
ALLOWED_CYCLES: dict[str, str] = {}


@dataclass(frozen=True)
class Import:
    importer: str  # dotted module name
    imported: str  # dotted module name
    line: int
    type_only: bool  # under `if TYPE_CHECKING:`
    private: str | None = None  # a private name taken from `imported`, if any


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(root: Path = ROOT) -> dict[str, Path]:
    return {module_name(p, root): p for p in sorted((root / PACKAGE).rglob("*.py"))}


def layer_of(module: str) -> int:
    best, best_len = -1, -1
    for i, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            full = PACKAGE if prefix == PACKAGE else f"{PACKAGE}.{prefix}"
            if (module == full or module.startswith(full + ".")) and len(full) > best_len:
                best, best_len = i, len(full)
    if best < 0:
        raise SystemExit(f"{module} is in no layer: add it to LAYERS in {__file__}")
    return best


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def imports_of(module: str, path: Path, known: set[str]) -> Iterator[Import]:
    """Every import of a gradschool module in `path`, with the private names it takes."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    aliases: dict[str, str] = {}  # local name -> gradschool module it is bound to

    def visit(node: ast.AST, type_only: bool) -> Iterator[Import]:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                yield from visit(child, True)
            for child in node.orelse:
                yield from visit(child, type_only)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == PACKAGE:
                    target = alias.name
                    aliases[alias.asname or alias.name.split(".")[0]] = (
                        target if alias.asname else PACKAGE
                    )
                    yield Import(module, target, node.lineno, type_only)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] == PACKAGE:
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    if sub in known:  # `from gradschool import plots`: a module
                        aliases[alias.asname or alias.name] = sub
                        yield Import(module, sub, node.lineno, type_only)
                    else:
                        name = alias.name if _private(alias.name) else None
                        yield Import(module, node.module, node.lineno, type_only, name)
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
            and _private(node.attr)
        ):
            yield Import(module, aliases[node.value.id], node.lineno, type_only, node.attr)
        for child in ast.iter_child_nodes(node):
            yield from visit(child, type_only)

    yield from visit(tree, False)


def all_imports(root: Path = ROOT) -> list[Import]:
    found = modules(root)
    known = set(found)
    out = []
    for module, path in found.items():
        for imp in imports_of(module, path, known):
            if imp.imported != module:
                out.append(imp)
    return out


def cycles(imports: list[Import]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), type-only
    imports left out. Each is a set of modules that import each other round a loop."""
    graph: dict[str, set[str]] = {}
    for imp in imports:
        if not imp.type_only:
            graph.setdefault(imp.importer, set()).add(imp.imported)
            graph.setdefault(imp.imported, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0

    def strongconnect(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    return sorted(components)


def _is_package_init(imported: str, importer: str) -> bool:
    # `import gradschool.x.y` runs gradschool/x/__init__.py; a package importing its own
    # modules (gradschool.data -> gradschool.data.loader) is how packages are made.
    return importer.startswith(imported + ".") or imported == PACKAGE


def upward(imports: list[Import]) -> list[Import]:
    out = []
    for imp in imports:
        if imp.type_only or _is_package_init(imp.imported, imp.importer):
            continue
        if layer_of(imp.imported) > layer_of(imp.importer):
            out.append(imp)
    return sorted(set(out), key=lambda i: (i.importer, i.imported, i.line))


def private_imports(imports: list[Import]) -> list[Import]:
    return sorted(
        {i for i in imports if i.private is not None},
        key=lambda i: (i.importer, i.imported, i.line),
    )


def _allowed(importer: str, what: str) -> bool:
    return (importer, what) in ALLOWED


def report(root: Path = ROOT, graph: bool = False) -> tuple[str, int]:
    """The text of the report and the number of problems not in ALLOWED."""
    imports = all_imports(root)
    lines = ["Layers, bottom to top:"]
    lines += [f"  {i}. {name}: {', '.join(p)}" for i, (name, p) in enumerate(LAYERS)]
    problems = 0

    found = cycles(imports)
    lines.append(f"\nImport cycles (type-only imports excluded): {len(found)}")
    for component in found:
        key = " <-> ".join(component)
        ok = key in ALLOWED_CYCLES
        problems += not ok
        lines.append(f"  {key}" + (f"  (allowed: {ALLOWED_CYCLES[key]})" if ok else ""))

    ups = upward(imports)
    lines.append(f"\nUpward imports: {len({(u.importer, u.imported) for u in ups})}")
    seen = set()
    for u in ups:
        if (u.importer, u.imported) in seen:
            continue
        seen.add((u.importer, u.imported))
        ok = _allowed(u.importer, u.imported)
        problems += not ok
        tag = f"  (allowed: {ALLOWED[(u.importer, u.imported)]})" if ok else ""
        lines.append(
            f"  {u.importer} [{LAYERS[layer_of(u.importer)][0]}] -> {u.imported} "
            f"[{LAYERS[layer_of(u.imported)][0]}]  line {u.line}{tag}"
        )

    privs = private_imports(imports)
    lines.append(f"\nPrivate names used by another module: {len(privs)}")
    for p in privs:
        ok = _allowed(p.importer, p.private or "")
        problems += not ok
        tag = f"  (allowed: {ALLOWED[(p.importer, p.private or '')]})" if ok else ""
        lines.append(f"  {p.importer} uses {p.imported}.{p.private}  line {p.line}{tag}")

    if graph:
        lines.append("\nImports between modules (importer -> imported):")
        pairs = sorted({(i.importer, i.imported, i.type_only) for i in imports})
        lines += [f"  {a} -> {b}{' (type only)' if t else ''}" for a, b, t in pairs]
    lines.append(f"\n{'OK' if not problems else f'{problems} problem(s)'}")
    return "\n".join(lines), problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--graph", action="store_true", help="also list every import")
    parser.add_argument("--root", default=str(ROOT), help="the checkout to read (default: this)")
    args = parser.parse_args(argv)
    text, problems = report(Path(args.root), args.graph)
    print(text)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
