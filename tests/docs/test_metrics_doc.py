"""docs/metrics.md is the definition the statistics and ROI code follow (issue 14 item 16): it is in the
repository, the modules cite it, and every function it names exists."""

from __future__ import annotations

import re
from pathlib import Path

from core import montecarlo, paired, ranking, roi, stats

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "metrics.md"


def test_the_modules_cite_the_metrics_file_in_the_repository() -> None:
    assert DOC.is_file()
    for module in (stats, roi, paired, ranking):
        source = Path(module.__file__).read_text()  # type: ignore[arg-type]
        assert "docs/metrics.md" in source
        assert "/work/" not in source  # no path outside the repository


def test_every_function_the_doc_names_exists_in_the_code() -> None:
    names = set(re.findall(r"`([a-z][a-z_]*)`", DOC.read_text()))
    code = {n for module in (stats, roi, montecarlo, paired, ranking) for n in dir(module)}
    named_functions = {n for n in names if "_" in n and not n.startswith(("bins", "exact"))}
    missing = {n for n in named_functions if n not in code}
    assert named_functions and not missing, missing
