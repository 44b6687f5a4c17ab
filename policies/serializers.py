"""REST output shapes for policies and their versions (read-only). A remote version's `remote_config`
may hold credentials for the policy server, so it is not exposed."""

from __future__ import annotations

from common.api_support import StrictModelSerializer
from policies.models import Policy, PolicyVersion


class PolicySerializer(StrictModelSerializer[Policy]):
    class Meta:
        model = Policy
        fields = ["id", "organization", "name", "description", "created_at"]
        read_only_fields = fields


class PolicyVersionSerializer(StrictModelSerializer[PolicyVersion]):
    class Meta:
        model = PolicyVersion
        fields = [
            "id",
            "policy",
            "version",
            "kind",
            "sha256",
            "size_bytes",
            "io_spec",
            "endpoint_url",
            "notes",
            "created_at",
        ]
        read_only_fields = fields
