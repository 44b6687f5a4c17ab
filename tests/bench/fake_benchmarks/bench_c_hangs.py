"""A benchmark that never finishes, with a child process that would outlive it."""

import subprocess
import sys
import time


def main() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])  # noqa: S603
    print(f"child pid {child.pid}", flush=True)
    time.sleep(3600)
