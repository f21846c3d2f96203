"""The course as pages to navigate: the reports in a folder, an index, and the glossary.

    build_site("reports")   # after `gradschool lecture run ...`; `gradschool lecture build`

reads every `reports/NN_topic.<lang>/run.json` and writes

    reports/index.html      every lecture of the course, numbered, in both languages
    reports/glossary.html   the bilingual glossary (glossary.py), each term's lecture linked
    reports/index.md, glossary.md   the same as Markdown

and writes each report's pages again (report.py) with links: previous / next lecture, the
index, the glossary, the same lecture in the other language, and, in the text, "lecture 3" /
"第 3 讲" to that lecture's report and `docs/x.md` to the documentation page. Only what
exists is linked: a lecture not run yet is listed in the index without a link and skipped by
previous / next. Nothing runs again, so this takes seconds.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass, field
from pathlib import Path

import gradschool
from gradschool.course.cells import LANGS, Lecture
from gradschool.course.glossary import TERMS
from gradschool.course.markdown import markdown_to_html, slug
from gradschool.course.report import (
    LANGUAGE_NAMES,
    WORDS,
    Nav,
    Report,
    load_report,
    page,
    write_report,
)
from gradschool.errors import GradschoolError

__all__ = ["INDEX", "GLOSSARY", "Site", "build_site", "docs_dir", "glossary_markdown"]

INDEX, GLOSSARY = "index.html", "glossary.html"


def docs_dir() -> Path | None:
    """The repository's docs/ folder (beside the package in a source checkout), or None when
    gradschool was installed without it."""
    folder = Path(gradschool.__file__).resolve().parent.parent / "docs"
    return folder if folder.is_dir() else None


def scan_reports(out: str | Path) -> dict[tuple[int, str], tuple[Path, Report]]:
    """(lecture number, language) -> (folder, report) for every run.json in `out`."""
    found = {}
    for path in sorted(Path(out).glob("*/run.json")):
        try:
            report = load_report(path.parent)
        except GradschoolError:
            continue  # not ours, or from an older gradschool: skipped, not fatal
        found[report.number, report.language] = (path.parent, report)
    return found


def _href(target: Path, start: Path) -> str:
    """A relative link from folder `start` to `target`, with / on every OS."""
    return Path(os.path.relpath(target, start)).as_posix()


@dataclass
class Site:
    """What build_site wrote."""

    index: Path
    glossary: Path
    reports: list[Path] = field(default_factory=list)  # the report.html files written again


def navigation(
    folder: Path, report: Report, reports: dict[tuple[int, str], tuple[Path, Report]], out: Path
) -> Nav:
    """The links of `report` (in `folder`) to what exists in `out`."""
    language = report.language
    numbers = sorted(n for n, lg in reports if lg == language)
    before = [n for n in numbers if n < report.number]
    after = [n for n in numbers if n > report.number]

    def to(number: int, lang: str = language) -> tuple[str, str] | None:
        if (number, lang) not in reports:
            return None
        other_folder, other = reports[number, lang]
        return _href(other_folder / "report.html", folder), other.title

    other_lang = next(lg for lg in LANGS if lg != language)
    switch = to(report.number, other_lang)
    docs = docs_dir()

    def links(kind: str, key: object) -> str | None:
        if kind == "lecture" and isinstance(key, int) and key != report.number:
            target = to(key)
            return target[0] if target else None
        if kind == "doc" and docs is not None and (docs / str(key)).is_file():
            return _href(docs / str(key), folder)
        return None

    return Nav(
        index=_href(out / INDEX, folder),
        glossary=_href(out / GLOSSARY, folder),
        prev=to(before[-1]) if before else None,
        next=to(after[0]) if after else None,
        switch=(switch[0], LANGUAGE_NAMES[other_lang]) if switch else None,
        links=links,
    )


def build_site(
    out: str | Path = "reports", lectures: list[Lecture] | None = None, render: bool = True
) -> Site:
    """Write the index and the glossary of `out`, and (`render`) every report's pages again
    with their links (module docstring). `lectures`: the course's lectures, listed in the
    index even when not run yet (default: only those with reports)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    reports = scan_reports(out)
    written = []
    if render:
        for folder, report in reports.values():
            write_report(report, folder, navigation(folder, report, reports, out))
            written.append(folder / "report.html")
    rows = _index_rows(reports, lectures or [])
    (out / "index.md").write_text(_index_markdown(rows, reports, out), encoding="utf-8")
    (out / INDEX).write_text(_index_html(rows, reports, out), encoding="utf-8")
    (out / "glossary.md").write_text(glossary_markdown(_report_links(reports, out, ".md")), "utf-8")
    (out / GLOSSARY).write_text(_glossary_html(_report_links(reports, out, ".html")), "utf-8")
    return Site(index=out / INDEX, glossary=out / GLOSSARY, reports=written)


def _inline_html(text: str) -> str:
    """One line of Markdown as HTML without its paragraph."""
    return markdown_to_html(text).strip().removeprefix("<p>").removesuffix("</p>")


# ---- the index ---------------------------------------------------------------------------------


@dataclass
class _Row:
    number: int
    titles: dict[str, str]
    time_quick: str
    time_full: str


def _index_rows(reports: dict, lectures: list[Lecture]) -> list[_Row]:
    rows: dict[int, _Row] = {}
    for lec in lectures:
        rows[lec.number] = _Row(lec.number, dict(lec.titles), lec.time_quick, lec.time_full)
    for (number, language), (_, report) in reports.items():
        row = rows.setdefault(number, _Row(number, {}, report.time_quick, report.time_full))
        row.titles.setdefault(language, report.title)
    return [rows[n] for n in sorted(rows)]


def _report_links(reports: dict, out: Path, suffix: str) -> dict[tuple[int, str], str]:
    """(number, language) -> the report's page, relative to `out`."""
    name = "report" + suffix
    return {key: _href(folder / name, out) for key, (folder, _) in reports.items()}


def _mode(report: Report) -> str:
    comma = "，" if report.language == "zh" else ", "
    return f"{report.words['mode'][report.quick]}{comma}{report.date}"


_INTRO = {
    "en": "Every lecture of gradschool's course, in English and in Chinese. Each report is the "
    "lecture's text with what its code printed and drew when it ran; its links lead to the "
    "previous and next lecture, to the same lecture in the other language and to the glossary.",
    "zh": "gradschool 课程的全部讲义，中英文各一份。每份报告都是讲义正文加上代码运行时打印的"
    "结果和画出的图；页面上的链接通往上一讲、下一讲、另一种语言的同一讲，以及术语表。",
}
_RUN_HINT = {
    "en": "Not run yet: `gradschool lecture run {n} --lang both`.",
    "zh": "还没有运行：`gradschool lecture run {n} --lang both`。",
}


def _index_markdown(rows: list[_Row], reports: dict, out: Path) -> str:
    links = _report_links(reports, out, ".md")
    lines = [
        "# gradschool: the course · 课程",
        "",
        _INTRO["en"],
        "",
        _INTRO["zh"],
        "",
        "[Glossary · 术语表](glossary.md)",
        "",
        "| # | English | 中文 | quick · 快速 | full · 完整 |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        cells = []
        for language in LANGS:
            title = row.titles.get(language, "")
            href = links.get((row.number, language))
            hint = _RUN_HINT[language].format(n=row.number)
            cells.append(f"[{title}]({href})" if href else f"{title}<br>{hint}")
        times = f"{row.time_quick} | {row.time_full}"
        lines.append(f"| {row.number} | {cells[0]} | {cells[1]} | {times} |")
    return "\n".join(lines) + "\n"


def _index_html(rows: list[_Row], reports: dict, out: Path) -> str:
    links = _report_links(reports, out, ".html")
    body = [
        '<h1>gradschool: the course · <span lang="zh-CN">课程</span></h1>',
        f"<p>{html.escape(_INTRO['en'])}</p>",
        f'<p lang="zh-CN">{html.escape(_INTRO["zh"])}</p>',
        f'<p><a href="{GLOSSARY}" rel="glossary" class="glossary">Glossary · '
        f'<span lang="zh-CN">术语表</span></a></p>',
        '<table class="toc"><thead><tr><th>#</th><th>English</th><th lang="zh-CN">中文</th>'
        '<th>quick · <span lang="zh-CN">快速</span></th>'
        '<th>full · <span lang="zh-CN">完整</span></th></tr></thead><tbody>',
    ]
    for row in rows:
        cells = []
        for language in LANGS:
            title = html.escape(row.titles.get(language, ""))
            lang_attr = ' lang="zh-CN"' if language == "zh" else ""
            key = (row.number, language)
            if key in links:
                mode = html.escape(_mode(reports[key][1]))
                cells.append(
                    f'<td{lang_attr}><a href="{html.escape(links[key])}" class="lecture" '
                    f'hreflang="{"zh-CN" if language == "zh" else "en"}">{title}</a>'
                    f"<br><small>{mode}</small></td>"
                )
            else:
                hint = _inline_html(_RUN_HINT[language].format(n=row.number))
                cells.append(f"<td{lang_attr}>{title}<br><small>{hint}</small></td>")
        body.append(
            f'<tr id="lecture-{row.number}"><td>{row.number}</td>{"".join(cells)}'
            f"<td>{html.escape(row.time_quick)}</td><td>{html.escape(row.time_full)}</td></tr>"
        )
    body.append("</tbody></table>")
    if not rows:
        body.append("<p>(no lectures · 没有讲义)</p>")
    return page("gradschool: the course · 课程", "\n".join(body), "en")


# ---- the glossary ------------------------------------------------------------------------------


def _lecture_cell(number: int, links: dict[tuple[int, str], str], md: bool) -> str:
    parts = []
    for language in LANGS:
        label = WORDS[language]["lecture"].format(n=number)
        href = links.get((number, language))
        if md:
            parts.append(f"[{label}]({href})" if href else label)
        elif href:
            parts.append(f'<a href="{html.escape(href)}" class="lecture">{html.escape(label)}</a>')
        else:
            parts.append(html.escape(label))
    return " · ".join(parts)


def glossary_markdown(links: dict[tuple[int, str], str] | None = None) -> str:
    """The glossary as a Markdown table (English, 简体中文, both definitions, the lecture that
    introduces each term; linked to its reports where `links` has them)."""
    links = links or {}
    lines = [
        "# Glossary · 术语表",
        "",
        "| English | 简体中文 | definition | 释义 | lecture · 讲 |",
        "|---|---|---|---|---|",
    ]
    for term in TERMS:
        cell = _lecture_cell(term.lecture, links, md=True)
        lines.append(f"| {term.en} | {term.zh} | {term.en_def} | {term.zh_def} | {cell} |")
    return "\n".join(lines) + "\n"


def _glossary_html(links: dict[tuple[int, str], str]) -> str:
    body = [
        '<nav class="course top"><a href="index.html" rel="index" class="index">Contents · '
        '<span lang="zh-CN">目录</span></a></nav>',
        '<h1>Glossary · <span lang="zh-CN">术语表</span></h1>',
        '<table class="glossary"><thead><tr><th>English</th><th lang="zh-CN">简体中文</th>'
        '<th>definition</th><th lang="zh-CN">释义</th><th>lecture · <span lang="zh-CN">讲</span>'
        "</th></tr></thead><tbody>",
    ]
    for term in TERMS:
        en_def, zh_def = _inline_html(term.en_def), _inline_html(term.zh_def)
        lecture = _lecture_cell(term.lecture, links, md=False)
        body.append(
            f'<tr id="{slug(term.en)}"><td>{html.escape(term.en)}</td>'
            f'<td lang="zh-CN">{html.escape(term.zh)}</td><td>{en_def}</td>'
            f'<td lang="zh-CN">{zh_def}</td><td>{lecture}</td></tr>'
        )
    body.append("</tbody></table>")
    return page("Glossary · 术语表", "\n".join(body), "en")
