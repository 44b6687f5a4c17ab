from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand
from django.template.defaultfilters import filesizeformat

from trials.retention import media_cleanup


class Command(BaseCommand):
    help = (
        "Remove the episode recordings (videos, trajectories, posters) that each trial's retention policy does "
        "not keep (keep all / failures and the first N successes / keep none; the trial's, else its "
        "organization's), and files in storage that no row names, older than an hour. Episodes and their "
        "figures stay. Prints every file removed and the bytes freed."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Print what would be removed; remove nothing.")
        parser.add_argument(
            "--trial", type=int, action="append", dest="trials", help="A trial id (repeatable); default: every trial."
        )
        parser.add_argument("--no-orphans", action="store_true", help="Skip the sweep of files no row names.")

    def handle(self, *args: Any, **options: Any) -> None:
        dry_run: bool = options["dry_run"]
        report = media_cleanup(dry_run=dry_run, trial_ids=options["trials"], orphans=not options["no_orphans"])
        verb = "would remove" if dry_run else "removed"
        for removed in report.removed:
            where = f"trial {removed.trial_id} episode {removed.index}" if removed.trial_id is not None else "orphan"
            self.stdout.write(f"{verb} {removed.name} ({removed.size_bytes} bytes; {where}; {removed.reason})")
        freed = f"{report.bytes_freed} bytes"
        if report.bytes_freed >= 1024:
            freed += f" ({filesizeformat(report.bytes_freed)})"
        summary = (
            f"{'Dry run: ' if dry_run else ''}{verb} {len(report.removed)} file(s), "
            f"{freed} {'to free' if dry_run else 'freed'}."
        )
        self.stdout.write(self.style.SUCCESS(summary[0].upper() + summary[1:]))
