from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from robots.models import Robot
from robots.services import robot_agent_token_issue


class Command(BaseCommand):
    help = "Issue a new agent token for a physical robot (the old one stops working) and print it once."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("robot", help="Robot id or exact name")
        parser.add_argument("--ttl-days", type=float, default=None, help="Expire the token after this many days")

    def handle(self, *args: Any, **options: Any) -> None:
        ref = str(options["robot"])
        ttl_days: float | None = options["ttl_days"]
        robots = Robot.objects.filter(pk=int(ref)) if ref.isdigit() else Robot.objects.filter(name=ref)
        if robots.count() != 1:
            raise CommandError(f"no single robot matches {ref!r}")
        robot = robots.get()
        try:
            raw = robot_agent_token_issue(robot=robot, ttl_days=ttl_days)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Agent token for robot {robot.pk} ({robot.name}); it is shown only now:\n{raw}")
        self.stdout.write(
            f"Run on the robot PC:\n  python -m core.agent --server http://127.0.0.1:8000 --token {raw} --cell <cell-key>"
        )
