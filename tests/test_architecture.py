"""The one-way import rule (pyproject.toml [tool.importlinter], docs/architecture.md) is part of
`make test`, not only of `make lint`: the contracts must hold on the tree, and must catch a back-arrow."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _contracts() -> dict[str, dict[str, Any]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return {c["id"]: c for c in config["contracts"]}


def _lint_imports(cwd: Path, config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", "--config", str(config)],
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(cwd), "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_tree_keeps_every_import_contract() -> None:
    run = _lint_imports(ROOT, ROOT / "pyproject.toml")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


def test_layers_run_from_config_down_to_core() -> None:
    layers = _contracts()["layers"]["layers"]
    assert layers == ["config", "demo", "reports", "trials", "policies", "robots", "accounts", "common", "core"]


def test_a_back_arrow_or_django_in_core_breaks_the_contracts(tmp_path: Path) -> None:
    """The same contracts over a tree of empty layers with three faults: a function-level import that
    points up (accounts -> trials), robots reading trials, and core importing Django."""
    contracts = _contracts()
    layers, pure = contracts["layers"], contracts["pure-core"]
    for name in layers["layers"]:
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("")
    (tmp_path / "accounts" / "views.py").write_text("def page():\n    from trials import models\n")
    (tmp_path / "robots" / "views.py").write_text("import trials\n")
    (tmp_path / "core" / "stats.py").write_text("import django\n")
    config = tmp_path / "importlinter.toml"
    config.write_text(
        textwrap.dedent(
            f"""\
            [tool.importlinter]
            root_packages = {layers["layers"]!r}
            include_external_packages = true

            [[tool.importlinter.contracts]]
            id = "layers"
            name = "layers"
            type = "layers"
            layers = {layers["layers"]!r}

            [[tool.importlinter.contracts]]
            id = "pure-core"
            name = "pure core"
            type = "forbidden"
            source_modules = {pure["source_modules"]!r}
            forbidden_modules = {pure["forbidden_modules"]!r}
            """
        )
    )
    (tmp_path / "trials" / "models.py").write_text("")
    run = _lint_imports(tmp_path, config)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "accounts is not allowed to import trials" in run.stdout
    assert "robots is not allowed to import trials" in run.stdout
    assert "core is not allowed to import django" in run.stdout
    assert "0 kept, 2 broken" in run.stdout


def _cycles(imports: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in imports[module]:
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in imports:
        if module not in index:
            visit(module)
    return found


def test_no_import_cycle_between_any_modules() -> None:
    """Not only between apps: inside one too (trials' services, runner and tasks once imported each other
    through function-level imports, which count here as well)."""
    import grimp

    packages = _contracts()["layers"]["layers"]
    graph = grimp.build_graph(*packages, cache_dir=None)
    ours = {m for m in graph.modules if m.split(".")[0] in packages}
    imports = {m: {i for i in graph.find_modules_directly_imported_by(m) if i in ours} for m in ours}
    assert _cycles(imports) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
