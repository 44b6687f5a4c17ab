"""The robot agent: runs on the robot PC, takes episode jobs from TrialBench and runs them.

    python -m core.agent --server https://trialbench.example.com --token rb_... --cell factory-kitting

It heartbeats, long-polls for the next job, claims it (a lease), runs the episode through a
RobotInterface (here: a simulated cell; see core/agent/robot.py for a real arm) with the job's policy
(local ONNX, downloaded once and checked by sha256, or a remote policy server), streams events while
running, and completes the job. Completion is idempotent on the server, so the agent retries freely;
if the agent dies, its lease expires and the job goes back to the queue. No Django on the robot PC.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import random
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import requests

from core.agent.robot import RobotInterface, SimulatedRobot
from core.policy.base import EpisodeController, Policy
from core.policy.remote import PolicyInfrastructureError, PolicyReplyError, remote_policy
from core.sim.base import Fault, Observation

log = logging.getLogger("core.agent")
AGENT_VERSION = "trialbench-agent/1.0"
KNOWN_CATEGORIES = {
    "grasp_miss",
    "drop",
    "collision",
    "timeout",
    "e_stop",
    "perception",
    "safety_stop",
    "policy_unreachable",
    "other",
}


class AgentAuthError(RuntimeError):
    """The server refused the token (401): revoked, expired or wrong."""


class JobConflict(RuntimeError):
    """The server says the job is no longer ours (409): drop it."""


@dataclass
class Job:
    id: int
    trial: int
    index: int
    instruction: str
    seed: int
    episode_timeout_s: float
    policy_version: dict[str, Any]
    lease_token: str = ""


class AgentClient:
    """The agent's HTTP calls, with retries and backoff on network errors and 5xx."""

    def __init__(self, server: str, token: str, *, timeout_s: float = 30.0, retries: int = 6) -> None:
        self.server = server.rstrip("/")
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Token {token}", "User-Agent": AGENT_VERSION})
        self.timeout_s = timeout_s
        self.retries = retries

    def _call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        delay = 0.5
        for attempt in range(self.retries + 1):
            try:
                kwargs.setdefault("timeout", self.timeout_s)
                response = self.session.request(method, f"{self.server}{path}", **kwargs)
            except (requests.ConnectionError, requests.Timeout) as exc:
                if attempt == self.retries:
                    raise
                log.warning("%s %s failed (%s); retrying in %.1fs", method, path, exc, delay)
            else:
                if response.status_code == 401:
                    raise AgentAuthError(f"server refused the token: {response.text[:200]}")
                if response.status_code == 409:
                    raise JobConflict(response.json().get("detail", "conflict"))
                if response.status_code < 500:
                    if response.status_code >= 400:
                        raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:500]}")
                    return response
                if attempt == self.retries:
                    response.raise_for_status()
                log.warning("%s %s answered %s; retrying in %.1fs", method, path, response.status_code, delay)
            time.sleep(delay * (0.5 + random.random()))  # noqa: S311 - jitter, not crypto
            delay = min(delay * 2, 15.0)
        raise RuntimeError("unreachable")

    def heartbeat(self, *, status: str, current_job: int | None) -> dict[str, Any]:
        body = {"status": status, "software_version": AGENT_VERSION, "current_job": current_job}
        return _object(self._call("POST", "/api/v1/agent/heartbeat/", json=body))

    def next_job(self, *, wait_s: float) -> Job | None:
        response = self._call("GET", "/api/v1/agent/jobs/next/", params={"wait": wait_s}, timeout=wait_s + 30)
        return None if response.status_code == 204 else _job(response.json())

    def claim(self, job_id: int) -> Job:
        return _job(self._call("POST", f"/api/v1/agent/jobs/{job_id}/claim/").json())

    def push_events(self, job: Job, events: list[dict[str, Any]]) -> None:
        """Stream events in time order (the server refuses them otherwise). Advisory: the completion carries
        every event again, so a push the server refuses (400, e.g. an event older than one pushed before) is
        logged rather than ending the episode."""
        ordered = sorted(events, key=lambda e: e["t_offset_s"])
        try:
            self._call(
                "POST", f"/api/v1/agent/jobs/{job.id}/events/", json={"lease_token": job.lease_token, "events": ordered}
            )
        except (JobConflict, AgentAuthError):
            raise  # the lease or the token is gone: the episode must stop
        except RuntimeError as exc:
            log.warning("job %s: events not streamed (%s); they go with the completion", job.id, exc)

    def complete(self, job: Job, body: dict[str, Any]) -> dict[str, Any]:
        return _object(
            self._call("POST", f"/api/v1/agent/jobs/{job.id}/complete/", json={"lease_token": job.lease_token, **body})
        )

    def download(self, path: str, target: Path) -> None:
        response = self._call("GET", path, stream=True)
        tmp = target.with_suffix(".part")
        with tmp.open("wb") as handle:
            for block in response.iter_content(1 << 20):
                handle.write(block)
        tmp.replace(target)


def _object(response: requests.Response) -> dict[str, Any]:
    """The response's JSON object; raises RuntimeError for any other body (a list, a proxy's page)."""
    body = response.json()
    if not isinstance(body, dict):
        raise RuntimeError(f"{response.url}: expected a JSON object, got {type(body).__name__}")
    return body


def _job(data: dict[str, Any]) -> Job:
    return Job(
        id=data["id"],
        trial=data["trial"],
        index=data["index"],
        instruction=data["instruction"],
        seed=data["seed"],
        episode_timeout_s=data["episode_timeout_s"],
        policy_version=data["policy_version"],
        lease_token=data.get("lease_token") or "",
    )


def _event(fault: Fault) -> dict[str, Any]:
    return {
        "kind": fault.kind if fault.kind in ("intervention", "fault", "exception") else "fault",
        "category": fault.category if fault.category in KNOWN_CATEGORIES else "other",
        "severity": fault.severity if fault.severity in ("info", "warning", "error", "critical") else "error",
        "t_offset_s": max(0.0, float(fault.t_s)),
        "message": fault.message[:2000],
    }


class Agent:
    def __init__(
        self,
        client: AgentClient,
        robot: RobotInterface,
        *,
        cache_dir: Path,
        poll_wait_s: float = 10.0,
        events_every_s: float = 1.0,
    ) -> None:
        self.client = client
        self.robot = robot
        self.cache_dir = cache_dir
        self.poll_wait_s = poll_wait_s
        self.events_every_s = events_every_s
        self.current_job: int | None = None
        self._stop = threading.Event()
        self._policies: dict[str, Policy] = {}
        self._heartbeat_interval_s = 10.0

    # --- heartbeats (a thread, so a long episode keeps its lease) ---
    def _heartbeat_loop(self) -> None:
        while not self._stop.wait(self._heartbeat_interval_s):
            try:
                self.client.heartbeat(status="busy" if self.current_job else "idle", current_job=self.current_job)
            except AgentAuthError:
                log.error("token refused; stopping")
                self._stop.set()
            except Exception as exc:  # keep beating through transient errors; the lease has slack
                log.warning("heartbeat failed: %s", exc)

    def policy_for(self, version: dict[str, Any]) -> Policy:
        """The job's policy: a cached local ONNX (downloaded once, sha256-checked) or a remote server."""
        key = version.get("sha256") or version.get("endpoint_url") or str(version["id"])
        if key in self._policies:
            return self._policies[key]
        if version["kind"] == "onnx":
            from core.policy.onnx_runtime import policy_load  # onnxruntime only when a local policy is used

            path = self.cache_dir / f"{version['sha256']}.onnx"
            if not path.exists() or hashlib.sha256(path.read_bytes()).hexdigest() != version["sha256"]:
                self.cache_dir.mkdir(parents=True, exist_ok=True)
                self.client.download(version["artifact_path"], path)
            policy: Policy = policy_load(path=path, sha256=version["sha256"], io_spec=version["io_spec"])
        else:
            policy = remote_policy(
                kind=version["kind"], endpoint_url=version["endpoint_url"], remote_config=version["remote_config"]
            )
        self._policies[key] = policy
        return policy

    def run_episode(self, job: Job) -> dict[str, Any]:
        """Run one job's episode; returns the completion body (outcome, times, events, metrics)."""
        policy = self.policy_for(job.policy_version)
        self.robot.reset(job.seed, job.instruction)
        started_at = datetime.now(tz=UTC)
        events: list[dict[str, Any]] = []
        pushed = 0
        last_push = time.monotonic()
        controller: EpisodeController | None = None
        steps = 0
        lost: tuple[str, str] | None = None
        reply_error: PolicyReplyError | None = None
        try:
            controller = policy.episode(instruction=job.instruction)
            while self.robot.done() is None and self.robot.elapsed_s() < job.episode_timeout_s:
                images, state = self.robot.observe()
                action = controller.act(
                    Observation(images=images, state=np.asarray(state, dtype=np.float32), instruction=job.instruction)
                )
                self.robot.act(action)
                steps += 1
                events.extend(_event(f) for f in self.robot.drain_events())
                if time.monotonic() - last_push > self.events_every_s and len(events) > pushed:
                    self.client.push_events(job, events[pushed:])
                    pushed = len(events)
                    last_push = time.monotonic()
        except PolicyInfrastructureError as exc:
            # The server, not the policy: reported `lost`, so TrialBench counts it nowhere and re-runs it.
            lost = (getattr(exc, "category", "policy_unreachable"), str(exc))
        except PolicyReplyError as exc:
            reply_error = exc
        except (JobConflict, AgentAuthError):
            raise  # TrialBench took the job back or the token is gone: nothing to report
        except Exception as exc:  # the robot interface or this agent broke: not the policy's doing
            log.exception("job %s: episode lost to an agent error", job.id)
            lost = ("agent_crash", f"agent error: {exc!r}")
        finally:
            if controller is not None:
                controller.close()
        events.extend(_event(f) for f in self.robot.drain_events())
        outcome = self.robot.done()
        if lost is not None:
            events.append(
                {
                    "kind": "exception",
                    "category": lost[0],
                    "severity": "error",
                    "t_offset_s": self.robot.elapsed_s(),
                    "message": f"lost to infrastructure, not counted: {lost[1]}"[:2000],
                }
            )
        elif reply_error is not None:
            events.append(
                {
                    "kind": "fault",
                    "category": "policy_error",
                    "severity": "error",
                    "t_offset_s": self.robot.elapsed_s(),
                    "message": str(reply_error)[:2000],
                }
            )
        elif outcome is None:
            events.append(
                {
                    "kind": "fault",
                    "category": "timeout",
                    "severity": "error",
                    "t_offset_s": self.robot.elapsed_s(),
                    "message": f"no success within {job.episode_timeout_s:g} s",
                }
            )
        elapsed = float(self.robot.elapsed_s())
        metrics = {"steps": steps, **(controller.latency_summary() if controller is not None else {})}
        events.sort(key=lambda e: e["t_offset_s"])
        return {
            "outcome": "lost"
            if lost is not None
            else "success"
            if outcome == "success" and not reply_error
            else "failure",
            "cycle_time_s": elapsed,
            "started_at": started_at.isoformat(),
            "metrics": metrics,
            "events": events,
        }

    def run(self, *, max_jobs: int | None = None, exit_when_idle: bool = False) -> int:
        """Take and run jobs until stopped, `max_jobs` are done, or (exit_when_idle) none is left.
        Returns the number of jobs completed."""
        reply = self.client.heartbeat(status="idle", current_job=None)
        self._heartbeat_interval_s = max(1.0, float(reply.get("lease_s", 30.0)) / 4)
        beat = threading.Thread(target=self._heartbeat_loop, daemon=True)
        beat.start()
        done = 0
        try:
            while not self._stop.is_set() and (max_jobs is None or done < max_jobs):
                job = self.client.next_job(wait_s=self.poll_wait_s)
                if job is None:
                    if exit_when_idle:
                        break
                    continue
                try:
                    job = self.client.claim(job.id)
                except JobConflict:
                    continue  # another agent process of this robot, or a stale lease: take the next
                self.current_job = job.id
                log.info("job %s: trial %s episode %s", job.id, job.trial, job.index)
                try:
                    body = self.run_episode(job)
                    reply = self.client.complete(job, body)
                    log.info(
                        "job %s done: %s in %.2fs (episode %s)",
                        job.id,
                        body["outcome"],
                        body["cycle_time_s"],
                        reply.get("episode"),
                    )
                    done += 1
                except JobConflict as exc:
                    log.warning("job %s dropped: %s", job.id, exc)
                finally:
                    self.current_job = None
        finally:
            self._stop.set()
        return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="TrialBench robot agent: take episode jobs and run them.")
    parser.add_argument("--server", required=True, help="TrialBench base URL, e.g. http://127.0.0.1:8000")
    parser.add_argument(
        "--token",
        default=os.environ.get("TRIALBENCH_AGENT_TOKEN", ""),
        help="The robot's agent token (or TRIALBENCH_AGENT_TOKEN)",
    )
    parser.add_argument("--cell", required=True, help="Simulation cell key the simulated robot interface drives")
    parser.add_argument(
        "--realtime", type=float, default=0.0, help="Sleep this fraction of each control period (1 = real time)"
    )
    parser.add_argument("--poll-wait", type=float, default=10.0, help="Long-poll seconds per next-job request")
    parser.add_argument("--max-jobs", type=int, default=None)
    parser.add_argument("--exit-when-idle", action="store_true", help="Stop when no job is waiting")
    parser.add_argument("--cache-dir", type=Path, default=Path.home() / ".cache" / "trialbench-agent")
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("--token (or TRIALBENCH_AGENT_TOKEN) is required")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from core.sim import cell_make

    robot = SimulatedRobot(cell_make(args.cell), realtime=args.realtime)
    agent = Agent(AgentClient(args.server, args.token), robot, cache_dir=args.cache_dir, poll_wait_s=args.poll_wait)
    try:
        done = agent.run(max_jobs=args.max_jobs, exit_when_idle=args.exit_when_idle)
    except AgentAuthError as exc:
        log.error("%s", exc)
        return 2
    finally:
        robot.close()
    print(f"agent finished: {done} jobs completed", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
