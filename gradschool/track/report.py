"""What `gradschool build check` prints: the progress table, the first failure with its hint
(English or Chinese), and the JSON records a teacher collects over a folder of submissions."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from gradschool.track.results import Failure, StepResult

_STATUS = {
    "en": {"passed": "passed", "failed": "FAILED", "not started": "not started", "error": "ERROR"},
    "zh": {"passed": "通过", "failed": "未通过", "not started": "未开始", "error": "出错"},
}
_HEAD = {
    "en": ("#", "step", "status", "cases", "error", "first failing case"),
    "zh": ("#", "步骤", "状态", "用例", "误差", "第一个失败的用例"),
}
# What the "error" column says when there is no largest error to give.
_KIND_SHORT = {
    "shape": ("shape", "形状"),
    "structure": ("result", "返回值"),
    "not_implemented": ("todo", "没写完"),
    "error": ("raised", "异常"),
    "recursion": ("recursion", "递归"),
    "mutation": ("in place", "原地修改"),
    "timeout": ("timeout", "超时"),
}
_KIND_LEAD = {
    "shape": ("The gradient has the wrong shape.", "梯度的形状不对。"),
    "value": ("The values differ from the oracle's.", "数值和参照结果不一致。"),
    "structure": ("The result is not what the caller expects.", "返回的结果不是调用方需要的形式。"),
    "not_implemented": (
        "Part of this step still raises NotImplementedError: fill in every blank of the step.",
        "这一步还有空白函数在抛 NotImplementedError：这一步的每个空白都要补上。",
    ),
    "recursion": (
        "Python ran out of recursion: a deep graph needs a loop with an explicit stack.",
        "Python 递归层数用完了：很深的图需要用循环加显式栈来处理。",
    ),
    "error": ("Your code raised an error.", "你的代码抛出了异常。"),
    "mutation": (
        "Your code changed an array it was given, in place; that array may be shared, so "
        "compute new arrays instead.",
        "你的代码原地修改了传进来的数组；这个数组可能被别处共用，应该算出新的数组。",
    ),
    "timeout": ("The step did not finish in time.", "这一步没有在限定时间内跑完。"),
}
# The grader's names for what it compared, in Chinese (checks.py writes them in English).
_WHAT_ZH = [
    (r"^gradient of (\w+) after backward\(\)$", r"backward() 之后 \1 的梯度"),
    (r"^gradient of (\w+)$", r"\1 的梯度"),
    (r"^forward$", "前向结果"),
    (r"^(p\d \(.*\)) after step (\d+) of (\d+)$", r"第 \2 步之后的 \1（共 \3 步）"),
    (r"^the gradient of (p\d \(.*\)) in step (\d+)$", r"第 \2 步里 \1 的梯度"),
    (r"^the learning rate at step (\d+)$", r"第 \1 步的学习率"),
    (r"^the mean loss of each epoch$", "每一轮的平均损失"),
    (r"^weight (\S+) after (\d+) epochs$", r"\2 轮之后的权重 \1"),
    (r"^the order$", "拓扑排序的结果"),
    (r"^backward's result$", "backward 的返回值"),
    (r"^the output$", "输出"),
    (r"^the result$", "结果"),
    (r"^the returned losses$", "返回的损失"),
    (r"^g \(the output's gradient\)$", "g（输出的梯度）"),
    (r"^the step$", "这一步"),
    (r"^the workspace$", "工作区"),
]


def _zh(text: str | None) -> str | None:
    if text is None:
        return None
    for pattern, repl in _WHAT_ZH:
        if re.match(pattern, text):
            return re.sub(pattern, repl, text)
    return re.sub(r"^shape ", "形状 ", text)


_KINDS_ZH = {
    "random": "随机",
    "small integers": "小整数",
    "zeros": "全零",
    "constant patches": "常数块",
    "ones": "全一",
}


def _case(label: str, zh: bool) -> str:
    """A case's label; in Chinese, its kind of input translated (the rest is code)."""
    if zh:
        for en, cn in _KINDS_ZH.items():
            if label.endswith(", " + en):
                return label[: -len(en) - 2] + "，" + cn
    return label


def _width(text: str) -> int:
    """Columns a string takes in a terminal (CJK characters take two)."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


def oracle_name(use_torch: bool | None = None) -> str:
    from gradschool.track.oracle import torch_or_none

    torch = torch_or_none(use_torch)
    return f"torch {torch.__version__}" if torch is not None else "finite differences"


def _error_cell(f: Failure | None, zh: bool) -> str:
    if f is None:
        return ""
    if f.max_error is not None:
        return f"{f.max_error:.2g}"
    return _KIND_SHORT.get(f.kind, ("error", "异常"))[zh]


def format_table(results: list[StepResult], lang: str = "en", title: str = "") -> str:
    """One row per step: status, cases passed, the largest error, the first failing case."""
    zh = lang == "zh"
    rows = []
    for r in results:
        cases = f"{r.passed}/{r.total}" if r.total else ""
        first = ""
        if r.failure is not None:
            f = r.failure
            first = _case(f.case, zh) if f.case != "(import)" else f.detail
            first = first if len(first) <= 64 else first[:61] + "..."
        error = _error_cell(r.failure, zh)
        rows.append((str(r.step.number), r.step.name, _STATUS[lang][r.status], cases, error, first))
    head = _HEAD[lang]
    widths = [max(_width(row[i]) for row in [head, *rows]) for i in range(len(head))]
    lines = [title] if title else []
    for row in [head, *rows]:
        lines.append("  ".join(_pad(cell, w) for cell, w in zip(row, widths)).rstrip())
    done = sum(r.ok for r in results)
    total = len(results)
    lines.append(f"{total} 个步骤中通过了 {done} 个。" if zh else f"{done} of {total} steps pass.")
    return "\n".join(lines)


def format_failure(result: StepResult, lang: str = "en") -> str:
    """The first failure of a step in full (the inputs, expected vs got, the largest error),
    then a hint, in `lang` ("en" or "zh")."""
    f = result.failure
    if f is None:
        return ""
    step, zh = result.step, lang == "zh"
    lines = [
        f"第 {step.number} 步（{step.name}）第一个失败的用例：{_case(f.case, True)}"
        if zh
        else f"Step {step.number} ({step.name}) fails on: {f.case}"
    ]
    if f.kind in ("value", "shape", "structure", "mutation"):
        labels = ("期望", "得到", "最大误差") if zh else ("expected", "got", "largest error")
        colon = "：" if zh else ":"
        width = max(_width(label) for label in labels) + _width(colon)
        what = _zh(f.what) if zh else f.what
        lines.append(f"  {what}{'：' if zh else ':'}")
        if f.expected is not None:
            expected, got = (_zh(f.expected), _zh(f.got)) if zh else (f.expected, f.got)
            lines.append(f"    {_pad(labels[0] + colon, width)} {expected}")
            lines.append(f"    {_pad(labels[1] + colon, width)} {got}")
        if f.max_error is not None:
            detail = _detail(f.detail, zh) if f.detail else ""
            detail = (f"（{detail}）" if zh else f" ({detail})") if detail else ""
            lines.append(f"    {_pad(labels[2] + colon, width)} {f.max_error:.3g}{detail}")
        elif f.kind == "shape":
            na = "无法比较（形状不同）" if zh else "n/a (the shapes differ)"
            lines.append(f"    {_pad(labels[2] + colon, width)} {na}")
        elif f.detail:
            lines.append(f"    {f.detail}")
    else:
        lines.append(f"  {f.detail}")
    lead = _KIND_LEAD.get(f.kind, _KIND_LEAD["error"])[zh]
    lines.append(("提示：" if zh else "Hint: ") + lead + ("" if zh else " ") + step.hint[lang])
    lines.append(
        f"（参考答案：gradschool build solution {step.name}）"
        if zh
        else f"(The reference: gradschool build solution {step.name})"
    )
    return "\n".join(lines)


def _detail(detail: str, zh: bool) -> str:
    if not zh:
        return detail
    m = re.match(r"(\d+) of (\d+) values differ; the largest error is(?: at (.*))?", detail)
    if not m:
        return detail
    at = f"，最大误差在 {m.group(3)}" if m.group(3) else ""
    return f"{m.group(2)} 个值里有 {m.group(1)} 个不同{at}"


def records(workspace_name: str, path: str, results: list[StepResult]) -> list[dict[str, Any]]:
    """One JSON-ready record per step: what `build check --json` prints (docs/teaching.md)."""
    # NOTE: no oracle (and no torch import) for a workspace where nothing was graded.
    out, oracle = [], oracle_name() if any(r.total for r in results) else None
    for r in results:
        f = r.failure
        finite = f is not None and f.max_error is not None and bool(np.isfinite(f.max_error))
        out.append(
            {
                "workspace": workspace_name,
                "path": path,
                "number": r.step.number,
                "step": r.step.name,
                "status": r.status,
                "passed": r.passed,
                "total": r.total,
                "case": f.case if f else None,
                "what": f.what if f else None,
                "kind": f.kind if f else None,
                "expected": f.expected if f else None,
                "got": f.got if f else None,
                "max_error": f.max_error if finite else None,  # type: ignore[union-attr]
                "detail": f.detail if f else None,
                "seconds": round(r.seconds, 3),
                "oracle": oracle,
            }
        )
    return out


_MARK = {"passed": "✓", "failed": "✗", "not started": "·", "error": "!"}


def format_grid(rows: list[dict[str, Any]], lang: str = "en") -> str:
    """A class at a glance, from `records` of several workspaces: one line per workspace, one
    column per step (✓ passed, ✗ failed, · not started, ! error), under a title that names the
    oracle."""
    paths = list(dict.fromkeys(r["path"] for r in rows))
    shown = {r["path"]: r["workspace"] for r in rows}
    if len(set(shown.values())) < len(paths):  # two submissions of one name: show paths
        shown = {p: p for p in paths}
    numbers = sorted({r["number"] for r in rows})
    width = max([_width(n) for n in shown.values()] + [9])
    head = _pad("工作区" if lang == "zh" else "workspace", width)
    steps = " ".join(f"{n:>2}" for n in numbers)
    oracle = next((r["oracle"] for r in rows if r.get("oracle")), oracle_name())
    title = (
        f"gradschool build check：{len(paths)} 个工作区（参照：{oracle}）"
        if lang == "zh"
        else f"gradschool build check: {len(paths)} workspaces (oracle: {oracle})"
    )
    lines = [title, f"{head}  {steps}  {'通过' if lang == 'zh' else 'passed'}"]
    for path in paths:
        mine = {r["number"]: r["status"] for r in rows if r["path"] == path}
        marks = " ".join(f"{_MARK[mine.get(n, 'not started')]:>2}" for n in numbers)
        done = sum(status == "passed" for status in mine.values())
        lines.append(f"{_pad(shown[path], width)}  {marks}  {done}/{len(numbers)}")
    lines.append(
        "✓ 通过  ✗ 未通过  · 未开始  ! 出错（详情：--json）"
        if lang == "zh"
        else "✓ passed  ✗ failed  · not started  ! error (details: --json)"
    )
    return "\n".join(lines)
