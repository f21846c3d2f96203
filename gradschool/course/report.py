"""A lecture's report: what one run of a lecture showed, in one language.

    report = build_report(lecture, results, filled, field_errors, "zh", quick=True, ...)
    write_report(report, folder, nav)   # folder/run.json, report.md, report.html

`run.json` holds the report's content — the lecture's text with its fields filled in, each
code cell, what it printed, its figures' file names — so the pages can be written again
without running the lecture (`gradschool lecture build`, site.py), with fresh links to the
other lectures. `report.md` is that content as Markdown beside the PNG figures;
`report.html` is one self-contained page: figures and formulas inlined as data: URIs, no
script, and a Content-Security-Policy that forbids every fetch, so it opens offline and can
be mailed as one file. Markdown becomes HTML through markdown-it-py (markdown.py).
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gradschool
from gradschool.course import resolve
from gradschool.course.cells import CellResult, Lecture, clean_output
from gradschool.course.markdown import LinkResolver, data_uri, markdown_to_html
from gradschool.errors import GradschoolError
from gradschool.text import display_width, pad

__all__ = [
    "Nav",
    "Report",
    "build_report",
    "format_lecture_list",
    "load_report",
    "markdown_to_html",
    "page",
    "write_report",
]

# ---- words of the report, per language ---------------------------------------------------------

WORDS: dict[str, dict[str, Any]] = {
    "en": {
        "output": "Output",
        "figure": "Figure",
        "not_run": "not run: an earlier cell failed",
        "failed": "This lecture stopped with an error at line {line} of {file}; the traceback "
        "is shown below the cell.",
        "field_failed": "A value the text quotes could not be computed ({error}); it is shown "
        "as written.",
        "mode": {True: "quick mode", False: "full mode"},
        "footer": "Report written by `{command}` (gradschool {version}, {mode}) in {seconds:.1f} s"
        " on {date}.",
        "font": "",
        "contents": "Contents",
        "glossary": "Glossary",
        "previous": "Previous",
        "next": "Next",
        "lecture": "Lecture {n}",
        "exercise": "Exercise {n}",
        "check": "Check your answer",
        "not_checked": "An open question, not checked; the worked answer",
        "hints": "Hints",
        "solution": "Solution",
    },
    "zh": {
        "output": "输出",
        "figure": "图",
        "not_run": "没有运行：前面的单元出错了",
        "failed": "这一讲在 {file} 第 {line} 行出错停下了，出错单元下面给出了完整的 traceback。",
        "field_failed": "正文里引用的一个数值没能算出来（{error}），原样显示。",
        "mode": {True: "快速模式", False: "完整模式"},
        "footer": "本报告由 `{command}` 生成（gradschool {version}，{mode}），"
        "用时 {seconds:.1f} 秒，{date}。",
        "font": "注：本机没有中文字体，所以图里的文字是英文。装一个中文字体（如 Debian 的 "
        "fonts-noto-cjk 或 fonts-wqy-microhei）后重新运行，图里就是中文了。",
        "contents": "目录",
        "glossary": "术语表",
        "previous": "上一讲",
        "next": "下一讲",
        "lecture": "第 {n} 讲",
        "exercise": "练习 {n}",
        "check": "检查答案",
        "not_checked": "开放题，不检查答案；参考解答",
        "hints": "提示",
        "solution": "参考解答",
    },
}
LANGUAGE_NAMES = {"en": "English", "zh": "中文"}


@dataclass
class Report:
    """The content of one language's report (stored as run.json). `blocks` are, in order,
    [kind, value] with kind "md" (Markdown, fields filled in), "code", "output", "error"
    (a traceback), "figure" (a PNG file name in the report's folder) or "note"."""

    number: int
    slug: str
    language: str
    title: str
    file: str  # the lecture's file name, e.g. 01_concepts.py
    time_quick: str
    time_full: str
    quick: bool
    ok: bool
    seconds: float
    command: str
    version: str
    date: str
    banner: str = ""  # why the run failed, or ""
    figure_note: bool = False  # Chinese report drawn without a Chinese font
    blocks: list[list[str]] = field(default_factory=list)

    @property
    def words(self) -> dict:
        return WORDS[self.language]

    @property
    def footer(self) -> str:
        return self.words["footer"].format(
            command=self.command,
            version=self.version,
            mode=self.words["mode"][self.quick],
            seconds=self.seconds,
            date=self.date,
        )


@dataclass
class Nav:
    """Where a report's links go, as hrefs relative to its folder ("" or None: no link).
    `prev` / `next` / `switch` are (href, label); `links` resolves cross-references in the
    text (markdown.py)."""

    index: str = ""
    glossary: str = ""
    prev: tuple[str, str] | None = None
    next: tuple[str, str] | None = None
    switch: tuple[str, str] | None = None  # the same lecture in the other language
    links: LinkResolver | None = None

    def for_markdown(self) -> Nav:
        """The same links to the .md pages (report.md, index.md, glossary.md)."""

        def md(href: str) -> str:
            return re.sub(r"\.html(?=$|#)", ".md", href)

        def pair(item: tuple[str, str] | None) -> tuple[str, str] | None:
            return (md(item[0]), item[1]) if item else None

        return Nav(md(self.index), md(self.glossary), pair(self.prev), pair(self.next),
                   pair(self.switch))  # fmt: skip


def build_report(
    lecture: Lecture,
    results: list[CellResult],
    filled: dict[int, str],
    field_errors: list[tuple[int, str]],
    language: str,
    *,
    quick: bool,
    seconds: float,
    command: str,
    figure_note: bool = False,
    exercises: dict[int, dict] | None = None,
) -> Report:
    """The report of one execution in `language`: the cells shown in that language and mode,
    fields filled in (`filled`: cell index -> text), t() markers resolved; each exercise cell
    as `exercises` renders it (cell index -> Exercise.render(language))."""
    words = WORDS[language]
    by_index = {r.index: r for r in results}
    blocks: list[list[str]] = []
    for i, cell in enumerate(lecture.cells):
        if cell.kind == "markdown":
            if cell.shown_in(language, quick):
                blocks.append(["md", resolve(filled.get(i, cell.source), language)])
            continue
        if cell.kind == "exercise":
            if exercises and i in exercises:
                blocks.append(["exercise", json.dumps(exercises[i], ensure_ascii=False)])
            continue
        blocks.append(["code", cell.source])
        result = by_index.get(i)
        if result is None or result.status == "skipped":
            blocks.append(["note", words["not_run"]])
            continue
        output = clean_output(resolve(result.output, language))
        if output:
            blocks.append(["output", output])
        if result.error:
            blocks.append(["error", resolve(result.error, language)])
        blocks += [["figure", name] for name in result.figures.get(language, [])]
    banner = ""
    failed = next((r for r in results if r.status == "error"), None)
    if failed is not None:
        banner = words["failed"].format(line=failed.error_line, file=lecture.path.name)
    elif field_errors:
        line, message = field_errors[0]
        error = f"{lecture.path.name}:{line}: {resolve(message, language)}"
        banner = words["field_failed"].format(error=error)
    return Report(
        number=lecture.number,
        slug=lecture.slug,
        language=language,
        title=lecture.title(language),
        file=lecture.path.name,
        time_quick=lecture.time_quick,
        time_full=lecture.time_full,
        quick=quick,
        ok=not banner,
        seconds=seconds,
        command=command,
        version=gradschool.__version__,
        date=_dt.date.today().isoformat(),
        banner=banner,
        figure_note=figure_note,
        blocks=blocks,
    )


def load_report(folder: str | Path) -> Report:
    """The report whose run.json is in `folder`."""
    path = Path(folder) / "run.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Report(**data)
    except (OSError, ValueError, TypeError) as exc:
        raise GradschoolError(
            f"{path} is not a lecture run ({exc}); run the lecture again with "
            f"`gradschool lecture run N` to write it"
        ) from None


def write_report(
    report: Report, folder: str | Path, nav: Nav | None = None, pages: bool = True
) -> tuple[Path, Path]:
    """Write folder/run.json and (`pages`) report.md and report.html; return the paths of the
    last two."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    data = json.dumps(asdict(report), ensure_ascii=False, indent=1)
    (folder / "run.json").write_text(data + "\n", encoding="utf-8")
    nav = nav or Nav()
    if not pages:  # site.build_site writes them, with their links
        return folder / "report.md", folder / "report.html"
    md_path, html_path = folder / "report.md", folder / "report.html"
    md_path.write_text(_markdown(report, nav.for_markdown()), encoding="utf-8")
    html_path.write_text(_html(report, folder, nav), encoding="utf-8")
    return md_path, html_path


# ---- report.md ---------------------------------------------------------------------------------


def _fence(text: str, info: str = "") -> str:
    """A fenced block longer than any run of backticks inside the text."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{info}\n{text}\n{ticks}"


def _nav_markdown(nav: Nav, words: dict) -> str:
    parts = []
    if nav.prev:
        parts.append(f"[← {nav.prev[1]}]({nav.prev[0]})")
    if nav.index:
        parts.append(f"[{words['contents']}]({nav.index})")
    if nav.glossary:
        parts.append(f"[{words['glossary']}]({nav.glossary})")
    if nav.switch:
        parts.append(f"[{nav.switch[1]}]({nav.switch[0]})")
    if nav.next:
        parts.append(f"[{nav.next[1]} →]({nav.next[0]})")
    return " · ".join(parts)


def _markdown(report: Report, nav: Nav) -> str:
    words = report.words
    bar = _nav_markdown(nav, words)
    parts = [bar] if bar else []
    if report.banner:
        parts.append(f"> **{report.banner}**")
    figure = 0
    for kind, value in report.blocks:
        if kind == "md":
            parts.append(value)
        elif kind == "code":
            parts.append(_fence(value, "python"))
        elif kind == "output":
            parts.append(f"*{words['output']}:*\n\n" + _fence(value, "text"))
        elif kind == "error":
            parts.append(_fence(value, "pytb"))
        elif kind == "figure":
            figure += 1
            parts.append(f"![{words['figure']} {figure}]({value})")
        elif kind == "note":
            parts.append(f"*({value})*")
        elif kind == "exercise":
            parts.append(_exercise_markdown(json.loads(value), words))
    if report.figure_note and words["font"]:
        parts.append(f"> {words['font']}")
    parts.append(f"---\n\n*{report.footer}*")
    if bar:
        parts.append(bar)
    return "\n\n".join(parts) + "\n"


def _check_line(ex: dict, words: dict) -> str:
    lead = words["check"] if ex["kind"] != "open" else words["not_checked"]
    return lead + ("：" if words is WORDS["zh"] else ":")


def _folded(summary: str, markdown: str) -> str:
    # NOTE: markdown="1" asks the site's md_in_html to read the inside as Markdown; GitHub
    # does so anyway when blank lines separate it from the tags.
    return f'<details markdown="1">\n<summary>{summary}</summary>\n\n{markdown}\n\n</details>'


def _exercise_markdown(ex: dict, words: dict) -> str:
    """An exercise in report.md: heading, text, the check command, then the hints and the
    solution folded in <details> blocks."""
    head = words["exercise"].format(n=ex["number"])
    parts = [f"### {head} · {ex['label']}", ex["text"]]
    space = "" if words is WORDS["zh"] else " "
    parts.append(f"**{_check_line(ex, words)}**{space}`{ex['command']}`")
    if ex["hints"]:
        hints = "\n".join(f"{k}. {hint}" for k, hint in enumerate(ex["hints"], 1))
        parts.append(_folded(words["hints"], hints))
    parts.append(_folded(words["solution"], ex["solution"]))
    return "\n\n".join(parts)


# ---- report.html -------------------------------------------------------------------------------

CSS = """
body { margin: 0; background: #fafafa; color: #1d1d1f; }
main { max-width: 52rem; margin: 0 auto; padding: 1.5rem 1.2rem 3rem; background: #fff;
  font: 16px/1.6 system-ui, -apple-system, "Segoe UI", "Noto Sans", "PingFang SC",
  "Microsoft YaHei", "Noto Sans CJK SC", sans-serif; }
h1, h2, h3 { line-height: 1.25; } h1 { font-size: 1.8rem; } h2 { margin-top: 2rem; }
pre { padding: .7rem .9rem; overflow-x: auto; border-radius: 6px; font-size: .85rem;
  line-height: 1.45; }
code, pre { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono",
  "Noto Sans Mono CJK SC", monospace; }
:not(pre) > code { background: #f0f0f3; padding: .1em .3em; border-radius: 4px; }
pre.code, pre:not([class]) { background: #f5f7fb; border-left: 3px solid #5b7fd6; }
pre.output { background: #fff; border: 1px solid #e3e3e8; color: #333; }
pre.error { background: #fff1f0; border-left: 3px solid #d9363e; color: #8a1c22; }
.label { font-size: .75rem; color: #888; margin: -.4rem 0 .2rem; }
figure { margin: 1rem 0; text-align: center; } figure img { max-width: 100%; height: auto; }
figcaption { font-size: .8rem; color: #777; }
div.math { text-align: center; margin: 1rem 0; overflow-x: auto; }
div.math img { max-width: 100%; }
code.tex { background: none; color: #555; }
span.cw { display: inline-block; overflow: visible; white-space: pre; text-align: center;
  text-align-last: justify; }
blockquote { margin: 1rem 0; padding: .2rem 1rem; border-left: 4px solid #ddd; color: #555; }
.banner { background: #fff1f0; border: 1px solid #d9363e; padding: .6rem 1rem; }
.note { color: #777; font-style: italic; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #ddd; padding: .3rem .6rem; vertical-align: top; }
th { background: #f5f5f7; }
a.xref { text-decoration-style: dotted; }
nav.course { display: flex; flex-wrap: wrap; gap: .4rem 1.2rem; font-size: .9rem;
  padding: .5rem 0; border-bottom: 1px solid #eee; margin-bottom: 1rem; }
nav.course.bottom { border-top: 1px solid #eee; border-bottom: none; margin-top: 1rem; }
nav.course .next { margin-left: auto; }
section.exercise { border-left: 3px solid #6a9f5b; padding: .1rem 0 .3rem 1rem; margin: 1.5rem 0; }
section.exercise h3 { margin-top: .6rem; } section.exercise .kind { font-weight: normal;
  color: #6b6b70; font-size: .9rem; }
p.check { font-size: .92rem; }
details { margin: .5rem 0; padding: .3rem .8rem; background: #f7f8f5; border-radius: 6px; }
details > summary { cursor: pointer; color: #3d6b33; font-weight: 600; }
footer { margin-top: 2.5rem; font-size: .8rem; color: #888; border-top: 1px solid #eee; }
"""

# NOTE: the policy lets the page load nothing from anywhere but itself (data: URIs), so a
# report can be opened offline and never fetches from the network. Links still navigate.
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def page(title: str, body: str, language: str) -> str:
    """A complete self-contained HTML page (the reports', the index's and the glossary's)."""
    lang_attr = "zh-CN" if language == "zh" else "en"
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{lang_attr}">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{CSS}</style>\n</head>\n"
        f"<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


def _nav_html(nav: Nav, language: str, where: str) -> str:
    words = WORDS[language]

    def link(href: str, text: str, rel: str = "", cls: str = "", extra: str = "") -> str:
        attrs = f' rel="{rel}"' if rel else ""
        attrs += f' class="{cls}"' if cls else ""
        return f'<a href="{html.escape(href)}"{attrs}{extra}>{html.escape(text)}</a>'

    parts = []
    if nav.prev:
        parts.append(link(nav.prev[0], f"← {nav.prev[1]}", "prev", "prev"))
    if nav.index:
        parts.append(link(nav.index, words["contents"], "index", "index"))
    if nav.glossary:
        parts.append(link(nav.glossary, words["glossary"], "glossary", "glossary"))
    if nav.switch:
        other = "en" if language == "zh" else "zh-CN"
        parts.append(link(*nav.switch, "alternate", "switch", f' hreflang="{other}"'))
    if nav.next:
        parts.append(link(nav.next[0], f"{nav.next[1]} →", "next", "next"))
    if not parts:
        return ""
    return f'<nav class="course {where}">' + " ".join(parts) + "</nav>"


def _columns(text: str) -> str:
    """Printed text as HTML whose columns line up as on a terminal, whatever the fonts.

    NOTE: a Chinese font's characters are rarely exactly two Latin monospace columns wide, and
    "ambiguous" characters (“, α, →) may be drawn wide, so a table padded by display width
    (gradschool.text) would still wobble. Each run of wide characters is boxed to 2ch per
    character, and each ambiguous one to 1ch: the columns the padding counted."""
    out, i = [], 0
    while i < len(text):
        kind = _column_kind(text[i])
        j = i + 1
        while j < len(text) and kind and _column_kind(text[j]) == kind:
            j += 1
        chunk = html.escape(text[i:j])
        if kind == "wide":
            out.append(f'<span class="cw" style="width:{2 * (j - i)}ch">{chunk}</span>')
        elif kind == "ambiguous":
            out.append(f'<span class="cw" style="width:{j - i}ch">{chunk}</span>')
        else:
            out.append(chunk)
        i = j
    return "".join(out)


def _column_kind(ch: str) -> str:
    if ch.isascii():
        return ""
    width = unicodedata.east_asian_width(ch)
    return "wide" if width in ("W", "F") else "ambiguous" if width == "A" else ""


def _inline(text: str) -> str:
    """One line of Markdown (`code` in a label) as HTML, without its paragraph."""
    return markdown_to_html(text).strip().removeprefix("<p>").removesuffix("</p>")


def _exercise_html(ex: dict, words: dict, links: LinkResolver | None) -> str:
    """An exercise in report.html: the hints and the solution folded (<details>, no script)."""
    number = ex["number"]
    head = html.escape(words["exercise"].format(n=number))
    parts = [
        f'<section class="exercise" id="exercise-{number}">',
        f'<h3>{head} <span class="kind">· {_inline(ex["label"])}</span></h3>',
        markdown_to_html(ex["text"], links),
        f'<p class="check">{html.escape(_check_line(ex, words))}'
        f"{'' if words is WORDS['zh'] else ' '}<code>{html.escape(ex['command'])}</code></p>",
    ]
    if ex["hints"]:
        hints = "\n".join(f"{k}. {hint}" for k, hint in enumerate(ex["hints"], 1))
        parts.append(
            f'<details class="hints"><summary>{words["hints"]}</summary>'
            f"{markdown_to_html(hints, links)}</details>"
        )
    parts.append(
        f'<details class="solution"><summary>{words["solution"]}</summary>'
        f"{markdown_to_html(ex['solution'], links)}</details>"
    )
    parts.append("</section>")
    return "\n".join(parts)


def _html(report: Report, folder: Path, nav: Nav) -> str:
    words = report.words
    body = [_nav_html(nav, report.language, "top")]
    if report.banner:
        body.append(f'<p class="banner">{html.escape(report.banner)}</p>')
    figure = 0
    for kind, value in report.blocks:
        if kind == "md":
            body.append(markdown_to_html(value, nav.links))
        elif kind == "code":
            body.append(f'<pre class="code"><code>{html.escape(value)}</code></pre>')
        elif kind == "output":
            body.append(f'<div class="label">{words["output"]}</div>')
            body.append(f'<pre class="output">{_columns(value)}</pre>')
        elif kind == "error":
            body.append(f'<pre class="error">{_columns(value)}</pre>')
        elif kind == "figure":
            figure += 1
            mime = "image/gif" if value.endswith(".gif") else "image/png"  # a GIF stays animated
            uri = data_uri((folder / value).read_bytes(), mime)
            caption = f"{words['figure']} {figure}"
            body.append(
                f'<figure><img src="{uri}" alt="{caption}"><figcaption>{caption}'
                f"</figcaption></figure>"
            )
        elif kind == "note":
            body.append(f'<p class="note">({html.escape(value)})</p>')
        elif kind == "exercise":
            body.append(_exercise_html(json.loads(value), words, nav.links))
    if report.figure_note and words["font"]:
        body.append(f"<blockquote>{html.escape(words['font'])}</blockquote>")
    body.append(f"<footer>{markdown_to_html(report.footer)}</footer>")
    body.append(_nav_html(nav, report.language, "bottom"))
    return page(report.title, "\n".join(b for b in body if b), report.language)


# ---- the list of lectures -----------------------------------------------------------------------


def format_lecture_list(lectures: list[Lecture], language: str = "en") -> str:
    """The table of `gradschool lecture list`: number, title, estimated quick / full time,
    aligned by display width (a Chinese character takes two columns)."""
    head = ("#", "title", "quick", "full") if language == "en" else ("#", "标题", "快速", "完整")
    rows = [head] + [
        (str(lec.number), lec.title(language), lec.time_quick, lec.time_full) for lec in lectures
    ]
    widths = [max(display_width(row[k]) for row in rows) for k in range(4)]
    lines = []
    for row in rows:
        cells = [pad(row[0], widths[0], ">")] + [pad(c, widths[k]) for k, c in enumerate(row) if k]
        lines.append("  ".join(cells).rstrip())
    if not lectures:
        lines.append("(no lectures found)" if language == "en" else "（没有找到讲义）")
    return "\n".join(lines)
