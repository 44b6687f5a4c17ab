"""`python -m bench`: every benchmark runs alone and all together, each in its own process, and a
benchmark that hangs is stopped (with its children) and reported, so the run always finishes."""

from __future__ import annotations

import os
import re
import time

import pytest

from bench.__main__ import benchmark_names, main

FAKE = "tests.bench.fake_benchmarks"


def test_every_bench_module_is_found() -> None:
    names = benchmark_names()
    assert {"bench_broker", "bench_recording", "bench_runner", "bench_stats"} <= set(names)
    assert benchmark_names(FAKE) == ["bench_a_configures", "bench_b_needs_its_own", "bench_c_hangs"]


def test_benchmarks_run_together_do_not_share_configuration(capfd: pytest.CaptureFixture[str]) -> None:
    started = time.monotonic()
    assert main(["bench_a", "bench_b"], package=FAKE, timeout_s=60) == 0
    out = capfd.readouterr().out
    assert "figure a: 1.0 ms" in out and "figure b: 2.0 episodes/s" in out
    assert time.monotonic() - started < 60
    assert "FAKE_BENCH_BROKER_DIR" not in os.environ


@pytest.mark.parametrize("name", ["bench_a", "bench_b"])
def test_each_benchmark_runs_alone(name: str, capfd: pytest.CaptureFixture[str]) -> None:
    assert main([name], package=FAKE, timeout_s=60) == 0
    assert "figure" in capfd.readouterr().out


def test_a_hanging_benchmark_is_stopped_with_its_children_and_the_rest_still_run(
    capfd: pytest.CaptureFixture[str],
) -> None:
    assert main([], package=FAKE, timeout_s=3) == 1
    out = capfd.readouterr().out
    assert "figure a" in out and "figure b" in out
    assert re.search(r"bench_c_hangs\s+timed out after 3 s", out)
    child = int(re.search(r"child pid (\d+)", out).group(1))  # type: ignore[union-attr]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"the hanging benchmark's child {child} outlived it")


def test_no_match_is_an_error(capfd: pytest.CaptureFixture[str]) -> None:
    assert main(["nothing-like-this"], package=FAKE) == 1


def test_the_statistics_benchmark_writes_rows_the_current_schema_accepts(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its bulk rows bypass the ORM: a column the episode model gained (detected_outcome, issue 18) once made it
    # fail before measuring anything. A small run, in its own process as `make bench` runs it.
    monkeypatch.setenv("BENCH_STATS_EPISODES", "4000")
    assert main(["bench_stats"], timeout_s=300) == 0
    assert "checked equal" in capfd.readouterr().out
