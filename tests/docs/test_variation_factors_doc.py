"""docs/variation-factors.md lists every variation factor of every built-in cell, with its range."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.sim import cell_make
from core.sim.variation import FactorKind

DOC = Path(__file__).resolve().parents[2] / "docs" / "variation-factors.md"


@pytest.mark.parametrize(
    "cell_key",
    ["factory-kitting", "factory-kitting-arm", "tabletop-reach-2d", "fetch-pick-and-place", "metaworld-pick-place-v3"],
)
def test_every_factor_is_in_the_doc_with_its_unit_and_range(cell_key: str) -> None:
    text = DOC.read_text()
    section = text.split(f"### `{cell_key}`", 1)[1].split("###", 1)[0]
    cell = cell_make(cell_key)
    try:
        for factor in cell.factors():
            row = next(line for line in section.splitlines() if line.startswith(f"| `{factor.key}` |"))
            assert f"| {factor.unit} |" in row
            if factor.kind is FactorKind.CATEGORY:
                assert ", ".join(factor.choices) in row
            else:
                assert f"{factor.low:g} .. {factor.high:g}" in row
    finally:
        cell.close()


def test_readme_links_the_doc() -> None:
    assert "docs/variation-factors.md" in (DOC.parents[1] / "README.md").read_text()
