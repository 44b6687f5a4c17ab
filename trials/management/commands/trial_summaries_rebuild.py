from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from trials.services import trial_summaries_rebuild


class Command(BaseCommand):
    help = (
        "Recompute the per-trial, per-source episode summaries (TrialSourceSummary) from the recorded episodes "
        "and events, e.g. after episodes were edited or deleted by hand. Safe while workers record: each batch "
        "of trials is rebuilt under their row locks."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--trial", type=int, action="append", dest="trials", help="A trial id (repeatable); default: every trial."
        )
        parser.add_argument("--batch-size", type=int, default=200, help="Trials per transaction (default 200).")

    def handle(self, *args: Any, **options: Any) -> None:
        trial_ids: list[int] | None = options["trials"]
        batch_size: int = options["batch_size"]
        written = trial_summaries_rebuild(trial_ids=trial_ids, batch_size=batch_size)
        scope = f"{len(set(trial_ids))} trial{'s' if len(set(trial_ids)) != 1 else ''}" if trial_ids else "every trial"
        self.stdout.write(self.style.SUCCESS(f"Rebuilt {written} summary rows of {scope}."))
