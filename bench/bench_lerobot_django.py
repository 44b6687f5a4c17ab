"""The web app's LeRobot export and import (trials.lerobot_export / trials.lerobot_import), end to end
through the database and the episode media storage (issue 17: 1,000 recorded episodes exported in
<= 60 s on 2 cores with memory flat; import at >= 5,000 frames/s).

A throwaway SQLite database and media folder; BENCH_LERODJ_RECORDINGS factory-kitting rollouts recorded
once, stored through trials.media for BENCH_LERODJ_EPISODES episodes of one trial (as the runner stores
them). Then the export job's body (dataset_export_run: each episode copied out of storage, written,
zipped into storage) and the import of that zip into a fresh trial (read; every episode's span of a
shared video cut in one pass over it, packet copy checked by decoding; rows and files in one
transaction, in bulk). Prints episodes/s, frames/s (for the import also per CPU second of this
process, which the shared machine's load moves less than wall time) and RSS: sampled while
exporting, at a quarter of the time and at the end, and the process peak."""

from __future__ import annotations

import os
import resource
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class _RssSampler(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[tuple[float, float]] = []
        self._halt = threading.Event()

    def run(self) -> None:
        start = time.perf_counter()
        while not self._halt.wait(0.25):
            self.samples.append((time.perf_counter() - start, _rss_mb()))

    def stop(self) -> None:
        self._halt.set()
        self.join()

    def at(self, fraction: float) -> float:
        if not self.samples:
            return _rss_mb()
        end = self.samples[-1][0]
        return next(rss for t, rss in self.samples if t >= end * fraction)


def main() -> None:
    episodes = int(os.environ.get("BENCH_LERODJ_EPISODES", "1000"))
    recordings = int(os.environ.get("BENCH_LERODJ_RECORDINGS", "5"))
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        env = {
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1",
            "STATIC_MANIFEST": "0",
            "LOG_LEVEL": "WARNING",
            "DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}",
            "TRIALBENCH_VAR_DIR": str(tmp),
            "MEDIA_ROOT": str(tmp / "media"),
            "EPISODE_MEDIA_STORAGE": "local",
            "CELERY_FS_BROKER_DIR": str(tmp / "broker"),
            "DJANGO_SETTINGS_MODULE": "config.settings",
        }
        os.environ.pop("REDIS_URL", None)
        os.environ.update(env)
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=os.environ, check=True)
        import django

        django.setup()
        from core.recording.recorder import EpisodeRecorder, EpisodeRecording
        from core.sim import cell_make
        from core.sim.episode import episode_rollout
        from tests.factories import EpisodeFactory, OrganizationFactory, RobotFactory, TaskFactory, TrialFactory
        from trials.lerobot_export import dataset_export_run
        from trials.lerobot_import import lerobot_import
        from trials.media import episode_recording_store
        from trials.models import MAX_EPISODES_PER_TRIAL, DatasetExport, EpisodeOutcome

        cell = cell_make("factory-kitting")
        runs = [
            episode_rollout(
                cell=cell, act=lambda _obs: cell.expert_action(), seed=seed, recorder=EpisodeRecorder(tmp / f"r{seed}")
            )
            for seed in range(recordings)
        ]
        cell.close()
        org = OrganizationFactory()
        trial = TrialFactory.create(
            task=TaskFactory(organization=org),
            robot=RobotFactory(organization=org),
            episodes_planned=min(episodes, MAX_EPISODES_PER_TRIAL),
        )
        started = time.perf_counter()
        for index in range(episodes):
            run = runs[index % recordings]
            assert isinstance(run.recording, EpisodeRecording)
            episode = EpisodeFactory.create(
                trial=trial, index=index, outcome=EpisodeOutcome.SUCCESS if index % 3 else EpisodeOutcome.FAILURE
            )
            episode_recording_store(episode=episode, recording=run.recording)
        store_s = time.perf_counter() - started
        print(f"lerobot (web app): {episodes} recorded episodes stored in {store_s:.1f} s (set-up, not timed below)")

        export = DatasetExport.objects.create(trial=trial, episodes_total=episodes)
        sampler = _RssSampler()
        rss_before = _rss_mb()
        sampler.start()
        started = time.perf_counter()
        export = dataset_export_run(export_id=export.pk)
        export_s = time.perf_counter() - started
        sampler.stop()
        if export.status != "done":
            raise SystemExit(f"export failed: {export.error}")
        print(
            f"lerobot export (web app): {export.episodes_done} episodes, {export.frames} frames in {export_s:.1f} s: "
            f"{export.episodes_done / export_s:.1f} episodes/s, {export.frames / export_s:.0f} frames/s, "
            f"zip {export.size_bytes / 1e6:.1f} MB"
        )
        print(
            f"lerobot export (web app): RSS {rss_before:.0f} MB before, {sampler.at(0.25):.0f} MB at a quarter, "
            f"{sampler.at(1.0):.0f} MB at the end; process peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
        )

        target = TrialFactory.create(
            task=trial.task, robot=trial.robot, episodes_planned=min(episodes, MAX_EPISODES_PER_TRIAL)
        )
        archive = tmp / "export.zip"
        with export.file.open("rb") as handle, archive.open("wb") as out:
            while chunk := handle.read(1024 * 1024):
                out.write(chunk)
        work = tmp / "import"
        work.mkdir()
        started, cpu_started = time.perf_counter(), time.process_time()
        summary = lerobot_import(trial=target, archive=archive, workdir=work)
        import_s, import_cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
        print(
            f"lerobot import (web app): {summary.created} episodes, {summary.frames} frames, {summary.videos} videos "
            f"({summary.frames / max(summary.created, 1):.0f} frames each) in {import_s:.1f} s: "
            f"{summary.frames / import_s:.0f} frames/s, load average {os.getloadavg()[0]:.2f}; "
            f"CPU {import_cpu_s:.1f} s, {summary.frames / import_cpu_s:.0f} frames per CPU second "
            "(one pass per shared video: packet copy where on keyframes, else re-encoded)"
        )


if __name__ == "__main__":
    main()
