from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.template.defaultfilters import filesizeformat

from trials.lerobot_export import dataset_exports_expire


class Command(BaseCommand):
    help = (
        "Remove the zips of LeRobotDataset exports finished more than LEROBOT_EXPORT_KEEP_DAYS ago and mark "
        "them expired (their download then answers 410 Gone); the Celery beat entry lerobot-exports-expire "
        "runs the same every hour. Prints every export expired and the bytes freed."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Print what would expire; change nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        dry_run: bool = options["dry_run"]
        if float(settings.LEROBOT_EXPORT_KEEP_DAYS) <= 0:
            self.stdout.write("LEROBOT_EXPORT_KEEP_DAYS is 0: exports are kept; nothing to do.")
            return
        expired = dataset_exports_expire(dry_run=dry_run)
        verb = "would expire" if dry_run else "expired"
        for item in expired:
            self.stdout.write(
                f"{verb} export {item.export_id} of {item.subject} (finished {item.finished_at:%Y-%m-%d %H:%M} UTC; "
                f"{item.name or 'no file'}, {item.size_bytes} bytes)"
            )
        freed = sum(item.size_bytes for item in expired)
        summary = f"{'Dry run: ' if dry_run else ''}{verb} {len(expired)} export(s), {filesizeformat(freed)} freed."
        if dry_run:
            summary = summary.replace("freed", "to free")
        self.stdout.write(self.style.SUCCESS(summary[0].upper() + summary[1:]))
