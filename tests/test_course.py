"""The course's text and machinery: values quoted in the prose, quick/full cells, the thread
setting, display-width padding, the glossary, the Chinese terminology, the facts that a
careful reading of lectures 1-10 corrected, and the index / navigation pages.

Nothing here runs a real lecture (test_lectures.py does, once each); the made-up lectures
below take a second or less.
"""

from __future__ import annotations

import ast
import json
import os
import re
import textwrap
from pathlib import Path

import pytest

from gradschool.cli import main
from gradschool.course import t
from gradschool.course.cells import LANGS
from gradschool.course.glossary import TERMS
from gradschool.course.report import format_lecture_list
from gradschool.course.runner import fill_fields, find_lectures, lecture_dir, run_lecture
from gradschool.course.site import build_site
from gradschool.text import display_width, format_text, pad

REPO = Path(__file__).resolve().parents[1]
LECTURES = {lec.number: lec for lec in find_lectures()}
HEADER = "# ---\n# jupyter:\n#   gradschool:\n#     quick: 1 s\n#     full: 2 s\n# ---\n\n"


def write_lecture(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text(HEADER + textwrap.dedent(body).lstrip("\n"), encoding="utf-8")
    return path


def lecture_text(number: int, language: str) -> str:
    """The markdown a lecture shows in `language` (both modes)."""
    cells = LECTURES[number].cells
    return "\n".join(c.source for c in cells if c.kind == "markdown" and c.shown_in(language))


def zh_texts() -> list[tuple[str, int, str]]:
    """(file, line number, line) of every line with Chinese in the lectures (their zh cells and
    the zh halves of t() in code) and in docs/*.zh-CN.md and README.zh-CN.md."""
    files = sorted(lecture_dir().glob("[0-9][0-9]_*.py"))
    files += sorted((REPO / "docs").glob("*.zh-CN.md")) + [REPO / "README.zh-CN.md"]
    found = []
    for path in files:
        if not path.exists():
            continue
        for i, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1):
            if re.search(r"[\u4e00-\u9fff]", line):
                found.append((path.name, i, line))
    return found


# ---- values quoted in the prose: {{ expr }} ---------------------------------------------------


def test_fields_are_f_string_replacement_fields():
    names = {"x": 3.14159, "n": 12345, "d": {"a": "b"}, "f": lambda a, b: a + b, "s": "hi"}
    text, errors = fill_fields(
        "{{ x:.2f }} {{x}} {{ n:, }} {{ d['a'] }} {{ f(1, 2) }} {{ s!r }} {{ {'k': 1}['k'] }} "
        "{{ x:>8.1f }}|",
        names,
    )
    assert errors == []
    assert text == "3.14 3.14159 12,345 b 3 'hi' 1      3.1|"
    text, errors = fill_fields("a {{ missing }} b {{ 1 / 0 }}", names)
    assert text == "a {{ missing }} b {{ 1 / 0 }}", "a failed field stays as written"
    assert errors[0].startswith("{{ missing }}: NameError") and "ZeroDivisionError" in errors[1]


FIELDS = """
# %% [markdown] tags=["en"]
# # Lecture 1. Fields

# %% [markdown] tags=["zh"]
# # 第 1 讲：字段

# %%
from gradschool.course import QUICK, t

steps = 2 * 157 if QUICK else 10 * 157
word = t("apples", "苹果")

# %% [markdown] tags=["en"]
# It ran {{ steps }} steps ({{ steps / 157:.0f }} epochs) of {{ word }}.

# %% [markdown] tags=["zh"]
# 一共 {{ steps }} 步，{{ word }}。

# %% [markdown] tags=["en", "quick"]
# Quick mode only.

# %% [markdown] tags=["en", "full"]
# Full mode only: {{ only_in_full_mode }}.
"""


def test_markdown_quotes_the_run_and_mode_tags_choose_cells(tmp_path):
    path = write_lecture(tmp_path, "01_fields.py", FIELDS)
    run = run_lecture(path, quick=True, out=tmp_path / "out")
    assert run.ok, run.error  # the full-mode cell's missing name is never evaluated
    en = (run.reports["en"] / "report.md").read_text(encoding="utf-8")
    zh = (run.reports["zh"] / "report.md").read_text(encoding="utf-8")
    assert "It ran 314 steps (2 epochs) of apples." in en
    assert "一共 314 步，苹果。" in zh, "a t() value is resolved per language"
    assert "Quick mode only." in en and "Full mode only" not in en
    content = json.loads((run.reports["en"] / "run.json").read_text(encoding="utf-8"))
    assert content["quick"] is True and content["number"] == 1 and content["ok"] is True


def test_a_field_that_cannot_be_evaluated_fails_the_lecture(tmp_path, capsys):
    path = write_lecture(tmp_path, "01_fields.py", FIELDS)
    run = run_lecture(path, langs=("en",), quick=False, out=tmp_path / "out")
    assert not run.ok
    assert "{{ only_in_full_mode }}: NameError" in run.error and "line" in run.error
    md = (run.reports["en"] / "report.md").read_text(encoding="utf-8")
    assert "could not be computed" in md and "Full mode only: {{ only_in_full_mode }}." in md
    argv = ["lecture", "run", "1", "--dir", str(tmp_path), "--out", str(tmp_path / "cli")]
    assert main([*argv, "--lang", "en"]) == 1
    assert "only_in_full_mode" in capsys.readouterr().err


# ---- one BLAS thread by default ----------------------------------------------------------------

THREADS = """
# %%
import os

from gradschool.threads import get_threads

print("env", os.environ.get("OMP_NUM_THREADS"), "blas", get_threads()["blas"])
"""


@pytest.mark.parametrize("threads", [1, 2])
def test_the_runner_sets_the_blas_threads_and_gives_them_back(tmp_path, monkeypatch, threads):
    from gradschool.threads import get_threads

    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    before = get_threads()["blas"]
    path = write_lecture(tmp_path, "01_threads.py", THREADS)
    run = run_lecture(path, langs=("en",), out=tmp_path, threads=threads, build=False)
    md = (run.reports["en"] / "report.md").read_text(encoding="utf-8")
    expected_blas = "None" if before is None else str(threads)
    assert f"env {threads} blas {expected_blas}" in md
    assert os.environ["OMP_NUM_THREADS"] == "7" and get_threads()["blas"] == before


def test_lecture_run_takes_threads_from_the_command_line(tmp_path, capsys):
    write_lecture(tmp_path, "01_threads.py", THREADS)
    argv = ["lecture", "run", "1", "--dir", str(tmp_path), "--out", str(tmp_path / "o")]
    assert main([*argv, "--lang", "en", "--threads", "2"]) == 0
    md = (tmp_path / "o" / "01_threads.en" / "report.md").read_text(encoding="utf-8")
    assert "env 2 blas" in md


# ---- tables padded by display width ---------------------------------------------------------


def test_padding_counts_columns_not_characters():
    assert display_width("损失") == 4 and display_width("loss") == 4
    assert display_width("e\u0301") == 1, "a combining accent takes no column"
    assert pad("损失", 6) == "损失  " and pad("损失", 6, ">") == "  损失"
    assert pad("损", 5, "^") == " 损  " and pad("长长长长", 3) == "长长长长"
    assert (
        format_text("验证准确率", ">12") == "  验证准确率" and format_text("ab", "*^6") == "**ab**"
    )
    assert format_text("准确率", ".2") == "准确" and format_text("x", "") == "x"
    # Outside the runner t() gives a str that pads the same way (GRADSCHOOL_LANG picks it).
    os.environ["GRADSCHOOL_LANG"] = "zh"
    try:
        label = t("loss", "损失")
        assert f"[{label:>6}]" == "[  损失]" and label.ljust(5) + "|" == "损失 |"
    finally:
        del os.environ["GRADSCHOOL_LANG"]


def test_chinese_tables_line_up():
    """`gradschool lecture list --lang zh` and the comparison table: every row's columns start
    at the same display column."""
    lectures = list(LECTURES.values())
    if not lectures:
        pytest.skip("no lectures installed")
    lines = format_lecture_list(lectures, "zh").split("\n")
    rows = [("快速", "完整", lines[0])] + [
        (lec.time_quick, lec.time_full, line) for lec, line in zip(lectures, lines[1:])
    ]
    starts = set()
    for quick, full, line in rows:
        full_at = line.rindex("  " + full) + 2
        quick_at = line.rindex("  " + quick, 0, full_at) + 2
        starts.add((display_width(line[:quick_at]), display_width(line[:full_at])))
    assert len(starts) == 1, lines
    from gradschool.experiments.compare import format_table

    table = format_table([{"名称": "固定学习率", "acc": 0.9}, {"名称": "余弦", "acc": 0.95}])
    rows = table.split("\n")
    cut = [display_width(row[: row.rindex(" ") + 1]) for row in (rows[0], rows[2], rows[3])]
    assert len(set(cut)) == 1, table


# ---- the glossary ------------------------------------------------------------------------------


def test_the_glossary_is_one_table_of_complete_terms():
    assert len(TERMS) >= 40
    assert len({term.en.lower() for term in TERMS}) == len(TERMS), "no term twice"
    for term in TERMS:
        assert term.en and term.zh and term.en_def and term.zh_def and term.lecture >= 1
        assert re.search(r"[\u4e00-\u9fff]", term.zh_def), term.en
        assert not re.search(r"[\u4e00-\u9fff]", term.en), term.en


@pytest.mark.parametrize("language", LANGS)
def test_each_glossary_term_appears_in_the_lecture_that_introduces_it(language):
    """Only lectures that exist are checked (lectures are added over time)."""
    missing = []
    for term in TERMS:
        if term.lecture not in LECTURES:
            continue
        text = lecture_text(term.lecture, language).lower()
        if not any(form.lower() in text for form in term.forms(language)):
            missing.append(f"lecture {term.lecture}: {' / '.join(term.forms(language))}")
    assert not missing, "terms not in the lecture that claims them: " + "; ".join(missing)


# ---- terminology of the Chinese text ------------------------------------------------------------

STRIDE_CONTEXT = re.compile(r"卷积|池化|窗口|stride|[Cc]onv|pool|Occlusion|核|步幅|滑动")


def test_stride_is_bu_fu_and_step_size_is_bu_chang():
    """步长 is the step size (of an update, or of a slice, as Python's Chinese docs say);
    a convolution's or a window's stride is 步幅, as zh.d2l.ai writes it."""
    wrong = [
        f"{name}:{i}: {line.strip()[:80]}"
        for name, i, line in zh_texts()
        if "步长" in line and STRIDE_CONTEXT.search(line)
    ]
    assert not wrong, "步长 used for a stride (write 步幅):\n" + "\n".join(wrong)
    text = lecture_text(9, "zh") if 9 in LECTURES else ""
    if text:
        assert "步幅" in text and "步长" not in text


def test_step_decay_is_jie_ti_and_the_sources_name_is_quoted():
    """PyTorch's StepLR is 阶梯衰减; 步长衰减 appears only as the source's own name, quoted."""
    unquoted = []
    for name, i, line in zh_texts():
        for m in re.finditer("步长衰减", line):
            before = line[: m.start()]
            if not re.search(r"([“\"「]|\\u201c)$", before):
                unquoted.append(f"{name}:{i}: {line.strip()[:80]}")
    assert not unquoted, "步长衰减 not quoted as the source's name:\n" + "\n".join(unquoted)
    if 5 in LECTURES:
        assert "阶梯衰减" in lecture_text(5, "zh") and "StepLR" in lecture_text(5, "zh")


def test_the_one_loop_is_the_same_loop_not_the_only_loop():
    wrong = [f"{n}:{i}" for n, i, line in zh_texts() if re.search("唯一的(那个)?训练循环", line)]
    assert not wrong, "write 同一个训练循环: " + ", ".join(wrong)


# ---- facts a careful reading corrected -------------------------------------------------------


def all_text() -> str:
    files = sorted(lecture_dir().glob("[0-9][0-9]_*.py")) + sorted((REPO / "docs").glob("*.md"))
    # Comment lines joined as prose: "# " and line breaks go.
    text = "\n".join(p.read_text(encoding="utf-8") for p in files)
    return re.sub(r"\n#\s?", " ", text)


def test_resnet_is_cited_as_cvpr_2016_everywhere():
    """He et al.'s ResNet: won ImageNet 2015, published at CVPR 2016 (arXiv December 2015);
    every citation of the paper says CVPR 2016."""
    text = all_text()
    cites = [m.start() for m in re.finditer(r"He et al|He 等人", text)]
    for start in cites:
        near = text[start : start + 80]
        assert "CVPR 2016" in near, f"ResNet cited without CVPR 2016: {near!r}"
    assert not re.search(r"ResNet[^.。]{0,20}\(?He et al\.? 20(15|16)", text)


def test_no_text_says_a_backward_pass_costs_as_much_as_a_forward_pass():
    text = all_text()
    assert not re.search(r"backward pass costs about as much as", text)
    assert "反向传播的开销和一次前向传播差不多" not in text
    if 3 in LECTURES:
        assert "2–3x" in lecture_text(3, "en") and "2–3 倍" in lecture_text(3, "zh")


def test_lecture_3_labels_its_parameters_as_its_formula_names_them():
    if 3 not in LECTURES:
        pytest.skip("lecture 3 is not installed")
    source = LECTURES[3].path.read_text(encoding="utf-8")
    labels = ast.literal_eval(re.search(r"^names = (\[.*?\])", source, re.M)[1])
    formula = re.search(r"\\hat\{y\} = (\w+) \\cdot h \+ (\w+)", source)
    weights, bias = formula[1], formula[2]  # the output unit's weights and bias
    hidden = re.search(r"z = W x \+ (\w+)", source)[1]
    assert labels[-1] == bias and labels.count(bias) == 1, (labels, bias)
    assert [lb for lb in labels if lb.startswith(weights)] == [f"{weights}1", f"{weights}2"]
    assert [lb for lb in labels if lb.startswith(hidden)] == [f"{hidden}1", f"{hidden}2"]
    assert bias != hidden


def test_lecture_5_computes_its_standard_error_at_the_measured_accuracy():
    if 5 not in LECTURES:
        pytest.skip("lecture 5 is not installed")
    source = LECTURES[5].path.read_text(encoding="utf-8")
    assert "0.94 * 0.06" not in source and "np.sqrt(acc * (1 - acc) / n_val)" in source
    # No result quoted as typed numbers: the findings are filled in from the run.
    findings = "\n".join(c.source for c in LECTURES[5].cells if "What the runs show" in c.source)
    assert "{{ verdict(0.05) }}" in findings and not re.search(r"\d\d\.\d%", findings)


# ---- the course as pages ------------------------------------------------------------------------

ONE = """
# %% [markdown] tags=["en"]
# # Lecture 1. One
#
# See lecture 2 and docs/lectures.md.

# %% [markdown] tags=["zh"]
# # 第 1 讲：一
#
# 见第 2 讲。

# %%
print("one")
"""


def test_build_writes_index_glossary_and_links_from_existing_runs(tmp_path, capsys):
    write_lecture(tmp_path, "01_one.py", ONE)
    write_lecture(tmp_path, "02_two.py", ONE.replace("1", "2").replace("一", "二"))
    write_lecture(tmp_path, "03_three.py", ONE.replace("1", "3").replace("一", "三"))
    out = tmp_path / "reports"
    for number in ("1", "2"):  # lecture 3 is not run
        argv = ["lecture", "run", number, "--dir", str(tmp_path), "--out", str(out)]
        assert main([*argv, "--lang", "both"]) == 0
    index = (out / "index.html").read_text(encoding="utf-8")
    assert index.count('class="lecture"') == 4, "two lectures run, both languages linked"
    assert "第 3 讲：三" in index and "gradschool lecture run 3 --lang both" in index
    one = (out / "01_one.en" / "report.html").read_text(encoding="utf-8")
    assert 'rel="next" class="next">Lecture 2. ' in one and 'rel="prev"' not in one
    assert '<a href="../02_two.en/report.html" class="xref">lecture 2</a>' in one
    assert 'href="../01_one.zh/report.html" rel="alternate"' in one
    assert 'href="../glossary.html" rel="glossary"' in one
    if (REPO / "docs" / "lectures.md").exists():
        assert re.search(r'href="[./]*[^"]*docs/lectures\.md" class="xref"', one)
    zh = (out / "01_one.zh" / "report.html").read_text(encoding="utf-8")
    assert '<a href="../02_two.zh/report.html" class="xref">第 2 讲</a>' in zh
    md = (out / "01_one.en" / "report.md").read_text(encoding="utf-8")
    assert "[中文](../01_one.zh/report.md)" in md and "(../glossary.md)" in md
    glossary = (out / "glossary.html").read_text(encoding="utf-8")
    assert glossary.count("<tr id=") == len(TERMS)
    # Rebuilding changes nothing, and needs no lecture to run.
    before = {p: p.read_bytes() for p in out.rglob("*.html")}
    assert main(["lecture", "build", "--out", str(out), "--dir", str(tmp_path)]) == 0
    assert "4 reports written again" in capsys.readouterr().out
    assert {p: p.read_bytes() for p in out.rglob("*.html")} == before


def test_build_site_of_an_empty_folder_and_a_foreign_json(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "run.json").write_text('{"not": "a run"}', encoding="utf-8")
    site = build_site(tmp_path)
    assert site.reports == [] and site.index.exists() and site.glossary.exists()
    assert "no lectures" in site.index.read_text(encoding="utf-8")


def test_every_formula_in_the_lectures_is_drawn():
    """mathtext draws every $...$ and $$...$$ of every lecture (none falls back to TeX)."""
    from gradschool.course.markdown import markdown_to_html

    failed = []
    for number in LECTURES:
        for language in LANGS:
            page = markdown_to_html(re.sub(r"\{\{.*?\}\}", "1", lecture_text(number, language)))
            failed += [
                f"{number} {language}: {m}" for m in re.findall(r'class="tex">([^<]*)', page)
            ]
    assert not failed, "formulas mathtext cannot draw:\n" + "\n".join(failed)


def test_lectures_parse_with_their_mode_tags():
    for lecture in LECTURES.values():
        for cell in lecture.cells:
            unknown = [tag for tag in cell.tags if tag not in (*LANGS, "quick", "full", "exercise")]
            assert not unknown, f"{lecture.slug} line {cell.line}: unknown tags {unknown}"


TABLE = """
# %% [markdown] tags=["zh"]
# # 第 1 讲：表格

# %%
from gradschool.course import t

for en, zh in (("name", "名称"), ("learning rate", "学习率"), ("“quoted” α₀", "“引号” α₀→")):
    print(f"{t(en, zh):<14}|{t('x', '值'):>6}|")
"""


def test_a_chinese_table_lines_up_in_the_browser(tmp_path):
    """Padded by display width in the text, boxed to those columns in the HTML: every "|" of
    the printed table sits at the same x in headless Chromium, whatever its fonts."""
    from cdp import Browser, find_browser

    if find_browser() is None:
        pytest.skip("no Chromium/Chrome found (apt-get install chromium fonts-noto-cjk)")
    path = write_lecture(tmp_path, "01_table.py", TABLE)
    run = run_lecture(path, langs=("zh",), out=tmp_path / "out")
    with Browser.start(tmp_path / "profile") as browser:
        page = browser.new_page()
        page.goto((run.reports["zh"] / "report.html").as_uri())
        xs = page.evaluate(
            "(() => { const pre = document.querySelector('pre.output'), xs = [];"
            " const walk = document.createTreeWalker(pre, NodeFilter.SHOW_TEXT);"
            " while (walk.nextNode()) { const node = walk.currentNode;"
            "   for (let i = 0; i < node.data.length; i++) if (node.data[i] === '|') {"
            "     const r = document.createRange(); r.setStart(node, i); r.setEnd(node, i + 1);"
            "     xs.push(Math.round(r.getBoundingClientRect().left * 10) / 10); } }"
            " return xs; })()"
        )
    assert len(xs) == 6, xs
    firsts, seconds = xs[0::2], xs[1::2]
    assert max(firsts) - min(firsts) < 0.5 and max(seconds) - min(seconds) < 0.5, xs


def test_top_level_skips_quotes_and_brackets():
    from gradschool.text import top_level

    text = 'a,"b,c",[d,(e,f)],g'
    assert [i for i, ch in top_level(text) if ch == ","] == [1, 7, 17]
    # parentheses nest only when asked: settings' value lists leave them out
    assert [ch for _, ch in top_level("(x,y)", "[{", "]}") if ch == ","] == [","]
    assert list(top_level("")) == [] and list(top_level("'unclosed, quote")) == []
