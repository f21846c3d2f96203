"""What `gradschool lecture exercises` and `gradschool lecture check` say: the exercises of a
lecture, and an answer checked — right or not and why, then a hint on the first wrong try and
the next hint on the next one, the worked solution only when asked for (`--solution`).

    gradschool lecture exercises 1                    # number, kind, text, the check command
    gradschool lecture check 1 3 --answer 203530      # a number (or a formula, or settings)
    gradschool lecture check 1 4 --file my_solution.py
    gradschool lecture check 1 3 --solution
    gradschool lecture check 1                        # where you stand: solved, tries
    gradschool lecture check 1 --file alice.py        # every exercise a student's file answers

A student's file for a whole lecture holds the functions the exercises ask for and a dict
`answers = {3: "203530", ...}` for the others, as `--answer` takes them (docs/teaching.md).

The tries are counted per exercise in one small JSON file, `exercises.json` in gradschool's
user cache (`$XDG_CACHE_HOME/gradschool`, else `~/.cache/gradschool`, the folder where data
sets are cached too); GRADSCHOOL_EXERCISES_STATE names another file (a class can give each
student their own). An answer that cannot be read (not a number, a file that does not import)
is an error, not a try.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from gradschool.course.answers import AnswerError, Verdict
from gradschool.course.cells import Lecture
from gradschool.course.exercises import Exercise, find_exercise, load_exercises
from gradschool.errors import ConfigError

__all__ = ["Attempts", "CheckOutcome", "check_lecture", "format_exercises", "state_path"]

STATE_ENV = "GRADSCHOOL_EXERCISES_STATE"

WORDS = {
    "en": {
        "head": "{title}: {n} exercises, {k} with an answer gradschool checks",
        "state": "(your tries are kept in {path})",
        "not_tried": "not tried",
        "tries": "{n} wrong tries",
        "one_try": "1 wrong try",
        "solved": "solved",
        "solved_after": "solved after {n} wrong tries",
        "not_checked": "not checked",
        "exercise": "Lecture {lecture}, exercise {n} ({label})",
        "right": "Right.",
        "wrong": "Not yet.",
        "hint": "Hint {k} of {n}: {text}",
        "next": "(wrong try {n}: the next one shows hint {k})",
        "no_more": "No more hints: `{command}` shows the worked solution.",
        "compare": "Compare with the worked solution: `{command}`.",
        "solution": "Worked solution",
        "how": "Check your answer: `{command}`",
        "open": "This is an open question: gradschool does not check it. The worked answer: "
        "`{command}`.",
        "no_function": "{file} answers none of this lecture's exercises: define the functions "
        'they ask for ({names}), or a dict `answers = {{3: "203530"}}`.',
        "name_one": "name the exercise to check: `gradschool lecture check {lecture} EXERCISE "
        "--answer ...` (the list: `gradschool lecture exercises {lecture}`).",
        "none": "Lecture {lecture} declares no exercises.",
        "summary": "{right} of {n} right.",
    },
    "zh": {
        "head": "{title}：共 {n} 道练习，其中 {k} 道 gradschool 能检查答案",
        "state": "（你的作答记录保存在 {path}）",
        "not_tried": "还没做",
        "tries": "答错 {n} 次",
        "one_try": "答错 1 次",
        "solved": "已做对",
        "solved_after": "答错 {n} 次后做对",
        "not_checked": "不检查",
        "exercise": "第 {lecture} 讲，练习 {n}（{label}）",
        "right": "对了。",
        "wrong": "还不对。",
        "hint": "提示 {k}/{n}：{text}",
        "next": "（第 {n} 次答错；再错一次会给出提示 {k}）",
        "no_more": "提示已经用完：`{command}` 会显示参考解答。",
        "compare": "可以和参考解答对照一下：`{command}`。",
        "solution": "参考解答",
        "how": "检查答案：`{command}`",
        "open": "这是开放题，gradschool 不检查答案。参考解答：`{command}`。",
        "no_function": "{file} 没有回答这一讲的任何一道练习：定义练习要求的函数（{names}），"
        '或者一个字典 `answers = {{3: "203530"}}`。',
        "name_one": "请指明要检查哪道练习："
        "`gradschool lecture check {lecture} 练习编号 --answer ...`"
        "（练习列表：`gradschool lecture exercises {lecture}`）。",
        "none": "第 {lecture} 讲没有练习。",
        "summary": "{n} 道里对了 {right} 道。",
    },
}


def state_path() -> Path | None:
    """Where the tries are kept: $GRADSCHOOL_EXERCISES_STATE, else exercises.json in the user
    cache of gradschool; None (nothing kept) when the variable is "off" (a teacher checking a
    student's file)."""
    env = os.environ.get(STATE_ENV)
    if env is not None and env.strip().lower() in ("off", "none", "-"):
        return None
    if env:
        return Path(env).expanduser()
    from gradschool.data.sources import default_cache_dir

    return default_cache_dir() / "exercises.json"


class Attempts:
    """The tries of each exercise: {"01_concepts/3": {"wrong": 2, "solved": true}}. A file that
    cannot be read starts a fresh record; one that cannot be written is skipped, silently (a
    check still answers)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or state_path()
        self.data: dict[str, dict] = {}
        if self.path is None:
            return
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            self.data = data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            pass

    @staticmethod
    def key(ex: Exercise) -> str:
        return f"{ex.slug}/{ex.number}"

    def get(self, ex: Exercise) -> dict:
        entry = self.data.get(self.key(ex), {})
        return {"wrong": int(entry.get("wrong", 0)), "solved": bool(entry.get("solved", False))}

    def record(self, ex: Exercise, ok: bool) -> dict:
        entry = self.get(ex)
        if ok:
            entry["solved"] = True
        else:
            entry["wrong"] += 1
        self.data[self.key(ex)] = entry
        if self.path is None or (self.path.exists() and not self.path.is_file()):
            return entry  # not kept (NOTE: never rename a file over /dev/null or a folder)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.data, indent=1, sort_keys=True) + "\n", "utf-8")
            tmp.replace(self.path)
        except OSError:
            pass
        return entry

    def status(self, ex: Exercise, language: str) -> str:
        words = WORDS[language]
        if not ex.checkable:
            return words["not_checked"]
        entry = self.get(ex)
        if entry["solved"]:
            if entry["wrong"]:
                return words["solved_after"].format(n=entry["wrong"])
            return words["solved"]
        if entry["wrong"] == 1:
            return words["one_try"]
        return words["tries"].format(n=entry["wrong"]) if entry["wrong"] else words["not_tried"]


def format_exercises(
    lecture: Lecture, exercises: list[Exercise], language: str, attempts: Attempts | None = None
) -> str:
    """The list: each exercise's number, kind, first sentence and check command (and, given
    the tries, where the learner stands)."""
    words = WORDS[language]
    if not exercises:
        return words["none"].format(lecture=lecture.number)
    checked = sum(ex.checkable for ex in exercises)
    lines = [words["head"].format(title=lecture.title(language), n=len(exercises), k=checked)]
    if attempts is not None and attempts.path is not None:
        lines.append(words["state"].format(path=attempts.path))
    for ex in exercises:
        status = f" · {attempts.status(ex, language)}" if attempts is not None else ""
        lines += [
            "",
            f"{ex.number}. {ex.label(language)}{status}",
            f"   {ex.summary(language)}",
            f"   {ex.command(language)}",
        ]
    return "\n".join(lines)


@dataclass
class CheckOutcome:
    """What `lecture check` printed, and its exit status (0 right or nothing to check, 1 not
    right yet)."""

    text: str
    status: int


def _verdict(ex: Exercise, verdict: Verdict, attempts: Attempts, language: str) -> str:
    words = WORDS[language]
    entry = attempts.record(ex, verdict.ok)
    lines = [words["exercise"].format(lecture=ex.lecture, n=ex.number, label=ex.label(language))]
    lines.append(words["right"] if verdict.ok else words["wrong"])
    for en, zh in verdict.lines:
        lines.append(zh if language == "zh" else en[:1].upper() + en[1:])
    solution = ex.command(language).split(" --")[0] + " --solution"
    solution += " --lang zh" if language == "zh" else ""
    if verdict.ok:
        lines.append(words["compare"].format(command=solution))
        return "\n".join(lines)
    wrong, hints = entry["wrong"], len(ex.hints)
    if wrong <= hints:
        lines.append(words["hint"].format(k=wrong, n=hints, text=ex.hint(wrong - 1, language)))
    if wrong < hints:
        lines.append(words["next"].format(n=wrong, k=wrong + 1))
    else:
        lines.append(words["no_more"].format(command=solution))
    return "\n".join(lines)


def _solution(ex: Exercise, language: str) -> str:
    words = WORDS[language]
    head = words["exercise"].format(lecture=ex.lecture, n=ex.number, label=ex.label(language))
    colon = "：" if language == "zh" else ":"
    solution = ex.solution_text(language)
    return f"{head}\n\n{ex.text(language)}\n\n{words['solution']}{colon}\n\n{solution}"


def check_lecture(
    lecture: Lecture,
    key: str | None = None,
    answer: str | None = None,
    file: str | Path | None = None,
    language: str = "en",
    solution: bool = False,
    attempts: Attempts | None = None,
) -> CheckOutcome:
    """`gradschool lecture check`: check exercise `key` of `lecture` with `answer` or `file`;
    show its solution; or, without an exercise, where the learner stands (or check every
    function the file defines). AnswerError becomes a GradschoolError in `language`."""
    words = WORDS[language]
    attempts = attempts or Attempts()
    exercises = load_exercises(lecture)
    path = Path(file) if file is not None else None
    try:
        if key is None:
            if solution:
                text = "\n\n---\n\n".join(_solution(ex, language) for ex in exercises)
                return CheckOutcome(text or words["none"].format(lecture=lecture.number), 0)
            if answer is not None:
                raise ConfigError(words["name_one"].format(lecture=lecture.number))
            if path is not None:
                return _check_file(exercises, path, language, attempts)
            return CheckOutcome(format_exercises(lecture, exercises, language, attempts), 0)
        ex = find_exercise(exercises, key)
        if solution:
            return CheckOutcome(_solution(ex, language), 0)
        if not ex.checkable:
            text = f"{ex.markdown(language)}\n{words['open'].format(command=ex.command(language))}"
            return CheckOutcome(text, 0)
        if answer is None and path is None:
            return CheckOutcome(ex.markdown(language), 0)
        verdict = ex.check.check(ex, answer, path)
        return CheckOutcome(_verdict(ex, verdict, attempts, language), 0 if verdict.ok else 1)
    except AnswerError as err:
        raise ConfigError(err.say(language)) from None


def _check_file(
    exercises: list[Exercise], path: Path, language: str, attempts: Attempts
) -> CheckOutcome:
    """Every exercise the file answers, checked in turn: each function it defines that an
    exercise asks for, and each entry of its `answers` dict ({exercise number: the answer as
    `--answer` takes it}). One file per lecture is what a student hands in."""
    from gradschool.course.answers import load_module
    from gradschool.course.checks import Function

    module = load_module(path)
    answers = getattr(module, "answers", {})
    if not isinstance(answers, dict):
        raise AnswerError(
            f'{path}: `answers` must be a dict {{exercise number: answer}}, e.g. {{3: "203530"}}',
            f'{path}：`answers` 必须是字典 {{练习编号: 答案}}，例如 {{3: "203530"}}',
        )
    answered = {int(k): str(v) for k, v in answers.items()}
    todo: list[tuple[Exercise, str | None]] = []
    for ex in exercises:
        if isinstance(ex.check, Function) and callable(getattr(module, ex.check.name, None)):
            todo.append((ex, None))
        elif ex.number in answered and ex.checkable and not ex.check.needs_file:
            todo.append((ex, answered[ex.number]))
    if not todo:
        names = ", ".join(ex.check.name for ex in exercises if isinstance(ex.check, Function))
        words = WORDS[language]
        raise ConfigError(words["no_function"].format(file=path, names=names or "-"))
    parts, right = [], 0
    for ex, answer in todo:
        verdict = ex.check.check(ex, answer, path if answer is None else None)
        right += verdict.ok
        parts.append(_verdict(ex, verdict, attempts, language))
    parts.append(WORDS[language]["summary"].format(right=right, n=len(todo)))
    return CheckOutcome("\n\n".join(parts), 0 if right == len(todo) else 1)
