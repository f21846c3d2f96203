"""Stage and build the documentation site (mkdocs + Material, English and 简体中文).

    python scripts/build_site.py                      # run the lectures (quick), stage, build
    python scripts/build_site.py --reports reports    # reuse reports already in reports/
    python scripts/build_site.py --lectures 1 3       # only some lectures (a smaller site)
    python scripts/build_site.py --no-lectures        # README, docs/ and the API only

mkdocs reads pages from one folder, and ours live in several: README, docs/, the lecture
reports that `gradschool lecture run` writes, and the API pages made here. So the build has two
steps:

1. **Stage** (`stage_site`): copy every page into build/site-src/ in the site's layout, and
   write the page list to build/site-nav.json (scripts/site_hooks.py gives it to mkdocs):

       index.md, index.zh-CN.md            README.md, README.zh-CN.md
       docs/x.md, docs/x.zh-CN.md          docs/ (with docs/figures/)
       lectures/NN_topic.md, .zh-CN.md     reports/NN_topic.en|zh/report.md, figures beside
       lectures/index.md, glossary.md      the course's contents; the glossary when it exists
       api/*.md                            the engine's docstrings (mkdocstrings)
       project/*.md                        CONTRIBUTING, CHANGELOG, LICENSE

   Each relative link is resolved against the file it was written in and pointed at the
   staged copy of its target, so docs/ keep links that work on GitHub (`../README.md`,
   `../gradschool/engine/tensor.py`) and the site gets links that work on the site. A link to
   a repository file that is not a page becomes a link into the repository (pyproject.toml's
   [project.urls] Source) or, without one, the path as code. A link to nothing is kept as
   written, so `mkdocs build --strict` reports it.
2. **Build**: `mkdocs build --strict` (mkdocs.yml): any broken link, missing page or missing
   anchor fails the build. The HTML lands in site/.

The lecture reports come from `gradschool lecture run ... --quick --lang both --out DIR`;
`read_reports` is the one function that knows the reports' layout and their formulas.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ZH = "zh-CN"  # the suffix of the Chinese pages (docs/x.zh-CN.md) and the site's locale
BUILD = REPO / "build"
STAGE_ENV = "GRADSCHOOL_SITE_SRC"  # another staging folder than mkdocs.yml's docs_dir

# The engine's API reference: (page, module, English title, Chinese title, English and Chinese
# introductions). The introductions are ours; the rest is the docstrings.
API_PAGES = [
    (
        "tensor",
        "gradschool.engine.tensor",
        "Tensor and autograd",
        "Tensor 与自动求导",
        "The `Tensor`, the graph it records, and every primitive op with its backward beside "
        "its forward. `backward()` walks the graph in reverse topological order.",
        "`Tensor`、它记下的计算图，以及每个原语运算：前向和反向写在一起。`backward()` "
        "按拓扑序的逆序走一遍计算图。",
    ),
    (
        "functional",
        "gradschool.engine.functional",
        "functional (torch.nn.functional)",
        "functional（对应 torch.nn.functional）",
        "Composite functions built from the primitives, so their gradients come for free: "
        "softmax, cross-entropy, losses, activations.",
        "由原语拼出来的复合函数，梯度不用另写：softmax、交叉熵、各种损失和激活函数。",
    ),
    (
        "nn",
        "gradschool.engine.nn",
        "nn: modules and layers",
        "nn：模块与层",
        "`Module` (parameters, `state_dict`, `train()` / `eval()`) and the layers built on it.",
        "`Module`（参数、`state_dict`、`train()` / `eval()`）以及在它之上搭起来的各种层。",
    ),
    (
        "optim",
        "gradschool.engine.optim",
        "optim: optimizers",
        "optim：优化器",
        "SGD (momentum, Nesterov, weight decay), Adagrad, RMSprop, Adam and AdamW, each "
        "checked step by step against `torch.optim`.",
        "SGD（动量、Nesterov、权重衰减）、Adagrad、RMSprop、Adam 和 AdamW，每一个都和 "
        "`torch.optim` 逐步对照过。",
    ),
    (
        "lr_scheduler",
        "gradschool.engine.lr_scheduler",
        "lr_scheduler: learning-rate schedules",
        "lr_scheduler：学习率调度",
        "Every learning-rate schedule, with `torch.optim.lr_scheduler`'s names and values.",
        "所有学习率调度，名字和数值都与 `torch.optim.lr_scheduler` 一致。",
    ),
]

ENGLISH_ONLY = '!!! note "暂无中文版"\n    本页还没有中文版，下面是英文原文。\n'

# Repository files that are site pages too: (source, staged page).
PROJECT_PAGES = [
    ("CONTRIBUTING.md", "project/contributing.md"),
    (f"CONTRIBUTING.{ZH}.md", f"project/contributing.{ZH}.md"),
    ("CHANGELOG.md", "project/changelog.md"),
]

WORDS = {
    "en": {
        "lectures": "The lectures",
        "intro": (
            "Each lecture below is the report of one run of its code in quick mode "
            "(`gradschool lecture run all --quick`): the text, the code, what each cell "
            "printed and the figures it drew. Run a lecture yourself with "
            "`gradschool lecture run N` ([how](../docs/lectures.md))."
        ),
        "number": "#",
        "lecture": "lecture",
        "glossary": "The terms of the course, in English and Chinese: [glossary](glossary.md).",
        "none": "No lecture report was found when this site was built.",
        "api": "API reference: the NumPy engine",
        "api_intro": (
            "`gradschool.engine` is the from-scratch NumPy engine, with PyTorch's surface. "
            "These pages are made from its docstrings; read the code in this order:"
        ),
        "license": "License",
    },
    "zh": {
        "lectures": "讲义",
        "intro": (
            "下面每一讲都是它的代码在快速模式下运行一次的报告（`gradschool lecture run all "
            "--quick`）：正文、代码、每个单元格的输出和画出的图。想自己跑，用 "
            f"`gradschool lecture run N`（[说明](../docs/lectures.{ZH}.md)）。"
        ),
        "number": "#",
        "lecture": "讲",
        "glossary": "课程里的术语，中英对照：[术语表](glossary.md)。",
        "none": "构建本站时没有找到讲义报告。",
        "api": "API 参考：NumPy 引擎",
        "api_intro": (
            "`gradschool.engine` 是从零写起的 NumPy 引擎，接口和 PyTorch 一样。"
            "这些页面由它的文档字符串生成（文档字符串是英文的）；建议按这个顺序读代码："
        ),
        "license": "许可证",
    },
}


# ---- the lecture reports: the one place that knows their layout ---------------------------------


@dataclass
class LectureReport:
    """One language of one lecture's report, as `gradschool lecture run` leaves it."""

    slug: str  # "01_concepts"
    number: int
    language: str  # "en" or "zh"
    markdown: str  # report.md with its formulas already turned into HTML
    source: Path  # the report.md it came from (links in it are relative to its folder)
    files: list[Path]  # the figures and other files beside it

    @property
    def title(self) -> str:
        found = re.search(r"^# (.+)$", self.markdown, re.M)
        return found[1].strip() if found else self.slug


def _math_renderers() -> tuple[Callable[[str], str], Callable[[str], str]]:
    """(display, inline): $$...$$ and $...$ as HTML, the way the HTML reports draw them
    (matplotlib's mathtext as SVG), so the site needs no math script."""
    from gradschool.course.markdown import display_math, inline_math

    return display_math, inline_math


def _without_nav_bars(text: str) -> str:
    """report.md without the runner's navigation bars (contents, glossary, other language,
    previous / next) at its top and bottom: the site has its own navigation and language
    switch, and mkdocs takes a page's title from a heading at its very top."""
    parts = text.split("\n\n")
    is_bar = lambda part: "](../index.md)" in part and "\n" not in part.strip()  # noqa: E731
    while parts and is_bar(parts[0]):
        parts.pop(0)
    while parts and is_bar(parts[-1].strip()):
        parts.pop()
    return "\n\n".join(parts).rstrip() + "\n"


def read_reports(folder: Path) -> tuple[list[LectureReport], Path | None]:
    """The lecture reports in `folder` (`NN_topic.<en|zh>/report.md` with its figures, as
    `gradschool lecture run --out folder` writes them), and the course's glossary
    (`folder/glossary.md`) when the runner wrote one, else None.

    NOTE: this is the one function that knows the runner's output; adapt it, and only it,
    when the runner changes."""
    display, inline = _math_renderers()
    reports = []
    for md in sorted(folder.glob("[0-9][0-9]_*.*/report.md")):
        slug, _, language = md.parent.name.rpartition(".")
        if language not in ("en", "zh"):
            continue
        text = convert_math(_without_nav_bars(md.read_text(encoding="utf-8")), display, inline)
        files = sorted(p for p in md.parent.iterdir() if p.is_file() and p.suffix != ".html")
        files = [p for p in files if p.name not in ("report.md", "run.json")]
        reports.append(LectureReport(slug, int(slug[:2]), language, text, md, files))
    glossary = folder / "glossary.md"
    return reports, glossary if glossary.is_file() else None


def run_lectures(out: Path, which: list[str], quick: bool = True) -> None:
    """`gradschool lecture run <which> --lang both --out <out>` in a child process."""
    command = [sys.executable, "-m", "gradschool", "lecture", "run", *which, "--lang", "both"]
    command += ["--quick"] if quick else []
    command += ["--out", str(out)]
    print("$", " ".join(command[1:]), flush=True)
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    result = subprocess.run(command, cwd=REPO, env=env)
    if result.returncode != 0:
        raise SystemExit(f"the lectures failed (exit status {result.returncode}); see above")


# ---- Markdown: code spans left alone, links re-pointed, formulas drawn --------------------------

_FENCE = re.compile(r"^( {0,3})(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)


def _prose_blocks(text: str) -> list[tuple[bool, str]]:
    """`text` as (is_prose, chunk) pieces: fenced code blocks are not prose."""
    pieces: list[tuple[bool, str]] = []
    prose: list[str] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            prose.append(lines[i])
            i += 1
            continue
        fence = m[2]
        j = i + 1
        while j < len(lines) and not lines[j].strip().startswith(fence[0] * len(fence)):
            j += 1
        if prose:
            pieces.append((True, "\n".join(prose) + "\n"))
            prose = []
        block = lines[i : j + 1]
        tail = "\n" if j + 1 < len(lines) else ""
        pieces.append((False, "\n".join(block) + tail))
        i = j + 1
    if prose:
        pieces.append((True, "\n".join(prose)))
    return pieces


def _outside_code(text: str, change: Callable[[str], str]) -> str:
    """Apply `change` to the prose of a Markdown text, never inside code (fenced or inline)."""
    out = []
    for is_prose, chunk in _prose_blocks(text):
        if not is_prose:
            out.append(chunk)
            continue
        last = 0
        for m in _CODE_SPAN.finditer(chunk):
            out.append(change(chunk[last : m.start()]))
            out.append(m[0])
            last = m.end()
        out.append(change(chunk[last:]))
    return "".join(out)


_DISPLAY = re.compile(r"\$\$(.+?)\$\$", re.S)
# Pandoc's rule: no space inside the dollars, and no digit right after the closing one
# ("$5 and $6" is money, not a formula).
_INLINE = re.compile(r"(?<![\\$])\$(?![\s$])((?:[^$\n\\]|\\.|\n(?!\s*\n))+?)(?<!\s)\$(?![$\d])")
# Characters Markdown would read inside the HTML we put in a paragraph.
_MD_SPECIAL = str.maketrans({"*": "&#42;", "_": "&#95;", "[": "&#91;", "]": "&#93;", "`": "&#96;"})


def convert_math(text: str, display: Callable[[str], str], inline: Callable[[str], str]) -> str:
    """$$...$$ and $...$ outside code as HTML (see _math_renderers)."""

    def block(m: re.Match) -> str:
        return "\n\n" + display(m[1].strip()) + "\n\n"

    def change(prose: str) -> str:
        prose = _DISPLAY.sub(block, prose)
        return _INLINE.sub(lambda m: inline(m[1].strip()).translate(_MD_SPECIAL), prose)

    return _outside_code(text, change)


_LINK = re.compile(
    r"(!?\[(?:[^\[\]]|\[[^\[\]]*\])*\])\(\s*<?([^()\s<>]+)>?((?:\s+\"[^\"]*\")?)\s*\)"
)


_DROP = "\0drop\0"  # a link removed with its text (a link to the page in the other language)


def language_of(staged: str) -> str:
    return "zh" if staged.endswith(f".{ZH}.md") else "en"


def counterpart(staged: str) -> str:
    """docs/x.md <-> docs/x.zh-CN.md."""
    if staged.endswith(f".{ZH}.md"):
        return staged[: -len(f".{ZH}.md")] + ".md"
    return staged[: -len(".md")] + f".{ZH}.md"


@dataclass
class Stage:
    """What gets written into the staging folder, and how links are re-pointed."""

    root: Path
    repo_url: str | None = None
    pages: dict[Path, str] = field(default_factory=dict)  # source (resolved) -> staged page
    assets: dict[Path, str] = field(default_factory=dict)  # source (resolved) -> staged file
    texts: dict[str, tuple[str, Path | None]] = field(default_factory=dict)  # staged -> text
    english_copies: set[str] = field(default_factory=set)  # zh pages that are English text
    unlinked: list[str] = field(default_factory=list)  # "page: path" links made plain text

    def page(self, staged: str, text: str, source: Path | None = None) -> None:
        """A page from `source` (its links are re-pointed), or generated (source None: its
        links are already written for the staged layout)."""
        if source is not None:
            self.pages.setdefault(source.resolve(), staged)
        self.texts[staged] = (text, source.resolve() if source is not None else None)

    def asset(self, source: Path, staged: str) -> None:
        self.assets[source.resolve()] = staged

    def english_copy(self, staged: str, note: str | None) -> None:
        """The Chinese site's copy of an English page that has no Chinese version, with `note`
        under its title. NOTE: without the copy the i18n plugin would show the English page on
        the Chinese site anyway, but its links there lead to the Chinese pages, which lack
        the English anchors: in the copy such links go to the page's top."""
        text, source = self.texts[staged]
        if note:
            text = re.sub(
                r"^(# .+\n)", lambda m: m[1] + "\n" + note + "\n", text, count=1, flags=re.M
            )
        zh = counterpart(staged)
        self.texts[zh] = (text, source)
        self.english_copies.add(zh)

    def link(self, target: str, source: Path, staged: str) -> str | None:
        """The site's link for `target`, written in `source`, now in page `staged`: a new
        target, None to drop the link and keep its text, or _DROP to drop both."""
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) or target.startswith(("#", "/")):
            return target  # a URL, an anchor on the same page, or an absolute path (mkdocs warns)
        path, hash_, anchor = target.partition("#")
        resolved = (source.parent / path).resolve()
        mapped = self.pages.get(resolved) or self.assets.get(resolved)
        if mapped in self.texts:
            if mapped == counterpart(staged) and language_of(mapped) != language_of(staged):
                return _DROP  # "[中文](x.zh-CN.md)": on the site the language switch does that
            if language_of(staged) == "zh" and counterpart(mapped) in self.texts:
                mapped = counterpart(mapped) if language_of(mapped) == "en" else mapped
                if staged in self.english_copies:
                    hash_ = anchor = ""  # the Chinese page's headings have other anchors
            elif language_of(staged) == "en" and language_of(mapped) == "zh":
                # The English site has no Chinese pages (the menu switches): the English one.
                mapped, hash_, anchor = counterpart(mapped), "", ""
        if mapped is not None:
            here = Path(staged).parent
            return Path(os.path.relpath(mapped, here)).as_posix() + hash_ + anchor
        if resolved.exists() and resolved.is_relative_to(REPO):
            rel = resolved.relative_to(REPO).as_posix()
            if self.repo_url:
                kind = "tree" if resolved.is_dir() else "blob"
                return f"{self.repo_url}/{kind}/main/{rel}{hash_}{anchor}"
            self.unlinked.append(f"{staged}: {rel}")
            return None
        return target  # a link to nothing: left for `mkdocs build --strict` to report

    def rewrite(self, text: str, source: Path, staged: str) -> str:
        def one(m: re.Match) -> str:
            label, target, title = m[1], m[2], m[3]
            new = self.link(target, source, staged)
            if new == _DROP:
                return _DROP
            if new is None:
                inner = label[1:-1]
                return inner if inner.startswith("`") else f"`{inner}`"
            return f"{label}({new}{title})"

        text = _outside_code(text, lambda prose: _LINK.sub(one, prose))
        if _DROP not in text:
            return text
        lines = []
        for line in text.split("\n"):
            if _DROP in line:
                # What joined the dropped link to the rest of its line goes with it.
                line = re.sub(r"\s*(?:[·|,;]\s*)?" + re.escape(_DROP), "", line).rstrip()
                line = re.sub(r"^(\s*)[·|,;]\s*", r"\1", line)
                if not line.strip():
                    continue
            lines.append(line)
        return re.sub(r"\A\n+|(?<=\n\n)\n+", "", "\n".join(lines))

    def write(self) -> None:
        if self.root.exists():
            shutil.rmtree(self.root)
        self.root.mkdir(parents=True)
        for source, staged in self.assets.items():
            dest = self.root / staged
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, dest)
        for staged, (text, source) in self.texts.items():
            dest = self.root / staged
            dest.parent.mkdir(parents=True, exist_ok=True)
            if source is not None:
                text = self.rewrite(text, source, staged)
            dest.write_text(text, encoding="utf-8")


# ---- what goes on the site ----------------------------------------------------------------------


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _doc_order(docs: Path) -> list[str]:
    """docs/ page names (without .md) in the order of README's "## Documentation" list; the
    rest after it, by name."""
    names = sorted(p.stem for p in docs.glob("*.md") if not p.stem.endswith("." + ZH))
    readme = _read(REPO / "README.md")
    section = re.search(r"^## Documentation\n(.*?)(?=^## )", readme, re.M | re.S)
    listed = re.findall(r"\]\(docs/([A-Za-z0-9_-]+)\.md\)", section[1] if section else readme)
    order = list(dict.fromkeys(n for n in listed if n in names))
    return order + [n for n in names if n not in order]


def _lecture_index(reports: list[LectureReport], language: str, glossary: bool) -> str:
    words = WORDS[language]
    lines = [f"# {words['lectures']}", "", words["intro"], ""]
    mine = [r for r in reports if r.language == language]
    if mine:
        lines += [f"| {words['number']} | {words['lecture']} |", "|---:|---|"]
        suffix = "" if language == "en" else f".{ZH}"
        lines += [f"| {r.number} | [{r.title}]({r.slug}{suffix}.md) |" for r in mine]
    else:
        lines.append(words["none"])
    if glossary:
        lines += ["", words["glossary"]]
    return "\n".join(lines) + "\n"


def _api_pages(stage: Stage) -> list[str]:
    """api/index.md (+ Chinese) and one page per engine module; returns the nav entries."""
    nav = ["api/index.md"]
    for language, suffix in (("en", ""), ("zh", f".{ZH}")):
        words = WORDS[language]
        lines = [f"# {words['api']}", "", words["api_intro"], ""]
        for page, module, en_title, zh_title, en_intro, zh_intro in API_PAGES:
            title, intro = (en_title, en_intro) if language == "en" else (zh_title, zh_intro)
            lines.append(f"- [{title}]({page}.md): {intro}")
            text = f"# {title}\n\n{intro}\n\n::: {module}\n"
            stage.page(f"api/{page}{suffix}.md", text)
        stage.page(f"api/index{suffix}.md", "\n".join(lines) + "\n")
    nav += [f"api/{page}.md" for page, *_ in API_PAGES]
    return nav


def _license_page(stage: Stage) -> str | None:
    license_file = REPO / "LICENSE"
    if not license_file.is_file():
        return None
    for language, suffix in (("en", ""), ("zh", f".{ZH}")):
        body = html.escape(_read(license_file))
        text = f'# {WORDS[language]["license"]}\n\n<pre class="license">{body}</pre>\n'
        stage.page(f"project/license{suffix}.md", text)
    stage.pages[license_file.resolve()] = "project/license.md"  # links to LICENSE lead here
    return "project/license.md"


def stage_site(
    root: Path, reports_dir: Path | None, repo_url: str | None = None
) -> tuple[Stage, list]:
    """Stage every page into `root`; return the stage and mkdocs' nav."""
    stage = Stage(root=root, repo_url=repo_url)
    nav: list = []

    # Home: the READMEs.
    stage.page("index.md", _read(REPO / "README.md"), REPO / "README.md")
    zh_readme = REPO / f"README.{ZH}.md"
    if zh_readme.is_file():
        stage.page(f"index.{ZH}.md", _read(zh_readme), zh_readme)
    nav.append({"Home": "index.md"})

    # The course: lecture reports, their index, the glossary.
    reports, glossary = read_reports(reports_dir) if reports_dir else ([], None)
    course: list = ["lectures/index.md"]
    english = {r.slug for r in reports if r.language == "en"}
    for report in reports:
        if report.slug not in english:
            print(f"skipped {report.source}: a lecture needs its English report on the site")
            continue
        suffix = "" if report.language == "en" else f".{ZH}"
        stage.page(f"lectures/{report.slug}{suffix}.md", report.markdown, report.source)
        for path in report.files:
            # lectures/NN_topic/fig-02-1.png, and fig-02-1.zh-CN.png for the Chinese report:
            # the i18n plugin serves each language its own figure under the same link.
            name = path.name if report.language == "en" else f"{path.stem}.{ZH}{path.suffix}"
            stage.asset(path, f"lectures/{report.slug}/{name}")
        if report.language == "en":
            course.append(f"lectures/{report.slug}.md")
    stage.page("lectures/index.md", _lecture_index(reports, "en", bool(glossary)))
    stage.page(f"lectures/index.{ZH}.md", _lecture_index(reports, "zh", bool(glossary)))
    if reports_dir is not None:
        # Links to the runner's own contents page (if it writes one) lead to this one.
        stage.pages[(reports_dir / "index.md").resolve()] = "lectures/index.md"
    if glossary is not None:
        stage.page("lectures/glossary.md", _read(glossary), glossary)
        course.append("lectures/glossary.md")
    nav.append({"Course": course})

    # Guides: docs/, in README's order.
    docs = REPO / "docs"
    for path in sorted(docs.rglob("*")):
        rel = path.relative_to(docs).as_posix()
        if path.is_file() and path.suffix == ".md":
            stage.page(f"docs/{rel}", _read(path), path)
        elif path.is_file():
            stage.asset(path, f"docs/{rel}")
    nav.append({"Guides": [f"docs/{name}.md" for name in _doc_order(docs)]})

    nav.append({"API reference": _api_pages(stage)})

    project = []
    for source, staged in PROJECT_PAGES:
        if (REPO / source).is_file():
            stage.page(staged, _read(REPO / source), REPO / source)
            if f".{ZH}." not in staged:
                project.append(staged)
    license_page = _license_page(stage)
    if license_page:
        project.append(license_page)
    if project:
        nav.append({"Project": project})

    # Every English page without a Chinese version gets an English copy on the Chinese site.
    bilingual = {"lectures/glossary.md"}
    for staged in [s for s in stage.texts if language_of(s) == "en"]:
        if counterpart(staged) not in stage.texts:
            stage.english_copy(staged, None if staged in bilingual else ENGLISH_ONLY)

    for path in sorted((REPO / "scripts" / "site_assets").iterdir()):
        stage.asset(path, f"assets/{path.name}")
    return stage, nav


def repository_url() -> str | None:
    """pyproject.toml's [project.urls] Source (or Repository), if it gives one."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    project = tomllib.loads(_read(REPO / "pyproject.toml")).get("project", {})
    urls = project.get("urls", {})
    url = urls.get("Source") or urls.get("Repository")
    return url.rstrip("/") if url else None


def write_nav(stage_root: Path, nav: list) -> Path:
    """build/site-nav.json, which scripts/site_hooks.py hands to mkdocs as its nav."""
    path = stage_root.parent / "site-nav.json"
    path.write_text(json.dumps(nav, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return path


def build(site: Path, stage_root: Path = BUILD / "site-src") -> float:
    """`mkdocs build --strict` of the pages staged in `stage_root` into `site`; returns the
    seconds it took."""
    start = time.perf_counter()
    # NOTE: never --quiet: it silences the warnings before --strict counts them, and a broken
    # link then passes (tests/test_site.py checks that one fails).
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)]
    print("$", " ".join(["mkdocs", *command[3:]]), flush=True)
    # NOTE: Material 9.7+ prints a notice about MkDocs 2.0 on every build; it is not ours.
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", STAGE_ENV: str(stage_root)}
    result = subprocess.run(command, cwd=REPO, env=env)
    if result.returncode != 0:
        raise SystemExit(
            "mkdocs build --strict failed: the warnings above name each broken link or "
            "missing page. Fix the link in the file it names (docs/, README), or in "
            "scripts/build_site.py for a generated page."
        )
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--reports",
        type=Path,
        default=BUILD / "site-reports",
        help="folder of lecture reports (NN_topic.en/, NN_topic.zh/); the lectures are run "
        "into it first unless --reuse-reports (default: build/site-reports)",
    )
    parser.add_argument(
        "--reuse-reports",
        action="store_true",
        help="do not run the lectures when --reports already holds reports",
    )
    parser.add_argument(
        "--lectures", nargs="+", default=["all"], help="which lectures to run (default: all)"
    )
    parser.add_argument(
        "--no-lectures", action="store_true", help="a site without the lecture reports"
    )
    parser.add_argument("--site", type=Path, default=REPO / "site", help="where the HTML goes")
    parser.add_argument("--stage-only", action="store_true", help="stage, do not build")
    args = parser.parse_args(argv)

    reports: Path | None = None if args.no_lectures else args.reports.resolve()
    if reports is not None:
        have = list(reports.glob("[0-9][0-9]_*.*/report.md"))
        if not (args.reuse_reports and have):
            if args.reuse_reports:
                print(f"no reports in {reports}: running the lectures", flush=True)
            start = time.perf_counter()
            run_lectures(reports, args.lectures)
            print(f"lectures: {time.perf_counter() - start:.0f} s", flush=True)

    root = BUILD / "site-src"
    stage, nav = stage_site(root, reports, repository_url())
    stage.write()
    write_nav(root, nav)
    print(f"staged {len(stage.texts)} pages in {root.relative_to(REPO)}", flush=True)
    if args.stage_only:
        return 0
    seconds = build(args.site.resolve(), root)
    print(f"site: {args.site} ({seconds:.0f} s); open {args.site / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
