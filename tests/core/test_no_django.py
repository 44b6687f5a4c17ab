"""The pure cores (core/) need neither Django nor any app: the robot agent runs on a robot PC and the
policy server on a GPU box with only core/ and its libraries. Checked twice: by running them in a
process where those imports fail, and by reading every core module's imports (function-level ones too)."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import pytest

from tests.no_django import BLOCKED, python_code_without_django, python_without_django
from tests.support import ROOT

CORE = ROOT / "core"


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    # No DJANGO_SETTINGS_MODULE either: nothing may configure Django behind the test's back.
    env = {"PATH": "/usr/bin:/bin", "PYTHONUNBUFFERED": "1"}
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)  # noqa: S603


def test_blocked_process_really_cannot_import_django_or_an_app() -> None:
    # Guards the guard: were the prelude to let Django through, the tests below would prove nothing.
    for name in ("django", "rest_framework", "trials.models", "config.settings"):
        result = _run(python_code_without_django(f"import {name}"))
        assert result.returncode != 0 and "ModuleNotFoundError" in result.stderr, (name, result.stderr)


def test_robot_agent_cli_runs_without_django() -> None:
    result = _run(python_without_django("core.agent", "--help"))
    assert result.returncode == 0, result.stderr
    assert "--server" in result.stdout and "--cell" in result.stdout


def test_policy_server_cli_runs_without_django() -> None:
    result = _run(python_without_django("core.policy.serve", "--help"))
    assert result.returncode == 0, result.stderr
    assert "model" in result.stdout


def _core_modules() -> list[str]:
    return sorted(
        ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for path in CORE.rglob("*.py")
        if path.name != "__main__.py"  # runs the agent on import
    )


def test_every_core_module_imports_without_django() -> None:
    code = (
        "import importlib\n"
        f"for name in {_core_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        "import core.agent.cli\n"
        "print('imported')\n"
    )
    result = _run(python_code_without_django(code))
    assert result.returncode == 0 and "imported" in result.stdout, result.stderr[-3000:]


def _imported_roots(tree: ast.AST) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("path", sorted(CORE.rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_core_module_imports_no_django_and_no_app(path: Path) -> None:
    # Every import statement, at any depth: a function-level import would dodge the subprocess tests
    # above until the function runs.
    forbidden = _imported_roots(ast.parse(path.read_text(), filename=str(path))) & set(BLOCKED)
    assert not forbidden, f"{path.relative_to(ROOT)} imports {sorted(forbidden)}"
