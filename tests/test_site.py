"""The documentation site (scripts/docs): pages staged with links that work on the site,
formulas drawn, a strict build that fails on a broken link, and the built site in headless
Chromium: home page, a lecture in English and in Chinese through the language switch, the API
page, and not one request that leaves the machine.

The site is built ONCE per test session (shared by the xdist workers), from lectures 1 and 3
in quick mode: the same build as `scripts/docs`, on a subset of the course.
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SITE_LECTURES = ["1", "3"]  # small and quick: ~10 s for both, in both languages
CJK = re.compile(r"[\u4e00-\u9fff]")
PNG = b"\x89PNG\r\n\x1a\n"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


build_site = _load("build_site")


def needs_docs_extra() -> None:
    for module in ("mkdocs", "material", "mkdocs_static_i18n", "mkdocstrings_handlers.python"):
        pytest.importorskip(
            module, reason='the docs extra is not installed (pip install ".[docs]")'
        )


# ---- staging: links, formulas, order ------------------------------------------------------------


def stage_page(text: str, staged: str = "docs/x.md", repo_url: str | None = None):
    """Stage one made-up page (as if it were docs/x.md) beside the real docs/ and README."""
    stage, _ = build_site.stage_site(Path("/nonexistent"), None, repo_url)
    stage.page(staged, text, REPO / "docs" / "x.md")
    stage.page("docs/x.zh-CN.md", "# X\n", REPO / "docs" / "x.zh-CN.md")
    return stage.rewrite(text, REPO / "docs" / "x.md", staged), stage


def test_links_are_pointed_at_the_staged_pages():
    text = (
        "[English](x.md)\n[中文](x.zh-CN.md)\n\n"
        "See [the README](../README.md), [the engine](engine.md#where-it-differs-from-torch), "
        "![a figure](figures/surface.png), [the code](../gradschool/engine/tensor.py), "
        "[a site](https://example.org) and [nothing](missing.md).\n\n"
        "`[in code](../README.md)`\n\n```\n[in a block](../README.md)\n```\n"
    )
    out, stage = stage_page(text)
    assert "[the README](../index.md)" in out
    assert "[the engine](engine.md#where-it-differs-from-torch)" in out
    assert "![a figure](figures/surface.png)" in out
    assert "[a site](https://example.org)" in out
    assert "[nothing](missing.md)" in out, "a link to nothing is left for mkdocs --strict"
    # A source file is no page: without a repository URL its link becomes the path as code.
    assert "`the code`" in out and stage.unlinked == ["docs/x.md: gradschool/engine/tensor.py"]
    # The counterpart in the other language: the site's language switch does that.
    assert "中文" not in out and out.startswith("[English](x.md)\n\nSee")
    assert "`[in code](../README.md)`" in out and "[in a block](../README.md)" in out

    out, _ = stage_page(text, repo_url="https://example.org/gradschool")
    assert "[the code](https://example.org/gradschool/blob/main/gradschool/engine/tensor.py)" in out


def test_a_chinese_page_links_to_chinese_pages_and_an_english_copy_keeps_its_anchors():
    stage, nav = build_site.stage_site(Path("/nonexistent"), None)
    zh = stage.rewrite("[引擎](engine.md)", REPO / "docs" / "x.zh-CN.md", "docs/x.zh-CN.md")
    assert zh == "[引擎](engine.zh-CN.md)"
    # benchmarks.md has no Chinese version: the Chinese site gets an English copy with a note,
    # whose links with anchors into translated pages lose the (English) anchor.
    assert "docs/benchmarks.zh-CN.md" in stage.english_copies
    text, source = stage.texts["docs/benchmarks.zh-CN.md"]
    assert "暂无中文版" in text
    copy = stage.rewrite(text, source, "docs/benchmarks.zh-CN.md")
    assert "(optimization.zh-CN.md)" in copy and "optimization.zh-CN.md#" not in copy
    english = stage.rewrite(*stage.texts["docs/benchmarks.md"], "docs/benchmarks.md")
    assert "(optimization.md#" in english


def test_guides_follow_the_readme_and_every_page_is_in_the_nav():
    stage, nav = build_site.stage_site(Path("/nonexistent"), None)
    guides = next(entry["Guides"] for entry in nav if "Guides" in entry)
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Documentation", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"\]\(docs/([a-z_]+)\.md\)", section)
    assert [g.split("/")[1][:-3] for g in guides[: len(listed)]] == list(dict.fromkeys(listed))
    in_nav = set(re.findall(r'"([^"]+\.md)"', json.dumps(nav)))
    english = {s for s in stage.texts if build_site.language_of(s) == "en"}
    assert english == in_nav
    # Every English page has its Chinese page (written or an English copy).
    assert {build_site.counterpart(s) for s in english} <= set(stage.texts)


def test_lecture_reports_their_links_and_the_glossary_find_their_pages(tmp_path):
    """Reports as `gradschool lecture run --out DIR` leaves them, with the links a runner may
    write: the contents page, the glossary, the other language, another lecture, a doc page."""
    docs = os.path.relpath(REPO / "docs" / "engine.md", tmp_path / "01_demo.en")
    for language, other, title in (("en", "zh", "Lecture 1. Demo"), ("zh", "en", "第 1 讲：演示")):
        folder = tmp_path / f"01_demo.{language}"
        folder.mkdir()
        (folder / "fig-02-1.png").write_bytes(PNG + language.encode())
        (folder / "report.md").write_text(
            "[Contents](../index.md) · [Glossary](../glossary.md) · "
            f"[{other}](../01_demo.{other}/report.md)\n\n"
            f"# {title}\n\n![loss](fig-02-1.png)\n\nSee [the engine]({docs}) and "
            f"[lecture 2](../02_next.{language}/report.md).\n",
            encoding="utf-8",
        )
        (tmp_path / f"02_next.{language}").mkdir()
        (tmp_path / f"02_next.{language}" / "report.md").write_text(f"# {title} 2\n", "utf-8")
    (tmp_path / "glossary.md").write_text(
        "# Glossary · 术语表\n\n| term | 术语 | lecture |\n|---|---|---|\n"
        "| loss | 损失 | [1](01_demo.en/report.md) · [1](01_demo.zh/report.md) |\n",
        encoding="utf-8",
    )
    stage, nav = build_site.stage_site(tmp_path / "src", tmp_path)
    course = next(entry["Course"] for entry in nav if "Course" in entry)
    assert course == [
        "lectures/index.md",
        "lectures/01_demo.md",
        "lectures/02_next.md",
        "lectures/glossary.md",
    ]
    assert stage.assets[(tmp_path / "01_demo.zh" / "fig-02-1.png").resolve()] == (
        "lectures/01_demo/fig-02-1.zh-CN.png"  # the i18n plugin gives it to the Chinese page
    )
    pages = {
        staged: text if source is None else stage.rewrite(text, source, staged)
        for staged, (text, source) in stage.texts.items()
        if staged.startswith("lectures/")
    }
    # The runner's navigation bar goes: the site has its own, and the title must come first.
    assert pages["lectures/01_demo.md"].startswith(
        "# Lecture 1. Demo\n\n"
        "![loss](01_demo/fig-02-1.png)\n\nSee [the engine](../docs/engine.md) and "
        "[lecture 2](02_next.md)."
    )
    assert "[the engine](../docs/engine.zh-CN.md)" in pages["lectures/01_demo.zh-CN.md"]
    assert "[lecture 2](02_next.zh-CN.md)" in pages["lectures/01_demo.zh-CN.md"]
    # The glossary is one page in both languages; each site links its own lecture pages.
    assert "[1](01_demo.md) · [1](01_demo.md)" in pages["lectures/glossary.md"]
    assert "[1](01_demo.zh-CN.md) · [1](01_demo.zh-CN.md)" in pages["lectures/glossary.zh-CN.md"]
    assert "暂无中文版" not in pages["lectures/glossary.zh-CN.md"]
    assert "[第 1 讲：演示](01_demo.zh-CN.md)" in pages["lectures/index.zh-CN.md"]


def test_formulas_become_html_outside_code():
    display, inline = build_site._math_renderers()
    text = (
        "Loss $L = \\frac{1}{2}(\\hat{y} - y)^2$ costs $5 and $6.\n\n"
        "$$\n\\theta = \\theta - \\alpha \\nabla_{\\theta} J\n$$\n\n"
        "`$x_i$` stays code.\n\n```python\nprint('$$not math$$', '$x$')\n```\n"
    )
    out = build_site.convert_math(text, display, inline)
    assert out.startswith('Loss <img class="math" src="data:image/svg+xml;base64,'), "inline: SVG"
    assert "costs $5 and $6." in out, "money is not a formula"
    assert '<div class="math"><img src="data:image/svg+xml;base64,' in out
    assert "`$x_i$` stays code." in out
    assert "print('$$not math$$', '$x$')" in out
    inline_only = build_site.convert_math("$a_i^*$", display, inline)
    assert "_" not in inline_only and "*" not in inline_only, "no Markdown left inside the HTML"


def test_the_version_has_one_source():
    try:
        import tomllib
    except ImportError:  # Python 3.10: tomli, a dependency there
        import tomli as tomllib

    import gradschool

    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in pyproject["project"] and "version" in pyproject["project"]["dynamic"]
    dynamic = pyproject["tool"]["setuptools"]["dynamic"]["version"]
    assert dynamic == {"attr": "gradschool.version.__version__"}
    from importlib.metadata import version

    assert version("gradschool") == gradschool.__version__
    changelog = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"## [{gradschool.__version__}]" in changelog, "the CHANGELOG names this version"
    assert (REPO / "gradschool" / "py.typed").is_file()


def test_the_license_covers_the_code_and_names_the_data_notices():
    text = (REPO / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License") and 'THE SOFTWARE IS PROVIDED "AS IS"' in text
    embedded = REPO / "gradschool" / "data" / "embedded"
    for name in ("mnist-mini.npz", "shakespeare-mini.txt.gz"):
        assert (embedded / name).is_file() and f"gradschool/data/embedded/{name}" in text
    for notice in ("LICENSE-MNIST.txt", "NOTICE-shakespeare-mini.txt"):
        assert (embedded / notice).is_file() and notice in text
    assert "CC BY-SA 3.0" in text and "public domain" in text
    for path in re.findall(r"^(scripts/\S+)", text, re.M):
        assert (REPO / path).is_file(), f"LICENSE names {path}, which is not there"
    from importlib.metadata import metadata

    assert metadata("gradschool")["License-Expression"].startswith("MIT")


# ---- the build ----------------------------------------------------------------------------------


def test_a_broken_link_fails_the_strict_build(tmp_path):
    needs_docs_extra()
    src = tmp_path / "src"
    src.mkdir()
    (src / "index.zh-CN.md").write_text("# 首页\n", encoding="utf-8")
    (tmp_path / "site-nav.json").write_text('[{"Home": "index.md"}]', encoding="utf-8")
    (src / "index.md").write_text("# Home\n\n[fine](#home)\n", encoding="utf-8")
    build_site.build(tmp_path / "ok", src)  # the same pages without a broken link build
    (src / "index.md").write_text("# Home\n\n[gone](missing.md)\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="mkdocs build --strict failed"):
        build_site.build(tmp_path / "broken", src)
    (src / "index.md").write_text("# Home\n\n[no anchor](#nowhere)\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="mkdocs build --strict failed"):
        build_site.build(tmp_path / "anchor", src)


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    """The site built from lectures 1 and 3: once per session, whichever xdist worker asks
    first (the others wait on the lock and reuse it)."""
    needs_docs_extra()
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # shared by the workers of this session
    root = base / "gradschool-site"
    root.mkdir(exist_ok=True)
    with open(root / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done, failed = root / "built", root / "failed"
        if failed.exists():
            pytest.fail(f"the site build failed in another worker: {failed.read_text()}")
        if not done.exists():
            try:
                build_site.run_lectures(root / "reports", SITE_LECTURES)
                stage, nav = build_site.stage_site(root / "src", root / "reports")
                stage.write()
                build_site.write_nav(root / "src", nav)
                build_site.build(root / "site", root / "src")
            except BaseException as exc:
                failed.write_text(repr(exc))
                raise
            done.touch()
    return root


def test_the_site_has_every_part(site):
    html = site / "site"
    for page in (
        "index.html",
        "zh-CN/index.html",
        "lectures/index.html",
        "lectures/01_concepts.html",
        "zh-CN/lectures/03_backpropagation.html",
        "docs/engine.html",
        "zh-CN/docs/engine.html",
        "zh-CN/docs/benchmarks.html",
        "api/tensor.html",
        "zh-CN/api/index.html",
        "project/license.html",
    ):
        assert (html / page).is_file(), page
    # Each language shows its own figures: the Chinese report's, with Chinese text.
    for language, prefix in (("en", ""), ("zh", "zh-CN/")):
        page = (html / f"{prefix}lectures/01_concepts.html").read_text(encoding="utf-8")
        figures = re.findall(r'<img[^>]+src="(01_concepts/fig-[^"]+\.png)"', page)
        assert figures, f"no figure in the {language} lecture"
        report = site / "reports" / f"01_concepts.{language}"
        for src in figures:
            data = (html / f"{prefix}lectures" / src).read_bytes()
            assert data[:8] == PNG and data == (report / Path(src).name).read_bytes(), src
        # Each exercise shows its check command; its solution stays folded, as Markdown.
        assert "gradschool lecture check 1 3 --answer" in page
        solutions = re.findall(
            r"<details[^>]*>\s*<summary>([^<]+)</summary>(.*?)</details>", page, re.S
        )
        assert len(solutions) >= 8, f"{language}: hints and solutions are folded in <details>"
        assert all("<p>" in inside or "<ol>" in inside for _, inside in solutions), (
            "Markdown inside"
        )
        assert "203,530" not in re.sub(r"<details.*?</details>", "", page, flags=re.S)
    en_fig = (site / "reports/01_concepts.en/fig-02-1.png").read_bytes()
    assert en_fig != (site / "reports/01_concepts.zh/fig-02-1.png").read_bytes()
    api = (html / "api" / "tensor.html").read_text(encoding="utf-8")
    assert 'id="gradschool.engine.tensor.Tensor"' in api and "backward" in api


_EXTERNAL = re.compile(
    r"""<(?:script|link|img|iframe|source|video|audio|embed|object)\b[^>]*?"""
    r"""\b(?:src|href|data|srcset)\s*=\s*["']?\s*((?:https?:)?//[^"'\s>]+)""",
    re.I,
)


def external_resources(page: str) -> list[str]:
    """URLs on other machines that a page's tags load (an <a href> is only a link)."""
    found = _EXTERNAL.findall(page)
    found += re.findall(r"""@import\s+(?:url\()?["']?((?:https?:)?//[^"')\s]+)""", page)
    found += re.findall(r"""url\(\s*["']?((?:https?:)?//[^"')\s]+)""", page)
    return list(dict.fromkeys(found))


def test_no_page_loads_anything_from_the_network(site):
    pages = sorted((site / "site").rglob("*.html"))
    assert len(pages) > 20
    bad = {str(p): external_resources(p.read_text(encoding="utf-8")) for p in pages}
    assert not {k: v for k, v in bad.items() if v}
    for css in (site / "site").rglob("*.css"):
        assert not external_resources(css.read_text(encoding="utf-8")), css
    # The check itself: a page with a CDN script, a web font and an image is caught.
    assert external_resources(
        '<script src="https://cdn.example.org/x.js"></script>'
        "<link rel=stylesheet href=//fonts.example.net/css>"
        "<style>@import url('https://fonts.example.com/a.css')</style>"
        '<a href="https://example.org">a link is fine</a>'
    ) == [
        "https://cdn.example.org/x.js",
        "//fonts.example.net/css",
        "https://fonts.example.com/a.css",
    ]


# ---- in a browser -------------------------------------------------------------------------------


@pytest.fixture
def browser(tmp_path):
    from cdp import Browser, find_browser

    if find_browser() is None:
        pytest.skip("no Chromium/Chrome found (.ci/run installs Debian's chromium)")
    with Browser.start(tmp_path / "profile") as running:
        yield running


IMAGES = "[...document.images].map(i => i.complete && i.naturalWidth > 0)"
# Material looks up sitemap.xml to keep the page when the language changes; from file:// the
# browser refuses that fetch and the switch falls back to the link, which is the same page.
SITEMAP = re.compile(r"^file://.*/sitemap\.xml$")


SEARCH = """(async (words) => {
  const input = document.querySelector('input.md-search__input');
  input.focus();
  input.value = words;
  input.dispatchEvent(new Event('input', {bubbles: true}));
  input.dispatchEvent(new KeyboardEvent('keyup', {bubbles: true}));
  for (let i = 0; i < 150; i++) {
    const found = document.querySelectorAll('.md-search-result__item').length;
    if (found) return found;
    await new Promise(r => setTimeout(r, 100));
  }
  return 0;
})"""


def search(page, words: str) -> int:
    """How many results the site's search box lists for `words` (0 after 15 s)."""
    return page.evaluate(f"{SEARCH}({json.dumps(words)})", timeout=60)


def check_page(page, title: str, language: str, h1: str) -> None:
    assert title in page.evaluate("document.title")
    assert page.evaluate("document.documentElement.lang") == language
    assert h1 in page.evaluate("document.querySelector('h1').textContent")
    images = page.evaluate(IMAGES)
    assert all(images), f"{images.count(False)} of {len(images)} images did not load"


def test_the_site_renders_in_headless_chromium_and_stays_offline(site, browser):
    root = (site / "site").as_uri()
    page = browser.new_page()

    page.goto(f"{root}/index.html")
    check_page(page, "gradschool", "en", "gradschool")
    assert page.evaluate("document.querySelectorAll('nav.md-nav a').length") > 20

    page.goto(f"{root}/lectures/01_concepts.html")
    check_page(page, "Lecture 1", "en", "Lecture 1")
    assert len(page.evaluate(IMAGES)) >= 3, "the lecture's figures and formulas"
    assert page.evaluate("document.querySelectorAll('pre code').length") > 3, "code and output"

    # The language switch leads to the same lecture in Chinese.
    page.click('a.md-select__link[hreflang="zh-CN"]')
    assert page.evaluate("location.href") == f"{root}/zh-CN/lectures/01_concepts.html"
    check_page(page, "第 1 讲", "zh", "第 1 讲")
    assert CJK.search(page.evaluate("document.querySelector('nav.md-nav').textContent"))
    page.click('a.md-select__link[hreflang="en"]')
    assert page.evaluate("location.href") == f"{root}/lectures/01_concepts.html"

    page.goto(f"{root}/zh-CN/lectures/03_backpropagation.html")
    check_page(page, "第 3 讲", "zh", "反向传播")
    assert page.evaluate("document.querySelectorAll('div.math img').length") >= 2

    page.goto(f"{root}/api/tensor.html")
    check_page(page, "Tensor", "en", "Tensor")
    headings = page.evaluate("[...document.querySelectorAll('.doc-heading')].map(h => h.id)")
    assert "gradschool.engine.tensor.Tensor" in headings
    assert "gradschool.engine.tensor.Tensor.backward" in headings

    # Search runs from disk too (its worker in an iframe, the index as a script), in English
    # and in Chinese (cut into words by jieba at build time).
    assert search(page, "backward") > 0, "search found nothing"
    page.goto(f"{root}/zh-CN/index.html")
    assert search(page, "梯度") > 0, "Chinese search found nothing"

    assert page.requests, "the request log is empty: the check would see nothing"
    assert page.external_requests() == [], "the site asked the network for these"
    failed = [(u, e) for u, e in page.failed if not SITEMAP.match(u)]
    assert failed == [], "files the site links to but does not have"
    assert page.exceptions == []


def test_the_browser_check_sees_a_request_to_the_network(site, browser, tmp_path):
    """A page of the site with what a careless theme or plugin adds: a CDN script, a web
    font, an image and a fetch(); and a page whose web worker fetches. Every request is seen,
    and none left the machine (--host-resolver-rules answers 'not found' for every host)."""
    copy = tmp_path / "site"
    shutil.copytree(site / "site", copy)
    page_file = copy / "index.html"
    text = page_file.read_text(encoding="utf-8")
    page_file.write_text(
        text.replace(
            "</head>",
            '<script src="https://cdn.example.org/lib.js"></script>'
            '<link rel="stylesheet" href="https://fonts.example.net/css?family=Noto">'
            "</head>",
        ).replace(
            "</body>",
            '<img src="https://images.example.com/logo.png">'
            "<script>fetch('https://api.example.com/stats').catch(() => 0)</script></body>",
        ),
        encoding="utf-8",
    )
    page = browser.new_page()
    page.goto(page_file.as_uri(), settle=2.0)
    seen = page.external_requests()
    for url in (
        "https://cdn.example.org/lib.js",
        "https://fonts.example.net/css?family=Noto",
        "https://images.example.com/logo.png",
        "https://api.example.com/stats",
    ):
        assert url in seen, f"{url} was requested but not seen: {seen}"
    assert dict(page.failed)["https://cdn.example.org/lib.js"] == "net::ERR_NAME_NOT_RESOLVED"

    # A worker's requests are seen too. (Not on the site's page: on file:// Material's shim
    # runs workers in an iframe.)
    worker = tmp_path / "worker.html"
    code = json.dumps("fetch('https://worker.example.com/ping').catch(() => 0)")
    worker.write_text(
        f"<script>new Worker(URL.createObjectURL(new Blob([{code}],"
        " {type: 'text/javascript'})))</script>",
        encoding="utf-8",
    )
    page = browser.new_page()
    page.goto(worker.as_uri(), settle=2.0)
    assert page.external_requests() == ["https://worker.example.com/ping"]
