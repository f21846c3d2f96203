"""The `gradschool build` actions, one function each (cli.py parses, these print)."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from gradschool.track import grader, report
from gradschool.track.source import solution_listing
from gradschool.track.steps import STEPS, find_step
from gradschool.track.workspace import (
    DEFAULT_DIR,
    MARKER,
    PACKAGE,
    Workspace,
    find_workspaces,
    start,
)

SUBMISSION_TIMEOUT_S = 900  # per workspace, when grading a folder of them


def start_action(args: argparse.Namespace) -> int:
    directory = args.dir or DEFAULT_DIR
    root = start(directory, args.lang, force=args.force)
    first = STEPS[0]
    where = "" if directory == DEFAULT_DIR else f" --dir {root}"  # check's default is my-engine
    if args.lang == "zh":
        print(f"已创建 {root}/：{len(STEPS)} 个步骤等你来写，都在 {root}/{PACKAGE}/*.py 里。")
        print(f"从第 1 步开始：打开 {root}/{PACKAGE}/{first.blanks[0].file}，搜索 TODO(step 1。")
        print(f"写完后检查：gradschool build check {first.name}{where}")
    else:
        print(f"Created {root}/: {len(STEPS)} steps to fill in, in {root}/{PACKAGE}/*.py.")
        print(
            f"Start with step 1: open {root}/{PACKAGE}/{first.blanks[0].file} and search for "
            f"TODO(step 1."
        )
        print(f"Then check it: gradschool build check {first.name}{where}")
    return 0


def check_action(args: argparse.Namespace) -> int:
    steps = [find_step(args.step)] if args.step else None
    many = args.dir is not None and (len(args.dir) > 1 or not Path(args.dir[0], MARKER).is_file())
    if args.json or many:
        paths = [str(p) for p in find_workspaces(args.dir or [_default_dir()])]
        if len(paths) == 1 and not args.isolate:
            out = _records_here(paths[0], steps)
        else:
            out = [r for path in paths for r in _records_apart(path, args.step, args.timeout)]
        lang = args.lang or "en"
        print(json.dumps(out, indent=1) if args.json else report.format_grid(out, lang))
        return 0 if all(r["status"] == "passed" for r in out) else 1
    ok = True
    for path in args.dir or [None]:
        workspace = Workspace.open(path)
        lang = args.lang or workspace.lang
        results = grader.grade(workspace, steps)
        title = (
            f"gradschool build check: {workspace.root} (oracle: {report.oracle_name()})"
            if lang == "en"
            else f"gradschool build check：{workspace.root}（参照：{report.oracle_name()}）"
        )
        print(report.format_table(results, lang, title))
        failed = next((r for r in results if r.failure is not None), None)
        if failed is not None:
            print()
            print(report.format_failure(failed, lang))
        elif any(r.status == "not started" for r in results):
            nxt = next(r for r in results if r.status == "not started").step
            print(
                f"Next: step {nxt.number} ({nxt.name}), {nxt.blanks[0].where()}."
                if lang == "en"
                else f"下一步：第 {nxt.number} 步（{nxt.name}），{nxt.blanks[0].where()}。"
            )
        elif steps is None:
            print(
                "Every step passes: train the seed's MLP on your engine with "
                "`gradschool build train`."
                if lang == "en"
                else "所有步骤都通过了：用 `gradschool build train` 在你的引擎上训练原文的 MLP。"
            )
        ok = ok and all(r.ok for r in results)
    return 0 if ok else 1


def _default_dir() -> str:
    return "." if Path("track.json").is_file() else DEFAULT_DIR


def _records_here(path: str, steps: list | None) -> list[dict[str, Any]]:
    workspace = Workspace.open(path)
    # NOTE: a submission's prints would corrupt the JSON on stdout.
    with contextlib.redirect_stdout(io.StringIO()):
        results = grader.grade(workspace, steps)
    return report.records(workspace.name, str(workspace.root), results)


def _records_apart(path: str, step: str | None, timeout: float) -> list[dict[str, Any]]:
    """Grade one submission in its own process: a crash, an endless loop or a submission
    that changes NumPy or gradschool cannot touch the others."""
    cmd = [sys.executable, "-m", "gradschool", "build", "check", *([step] if step else [])]
    cmd += ["--json", "--dir", path]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        return json.loads(done.stdout)
    except subprocess.TimeoutExpired:
        why = f"grading took longer than {timeout:.0f} s"
    except json.JSONDecodeError:
        why = f"the grader stopped: {(done.stderr or done.stdout).strip()[-300:]}"
    steps = [find_step(step)] if step else list(STEPS)
    name = Path(path).resolve().name
    return [
        {
            "workspace": name,
            "path": path,
            "number": s.number,
            "step": s.name,
            "status": "error",
            "passed": 0,
            "total": 0,
            "case": None,
            "what": None,
            "kind": "error",
            "expected": None,
            "got": None,
            "max_error": None,
            "detail": why,
            "seconds": 0.0,
            "oracle": None,
        }
        for s in steps
    ]


def solution_action(args: argparse.Namespace) -> int:
    step = find_step(args.step)
    lang = args.lang or "en"
    title = step.title[lang]
    print(
        f"# Step {step.number} ({step.name}): {title} — the reference, from gradschool's engine"
        if lang == "en"
        else f"# 第 {step.number} 步（{step.name}）：{title}——参考答案，取自 gradschool 的引擎"
    )
    print(solution_listing(step, lang))
    return 0


def train_action(args: argparse.Namespace) -> int:
    from gradschool.track.train import final_line, train_workspace

    workspace = Workspace.open(args.dir)
    lang = args.lang or workspace.lang
    print(
        f"Training the seed's MLP on the engine in {workspace.root / PACKAGE} "
        "(configs/seed_mlp.toml: 784-128-64-10, SGD lr 0.01 momentum 0.9, batch 64, 10 epochs)"
        if lang == "en"
        else f"用 {workspace.root / PACKAGE} 里的引擎训练原文的 MLP（configs/seed_mlp.toml："
        "784-128-64-10，SGD 学习率 0.01、动量 0.9，批量 64，10 轮）",
        flush=True,
    )
    result = train_workspace(workspace, compare=not args.no_compare)
    print(final_line(result, lang))
    return 0
