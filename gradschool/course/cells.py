"""Reading a lecture: py-percent cells with jupytext's metadata, and the lecture's header.

A lecture file looks like this (docs/lectures.md):

    # ---
    # jupyter:
    #   jupytext:
    #     formats: py:percent
    #   gradschool:
    #     quick: 10 s
    #     full: 40 s
    # ---

    # %% [markdown] tags=["en"]
    # # Lecture 1. From a neuron to an MLP
    # ...

    # %% [markdown] tags=["zh"]
    # # 第 1 讲：从神经元到多层感知机
    # ...

    # %%
    import numpy as np

Cells start at a line `# %%`, optionally followed by a title, a type in brackets
(`[markdown]`, `[md]`, `[raw]`) and metadata `key=JSON` (jupytext writes `tags=["en"]`). A
markdown cell is its lines with the leading "# " taken off. The tags "en" and "zh" say which
report a markdown cell belongs to; an untagged cell belongs to both. The tags "quick" and
"full" say in which mode's report it appears (prose that holds in one mode only); a cell with
neither appears in both.

A markdown cell may quote values the code computed: `{{ expr }}` or `{{ expr:.1f }}` (an
f-string's replacement field) is filled in by the runner with the value of `expr` at that
point of the lecture, i.e. after the code cells above it have run (runner.py).

A code cell tagged "exercise" (`# %% tags=["exercise"]`) declares one exercise
(exercises.py): its kind is "exercise", not "code". The runner does not execute it; the report
renders it; `gradschool lecture check` runs only these cells.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gradschool.errors import GradschoolError
from gradschool.text import top_level

LANGS = ("en", "zh")
MODES = ("quick", "full")

_MARKER = re.compile(r"^# ?%%(?!%)(.*)$")
_KIND = re.compile(r"\[(markdown|md|raw)\]")
_META = re.compile(r"""(\w[\w-]*)=(\[[^\]]*\]|"[^"]*"|'[^']*'|\S+)""")
_NAME = re.compile(r"^(\d+)_(\w+)\.py$")


@dataclass
class Cell:
    """One cell: `kind` is "code", "markdown" or "exercise" (a code cell tagged "exercise");
    `source` is the code, or the markdown text without comment marks; `line` is the 1-based
    line of its first source line in the file."""

    kind: str
    source: str
    line: int
    title: str = ""
    tags: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    def shown_in(self, language: str, quick: bool | None = None) -> bool:
        """Whether this cell appears in `language`'s report (untagged: in every one), in the
        given mode (`quick` None: in either mode)."""
        langs = [tag for tag in self.tags if tag in LANGS]
        modes = [tag for tag in self.tags if tag in MODES]
        if langs and language not in langs:
            return False
        return quick is None or not modes or ("quick" if quick else "full") in modes


@dataclass
class Lecture:
    """A lecture file: its number, slug (`01_concepts`), titles per language, estimated run
    times (as the header states them, e.g. "20 s"), and cells."""

    path: Path
    number: int
    slug: str
    cells: list[Cell]
    titles: dict[str, str]
    time_quick: str = "?"
    time_full: str = "?"

    def title(self, language: str) -> str:
        return self.titles.get(language) or self.titles.get("en") or self.slug

    @property
    def code_cells(self) -> list[Cell]:
        return [c for c in self.cells if c.kind == "code"]


def _parse_marker(rest: str, path: Path, lineno: int) -> tuple[str, str, dict[str, Any]]:
    kind = "code"
    m = _KIND.search(rest)
    if m:
        kind = "raw" if m.group(1) == "raw" else "markdown"
        rest = rest[: m.start()] + rest[m.end() :]
    metadata: dict[str, Any] = {}
    for key, value in _META.findall(rest):
        try:
            metadata[key] = json.loads(value.replace("'", '"'))
        except json.JSONDecodeError:
            raise GradschoolError(
                f"{path}:{lineno}: cell metadata {key}={value} is not JSON; write it as "
                f'jupytext does, e.g. # %% [markdown] tags=["en"]'
            ) from None
    title = _META.sub("", rest).strip()
    return kind, title, metadata


def _markdown_text(lines: list[str]) -> str:
    """The markdown of a cell: '# text' lines lose '# ', a lone '#' is a blank line; a cell
    written as a triple-quoted string is taken as it is."""
    body = "\n".join(lines).strip("\n")
    for quote in ('"""', "'''"):
        if body.startswith(quote) and body.endswith(quote) and len(body) >= 6:
            return body[3:-3].strip("\n")
    out = []
    for line in body.split("\n"):
        if line.startswith("# "):
            out.append(line[2:])
        elif line.strip() == "#" or not line.strip():
            out.append("")
        else:
            out.append(line.lstrip("#"))
    return "\n".join(out)


def _header(lines: list[str]) -> tuple[dict[str, str], int]:
    """The jupytext YAML header (`# ---` ... `# ---`) at the top: only the keys `quick:` and
    `full:` under `gradschool:` are read. Returns them and the number of header lines."""
    if not lines or lines[0].strip() != "# ---":
        return {}, 0
    info: dict[str, str] = {}
    for i, line in enumerate(lines[1:], start=1):
        if line.strip() == "# ---":
            return info, i + 1
        m = re.match(r"^#\s+(quick|full):\s*(.+?)\s*$", line)
        if m:
            info[m.group(1)] = m.group(2).strip("'\"")
    return {}, 0  # no closing line: not a header


def _title(cells: list[Cell], language: str) -> str:
    for cell in cells:
        if cell.kind == "markdown" and cell.shown_in(language):
            for line in cell.source.split("\n"):
                if line.startswith("# "):
                    return line[2:].strip()
    return ""


def parse_lecture(path: str | Path) -> Lecture:
    """Read a lecture file into its cells. The file name gives number and slug: NN_topic.py."""
    path = Path(path)
    m = _NAME.match(path.name)
    if not m:
        raise GradschoolError(f"{path}: a lecture file is named NN_topic.py (e.g. 01_concepts.py)")
    lines = path.read_text(encoding="utf-8").split("\n")
    info, start = _header(lines)
    cells: list[Cell] = []
    kind, title, first = "code", "", start + 1
    metadata: dict[str, Any] = {}
    body: list[str] = []

    def close() -> None:
        # Leading and trailing blank lines are layout, not content.
        while body and not body[-1].strip():
            body.pop()
        offset = 0
        while offset < len(body) and not body[offset].strip():
            offset += 1
        content = body[offset:]
        if not content:
            return
        source = _markdown_text(content) if kind == "markdown" else "\n".join(content)
        tags = list(metadata.get("tags", []) or [])
        cell_kind = "exercise" if kind == "code" and "exercise" in tags else kind
        cells.append(Cell(cell_kind, source, first + offset, title, tags, metadata))

    for i, line in enumerate(lines[start:], start=start + 1):
        marker = _MARKER.match(line)
        if marker:
            close()
            kind, title, metadata = _parse_marker(marker.group(1), path, i)
            body, first = [], i + 1
        else:
            body.append(line)
    close()
    cells = [c for c in cells if c.kind != "raw"]
    titles = {language: _title(cells, language) for language in LANGS}
    return Lecture(
        path=path,
        number=int(m.group(1)),
        slug=path.stem,
        cells=cells,
        titles=titles,
        time_quick=info.get("quick", "?"),
        time_full=info.get("full", "?"),
    )


# ---- values quoted in the text: {{ expr }} in markdown cells (and exercises' solutions) ------

_FIELD = re.compile(r"\{\{(.+?)\}\}", re.S)
_CONVERSIONS: dict[str, Callable[[object], str]] = {"r": repr, "s": str, "a": ascii}


def _split_field(field: str) -> tuple[str, str, str]:
    """ "expr!r:spec" -> (expr, "r", "spec"), the parts of an f-string replacement field. A `:`
    or `!` inside brackets or quotes belongs to the expression."""
    for i, ch in top_level(field):
        if ch == "!" and field[i + 1 : i + 2] in _CONVERSIONS:
            rest = field[i + 2 :]
            if not rest.strip() or rest.startswith(":"):
                return field[:i].strip(), field[i + 1], rest[1:].rstrip()
        elif ch == ":":
            return field[:i].strip(), "", field[i + 1 :].rstrip()  # "{{ x:.1f }}" reads ".1f"
    return field.strip(), "", ""


def fill_fields(text: str, namespace: dict[str, Any]) -> tuple[str, list[str]]:
    """`text` with each `{{ expr[!conversion][:spec] }}` replaced by the formatted value of
    `expr` in `namespace`; and the errors ("{{ x }}: NameError: ...") of those that failed,
    which stay as written."""
    errors: list[str] = []

    def one(m: re.Match[str]) -> str:
        expr, conversion, spec = _split_field(m[1])
        try:
            value = eval(expr, namespace)  # noqa: S307 - the lecture's own code, as its cells
            if conversion:
                value = _CONVERSIONS[conversion](value)
            return format(value, spec)
        except Exception as exc:  # noqa: BLE001 - reported as an error of the lecture
            message = str(exc).strip().split("\n")[0]
            errors.append(f"{m[0]}: {type(exc).__name__}: {message}")
            return m[0]

    return _FIELD.sub(one, text), errors


# ---- what a code cell did, and its output as a report shows it ----------------------------

MAX_OUTPUT_LINES = 200  # per cell; longer output keeps its head and tail


@dataclass
class CellResult:
    """What one code cell did. `output` and `error` still hold t() markers (resolve them per
    language); `figures[lang]` are the PNG file names in that language's report folder."""

    index: int  # position of the cell in lecture.cells
    number: int  # 1-based among the code cells
    status: str = "skipped"  # "ok", "error" or "skipped" (after a failed cell)
    output: str = ""
    error: str = ""
    error_line: int = 0  # the deepest line of the lecture file in the traceback
    error_summary: str = ""  # "KeyError: 'missing'": the exception and its message's first line
    seconds: float = 0.0
    figures: dict[str, list[str]] = field(default_factory=dict)


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def clean_output(text: str, max_lines: int = MAX_OUTPUT_LINES) -> str:
    """Terminal output as a report shows it: progress bars redrawn with \\r keep their last
    state, colour codes go, and very long output keeps its head and tail."""
    text = _ANSI.sub("", text)
    lines = []
    for line in text.split("\n"):
        if "\r" in line:
            parts = [p for p in line.split("\r") if p.strip()]
            line = parts[-1] if parts else ""
        lines.append(line.rstrip())
    while lines and not lines[-1]:
        lines.pop()
    if len(lines) > max_lines:
        head, tail = max_lines * 2 // 3, max_lines // 3
        skipped = len(lines) - head - tail
        lines = [*lines[:head], f"... ({skipped} lines not shown) ...", *lines[-tail:]]
    return "\n".join(lines)
