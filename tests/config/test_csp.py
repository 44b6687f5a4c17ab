"""The Content-Security-Policy and the markup it needs: every page carries the policy, and no template holds
what it refuses (inline scripts, inline event handlers, style attributes or elements, javascript: URLs).
tests/e2e/test_csp_browser.py checks the same in Chromium, page by page."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = sorted((ROOT / "templates").rglob("*.html"))
HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"\sstyle\s*=", re.IGNORECASE)
SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)
TEMPLATE_COMMENT = re.compile(r"{%\s*comment\s*%}.*?{%\s*endcomment\s*%}|{#.*?#}", re.DOTALL)


def _scripts_without_src(text: str) -> list[str]:
    """Opening <script> tags that would run inline code: no src and not a JSON data block."""
    return [tag for tag in SCRIPT_TAG.findall(text) if "src=" not in tag and 'type="application/json"' not in tag]


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT / "templates")))
def test_template_has_nothing_the_policy_refuses(path: Path) -> None:
    text = TEMPLATE_COMMENT.sub("", path.read_text(encoding="utf-8"))
    assert not HANDLER.findall(text), "inline event handler: use a data- attribute and static/js/app.js"
    assert not STYLE_ATTRIBUTE.findall(text), "style attribute: use a class (or data-bar-width)"
    assert "<style" not in text.lower(), "<style> element: use a stylesheet in static/css/"
    assert "javascript:" not in text.lower()
    assert _scripts_without_src(text) == [], "inline <script>: move the code to static/js/"


def test_the_rules_see_what_they_forbid() -> None:
    bad = '<button onclick="go()">x</button><p style="margin:0"></p><script>alert(1)</script>'
    assert HANDLER.findall(bad) and STYLE_ATTRIBUTE.findall(bad) and _scripts_without_src(bad)
    assert not _scripts_without_src(
        '<script src="/static/js/app.js" defer></script><script type="application/json" id="x">{}</script>'
    )
    assert not HANDLER.findall('<div data-confirm="Sure?" hx-trigger="load">')


def test_pages_carry_a_strict_policy(client: Any, settings: Any) -> None:
    policy = client.get("/login/").headers["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval'
    assert directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"


def test_api_docs_serve_their_script_as_a_file(client: Any) -> None:
    page = client.get("/api/v1/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert _scripts_without_src(html) == [] and "<style" not in html
    script = client.get("/api/v1/docs/?script")
    assert script.status_code == 200 and b"SwaggerUIBundle" in script.content


def test_plotly_css_matches_the_vendored_bundle() -> None:
    # After a plotly upgrade, `python scripts/plotly_css.py` rewrites the file; this fails until then.
    result = subprocess.run(
        [sys.executable, "scripts/plotly_css.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )  # noqa: S603
    assert result.returncode == 0, result.stderr
