"""The robot agent: runs on the robot PC, takes episode jobs from TrialBench and runs them.

    python -m core.agent --server https://trialbench.example.com --token rb_... --cell factory-kitting

It heartbeats, long-polls for the next job, claims it (a lease), runs the episode through a
RobotInterface (here: a simulated cell; see core/agent/robot.py for a real arm) with the job's policy
(local ONNX, downloaded once and checked by sha256, or a remote policy server), streams events while
running, and completes the job with how far the episode got (its stages). A simulated robot's episodes are
recorded (core.recording: every camera frame the policy saw, an overview camera, the trajectory) and
uploaded after the completion, file by file. Completion and uploads are idempotent on the server, so the
agent retries freely; if the agent dies, its lease expires and the job goes back to the queue. No Django
on the robot PC.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import random
import shutil
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import requests

from core.agent.robot import RecordableRobot, RobotInterface, SimulatedRobot, StageReporting
from core.policy.base import EpisodeController, Policy
from core.policy.remote import PolicyInfrastructureError, PolicyReplyError, remote_policy
from core.recording.recorder import (
    MANIFEST,
    OVERVIEW,
    TRAJECTORY,
    EpisodeRecorder,
    EpisodeRecording,
    OverviewSettings,
)
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
    stages: tuple[str, ...] = field(default=())
    # The trial's overview camera (None from a server that does not say: the agent's own setting).
    overview_px: int | None = None
    overview_fps: float | None = None
    # A blind comparison's job: {"comparison", "pair", "position" ("first"/"second"), "arm"}; else None.
    blind: dict[str, Any] | None = None


@dataclass(frozen=True)
class EpisodeRun:
    """What running a job's episode gave: the completion body and, when recorded, the recording."""

    body: dict[str, Any]
    recording: EpisodeRecording | None = None


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

    def upload(self, job: Job, kind_path: str, path: Path, content_type: str) -> dict[str, Any]:
        """PUT one recording file of the job's episode (`video/<camera>`, `trajectory`, `poster`,
        `manifest`). The server keeps the same bytes once, so a retry after a lost reply is harmless."""
        return _object(
            self._call(
                "PUT",
                f"/api/v1/agent/jobs/{job.id}/media/{kind_path}/",
                data=path.read_bytes(),
                headers={"X-Lease-Token": job.lease_token, "Content-Type": content_type},
            )
        )

    def prefer(self, *, comparison: int, pair: int, preferred: str, operator: str = "") -> dict[str, Any]:
        """Record the operator's preference over a blind comparison's pair: the episode that ran "first" or
        "second", or "tie" (the server maps it to the version; the reply does not say which)."""
        body = {"preferred": preferred, "operator": operator}
        path = f"/api/v1/agent/blind-comparisons/{comparison}/pairs/{pair}/preference/"
        return _object(self._call("POST", path, json=body))

    def download(self, path: str, target: Path) -> None:
        response = self._call("GET", path, stream=True)
        tmp = target.with_suffix(".part")
        with tmp.open("wb") as handle:
            for block in response.iter_content(1 << 20):
                handle.write(block)
        tmp.replace(target)


class PolicyArtifactError(RuntimeError):
    """A downloaded artifact does not match the digest its job gave."""


def _digest(data: bytes, salt: bytes) -> str:
    """sha256 of salt + data (a blind job's salted digest; no salt: the plain sha256)."""
    return hashlib.sha256(salt + data).hexdigest()


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
        stages=tuple(str(s) for s in data.get("stages") or ()),
        overview_px=data.get("overview_px"),
        overview_fps=data.get("overview_fps"),
        blind=data.get("blind"),
    )


def recording_files(recording: EpisodeRecording) -> list[tuple[str, Path, str]]:
    """(URL kind path, file, content type) of each file of a recording to upload: a video per camera (the
    policy's cameras by their names, `overview`), the trajectory, the poster and the manifest."""
    cameras = recording.manifest.get("policy_cameras")
    camera_of = {str(v): str(k) for k, v in (cameras if isinstance(cameras, dict) else {}).items()}
    files = [
        (
            f"video/{'overview' if name == OVERVIEW else camera_of.get(name, Path(name).stem)}",
            recording.folder / name,
            "video/mp4",
        )
        for name in recording.videos
    ]
    others = [
        ("trajectory", TRAJECTORY, "application/vnd.apache.parquet"),
        ("poster", recording.poster, "image/jpeg"),
        ("manifest", MANIFEST, "application/json"),
    ]
    files += [
        (kind, recording.folder / name, ctype)
        for kind, name, ctype in others
        if name and (recording.folder / name).is_file()
    ]
    return files


class _RecordingGuard:
    """Drives an optional EpisodeRecorder and keeps its failures out of the episode: a recorder that fails
    is dropped with a warning, and the episode goes on unrecorded."""

    def __init__(self, recorder: EpisodeRecorder | None, robot: RobotInterface, job: Job) -> None:
        self.recorder = recorder
        self.job = job
        self.cell = robot.cell if isinstance(robot, RecordableRobot) else None
        if self.recorder is not None and self.cell is not None:
            self._guard(lambda rec, cell: rec.begin(cell=cell))
        else:
            self.recorder = None

    def _guard(self, call: Any) -> Any:
        if self.recorder is None or self.cell is None:
            return None
        try:
            return call(self.recorder, self.cell)
        except Exception as exc:  # the recording is evidence, not the episode: never lose the episode to it
            log.warning("job %s: recording dropped: %r", self.job.id, exc)
            self.abort()
            return None

    def step(self, obs: Observation, action: Any, *, latency_s: float) -> None:
        self._guard(lambda rec, cell: rec.step(cell=cell, obs=obs, action=action, latency_s=latency_s))

    def finish(self) -> EpisodeRecording | None:
        recording = self._guard(lambda rec, cell: rec.finish(cell=cell))
        self.recorder = None
        return recording if isinstance(recording, EpisodeRecording) else None

    def abort(self) -> None:
        recorder, self.recorder = self.recorder, None
        if recorder is not None:
            recorder.abort()


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
        record: bool = True,
        overview: OverviewSettings | None = None,
        ask_preference: Callable[[Job], str | None] | None = None,
    ) -> None:
        self.client = client
        # A blind comparison's pair ends with its second episode: the operator's preference over the two
        # (first, second, tie) goes with that completion, before the comparison can unblind.
        self.ask_preference = ask_preference
        self.robot = robot
        self.cache_dir = cache_dir
        # Only a robot that exposes its cell can be recorded here; a real arm uploads its own files.
        self.record = record and isinstance(robot, RecordableRobot)
        self.overview = overview or OverviewSettings()
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
            salt = bytes.fromhex(version.get("digest_salt") or "")
            if not path.exists() or _digest(path.read_bytes(), salt) != version["sha256"]:
                self.cache_dir.mkdir(parents=True, exist_ok=True)
                self.client.download(version["artifact_path"], path)
            data = path.read_bytes()
            if salt and _digest(data, salt) != version["sha256"]:
                raise PolicyArtifactError(f"the downloaded artifact of {version['name']} does not match its digest")
            # A blind job's digest is salted (no page shows it): the file's own hash is computed here.
            sha256 = hashlib.sha256(data).hexdigest() if salt else version["sha256"]
            policy: Policy = policy_load(path=path, sha256=sha256, io_spec=version["io_spec"])
        else:
            policy = remote_policy(
                kind=version["kind"], endpoint_url=version["endpoint_url"], remote_config=version["remote_config"]
            )
        self._policies[key] = policy
        return policy

    def run_episode(self, job: Job) -> dict[str, Any]:
        """Run one job's episode; returns the completion body (outcome, times, events, metrics, stages)."""
        run = self.run_job_episode(job)
        if run.recording is not None:
            shutil.rmtree(run.recording.folder, ignore_errors=True)
        return run.body

    def _recorder(self, job: Job) -> EpisodeRecorder | None:
        if not self.record:
            return None
        folder = self.cache_dir / "recordings" / f"job-{job.id}-attempt"
        shutil.rmtree(folder, ignore_errors=True)  # a previous attempt of this job that never uploaded
        return EpisodeRecorder(folder, overview=self._overview_for(job))

    def _overview_for(self, job: Job) -> OverviewSettings:
        """The trial's overview camera when the job names one, else the agent's own (--overview-px/-fps)."""
        if job.overview_px is None or job.overview_fps is None:
            return self.overview
        try:
            return OverviewSettings(px=int(job.overview_px), fps=float(job.overview_fps))
        except ValueError as exc:
            log.warning("job %s: the trial's overview setting is unusable (%s); using the agent's", job.id, exc)
            return self.overview

    def run_job_episode(self, job: Job) -> EpisodeRun:
        """Run one job's episode, recorded when the robot allows it; returns the completion body and the
        recording (None when not recorded, or the recording failed: the episode is reported either way)."""
        if job.blind:
            log.info(
                "job %s: blind comparison %s, pair %s, %s episode (%s)",
                job.id, job.blind["comparison"], job.blind["pair"], job.blind["position"], job.blind["arm"],
            )  # fmt: skip
        policy = self.policy_for(job.policy_version)
        self.robot.reset(job.seed, job.instruction)
        started_at = datetime.now(tz=UTC)
        recorder = _RecordingGuard(self._recorder(job), self.robot, job)
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
                obs = Observation(images=images, state=np.asarray(state, dtype=np.float32), instruction=job.instruction)
                asked = time.perf_counter()
                action = controller.act(obs)
                recorder.step(obs, action, latency_s=time.perf_counter() - asked)
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
            recorder.abort()
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
        body = {
            "outcome": "lost"
            if lost is not None
            else "success"
            if outcome == "success" and not reply_error
            else "failure",
            "cycle_time_s": elapsed,
            "started_at": started_at.isoformat(),
            "metrics": metrics,
            "events": events,
            **self._stage_fields(job),
        }
        # A lost attempt is re-run from the start: its files would describe an episode that does not count.
        if lost is not None:
            recorder.abort()
            return EpisodeRun(body=body)
        return EpisodeRun(body=body, recording=recorder.finish())

    def _stage_fields(self, job: Job) -> dict[str, Any]:
        """How far the episode got, when the robot knows; the stage names only while the trial has none."""
        if not isinstance(self.robot, StageReporting):
            return {}
        result = self.robot.stage_result()
        if not result.stages:
            return {}
        if job.stages and tuple(job.stages) != tuple(result.stages):
            log.warning(
                "job %s: the trial's stages %s are not this robot's %s; not reported", job.id, job.stages, result.stages
            )
            return {}
        fields: dict[str, Any] = {
            "stage_reached": result.reached,
            "stage_times_s": [min(float(t), float(self.robot.elapsed_s())) for t in result.reached_at_s],
            "progress": round(result.progress, 6),
        }
        if not job.stages:
            fields["stages"] = list(result.stages)
        return fields

    def upload_recording(self, job: Job, recording: EpisodeRecording) -> int:
        """Upload every file of a finished recording to the job's episode, then drop the folder. A file the
        server refuses is logged and skipped: the episode is recorded already. Returns files uploaded."""
        uploaded = 0
        try:
            for kind_path, path, content_type in recording_files(recording):
                try:
                    self.client.upload(job, kind_path, path, content_type)
                    uploaded += 1
                except JobConflict as exc:
                    log.warning("job %s: recording not uploaded (%s)", job.id, exc)
                    break
                except (RuntimeError, requests.RequestException) as exc:
                    log.warning("job %s: %s not uploaded: %s", job.id, kind_path, exc)
        finally:
            shutil.rmtree(recording.folder, ignore_errors=True)
        return uploaded

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
                    run = self.run_job_episode(job)
                    body = run.body
                    if self.ask_preference and job.blind and job.blind.get("position") == "second":
                        preference = self.ask_preference(job)
                        if preference is not None:
                            body = {**body, "preference": preference}
                    reply = self.client.complete(job, body)
                    if run.recording is not None:
                        self.upload_recording(job, run.recording)
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


def preference_from_operator(job: Job) -> str | None:
    """Ask the operator at the robot, on stdin, which episode of the pair just run they preferred.
    Returns "first", "second", "tie", or None (skipped, or no terminal input left)."""
    pair = (job.blind or {}).get("pair")
    print(f"pair {pair} done: which episode did you prefer? [first/second/tie, empty: skip] ", end="", flush=True)
    line = sys.stdin.readline()
    answer = line.strip().lower()
    if answer in ("first", "second", "tie"):
        return answer
    if answer:
        log.warning("pair %s: %r is not first, second or tie; no preference sent", pair, answer)
    return None


def prefer_main(argv: list[str]) -> int:
    """`python -m core.agent prefer ...`: the operator's preference over one pair of a blind comparison."""
    parser = argparse.ArgumentParser(
        prog="python -m core.agent prefer", description="Record the operator's preference over a blind A/B pair."
    )
    parser.add_argument("--server", required=True, help="TrialBench base URL")
    parser.add_argument("--token", default=os.environ.get("TRIALBENCH_AGENT_TOKEN", ""), help="The robot's agent token")
    parser.add_argument("--comparison", type=int, required=True, help="The job's blind.comparison")
    parser.add_argument("--pair", type=int, required=True, help="The job's blind.pair")
    parser.add_argument(
        "--preferred", required=True, choices=["first", "second", "tie"], help="The episode preferred, as they ran"
    )
    parser.add_argument("--operator", default="", help="Who is recording it")
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("--token (or TRIALBENCH_AGENT_TOKEN) is required")
    client = AgentClient(args.server, args.token, retries=2)
    try:
        reply = client.prefer(
            comparison=args.comparison, pair=args.pair, preferred=args.preferred, operator=args.operator
        )
    except (RuntimeError, JobConflict) as exc:
        print(f"preference not recorded: {exc}", file=sys.stderr, flush=True)
        return 1
    print(f"preference recorded: pair {reply['pair']}, {reply['preferred']}", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["prefer"]:
        return prefer_main(argv[1:])
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
    parser.add_argument(
        "--no-record", action="store_true", help="Do not record and upload episodes (videos, trajectory)"
    )
    parser.add_argument(
        "--ask-preference",
        action="store_true",
        help="In a blind A/B, ask the operator (stdin) after each pair which episode they preferred",
    )
    parser.add_argument(
        "--overview-px", type=int, default=OverviewSettings.px, help="Overview size (px) when a job names none"
    )
    parser.add_argument(
        "--overview-fps", type=float, default=OverviewSettings.fps, help="Overview fps when a job names none (0: none)"
    )
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("--token (or TRIALBENCH_AGENT_TOKEN) is required")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from core.sim import cell_make

    robot = SimulatedRobot(cell_make(args.cell), realtime=args.realtime)
    try:
        overview = OverviewSettings(px=args.overview_px, fps=args.overview_fps)
    except ValueError as exc:
        parser.error(str(exc))
    agent = Agent(
        AgentClient(args.server, args.token),
        robot,
        cache_dir=args.cache_dir,
        poll_wait_s=args.poll_wait,
        record=not args.no_record,
        overview=overview,
        ask_preference=preference_from_operator if args.ask_preference else None,
    )
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
