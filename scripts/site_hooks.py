"""mkdocs hooks for the site (mkdocs.yml `hooks:`).

The pages are staged by scripts/build_site.py, which also writes their order (the lectures
found, docs/ in README's order, ...) to site-nav.json beside the staged folder; mkdocs takes
it as its `nav` here, so mkdocs.yml needs no list of pages that changes with them. With
GRADSCHOOL_SITE_SRC set (the tests do), mkdocs.yml takes the pages from that folder.
"""

from __future__ import annotations

import json
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError

NAV_FILE = "site-nav.json"  # beside the staged folder (build/site-src -> build/site-nav.json)


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    path = Path(config.docs_dir).parent / NAV_FILE
    if not path.is_file():
        raise PluginError(
            f"no {path}: stage the pages first with scripts/docs (or "
            f"python scripts/build_site.py --stage-only), then run mkdocs"
        )
    config.nav = json.loads(path.read_text(encoding="utf-8"))
    return config
