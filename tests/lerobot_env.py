"""Running code in the LeRobot environment (.venv-lerobot, built by scripts/lerobot_env.sh) from the
project's test suite. Without it the tests that need it skip, saying how to build it; with
LEROBOT_REQUIRED=1 (CI) they fail instead, so a broken build cannot pass as skipped tests."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LEROBOT_PYTHON = Path(os.environ.get("LEROBOT_VENV", ROOT / ".venv-lerobot")) / "bin" / "python"
SIDE = ROOT / "tests" / "core" / "lerobot" / "lerobot_side.py"


def lerobot_python() -> Path:
    """The LeRobot environment's python; skips (fails under LEROBOT_REQUIRED=1) when it is not built."""
    if not (LEROBOT_PYTHON.parent.parent / ".installed").exists():
        reason = f"LeRobot environment absent ({LEROBOT_PYTHON}): run `make lerobot-env` (scripts/lerobot_env.sh)"
        if os.environ.get("LEROBOT_REQUIRED") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return LEROBOT_PYTHON


def lerobot_env() -> dict[str, str]:
    """The environment for a process in it: hub offline, our code importable, one thread."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO")}
    env.update(
        {"HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "HF_HOME": str(ROOT / "var" / "hf")}
    )
    return env


def lerobot_run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run tests/core/lerobot/lerobot_side.py with args in the LeRobot environment; fails the test
    with its output when it exits non-zero."""
    python = lerobot_python()
    done = subprocess.run(
        [str(python), str(SIDE), *args], env=lerobot_env(), capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        pytest.fail(f"lerobot_side {args[0]} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}")
    return done


@contextlib.contextmanager
def act_policy_served(folder: Path) -> Iterator[str]:
    """A tiny random-weight ACT policy (lerobot_side act-policy) saved under folder and served by
    `python -m policies.serve_lerobot` in the LeRobot environment; yields its ws:// URL and stops it."""
    from tests.support import free_port, wait_until

    python = lerobot_python()
    lerobot_run("act-policy", str(folder / "policy"))
    port = free_port()
    log_path = folder / "serve.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(  # noqa: S603
            [str(python), "-m", "policies.serve_lerobot", str(folder / "policy"), "--port", str(port)],
            cwd=ROOT,
            env={**lerobot_env(), "PYTHONUNBUFFERED": "1"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(
            lambda: b"ready" in log_path.read_bytes() or proc.poll() is not None, timeout=180, what="serve_lerobot"
        )
        assert proc.poll() is None, log_path.read_text()
        yield f"ws://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
