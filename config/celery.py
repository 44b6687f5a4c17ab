"""The Celery app. Broker: Redis from REDIS_URL, else the embedded filesystem transport."""

from __future__ import annotations

import os
from pathlib import Path

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("trialbench")
app.config_from_object("django.conf:settings", namespace="CELERY")


def _ensure_filesystem_broker_folders() -> None:
    """The filesystem transport fails on missing folders; create them before any connection."""
    options = app.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        folder = options.get(key)
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)


app.on_after_configure.connect(lambda sender, **_: _ensure_filesystem_broker_folders(), weak=False)
app.autodiscover_tasks()
