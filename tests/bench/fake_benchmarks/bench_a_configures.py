"""Stands in for bench_broker: configures process-wide state once (as django.setup() does)."""

import os


def main() -> None:
    os.environ["FAKE_BENCH_BROKER_DIR"] = "from bench_a"
    print("figure a: 1.0 ms", flush=True)
