"""A learner's workspace: a folder holding a copy of gradschool's engine with blanks to fill.

    my-engine/
      track.json        what made it: the gradschool version, the language, the steps
      README.md         the steps and the commands, in the workspace's language
      engine/           the package: tensor.py, functional.py, optim.py, lr_scheduler.py,
                        conv.py, transformer.py (attention), loop.py, nn.py, ...

`start` writes one; `Workspace.open` finds one; `Workspace.load` imports its package under a
name of its own, so that it never shadows gradschool's engine and several workspaces (a
teacher's folder of submissions) can be loaded side by side.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import itertools
import json
import sys
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from gradschool.errors import GradschoolError
from gradschool.track.source import MODULES, is_untouched, workspace_text
from gradschool.track.steps import LANGS, STEPS, Step
from gradschool.version import __version__

PACKAGE = "engine"
MARKER = "track.json"
DEFAULT_DIR = "my-engine"
_loads = itertools.count()


class WorkspaceError(GradschoolError):
    """A workspace is missing, not a workspace, or its package does not import."""


def start(directory: str | Path = DEFAULT_DIR, lang: str = "en", force: bool = False) -> Path:
    """Create a workspace in `directory` (made if needed; refused if not empty, unless force)."""
    if lang not in LANGS:
        raise WorkspaceError(f"unknown language {lang!r}: choose one of {', '.join(LANGS)}")
    root = Path(directory)
    if root.exists() and not root.is_dir():
        raise WorkspaceError(f"{root} exists and is a file: choose another --dir.")
    if root.is_dir() and any(root.iterdir()) and not force:
        raise WorkspaceError(
            f"{root} is not empty: `gradschool build start` will not write over your files. "
            f"Choose another folder with --dir, or add --force to replace the engine files in "
            f"it (any work in {root / PACKAGE} is then lost)."
        )
    package = root / PACKAGE
    package.mkdir(parents=True, exist_ok=True)
    for file in MODULES:
        (package / file).write_text(workspace_text(file, lang), encoding="utf-8")
    meta = {
        "track": 1,
        "lang": lang,
        "package": PACKAGE,
        "gradschool": __version__,
        "steps": [step.name for step in STEPS],
    }
    (root / MARKER).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    (root / "README.md").write_text(_readme(lang), encoding="utf-8")
    return root


@dataclass
class Workspace:
    root: Path
    lang: str

    @property
    def package_dir(self) -> Path:
        return self.root / PACKAGE

    @property
    def name(self) -> str:
        return self.root.resolve().name

    @classmethod
    def open(cls, directory: str | Path | None = None) -> Workspace:
        """The workspace in `directory`; without one, the current folder if it is a workspace,
        else ./my-engine."""
        if directory is None:
            directory = "." if Path(MARKER).is_file() else DEFAULT_DIR
        root = Path(directory)
        marker = root / MARKER
        if not marker.is_file():
            hint = (
                f"create one with `gradschool build start --dir {root}`"
                if not root.exists()
                else "it has no track.json: is it the folder `gradschool build start` made?"
            )
            raise WorkspaceError(f"{root} is not an engine-track workspace: {hint}")
        try:
            meta = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise WorkspaceError(f"cannot read {marker}: {err}") from err
        lang = meta.get("lang", "en")
        return cls(root, lang if lang in LANGS else "en")

    def text(self, file: str) -> str:
        path = self.package_dir / file
        try:
            return path.read_text(encoding="utf-8")
        except OSError as err:
            raise WorkspaceError(
                f"{path} is missing ({err.strerror}): restore it from a fresh workspace "
                f"(`gradschool build start --dir /tmp/fresh`) or from your own copy."
            ) from err

    def untouched(self, step: Step) -> bool:
        """True when every blank of `step` is still as `build start` left it."""
        return all(is_untouched(self.text(blank.file), blank) for blank in step.blanks)

    def load(self) -> ModuleType:
        """Import the workspace's package (fresh, under a unique name) and its loop module."""
        name = f"_gradschool_track_{next(_loads)}"
        init = self.package_dir / "__init__.py"
        spec = importlib.util.spec_from_file_location(
            name, init, submodule_search_locations=[str(self.package_dir)]
        )
        if spec is None or spec.loader is None or not init.is_file():
            raise WorkspaceError(f"{init} is missing: this workspace has no engine package.")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            with _no_bytecode():
                spec.loader.exec_module(module)
                module.loop = importlib.import_module(f"{name}.loop")  # type: ignore[attr-defined]
        except Exception as err:  # noqa: BLE001 - the learner's code: report it, whatever it is
            for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
                del sys.modules[key]
            raise WorkspaceError(
                f"the workspace's engine does not import, so no step can be checked: "
                f"{_where(err, self.package_dir)}. Fix that line and run the check again."
            ) from err
        return module


@contextlib.contextmanager
def _no_bytecode() -> Iterator[None]:
    """Import without writing __pycache__ into the learner's (or a teacher's) folders."""
    previous = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    try:
        yield
    finally:
        sys.dont_write_bytecode = previous


def _where(err: BaseException, package_dir: Path) -> str:
    """'engine/conv.py, line 120: SyntaxError: invalid syntax' for an error in the package."""
    if isinstance(err, SyntaxError) and err.filename:
        return f"{_short(err.filename, package_dir)}, line {err.lineno}: SyntaxError: {err.msg}"
    frames = [
        f for f in traceback.extract_tb(err.__traceback__) if str(package_dir) in str(f.filename)
    ]
    place = (
        f"{_short(frames[-1].filename, package_dir)}, line {frames[-1].lineno}: " if frames else ""
    )
    return f"{place}{type(err).__name__}: {err}"


def _short(filename: str, package_dir: Path) -> str:
    path = Path(filename)
    try:
        return f"{PACKAGE}/{path.relative_to(package_dir)}"
    except ValueError:
        return str(path)


def find_workspaces(paths: list[str]) -> list[Path]:
    """Workspaces named by `paths`: each one a workspace, or a folder of them (submissions)."""
    found: list[Path] = []
    for p in paths:
        root = Path(p)
        if (root / MARKER).is_file():
            found.append(root)
        elif root.is_dir():
            subs = sorted(d for d in root.iterdir() if (d / MARKER).is_file())
            if not subs:
                raise WorkspaceError(
                    f"{root} is neither a workspace (no track.json) nor a folder of workspaces "
                    f"(no sub-folder holds a track.json)."
                )
            found.extend(subs)
        else:
            hint = ""
            if p.isdigit() or p in {s.name for s in STEPS}:
                hint = (
                    f" If {p} is a step, put it before --dir: gradschool build check {p} --dir ..."
                )
            raise WorkspaceError(
                f"{root} does not exist: check the path, or create a workspace there with "
                f"`gradschool build start --dir {root}`.{hint}"
            )
    return found


# ---- the workspace's README ------------------------------------------------------------------


def _readme(lang: str) -> str:
    rows = "\n".join(
        f"| {s.number} | `{s.name}` | {s.title[lang]} | "
        + "<br>".join(f"`{b.where()}`" for b in s.blanks)
        + f" | {s.lecture[lang]} |"
        for s in STEPS
    )
    if lang == "zh":
        return f"""# 自己写一个深度学习引擎

这个文件夹是 `gradschool build start` 生成的：`engine/` 是 gradschool 的 NumPy 引擎的一份拷贝，
其中 {len(STEPS)} 个步骤的函数体被挖空了。按顺序把它们补上；每补完一步，就用 PyTorch 检查一下。

| # | 步骤 | 内容 | 要写的函数 | 在课程里的位置 |
|---|---|---|---|---|
{rows}

每个空白函数的文档字符串都写明了要算什么（形状、公式、torch 的约定），并且会抛出
`NotImplementedError`；在 `engine/` 里搜索 `TODO(step` 就能找到它们。

```bash
gradschool build check            # 所有步骤：通过 / 失败 / 未开始，以及第一个失败的用例和提示
gradschool build check matmul     # 只检查一个步骤（写编号也行：3）
gradschool build solution matmul  # 看参考答案（取自 gradschool 自己的引擎）
gradschool build train            # 全部通过后：用你的引擎训练原文的 MLP
```

说明见 gradschool 的 docs/track.zh-CN.md。
"""
    return f"""# Write your own deep-learning engine

`gradschool build start` made this folder: `engine/` is a copy of gradschool's NumPy engine
with the bodies of {len(STEPS)} steps' functions left out. Fill them in, in order, and check
each against PyTorch as you go.

| # | step | what | functions to write | in the course |
|---|---|---|---|---|
{rows}

Each blank's docstring says what to compute (shapes, the maths, torch's conventions) and the
blank raises `NotImplementedError`; search `engine/` for `TODO(step` to find them.

```bash
gradschool build check            # every step: passed / failed / not started, first failure, hint
gradschool build check matmul     # one step (or its number: 3)
gradschool build solution matmul  # the reference (from gradschool's own engine)
gradschool build train            # when all pass: train the seed's MLP on your engine
```

See gradschool's docs/track.md.
"""
