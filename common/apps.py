"""`common` is installed as an app only for start-up work that belongs to no domain app: the
configuration checks (registered when common.checks is imported) and the local folders. No models."""

from __future__ import annotations

from django.apps import AppConfig
from django.conf import settings

from common import checks, folders


class CommonConfig(AppConfig):
    name = "common"
    verbose_name = "Common"

    def ready(self) -> None:
        checks.register_all()
        folders.folders_create(
            folders.local_folders(databases=settings.DATABASES, static_root=getattr(settings, "STATIC_ROOT", None))
        )
