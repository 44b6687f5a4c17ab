from __future__ import annotations

from django.db.models import Q, QuerySet

from accounts.models import User
from accounts.permissions import can_write_shared_policies
from policies.models import Policy, PolicyVersion


def policy_list_for_user(*, user: User) -> QuerySet[Policy]:
    """Shared policies (no owner) and the user's organization's."""
    policies = Policy.objects.select_related("organization")
    if user.is_superuser:
        return policies
    return policies.filter(Q(organization__isnull=True) | Q(organization_id=user.organization_id))


def policy_list_writable_by(*, user: User) -> QuerySet[Policy]:
    """The policies `user` may add versions to: its organization's; every policy, shared ones
    included, for platform administrators."""
    policies = Policy.objects.select_related("organization")
    if can_write_shared_policies(user):
        return policies
    if user.organization_id is None:  # a user of no organization owns no policy
        return policies.none()
    return policies.filter(organization_id=user.organization_id)


def policy_version_list_for_user(*, user: User) -> QuerySet[PolicyVersion]:
    versions = PolicyVersion.objects.select_related("policy", "policy__organization")
    if user.is_superuser:
        return versions
    return versions.filter(Q(policy__organization__isnull=True) | Q(policy__organization_id=user.organization_id))
