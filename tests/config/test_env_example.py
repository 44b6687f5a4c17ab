"""`.env.example` lists every environment variable the server reads, each with one comment line saying what
it means and its default, and nothing else: a new `env_*()` call in config/settings.py without an entry fails."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = ROOT / "config" / "settings.py"
ENV_EXAMPLE = ROOT / ".env.example"
ENV_HELPERS = {"env_str", "env_bool", "env_int", "env_float", "env_list"}
# Server-side packages whose modules may read the environment directly (outside settings).
SERVER_PACKAGES = ("accounts", "robots", "policies", "trials", "reports", "common", "config")
ENTRY = re.compile(r"^([A-Z][A-Z0-9_]*)=(.*)$")


def _call_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        owner = func.value
        prefix = owner.attr if isinstance(owner, ast.Attribute) else owner.id if isinstance(owner, ast.Name) else ""
        return f"{prefix}.{func.attr}"
    return ""


def _first_string(node: ast.Call) -> str | None:
    if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
        return node.args[0].value
    return None


def settings_variables(source: str) -> set[str]:
    """Names passed to config/env.py's readers in `source`; fails on a name that is not a literal."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and _call_name(node) in ENV_HELPERS:
            name = _first_string(node)
            assert name is not None, f"line {node.lineno}: env_*() with a computed name cannot be checked"
            names.add(name)
    return names


def direct_reads(source: str) -> set[str]:
    """Names read with os.environ.get(...) / os.getenv(...) / os.environ[...] (writes such as setdefault are not reads)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and _call_name(node) in {"environ.get", "os.getenv"}:
            name = _first_string(node)
            if name:
                names.add(name)
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            value = node.value
            if isinstance(value, ast.Attribute) and value.attr == "environ" and isinstance(node.slice, ast.Constant):
                names.add(str(node.slice.value))
    return names


def server_variables() -> set[str]:
    names = settings_variables(SETTINGS.read_text())
    for package in SERVER_PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts:
                names |= direct_reads(path.read_text())
    return names


def example_entries(text: str) -> dict[str, str]:
    """Variable -> the comment line just above it ('' when there is none)."""
    entries: dict[str, str] = {}
    previous = ""
    for line in text.splitlines():
        match = ENTRY.match(line)
        if match:
            assert match.group(1) not in entries, f"{match.group(1)} is listed twice"
            entries[match.group(1)] = previous if previous.startswith("#") else ""
        previous = line.strip()
    return entries


def test_env_example_lists_every_variable_the_server_reads() -> None:
    read = server_variables()
    listed = set(example_entries(ENV_EXAMPLE.read_text()))
    assert read - listed == set(), "read but missing from .env.example"
    assert listed - read == set(), "in .env.example but read nowhere"


def test_every_env_example_entry_has_a_comment_with_its_default() -> None:
    for name, comment in example_entries(ENV_EXAMPLE.read_text()).items():
        assert comment, f"{name}: no comment line above it"
        assert "Default:" in comment, f"{name}: its comment does not say the default"


def test_settings_read_the_environment_only_through_the_typed_helpers() -> None:
    # A direct os.environ read would bypass both the typed parsing and this comparison.
    assert direct_reads(SETTINGS.read_text()) == set()


def test_the_comparison_sees_a_new_variable() -> None:
    source = SETTINGS.read_text() + '\nNEW_THING = env_int("TRIALBENCH_NEW_THING", 3)\n'
    assert "TRIALBENCH_NEW_THING" in settings_variables(source)
    assert "TRIALBENCH_NEW_THING" not in example_entries(ENV_EXAMPLE.read_text())
    assert direct_reads(
        'import os\nX = os.environ.get("A")\nY = os.environ["B"]\nos.environ.setdefault("C", "1")\n'
    ) == {"A", "B"}
