"""Run a module in a Python process where Django, DRF, Celery and every TrialBench app cannot be
imported, as on a robot PC or a GPU box that has only the pure cores (core/) installed."""

from __future__ import annotations

import sys

# Django's own name covers every Django library (they import it); the apps and common/ and config/
# are ours and must not be reachable from core/.
BLOCKED = (
    "django",
    "rest_framework",
    "celery",
    "accounts",
    "common",
    "config",
    "robots",
    "policies",
    "trials",
    "reports",
)

# A None entry in sys.modules makes `import name` (and of any submodule) raise ImportError.
_BLOCK = f"import sys\nfor _name in {BLOCKED!r}:\n    sys.modules[_name] = None\n"


def python_without_django(module: str, *args: str) -> list[str]:
    """The argv that runs `python -m module args...` with the blocked names unimportable."""
    run = "import runpy\nsys.argv = sys.argv[1:]\nrunpy.run_module(sys.argv[0], run_name='__main__', alter_sys=True)\n"
    return [sys.executable, "-c", _BLOCK + run, module, *args]


def python_code_without_django(code: str) -> list[str]:
    """The argv that runs `python -c code` with the blocked names unimportable."""
    return [sys.executable, "-c", _BLOCK + code]
