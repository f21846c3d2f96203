"""Text in columns: pad by the width a terminal (or a monospace <pre> block) gives it.

A Chinese character takes two columns, so `"损失".ljust(6)` (four columns of text plus four
spaces = eight columns) does not line up under `"loss".ljust(6)`. These functions count
columns instead of code points:

    display_width("损失")           # 4
    pad("损失", 6)                  # "损失  "  (two spaces: 4 + 2 = 6 columns)
    format_text("损失", ">8")       # "    损失"  (a str format spec, counted in columns)

NOTE: "wide" and "fullwidth" characters (Unicode's East Asian Width W and F: Chinese,
Japanese, Korean, fullwidth punctuation such as ，（）) take two columns; combining marks take
none; everything else one. Characters of "ambiguous" width (A: curly quotes, ×, α) count as
one, as Western terminals and monospace fonts draw them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

__all__ = ["display_width", "format_text", "pad", "plural", "top_level"]


def display_width(text: str) -> int:
    """Columns `text` takes on a terminal: 2 per wide character, 0 per combining mark."""
    width = 0
    for ch in str(text):
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def pad(text: str, width: int, align: str = "<", fill: str = " ") -> str:
    """`text` padded with `fill` to `width` columns: align "<" left, ">" right, "^" centre
    (an odd column left over goes right, as with format(text, "^N"))."""
    text = str(text)
    missing = width - display_width(text)
    if missing <= 0:
        return text
    if align == ">":
        return fill * missing + text
    if align == "^":
        left = missing // 2
        return fill * left + text + fill * (missing - left)
    return text + fill * missing


# A format spec as str.__format__ reads it: [[fill]align][0][width][.precision][s]
_SPEC = re.compile(
    r"^(?:(?P<fill>.)?(?P<align>[<>^]))?(?P<zero>0)?(?P<width>\d+)?(?:\.(?P<precision>\d+))?s?$"
)


def format_text(text: str, spec: str) -> str:
    """`format(text, spec)` with the width counted in columns (module docstring). A spec that
    is not a string spec (e.g. "=" alignment) is handed to str.format unchanged."""
    text = str(text)
    m = _SPEC.match(spec)
    if m is None:
        return format(text, spec)
    if m["precision"] is not None:
        text = text[: int(m["precision"])]
    if m["width"] is None:
        return text
    fill = m["fill"] or ("0" if m["zero"] and not m["align"] else " ")
    return pad(text, int(m["width"]), m["align"] or "<", fill)


def plural(count: int, word: str) -> str:
    """'1 figure', '3 figures', '0 figures': an English count with its noun."""
    return f"{count} {word}{'' if count == 1 else 's'}"


def top_level(text: str, opening: str = "([{", closing: str = ")]}") -> Iterator[tuple[int, str]]:
    """Each (index, character) of `text` outside quotes and brackets: where a separator of a
    list of values, or of an expression from its format spec, can stand. Quote and bracket
    characters themselves are never yielded. `opening` / `closing` say which brackets nest."""
    depth, quote = 0, ""
    for i, char in enumerate(text):
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in opening:
            depth += 1
        elif char in closing:
            depth -= 1
        elif depth == 0:
            yield i, char
