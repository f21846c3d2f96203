"""A Griffe extension for the site's API pages (mkdocs.yml loads it through mkdocstrings).

The engine's docstrings are prose for people reading the code, where `x[i][j]` is indexing.
Rendered as Markdown, an unquoted `a[i][j]` is a reference link `[i][j]`, which mkdocstrings
reports as a missing cross-reference target (and the page would show a broken link). Here
`][` outside code spans becomes `]\\[`, which Markdown shows as the `][` that was written.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_CODE = re.compile(r"(`+)[\s\S]+?\1|^(?: {4}|\t)[^\n]*", re.M)  # code spans, indented code


def escape_indexing(text: str) -> str:
    """`][` outside code as `]\\[`: indexing, not a Markdown reference link."""
    out, last = [], 0
    for m in _CODE.finditer(text):
        out.append(text[last : m.start()].replace("][", "]\\["))
        out.append(m[0])
        last = m.end()
    out.append(text[last:].replace("][", "]\\["))
    return "".join(out)


class IndexingBrackets(griffe.Extension):
    """Escape indexing brackets in every docstring that Griffe loads."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = escape_indexing(obj.docstring.value)
