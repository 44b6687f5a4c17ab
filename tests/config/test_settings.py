"""Importing the settings touches no disk; the app's start-up creates the folders this process uses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from common.folders import local_folders

ROOT = Path(__file__).resolve().parents[2]


def _python(code: str, var_dir: Path) -> None:
    env = {**os.environ, "TRIALBENCH_VAR_DIR": str(var_dir), "DEBUG": "1", "DJANGO_SETTINGS_MODULE": "config.settings"}
    env.pop("DATABASE_URL", None)
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, timeout=120)


def test_importing_settings_creates_no_folder(tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
    _python("import config.settings", var_dir)
    assert not var_dir.exists()


def test_django_setup_creates_the_sqlite_and_static_folders(tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
    _python("import django; django.setup()", var_dir)
    assert (var_dir / "staticfiles").is_dir()
    assert not (var_dir / "trialbench.sqlite3").exists()  # the folder only: the database is migrate's job


def test_local_folders_skip_postgres_and_in_memory_sqlite(tmp_path: Path) -> None:
    databases = {
        "default": {"ENGINE": "django.db.backends.postgresql", "NAME": "trialbench"},
        "memory": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"},
        "file": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(tmp_path / "a" / "db.sqlite3"),
            "TEST": {"NAME": str(tmp_path / "b" / "test.sqlite3")},
        },
    }
    assert local_folders(databases=databases, static_root=tmp_path / "static") == [
        tmp_path / "a",
        tmp_path / "b",
        tmp_path / "static",
    ]
