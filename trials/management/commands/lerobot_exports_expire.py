from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.template.defaultfilters import filesizeformat

from trials.lerobot_export import dataset_exports_expire, export_orphans_sweep


class Command(BaseCommand):
    help = (
        "Remove the zips of LeRobotDataset exports finished more than LEROBOT_EXPORT_KEEP_DAYS ago and mark "
        "them expired (their download then answers 410 Gone), then zips no export names that are older than "
        "an hour; the Celery beat entry lerobot-exports-expire runs the same every hour. Prints every export "
        "expired, every file removed and the bytes freed."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Print what would be removed; change nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        dry_run: bool = options["dry_run"]
        verb = "would expire" if dry_run else "expired"
        if float(settings.LEROBOT_EXPORT_KEEP_DAYS) <= 0:
            self.stdout.write("LEROBOT_EXPORT_KEEP_DAYS is 0: every export is kept.")
        expired = dataset_exports_expire(dry_run=dry_run)
        for item in expired:
            self.stdout.write(
                f"{verb} export {item.export_id} of {item.subject} (finished {item.finished_at:%Y-%m-%d %H:%M}; "
                f"{item.name or 'no file'}, {item.size_bytes} bytes)"
            )
        orphans = export_orphans_sweep(dry_run=dry_run)
        for orphan in orphans:
            self.stdout.write(
                f"{'would remove' if dry_run else 'removed'} {orphan.name} ({orphan.size_bytes} bytes; {orphan.reason})"
            )
        freed = sum(item.size_bytes for item in expired) + sum(orphan.size_bytes for orphan in orphans)
        summary = (
            f"{'Dry run: ' if dry_run else ''}{verb} {len(expired)} export(s), "
            f"{'would remove' if dry_run else 'removed'} {len(orphans)} orphan file(s), "
            f"{filesizeformat(freed)} {'to free' if dry_run else 'freed'}."
        )
        self.stdout.write(self.style.SUCCESS(summary[0].upper() + summary[1:]))
