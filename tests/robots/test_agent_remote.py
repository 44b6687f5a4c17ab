"""The robot agent with a remote policy that answers badly: the episode ends with the reason, the agent
goes on (before, anything but PolicyUnreachable escaped run_episode and stopped the agent)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from core.agent.cli import Agent, AgentClient, Job
from core.agent.robot import SimulatedRobot
from core.sim import cell_make


class _ErrorBody(BaseHTTPRequestHandler):
    """OpenVLA's deploy.py after a failed inference: HTTP 200, body "error"."""

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps("error").encode())

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def error_url() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _ErrorBody)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/act"
    finally:
        httpd.shutdown()


def test_agent_episode_with_server_error_ends_with_the_reason(error_url: str, tmp_path: Path) -> None:
    cell = cell_make("factory-kitting")
    agent = Agent(AgentClient("http://127.0.0.1:9", "rb_unused"), SimulatedRobot(cell), cache_dir=tmp_path)
    job = Job(
        id=1,
        trial=1,
        index=0,
        instruction="place the bracket in the tray",
        seed=3,
        episode_timeout_s=5.0,
        policy_version={
            "id": 1,
            "kind": "rest",
            "endpoint_url": error_url,
            "remote_config": {"action_map": [0, 1, 2, 6]},
        },
    )
    body = agent.run_episode(job)
    cell.close()
    reasons = [e for e in body["events"] if e["kind"] == "exception"]
    # The server's failure, not the policy's: lost (re-run by TrialBench), with the server's reason.
    assert body["outcome"] == "lost" and len(reasons) == 1
    assert reasons[0]["category"] == "policy_server_error"
    assert "failed inference: 'error'" in reasons[0]["message"]
