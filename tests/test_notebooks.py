"""Notebooks that work: gradschool never switches a notebook's matplotlib backend, draws its
progress bar where a notebook (or a terminal) can show it and nowhere else, and exports the
lectures as notebooks (one language each) that run in a real kernel with their figures inline
and print what the runner prints. The lecture files stay the one source: no .ipynb committed.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest

from gradschool.course import resolve
from gradschool.course.cells import clean_output, parse_lecture
from gradschool.course.runner import find_lecture, lecture_dir, run_lecture
from gradschool.train import callbacks
from gradschool.train.callbacks import progress_bar, progress_front_end

ROOT = Path(__file__).resolve().parents[1]
LECTURES = sorted(lecture_dir().glob("[0-9][0-9]_*.py"))
WIDGET = "application/vnd.jupyter.widget-view+json"


# ---- 1. the backend stays the notebook's ---------------------------------------------------------


def test_plots_never_choose_a_backend():
    source = (ROOT / "gradschool" / "plots.py").read_text(encoding="utf-8")
    assert not re.search(r"\.use\(|switch_backend", source)


def test_plots_and_a_run_leave_the_backend_alone(tmp_path):
    """In a fresh interpreter whose backend is a notebook's (the inline one, when installed),
    importing gradschool.plots and training a run with its curves.png keeps that backend,
    and never even imports pyplot."""
    try:
        import matplotlib_inline  # noqa: F401

        backend = "module://matplotlib_inline.backend_inline"
    except ImportError:
        backend = "pdf"  # any backend but Agg
    script = textwrap.dedent(f"""
        import sys
        import matplotlib
        import gradschool.plots
        from gradschool.config import Config, with_updates
        from gradschool.train.run import RunDir
        from gradschool.train.trainer import fit

        config = with_updates(Config(), {{
            "train_subset": 200, "epochs": 1, "sizes": [784, 8, 10], "progress": "off",
            "out_dir": {str(tmp_path)!r}, "run_name": "tiny"}})
        fit(config, run=RunDir.create(config), console=False)
        assert (RunDir({str(tmp_path / "tiny")!r}).path / "plots" / "curves.png").is_file()
        print("pyplot imported:", "matplotlib.pyplot" in sys.modules)
        print("backend:", dict.__getitem__(matplotlib.rcParams, "backend"))
    """)
    env = {**os.environ, "MPLBACKEND": backend}
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert "pyplot imported: False" in out.stdout
    assert f"backend: {backend}" in out.stdout


def test_the_cli_draws_with_agg(monkeypatch):
    """The CLI's own process picks Agg (plots.py no longer does), before pyplot exists."""
    from gradschool.cli import main

    monkeypatch.setenv("MPLBACKEND", "")  # restored after the test, whatever main sets
    monkeypatch.delenv("MPLBACKEND")
    monkeypatch.delitem(sys.modules, "matplotlib.pyplot", raising=False)
    assert main(["lecture", "list"]) == 0
    assert os.environ["MPLBACKEND"] == "Agg"


# ---- 2. the progress bar: terminal, notebook, log ------------------------------------------------


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class KernelStream(io.StringIO):
    """Stands for ipykernel's OutStream: what a notebook's sys.stderr is."""


KernelStream.__module__ = "ipykernel.iostream"


def test_a_terminal_gets_a_text_bar():
    assert progress_front_end("auto", Terminal()) == "text"
    assert progress_front_end("off", Terminal()) is None
    bar = progress_bar("text", total=3, file=Terminal(), leave=False)
    assert type(bar).__module__ == "tqdm.std"
    bar.close()


def test_a_log_gets_no_bar():
    """CI, a file, the runner's capture: not a terminal, not a notebook."""
    assert progress_front_end("auto", io.StringIO()) is None
    assert progress_front_end("on", io.StringIO()) == "text"  # asked for, explicitly


def test_a_notebook_gets_a_widget_bar_or_a_text_one(monkeypatch):
    stream = KernelStream()
    assert not stream.isatty()  # why the old test (isatty) never drew one in a notebook
    have_widgets = types.SimpleNamespace(name="ipywidgets")
    monkeypatch.setattr(callbacks.importlib.util, "find_spec", lambda name: have_widgets)
    assert progress_front_end("auto", stream) == "notebook"
    assert progress_front_end("off", stream) is None
    monkeypatch.setattr(callbacks.importlib.util, "find_spec", lambda name: None)
    assert progress_front_end("auto", stream) == "text"  # Jupyter redraws \r in place


def test_the_widget_bar_is_tqdms_notebook_bar():
    pytest.importorskip("ipywidgets")
    bar = progress_bar("notebook", total=3, leave=False, disable=True)  # no display here
    assert type(bar).__module__ == "tqdm.notebook"
    bar.close()


def test_the_trainer_draws_the_bar_where_stderr_shows_it(monkeypatch):
    """Through the loop: a bar per epoch on a terminal, none on a log."""
    from gradschool.config import Config, with_updates
    from gradschool.train.trainer import fit

    config = with_updates(Config(), {"train_subset": 200, "epochs": 2, "sizes": [784, 8, 10]})
    for stream, bars in ((Terminal(), True), (io.StringIO(), False)):
        monkeypatch.setattr(sys, "stderr", stream)
        made: list[str] = []

        def fake_bar(front: str, made: list[str] = made, **options: object) -> _Bar:
            made.append(front)
            return _Bar()

        monkeypatch.setattr(callbacks, "progress_bar", fake_bar)
        fit(config, console=False)
        assert made == (["text", "text"] if bars else [])


class _Bar:
    n = 0

    def update(self, k: int) -> None:
        self.n += k

    def set_postfix(self, **kw: object) -> None:
        pass

    def close(self) -> None:
        pass


# ---- 3. export: one language, no solutions, the setup cell --------------------------------------


@pytest.mark.parametrize("path", LECTURES, ids=[p.stem for p in LECTURES])
def test_export_writes_one_language_without_solutions(path):
    nbformat = pytest.importorskip("nbformat")
    from gradschool.course.notebook import lecture_notebook

    lecture = parse_lecture(path)
    for language, other in (("en", "zh"), ("zh", "en")):
        for quick, executed in ((False, False), (True, True)):
            nb = lecture_notebook(lecture, language, quick=quick, executed=executed)
            nbformat.validate(nb)
            setup = nb.cells[0]
            assert setup.metadata["tags"] == ["setup"]
            assert f'os.environ["GRADSCHOOL_LANG"] = "{language}"' in setup.source
            assert f'os.environ["GRADSCHOOL_QUICK"] = "{int(quick)}"' in setup.source
            markdown = [c for c in nb.cells if c.cell_type == "markdown"]
            assert not any(other in c.metadata.get("tags", []) for c in markdown)
            assert not any("solution" in t for c in nb.cells for t in c.metadata.get("tags", []))
            code = [c.source for c in nb.cells[1:] if c.cell_type == "code"]
            assert code == [c.source for c in lecture.cells if _plain_code(c)]
            title = next(c.source for c in markdown if c.source.startswith("# "))
            assert title.splitlines()[0] == f"# {lecture.title(language)}"
            modes = [
                t for c in markdown for t in c.metadata.get("tags", []) if t in ("quick", "full")
            ]
            if executed:  # its own mode's prose only, fields left for the kernel
                assert set(modes) <= {"quick"}
            else:  # both modes' prose, each saying which; every field shown as code
                assert set(modes) == {t for c in lecture.cells for t in c.tags} & {"quick", "full"}
                for cell in markdown:
                    assert not re.search(r"(?<!`)\{\{", cell.source), cell.source[:80]


def _plain_code(cell) -> bool:
    """A code cell a notebook keeps as code: not a solution, not an exercise's declaration."""
    return cell.kind == "code" and not {"exercise", "solution", "solutions"} & set(cell.tags)


def test_exercises_show_their_check_command_and_never_their_solution():
    """Each cell tagged "exercise" becomes the exercise's text and check command."""
    pytest.importorskip("nbformat")
    exercises = pytest.importorskip("gradschool.course.exercises")
    from gradschool.course.notebook import lecture_notebook

    declared = 0
    for path in LECTURES:
        lecture = parse_lecture(path)
        loaded = exercises.load_exercises(lecture)
        declared += len(loaded)
        for language in ("en", "zh"):
            nb = lecture_notebook(lecture, language)
            shown = [c.source for c in nb.cells if "exercise" in c.metadata.get("tags", [])]
            assert len(shown) == len(loaded), path.name
            for text, exercise in zip(shown, loaded):
                assert exercise.command(language) in text
                assert "gradschool lecture check" in text
                for part in exercise.solution:
                    if part.strip():
                        assert part.strip() not in text, "a solution in a notebook"
            sources = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
            assert "solution=" not in sources, path.name
    if not declared:
        pytest.skip("no lecture declares an exercise yet")


def test_jupytext_reads_every_lecture_as_its_cells():
    """Opening a lecture's .py in Jupyter goes through jupytext: it must see the same cells."""
    jupytext = pytest.importorskip("jupytext")
    for path in LECTURES:
        lecture = parse_lecture(path)
        nb = jupytext.read(path)
        code = [c.source.strip() for c in nb.cells if c.cell_type == "code"]
        cells = [c for c in lecture.cells if c.kind in ("code", "exercise")]
        assert code == [c.source.strip() for c in cells], path.name
        marked = [c for c in nb.cells if c.cell_type == "markdown"]
        assert len(marked) == sum(c.kind == "markdown" for c in lecture.cells), path.name


# ---- 4. the exported notebooks run in a real kernel, figures inline ------------------------------


def test_exported_notebooks_run_in_a_kernel_with_inline_figures(tmp_path):
    """Lectures 1, 3 and 6, both languages, quick mode: nbclient and ipykernel on this
    interpreter, as `gradschool lecture export --executed` runs them."""
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    from gradschool.course.notebook import clean_outputs, execute_notebook, lecture_notebook

    for number in (1, 3, 6):
        lecture = find_lecture(number)
        for language in ("en", "zh"):
            nb = lecture_notebook(lecture, language, quick=True, executed=True)
            run = execute_notebook(nb, cwd=tmp_path, timeout=600, keep_widgets=True)
            where = f"lecture {number} ({language})"
            assert run.error == "" and run.field_errors == [], (where, run)
            code = [c for c in nb.cells if c.cell_type == "code"]
            assert all(c.execution_count for c in code), where
            errors = [o for c in code for o in c.outputs if o.output_type == "error"]
            assert not errors, (where, errors)
            widgets = sum(WIDGET in o.get("data", {}) for c in code for o in c.outputs)
            if number in (1, 6):  # they train through the loop: its bar is a widget
                assert widgets >= 1, where
            clean_outputs(nb)
            outputs = [o for c in code for o in c.outputs]
            assert not any(WIDGET in o.get("data", {}) for o in outputs)
            images = [o for o in outputs if "image/png" in o.get("data", {})]
            shows = sum(len(re.findall(r"^show\(\)", c.source, re.M)) for c in lecture.code_cells)
            assert len(images) == shows >= 1, (where, len(images), shows)
            text = "".join(o.get("text", "") for o in outputs)
            assert ("测试" in text or "引擎" in text) == (language == "zh"), where
            assert not re.search("[\ue000-\ue002]", text)
            filled = "".join(c.source for c in nb.cells if c.cell_type == "markdown")
            assert "{{" not in filled, where


# ---- 5. one source: export + execute reproduces the runner; no committed .ipynb ------------------

_TIME = re.compile(r"\d+(?:\.\d+)?(?:e[-+]?\d+)?(?=\s*(?:ms|µs|us|s|x)\b)")


def _normalised(text: str) -> str:
    """Times (and speed ratios) differ between two runs; everything else must not."""
    return _TIME.sub("<t>", text)


def test_export_and_execute_reproduces_the_runners_output(tmp_path):
    """`gradschool lecture export 3 --executed` prints, cell by cell, what `lecture run 3`
    printed, and quotes the same values in its text (times aside)."""
    pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    from gradschool.cli import main

    lecture = find_lecture(3)
    run = run_lecture(lecture, langs=("en",), quick=True, out=tmp_path / "reports", build=False)
    assert run.ok, run.error
    out = tmp_path / "notebooks"
    args = ["lecture", "export", "3", "--lang", "en", "--quick", "--executed", "--out", str(out)]
    assert main(args) == 0
    nb = nbformat.read(out / "03_backpropagation.en.ipynb", as_version=4)
    cells = [
        c for c in nb.cells if c.cell_type == "code" and "setup" not in c.metadata.get("tags", [])
    ]
    assert len(cells) == len(run.cells["en"])
    for cell, result in zip(cells, run.cells["en"]):
        printed = "".join(o.text for o in cell.outputs if o.output_type == "stream")
        expected = clean_output(resolve(result.output, "en"))
        assert _normalised(clean_output(printed)) == _normalised(expected), cell.source[:60]
        shown = sum("image/png" in o.get("data", {}) for o in cell.outputs)
        assert shown == len(result.figures.get("en", []))
    report = json.loads((run.reports["en"] / "run.json").read_text(encoding="utf-8"))
    texts = [text for kind, text in report["blocks"] if kind == "md"]
    markdown = [
        c.source
        for c in nb.cells
        if c.cell_type == "markdown" and "en" in c.metadata.get("tags", [])
    ]
    assert any("{{" in c.source for c in lecture.cells), "lecture 3 quotes values"
    assert [_normalised(t) for t in markdown] == [_normalised(t) for t in texts]


def test_no_notebook_is_committed():
    """The lecture files are the one source: a committed .ipynb would drift from them."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--", "*.ipynb"], cwd=ROOT, capture_output=True, text=True
    )
    assert listed.returncode == 0, listed.stderr
    committed = [p for p in listed.stdout.split("\0") if p and not p.startswith(".venv/")]
    assert committed == [], f"notebooks are made by `gradschool lecture export`: {committed}"


def test_a_failing_notebook_is_written_with_its_traceback(tmp_path):
    """A cell that raises, a field that cannot be evaluated: the executed notebook is still
    written (the traceback under its cell, the field as written), and the command fails."""
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("nbclient")
    from gradschool.cli import main

    folder = tmp_path / "lectures"
    folder.mkdir()
    (folder / "01_tiny.py").write_text(
        textwrap.dedent("""\
            # %% [markdown] tags=["en"]
            # # Lecture 1. Tiny

            # %% [markdown] tags=["zh"]
            # # 第 1 讲：小

            # %%
            x = 41 + 1
            print("x ready")

            # %% [markdown] tags=["en"]
            # x is {{ x }}; y is {{ nope }}.

            # %%
            raise ValueError("boom")

            # %% [markdown]
            # after: {{ x }}

            # %%
            print("never")
        """),
        encoding="utf-8",
    )
    out = tmp_path / "nb"
    argv = ["lecture", "export", "1", "--dir", str(folder), "--executed", "--out", str(out)]
    assert main([*argv, "--lang", "en"]) == 1
    nb = nbformat.read(out / "01_tiny.en.ipynb", as_version=4)
    sources = [c.source for c in nb.cells if c.cell_type == "markdown"]
    assert "x is 42; y is `{{ nope }}`." in sources
    assert "after: `{{ x }}`" in sources  # not reached: shown as written
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [o.ename for o in code[2].outputs if o.output_type == "error"] == ["ValueError"]
    assert code[3].outputs == [] and code[3].execution_count is None
    assert not any("gradschool" in c.metadata for c in nb.cells)


def test_the_kernel_is_this_python_whatever_kernels_are_registered(tmp_path, monkeypatch):
    """A registered "python3" kernel of another Python (here, one that does not exist) is
    not used: the kernel runs on the interpreter that exports, with no kernel spec needed."""
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("nbclient")
    from gradschool.course.notebook import execute_notebook

    spec = tmp_path / "kernels" / "python3"
    spec.mkdir(parents=True)
    argv = ["/nonexistent/python", "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec.joinpath("kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "Python 3", "language": "python"})
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import sys\nsys.executable")])
    run = execute_notebook(nb, cwd=tmp_path)
    assert run.error == ""
    assert nb.cells[0].outputs[0]["data"]["text/plain"] == repr(sys.executable)
