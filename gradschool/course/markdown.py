"""Markdown to HTML for the reports: markdown-it-py (CommonMark and tables) plus three rules
of our own.

- **Formulas.** `$$...$$` (a block) and `$...$` (inline) are drawn by matplotlib's mathtext
  into SVG images embedded as data: URIs: no TeX installation, no network, no script. A
  formula mathtext cannot draw is shown as its TeX source (`<code class="tex">`).
- **Heading anchors.** Every heading gets an id made from its text (`## Idea` -> `idea`), so a
  report can be linked section by section.
- **Chinese line breaks.** A line break between two Chinese characters is dropped (a browser
  would show it as a space).
- **Cross-references.** "lecture 3" / "第 3 讲" and `docs/optimization.md` become links when a
  `links` function is given: `links("lecture", 3)` and `links("doc", "optimization.md")` return
  the href, or None to leave the text as it is. Headings and links are left alone.

    markdown_to_html("Descent: $\\\\theta - \\\\alpha g$, lecture 2.", links)
"""

from __future__ import annotations

import base64
import functools
import html
import io
import re
import unicodedata
from collections.abc import Callable

from markdown_it import MarkdownIt
from markdown_it.rules_block import StateBlock
from markdown_it.rules_core import StateCore
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token

__all__ = ["LinkResolver", "data_uri", "display_math", "inline_math", "markdown_to_html"]

# links("lecture", 3) or links("doc", "optimization.md") -> href, or None for no link.
LinkResolver = Callable[[str, object], "str | None"]


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


# ---- formulas ----------------------------------------------------------------------------------

_CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


# TeX that mathtext spells differently (or not at all): rewritten before drawing.
_ALIASES = (
    (re.compile(r"\\le(?![a-zA-Z])"), r"\\leq"),
    (re.compile(r"\\ge(?![a-zA-Z])"), r"\\geq"),
    (re.compile(r"\\[lr]Vert(?![a-zA-Z])"), r"\\Vert"),
    (re.compile(r"\\tfrac(?![a-zA-Z])"), r"\\frac"),
    (re.compile(r"\\!"), ""),  # a thin negative space
)


@functools.lru_cache(maxsize=4096)
def _mathtext_svg(tex: str, size: float) -> tuple[bytes, float] | None:
    """The formula as SVG and its depth below the baseline (pt), or None if mathtext cannot
    draw it. Cached: the English and Chinese reports share most formulas."""
    try:
        import matplotlib
        from matplotlib import mathtext
        from matplotlib.font_manager import FontProperties

        rc = {"svg.fonttype": "path", "mathtext.fontset": "cm", "savefig.transparent": True}
        if _CJK.search(tex):
            # Chinese inside \text{...}: mathtext's Computer Modern has no such glyphs, so the
            # text font is a Chinese one and the symbols fall back to Computer Modern.
            from gradschool.plots import cjk_font

            font = cjk_font()
            if font is None:
                return None
            rc |= {"mathtext.fontset": "custom", "mathtext.rm": font, "mathtext.fallback": "cm",
                   "mathtext.cal": "DejaVu Sans"}  # fmt: skip
        for pattern, replacement in _ALIASES:
            tex = pattern.sub(replacement, tex)
        buffer = io.BytesIO()
        with matplotlib.rc_context(rc):  # type: ignore[arg-type]  # (the stub wants literal keys)
            depth = mathtext.math_to_image(
                f"${tex}$", buffer, prop=FontProperties(size=size), dpi=72, format="svg"
            )
        # The metadata holds the date of drawing: without it, a report is the same bytes each
        # time it is built.
        svg = re.sub(rb"<metadata>.*?</metadata>\s*", b"", buffer.getvalue(), flags=re.S)
        return svg, float(depth)
    except Exception:  # noqa: BLE001 - any parse or font error: the caller shows the source
        return None


def _tex_source(tex: str, display: bool) -> str:
    marks = "$$" if display else "$"
    return f'<code class="tex">{html.escape(marks + tex + marks)}</code>'


def inline_math(tex: str) -> str:
    """A $...$ formula: an SVG image sitting on the text's baseline."""
    drawn = _mathtext_svg(" ".join(tex.split()), 12.0)
    if drawn is None:
        return _tex_source(tex, display=False)
    svg, depth = drawn
    alt = html.escape(f"${tex}$")
    return (
        f'<img class="math" src="{data_uri(svg, "image/svg+xml")}" alt="{alt}" '
        f'style="vertical-align: -{depth:.2f}pt">'
    )


def display_math(tex: str) -> str:
    """A $$...$$ block: one centred SVG image. mathtext knows no environments or line breaks,
    and its \\frac is the small inline kind, so \\dfrac (TeX's display fraction) is used."""
    flat = " ".join(tex.split())
    drawn = None
    if "\\\\" not in flat and "\\begin" not in flat:
        drawn = _mathtext_svg(re.sub(r"\\frac(?![a-zA-Z])", r"\\dfrac", flat), 15.0)
    if drawn is None:
        return f'<div class="math">{_tex_source(flat, display=True)}</div>'
    alt = html.escape(f"$${flat}$$")
    return f'<div class="math"><img src="{data_uri(drawn[0], "image/svg+xml")}" alt="{alt}"></div>'


def _math_block(state: StateBlock, start: int, end: int, silent: bool) -> bool:
    """`$$` at the start of a line opens a formula that runs to the next `$$` (the same line
    or a later one)."""
    pos = state.bMarks[start] + state.tShift[start]
    if state.sCount[start] - state.blkIndent >= 4 or not state.src.startswith("$$", pos):
        return False
    first = state.src[pos + 2 : state.eMarks[start]]
    if "$$" in first:  # $$ ... $$ on one line
        body, line = first[: first.index("$$")], start + 1
    else:
        lines, line = [first], start + 1
        while line < end:
            text = state.src[state.bMarks[line] + state.tShift[line] : state.eMarks[line]]
            if "$$" in text:
                lines.append(text[: text.index("$$")])
                break
            lines.append(text)
            line += 1
        else:
            return False  # never closed: not a formula
        body, line = "\n".join(lines), line + 1
    if silent:
        return True
    token = state.push("math_block", "math", 0)
    token.content, token.markup, token.map = body.strip(), "$$", [start, line]
    state.line = line
    return True


def _math_inline(state: StateInline, silent: bool) -> bool:
    """`$tex$`: the opening $ is followed by a non-space; the next unescaped $ closes it, and
    must be preceded by a non-space and not followed by a digit or letter. So "$5 and $6"
    stays text; write `\\$` for a dollar sign next to a formula."""
    src, pos = state.src, state.pos
    if src[pos] != "$" or src.startswith("$$", pos):
        return False
    if pos > 0 and (src[pos - 1].isalnum() or src[pos - 1] == "$"):
        return False
    if pos + 1 >= state.posMax or src[pos + 1].isspace():
        return False
    close = pos + 1
    while True:
        close = src.find("$", close)
        if close < 0 or close >= state.posMax:
            return False
        if src[close - 1] != "\\":  # \$ inside a formula is part of it
            break
        close += 1
    after = src[close + 1 : close + 2]
    if src[close - 1].isspace() or (after and (after.isalnum() or after == "$")):
        return False
    if "\n\n" in src[pos:close]:
        return False
    if not silent:
        token = state.push("math_inline", "math", 0)
        token.content, token.markup = src[pos + 1 : close], "$"
    state.pos = close + 1
    return True


# ---- heading anchors and cross-references -----------------------------------------------------


def slug(text: str) -> str:
    """The anchor of a heading: lower case, runs of other characters become one '-'."""
    return re.sub(r"[^\w\u4e00-\u9fff-]+", "-", text.lower()).strip("-")


def _anchors(state: StateCore) -> None:
    tokens = state.tokens
    for i, token in enumerate(tokens[:-1]):
        if token.type == "heading_open" and tokens[i + 1].type == "inline":
            token.attrSet("id", slug(tokens[i + 1].content))


# "lecture 3", "Lectures 4 and 8", "lectures 1-3"; "第 3 讲", "第3讲", "第 4、8 讲".
_EN_REF = re.compile(r"\b[Ll]ectures?\s+\d+(?:\s*(?:,|and|or|&|–|-)\s*\d+)*\b")
_ZH_REF = re.compile(r"第\s?\d+(?:\s?[、和与及,，-]\s?\d+)*\s?讲")
_DOC = re.compile(r"(?<![\w/])docs/([\w.-]+\.md)(#[\w-]+)?")


def _link_tokens(href: str, text: str) -> list[Token]:
    opening = Token("link_open", "a", 1)
    opening.attrSet("href", href)
    opening.attrSet("class", "xref")
    inner = Token("text", "", 0)
    inner.content = text
    return [opening, inner, Token("link_close", "a", -1)]


def _split_text(text: str, links: LinkResolver) -> list[Token] | None:
    """The text as tokens with its references linked, or None when nothing was linked."""
    spans: list[tuple[int, int, str]] = []  # (start, end, href)
    for m in [*_EN_REF.finditer(text), *_ZH_REF.finditer(text)]:
        numbers = list(re.finditer(r"\d+", m[0]))
        for k, num in enumerate(numbers):
            href = links("lecture", int(num[0]))
            if not href:
                continue
            # "lecture 3" and "第 3 讲" link as a whole; in "lectures 4 and 8" the first link
            # is "lectures 4", the second "8".
            start = m.start() if k == 0 else m.start() + num.start()
            end = m.end() if len(numbers) == 1 else m.start() + num.end()
            spans.append((start, end, href))
    for m in _DOC.finditer(text):
        href = links("doc", m[1])
        if href:
            spans.append((m.start(), m.end(), href + (m[2] or "")))
    if not spans:
        return None
    spans.sort()
    out: list[Token] = []
    at = 0
    for start, end, href in spans:
        if start < at:
            continue  # overlapping matches: the first wins
        if start > at:
            plain = Token("text", "", 0)
            plain.content = text[at:start]
            out.append(plain)
        out += _link_tokens(href, text[start:end])
        at = end
    if at < len(text):
        rest = Token("text", "", 0)
        rest.content = text[at:]
        out.append(rest)
    return out


def _cross_references(state: StateCore) -> None:
    links = state.env.get("links")
    if links is None:
        return
    tokens = state.tokens
    for i, block in enumerate(tokens):
        if block.type != "inline" or not block.children:
            continue
        if i > 0 and tokens[i - 1].type == "heading_open":
            continue
        children: list[Token] = []
        depth = 0
        for child in block.children:
            depth += {"link_open": 1, "link_close": -1}.get(child.type, 0)
            if depth == 0 and child.type == "text":
                children += _split_text(child.content, links) or [child]
            elif depth == 0 and child.type == "code_inline":
                m = _DOC.fullmatch(child.content)
                href = links("doc", m[1]) if m else None
                if m and href:
                    opening, _, closing = _link_tokens(href + (m[2] or ""), "")
                    children += [opening, child, closing]
                else:
                    children.append(child)
            else:
                children.append(child)
        block.children = children


# ---- the parser --------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    md.block.ruler.before(
        "fence", "math_block", _math_block, {"alt": ["paragraph", "reference", "blockquote"]}
    )
    md.inline.ruler.after("escape", "math_inline", _math_inline)
    md.core.ruler.push("anchors", _anchors)
    md.core.ruler.push("cross_references", _cross_references)
    md.add_render_rule("math_inline", _render_inline_math)
    md.add_render_rule("math_block", _render_math_block)
    md.add_render_rule("softbreak", _render_softbreak)
    return md


def _wide(ch: str) -> bool:
    return bool(ch) and unicodedata.east_asian_width(ch) in ("W", "F")


def _render_softbreak(self: object, tokens: list[Token], i: int, options: object, env: dict) -> str:
    """A line break inside a paragraph. NOTE: browsers show it as a space, which Chinese does
    not put between its characters ("每条 路径"), so between two wide characters it goes."""
    before = tokens[i - 1].content[-1:] if i > 0 else ""
    after = tokens[i + 1].content[:1] if i + 1 < len(tokens) else ""
    return "" if _wide(before) and _wide(after) else "\n"


def _render_inline_math(
    self: object, tokens: list[Token], i: int, options: object, env: dict
) -> str:
    return inline_math(tokens[i].content)


def _render_math_block(
    self: object, tokens: list[Token], i: int, options: object, env: dict
) -> str:
    return display_math(tokens[i].content) + "\n"


def markdown_to_html(text: str, links: LinkResolver | None = None) -> str:
    """Markdown (CommonMark, tables, formulas) as HTML; `links` resolves cross-references
    (module docstring). Raw HTML in the text is escaped, not passed through."""
    return _parser().render(text, {"links": links} if links is not None else {})
