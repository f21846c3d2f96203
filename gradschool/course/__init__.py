"""The course: bilingual lectures that run, and the pages that hold them together.

The package: this module (what a lecture imports), cells.py (reading a lecture), runner.py
(running it), report.py (its report), markdown.py (Markdown and formulas to HTML), site.py (the
index, the links between reports), glossary.py (the one table of terms), notebook.py (a
lecture as a Jupyter notebook: `gradschool lecture export`), and lectures/ (the
lessons, NN_topic.py; the repository's `lectures/` links there).

A lecture is a py-percent script in `lectures/` (docs/lectures.md). It imports four helpers
from here:

    from gradschool.course import QUICK, lang, show, t

    epochs = 2 if QUICK else 10          # quick mode: GRADSCHOOL_QUICK=1, or `--quick`
    print(t("accuracy", "准确率"), acc)  # the string of the chosen language
    plt.title(t("Loss", "损失"))
    show()                               # where a notebook would display the figure

and runs three ways, with the same code:

- as a plain script, `python lectures/01_concepts.py`: `t` picks the language of
  GRADSCHOOL_LANG (default English), `show()` saves the open figures under reports/figures-NN/;
- as a notebook (jupytext): `show()` displays the figures;
- under the runner (`gradschool lecture run N`, `run_lecture`): every code cell runs once, its
  output and figures are captured, and a report is written per language: report.md with its
  PNG figures, and one self-contained report.html. `show()` does nothing there (the runner
  collects every figure a cell leaves open). Markdown cells may quote values the code
  computed, `{{ expr:.1f }}`, and may be tagged "quick" or "full" (runner.py, cells.py).

NOTE: under the runner, `t(en, zh)` returns *both* strings wrapped in private-use markers; the
runner resolves them per language in the captured text and while drawing each figure. That is
how one execution yields the English and the Chinese report. Code that branches on `lang()`
makes the runner execute the lecture once per language instead (slower, still correct).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gradschool.text import format_text, pad

__all__ = ["LANGS", "QUICK", "lang", "show", "t"]

LANGS = ("en", "zh")

# Private-use code points (U+E000..U+E002): they never occur in real text.
_BEGIN, _SEP, _END = "\ue000", "\ue001", "\ue002"


@dataclass
class RunnerSession:
    """What the lecture runner (runner.py) tells the helpers below while it runs a lecture."""

    active: bool = False  # True while the runner executes a lecture's cells
    images: list[Path] = field(default_factory=list)  # image files handed to show(path)


SESSION = RunnerSession()  # the runner sets it; the helpers read it


def quick() -> bool:
    """True in quick mode: GRADSCHOOL_QUICK is 1/true/yes (what `--quick` sets)."""
    return os.environ.get("GRADSCHOOL_QUICK", "").strip().lower() in ("1", "true", "yes", "on")


def lang() -> str:
    """The language of this run, "en" or "zh" (GRADSCHOOL_LANG; "zh-CN", "zh_CN" mean "zh").

    Prefer `t(en, zh)` to branching on lang(): the runner builds both reports from one
    execution only for lectures that do not call lang()."""
    value = os.environ.get("GRADSCHOOL_LANG", "").strip().lower()
    return "zh" if value.startswith("zh") else "en"


class _Text(str):
    """A label of one language. A width in a format spec (f"{s:>8}") or ljust/rjust/center
    counts columns, not characters: a Chinese character takes two (gradschool.text), so a
    table of Chinese labels lines up as one of English labels does."""

    def __format__(self, spec: str) -> str:
        return format_text(str(self), spec) if spec else str(self)

    def ljust(self, width: int, fill: str = " ") -> str:  # type: ignore[override]
        return pad(str(self), width, "<", fill)

    def rjust(self, width: int, fill: str = " ") -> str:  # type: ignore[override]
        return pad(str(self), width, ">", fill)

    def center(self, width: int, fill: str = " ") -> str:  # type: ignore[override]
        return pad(str(self), width, "^", fill)


class _Both(str):
    """Both languages in one str: BEGIN en SEP zh END. Formatting with a width (f"{s:12}",
    s.ljust(12)) pads each language separately, by display width, so tables line up in both
    reports."""

    en: str
    zh: str

    def __new__(cls, en: str, zh: str) -> _Both:
        obj = super().__new__(cls, f"{_BEGIN}{en}{_SEP}{zh}{_END}")
        obj.en, obj.zh = en, zh
        return obj

    def __format__(self, spec: str) -> str:
        if not spec:
            return str(self)
        return _Both(format_text(self.en, spec), format_text(self.zh, spec))

    def ljust(self, width: int, fill: str = " ") -> str:  # type: ignore[override]
        return _Both(pad(self.en, width, "<", fill), pad(self.zh, width, "<", fill))

    def rjust(self, width: int, fill: str = " ") -> str:  # type: ignore[override]
        return _Both(pad(self.en, width, ">", fill), pad(self.zh, width, ">", fill))

    def center(self, width: int, fill: str = " ") -> str:  # type: ignore[override]
        return _Both(pad(self.en, width, "^", fill), pad(self.zh, width, "^", fill))


def t(en: Any, zh: Any) -> str:
    """The English or the Chinese string, for printed labels and figure titles. Padded with a
    width (f"{t('loss', '损失'):>8}"), it counts columns: Chinese characters take two."""
    en, zh = str(en), str(zh)
    if SESSION.active:
        return _Both(en, zh)
    return _Text(zh if lang() == "zh" else en)


def resolve(text: str, language: str) -> str:
    """Replace every t() marker in `text` by its `language` part (innermost first, so a t()
    inside another t()'s string resolves too)."""
    if _BEGIN not in text:
        return text
    index = LANGS.index(language)
    out = text
    while _BEGIN in out:
        start = out.rfind(_BEGIN)  # the innermost: no BEGIN after it
        sep = out.find(_SEP, start)
        end = out.find(_END, sep)
        if sep < 0 or end < 0:  # a marker cut in half (e.g. by slicing): drop the rest
            return out.replace(_BEGIN, "").replace(_SEP, "").replace(_END, "")
        parts = (out[start + 1 : sep], out[sep + 1 : end])
        out = out[:start] + parts[index] + out[end + 1 :]
    return out


# ---- show(): where a notebook would display the figure ----------------------------------------

_saved = 0


def in_notebook() -> bool:
    """True inside a Jupyter kernel (show() displays there; exercise() shows itself)."""
    shell = sys.modules.get("IPython")
    ip = shell.get_ipython() if shell is not None and hasattr(shell, "get_ipython") else None
    return ip is not None and "IPKernelApp" in getattr(ip, "config", {})


class _Shown(list[Path]):
    """What show() returns in a notebook: a list that IPython does not echo as the cell's
    value (`show()` is often a cell's last line, and `[]` under every figure is noise)."""

    def _ipython_display_(self) -> None:
        pass


def show(*images: str | Path) -> list[Path]:
    """Display (notebook) or save (plain script) the open matplotlib figures.

    Under the runner this does nothing with figures: the runner saves every figure a cell
    leaves open. As a plain script, figures go to reports/figures-NN/fig-K.png (NN: the
    lecture's number) and are closed; the paths are printed and returned.

    `show("path.png", ...)` shows PNG files already written (e.g. by a gradschool.plots
    function or `run_compare`), or animated GIFs (`show("episode.gif")`), instead: the runner
    puts them in the report, a notebook displays them, a script prints their paths. NOTE: such
    an image is drawn once, so its text is in the language of the execution, not translated
    per report."""
    global _saved
    if images:
        paths = [Path(image) for image in images]
        if SESSION.active:
            SESSION.images.extend(paths)
        elif in_notebook():
            from IPython.display import Image, display

            for path in paths:
                display(Image(filename=str(path)))
            return _Shown(paths)
        else:
            for path in paths:
                print(f"[figure: {path}]")
        return paths
    if SESSION.active:
        return []
    import matplotlib.pyplot as plt

    if in_notebook():
        plt.show()
        return _Shown()
    main = Path(getattr(sys.modules.get("__main__"), "__file__", "") or "lecture")
    number = main.stem.split("_")[0] if main.stem[:2].isdigit() else main.stem
    folder = Path("reports") / f"figures-{number}"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for num in plt.get_fignums():
        _saved += 1
        path = folder / f"fig-{_saved}.png"
        plt.figure(num).savefig(path, dpi=100, bbox_inches="tight")
        plt.close(num)
        print(f"[figure saved: {path}]")
        paths.append(path)
    return paths


def _chinese_figures() -> None:
    """Run as a script or notebook in Chinese: let matplotlib draw Chinese text, with the
    first Chinese font found (the runner does the same for its own runs)."""
    try:
        import matplotlib

        from gradschool.plots import cjk_font

        font = cjk_font()
    except Exception:  # noqa: BLE001 - no matplotlib, no font: figures stay as they are
        return
    if font:
        matplotlib.rcParams["font.family"] = ["sans-serif", font]


if lang() == "zh" and not SESSION.active:
    _chinese_figures()


def __getattr__(name: str) -> Any:
    # NOTE: QUICK is computed at each `from gradschool.course import QUICK` (PEP 562), not
    # once at import: the runner imports this module before it sets GRADSCHOOL_QUICK.
    if name == "QUICK":
        return quick()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), "QUICK"])
