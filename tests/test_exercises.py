"""The lectures' exercises: every one declared, in both languages, the checked ones at least
half; every worked solution passes its own check; an empty, constant or wrong answer fails
with a message that says why; `gradschool lecture exercises / check`, hints one try at a time,
the state file; reports fold the solutions; each lecture whose topic is an engine step ends
with "Now build it".

Nothing here runs a lecture. A check runs the exercise cells only (and the few titled lecture
cells an exercise names as its setup); the three "run" exercises train small models for a
second or two each, with the same budget a learner's check uses.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from gradschool.cli import main
from gradschool.course.answers import AnswerError, read_formula, read_numbers
from gradschool.course.checks import Formula, Function, Number, Open, Run
from gradschool.course.exercises import load_exercises
from gradschool.course.grading import Attempts, check_lecture
from gradschool.course.runner import find_lectures, run_lecture

LECTURES = {lec.number: lec for lec in find_lectures()}
EXERCISES = {n: load_exercises(lec) for n, lec in LECTURES.items()}
ALL = [ex for n in sorted(EXERCISES) for ex in EXERCISES[n]]
IDS = [f"L{ex.lecture}-{ex.number}-{ex.kind}" for ex in ALL]
CHECKED = [ex for ex in ALL if ex.checkable]
CHECKED_IDS = [f"L{ex.lecture}-{ex.number}-{ex.kind}" for ex in CHECKED]
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(autouse=True)
def _state_file(tmp_path, monkeypatch):
    """Every test counts its tries in a file of its own."""
    monkeypatch.setenv("GRADSCHOOL_EXERCISES_STATE", str(tmp_path / "tries.json"))


def submit(ex, tmp_path: Path, answer: str | None = None, code: str | None = None):
    """Check `answer`, or `code` written to a file, against exercise `ex`: the Verdict."""
    path = None
    if code is not None:
        path = tmp_path / f"answer_{ex.lecture}_{ex.number}.py"
        path.write_text(textwrap.dedent(code), encoding="utf-8")
    return ex.check.check(ex, answer, path)


# ---- the course's exercises ---------------------------------------------------------------------


def test_every_lecture_declares_its_exercises_and_half_are_checked():
    assert sorted(EXERCISES) == list(range(1, 13)), "lectures 1-12 are installed"
    counts = {}
    for number, exercises in EXERCISES.items():
        assert len(exercises) >= 4, f"lecture {number}"
        assert [ex.number for ex in exercises] == list(range(1, len(exercises) + 1))
        counts[number] = (len(exercises), sum(ex.checkable for ex in exercises))
        assert counts[number][1] >= 1, f"lecture {number} has no checked exercise"
    total, checked = (sum(c[k] for c in counts.values()) for k in (0, 1))
    assert checked * 2 >= total, counts
    kinds = {ex.kind for ex in ALL}
    assert kinds == {"number", "formula", "function", "run", "open"}, kinds


@pytest.mark.parametrize("ex", ALL, ids=IDS)
def test_each_exercise_reads_in_both_languages(ex):
    for language in ("en", "zh"):
        text, solution = ex.text(language), ex.solution_text(language)
        assert text and solution and "{{" not in solution
        assert bool(CJK.search(text)) == (language == "zh")
        assert ex.summary(language) and "\n" not in ex.summary(language)
        assert ex.command(language).startswith(f"gradschool lecture check {ex.lecture} {ex.number}")
        markdown = ex.markdown(language)
        assert ex.command(language) in markdown and solution not in markdown
    if ex.checkable:
        assert len(ex.hints) >= 2
    assert ex.line and ex.slug == LECTURES[ex.lecture].slug


@pytest.mark.parametrize("ex", CHECKED, ids=CHECKED_IDS)
def test_the_worked_solution_passes_its_own_check(ex, tmp_path):
    answer, code = ex.check.reference_submission(ex)
    verdict = submit(ex, tmp_path, answer, code)
    assert verdict.ok, verdict.lines
    if isinstance(ex.check, Function):  # the Chinese solution shows the same code, and it runs
        zh_code = ex.check.reference_submission(ex)[1]
        assert zh_code is not None
        from gradschool.course.checks import solution_code

        assert submit(ex, tmp_path, None, solution_code(ex.solution[1])).ok


FAKES = {
    "None": "def {name}(*args):\n    return None\n",
    "zero": "def {name}(*args):\n    return 0\n",
    "constant": "def {name}(*args):\n    return 1.0\n",
    "its input": "def {name}(*args):\n    return args[0]\n",
    "zeros like its input": (
        "import numpy as np\n\n\ndef {name}(*args):\n"
        "    first = next((a for a in args if isinstance(a, np.ndarray)), None)\n"
        "    return np.zeros_like(first) if first is not None else np.zeros(2)\n"
    ),
}


@pytest.mark.parametrize("ex", CHECKED, ids=CHECKED_IDS)
def test_no_empty_or_constant_answer_passes(ex, tmp_path):
    kind = ex.check
    if isinstance(kind, Function):
        for label, code in FAKES.items():
            verdict = submit(ex, tmp_path, None, code.format(name=kind.name))
            assert not verdict.ok, f"a function returning {label} passes"
            assert verdict.lines and verdict.lines[0][0], label
        with pytest.raises(AnswerError):  # a file without the function is not a try
            submit(ex, tmp_path, None, "x = 1\n")
    elif isinstance(kind, Number):
        with pytest.raises(AnswerError):
            submit(ex, tmp_path, "")
        expected = kind.expected(ex)
        for constant in (0.0, 1.0):
            wrong = "; ".join([repr(constant)] * len(expected))
            if any(abs(e - constant) > max(kind.abs, kind.rel * abs(e)) for e in expected):
                assert not submit(ex, tmp_path, wrong).ok
    elif isinstance(kind, Formula):
        with pytest.raises(AnswerError):
            submit(ex, tmp_path, "")
        for constant in ("0", "1", *kind.variables):
            assert not submit(ex, tmp_path, constant).ok, f"{constant} passes"
    elif isinstance(kind, Run):
        with pytest.raises(AnswerError):
            submit(ex, tmp_path, "")
        ex.prepare()
        base = kind.base()
        value = kind.train(base)
        reached = value >= kind.bar if kind.higher else value <= kind.bar
        assert not reached, "the settings the exercise starts from already reach the bar"
    else:
        pytest.fail(f"unexpected kind {kind}")


@pytest.mark.parametrize(
    "ex", [ex for ex in ALL if not ex.checkable], ids=lambda ex: f"L{ex.lecture}-{ex.number}"
)
def test_open_questions_say_they_are_not_checked(ex, tmp_path):
    assert isinstance(ex.check, Open)
    with pytest.raises(AnswerError, match="open question"):
        submit(ex, tmp_path, "anything")


def exercise_of(lecture: int, number: int):
    return EXERCISES[lecture][number - 1]


def test_the_answers_the_issue_states_are_what_the_checks_compute():
    """Lecture 1, exercise 3: 203,530 parameters; lecture 6, exercise 1: 10 steps per epoch;
    lecture 5, exercise 2: gamma = 0.25^(2/T)."""
    assert exercise_of(1, 3).check.expected(exercise_of(1, 3)) == [203_530.0]
    assert exercise_of(6, 1).check.expected(exercise_of(6, 1))[0] == 10.0
    gamma = exercise_of(5, 2)
    assert isinstance(gamma.check, Formula) and list(gamma.check.variables) == ["T"]
    for T in (10.0, 100.0, 777.0):
        assert gamma.check.reference(T=T) == pytest.approx(0.25 ** (2 / T), rel=1e-12)


# ---- answers read as people write them -------------------------------------------------------


def test_numbers_and_formulas_are_read_as_people_write_them():
    assert read_numbers("203,530") == [203530.0] and read_numbers("203_530") == [203530.0]
    assert read_numbers("32; 31.25") == [32.0, 31.25] and read_numbers("2/25") == [0.08]
    assert read_numbers("2^-9") == [2**-9] and read_numbers("95%") == [0.95]
    f = read_formula("0.25^(2/T)", ["T"])
    assert f(T=4.0) == pytest.approx(0.5)
    assert read_formula("sqrt(x) * e^(-y)", ["x", "y"])(x=4.0, y=0.0) == 2.0
    for bad, words in (
        ("2T", "2*T"),
        ("gamma", "neither a variable"),
        ("__import__('os')", "neither a variable"),
        ("T.real", "not allowed"),
        ("12 apples", "without units"),
    ):
        with pytest.raises(AnswerError, match=re.escape(words)):
            read_formula(bad, ["T"]) if "apples" not in bad else read_numbers(bad)
    with pytest.raises(AnswerError):  # no number with a million digits
        read_numbers("9**9**9**9")


def test_wrong_answers_say_why(tmp_path):
    params = exercise_of(1, 3)
    verdict = submit(params, tmp_path, "203520")
    assert not verdict.ok and "too small, by less than 0.01%" in verdict.lines[0][0]
    assert "偏小" in verdict.lines[0][1]
    gamma = exercise_of(5, 2)
    verdict = submit(gamma, tmp_path, "0.5**(2/T)")
    assert not verdict.ok
    text = verdict.lines[0][0]
    assert re.search(r"at T = [\d.]+, your formula gives [\d.]+, the answer is [\d.]+", text)
    assert "points differ" in text
    collapse = exercise_of(1, 4)
    transposed = "def collapse(W1, b1, W2, b2, W3, b3):\n    return (W3 @ W2 @ W1).T, b3\n"
    verdict = submit(collapse, tmp_path, None, transposed)
    assert not verdict.ok
    message = "\n".join(en for en, _ in verdict.lines)
    assert "case 1 of" in message and "expected shape (2, 3), got (3, 2)" in message
    bias = "def collapse(W1, b1, W2, b2, W3, b3):\n    return W3 @ W2 @ W1, b3\n"
    message = "\n".join(en for en, _ in submit(collapse, tmp_path, None, bias).lines)
    assert "values differ; the largest error is at" in message and "expected:" in message
    assert re.search(r"error: +\d", message)
    raising = "def collapse(W1, b1, W2, b2, W3, b3):\n    return W1 @ W2 @ W3, b3\n"
    message = "\n".join(en for en, _ in submit(collapse, tmp_path, None, raising).lines)
    assert "raised ValueError" in message and "line 2)" in message


# ---- the command line: list, check, hints one try at a time, the solution --------------------


def test_lecture_exercises_lists_kind_text_and_command(capsys):
    assert main(["lecture", "exercises", "1"]) == 0
    out = capsys.readouterr().out
    assert "4 exercises, 3 with an answer gradschool checks" in out
    assert "3. a number" in out and "gradschool lecture check 1 3 --answer VALUE" in out
    assert "gradschool lecture check 1 4 --file my_solution.py" in out
    assert main(["lecture", "exercises", "5", "--lang", "zh"]) == 0
    out = capsys.readouterr().out
    assert "共 4 道练习" in out and "--lang zh" in out


def test_lecture_check_gives_a_hint_per_wrong_try_then_the_solution(tmp_path, capsys):
    state = tmp_path / "tries.json"
    argv = ["lecture", "check", "1", "3", "--answer"]
    assert main([*argv, "200000"]) == 1
    out = capsys.readouterr().out
    assert "Not yet." in out and "Hint 1 of 2" in out and "Hint 2" not in out
    assert "203,530" not in out, "a wrong try does not give the answer away"
    assert main([*argv, "203,000", "--lang", "zh"]) == 1
    out = capsys.readouterr().out
    assert "还不对。" in out and "提示 2/2" in out and "--solution --lang zh" in out
    assert main([*argv, "203530"]) == 0
    out = capsys.readouterr().out
    assert "Right." in out and "203,530 is right." in out
    assert main([*argv, "two hundred"]) == 2, "an unreadable answer is an error, not a try"
    assert "without units" in capsys.readouterr().err
    assert Attempts(state).get(exercise_of(1, 3)) == {"wrong": 2, "solved": True}
    assert main(["lecture", "check", "1"]) == 0
    out = capsys.readouterr().out
    assert "solved after 2 wrong tries" in out and str(state) in out
    assert main(["lecture", "check", "1", "3", "--solution"]) == 0
    out = capsys.readouterr().out
    assert "Worked solution:" in out and "203,530" in out


def test_lecture_check_of_a_file_and_of_every_function_it_defines(tmp_path, capsys):
    solution = tmp_path / "mine.py"
    solution.write_text(
        "def collapse(W1, b1, W2, b2, W3, b3):\n    return W3 @ W2 @ W1, W3 @ (W2 @ b1 + b2) + b3\n"
    )
    assert main(["lecture", "check", "1", "4", "--file", str(solution)]) == 0
    assert "agrees with three engine Linear layers on all" in capsys.readouterr().out
    assert main(["lecture", "check", "1", "--file", str(solution)]) == 0
    assert "1 of 1 right." in capsys.readouterr().out
    assert main(["lecture", "check", "1", "4", "--file", str(tmp_path / "none.py")]) == 2
    assert "no file" in capsys.readouterr().err
    assert main(["lecture", "check", "1", "1"]) == 0, "an open question shows itself"
    assert "open question" in capsys.readouterr().out
    assert main(["lecture", "check", "1", "9", "--answer", "1"]) == 2
    assert "no exercise '9'" in capsys.readouterr().err


def test_one_file_answers_a_whole_lecture_for_a_teacher(tmp_path, capsys, monkeypatch):
    """A student's file: the functions the exercises ask for, and `answers` for the rest;
    `lecture check N --file` checks them all, and keeps no tries with the state "off"."""
    monkeypatch.setenv("GRADSCHOOL_EXERCISES_STATE", "off")
    alice = tmp_path / "alice.py"
    alice.write_text(
        "answers = {3: '203,530', 1: 'not checked: an open question'}\n\n"
        "def collapse(W1, b1, W2, b2, W3, b3):\n    return W3 @ W2 @ W1, b3\n"
    )
    assert main(["lecture", "check", "1", "--file", str(alice)]) == 1
    out = capsys.readouterr().out
    assert "exercise 3 (a number)" in out and "exercise 4 (a function" in out
    assert "exercise 1 " not in out, "an open question is not checked"
    assert "1 of 2 right." in out
    assert not list(tmp_path.glob("*.json")) and not (tmp_path / "off").exists()
    bad = tmp_path / "bob.py"
    bad.write_text("x = 1\n")
    assert main(["lecture", "check", "1", "--file", str(bad)]) == 2
    assert "answers none of this lecture's exercises" in capsys.readouterr().err


def test_the_state_file_is_in_the_user_cache_unless_named(tmp_path, monkeypatch):
    from gradschool.course.grading import state_path

    monkeypatch.delenv("GRADSCHOOL_EXERCISES_STATE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert state_path() == tmp_path / "cache" / "gradschool" / "exercises.json"
    (tmp_path / "cache" / "gradschool").mkdir(parents=True)
    (tmp_path / "cache" / "gradschool" / "exercises.json").write_text("not json")
    outcome = check_lecture(LECTURES[1], "3", "1")
    assert outcome.status == 1, "a broken state file starts afresh"
    assert Attempts().get(exercise_of(1, 3))["wrong"] == 1


# ---- the runner and the report: exercise cells are rendered, never run ------------------------

HEADER = "# ---\n# jupyter:\n#   gradschool:\n#     quick: 1 s\n#     full: 2 s\n# ---\n\n"
DEMO = """
# %% [markdown] tags=["en"]
# # Lecture 1. Demo

# %% [markdown] tags=["zh"]
# # 第 1 讲：演示

# %%
print("the lecture runs")

# %% tags=["exercise"]
from gradschool.course.exercises import Number, exercise

print("NOT RUN BY THE RUNNER")
exercise(
    1,
    en="How much is $6 \\\\times 7$?",
    zh="$6 \\\\times 7$ 等于多少？",
    check=Number(lambda: 6 * 7),
    hints=[("Six sevens.", "六个七。"), ("Count by sevens.", "七个七个地数。")],
    solution=("It is {{ answer:.0f }}.", "等于 {{ answer:.0f }}。"),
)
"""


def test_the_report_shows_each_exercise_with_its_command_and_folds_its_solution(tmp_path):
    path = tmp_path / "01_demo.py"
    path.write_text(HEADER + DEMO.lstrip("\n"), encoding="utf-8")
    run = run_lecture(path, langs=("en", "zh"), quick=True, out=tmp_path / "out")
    assert run.ok, run.error
    md = (run.reports["en"] / "report.md").read_text(encoding="utf-8")
    page = (run.reports["en"] / "report.html").read_text(encoding="utf-8")
    assert "NOT RUN BY THE RUNNER" not in md and "the lecture runs" in md
    assert "### Exercise 1 · a number" in md
    assert "**Check your answer:** `gradschool lecture check 1 1 --answer VALUE`" in md
    assert '<details markdown="1">\n<summary>Solution</summary>\n\nIt is 42.\n\n</details>' in md
    assert '<section class="exercise" id="exercise-1">' in page
    assert "<code>gradschool lecture check 1 1 --answer VALUE</code>" in page
    folded = re.search(
        r'<details class="solution"><summary>Solution</summary>(.*?)</details>', page, re.S
    )
    assert folded and "It is 42." in folded[1]
    assert "It is 42." not in page.replace(folded[0], ""), "the solution only inside <details>"
    zh = (run.reports["zh"] / "report.md").read_text(encoding="utf-8")
    assert "### 练习 1 · 数值题" in zh and "--answer 数值 --lang zh" in zh and "等于 42。" in zh
    assert load_exercises(path)[0].check.expected(load_exercises(path)[0]) == [42.0]


def test_run_as_a_script_or_in_a_notebook_an_exercise_shows_itself_not_its_solution(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "07_demo.py"
    path.write_text(HEADER + DEMO.lstrip("\n"), encoding="utf-8")
    env = {**__import__("os").environ, "GRADSCHOOL_LANG": "zh", "MPLBACKEND": "Agg"}
    result = subprocess.run(
        [sys.executable, str(path)], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "### 练习 1 · 数值题" in result.stdout
    assert "检查答案：`gradschool lecture check 7 1 --answer 数值 --lang zh`" in result.stdout
    assert "等于 42" not in result.stdout, "the solution is not shown"
    ex = load_exercises(path)[0]
    shown = ex._repr_markdown_()  # what Jupyter displays for the cell's value
    assert "gradschool lecture check 7 1" in shown and "It is 42" not in shown
    assert "It is 42." in ex.markdown("en", solution=True)


def test_a_broken_exercise_declaration_fails_the_lecture_with_its_line(tmp_path):
    body = DEMO.replace(
        'hints=[("Six sevens.", "六个七。"), ("Count by sevens.", "七个七个地数。")],', ""
    )
    path = tmp_path / "01_demo.py"
    path.write_text(HEADER + body.lstrip("\n"), encoding="utf-8")
    run = run_lecture(path, langs=("en",), quick=True, out=tmp_path / "out")
    assert not run.ok and "at least two hints" in run.error


# ---- "Now build it": the track's steps after the lecture that teaches them ---------------------


def test_each_engine_lecture_ends_with_now_build_it_naming_its_track_steps():
    from gradschool.track.steps import STEPS

    by_lecture: dict[int, set[str]] = {}
    for step in STEPS:
        first = int(re.search(r"lecture (\d+)", step.lecture["en"])[1])
        by_lecture.setdefault(first, set()).add(step.name)
    for number, lecture in LECTURES.items():
        sections = {}
        for language, head in (("en", "## Now build it"), ("zh", "## 动手实现")):
            cells = [c for c in lecture.cells if c.kind == "markdown" and head in c.source]
            sections[language] = cells[0].source if cells else None
        wanted = by_lecture.get(number, set())
        if not wanted:
            assert sections == {"en": None, "zh": None}, f"lecture {number}"
            continue
        for language, text in sections.items():
            assert text, f"lecture {number} has no 'Now build it' in {language}"
            named = set(re.findall(r"gradschool build check (\w+)", text))
            assert named == wanted, (number, language, named, wanted)
            assert "gradschool build start" in text
        last = [c for c in lecture.cells if c.kind in ("markdown", "exercise")][-2:]
        assert all("## Now build it" in c.source or "## 动手实现" in c.source for c in last)
