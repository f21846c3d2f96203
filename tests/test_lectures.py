"""The course: every lecture runs in quick mode and yields both reports with their figures;
the runner, the report writer and `gradschool lecture` on small made-up lectures; and an HTML
report rendered by headless Chromium, every image loaded.

Each real lecture runs ONCE here: one execution builds its English and Chinese reports.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gradschool.cli import main
from gradschool.course import resolve, t
from gradschool.course.cells import parse_lecture
from gradschool.course.report import format_lecture_list, markdown_to_html
from gradschool.course.runner import find_lecture, find_lectures, lecture_dir, run_lecture

LECTURES = sorted(lecture_dir().glob("[0-9][0-9]_*.py"))
CJK = re.compile(r"[\u4e00-\u9fff]")
PNG = b"\x89PNG\r\n\x1a\n"
GIF = (b"GIF87a", b"GIF89a")


def check_report(folder: Path, language: str) -> int:
    """report.md links PNG (or GIF) files that exist; report.html inlines the same number of
    images and loads nothing from elsewhere; no t() marker is left. Returns the figure count."""
    md = (folder / "report.md").read_text(encoding="utf-8")
    page = (folder / "report.html").read_text(encoding="utf-8")
    links = re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", md)
    for link in links:
        head = (folder / link).read_bytes()[:8]
        assert head[:6] in GIF if link.endswith(".gif") else head == PNG, link
    inlined = re.findall(r'<img src="data:image/(png|gif);base64,', page)
    assert len(inlined) == len(links)
    assert inlined.count("gif") == sum(link.endswith(".gif") for link in links)
    assert not re.findall(r"""src=["'](?!data:)[^"']*["']""", page), "all images inlined"
    for text in (md, page):
        assert not re.search("[\ue000-\ue002]", text), "a t() marker was not resolved"
        assert "{{" not in text, "a field of the text was not filled in"
    assert f'<html lang="{"zh-CN" if language == "zh" else "en"}">' in page
    return len(links)


# ---- every lecture, quick mode, both languages ---------------------------------------------------


@pytest.mark.parametrize("path", LECTURES, ids=[p.stem for p in LECTURES])
def test_lecture_follows_the_format(path):
    lecture = parse_lecture(path)
    assert lecture.titles["en"] and lecture.titles["zh"], "a '# title' in both languages"
    assert CJK.search(lecture.titles["zh"]) and not CJK.search(lecture.titles["en"])
    assert lecture.time_quick != "?" and lecture.time_full != "?", "header: quick: / full:"
    for language in ("en", "zh"):
        assert any(c.kind == "markdown" and language in c.tags for c in lecture.cells)
    text = path.read_text(encoding="utf-8")
    assert re.search(r"(?i)exercise", text) and "练习" in text, "exercises in both languages"
    assert lecture.code_cells, "a lecture runs code"
    assert "plt.show()" not in text, "call show(), the runner collects the figures"


@pytest.mark.parametrize("path", LECTURES, ids=[p.stem for p in LECTURES])
def test_lecture_runs_in_quick_mode_in_both_languages(path, tmp_path):
    run = run_lecture(path, langs=("en", "zh"), quick=True, out=tmp_path)
    if not run.ok:
        failed = next(r for r in run.cells["en"] if r.status == "error")
        pytest.fail(f"{path.name} failed: {resolve(failed.error, 'en')}")
    counts = {lg: check_report(run.reports[lg], lg) for lg in ("en", "zh")}
    assert counts["en"] == counts["zh"] >= 1, "each lecture shows at least one figure"
    zh = (run.reports["zh"] / "report.md").read_text(encoding="utf-8")
    en = (run.reports["en"] / "report.md").read_text(encoding="utf-8")
    title = {lg: re.search(r"^# (.+)$", md, re.M)[1] for lg, md in (("en", en), ("zh", zh))}
    assert CJK.search(title["zh"]) and not CJK.search(title["en"]), title
    assert "快速模式" in zh and "quick mode" in en
    check = LECTURE_CHECKS.get(path.stem)
    if check is not None:
        check(en, zh)


def _seed_steps(en: str, zh: str) -> None:
    """Lecture 6 states the steps the fixed program and the loop took, from the data."""
    from gradschool.data.datasets import load_dataset

    per_epoch = -(-len(load_dataset("mnist-mini").y_train) // 64)
    program = 2 * per_epoch  # quick mode: 2 epochs
    assert f"{program} steps" in en and re.search(rf"共\s*{program} 步", zh)
    loop = int(re.search(r"The loop took (\d+) steps, not the fixed program's (\d+)", en)[1])
    assert loop < program and f"这个循环走了 {loop} 步" in zh


def _schedule_errors(en: str, zh: str) -> None:
    """Lecture 5: the standard errors printed are those of the accuracies measured (each
    schedule's, averaged over the engines), and the Chinese table lines up by display width."""
    from gradschool.text import display_width

    n = int(re.search(r"sqrt\(p\(1 - p\) / (\d+)\)", en)[1])
    accs: dict[tuple[str, str], list[float]] = {}
    for section in en.split("\nα₀ = ")[1:]:
        rate = section.split("\n")[0]
        for label, acc in re.findall(r"^(.+?)\s+(?:numpy|torch)\s.*?(\d+\.\d\d)%$", section, re.M):
            accs.setdefault((rate, label.strip()), []).append(float(acc) / 100)
    errors = [100 * (p * (1 - p) / n) ** 0.5 for p in (sum(a) / len(a) for a in accs.values())]
    low, high = (float(x) for x in re.search(r"(\d+\.\d) to (\d+\.\d) points", en).groups())
    assert len(accs) == 14 and abs(low - min(errors)) < 0.06 and abs(high - max(errors)) < 0.06
    rows = [line for line in zh.split("\n") if re.search(r" (numpy|torch) +\d+\.\d{4} ", line)]
    cuts = {display_width(row[: re.search(r"(numpy|torch)", row).end()]) for row in rows}
    assert rows and len(cuts) == 1, "the Chinese table's engine column lines up"


LECTURE_CHECKS = {"06_seed_mnist": _seed_steps, "05_lr_schedules": _schedule_errors}


# ---- lecture 12's frameworks section: Keras beside the two engines -----------------------------

CHALLENGES = lecture_dir() / "12_challenges.py"


def run_titled_cells(path: Path, prefixes: tuple[str, ...]) -> dict:
    """Run, in order and in one namespace, the code cells of a lecture whose titles start with
    one of `prefixes` (`# %% frameworks: keras`), as a plain script would run them."""
    lecture = parse_lecture(path)
    cells = [c for c in lecture.code_cells if c.title.startswith(prefixes)]
    assert cells, f"no cell of {path.name} is titled {prefixes}"
    namespace: dict = {"__name__": "__main__", "__file__": str(path)}
    for cell in cells:
        code = compile("\n" * (cell.line - 1) + cell.source, str(path), "exec")
        exec(code, namespace)
    return namespace


FRAMEWORK_CELLS = ("setup", "frameworks", "teardown")


@pytest.mark.skipif(not CHALLENGES.exists(), reason="lecture 12 is not in this checkout")
def test_lecture_12_trains_the_seed_mlp_in_keras_beside_both_engines(tmp_path, monkeypatch, capsys):
    import importlib.util

    if importlib.util.find_spec("torch") is None or importlib.util.find_spec("keras") is None:
        pytest.skip("Keras 3 and torch are not installed (pip install 'gradschool[keras]')")
    monkeypatch.setenv("GRADSCHOOL_QUICK", "1")
    monkeypatch.setenv("GRADSCHOOL_LANG", "en")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(tmp_path)  # show() saves the figure under reports/
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    ns = run_titled_cells(CHALLENGES, FRAMEWORK_CELLS)
    out = capsys.readouterr().out
    rows = ns["fw_results"]
    keras_rows = [name for name in rows if name.startswith("Keras")]
    assert keras_rows and keras_rows[0].endswith(", torch"), rows.keys()
    assert set(rows) >= {"gradschool, numpy", "gradschool, torch"}
    for row in rows.values():
        assert row["weights"] == 109_386 and row["test_acc"] > 0.85 and row["per_epoch"] > 0
    assert "torch's global state is as it was" in out
    assert "KERAS_BACKEND" not in os.environ, "the cell puts the environment back"


@pytest.mark.skipif(not CHALLENGES.exists(), reason="lecture 12 is not in this checkout")
def test_lecture_12_says_so_and_goes_on_without_keras(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GRADSCHOOL_QUICK", "1")
    monkeypatch.setenv("GRADSCHOOL_LANG", "en")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "keras", None)  # `import keras` raises ImportError
    ns = run_titled_cells(CHALLENGES, FRAMEWORK_CELLS)
    out = capsys.readouterr().out
    assert not any(name.startswith("Keras") for name in ns["fw_results"])
    assert "gradschool, numpy" in ns["fw_results"]
    if ns["HAVE_TORCH"]:
        assert "Keras is not installed" in out and "pip install 'gradschool[keras]'" in out
    else:
        assert "Keras skipped" in out


# ---- the runner on made-up lectures --------------------------------------------------------------

HEADER = "# ---\n# jupyter:\n#   gradschool:\n#     quick: 1 s\n#     full: 2 s\n# ---\n\n"


def write_lecture(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text(HEADER + textwrap.dedent(body).lstrip("\n"), encoding="utf-8")
    return path


DEMO = """
# %% [markdown] tags=["en"]
# # Lecture 1. Demo
#
# Descent: $\\theta \\leftarrow \\theta - \\alpha \\nabla_\\theta J$
#
# $$
# \\frac{\\partial L}{\\partial w_j} = \\sum_{i=1}^{m} \\frac{\\partial L}{\\partial z_i}
# $$

# %% [markdown] tags=["zh"]
# # 第 1 讲：演示
#
# 梯度下降：
#
# $$\\theta = \\theta - \\alpha \\nabla_{\\theta}J(\\theta)$$

# %% [markdown]
# Both / 两种语言都有。

# %% Setup
import os
import matplotlib.pyplot as plt
from gradschool.course import QUICK, show, t
print(t("quick:", "快速："), QUICK, os.environ["GRADSCHOOL_LANG"])
print(f"[{t('loss', '损失'):>6}]", t("step", "步").ljust(6) + "|")

# %%
fig, ax = plt.subplots()
ax.plot([0, 1], [1, 0], label=t("loss", "损失"))
ax.set_title(t("Training", "训练"))
ax.legend()
plt.figure()
plt.bar([0, 1], [2, 3])
show()
print("two figures")
"""


def test_one_execution_gives_both_reports(tmp_path):
    path = write_lecture(tmp_path, "01_demo.py", DEMO)
    run = run_lecture(path, langs=("en", "zh"), quick=True, out=tmp_path / "reports")
    assert run.ok and run.executions == 1
    assert run.figures == {"en": 2, "zh": 2}
    en = (run.reports["en"] / "report.md").read_text(encoding="utf-8")
    zh = (run.reports["zh"] / "report.md").read_text(encoding="utf-8")
    assert "# Lecture 1. Demo" in en and "第 1 讲" not in en
    assert "# 第 1 讲：演示" in zh and "Lecture 1. Demo" not in zh
    assert "Both / 两种语言都有。" in en and "Both / 两种语言都有。" in zh
    assert "quick: True en" in en and "快速： True en" in zh
    # A width in a format spec or ljust pads each language on its own, by display width (a
    # Chinese character takes two columns).
    assert "[  loss] step  |" in en and "[  损失] 步    |" in zh
    assert check_report(run.reports["en"], "en") == check_report(run.reports["zh"], "zh") == 2
    assert (run.reports["en"] / "fig-02-1.png").exists()
    import matplotlib.pyplot as plt

    assert plt.get_fignums() == [], "the runner closes the figures it saved"
    assert "GRADSCHOOL_QUICK" not in os.environ or os.environ["GRADSCHOOL_QUICK"] != "1"
    assert t("a", "b") in ("a", "b"), "t() is plain again after the run"


def test_a_lecture_that_calls_lang_runs_once_per_language(tmp_path):
    body = DEMO.replace('print("two figures")', 'print("lang is", lang())').replace(
        "QUICK, show, t", "QUICK, lang, show, t"
    )
    run = run_lecture(write_lecture(tmp_path, "02_lang.py", body), out=tmp_path)
    assert run.ok and run.executions == 2 and not run.quick
    assert "lang is zh" in (run.reports["zh"] / "report.md").read_text(encoding="utf-8")
    assert "full mode" in (run.reports["en"] / "report.md").read_text(encoding="utf-8")


def test_a_failing_cell_shows_its_traceback_and_stops_the_lecture(tmp_path):
    body = """
    # %% [markdown]
    # # Lecture 3. Broken
    # # 第 3 讲：出错

    # %%
    print("before")

    # %%
    def helper():
        return {}["missing"]

    helper()

    # %%
    print("after")
    """
    path = write_lecture(tmp_path, "03_broken.py", body)
    run = run_lecture(path, langs=("en",), out=tmp_path)
    assert not run.ok
    assert "KeyError" in run.error and "line 17" in run.error  # where in the file it failed
    md = (run.reports["en"] / "report.md").read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" in md and "in helper" in md
    assert "runner.py" not in md, "the runner's own frame is not shown"
    assert "not run: an earlier cell failed" in md and "stopped with an error" in md
    assert run.cells["en"][2].status == "skipped"


def test_show_of_a_png_file_puts_it_in_the_report(tmp_path, monkeypatch):
    body = """
    # %% [markdown]
    # # Lecture 8. Files

    # %%
    import matplotlib.pyplot as plt
    from gradschool.course import show

    plt.figure()
    plt.plot([1, 2])
    plt.savefig("made.png")  # a figure some library function saved
    plt.close()
    show("made.png")
    show("missing.png")
    """
    path = write_lecture(tmp_path, "08_files.py", body)
    monkeypatch.chdir(tmp_path)
    run = run_lecture(path, langs=("en", "zh"), out=tmp_path)
    assert run.ok and run.figures == {"en": 1, "zh": 1}
    assert check_report(run.reports["zh"], "zh") == 1
    md = (run.reports["en"] / "report.md").read_text(encoding="utf-8")
    assert "show('missing.png'): no such file" in md


def test_show_of_a_gif_keeps_it_animated_in_the_report(tmp_path, monkeypatch):
    body = """
    # %% [markdown]
    # # Lecture 8. Animation

    # %%
    from PIL import Image
    from gradschool.course import show

    frames = [Image.new("RGB", (8, 8), (40 * i, 0, 0)) for i in range(3)]
    frames[0].save("anim.gif", save_all=True, append_images=frames[1:], duration=50, loop=0)
    show("anim.gif")
    """
    path = write_lecture(tmp_path, "08_gif.py", body)
    monkeypatch.chdir(tmp_path)
    run = run_lecture(path, langs=("en", "zh"), out=tmp_path / "out")
    assert run.ok and run.figures == {"en": 1, "zh": 1}
    for language in ("en", "zh"):
        folder = run.reports[language]
        assert check_report(folder, language) == 1
        assert "](fig-01-1.gif)" in (folder / "report.md").read_text(encoding="utf-8")
        from PIL import Image

        with Image.open(folder / "fig-01-1.gif") as gif:
            assert gif.n_frames == 3, "the copy is the whole animation"
    # A later run replaces it: no stale GIF is left from an earlier report.
    (run.reports["en"] / "fig-09-9.gif").write_bytes(b"GIF89a")
    run_lecture(path, langs=("en",), out=tmp_path / "out")
    assert not (run.reports["en"] / "fig-09-9.gif").exists()


def test_a_figure_that_cannot_be_drawn_fails_its_cell(tmp_path):
    body = """
    # %%
    import matplotlib.pyplot as plt

    plt.figure()
    plt.title(r"$\\frac{1}{$")  # mathtext cannot parse this: the error comes at drawing time
    """
    run = run_lecture(write_lecture(tmp_path, "09_badfig.py", body), langs=("en",), out=tmp_path)
    assert not run.ok and "ValueError" in run.error
    import matplotlib.pyplot as plt

    assert plt.get_fignums() == []


def test_cells_and_header_are_parsed_like_jupytext(tmp_path):
    path = write_lecture(tmp_path, "07_cells.py", DEMO)
    lecture = parse_lecture(path)
    assert (lecture.number, lecture.slug) == (7, "07_cells")
    assert (lecture.time_quick, lecture.time_full) == ("1 s", "2 s")
    assert lecture.titles == {"en": "Lecture 1. Demo", "zh": "第 1 讲：演示"}
    kinds = [(c.kind, c.tags) for c in lecture.cells]
    assert kinds[:3] == [("markdown", ["en"]), ("markdown", ["zh"]), ("markdown", [])]
    setup = lecture.code_cells[0]
    assert setup.title == "Setup" and setup.source.startswith("import os")
    assert path.read_text().split("\n")[setup.line - 1] == "import os"


def test_show_saves_figures_when_run_as_a_plain_script(tmp_path):
    path = write_lecture(tmp_path, "05_script.py", DEMO)
    env = {**os.environ, "GRADSCHOOL_LANG": "zh", "MPLBACKEND": "Agg"}
    result = subprocess.run(
        [sys.executable, str(path)], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "快速： False zh" in result.stdout
    assert sorted(p.name for p in (tmp_path / "reports" / "figures-05").iterdir()) == [
        "fig-1.png",
        "fig-2.png",
    ]


# ---- the command line ----------------------------------------------------------------------------


def test_lecture_list_and_run_from_the_command_line(tmp_path, capsys):
    write_lecture(tmp_path, "01_demo.py", DEMO)
    assert main(["lecture", "list", "--dir", str(tmp_path), "--lang", "zh"]) == 0
    out = capsys.readouterr().out
    assert "第 1 讲：演示" in out and "1 s" in out and "2 s" in out
    out_dir = tmp_path / "out"
    argv = ["lecture", "run", "1", "--dir", str(tmp_path), "--quick", "--lang", "both"]
    assert main([*argv, "--out", str(out_dir)]) == 0
    out = capsys.readouterr().out
    assert "cell 2/2" in out and "report.html" in out
    assert (out_dir / "01_demo.zh" / "report.html").exists()
    assert (out_dir / "01_demo.en" / "report.html").exists()


def test_lecture_run_exits_non_zero_on_errors_and_unknown_lectures(tmp_path, capsys):
    write_lecture(tmp_path, "04_bad.py", "# %%\nraise ValueError('no')\n")
    argv = ["lecture", "run", "all", "--dir", str(tmp_path), "--out", str(tmp_path / "o")]
    assert main(argv) == 1
    assert "lecture 4" in capsys.readouterr().err
    assert main(["lecture", "run", "9", "--dir", str(tmp_path)]) == 2
    assert "no lecture matches '9'" in capsys.readouterr().err


def test_the_shipped_lectures_are_found():
    assert lecture_dir().name == "lectures" and lecture_dir().parent.name == "course"
    repo_link = Path(__file__).resolve().parents[1] / "lectures"
    if repo_link.exists():
        assert repo_link.resolve() == lecture_dir().resolve()
    lectures = find_lectures()
    assert [lec.path for lec in lectures] == sorted(lecture_dir().glob("[0-9][0-9]_*.py"))
    if lectures:
        first = lectures[0]
        assert find_lecture(str(first.number)).path == first.path
        assert find_lecture(f"{first.number:02d}").path == first.path
        assert first.title("en") in format_lecture_list(lectures, "en")


# ---- Markdown and formulas in the HTML -----------------------------------------------------------


def squash(page: str) -> str:
    """HTML without the line breaks markdown-it puts between tags."""
    return re.sub(r">\n+", ">", re.sub(r"\n+<", "<", page))


def test_markdown_to_html_covers_what_lectures_use():
    page = markdown_to_html(
        "## Idea\n\n- a **b** `c<d`\n  - nested\n- e\n\n1. one\n2. two\n\n"
        "| x | y |\n|---|---|\n| 1 | 2 |\n\n> quote\n\n```python\nx = 1 < 2\n```\n\n"
        "Text with $x_i^2$ and a_b_c and [a link](#idea)."
    )
    flat = squash(page)
    assert '<h2 id="idea">Idea</h2>' in page
    assert "<ul><li>a <strong>b</strong> <code>c&lt;d</code><ul><li>nested</li></ul></li>" in flat
    assert "<ol><li>one</li><li>two</li></ol>" in flat
    assert "<td>1</td>" in page and "<blockquote><p>quote</p></blockquote>" in flat
    assert "x = 1 &lt; 2" in page and "a_b_c" in page
    assert '<img class="math" src="data:image/svg+xml;base64,' in page and 'alt="$x_i^2$"' in page
    display = markdown_to_html("$$\n\\theta = \\theta - \\alpha \\nabla_{\\theta}J(\\theta)\n$$")
    assert display.startswith('<div class="math"><img src="data:image/svg+xml;base64,')


def test_formulas_are_drawn_or_shown_as_tex():
    """Inline and display formulas become SVG on the baseline; what mathtext cannot draw is
    shown as its TeX source; dollar amounts stay text."""
    page = markdown_to_html(r"Costs $5 and $6; $\frac{a}{b}$ and $\begin{x}$.")
    assert "Costs $5 and $6;" in page
    assert page.count('<img class="math"') == 1 and "vertical-align: -" in page
    assert '<code class="tex">$\\begin{x}$</code>' in page
    aliases = markdown_to_html(r"$a \le b \ge \lVert x \rVert - \tfrac{1}{2}$")
    assert 'class="tex"' not in aliases, "TeX spellings mathtext lacks are rewritten"
    svg = re.search(r"data:image/svg\+xml;base64,([^\"]+)", page)[1]
    import base64

    assert b"<metadata>" not in base64.b64decode(svg), "no date in the SVG: same bytes each build"


# ---- an HTML report in a real browser ------------------------------------------------------------

_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
_MARK_IMAGES = (
    "<script>window.addEventListener('load', function () {"
    " var all = document.images, ok = 0;"
    " for (var i = 0; i < all.length; i++) {"
    "   if (all[i].complete && all[i].naturalWidth > 0) ok++; }"
    " document.body.setAttribute('data-images', ok + '/' + all.length); });</script>"
)


def test_html_report_renders_in_headless_chromium(tmp_path):
    browser = next((b for b in map(shutil.which, _BROWSERS) if b), None)
    if browser is None:
        pytest.skip("no Chromium/Chrome found (.ci/run installs Debian's chromium)")
    run = run_lecture(write_lecture(tmp_path, "01_demo.py", DEMO), langs=("zh",), out=tmp_path)
    page = (run.reports["zh"] / "report.html").read_text(encoding="utf-8")
    # The report allows no script; this copy allows only the inline one that counts images.
    page = page.replace("img-src data:;", "img-src data:; script-src 'unsafe-inline';")
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body>", _MARK_IMAGES + "</body>"), encoding="utf-8")
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=10000",
        "--dump-dom",
    ]
    try:
        result = subprocess.run(
            [browser, *flags, probe.as_uri()], capture_output=True, text=True, timeout=120
        )
    except subprocess.TimeoutExpired:
        pytest.fail("headless Chromium did not finish in 120 s")
    counted = re.search(r'data-images="(\d+)/(\d+)"', result.stdout)
    assert counted, f"no result from {browser}: {result.stderr[-2000:]}"
    loaded, total = map(int, counted.groups())
    assert total == 3  # two figures and one formula (SVG)
    assert loaded == total, f"{total - loaded} of {total} images did not load"


# ---- the course as pages: index, navigation, glossary, in a real browser -----------------------

SECOND = """
# %% [markdown] tags=["en"]
# # Lecture 2. Second
#
# Back to lecture 1; docs/lectures.md says how to run it.

# %% [markdown] tags=["zh"]
# # 第 2 讲：第二讲
#
# 回到第 1 讲；怎么运行见 `docs/lectures.zh-CN.md`。

# %%
import matplotlib.pyplot as plt
from gradschool.course import show, t

plt.plot([0, 1], [0, 1])
plt.title(t("Line", "直线"))
show()
"""


def test_index_navigation_and_glossary_click_through_in_headless_chromium(tmp_path):
    from cdp import Browser, find_browser

    if find_browser() is None:
        pytest.skip("no Chromium/Chrome found (apt-get install chromium fonts-noto-cjk)")
    write_lecture(tmp_path, "01_demo.py", DEMO)
    write_lecture(tmp_path, "02_second.py", SECOND)
    out = tmp_path / "reports"
    argv = ["lecture", "run", "all", "--dir", str(tmp_path), "--lang", "both", "--quick"]
    assert main([*argv, "--out", str(out)]) == 0
    pages = []
    with Browser.start(tmp_path / "profile") as running:
        browser = running.new_page()

        def page_loaded(expected: Path) -> None:
            here = browser.evaluate("location.href")
            assert here == expected.as_uri(), here
            assert browser.evaluate("document.title"), f"{here} has no title"
            images = browser.evaluate(
                "Array.from(document.images).map(i => i.complete && i.naturalWidth > 0)"
            )
            assert all(images), f"{images.count(False)} images did not load on {here}"
            pages.append(here)

        browser.goto((out / "index.html").as_uri())
        page_loaded(out / "index.html")
        rows = browser.evaluate("document.querySelectorAll('table.toc tbody tr').length")
        assert rows == 2, "one numbered row per lecture"
        browser.click("#lecture-1 a.lecture[hreflang=en]")
        page_loaded(out / "01_demo.en" / "report.html")
        browser.click("nav.top a[rel=next]")
        page_loaded(out / "02_second.en" / "report.html")
        xref = browser.evaluate("document.querySelector('main a.xref').getAttribute('href')")
        assert xref == "../01_demo.en/report.html", "'lecture 1' links to lecture 1"
        docs = browser.evaluate("Array.from(document.querySelectorAll('a.xref')).map(a => a.href)")
        if (Path(__file__).resolve().parents[1] / "docs" / "lectures.md").exists():
            assert any(href.endswith("/docs/lectures.md") for href in docs), docs
        browser.click("nav.top a[rel=alternate]")
        page_loaded(out / "02_second.zh" / "report.html")
        assert browser.evaluate("document.documentElement.lang") == "zh-CN"
        text = browser.evaluate("document.querySelector('main').innerText")
        assert "第 2 讲" in text and "第 1 讲" in text
        browser.click("nav.top a[rel=glossary]")
        page_loaded(out / "glossary.html")
        terms = browser.evaluate("document.querySelectorAll('table.glossary tbody tr').length")
        from gradschool.course.glossary import TERMS

        assert terms == len(TERMS)
        elsewhere = [url for url in browser.requests if not url.startswith(("file:", "data:"))]
    assert len(pages) == 5
    assert not elsewhere, f"requests that left the machine: {elsewhere}"
    assert any(url.startswith("file:") for url in browser.requests), "requests were recorded"
