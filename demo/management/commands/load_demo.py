from django.core.management.base import BaseCommand

from demo.services import demo_load


class Command(BaseCommand):
    help = "Load the demo dataset (idempotent) and print the demo logins."

    def handle(self, *args: object, **options: object) -> None:
        logins = demo_load()
        self.stdout.write(self.style.SUCCESS("Demo data loaded. Logins:"))
        for login in logins:
            self.stdout.write(f"  {login.role:<11} {login.username:<11} / {login.password}   ({login.organization})")
