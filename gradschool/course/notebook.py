"""A lecture as a Jupyter notebook, in one language: `gradschool lecture export N --to ipynb`.

    nb = lecture_notebook(find_lecture(1), "zh", quick=True)      # nbformat, not run
    export_lecture(find_lecture(1), "zh", out="notebooks", executed=True)
    # -> notebooks/01_concepts.zh.ipynb, run in a fresh kernel, its figures inline

The lecture file stays the one source (a test fails if an .ipynb is committed); a notebook is
made from it on demand, like a report:

- a first code cell, tagged "setup", sets GRADSCHOOL_LANG and GRADSCHOOL_QUICK, so `t()` and
  `QUICK` behave as under the runner, and asks for matplotlib's inline backend;
- only that language's markdown cells (and the untagged ones) follow, with every code cell;
- prose for one mode only (tags "quick" / "full") says which mode it describes; an executed
  notebook keeps only its own mode's prose, since its fields are filled from that mode's run;
- `{{ expr }}` fields: shown as written (as code, with a note once) in a notebook that was not
  run; filled in, as the runner fills them, when it is executed (`executed=True`);
- cells with a tag containing "solution" are left out; an exercise (a cell tagged
  "exercise") becomes its text and its `gradschool lecture check` command, without solution.

Executing starts a real IPython kernel (ipykernel) on *this* interpreter (not whatever
"python3" kernel the user has registered elsewhere), runs the cells in order with nbclient in
the notebook's folder, as Jupyter would, and keeps what a reader sees: streams as a terminal
would show them (progress bars redrawn with \\r keep their final state), figures as inline PNG,
no progress-bar widgets (they are transient, closed at the end of each epoch).

Needs the `notebook` extra: `pip install "gradschool[notebook]"` (nbformat, nbclient,
ipykernel; jupytext to open a lecture's .py directly in Jupyter; ipywidgets for the bars).
"""

from __future__ import annotations

import importlib
import json
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gradschool.course.cells import LANGS, Cell, Lecture
from gradschool.errors import GradschoolError

__all__ = ["ExportedNotebook", "execute_notebook", "export_lecture", "lecture_notebook"]

INSTALL = 'pip install "gradschool[notebook]"'
_FIELD = re.compile(r"\{\{(.+?)\}\}", re.S)
_WIDGET = "application/vnd.jupyter.widget-view+json"
_FIELDS_MARK = "\x00gradschool-fields:"  # the line a field evaluation prints

WORDS = {
    "en": {
        "setup": "Setup: the language and mode of this notebook (`gradschool lecture export`). "
        "Run it first.",
        "quick_flag": '"1": quick mode (smaller runs), "0": full mode',
        "threads": "THREADS for NumPy's BLAS and torch: 1 as `gradschool lecture run` uses "
        "(small matrices: more threads only wait for each other); 0: one per core",
        "full": "*Full mode:*",
        "quick": "*Quick mode (`GRADSCHOOL_QUICK=1`):*",
        "fields": "> Numbers the text quotes from the run appear as `{{ expression }}`: "
        "`gradschool lecture run {n}` and `gradschool lecture export {n} --executed` fill them "
        "in. Here, run the cells above one and evaluate its expression in a cell to see it.",
    },
    "zh": {
        "setup": "设置：这个笔记本的语言和模式（`gradschool lecture export` 生成），请先运行它。",
        "quick_flag": '"1"：快速模式（规模小的运行），"0"：完整模式',
        "threads": "THREADS：NumPy 的 BLAS 和 torch 用几个线程；1 和 `gradschool lecture run` "
        "一样（矩阵小，线程多了只会互相等）；0：每个核一个",
        "full": "*完整模式：*",
        "quick": "*快速模式（`GRADSCHOOL_QUICK=1`）：*",
        "fields": "> 正文引用的运行结果写成 `{{ 表达式 }}`：`gradschool lecture run {n}` 和 "
        "`gradschool lecture export {n} --executed` 会把它们填好。在这里，先运行它上面的单元，"
        "再在一个单元里对这个表达式求值，就能看到它的值。",
    },
}


def _need(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        raise GradschoolError(
            f"exporting a lecture as a notebook needs {module.split('.')[0]}, which is not "
            f"installed: {INSTALL} (nbformat, nbclient, ipykernel, jupytext, ipywidgets)."
        ) from None


def _skipped(cell: Cell) -> bool:
    """Solutions stay out of a notebook: any tag containing "solution"."""
    return any("solution" in tag.lower() for tag in cell.tags)


_EXERCISE = "exercise"


def _exercises(lecture: Lecture) -> list[Any]:
    """The exercises the lecture declares, one per cell tagged "exercise", in order.

    NOTE: such a cell is a call `exercise(number, en=..., zh=..., check=..., solution=...)`
    (gradschool/course/exercises.py): its source holds the solution, so a notebook shows
    `Exercise.markdown(language)` instead: the text and its `gradschool lecture check`
    command, never the solution."""
    declared = [c for c in lecture.cells if _EXERCISE in c.tags]
    if not declared:
        return []
    loaded = importlib.import_module("gradschool.course.exercises").load_exercises(lecture)
    if len(loaded) != len(declared):
        raise GradschoolError(
            f"{lecture.path}: {len(declared)} cells are tagged exercise but "
            f"{len(loaded)} exercises were declared; each such cell declares one exercise"
        )
    return loaded


def _mode(cell: Cell) -> str | None:
    modes = [tag for tag in cell.tags if tag in ("quick", "full")]
    return modes[0] if len(modes) == 1 else None


def _shown(text: str) -> str:
    """A field as a notebook that was not run shows it: as code, so Markdown leaves it whole."""
    return _FIELD.sub(lambda m: f"`{m[0]}`", text)


def lecture_notebook(
    lecture: Lecture, language: str, quick: bool = False, executed: bool = False
) -> Any:
    """The lecture as an nbformat v4 notebook in `language` (module docstring). With
    `executed`, the notebook is meant for `execute_notebook`: only the prose of its own mode,
    and each field-bearing markdown cell keeps its fields for the kernel to fill in."""
    nbf = _need("nbformat")
    if language not in LANGS:
        raise GradschoolError(f"a notebook's language is one of {', '.join(LANGS)}, not {language}")
    words = WORDS[language]
    setup = (
        f"# {words['setup']}\n"
        "import os\n\n"
        f'os.environ["GRADSCHOOL_LANG"] = "{language}"\n'
        f'os.environ["GRADSCHOOL_QUICK"] = "{1 if quick else 0}"  # {words["quick_flag"]}\n'
        f"# {words['threads']}\n"
        "THREADS = 1\n"
        "if THREADS:  # before NumPy and torch load, which read these once\n"
        '    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):\n'
        "        os.environ[name] = str(THREADS)\n"
        "from gradschool.threads import set_threads\n\n"
        "set_threads(THREADS)  # and for what has loaded already\n"
        "%matplotlib inline"
    )
    cells = [nbf.v4.new_code_cell(setup, metadata={"tags": ["setup"]})]
    noted = executed  # the note on fields: once, after the first markdown cell, if any field
    has_fields = any(
        c.kind == "markdown" and c.shown_in(language) and "{{" in c.source for c in lecture.cells
    )
    exercises = iter(_exercises(lecture))
    for cell in lecture.cells:
        if _skipped(cell):
            continue
        metadata: dict[str, Any] = {"tags": list(cell.tags)} if cell.tags else {}
        if _EXERCISE in cell.tags:  # its text and check command; its solution stays out
            text = next(exercises).markdown(language)
            cells.append(nbf.v4.new_markdown_cell(text, metadata={"tags": [_EXERCISE]}))
            continue
        if cell.kind == "code":
            cells.append(nbf.v4.new_code_cell(cell.source, metadata=metadata))
            continue
        if not cell.shown_in(language, quick if executed else None):
            continue
        text, mode = cell.source, _mode(cell)
        if mode is not None:
            text = f"{words[mode]}\n\n{text}"
        if executed and _FIELD.search(text):
            metadata["gradschool"] = {"fields": True}  # filled in, then removed, by execution
        elif not executed:
            text = _shown(text)
        cells.append(nbf.v4.new_markdown_cell(text, metadata=metadata))
        if not noted and has_fields:
            note = words["fields"].replace("{n}", str(lecture.number))
            cells.append(nbf.v4.new_markdown_cell(note, metadata={"tags": ["note"]}))
            noted = True
    nb = nbf.v4.new_notebook(cells=cells)
    nb.metadata.update(
        {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
            "gradschool": {
                "lecture": lecture.number,
                "source": f"{lecture.slug}.py",
                "language": language,
                "quick": quick,
            },
        }
    )
    return nb


# ---- executing ---------------------------------------------------------------------------------


def kernel_manager() -> Any:
    """A kernel manager that starts ipykernel on this very interpreter: a fresh virtual
    environment needs no registered kernel, and a user's own "python3" kernel (another Python,
    perhaps without gradschool) is not picked by mistake."""
    _need("ipykernel")
    kernelspec: Any = _need("jupyter_client.kernelspec")
    manager = _need("jupyter_client.manager")

    class ThisPython(kernelspec.KernelSpecManager):
        def get_kernel_spec(self, kernel_name: str) -> Any:
            return kernelspec.KernelSpec(
                # The kernel's own log: errors only (not ipykernel's note on TCP transport).
                argv=[
                    *(sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"),
                    "--log-level=ERROR",
                ],
                display_name="Python 3",
                language="python",
                resource_dir="",
            )

    return manager.KernelManager(kernel_name="python3", kernel_spec_manager=ThisPython())


@dataclass
class Execution:
    """What executing a notebook did: its wall time (the kernel's start included), the first
    failed cell (empty if none) and the fields that failed ("{{ x }}: NameError: ...")."""

    seconds: float = 0.0
    error: str = ""
    field_errors: list[str] = field(default_factory=list)


def execute_notebook(
    nb: Any, cwd: str | Path = ".", timeout: int = 1800, keep_widgets: bool = False
) -> Execution:
    """Run `nb` in place in a fresh kernel (cwd: the kernel's working folder; `timeout`: the
    seconds one cell may take), filling in the fields of the markdown cells marked by
    `lecture_notebook(..., executed=True)` as they are reached. A cell that raises stops the
    run: its traceback stays in its outputs and `error` says which cell. Then the outputs are
    cleaned (`clean_outputs`) unless `keep_widgets`, which keeps the progress bars' widget
    outputs (a test looks for them)."""
    nbclient = _need("nbclient")
    nbf = _need("nbformat")
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    client = nbclient.NotebookClient(
        nb,
        km=kernel_manager(),
        timeout=timeout,
        record_timing=False,
        resources={"metadata": {"path": str(Path(cwd))}},
    )
    run = Execution()
    count = 0
    start = time.perf_counter()
    # NOTE: the CLI sets MPLBACKEND=Agg for itself; the kernel must keep its inline backend.
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    with client.setup_kernel(env=env):
        for index, cell in enumerate(nb.cells):
            if cell.cell_type == "markdown" and cell.metadata.pop("gradschool", None):
                text, errors = _fill(client, nbf, cell.source, index)
                cell.source = _shown(text) if errors else text  # unfilled ones as written
                run.field_errors += errors
                continue
            if cell.cell_type != "code":
                continue
            count += 1
            try:
                client.execute_cell(cell, index, execution_count=count)
            except CellExecutionError as exc:
                run.error = f"cell {index + 1}: {exc.ename}: {exc.evalue}"
                break
            except (CellTimeoutError, DeadKernelError) as exc:
                first = str(exc).strip().split("\n")[0]
                run.error = f"cell {index + 1}: {type(exc).__name__}: {first}"
                break
        client.set_widgets_metadata()
    run.seconds = time.perf_counter() - start
    for cell in nb.cells:  # after a failed cell: the fields not reached, as written
        if cell.cell_type == "markdown" and cell.metadata.pop("gradschool", None):
            cell.source = _shown(cell.source)
    if not keep_widgets:
        clean_outputs(nb)
    return run


def _fill(client: Any, nbf: Any, text: str, index: int) -> tuple[str, list[str]]:
    """`text` with its fields filled in by the kernel, with the runner's own `fill_fields`
    (so a notebook quotes exactly what a report quotes), in the notebook's namespace. The
    evaluation leaves no name behind and no entry in the kernel's history."""
    code = (
        f"print({_FIELDS_MARK!r} + __import__('json').dumps(__import__("
        "'gradschool.course.runner', fromlist=['fill_fields']).fill_fields("
        f"{text!r}, globals())))"
    )
    probe = nbf.v4.new_code_cell(code)
    markdown = client.nb.cells[index]
    try:
        client.execute_cell(probe, index, store_history=False)
    finally:
        client.nb.cells[index] = markdown  # NOTE: nbclient stores the cell it ran at `index`
    printed = "".join(o.get("text", "") for o in probe.outputs if o.output_type == "stream")
    for line in printed.splitlines():
        if line.startswith(_FIELDS_MARK):
            filled, errors = json.loads(line[len(_FIELDS_MARK) :])
            return filled, errors
    return text, [f"the fields could not be evaluated: {printed.strip()[:200]}"]


def clean_outputs(nb: Any) -> None:
    """What a reader sees: consecutive stream outputs of a cell joined, each line as a
    terminal leaves it (the text after its last \\r: a progress bar's final state), and no
    progress-bar widget (closed at the end of each epoch; saved, it is only noise)."""
    nb.metadata.pop("widgets", None)  # the state of the bars' widgets, gone with them
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        outputs: list[Any] = []
        for out in cell.outputs:
            if out.output_type == "display_data" and _WIDGET in out.get("data", {}):
                continue
            last = outputs[-1] if outputs else None
            if out.output_type == "stream" and last is not None and last.get("name") == out.name:
                last.text += out.text  # (only streams have a name)
                continue
            outputs.append(out)
        for out in outputs:
            if out.output_type == "stream":
                out.text = "\n".join(line.split("\r")[-1] for line in out.text.split("\n"))
        cell.outputs = [o for o in outputs if o.output_type != "stream" or o.text.strip()]


# ---- export ------------------------------------------------------------------------------------


@dataclass
class ExportedNotebook:
    """One notebook written by `export_lecture`."""

    path: Path
    language: str
    quick: bool
    executed: bool
    seconds: float = 0.0  # the execution's wall time (0 when not executed)
    error: str = ""  # the first failed cell or field, when executed
    figures: int = 0  # inline PNG outputs


def export_lecture(
    lecture: Lecture,
    language: str,
    out: str | Path = "notebooks",
    quick: bool = False,
    executed: bool = False,
    timeout: int = 1800,
) -> ExportedNotebook:
    """Write `out/NN_topic.<language>.ipynb`; with `executed`, run it first (in `out`, as
    Jupyter runs a notebook in its own folder). A failed cell does not stop the export: the
    notebook is written with its traceback, and `error` says what failed."""
    nbf = _need("nbformat")
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    nb = lecture_notebook(lecture, language, quick=quick, executed=executed)
    result = ExportedNotebook(
        folder / f"{lecture.slug}.{language}.ipynb", language, quick, executed
    )
    if executed:
        run = execute_notebook(nb, cwd=folder, timeout=timeout)
        result.seconds = run.seconds
        result.error = run.error or "; ".join(run.field_errors)
        result.figures = count_images(nb)
    nbf.validate(nb)
    nbf.write(nb, str(result.path))
    return result


def count_images(nb: Any) -> int:
    """The inline PNG outputs of a notebook."""
    return sum(
        "image/png" in out.get("data", {})
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
    )
