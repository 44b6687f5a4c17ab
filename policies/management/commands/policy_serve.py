"""`python manage.py policy_serve VERSION_ID`: serve a stored ONNX PolicyVersion over the openpi
protocol (core.policy.serve does the serving; this command only finds the version's artifact)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.policy.onnx_runtime import policy_load
from core.policy.remote import RemoteConfigError
from core.policy.serve import keys_parse, serve, server_arguments, server_make
from policies.models import PolicyVersion


class Command(BaseCommand):
    help = "Serve an ONNX policy version over the openpi WebSocket protocol (GET /healthz answers 200)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("version_id", type=int, help="PolicyVersion id (an ONNX version)")
        server_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        version = PolicyVersion.objects.select_related("policy").filter(pk=options["version_id"]).first()
        if version is None:
            raise CommandError(f"no policy version {options['version_id']}")
        if version.kind != PolicyVersion.Kind.ONNX or not version.artifact:
            raise CommandError(f"version {version.pk} is not an ONNX artifact")
        policy = policy_load(path=Path(version.artifact.path), sha256=version.sha256, io_spec=version.io_spec)
        try:
            server = server_make(
                policy, keys=keys_parse(options["keys"]), name=version.policy.name, version=version.version
            )
        except (ValueError, RemoteConfigError) as exc:
            raise CommandError(f"--keys: {exc}") from exc
        serve(server, host=options["host"], port=options["port"])
