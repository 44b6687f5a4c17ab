"""Bulk ingest over real HTTP vs the ORM ceiling.

Ingests BENCH_INGEST_EPISODES episodes (default 100,000) with 3 events each through
POST /api/v1/trials/{id}/episodes/ in batches of 1,000, served by gunicorn (2 sync workers) to 8
concurrent clients; then, in the same run and on the same database, writes the same rows with a direct
ORM bulk_create (the ceiling). Prints episodes/s, p50/p99 request latency, the ratio to the ceiling
(target >= 0.5), and the workers' RSS after warm-up and at the end (target: within 10%).

Database: a throwaway SQLite file, or, when DATABASE_URL points at PostgreSQL, a throwaway database
created on that server and dropped afterwards. BENCH_INGEST_EPISODES=5000 makes a quick run.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

import requests

ROOT = Path(__file__).resolve().parent.parent
BATCH = 1000
EVENTS_PER_EPISODE = 3
CLIENTS = 8
WORKERS = 2
PER_TRIAL = 10_000  # MAX_EPISODES_PER_TRIAL
WARMUP_BATCHES = 6
# Well in the past (15 s apart, 100,000 episodes span 17 days): a fixed date let the run drift past the
# ingest rule's "no more than a day in the future" once the calendar came close.
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=60)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _episode(n: int, prefix: str) -> dict[str, Any]:
    cycle = 9.0 + (n % 7) * 0.5
    return {
        "external_id": f"{prefix}-{n}",
        "outcome": "success" if n % 5 else "failure",
        "cycle_time_s": cycle,
        "started_at": (T0 + timedelta(seconds=15 * n)).isoformat(),
        "metrics": {"grip_force_n": 12.5},
        "events": [
            {"kind": "intervention", "category": "grasp_miss", "t_offset_s": 1.0 + i, "message": "re-seated"}
            for i in range(EVENTS_PER_EPISODE)
        ],
    }


def _database(tmp: Path) -> tuple[str, Any]:
    """Returns (DATABASE_URL of a throwaway database, a cleanup callable)."""
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith(("postgres://", "postgresql://")):
        return f"sqlite:///{tmp / 'bench.sqlite3'}", lambda: None
    import psycopg

    name = f"tb_bench_{secrets.token_hex(4)}"
    admin = urlunparse(urlparse(base)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return urlunparse(urlparse(base)._replace(path=f"/{name}")), drop


def main() -> None:
    total = int(os.environ.get("BENCH_INGEST_EPISODES", "100000"))
    total = max(BATCH, total - total % BATCH)
    tmp = Path(tempfile.mkdtemp(prefix="tb-bench-ingest-"))
    database_url, drop_database = _database(tmp)
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "STATIC_MANIFEST": "0",
        "SECURE_COOKIES": "0",
        "LOG_LEVEL": "WARNING",
        "DATABASE_URL": database_url,
        "TRIALBENCH_VAR_DIR": str(tmp),
        "CELERY_FS_BROKER_DIR": str(tmp / "broker"),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        # The benchmark measures ingest, not the throttle.
        "API_THROTTLE_RATE": "100000/min",
        "API_INGEST_THROTTLE_RATE": "100000/min",
    }
    env.pop("REDIS_URL", None)
    os.environ.update({k: env[k] for k in env if k not in {"PATH"}})
    engine = "PostgreSQL" if database_url.startswith("postgres") else "SQLite"
    print(
        f"{total:,} episodes x {EVENTS_PER_EPISODE} events, batches of {BATCH}, {CLIENTS} clients, "
        f"gunicorn {WORKERS} workers, {engine}",
        flush=True,
    )
    gunicorn = None
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        import django

        django.setup()
        from accounts.models import Organization, Role
        from accounts.services import api_token_create, user_create
        from policies.models import Policy, PolicyVersion
        from robots.models import Robot
        from tests.factories import TaskFactory
        from trials.models import Episode, EpisodeEvent, Trial

        org = Organization.objects.create(name="Bench integrator", slug="bench", kind="integrator")
        user = user_create(
            username="bench", password=secrets.token_urlsafe(16), organization=org, roles=[Role.INTEGRATOR]
        )
        _, token = api_token_create(user=user, name="bench")
        robot = Robot.objects.create(organization=org, name="rig", kind="physical")
        version = PolicyVersion.objects.create(policy=Policy.objects.create(name="p"), version="1", sha256="0" * 64)
        task = TaskFactory.create(organization=org)

        def trials(count: int) -> list[int]:
            return [
                Trial.objects.create(
                    task=task, policy_version=version, robot=robot, episodes_planned=PER_TRIAL, instruction="x"
                ).pk
                for _ in range(count)
            ]

        port = _free_port()
        log = (tmp / "gunicorn.log").open("wb")
        gunicorn = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi",
                "--workers",
                str(WORKERS),
                "--bind",
                f"127.0.0.1:{port}",
                "--timeout",
                "300",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=10).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline or gunicorn.poll() is not None:
                raise RuntimeError(f"gunicorn did not start; see {tmp / 'gunicorn.log'}")
            time.sleep(0.2)

        headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        local = __import__("threading").local()

        def post(job: tuple[int, bytes]) -> float:
            if not hasattr(local, "session"):
                local.session = requests.Session()
            trial_id, body = job
            started = time.perf_counter()
            response = local.session.post(
                f"{base}/api/v1/trials/{trial_id}/episodes/", data=body, headers=headers, timeout=300
            )
            elapsed = time.perf_counter() - started
            if response.status_code != 201:
                raise RuntimeError(f"HTTP {response.status_code}: {response.text[:500]}")
            return elapsed

        def jobs(trial_ids: list[int], count: int, prefix: str) -> list[tuple[int, bytes]]:
            # Bodies are serialized up front, so the timed part is the server's work, not the client's.
            out = []
            for b in range(count // BATCH):
                trial_id = trial_ids[(b * BATCH) // PER_TRIAL]
                episodes = [_episode(n, prefix) for n in range(b * BATCH, (b + 1) * BATCH)]
                out.append((trial_id, json.dumps(episodes).encode()))
            return out

        warm = jobs(trials(1), WARMUP_BATCHES * BATCH, "warm")
        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(post, warm))
        workers = _children(gunicorn.pid)
        rss_warm = sum(_rss_kib(pid) for pid in workers)

        work = jobs(trials(-(-total // PER_TRIAL)), total, "ep")
        started = time.perf_counter()
        with ThreadPoolExecutor(CLIENTS) as pool:
            latencies = list(pool.map(post, work))
        http_s = time.perf_counter() - started
        rss_end = sum(_rss_kib(pid) for pid in workers)
        stored = Episode.objects.filter(external_id__startswith="ep-").count()
        assert stored == total, f"{stored} episodes stored, expected {total}"

        # The ceiling: the same rows through bulk_create, one transaction per batch like the endpoint.
        from django.db import transaction

        ceiling_trials = trials(-(-total // PER_TRIAL))
        started = time.perf_counter()
        for b in range(total // BATCH):
            trial_id = ceiling_trials[(b * BATCH) // PER_TRIAL]
            items = [_episode(n, "orm") for n in range(b * BATCH, (b + 1) * BATCH)]
            with transaction.atomic():
                rows = [
                    Episode(
                        trial_id=trial_id,
                        index=n % PER_TRIAL,
                        outcome=e["outcome"],
                        cycle_time_s=e["cycle_time_s"],
                        started_at=datetime.fromisoformat(e["started_at"]),
                        ended_at=datetime.fromisoformat(e["started_at"]) + timedelta(seconds=e["cycle_time_s"]),
                        source="integrator_upload",
                        external_id=e["external_id"],
                        metrics=e["metrics"],
                    )
                    for n, e in zip(range(b * BATCH, (b + 1) * BATCH), items, strict=True)
                ]
                created = Episode.objects.bulk_create(rows)
                EpisodeEvent.objects.bulk_create(
                    EpisodeEvent(episode=ep, **ev) for ep, e in zip(created, items, strict=True) for ev in e["events"]
                )
        orm_s = time.perf_counter() - started

        http_rate, orm_rate = total / http_s, total / orm_s
        latencies.sort()
        p99 = latencies[min(len(latencies) - 1, int(round(0.99 * (len(latencies) - 1))))]
        print(f"HTTP bulk ingest : {http_rate:,.0f} episodes/s ({total:,} in {http_s:.1f} s, {len(work)} requests)")
        print(f"  request latency: p50 {statistics.median(latencies) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms")
        print(f"ORM bulk_create  : {orm_rate:,.0f} episodes/s (ceiling, one process)")
        verdict = "meets" if http_rate / orm_rate >= 0.5 else "BELOW"
        print(f"  ratio          : {http_rate / orm_rate:.2f} of the ceiling ({verdict} the 0.5 target)")
        growth = (rss_end - rss_warm) / rss_warm
        verdict = "within" if abs(growth) <= 0.10 else "OUTSIDE"
        print(
            f"gunicorn workers RSS: {rss_warm / 1024:.0f} MiB after warm-up, {rss_end / 1024:.0f} MiB at the end "
            f"({growth:+.1%}, {verdict} 10%)"
        )
    finally:
        if gunicorn is not None:
            gunicorn.send_signal(signal.SIGTERM)
            try:
                gunicorn.wait(timeout=30)
            except subprocess.TimeoutExpired:
                gunicorn.kill()
        from django.db import connections

        connections.close_all()
        drop_database()
        shutil.rmtree(tmp, ignore_errors=True)
