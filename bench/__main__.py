"""`make bench`: run every bench/bench_*.py module's `main()`, each in its own process; each prints its
own figures.

Benchmarks run against a throwaway SQLite database under a temp dir (or DATABASE_URL when set), never
the demo database. Usage: python -m bench [name ...]

Why a process per benchmark: a benchmark configures Django and Celery (database, filesystem broker
folder) from its environment once, at django.setup(). Run in one process, bench_runner inherited the
database and broker folder bench_broker had configured, enqueued its trial where its own workers
never looked, and waited forever (issue 14, item 15). Each benchmark also runs under a time limit
(BENCH_TIMEOUT_S, default 1800 s) after which its whole process group (its workers included) is
stopped and it is reported as timed out, so `make bench` always finishes.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TIMEOUT_S = 1800.0
_CHILD = "import importlib, sys; importlib.import_module(sys.argv[1]).main()"


def benchmark_names(package: str = "bench") -> list[str]:
    """The bench_* modules of `package`, sorted."""
    path = Path(importlib.import_module(package).__file__ or "").parent
    return sorted(m.name for m in pkgutil.iter_modules([str(path)]) if m.name.startswith("bench_"))


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    # The benchmark's Celery workers are its children: stop the whole group, politely first.
    for sig, grace in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def benchmark_run(module: str, *, timeout_s: float) -> str:
    """Run `module`.main() in a fresh Python process (its own session), output to ours. Returns
    "ok", "failed (exit N)" or "timed out after S s"."""
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, module], cwd=ROOT, start_new_session=True)  # noqa: S603
    try:
        code = proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _stop_group(proc)
        return f"timed out after {timeout_s:.0f} s"
    except BaseException:  # Ctrl-C: do not leave the benchmark's workers behind
        _stop_group(proc)
        raise
    # A benchmark that returned may still have left a process in its group (a worker it forgot).
    _stop_group(proc)
    return "ok" if code == 0 else f"failed (exit {code})"


def main(argv: list[str], *, package: str = "bench", timeout_s: float | None = None) -> int:
    """Run the benchmarks whose names contain any of argv (all when empty), one after the other.
    Returns 0 when all ran, 1 when none matched or any failed or timed out."""
    if timeout_s is None:
        timeout_s = float(os.environ.get("BENCH_TIMEOUT_S", DEFAULT_TIMEOUT_S))
    names = benchmark_names(package)
    wanted = [n for n in names if not argv or any(a in n for a in argv)]
    if not wanted:
        print("no benchmark matches", argv)
        return 1
    results: dict[str, str] = {}
    for name in wanted:
        print(f"\n=== {name} ===", flush=True)
        started = time.perf_counter()
        results[name] = benchmark_run(f"{package}.{name}", timeout_s=timeout_s)
        print(f"--- {name} {results[name]}, took {time.perf_counter() - started:.1f} s", flush=True)
    print("\n=== summary ===")
    for name, result in results.items():
        print(f"  {name:20} {result}")
    return 0 if all(r == "ok" for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
