from django.apps import AppConfig
from django.db.models.signals import post_migrate


def ensure_role_groups(**kwargs: object) -> None:
    """Role groups exist after every migrate and every test-database flush (which also sends
    post_migrate), not only after the data migration that first created them."""
    from django.contrib.auth.models import Group

    from accounts.models import Role

    for role in Role:
        Group.objects.get_or_create(name=role.value)


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and organizations"

    def ready(self) -> None:
        post_migrate.connect(ensure_role_groups, sender=self, dispatch_uid="accounts.ensure_role_groups")
