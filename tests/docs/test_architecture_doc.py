"""docs/architecture.md is where a newcomer finds their room: the README points to it and to the metric
definitions, and every top-level package of the repository is described there."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"
README = ROOT / "README.md"


def _readme_section(title: str) -> str:
    text = README.read_text()
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def test_readme_architecture_section_links_the_architecture_and_metrics_docs() -> None:
    section = _readme_section("Architecture")
    assert "(docs/architecture.md)" in section and "(docs/metrics.md)" in section


def test_every_relative_link_in_readme_and_docs_resolves() -> None:
    for source in (README, DOC, ROOT / "docs" / "metrics.md"):
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", source.read_text()):
            assert (source.parent / target).exists(), f"{source.name}: {target}"


def test_every_top_level_package_has_its_room_in_the_doc() -> None:
    text = DOC.read_text()
    packages = sorted(p.parent.name for p in ROOT.glob("*/__init__.py") if p.parent.name not in {"tests", "bench"})
    assert {"core", "common", "accounts", "config"} <= set(packages)
    missing = [name for name in packages if f"`{name}/`" not in text]
    assert missing == [], f"packages not described in docs/architecture.md: {missing}"
