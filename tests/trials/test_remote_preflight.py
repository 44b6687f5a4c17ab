"""The remote-policy pre-flight at trial start: a server whose actions do not fit the cell fails the
trial with a clear message before any episode runs."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import json_numpy
import numpy as np
import pytest
from django.utils import timezone

from policies.models import PolicyVersion
from tests.factories import PolicyVersionFactory, TrialFactory
from trials.models import Episode, TrialChunk, TrialStatus
from trials.tasks import trial_start_task


class _SevenVector(BaseHTTPRequestHandler):
    """OpenVLA's reply: x, y, z, roll, pitch, yaw, gripper."""

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json_numpy.dumps(np.linspace(0.0, 0.6, 7, dtype=np.float32)).encode())

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def openvla_url() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _SevenVector)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/act"
    finally:
        httpd.shutdown()


@pytest.mark.django_db
def test_trial_start_fails_a_trial_whose_remote_actions_do_not_fit_the_cell(openvla_url: str) -> None:
    version = PolicyVersionFactory(kind=PolicyVersion.Kind.REST, endpoint_url=openvla_url, remote_config={})
    trial = TrialFactory(policy_version=version, episodes_planned=4)
    trial_start_task(trial.pk)
    trial.refresh_from_db()
    assert trial.status == TrialStatus.FAILED
    assert "7 components" in trial.status_message and "action_map" in trial.status_message
    assert not TrialChunk.objects.filter(trial=trial).exists() and not Episode.objects.filter(trial=trial).exists()


@pytest.mark.django_db
def test_trial_start_accepts_remote_actions_mapped_to_the_cell(
    openvla_url: str, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    version = PolicyVersionFactory(
        kind=PolicyVersion.Kind.REST, endpoint_url=openvla_url, remote_config={"action_map": [0, 1, 2, 6]}
    )
    trial = TrialFactory(policy_version=version, episodes_planned=4)
    with django_capture_on_commit_callbacks(execute=False):
        trial_start_task(trial.pk)
    trial.refresh_from_db()
    assert trial.status != TrialStatus.FAILED and TrialChunk.objects.filter(trial=trial).exists()


@pytest.mark.django_db
def test_chunk_failing_every_retry_names_the_chunk_and_its_episodes(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from trials import runner
    from trials.tasks import CHUNK_MAX_RETRIES, trial_run_chunk_task

    trial = TrialFactory(episodes_planned=30)
    chunk = TrialChunk.objects.create(trial=trial, first_index=20, stop_index=30, enqueued_at=timezone.now())

    def broken(*, chunk_id: int) -> None:
        raise RuntimeError("simulator exploded")

    monkeypatch.setattr(runner, "chunk_run", broken)
    trial_run_chunk_task.apply(args=[chunk.pk], retries=CHUNK_MAX_RETRIES)
    trial.refresh_from_db()
    assert trial.status == TrialStatus.FAILED
    assert trial.status_message.startswith(f"chunk {chunk.pk} (episodes 20-29) failed {CHUNK_MAX_RETRIES + 1} times")
