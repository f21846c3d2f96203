"""Writing a lecture's report: report.md beside its PNG figures (and GIF animations), and
report.html, one self-contained page (figures and formulas inlined as data: URIs, no script,
no network).

The HTML needs a little Markdown: `markdown_to_html` knows what the lectures use — headings,
paragraphs, lists (nested by indentation), fenced code, block quotes, tables, rules, links,
images, **bold**, *italic*, `code` — and formulas: `$$...$$` blocks are drawn by matplotlib's
mathtext into inline SVG (no TeX, no network), and inline `$...$` is written as text with
Unicode symbols, sub- and superscripts (`\\nabla_{\\theta}` -> ∇<sub>θ</sub>). What mathtext
cannot draw falls back to that text form. report.md keeps `$...$` as written.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import re
from pathlib import Path

import gradschool
from gradschool.lectures import resolve
from gradschool.lectures.cells import Lecture
from gradschool.lectures.runner import CellResult, clean_output

__all__ = ["format_lecture_list", "markdown_to_html", "tex_to_html", "write_report"]

# ---- words of the report, per language ---------------------------------------------------------

_WORDS = {
    "en": {
        "output": "Output",
        "figure": "Figure",
        "not_run": "not run: an earlier cell failed",
        "failed": "This lecture stopped with an error at line {line} of {file}; the traceback "
        "is shown below the cell.",
        "mode": {True: "quick mode", False: "full mode"},
        "footer": "Report written by `{command}` (gradschool {version}, {mode}) in {seconds:.1f} s"
        " on {date}.",
        "font": "",
    },
    "zh": {
        "output": "输出",
        "figure": "图",
        "not_run": "没有运行：前面的单元出错了",
        "failed": "这一讲在 {file} 第 {line} 行出错停下了，出错单元下面给出了完整的 traceback。",
        "mode": {True: "快速模式", False: "完整模式"},
        "footer": "本报告由 `{command}` 生成（gradschool {version}，{mode}），"
        "用时 {seconds:.1f} 秒，{date}。",
        "font": "注：本机没有中文字体，所以图里的文字是英文。装一个中文字体（如 Debian 的 "
        "fonts-noto-cjk 或 fonts-wqy-microhei）后重新运行，图里就是中文了。",
    },
}


def _blocks(lecture: Lecture, cells: list[CellResult], language: str) -> list[tuple[str, object]]:
    """The report's content in order: ("md", text), ("code", source), ("output", text),
    ("error", traceback), ("figure", filename), ("note", text)."""
    by_index = {r.index: r for r in cells}
    blocks: list[tuple[str, object]] = []
    for i, cell in enumerate(lecture.cells):
        if cell.kind == "markdown":
            if cell.shown_in(language):
                blocks.append(("md", cell.source))
            continue
        blocks.append(("code", cell.source))
        result = by_index.get(i)
        if result is None or result.status == "skipped":
            blocks.append(("note", _WORDS[language]["not_run"]))
            continue
        output = clean_output(resolve(result.output, language))
        if output:
            blocks.append(("output", output))
        if result.error:
            blocks.append(("error", resolve(result.error, language)))
        for name in result.figures.get(language, []):
            blocks.append(("figure", name))
    return blocks


def write_report(
    lecture: Lecture,
    cells: list[CellResult],
    language: str,
    folder: Path,
    *,
    quick: bool,
    seconds: float,
    command: str,
    figure_note: bool = False,
) -> tuple[Path, Path]:
    """Write folder/report.md and folder/report.html for one language; return both paths."""
    words = _WORDS[language]
    blocks = _blocks(lecture, cells, language)
    failed = next((r for r in cells if r.status == "error"), None)
    banner = ""
    if failed is not None:
        line = failed.error_line
        banner = words["failed"].format(line=line, file=lecture.path.name)
    footer = words["footer"].format(
        command=command,
        version=gradschool.__version__,
        mode=words["mode"][quick],
        seconds=seconds,
        date=_dt.date.today().isoformat(),
    )
    note = words["font"] if figure_note else ""
    folder = Path(folder)
    md_path = folder / "report.md"
    md_path.write_text(_markdown(blocks, words, banner, footer, note), encoding="utf-8")
    html_path = folder / "report.html"
    page = _html_page(
        blocks, words, banner, footer, note, lecture.title(language), language, folder
    )
    html_path.write_text(page, encoding="utf-8")
    return md_path, html_path


def _fence(text: str, info: str = "") -> str:
    """A fenced block longer than any run of backticks inside the text."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{info}\n{text}\n{ticks}"


def _markdown(blocks: list, words: dict, banner: str, footer: str, note: str) -> str:
    parts = [f"> **{banner}**"] if banner else []
    figure = 0
    for kind, value in blocks:
        if kind == "md":
            parts.append(str(value))
        elif kind == "code":
            parts.append(_fence(str(value), "python"))
        elif kind == "output":
            parts.append(f"*{words['output']}:*\n\n" + _fence(str(value), "text"))
        elif kind == "error":
            parts.append(_fence(str(value), "pytb"))
        elif kind == "figure":
            figure += 1
            parts.append(f"![{words['figure']} {figure}]({value})")
        elif kind == "note":
            parts.append(f"*({value})*")
    if note:
        parts.append(f"> {note}")
    parts.append(f"---\n\n*{footer}*")
    return "\n\n".join(parts) + "\n"


# ---- HTML --------------------------------------------------------------------------------------

_CSS = """
body { margin: 0; background: #fafafa; color: #1d1d1f; }
main { max-width: 52rem; margin: 0 auto; padding: 1.5rem 1.2rem 3rem; background: #fff;
  font: 16px/1.6 system-ui, -apple-system, "Segoe UI", "Noto Sans", "PingFang SC",
  "Microsoft YaHei", "Noto Sans CJK SC", sans-serif; }
h1, h2, h3 { line-height: 1.25; } h1 { font-size: 1.8rem; } h2 { margin-top: 2rem; }
pre { padding: .7rem .9rem; overflow-x: auto; border-radius: 6px; font-size: .85rem;
  line-height: 1.45; }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
:not(pre) > code { background: #f0f0f3; padding: .1em .3em; border-radius: 4px; }
pre.code { background: #f5f7fb; border-left: 3px solid #5b7fd6; }
pre.output { background: #fff; border: 1px solid #e3e3e8; color: #333; }
pre.error { background: #fff1f0; border-left: 3px solid #d9363e; color: #8a1c22; }
.label { font-size: .75rem; color: #888; margin: -.4rem 0 .2rem; }
figure { margin: 1rem 0; text-align: center; } figure img { max-width: 100%; height: auto; }
figcaption { font-size: .8rem; color: #777; }
.math { font-family: "Latin Modern Math", "STIX Two Math", "Cambria Math", serif;
  font-style: italic; white-space: nowrap; }
div.math { text-align: center; margin: 1rem 0; overflow-x: auto; }
div.math img { max-width: 100%; }
blockquote { margin: 1rem 0; padding: .2rem 1rem; border-left: 4px solid #ddd; color: #555; }
.banner { background: #fff1f0; border: 1px solid #d9363e; padding: .6rem 1rem; }
.note { color: #777; font-style: italic; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #ddd; padding: .3rem .6rem; }
th { background: #f5f5f7; }
footer { margin-top: 2.5rem; font-size: .8rem; color: #888; border-top: 1px solid #eee; }
"""

# NOTE: the policy lets the page load nothing from anywhere but itself (data: URIs), so a
# report can be opened offline and never fetches from the network.
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def _data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _html_page(
    blocks: list,
    words: dict,
    banner: str,
    footer: str,
    note: str,
    title: str,
    language: str,
    folder: Path,
) -> str:
    body = [f'<p class="banner">{html.escape(banner)}</p>'] if banner else []
    figure = 0
    for kind, value in blocks:
        text = str(value)
        if kind == "md":
            body.append(markdown_to_html(text))
        elif kind == "code":
            body.append(f'<pre class="code"><code>{html.escape(text)}</code></pre>')
        elif kind == "output":
            body.append(f'<div class="label">{words["output"]}</div>')
            body.append(f'<pre class="output">{html.escape(text)}</pre>')
        elif kind == "error":
            body.append(f'<pre class="error">{html.escape(text)}</pre>')
        elif kind == "figure":
            figure += 1
            mime = "image/gif" if text.endswith(".gif") else "image/png"
            uri = _data_uri((folder / text).read_bytes(), mime)
            caption = f"{words['figure']} {figure}"
            body.append(
                f'<figure><img src="{uri}" alt="{caption}"><figcaption>{caption}'
                f"</figcaption></figure>"
            )
        elif kind == "note":
            body.append(f'<p class="note">({html.escape(text)})</p>')
    if note:
        body.append(f"<blockquote>{html.escape(note)}</blockquote>")
    body.append(f"<footer><p>{_inline(footer)}</p></footer>")
    lang_attr = "zh-CN" if language == "zh" else "en"
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{lang_attr}">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n"
        "<body>\n<main>\n" + "\n".join(body) + "\n</main>\n</body>\n</html>\n"
    )


# ---- a small Markdown ---------------------------------------------------------------------------

_LIST = re.compile(r"^( *)([-*+]|\d{1,9}[.)])\s+(.*)$")
_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")


def markdown_to_html(text: str) -> str:
    """The Markdown the lectures use, as HTML (module docstring)."""
    lines = text.replace("\t", "    ").split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if not stripped:
            i += 1
            continue
        fence = re.match(r"^\s*(`{3,}|~{3,})\s*([\w+-]*)", line)
        if fence:
            end = next(
                (j for j in range(i + 1, len(lines)) if lines[j].strip().startswith(fence[1])),
                len(lines),
            )
            code = html.escape("\n".join(lines[i + 1 : end]))
            cls = f' class="language-{fence[2]}"' if fence[2] else ""
            out.append(f'<pre class="code"><code{cls}>{code}</code></pre>')
            i = end + 1
            continue
        if stripped.startswith("$$"):
            rest = stripped[2:]
            if rest.rstrip().endswith("$$") and len(rest.strip()) > 2:
                tex, i = rest.rstrip()[:-2], i + 1
            else:
                body = [rest]
                j = i + 1
                while j < len(lines) and "$$" not in lines[j]:
                    body.append(lines[j])
                    j += 1
                if j < len(lines):
                    body.append(lines[j].split("$$")[0])
                tex, i = "\n".join(body), j + 1
            out.append(display_math(tex))
            continue
        heading = re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if heading:
            level = len(heading[1])
            anchor = re.sub(r"[^\w\u4e00-\u9fff-]+", "-", heading[2].lower()).strip("-")
            out.append(f'<h{level} id="{html.escape(anchor)}">{_inline(heading[2])}</h{level}>')
            i += 1
            continue
        if re.match(r"^\s*([-*_])(\s*\1){2,}\s*$", line):
            out.append("<hr>")
            i += 1
            continue
        if stripped.startswith(">"):
            quoted = []
            while i < len(lines) and lines[i].strip().startswith(">"):
                quoted.append(re.sub(r"^\s*> ?", "", lines[i]))
                i += 1
            out.append(f"<blockquote>{markdown_to_html(chr(10).join(quoted))}</blockquote>")
            continue
        if "|" in line and i + 1 < len(lines) and _TABLE_SEP.match(lines[i + 1]):
            rows = [line]
            i += 2
            while i < len(lines) and "|" in lines[i] and lines[i].strip():
                rows.append(lines[i])
                i += 1
            out.append(_table(rows))
            continue
        if _LIST.match(line):
            block = [line]
            i += 1
            while i < len(lines):
                nxt = lines[i]
                if _other_list(line, nxt):
                    break  # "1." after "-" items at the same depth: a new list
                if not nxt.strip():
                    # A blank line ends the list unless an item or indented text follows.
                    after = next((ln for ln in lines[i + 1 :] if ln.strip()), "")
                    if after and (_LIST.match(after) or after.startswith("  ")):
                        block.append(nxt)
                        i += 1
                        continue
                    break
                if not _LIST.match(nxt) and _starts_block(nxt) and not nxt.startswith("  "):
                    break
                block.append(nxt)
                i += 1
            out.append(_list(block))
            continue
        para = [stripped]
        i += 1
        while i < len(lines) and lines[i].strip() and not _starts_block(lines[i]):
            para.append(lines[i].strip())
            i += 1
        out.append(f"<p>{_inline(chr(10).join(para))}</p>")
    return "\n".join(out)


def _other_list(first: str, line: str) -> bool:
    """Whether `line` starts an item of another kind of list at the depth of `first`."""
    a, b = _LIST.match(first), _LIST.match(line)
    return bool(b) and len(a[1]) == len(b[1]) and a[2][0].isdigit() != b[2][0].isdigit()


def _starts_block(line: str) -> bool:
    s = line.strip()
    return bool(
        re.match(r"^(#{1,6}\s|```|~~~|\$\$|>)", s) or _LIST.match(line) or re.match(r"^-{3,}$", s)
    )


def _list(lines: list[str]) -> str:
    """A list from its lines; items indented deeper than the first form nested lists."""
    first = _LIST.match(lines[0])
    indent = len(first[1])
    ordered = first[2][0].isdigit()
    items: list[list[str]] = []
    for line in lines:
        m = _LIST.match(line)
        if m and len(m[1]) <= indent + 1:
            items.append([m[3]])
        elif items:
            # Continuation or nested content: drop the item's indentation.
            items[-1].append(line[indent + 2 :] if line.startswith(" " * (indent + 2)) else line)
    parts = []
    for item in items:
        content = markdown_to_html("\n".join(item).strip("\n"))
        # A tight item is one paragraph: no <p> around it.
        if content.startswith("<p>") and content.count("<p>") == 1:
            content = content[3:].replace("</p>", "", 1)
        parts.append(f"<li>{content}</li>")
    tag = "ol" if ordered else "ul"
    start = int(re.match(r"\d+", first[2])[0]) if ordered else 1
    attr = f' start="{start}"' if ordered and start != 1 else ""
    return f"<{tag}{attr}>" + "".join(parts) + f"</{tag}>"


def _table(rows: list[str]) -> str:
    def cells(row: str) -> list[str]:
        row = row.strip()
        row = row[1:] if row.startswith("|") else row
        row = row[:-1] if row.endswith("|") else row
        return [c.strip() for c in re.split(r"(?<!\\)\|", row)]

    head = "".join(f"<th>{_inline(c)}</th>" for c in cells(rows[0]))
    body = "".join(
        "<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in cells(r)) + "</tr>" for r in rows[1:]
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_INLINE_MATH = re.compile(r"(?<![\\$\w])\$(?![\s$])([^$\n]+?)(?<![\s\\])\$(?![\w$])")


def _inline(text: str) -> str:
    """Inline Markdown: code spans and $math$ first (their content is literal), then the rest."""
    keep: list[str] = []

    def stash(fragment: str) -> str:
        keep.append(fragment)
        return f"\x00{len(keep) - 1}\x00"

    text = re.sub(r"(`+)(.+?)\1", lambda m: stash(f"<code>{html.escape(m[2])}</code>"), text)
    text = _INLINE_MATH.sub(lambda m: stash(f'<span class="math">{tex_to_html(m[1])}</span>'), text)
    text = html.escape(text, quote=False)
    text = re.sub(
        r"!\[([^\]]*)\]\(([^)\s]+)\)",
        lambda m: stash(f'<img src="{html.escape(m[2])}" alt="{html.escape(m[1])}">'),
        text,
    )
    text = re.sub(
        r"\[([^\]]+)\]\(([^)\s]+)\)", lambda m: f'<a href="{html.escape(m[2])}">{m[1]}</a>', text
    )
    text = re.sub(r"\*\*(.+?)\*\*|__(.+?)__", lambda m: f"<strong>{m[1] or m[2]}</strong>", text)
    # NOTE: * may emphasise inside a word (CommonMark), which Chinese needs: 一个*神经元*、
    text = re.sub(r"\*(?![\s*])(.+?)(?<![\s*])\*", r"<em>\1</em>", text)
    text = re.sub(r"(?<![\w_])_(?!\s)(.+?)(?<!\s)_(?![\w_])", r"<em>\1</em>", text)
    text = re.sub(r"  \n", "<br>\n", text)
    return re.sub(r"\x00(\d+)\x00", lambda m: keep[int(m[1])], text)


# ---- formulas --------------------------------------------------------------------------------

_GREEK = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho "
_GREEK += "sigma tau upsilon phi chi psi omega"
_SYMBOLS = {
    **dict(zip(_GREEK.split(), "αβγδεζηθικλμνξοπρστυφχψω")),
    **dict(zip(_GREEK.title().split(), "ΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩ")),
    "varepsilon": "ε",
    "varphi": "φ",
    "vartheta": "ϑ",
    "nabla": "∇",
    "partial": "∂",
    "sum": "∑",
    "prod": "∏",
    "int": "∫",
    "infty": "∞",
    "times": "×",
    "cdot": "·",
    "cdots": "⋯",
    "ldots": "…",
    "dots": "…",
    "leq": "≤",
    "le": "≤",
    "geq": "≥",
    "ge": "≥",
    "neq": "≠",
    "ne": "≠",
    "approx": "≈",
    "sim": "∼",
    "propto": "∝",
    "to": "→",
    "rightarrow": "→",
    "leftarrow": "←",
    "Rightarrow": "⇒",
    "mapsto": "↦",
    "in": "∈",
    "pm": "±",
    "odot": "⊙",
    "otimes": "⊗",
    "top": "⊤",
    "circ": "∘",
    "forall": "∀",
    "exists": "∃",
    "mid": "|",
    "|": "‖",
    "lVert": "‖",
    "rVert": "‖",
    "Vert": "‖",
    "{": "{",
    "}": "}",
    "_": "_",
    "%": "%",
    "$": "$",
    ",": " ",
    ";": " ",
    ":": " ",
    " ": " ",
    "quad": "  ",
    "qquad": "    ",
    "!": "",
    "left": "",
    "right": "",
    "big": "",
    "Big": "",
    "bigl": "",
    "bigr": "",
    "displaystyle": "",
    "limits": "",
    **{f: f for f in ("log", "exp", "max", "min", "arg", "sin", "cos", "tanh", "softmax")},
}
_WRAPPERS = {
    "mathcal",
    "mathbf",
    "mathrm",
    "mathit",
    "mathsf",
    "boldsymbol",
    "bm",
    "text",
    "textrm",
    "textbf",
    "operatorname",
    "mathbb",
}
_BLACKBOARD = {"R": "ℝ", "N": "ℕ", "Z": "ℤ", "E": "𝔼", "Q": "ℚ", "C": "ℂ"}
_ACCENTS = {"hat": "\u0302", "bar": "\u0304", "tilde": "\u0303", "vec": "\u20d7", "dot": "\u0307"}


def _group(tex: str, i: int) -> tuple[str, int]:
    """The argument at tex[i]: a {braced group} or one token (a \\command or a character)."""
    while i < len(tex) and tex[i] == " ":
        i += 1
    if i >= len(tex):
        return "", i
    if tex[i] == "{":
        depth = 0
        for j in range(i, len(tex)):
            depth += {"{": 1, "}": -1}.get(tex[j], 0)
            if depth == 0:
                return tex[i + 1 : j], j + 1
        return tex[i + 1 :], len(tex)
    m = re.match(r"\\([A-Za-z]+|.)", tex[i:])
    if m:
        return m[0], i + len(m[0])
    return tex[i], i + 1


def _plain(fragment: str) -> str:
    return re.sub(r"<[^>]+>", "", fragment)


def tex_to_html(tex: str) -> str:
    """A formula as text: Unicode symbols, <sub>/<sup>, a/b for fractions. Readable, not
    typeset: what the HTML report shows for inline $...$ and for what mathtext cannot draw."""
    out: list[str] = []
    i = 0
    while i < len(tex):
        c = tex[i]
        if c == "\\":
            m = re.match(r"\\([A-Za-z]+|.)", tex[i:])
            name = m[1] if m else ""
            i += len(m[0]) if m else 1
            if name.isalpha() and re.match(r" [A-Za-z]", tex[i : i + 2]):
                i += 1  # "\partial L" is ∂L: that space only ends the command's name
            if name in ("frac", "dfrac", "tfrac"):
                a, i = _group(tex, i)
                b, i = _group(tex, i)
                a, b = tex_to_html(a), tex_to_html(b)
                a, b = (f"({x})" if re.search(r"[ +−\-=,±]", _plain(x)) else x for x in (a, b))
                out.append(f"{a}/{b}")
            elif name == "sqrt":
                if i < len(tex) and tex[i] == "[":
                    i = tex.find("]", i) + 1 or len(tex)
                a, i = _group(tex, i)
                out.append(f"√({tex_to_html(a)})")
            elif name in _WRAPPERS:
                a, i = _group(tex, i)
                if name == "mathbb":
                    out.append(_BLACKBOARD.get(a, html.escape(a)))
                elif name.startswith("text"):
                    out.append(html.escape(a))
                else:
                    out.append(tex_to_html(a))
            elif name in _ACCENTS:
                a, i = _group(tex, i)
                out.append(tex_to_html(a) + _ACCENTS[name])
            elif name in _SYMBOLS:
                out.append(_SYMBOLS[name])
            else:
                out.append(html.escape(name))
        elif c in "_^":
            a, i = _group(tex, i + 1)
            tag = "sub" if c == "_" else "sup"
            out.append(f"<{tag}>{tex_to_html(a)}</{tag}>")
        elif c == "{":
            a, i = _group(tex, i)
            out.append(tex_to_html(a))
        elif c in "}&":
            i += 1
        elif c == "-":
            out.append("−")
            i += 1
        else:
            out.append(html.escape(c))
            i += 1
    return re.sub(r" {2,}", " ", "".join(out))


def display_math(tex: str) -> str:
    """A $$...$$ block: drawn by matplotlib's mathtext as an inline SVG image; as text when
    mathtext cannot draw it (it knows no environments or line breaks)."""
    flat = " ".join(tex.split())
    svg = None
    if "\\\\" not in flat and "\\begin" not in flat:
        # Display style: mathtext's \frac is the small inline kind; \dfrac is TeX's display one.
        svg = _mathtext_svg(re.sub(r"\\frac(?![a-zA-Z])", r"\\dfrac", flat))
    if svg is not None:
        alt = html.escape(f"$${flat}$$")
        return f'<div class="math"><img src="{_data_uri(svg, "image/svg+xml")}" alt="{alt}"></div>'
    return f'<div class="math">{tex_to_html(flat)}</div>'


def _mathtext_svg(tex: str) -> bytes | None:
    try:
        import matplotlib
        from matplotlib import mathtext
        from matplotlib.font_manager import FontProperties

        buffer = io.BytesIO()
        with matplotlib.rc_context({"svg.fonttype": "path", "mathtext.fontset": "cm"}):
            mathtext.math_to_image(
                f"${tex}$", buffer, prop=FontProperties(size=15), dpi=100, format="svg"
            )
        return buffer.getvalue()
    except Exception:  # noqa: BLE001 - any parse error: fall back to text
        return None


# ---- the list of lectures -----------------------------------------------------------------------


def _width(text: str) -> int:
    """Columns on a terminal: Chinese characters take two."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def format_lecture_list(lectures: list[Lecture], language: str = "en") -> str:
    """The table of `gradschool lecture list`: number, title, estimated quick / full time."""
    head = ("#", "title", "quick", "full") if language == "en" else ("#", "标题", "快速", "完整")
    rows = [head] + [
        (str(lec.number), lec.title(language), lec.time_quick, lec.time_full) for lec in lectures
    ]
    widths = [max(_width(row[k]) for row in rows) for k in range(4)]
    lines = []
    for row in rows:
        cells = [row[0].rjust(widths[0])]
        cells += [cell + " " * (widths[k] - _width(cell)) for k, cell in enumerate(row) if k]
        lines.append("  ".join(cells).rstrip())
    if not lectures:
        lines.append("(no lectures found)" if language == "en" else "（没有找到讲义）")
    return "\n".join(lines)
