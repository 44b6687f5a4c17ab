from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import WorkerProcess, redis_server_process, subprocess_env


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server on a free loopback port for the whole session."""
    with redis_server_process(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """Start real Celery worker processes on the test database; all are stopped at teardown."""
    workers: list[WorkerProcess] = []

    def start(*, broker_env: dict[str, str], concurrency: int = 1, pool: str = "prefork") -> WorkerProcess:
        worker = WorkerProcess(
            subprocess_env(**broker_env), tmp_path / f"worker-{len(workers)}.log", concurrency=concurrency, pool=pool
        )
        workers.append(worker)
        worker.wait_ready()
        return worker

    yield start
    for worker in workers:
        worker.stop()


@pytest.fixture(autouse=True)
def fast_password_hasher(settings: Any) -> None:
    """PBKDF2 costs ~0.8 s per user on CI machines; tests check roles and pages, not hashing strength."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
