"""Local folders a process needs before first use, created at start-up rather than when settings are
imported (importing settings, as mypy's Django plugin or a one-off script does, must not touch the disk)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

SQLITE_ENGINE = "django.db.backends.sqlite3"


def local_folders(*, databases: Mapping[str, Mapping[str, Any]], static_root: str | Path | None) -> list[Path]:
    """The folders to create: each SQLite file's folder (its test database's too, which pytest-django
    creates as a file so that a worker process sees it) and STATIC_ROOT (whitenoise warns on every
    request without it). PostgreSQL and in-memory SQLite need none."""
    folders: list[Path] = []
    for database in databases.values():
        if database.get("ENGINE") != SQLITE_ENGINE:
            continue
        names = [database.get("NAME"), (database.get("TEST") or {}).get("NAME")]
        folders.extend(Path(str(name)).parent for name in names if name and not _in_memory(str(name)))
    if static_root:
        folders.append(Path(static_root))
    return list(dict.fromkeys(folders))


def folders_create(folders: Iterable[Path]) -> None:
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)


def _in_memory(name: str) -> bool:
    return name == ":memory:" or name.startswith("file:memorydb") or "mode=memory" in name
