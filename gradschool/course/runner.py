"""The lecture runner: execute a lecture's code cells, capture what they print and draw, and
write one report per language.

    run = run_lecture("lectures/01_concepts.py", langs=("en", "zh"), quick=True, out="reports")
    run.ok, run.seconds, run.reports["zh"]    # -> reports/01_concepts.zh/report.{md,html}

The code cells run in order in one namespace, as the plain script would run them, with
GRADSCHOOL_QUICK and GRADSCHOOL_LANG set for the duration. After each cell the runner keeps
its output (stdout and stderr together) and saves every matplotlib figure the cell left open
as a PNG, then closes it. A cell that raises stops the lecture: its report shows the traceback
and `run.ok` is False (the CLI then exits non-zero).

One execution serves every language: `t(en, zh)` hands the runner both strings (see
gradschool/course/__init__.py), which are resolved per language in the captured text and in
each figure as it is saved. Only a lecture whose code calls `lang()` is run once per language.

Markdown cells may quote what the code computed: `{{ expr }}` or `{{ expr:.1f }}` is filled in
with the value `expr` has when the runner reaches the cell, i.e. after the code cells above it
(the semantics of a notebook's "Python Markdown"). A field that cannot be evaluated is an
error of the lecture, like a cell that raises, but the lecture goes on.

The lecture runs with one BLAS/torch thread unless `threads` says otherwise (0: the libraries'
defaults): the run times the lectures state were measured so, and on a machine with many cores
the small matrices of the lectures run several times slower with a thread per core
(gradschool/threads.py).
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import re
import shutil
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradschool
import gradschool.course as _helpers
from gradschool.course.cells import LANGS, CellResult, Lecture, fill_fields, parse_lecture
from gradschool.errors import ConfigError, GradschoolError
from gradschool.plots import cjk_font
from gradschool.threads import limited_threads

__all__ = [
    "CellResult",
    "Lecture",
    "LectureRun",
    "fill_fields",
    "find_lecture",
    "find_lectures",
    "lecture_dir",
    "run_lecture",
]

_REPORT_FILES = ("run.json", "report.md", "report.html")


# ---- finding lectures -------------------------------------------------------------------------


def lecture_dir() -> Path:
    """Where the lectures are: $GRADSCHOOL_LECTURES, else the ones shipped in the package
    (gradschool/course/lectures, which the repository's `lectures/` links to)."""
    env = os.environ.get("GRADSCHOOL_LECTURES")
    return Path(env) if env else Path(gradschool.__file__).resolve().parent / "course" / "lectures"


def find_lectures(directory: str | Path | None = None) -> list[Lecture]:
    """Every NN_topic.py lecture in `directory` (default: lecture_dir()), by number."""
    folder = Path(directory) if directory is not None else lecture_dir()
    if not folder.is_dir():
        raise GradschoolError(
            f"no lecture folder at {folder}: pass --dir with the folder that holds the "
            f"NN_topic.py lectures, or reinstall gradschool (pip install -e .)"
        )
    paths = sorted(folder.glob("[0-9][0-9]_*.py"))
    return sorted((parse_lecture(p) for p in paths), key=lambda lec: (lec.number, lec.slug))


def find_lecture(key: str | int, directory: str | Path | None = None) -> Lecture:
    """A lecture by number (1, "01") or by a part of its name ("concepts"), or a file path."""
    path = Path(str(key))
    if path.suffix == ".py" and path.is_file():
        return parse_lecture(path)
    lectures = find_lectures(directory)
    text = str(key).strip().lower()
    if text.isdigit():
        found = [lec for lec in lectures if lec.number == int(text)]
    else:
        found = [lec for lec in lectures if text in lec.slug.lower()]
    if len(found) != 1:
        names = ", ".join(f"{lec.number} ({lec.slug})" for lec in lectures) or "none"
        what = "no lecture" if not found else "more than one lecture"
        raise ConfigError(
            f"{what} matches {key!r}; the lectures are: {names}. "
            f"See them with `gradschool lecture list`."
        )
    return found[0]


# ---- running ----------------------------------------------------------------------------------


@dataclass
class LectureRun:
    """The outcome of `run_lecture`: report folder per language, success, times."""

    lecture: Lecture
    langs: tuple[str, ...]
    quick: bool
    reports: dict[str, Path]
    ok: bool
    seconds: float  # wall time of the execution(s)
    cells: dict[str, list[CellResult]]  # per language
    executions: int  # 1, or one per language for a lecture that calls lang()
    error: str = ""  # "line N: ValueError: ..." of the failed cell or markdown field

    @property
    def figures(self) -> dict[str, int]:
        return {lg: sum(len(c.figures.get(lg, [])) for c in cs) for lg, cs in self.cells.items()}


@contextlib.contextmanager
def _lecture_environment(quick: bool, language: str) -> Iterator[None]:
    """GRADSCHOOL_QUICK / GRADSCHOOL_LANG set and t() in runner mode, for the duration."""
    saved = {k: os.environ.get(k) for k in ("GRADSCHOOL_QUICK", "GRADSCHOOL_LANG")}
    os.environ["GRADSCHOOL_QUICK"] = "1" if quick else "0"
    os.environ["GRADSCHOOL_LANG"] = language
    was_running = _helpers.SESSION.active
    _helpers.SESSION.active = True
    _helpers.SESSION.images.clear()
    try:
        yield
    finally:
        _helpers.SESSION.active = was_running
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class _FigureText:
    """While installed, every matplotlib Text draws the `language` part of its t() markers.

    NOTE: patching Text.get_text (which layout and drawing both call) reaches every text of a
    figure: titles, labels, legends, and tick labels that formatters make at draw time."""

    def __init__(self) -> None:
        self.language = "en"
        self._original: Callable | None = None

    def __enter__(self) -> _FigureText:
        from matplotlib.text import Text

        original = self._original = Text.get_text
        patch = self

        def get_text(text: Text) -> str:
            return _helpers.resolve(original(text), patch.language)

        # (ignored: a method replaced while a lecture runs, and put back by __exit__)
        Text.get_text = get_text  # type: ignore[method-assign, assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        from matplotlib.text import Text

        Text.get_text = self._original  # type: ignore[method-assign, assignment]


def _fail(result: CellResult, exc: BaseException, lecture: Lecture, line: int) -> None:
    """Record a cell's error: the traceback without the runner's own frame (the first, our
    exec), the deepest line of the lecture in it, and a one-line summary."""
    tb = exc.__traceback__.tb_next if exc.__traceback__ is not None else None
    result.status = "error"
    result.error = "".join(traceback.format_exception(type(exc), exc, tb)).rstrip()
    lines = [
        f.lineno
        for f in traceback.extract_tb(tb)
        if f.filename == str(lecture.path) and f.lineno is not None
    ]
    result.error_line = lines[-1] if lines else line
    message = str(exc).strip().split("\n")[0]
    result.error_summary = f"{type(exc).__name__}: {message}" if message else type(exc).__name__


@dataclass
class _Execution:
    results: list[CellResult]  # the code cells
    filled: dict[int, str]  # markdown cell index -> its text with the fields filled in
    field_errors: list[tuple[int, str]]  # (line, message)
    seconds: float


def _execute(
    lecture: Lecture,
    langs: tuple[str, ...],
    quick: bool,
    folders: dict[str, Path],
    cjk: str | None,
    echo: Callable[[str], None] | None,
    threads: int,
) -> _Execution:
    """Run the lecture's code cells once, filling in the fields of the markdown cells as they
    are reached; save each cell's figures in every language."""
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules and not os.environ.get("MPLBACKEND"):
        # Figures go to files: Agg, unless a backend was chosen (a notebook's inline one stays).
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    code_cells = [(i, c) for i, c in enumerate(lecture.cells) if c.kind == "code"]
    results = [CellResult(index=i, number=n) for n, (i, _) in enumerate(code_cells, 1)]
    by_index = {r.index: r for r in results}
    run = _Execution(results, {}, [], 0.0)
    namespace = {
        "__name__": "__main__",
        "__file__": str(lecture.path),
        "__builtins__": __builtins__,
    }
    before = set(plt.get_fignums())  # figures of the caller (a notebook), not ours
    # NOTE: matplotlib falls back glyph by glyph only across the families listed in
    # font.family (not across font.sans-serif), so the Chinese font is listed there.
    rc = {"font.family": ["sans-serif", cjk] if cjk else ["sans-serif"]}
    start = time.perf_counter()
    with (
        _lecture_environment(quick, langs[0]),
        limited_threads(threads) as refresh_threads,
        matplotlib.rc_context(rc),  # type: ignore[arg-type]  # (the stub wants literal keys)
        _FigureText() as figure_text,
    ):
        for index, cell in enumerate(lecture.cells):
            if cell.kind == "markdown":
                if "{{" in cell.source and any(cell.shown_in(lg, quick) for lg in langs):
                    text, errors = fill_fields(cell.source, namespace)
                    run.filled[index] = text
                    run.field_errors += [(cell.line, error) for error in errors]
                continue
            if cell.kind == "exercise":  # rendered by the report, checked by `lecture check`
                continue
            result = by_index[index]
            figure_text.language = _figure_language(langs[0], cjk)
            buffer = io.StringIO()
            t0 = time.perf_counter()
            try:
                # Padding with blank lines makes tracebacks give the line in the file.
                code = compile("\n" * (cell.line - 1) + cell.source, str(lecture.path), "exec")
                with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
                    exec(code, namespace)
                result.status = "ok"
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # noqa: BLE001 - a lecture's error goes in its report
                _fail(result, exc, lecture, cell.line)
            refresh_threads()  # the cell may have imported torch
            result.seconds = time.perf_counter() - t0
            result.output = buffer.getvalue()
            try:
                _collect_figures(result, langs, folders, figure_text, cjk, before)
            except Exception as exc:  # noqa: BLE001 - e.g. a label mathtext cannot parse
                _fail(result, exc, lecture, cell.line)
                for num in set(plt.get_fignums()) - before:
                    plt.close(num)
            if echo is not None:
                mark = "ok" if result.status == "ok" else "FAILED"
                echo(
                    f"  cell {result.number}/{len(results)} (line {cell.line}): {mark} "
                    f"in {result.seconds:.1f} s"
                )
            if result.status == "error":
                break
    run.seconds = time.perf_counter() - start
    return run


def _collect_figures(
    result: CellResult,
    langs: tuple[str, ...],
    folders: dict[str, Path],
    figure_text: _FigureText,
    cjk: str | None,
    before: set[int],
) -> None:
    """Into each language's folder: the PNG (or GIF) files the cell handed to show(path), then
    every figure it left open (saved with that language's text, then closed)."""
    import matplotlib.pyplot as plt

    def save(language: str, write: Callable[[Path], object], suffix: str = ".png") -> None:
        names = result.figures.setdefault(language, [])
        name = f"fig-{result.number:02d}-{len(names) + 1}{suffix}"
        write(folders[language] / name)
        names.append(name)  # only once the file is there

    images, _helpers.SESSION.images[:] = list(_helpers.SESSION.images), []
    for image in images:
        if not image.is_file():
            result.output += f"\nshow({str(image)!r}): no such file\n"
            continue
        # An animated GIF (an episode of a game, say) stays a GIF; any other file is a PNG.
        suffix = ".gif" if image.suffix.lower() == ".gif" else ".png"
        for language in langs:
            save(language, functools.partial(shutil.copyfile, image), suffix)
    for num in [n for n in plt.get_fignums() if n not in before]:
        fig = plt.figure(num)
        for language in langs:
            figure_text.language = _figure_language(language, cjk)
            save(language, functools.partial(fig.savefig, dpi=100, bbox_inches="tight"))
        plt.close(fig)


def _figure_language(language: str, cjk: str | None) -> str:
    """Chinese figure text needs a Chinese font; without one the figures stay English."""
    return "en" if language == "zh" and cjk is None else language


def _render_exercises(
    lecture: Lecture, langs: tuple[str, ...], threads: int
) -> tuple[dict[str, dict[int, dict[str, Any]]], list[tuple[int, str]]]:
    """Each exercise as its report shows it, per language ({cell index: rendered}), and the
    errors (line, message) of declarations or solutions that fail. The exercises' checks do
    not run here: only what a solution quotes ({{ answer }}) is computed."""
    from gradschool.course.exercises import load_exercises

    rendered: dict[str, dict[int, dict[str, Any]]] = {lg: {} for lg in langs}
    if not any(cell.kind == "exercise" for cell in lecture.cells):
        return rendered, []
    index_of = {cell.line: i for i, cell in enumerate(lecture.cells)}
    try:
        with limited_threads(threads):
            for ex in load_exercises(lecture):
                for language in langs:
                    rendered[language][index_of[ex.line]] = ex.render(language)
    except Exception as exc:  # noqa: BLE001 - an error of the lecture, shown in its report
        line = getattr(locals().get("ex"), "line", 0)
        return rendered, [(line, f"exercises: {type(exc).__name__}: {exc}")]
    return rendered, []


def _uses_lang(lecture: Lecture) -> bool:
    return any(re.search(r"\blang\(\s*\)", c.source) for c in lecture.code_cells)


def run_lecture(
    lecture: str | Path | Lecture,
    langs: tuple[str, ...] | list[str] = LANGS,
    quick: bool = False,
    out: str | Path = "reports",
    echo: Callable[[str], None] | None = None,
    command: str | None = None,
    threads: int = 1,
    build: bool = True,
) -> LectureRun:
    """Run a lecture and write `out/NN_topic.<lang>/` for each language in `langs`, from one
    execution when the lecture allows (module docstring): run.json (the report's content),
    report.md beside the figures, and report.html.

    `echo` receives one progress line per cell (the CLI passes print); `command` is the
    command line the report's footer names (default: the matching `gradschool lecture run`);
    `threads` is the number of BLAS/torch threads (0: the libraries' defaults).
    With `build`, the pages of every report in `out` are then written again with their links,
    with the index and the glossary (site.build_site); a caller running several lectures
    passes False and builds once at the end.
    """
    from gradschool.course.report import build_report, write_report

    if not isinstance(lecture, Lecture):
        lecture = parse_lecture(lecture)
    langs = tuple(langs)
    bad = [lg for lg in langs if lg not in LANGS]
    if bad or not langs:
        raise ConfigError(f"languages must be among {', '.join(LANGS)}, got {list(langs)}")
    folders = {lg: Path(out) / f"{lecture.slug}.{lg}" for lg in langs}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
        figures = [*folder.glob("fig-*.png"), *folder.glob("fig-*.gif")]
        stale = [*figures, *(folder / n for n in _REPORT_FILES)]
        for old in stale:
            old.unlink(missing_ok=True)  # no stale figure from an earlier run
    cjk = cjk_font() if "zh" in langs else None
    groups = [(lg,) for lg in langs] if _uses_lang(lecture) and len(langs) > 1 else [langs]
    executions: dict[str, _Execution] = {}
    seconds = 0.0
    for group in groups:
        execution = _execute(lecture, group, quick, folders, cjk, echo, threads)
        seconds += execution.seconds
        for language in group:
            executions[language] = execution
    exercises, exercise_errors = _render_exercises(lecture, langs, threads)
    for execution in executions.values():
        execution.field_errors += exercise_errors
    cells = {lg: ex.results for lg, ex in executions.items()}
    first = executions[langs[0]]
    ok = all(r.status != "error" for rs in cells.values() for r in rs) and not any(
        ex.field_errors for ex in executions.values()
    )
    error = ""
    for r in first.results:
        if r.status == "error":
            error = f"line {r.error_line}: {_helpers.resolve(r.error_summary, 'en')}"
    if not error and first.field_errors:
        line, message = first.field_errors[0]
        error = f"line {line}: {_helpers.resolve(message, 'en')}"
    if command is None:
        command = f"gradschool lecture run {lecture.number}" + (" --quick" if quick else "")
    for language in langs:
        execution = executions[language]
        report = build_report(
            lecture,
            execution.results,
            execution.filled,
            execution.field_errors,
            language,
            quick=quick,
            seconds=seconds / len(groups),
            command=f"{command} --lang {language}",
            figure_note=language == "zh" and cjk is None,
            exercises=exercises[language],
        )
        write_report(report, folders[language], pages=not build)
    if build:
        from gradschool.course.site import build_site

        build_site(out, find_lectures(lecture.path.parent))
    return LectureRun(
        lecture=lecture,
        langs=langs,
        quick=quick,
        reports=folders,
        ok=ok,
        seconds=seconds,
        cells=cells,
        executions=len(groups),
        error=error,
    )
